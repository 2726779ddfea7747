"""The README's command synopsis, the `syncd run` option table and the env file are held to the
options the commands really have (read from click, not from help text)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from syncd.cli.main import main as syncd_main
from tonsurance.cli.main import main as tonsurance_main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / "deploy" / "syncd.env.example").read_text(encoding="utf-8")
GROUPS = {"syncd": syncd_main, "tonsurance": tonsurance_main}
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# Variables of syncd run that stand for no option.
EXTRA_RUN_VARIABLES = {"SYNCD_WEBHOOK_SECRET"}
# Options whose variable the command reads itself (SYNCD_NOTIFY is split on spaces and commas).
OWN_VARIABLES = {"--notify": "SYNCD_NOTIFY"}


def options_of(command: click.Command) -> set[str]:
    """Every option name a command accepts (both names of an on/off pair), without --help."""
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts, param.secondary_opts)
    return names - {"--help"}


def synopsis() -> dict[tuple[str, str], set[str]]:
    """(program, command) -> the options the README's synopsis block writes for it; the command
    is "" for the options of the program itself (`syncd [--debug] COMMAND ...`)."""
    blocks = re.findall(r"^```\n(syncd .*?)^```", README, re.MULTILINE | re.DOTALL)
    assert blocks, "the README has no synopsis block starting with `syncd `"
    found: dict[tuple[str, str], set[str]] = {}
    key: tuple[str, str] | None = None
    for line in blocks[0].splitlines():
        words = line.split()
        if words and words[0] in GROUPS:
            command = "" if words[1].startswith("[") else words[1]
            key = (words[0], command)
            assert key not in found, f"the synopsis names {' '.join(key)} twice"
            found[key] = set()
        assert key is not None, line
        found[key].update(OPTION.findall(line))
    return found


def test_every_command_and_option_of_the_synopsis_exists_and_every_one_is_there() -> None:
    """Each command of syncd and tonsurance, and each of its options (both names of on/off
    pairs), is in the README's synopsis, and the synopsis names nothing the commands lack."""
    written = synopsis()
    real: dict[tuple[str, str], set[str]] = {}
    for program, group in GROUPS.items():
        real[(program, "")] = options_of(group)
        assert isinstance(group, click.Group)
        for name, command in group.commands.items():
            real[(program, name)] = options_of(command)
    assert sorted(written) == sorted(real)
    for key, options in real.items():
        where = " ".join(key).strip()
        assert options - written[key] == set(), f"{where}: missing from the README's synopsis"
        assert written[key] - options == set(), f"{where}: in the synopsis, not in --help"


def run_command() -> click.Command:
    return syncd_main.commands["run"]  # type: ignore[attr-defined, no-any-return]


def run_variables() -> dict[str, str]:
    """Option name -> its environment variable, for every `syncd run` option that has one."""
    found = dict(OWN_VARIABLES)
    for param in run_command().params:
        if isinstance(param, click.Option) and param.envvar:
            found[param.opts[0]] = str(param.envvar)
    return found


def test_every_run_option_has_its_syncd_variable() -> None:
    """Every `syncd run` option but --once and --dsn (TONSURANCE_DSN) reads SYNCD_ and its name,
    and --help names the variable."""
    variables = run_variables()
    help_text = " ".join(run_command().get_help(click.Context(run_command())).split())
    for variable in variables.values():
        assert variable in help_text
    for param in run_command().params:
        if not isinstance(param, click.Option) or param.opts[0] in ("--once", "--dsn", "--help"):
            continue
        name = param.opts[0]
        expected = "SYNCD_" + name.removeprefix("--").replace("-", "_").upper()
        assert variables.get(name) == expected, name


def env_file_variables() -> set[str]:
    """SYNCD_* variables the env file sets or shows commented out."""
    return set(re.findall(r"^#? ?(SYNCD_[A-Z_]+)=", ENV_EXAMPLE, re.MULTILINE))


def test_the_env_file_lists_exactly_the_run_variables() -> None:
    """deploy/syncd.env.example shows every SYNCD_* variable of `syncd run` and no other."""
    assert env_file_variables() == set(run_variables().values()) | EXTRA_RUN_VARIABLES


def run_table() -> dict[str, str]:
    """The README's `syncd run` option table: option -> its default column."""
    start = README.index("| `--repo PATH_OR_URL` |")
    rows = {}
    for line in README[start:].splitlines():
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        for name in OPTION.findall(cells[0]):
            rows[name] = cells[1]
    return rows


def test_the_readme_run_table_shows_each_option_and_its_variable() -> None:
    """The README's table of `syncd run` options has a row for each option (either name of an
    on/off pair) that names its SYNCD_* variable, and a row for SYNCD_WEBHOOK_SECRET."""
    rows = run_table()
    for param in run_command().params:
        if not isinstance(param, click.Option) or param.opts[0] == "--help":
            continue
        names = [*param.opts, *param.secondary_opts]
        row = next((rows[n] for n in names if n in rows), None)
        assert row is not None, f"{names[0]} has no row in the README's run table"
        variable = run_variables().get(names[0])
        if variable:
            assert f"`{variable}`" in row, f"{names[0]}: the row does not name {variable}"
    table_start = README.index("| `--repo PATH_OR_URL` |")
    table = README[table_start : README.index("\n\n", table_start)]
    for variable in EXTRA_RUN_VARIABLES:
        assert f"`{variable}`" in table


def test_run_variables_set_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """SYNCD_SELF_HEAL=false, SYNCD_WATCH=false and the two timeouts reach `syncd run` as the
    options would."""
    monkeypatch.setenv("SYNCD_SELF_HEAL", "false")
    monkeypatch.setenv("SYNCD_WATCH", "false")
    monkeypatch.setenv("SYNCD_FETCH_TIMEOUT", "7")
    monkeypatch.setenv("SYNCD_STOP_TIMEOUT", "3")
    ctx = run_command().make_context("run", ["--repo", "."])
    assert ctx.params["self_heal"] is False and ctx.params["watch"] is False
    assert ctx.params["fetch_timeout"] == 7.0 and ctx.params["stop_timeout"] == 3.0


def test_plan_head_alone_says_what_it_needs() -> None:
    """`syncd plan --head X` without --base is a usage error that asks for --base or --commit,
    without claiming that --head has a default."""
    result = CliRunner().invoke(syncd_main, ["plan", "--head", "feature"])
    assert result.exit_code == 2
    assert result.output.startswith("syncd: error: --head feature needs --base")
    assert "--commit feature" in result.output and "defaults" not in result.output
