"""One settings object for the whole app, read from `WOZ_*` environment variables.

The ground floor: it imports nothing of the project, so building `Settings()` loads no model code and no database
layer. Names of backends and formats are checked where a system is assembled (`app.assembly.check_choices`)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent
# In the project's workplace the MultiWOZ files lie beside the repository; elsewhere they are downloaded.
SIBLING_MULTIWOZ = REPO_ROOT.parent / "shared" / "multiwoz"
SIBLING_MULTIWOZ_DB = SIBLING_MULTIWOZ / "db"


def _default_data_dir() -> Path | None:
    return SIBLING_MULTIWOZ_DB if SIBLING_MULTIWOZ_DB.is_dir() else None


SPACE_STORAGE = Path("/data")  # where a Hugging Face Space mounts its persistent storage, when it has some


def _default_home() -> Path:
    """The repository's data folder; on a Space with persistent storage, a folder there (the container's own
    disk is wiped at every restart, and the ratings with it)."""
    if os.environ.get("SPACE_ID") and SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "coalm-woz"
    return REPO_ROOT / "data"


def _default_test_dir() -> Path | None:
    return SIBLING_MULTIWOZ if (SIBLING_MULTIWOZ / "test_mwz21").is_dir() else None


class ArenaSide(BaseModel):
    """One system of the arena: the model settings it changes (unset fields keep the app's own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str | None = None  # a name in app.backends.BACKENDS (checked by app.assembly)
    format: str | None = None  # a name in app.agent.formats.FORMATS
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    script: Path | None = None

    def given(self) -> dict[str, object]:
        """The fields this side sets, to override the app's settings with."""
        return self.model_dump(exclude_none=True)


class Settings(BaseSettings):
    """Everything configurable; each field `x` is set by the environment variable `WOZ_X`."""

    model_config = SettingsConfigDict(env_prefix="WOZ_", extra="ignore")

    home: Path = Field(default_factory=_default_home,
                       description="Folder for the database and downloads (on a Space with storage: in /data).")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default: a SQLite file in `home`.")
    data_dir: Path | None = Field(
        default_factory=_default_data_dir,
        description="Local folder holding MultiWOZ *_db.json files, tried before any download.",
    )
    test_dir: Path | None = Field(
        default_factory=_default_test_dir,
        description="Local folder holding the MultiWOZ test files (test_mwz21/test.json, test_mwz24/original.json), "
                    "tried before any download.",
    )
    download_timeout_s: float = Field(30.0, gt=0)
    find_limit: int = Field(5, ge=1, le=100, description="Rows a Find call returns (the count covers all).")

    backend: str = Field("transformers", description="A name in app.backends.BACKENDS.")
    format: str = Field("coalm", description="A name in app.agent.formats.FORMATS: CoALM's ReAct text or JSON tools.")
    model: str = Field("uiuc-convai/CoALM-8B", description="Hub id or local folder; or the served model name.")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM).")
    api_key: str | None = Field(None, description="Key for the server; vLLM needs none.")
    timeout_s: float = Field(60.0, gt=0, description="Longest wait for the model server between streamed pieces.")
    script: Path | None = Field(None, description="JSON list of model outputs for the scripted backend.")
    max_steps: int = Field(4, ge=1, le=20, description="Model calls per turn before the polite fallback reply.")
    max_prompt_tokens: int = Field(3584, ge=256, description="Prompt budget; 3584 + 512 to answer fits 4096.")
    max_new_tokens: int = Field(512, ge=16, le=4096)
    turn_deadline_s: float | None = Field(300.0, gt=0, description="Longest a whole turn may take (all steps).")

    port: int = Field(7860, ge=1, le=65535)
    host: str = Field("127.0.0.1", description="Interface to serve on; 0.0.0.0 to let other machines in.")
    max_user_chars: int = Field(2000, ge=10, description="Longer user messages are refused with a message.")
    admin_token: str | None = Field(None, description="Opens Results and the exports; unset, only a browser on "
                                    "the server itself may open them.")
    remote_concurrency: int = Field(8, ge=1, description="Turns run at once against a model server.")
    local_concurrency: int = Field(
        8, ge=1, le=256,
        description="Turns a local (transformers) model serves at once, batched; its KV cache holds this many turns "
                    "of max_prompt_tokens + max_new_tokens. 8 fits CoALM-8B in bf16 on a 24 GB GPU.")
    watch_pause_s: float = Field(1.5, ge=0, le=30, description="Watch a goal: the pause after each reply (half of it "
                                 "after each user message), so a person can read the dialogue as it plays.")
    runs_dir: Path = Field(default_factory=lambda: REPO_ROOT / "runs",
                           description="The Runs tab lists the evaluation and simulation runs below this folder.")
    raters_per_item: int = Field(3, ge=1, le=20, description="Raters each review-queue dialogue gets.")
    share_default: bool = Field(False, description="Whether a new chat starts shared with the review queue (each "
                                "person can change it); on only where every visitor is an annotator.")
    arena: list[ArenaSide] = Field(
        default_factory=list,
        description='The arena\'s two systems as JSON, each overriding the settings above, e.g. '
                    '[{"format": "coalm"}, {"format": "tools"}] (the default: the configured model in both formats).')

    @field_validator("data_dir", "test_dir", "script", "base_url", "api_key", "admin_token", "turn_deadline_s",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("arena")
    @classmethod
    def _two_sides(cls, sides: list[ArenaSide]) -> list[ArenaSide]:
        if sides and len(sides) != 2:  # checked on loading, so a wrong list stops every command at once
            raise ValueError(f"the arena compares exactly two systems, not {len(sides)}")
        return sides

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: `db_url`, or the SQLite file in `home`."""
        return self.db_url or f"sqlite:///{self.home / 'woz.sqlite3'}"

    def arena_sides(self) -> list[Settings]:
        """The two arena systems as complete settings."""
        sides = self.arena or [ArenaSide(format="coalm"), ArenaSide(format="tools")]
        return [self.model_copy(update={**side.given(), "arena": []}) for side in sides]

    @property
    def download_dir(self) -> Path:
        """Where downloaded files are kept, inside `home`."""
        return self.home / "downloads"



class BadSetting(ValueError):
    """A setting that cannot be used. The message is one line: which setting (its `WOZ_` variable, or the flag
    that gave it), what is wrong with it, and how to fix it."""


def load_settings(flags: Mapping[str, object] | None = None) -> Settings:
    """Settings from the environment, with `flags` (what the command line gave) taking precedence; BadSetting
    naming the first one that cannot be used, so that every command can say so in one line."""
    given = dict(flags or {})
    try:
        return Settings(**given)  # type: ignore[arg-type]  # names and types are what Settings checks here
    except (ValidationError, SettingsError) as error:
        raise BadSetting(settings_problem(error, given)) from None


def settings_problem(error: ValidationError | SettingsError, flags: Mapping[str, object] | None = None) -> str:
    """One line saying which setting `error` (raised while loading Settings) is about, and what to do; `flags`
    are the values the command line gave (named by their flag, not their variable)."""
    flags = flags or {}
    if isinstance(error, SettingsError):  # a value pydantic-settings could not even decode (JSON)
        field = match[1] if (match := re.search(r'field "(\w+)"', str(error))) else ""
        cause = f": {error.__cause__}" if error.__cause__ else ""
        return f"{_setting_name(field, flags)} is not valid JSON{cause}; {_default_hint(field)}"
    first = error.errors()[0]
    field, *inside = [str(part) for part in first["loc"]] or [""]
    where = "".join(f"[{part}]" for part in inside)
    more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
    got = repr(first["input"])
    got = got if len(got) <= 60 else got[:57] + "..."
    name = _setting_name(field, flags)
    hint = f"give another value for {name}" if field in flags else _default_hint(field)
    return f"{name}{where}: {first['msg']} (got {got}){more}; {hint}"


def exit_on_bad_settings(main: Callable[[], int | None]) -> int:
    """Run a command's `main` that builds Settings() itself: when the settings cannot be loaded, one line naming the
    setting goes to stderr and the exit status is 2 (not a traceback); anything else passes through."""
    try:
        return main() or 0
    except BadSetting as error:
        problem = str(error)
    except SettingsError as error:
        problem = settings_problem(error)
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        problem = settings_problem(error)
    print(problem, file=sys.stderr)
    return 2


def _setting_name(field: str, flags: Mapping[str, object]) -> str:
    return f"--{field.replace('_', '-')}" if field in flags else f"WOZ_{field.upper()}"


def _default_hint(field: str) -> str:
    info = Settings.model_fields.get(field)
    described = f" ({info.description.rstrip('.')})" if info and info.description else ""
    return f"fix WOZ_{field.upper()}{described}, or unset it for the default"
