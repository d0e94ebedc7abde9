"""The APIs the agent calls (FindHotel, BookTrain, ...), derived from the domain declarations, and the toolbox
that runs them against one database (its JSON-lines door is `app.tools.door`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.dialogue.events import Booked, Found, Refused, ToolAnswer, ToolError
from app.settings import Settings
from db.availability import BASELINE, Availability
from db.bookings import BookingDesk, Confirmed, StoredBooking
from db.catalogue import Catalogue
from db.engine import make_engine
from db.importer import default_sources, ensure_imported
from domains import all_domains
from domains.base import Domain, Slot
from domains.values import DONTCARE, decoded, is_dontcare, is_missing

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Tool:
    """One API the model may call: a Find or a Book of one domain, its parameters and their validation."""

    name: str
    kind: Literal["find", "book"]
    domain: Domain
    description: str
    params: tuple[tuple[Slot, bool], ...]  # (slot, required)
    arguments: type[BaseModel]

    def signature(self) -> str:
        """The call's shape with its parameter names: `FindHotel(area, pricerange, ...)`."""
        return f"{self.name}({', '.join(slot.name for slot, _required in self.params)})"

    def json_schema(self) -> dict[str, Any]:
        """An OpenAI-style function spec, for models that call tools natively."""
        properties = {
            slot.name: {"type": slot.json_type, "description": slot.description,
                        **({"enum": list(slot.choices)} if slot.choices else {})}
            for slot, _required in self.params
        }
        required = [slot.name for slot, needed in self.params if needed]
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        }}


def _normaliser(slot: Slot, allow_dontcare: bool, required: bool = False):  # noqa: ANN202 - a before-validator
    def normalise(value: object) -> object:
        value = decoded(value)
        if is_missing(value):  # None, "" and "   " alike, for every slot and every door
            if required:
                raise PydanticCustomError("missing", "Field required")
            return None
        if allow_dontcare and is_dontcare(value):
            return DONTCARE
        return slot.normalise(value)
    return normalise


def _tool(name: str, kind: Literal["find", "book"], domain: Domain, description: str,
          params: tuple[tuple[Slot, bool], ...]) -> Tool:
    fields: dict[str, Any] = {
        slot.name: (Annotated[Any, BeforeValidator(_normaliser(slot, kind == "find", required))],
                    Field(... if required else None, description=slot.description))
        for slot, required in params
    }
    model = create_model(f"{name}Arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(name, kind, domain, description, params, model)


@cache
def all_tools() -> dict[str, Tool]:
    """Every API, in domain order: a Find for each searchable domain, a Book for each bookable one."""
    tools: dict[str, Tool] = {}
    for domain in all_domains():
        if domain.find_api:
            tools[domain.find_api] = _tool(domain.find_api, "find", domain, domain.find_description,
                                           tuple((slot, False) for slot in domain.slots))
        if domain.book_api:
            params = ([(domain.slot(n), True) for n in domain.book_required]
                      + [(domain.slot(n), False) for n in domain.book_optional]
                      + [(slot, True) for slot in domain.book_slots])
            tools[domain.book_api] = _tool(domain.book_api, "book", domain, domain.book_description, tuple(params))
    return tools


def describe_validation_error(tool: Tool, error: ValidationError) -> str:
    """Why the arguments do not validate, for the model: unknown and missing arguments, and bad values."""
    problems = []
    for item in error.errors():
        field = ".".join(map(str, item["loc"])) or "arguments"
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(slot.name for slot, _ in tool.params)
            problems.append(f"unknown argument {field!r} ({tool.name} takes: {allowed})")
        elif item["type"] == "missing":
            problems.append(f"missing argument {field!r}")
        else:
            message = str(item.get("ctx", {}).get("error", item["msg"]))
            problems.append(f"{field}={item.get('input')!r:.60}: {message}")
    return f"{tool.name}: " + "; ".join(problems)


def _valid_part(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments that are valid on their own: what the caller understood, even when the call as a whole
    cannot run (a booking still missing the number of people)."""
    valid = {}
    for slot, _required in tool.params:
        if slot.name in arguments:
            try:
                value = _normaliser(slot, tool.kind == "find")(arguments[slot.name])
            except ValueError:
                continue
            if value is not None:
                valid[slot.name] = value
    return valid


class Toolbox:
    """Runs API calls for dialogues against one database. Never raises for bad input: an error is an answer."""

    def __init__(self, engine: Engine, find_limit: int = 5) -> None:
        self.catalogue = Catalogue(engine)
        self.desk = BookingDesk(engine, self.catalogue)
        self.find_limit = find_limit

    @classmethod
    def open(cls, settings: Settings) -> Toolbox:
        """Connect to the configured database, importing the MultiWOZ data on first use."""
        engine = make_engine(settings.database_url)
        ensure_imported(engine, default_sources(settings.data_dir, settings.download_dir, settings.download_timeout_s))
        return cls(engine, settings.find_limit)

    @property
    def tools(self) -> dict[str, Tool]:
        """Every API by name."""
        return all_tools()

    def call(self, name: object, arguments: object, dialogue_id: str,
             availability: Availability = BASELINE, picked_as: str | None = None) -> ToolAnswer:
        """Run one API call; `availability` decides bookings (a goal-driven dialogue passes its goal's script);
        `picked_as` names the dialogue whose id picks an assigned entity (a fork restoring its parent's taxi)."""
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return ToolError(message=f"unknown tool {name!r:.60}; available: {', '.join(self.tools)}")
        if not isinstance(dialogue_id, str) or not dialogue_id:
            return ToolError(message=f"{name}: the call names no dialogue (dialogue_id={dialogue_id!r:.60})")
        if not isinstance(arguments, dict):
            return ToolError(message=f"{name}: arguments must be keyword arguments, not {arguments!r:.60}")
        try:
            given = tool.arguments.model_validate(arguments).model_dump(exclude_none=True)
            return self._run(tool, given, dialogue_id, availability, picked_as)
        except ValidationError as error:
            return ToolError(message=describe_validation_error(tool, error))
        except ValueError as error:  # valid arguments the service could not act on (no such hotel, no time)
            return ToolError(message=f"{name}: {error}")
        except SQLAlchemyError as error:
            log.exception("database error in %s", name)
            return ToolError(message=f"{name}: the database failed ({type(error).__name__}); try again")

    def understood(self, name: object, arguments: object) -> dict[str, Any]:
        """The arguments of a call that are valid on their own, normalised (all of them for a valid call): what
        the caller understood, even when the call as a whole cannot run (a booking still missing the number of
        people). Empty for an unknown tool."""
        tool = self.tools.get(name) if isinstance(name, str) else None
        return _valid_part(tool, arguments) if tool is not None and isinstance(arguments, dict) else {}

    def bookings(self, dialogue_id: str) -> list[StoredBooking]:
        """This dialogue's bookings as stored, oldest first."""
        return self.desk.bookings(dialogue_id)

    def _run(self, tool: Tool, given: dict[str, Any], dialogue_id: str, availability: Availability,
             picked_as: str | None = None) -> ToolAnswer:
        domain = tool.domain.name
        if tool.kind == "book":
            made = self.desk.book(tool.domain, given, dialogue_id, availability, picked_as)
            if isinstance(made, Confirmed):
                return Booked(domain=domain, reference=made.reference, details=made.details)
            return Refused(domain=domain, reason=made.reason, hint=made.hint)
        constraints = {k: v for k, v in given.items() if v != DONTCARE}
        found = self.catalogue.find(tool.domain, constraints, self.find_limit)
        return Found(domain=domain, count=found.count, rows=found.rows)
