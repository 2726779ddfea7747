"""Which files make up a configuration, and which category or table each one feeds."""

from __future__ import annotations

import os
from pathlib import Path

PARAMETER_FILES: dict[str, str] = {
    "pricing": "config/pricing.yaml",
    "risk": "config/risk.yaml",
    "tranche": "config/tranche.yaml",
}
TABLE_FILES: dict[str, str] = {
    "historical_depegs": "config/historical_depegs.yaml",
    "stress_scenarios": "config/stress_scenarios.yaml",
}
CONFIG_FILES: dict[str, str] = {**PARAMETER_FILES, **TABLE_FILES}
CONFIG_DIR = "config"
ENVIRONMENT_FILES = "config/environments.yaml"
OVERLAY_DIR = "config/environments"
SCHEMA_DIR = "schemas"
MAX_FILE_BYTES = int(os.environ.get("TONSURANCE_MAX_FILE_BYTES", 1024 * 1024))


def schema_path(config_file: str) -> str:
    """`config/pricing.yaml` -> `schemas/pricing.schema.json`."""
    stem = config_file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return f"{SCHEMA_DIR}/{stem}.schema.json"


def is_environment_file(path: str) -> bool:
    """The declaration of the environments, or a file under the overlay folder."""
    return path == ENVIRONMENT_FILES or path.startswith(OVERLAY_DIR + "/")


def default_root() -> Path:
    """The folder holding the shipped `config/` and `schemas/`.

    In a source checkout or editable install that is the repository root; in an installed wheel
    it is `tonsurance/_data`, where the build copies both folders.
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "_data"
    if (installed / CONFIG_DIR).is_dir():
        return installed
    return package.parent
