"""The shipped `config/` as a snapshot: what a service uses when it never reached the database.

The files are checked with the same schemas and rules as a commit that syncd applies, so the
defaults can never hold a value the database would refuse.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tonsurance.config.environments import environment_from_env
from tonsurance.config.gitorigin import DefaultsOrigin, defaults_origin
from tonsurance.config.layout import default_root
from tonsurance.config.model import ParamKey
from tonsurance.config.render import validate_environment
from tonsurance.config.snapshot import snapshot_from_state
from tonsurance.config.sources import read_directory
from tonsurance.config.typed import TypedView, typed_view
from tonsurance.errors import InvalidConfig, TonsuranceError, Unavailable

log = logging.getLogger("tonsurance.config")


def load_file_defaults(
    root: str | os.PathLike[str] | None = None, environment: str | None = None
) -> TypedView:
    """Render `environment` (default: SYNCD_ENVIRONMENT, else dev) from `root/config` (default:
    the shipped one), validate it and return it as a typed view."""
    base = Path(root) if root is not None else default_root()
    result = validate_environment(read_directory(base), environment or environment_from_env())
    if not result.ok or result.state is None:
        first = str(result.problems[0]) if result.problems else "no configuration found"
        more = len(result.problems) - 1
        extra = f" (and {more} more problems)" if more > 0 else ""
        raise InvalidConfig(f"the file defaults in {base} are invalid: {first}{extra}")
    types: dict[ParamKey, str] = {k: p.value_type for k, p in result.state.parameters.items()}
    return typed_view(snapshot_from_state(result.state, source="file"), types)


def fall_back_to_files(
    root: str | os.PathLike[str] | None,
    db_error: TonsuranceError,
    environment: str | None = None,
) -> tuple[TypedView, DefaultsOrigin]:
    """The file defaults for a loader that could not read the database, logged with where they
    come from; uncommitted edits among them get a warning of their own."""
    base = Path(root) if root is not None else default_root()
    try:
        view = load_file_defaults(base, environment)
    except TonsuranceError as file_error:
        raise Unavailable(f"no configuration available: {db_error}; and {file_error}") from None
    origin = defaults_origin(base)
    log.warning(
        "configuration database unavailable (%s); using the file defaults in %s",
        db_error,
        origin.describe(),
    )
    if origin.modified:
        log.warning(
            "the file defaults in use hold uncommitted edits (%s); a service should run on"
            " committed defaults: commit them or restore the files",
            ", ".join(origin.modified),
        )
    return view, origin
