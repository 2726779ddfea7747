"""The web console over HTTP: JSON twins, errors, headers, escaping, read-only, paging, roles."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest

from syncd.console.audit import AUDIT_PAGE
from syncd.console.catalog import PAGE_SIZE
from syncd.console.database import Reader
from syncd.sync.outcomes import Outcome
from syncd.sync.pipeline import apply_commit
from tests.console_support import Answer, console_server, request
from tests.support import ConfigRepo, fresh_database, login_role, make_config_repo, syncd_cli
from tests.topology import Topology

PAGES = [
    "/ui/",
    "/ui/parameters",
    "/ui/parameters?q=usdc",
    "/ui/parameter?category=pricing&key=base_rate_USDC",
    "/ui/audit",
    "/ui/tables",
    "/ui/environments",
]
HOSTILE = "<script>alert('pwned')</script>"


def _json_twin(target: str) -> str:
    path, _, query = target.partition("?")
    path = path.rstrip("/") or "/ui"
    path = path + ("/index" if path == "/ui" else "")
    return f"{path}.json" + (f"?{query}" if query else "")


def _apply_two_commits(repo: ConfigRepo, dsn: str) -> None:
    """The shipped configuration, then a commit with a hostile message raising USDC's rate."""
    assert apply_commit(repo.path, "HEAD", dsn).outcome is Outcome.APPLIED
    repo.change(
        "config/pricing.yaml", "USDC: 0.04", "USDC: 0.045", f"Raise USDC {HOSTILE}\n\nbody line"
    )
    assert apply_commit(repo.path, "HEAD", dsn).outcome is Outcome.APPLIED


@pytest.fixture(scope="module")
def shared(
    postgres_server: str, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ConfigRepo]]:
    """One database with two applied commits, for the tests that only read it."""
    repo = make_config_repo(tmp_path_factory.mktemp("console") / "repo")
    with fresh_database(postgres_server, template=migrated_template) as dsn:
        _apply_two_commits(repo, dsn)
        yield dsn, repo


@pytest.fixture(scope="module")
def console(shared: tuple[str, ConfigRepo]) -> Iterator[str]:
    """The console over the shared database (read-only tests only)."""
    dsn, repo = shared
    with console_server(dsn, str(repo.path)) as base:
        yield base


@pytest.fixture
def applied(repo: ConfigRepo, db_dsn: str) -> str:
    """A database of this test's own with the two commits applied (for tests that change it)."""
    _apply_two_commits(repo, db_dsn)
    return db_dsn


def _security_headers(answer: Answer) -> None:
    csp = answer.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_page_answers_html_and_its_json_twin_by_suffix_and_by_accept(console: str) -> None:
    """Each page is HTML by default and the same JSON under `.json` and `Accept: application/json`."""
    for target in PAGES:
        page = request(console, target)
        assert page.status == 200, (target, page.text[:300])
        assert page.headers["content-type"].startswith("text/html")
        _security_headers(page)
        by_suffix = request(console, _json_twin(target))
        by_accept = request(console, target, accept="application/json")
        assert by_suffix.status == by_accept.status == 200, target
        assert by_suffix.headers["content-type"] == "application/json"
        suffix, accept = json.loads(by_suffix.body), json.loads(by_accept.body)
        for twin in (suffix, accept):  # the chart's right edge is "now", which moves
            twin.pop("chart", None)
        assert suffix == accept, target


def test_front_page_json_names_the_applied_commit_and_its_message(
    console: str, shared: tuple[str, ConfigRepo]
) -> None:
    """The front page's JSON carries the applied sha, author and message from the apply."""
    repo = shared[1]
    front = json.loads(request(console, "/ui/index.json").body)
    assert front["applied"]["sha"] == repo.head()
    assert front["applied"]["author"].startswith("Test Analyst")
    assert front["applied"]["subject"] == f"Raise USDC {HOSTILE}"
    assert front["in_sync"] is True
    assert front["drifted_rows"] == 0
    assert front["environment"] == "dev"  # the environment the apply recorded
    assert front["applied"]["provenance"]["verification"] == "unverified"


