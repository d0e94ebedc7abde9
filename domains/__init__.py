"""The MultiWOZ domains. Each module of this package declares one `DOMAIN`; adding a module adds a domain."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from domains.base import Domain

_NOT_DOMAINS = {"base", "values"}


@cache
def all_domains() -> tuple[Domain, ...]:
    """Every declared domain, in a fixed order (module name)."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_DOMAINS)
    return tuple(importlib.import_module(f"{__name__}.{name}").DOMAIN for name in names)


def domain(name: str) -> Domain:
    """The declared domain of that name; a KeyError naming the known ones otherwise."""
    for candidate in all_domains():
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown domain {name!r}; known: {', '.join(d.name for d in all_domains())}")
