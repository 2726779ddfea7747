"""The schemas: valid draft 2020-12, local only, named by each config file, describing every value."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tonsurance.config.layout import CONFIG_FILES, schema_path
from tonsurance.config.schemacheck import SchemaUnusable, compile_schema
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("config", sorted(CONFIG_FILES.values()))
def test_schema_passes_the_metaschema(config: str):
    """Each schema is a valid draft 2020-12 schema."""
    schema = json.loads((ROOT / schema_path(config)).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("config", sorted(CONFIG_FILES.values()))
def test_config_names_its_schema_for_editors(config: str):
    """Each config file's first line points editors at its schema."""
    first = (ROOT / config).read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../{schema_path(config)}"


def test_every_parameter_has_a_description():
    """Every row built from the repository carries a description from its schema."""
    state = validate_sources(read_directory(ROOT)).state
    assert state is not None
    missing = [
        f"{p.category}.{p.key}" for p in state.parameters.values() if not p.description.strip()
    ]
    assert missing == []


def test_remote_ref_is_never_fetched(tmp_path: Path):
    """A schema with a remote $ref is one problem at the schema, never a network fetch."""
    import shutil

    for folder in ("config", "schemas"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    schema_file = tmp_path / "schemas/risk.schema.json"
    schema = json.loads(schema_file.read_text())
    schema["properties"]["risk_free_rate"] = {"$ref": "https://schemas.invalid/rate.json"}
    schema_file.write_text(json.dumps(schema))
    result = validate_sources(read_directory(tmp_path))
    assert [str(p) for p in result.problems] == [
        "schemas/risk.schema.json:1:1: (schema): $ref 'https://schemas.invalid/rate.json' cannot be"
        " resolved; schemas must be local"
    ]


def test_broken_schema_is_one_problem():
    """A schema that is not valid JSON is reported with its position, not a traceback."""
    with pytest.raises(SchemaUnusable) as info:
        compile_schema(b'{"type": "object",,}', "schemas/pricing.schema.json")
    assert str(info.value).startswith("schemas/pricing.schema.json:1:")
