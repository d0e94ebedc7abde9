"""Who may open Results and the exports (every transcript and rating): the admin token's holder, or, while no
token is set, only a browser on the machine itself."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

# A request that came through a proxy says so in these headers; its socket peer is then the proxy, which may well
# be this machine (a reverse proxy, a Space's router), so such a request never counts as local.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
LOCAL_ONLY = ("No admin token is set, so this opens only in a browser on the server itself. To open it from "
               "elsewhere, set `WOZ_ADMIN_TOKEN` (on a Space: a secret of that name) and restart the app.")
WRONG = "Wrong admin token."


def is_local(request: Any) -> bool:
    """Whether the request came straight from this machine (a loopback address, no proxy in between)."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None) if client is not None else None
    if not host:
        return False
    headers = {str(k).lower() for k in dict(getattr(request, "headers", None) or {})}
    if headers & set(FORWARDING_HEADERS):
        return False
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class AdminGate:
    """The check in front of Results and the exports."""

    token: str | None

    def refusal(self, given: str | None, request: Any) -> str | None:
        """None when the request may pass, else what to tell the person: with a token set, it must match (any
        text compares, non-ASCII included); without one, only a local browser passes."""
        if self.token:
            matches = hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"),
                                          self.token.encode("utf-8", "surrogatepass"))
            return None if matches else WRONG
        return None if is_local(request) else LOCAL_ONLY

    def label(self) -> str:
        """The token box's label: says when no token is set, and what that means."""
        return "Admin token" if self.token else "Admin token (none set: only this machine's browser may open this)"
