"""deploy/prometheus/alerts.yaml and deploy/grafana/tonsurance-config.json: promtool accepts the
rules and their unit tests pass, the dashboard is well-formed Grafana JSON, and every metric and
label they use is exported by the real syncd and loader exporters."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.daemon.loop import Daemon, RunOptions
from tonsurance.config import ConfigLoader
from tests.support import make_config_repo

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy/prometheus/alerts.yaml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts_test.yaml"
DASHBOARD = ROOT / "deploy/grafana/tonsurance-config.json"
SEVERITIES = {"critical", "warning", "info"}
# Labels Prometheus itself attaches to every scraped series, and the histogram bucket label.
TARGET_LABELS = {"job", "instance", "le"}
PROMQL_WORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail (never skip) when it is not installed."""
    found = shutil.which("promtool") or shutil.which("promtool", path="/usr/bin")
    if found is None:
        pytest.fail(
            "promtool is not installed: install the Debian package `prometheus`"
            " (apt-get install prometheus), which provides it",
            pytrace=False,
        )
    return subprocess.run(
        [found, *args], check=False, capture_output=True, text=True, timeout=120, cwd=RULES.parent
    )


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every rule and every dashboard target and variable query."""
    found = [(f"alert {rule['alert']}", str(rule["expr"])) for rule in rules()]
    board = dashboard()
    for panel in panels(board):
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            inner = re.fullmatch(r"label_values\((\w+),\s*\w+\)", var["query"]["query"])
            assert inner, f"variable {var['name']}: unexpected query {var['query']['query']}"
            found.append((f"variable {var['name']}", inner.group(1)))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and labels removed)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if match.group(2) is None and match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def matcher_labels(expr: str) -> set[tuple[str, str]]:
    """(metric, label) for every label matcher `metric{label=...}` and grouping label."""
    found = set()
    for selector in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector.group(2)):
            found.add((selector.group(1), label))
    return found


def exported(text: str) -> dict[str, set[str]]:
    """Sample name -> label names, from Prometheus exposition text."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


@pytest.fixture
def scraped(tmp_path: Path, db_dsn: str) -> dict[str, set[str]]:
    """What a real syncd (after one real cycle) and a real loader export, merged."""
    repo = make_config_repo(tmp_path / "repo")
    daemon = Daemon(
        RunOptions(
            repo=str(repo.remote),
            dsn=db_dsn,
            listen=None,
            state_dir=tmp_path / "state",
            watch=False,
            once=True,
        )
    )
    assert daemon.run() == 0
    syncd_text = daemon.metrics().decode()
    loader = ConfigLoader(db_dsn, listen=False)
    loader.start()
    try:
        registry = CollectorRegistry()
        loader.register_metrics(registry)
        loader.get_float("pricing", "base_rate_USDC", 0.0)
        loader.get_float("pricing", "no_such_key", 0.0)
        loader_text = generate_latest(registry).decode()
    finally:
        loader.stop()
    merged = exported(syncd_text)
    for name, labels in exported(loader_text).items():
        merged.setdefault(name, set()).update(labels)
    return merged


def test_promtool_accepts_the_alert_rules() -> None:
    """`promtool check rules` finds every rule of alerts.yaml valid."""
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_alert_unit_tests_pass() -> None:
    """`promtool test rules` runs the alert unit tests (fires, stays quiet, severities) green."""
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_cover_every_critical_alert() -> None:
    """Each critical alert has a promtool test case in which it fires."""
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    critical = {rule["alert"] for rule in rules() if rule["labels"]["severity"] == "critical"}
    assert critical and critical <= fired, f"no firing test for {sorted(critical - fired)}"


def test_every_alert_has_a_severity_and_a_summary() -> None:
    """Every rule is an alert with severity critical, warning or info and a summary."""
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]


def test_the_readme_alert_table_matches_the_rules() -> None:
    """Each alert the README's table names exists in alerts.yaml at the severity it states."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### What to alert on", 1)[1].split("\n#", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    severity = {rule["alert"]: rule["labels"]["severity"] for rule in rules()}
    named = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        alert, level = cells[0].strip("`"), cells[-1].split(":")[0].strip()
        named[alert] = level
    assert named, "the README's alert table names no alert"
    assert named == {name: severity.get(name) for name in named}
    assert set(severity) <= set(named), f"not in the README: {sorted(set(severity) - set(named))}"


def test_dashboard_is_grafana_json_with_a_prometheus_datasource_variable() -> None:
    """The dashboard has a uid, a Prometheus datasource variable every query uses, unique
    panel ids and a layout inside Grafana's 24 columns without overlaps."""
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    variables = {var["name"]: var for var in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels(board):
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_the_dashboard_has_the_source_documents_panels() -> None:
    """The source document's four panels are on the dashboard, reading its metric names."""
    exprs = {
        panel["title"]: " ".join(target["expr"] for target in panel.get("targets", []))
        for panel in panels(dashboard())
    }
    assert "config_cache_hits" in exprs["Cache performance"]
    assert "config_cache_requests" in exprs["Cache performance"]
    assert "syncd_applies_total" in exprs["Config update frequency"]
    assert "config_cache_entries" in exprs["Cache size"]
    latency = exprs["Database query latency"]
    assert "histogram_quantile(0.95" in latency and "config_db_query_duration_seconds" in latency


def test_promql_metric_names_are_found() -> None:
    """The name extractor finds metrics and ignores functions, labels, ranges and variables."""
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{job=~"$j",x="y z"}'
        "[$__rate_interval]))) / on(instance) b_total > bool 3 or absent(c)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}
    assert matcher_labels(expr) == {("a_bucket", "job"), ("a_bucket", "x")}


def test_every_metric_the_rules_and_dashboard_use_is_exported(
    scraped: dict[str, set[str]],
) -> None:
    """Every metric name and matcher label in the rules and the dashboard appears in what the
    real syncd and loader exporters serve."""
    missing = []
    for where, expr in expressions():
        for name in sorted(metric_names(expr)):
            if name not in scraped:
                missing.append(f"{where}: {name}")
        for name, label in sorted(matcher_labels(expr)):
            if label not in TARGET_LABELS and label not in scraped.get(name, set()):
                missing.append(f"{where}: {name}{{{label}}}")
    assert not missing, "not exported: " + "; ".join(missing)