def test_a_commit_that_changed_no_row_is_named_from_git(applied: str, repo: ConfigRepo) -> None:
    """After a commit that touches no configuration, a reader's console names it with the
    words git holds (the audit log has no row of it)."""
    repo.write("NOTES.md", "notes\n")
    sha = repo.commit("Notes for the next review")
    apply_commit(repo.path, "HEAD", applied)
    with psycopg.connect(applied) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    assert row is not None and row[0] == sha
    with login_role(applied, "tonsurance_reader") as reader_dsn:
        with console_server(reader_dsn, str(repo.path)) as base:
            front = json.loads(request(base, "/ui/index.json").body)
        with console_server(reader_dsn) as base:
            bare = json.loads(request(base, "/ui/index.json").body)
    assert front["applied"]["subject"] == "Notes for the next review"
    assert front["applied"]["author"] == "Test Analyst <analyst@tonsurance.test>"
    assert bare["applied"]["sha"] == sha and bare["applied"]["message"] is None


def test_hostile_commit_message_and_description_are_escaped(applied: str) -> None:
    """A `<script>` in a commit message or a description reaches the page only as text."""
    with psycopg.connect(applied) as conn:
        conn.execute(
            "update config_parameters set description = %s"
            " where category = 'pricing' and key = 'base_rate_USDT'",
            (f"USDT {HOSTILE}",),
        )
    targets = [
        "/ui/",
        "/ui/parameters?q=USDT",
        "/ui/parameter?category=pricing&key=base_rate_USDC",
        "/ui/parameter?category=pricing&key=base_rate_USDT",
        "/ui/audit",
    ]
    with console_server(applied) as base:
        for target in targets:
            page = request(base, target).text
            assert "<script>alert" not in page, target
            assert "&lt;script&gt;alert(" in page, target


def test_unknown_parameter_is_a_404_page_and_bad_input_a_400(console: str) -> None:
    """An unknown parameter, page or cursor is an error page with a sentence, never a traceback."""
    for target, status in (
        ("/ui/parameter?category=pricing&key=no_such_key", 404),
        ("/ui/no-such-page", 404),
        ("/ui/static/evil.js", 404),
        ("/ui/audit?before=abc", 400),
        ("/ui/audit?before=%C2%B2", 400),
        ("/ui/parameters?q=a%00b", 400),
        ("/ui/parameter?category=pricing&key=%00", 400),
        ("/ui/parameter?category=pricing", 400),
    ):
        page = request(console, target)
        assert page.status == status, target
        assert "Traceback" not in page.text
        _security_headers(page)
        twin = request(console, target, accept="application/json")
        assert twin.status == status
        assert json.loads(twin.body)["status"] == status
    missing = request(console, "/ui/parameter?category=pricing&key=no_such_key")
    assert "pricing.no_such_key" in missing.text


def test_only_get_and_head_are_allowed(console: str) -> None:
    """Every other method gets 405 with an Allow header; HEAD gets the headers and no body."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = request(console, "/ui/parameters", method=method)
        assert answer.status == 405, method
        assert answer.headers["allow"] == "GET, HEAD"
    head = request(console, "/ui/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) > 0


def test_static_files_are_the_only_script_and_style(console: str) -> None:
    """Pages load one stylesheet and one script from the console itself and contain no inline script."""
    page = request(console, "/ui/parameters").text
    assert '<script src="/ui/static/console.js" defer></script>' in page
    assert page.count("<script") == 1
    assert " on" + "input=" not in page and "style=" not in page
    script = request(console, "/ui/static/console.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    style = request(console, "/ui/static/console.css")
    assert style.status == 200 and style.headers["content-type"].startswith("text/css")


def test_parameter_filter_works_without_javascript(console: str) -> None:
    """`?q=` narrows the parameter list on the server: every row shown matches, others are gone."""
    everything = json.loads(request(console, "/ui/parameters.json").body)
    narrowed = json.loads(request(console, "/ui/parameters.json?q=tier1").body)
    assert 0 < narrowed["total"] < everything["total"]
    assert all("tier1" in row["key"] or "tier1" in row["description"] for row in narrowed["rows"])
    html = request(console, "/ui/parameters?q=tier1").text
    assert "size_discount_tier1_threshold" in html and "base_rate_USDC" not in html


def test_parameter_page_shows_history_marks_hand_edits_and_charts_values(
    applied: str, repo: ConfigRepo
) -> None:
    """The timeline lists the commit's change and a hand edit, each marked, and the chart has both."""
    with psycopg.connect(applied) as conn:
        conn.execute(
            "update config_parameters set value = '0.05'"
            " where category = 'pricing' and key = 'base_rate_USDC'"
        )
    with console_server(applied) as console:
        _check_history(console, repo)


def _check_history(console: str, repo: ConfigRepo) -> None:
    page = json.loads(
        request(console, "/ui/parameter.json?category=pricing&key=base_rate_USDC").body
    )
    kinds = [change["kind"] for change in page["changes"]]
    assert kinds[:2] == ["hand edit", "commit"]
    commit = page["changes"][1]
    assert (commit["old"], commit["new"], commit["commit"]) == (0.04, 0.045, repo.head())
    assert page["parameter"]["value"] == 0.05
    assert len(page["chart"]["dots"]) == 3
    html = request(console, "/ui/parameter?category=pricing&key=base_rate_USDC").text
    assert "<svg" in html and "hand edit" in html and "0.045" in html
    front = json.loads(request(console, "/ui/index.json").body)
    assert front["drifted_rows"] == 1 and front["in_sync"] is False


def test_audit_log_is_paged_by_cursor(console: str) -> None:
    """The audit page holds at most one page of rows, and following `older` reaches the first row."""
    first = json.loads(request(console, "/ui/audit.json").body)
    assert len(first["changes"]) == AUDIT_PAGE
    assert first["hours_total"] >= AUDIT_PAGE
    seen = [c["id"] for c in first["changes"]]
    cursor = first["older"]
    while cursor is not None:
        page = json.loads(request(console, f"/ui/audit.json?before={cursor}").body)
        assert len(page["changes"]) <= AUDIT_PAGE
        seen += [c["id"] for c in page["changes"]]
        cursor = page["older"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert seen[-1] == 1


def test_parameters_are_paged(applied: str) -> None:
    """With more parameters than a page holds, pages follow each other without gap or overlap."""
    with psycopg.connect(applied) as conn:
        conn.execute(
            "insert into config_parameters (category, key, value, value_type)"
            " select 'risk', 'extra_' || lpad(i::text, 4, '0'), to_jsonb(i), 'int'"
            " from generate_series(1, %s) i",
            (PAGE_SIZE * 5 + 50,),
        )
        total = conn.execute("select count(*) from config_parameters").fetchone()
    with console_server(applied) as base:
        keys = _all_pages(base, "")
        extra = _all_pages(base, "EXTRA_0")  # the filter ignores ASCII case
    assert total is not None and len(keys) == total[0] == len(set(keys))
    assert keys == sorted(keys)
    assert extra == [k for k in keys if k[1].startswith("extra_0")] and len(extra) == 999


def _all_pages(base: str, query: str) -> list[tuple[str, str]]:
    """Every (category, key) the parameter list shows for `query`, following its pages."""
    keys: list[tuple[str, str]] = []
    target = "/ui/parameters.json?" + urlencode({"q": query})
    first = None
    while True:
        page = json.loads(request(base, target).body)
        first = first or page
        assert len(page["rows"]) <= PAGE_SIZE
        keys += [(r["category"], r["key"]) for r in page["rows"]]
        if page["after"] is None:
            break
        target = "/ui/parameters.json?" + urlencode({"q": query, "after": page["after"]})
    assert first["total"] == len(keys)
    return keys


def test_tables_and_environments_pages_show_the_configuration(console: str) -> None:
    """Depegs, scenarios and environments side by side come from the database and the repository."""
    tables = json.loads(request(console, "/ui/tables.json").body)
    assert {d["id"] for d in tables["depegs"]} >= {"usdc-svb-2023"}
    assert len(tables["scenarios"]) >= 1
    assert tables["results"] == []
    envs = json.loads(request(console, "/ui/environments.json").body)
    assert [c["name"] for c in envs["columns"]] == ["dev", "staging", "production"]
    assert envs["database_environment"] == "dev"
    assert envs["rows"] and all(row["differs"] for row in envs["rows"])


def test_stress_test_results_are_shown_newest_first(applied: str) -> None:
    """Results written by the database's run_all_stress_tests appear on the tables page, each
    scenario once, with its solvency."""
    with psycopg.connect(applied) as conn:
        run = conn.execute(
            "select scenario_id, solvent from run_all_stress_tests(%s, 'console test')",
            ('{"capital_usd": 1000000, "btc_exposure_usd": 250000, "policies": []}',),
        ).fetchall()
    with console_server(applied) as base:
        tables = json.loads(request(base, "/ui/tables.json").body)
        html = request(base, "/ui/tables").text
    assert tables["results_total"] == len(run) > 0
    shown = [(r["scenario_id"], r["solvent"]) for r in tables["results"]]
    assert sorted(shown) == sorted(run)
    ids = [r["id"] for r in tables["results"]]
    assert ids == sorted(ids, reverse=True)
    assert "console test" in html


def test_console_never_writes_even_with_an_owner_login(applied: str) -> None:
    """A write attempted through the console's own connections fails: its transactions are read-only."""
    reader = Reader(applied)
    reader.open()
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.run(
                lambda conn, caps: conn.execute("update config_parameters set description = 'x'")
            )
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.run(lambda conn, caps: conn.execute("create table console_probe (x int)"))
    finally:
        reader.close()


def test_a_tonsurance_reader_login_sees_the_pages(shared: tuple[str, ConfigRepo]) -> None:
    """With only tonsurance_reader's grants every page answers; what it may not read is said."""
    with (
        login_role(shared[0], "tonsurance_reader") as reader_dsn,
        console_server(reader_dsn) as base,
    ):
        for target in PAGES:
            answer = request(base, target)
            assert answer.status == 200, (target, answer.text[:300])
        front = json.loads(request(base, "/ui/index.json").body)
        assert front["parameters"] > 0 and front["applied"]["subject"].startswith("Raise USDC")
        audit = json.loads(request(base, "/ui/audit.json").body)
        assert audit["readable"] and audit["changes"]  # through the config_audit_trail view
        tables = json.loads(request(base, "/ui/tables.json").body)
        assert tables["results"] is None  # stress_test_results is not granted to readers


def test_console_answers_while_an_apply_holds_its_locks(applied: str) -> None:
    """Pages load while another transaction rewrites every parameter, and show the committed values."""
    with console_server(applied) as base, psycopg.connect(applied) as writer:
        writer.execute("update config_parameters set value = '0.5' where value_type = 'float'")
        writer.execute("update stress_scenarios set annual_probability = 0.5")
        answers: list[Answer] = []
        thread = threading.Thread(
            target=lambda: answers.extend(request(base, t) for t in PAGES[:5]), daemon=True
        )
        thread.start()
        thread.join(30)
        assert not thread.is_alive()
        assert [a.status for a in answers] == [200] * 5
        page = json.loads(
            request(base, "/ui/parameter.json?category=pricing&key=base_rate_USDC").body
        )
        assert page["parameter"]["value"] == 0.045
        writer.rollback()


@pytest.mark.slow
def test_the_console_reads_a_standby_through_pgbouncer(topology: Topology) -> None:
    """Behind a transaction-pooling PgBouncer on a hot standby, as the service role, the pages
    answer and show the primary's applied commit."""
    with console_server(topology.bouncer_service_dsn) as base:
        for target in PAGES[:5]:
            answer = request(base, target)
            assert answer.status == 200, (target, answer.text[:300])
        front = json.loads(request(base, "/ui/index.json").body)
    with psycopg.connect(topology.primary_dsn) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    assert row is not None and front["applied"]["sha"] == row[0]


def test_database_down_is_a_503_page_without_the_password(tmp_path: Path) -> None:
    """A console whose database cannot be reached answers 503 with the address, password hidden."""
    dsn = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=1"
    with console_server(dsn, timeout=1.0) as base:
        answer = request(base, "/ui/")
    assert answer.status == 503
    assert "s3cret-pw" not in answer.text and "127.0.0.1" in answer.text


def test_console_command_refuses_an_address_that_does_not_parse() -> None:
    """A --dsn that is no connection string is a usage error (exit 2) that hides the password."""
    code, output = syncd_cli(
        "console", "--dsn", "password=hunter2 nonsense", "--listen", "127.0.0.1:0"
    )
    assert code == 2
    assert "--dsn" in output and "hunter2" not in output


def test_console_command_refuses_a_repo_that_is_not_one(tmp_path: Path) -> None:
    """`syncd console --repo` with a folder that is not a repository is a usage error (exit 2)."""
    code, output = syncd_cli("console", "--repo", str(tmp_path), "--listen", "127.0.0.1:0")
    assert code == 2
    assert "not a git repository" in output
