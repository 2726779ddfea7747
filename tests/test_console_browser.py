"""The console in a real browser (headless Chromium): pages load clean, the filter works, an
applied commit shows up, and hostile text stays text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from test_daemon import PRICING, daemons, wait_applied

from syncd.sync.outcomes import Outcome
from syncd.sync.pipeline import apply_commit
from tests.browser import chromium, console_errors, missing
from tests.console_support import console_server
from tests.support import fresh_database, make_config_repo

__all__ = ["daemons"]

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
PAGES = {
    "/ui/": "Status",
    "/ui/parameters": "Parameters",
    "/ui/parameters?q=tier1": "Parameters",
    "/ui/parameter?category=pricing&key=base_rate_USDC": "base_rate_USDC",
    "/ui/parameter?category=tranche&key=SURE-JNR%2B_apy_min": "SURE-JNR+_apy_min",
    "/ui/audit": "Audit log",
    "/ui/tables": "Historical depegs",
    "/ui/environments": "Environments",
    "/ui/parameter?category=pricing&key=no_such_key": "404",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the whole module (starting one takes a second or two)."""
    why = missing()
    if why:
        pytest.fail(f"the browser tests need Chromium: {why}", pytrace=False)
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def site(
    postgres_server: str, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A console over a database with two applied commits (the second one's message hostile)
    and a hand-edited hostile description; yields (base URL, database address)."""
    repo = make_config_repo(tmp_path_factory.mktemp("browser") / "repo")
    with fresh_database(postgres_server, template=migrated_template) as dsn:
        assert apply_commit(repo.path, "HEAD", dsn).outcome is Outcome.APPLIED
        repo.change(PRICING, "USDC: 0.04", "USDC: 0.045", f"Raise USDC {HOSTILE}")
        assert apply_commit(repo.path, "HEAD", dsn).outcome is Outcome.APPLIED
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "update config_parameters set description = %s"
                " where category = 'pricing' and key = 'base_rate_USDT'",
                (f"USDT {HOSTILE}",),
            )
        with console_server(dsn, str(repo.path)) as base:
            yield base, dsn


def _no_script_ran(driver: webdriver.Chrome) -> None:
    assert driver.execute_script("return window.pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (reading it is the check)


def test_every_page_loads_without_a_console_error(
    browser: webdriver.Chrome, site: tuple[str, str]
) -> None:
    """Each page renders its heading, and the browser logs no error or warning (no CSP
    violation, no missing resource), the 404 page included."""
    base, _ = site
    console_errors(browser)
    for target, heading in PAGES.items():
        browser.get(base + target)
        assert heading in browser.find_element(By.TAG_NAME, "h1").text, target
        errors = console_errors(browser)
        if heading == "404":  # the browser reports the document's own status, nothing else
            assert [e["message"].split(" - ")[0] for e in errors] == [base + target]
        else:
            assert errors == [], target
        _no_script_ran(browser)


def test_the_filter_narrows_rows_as_one_types_and_on_submit(
    browser: webdriver.Chrome, site: tuple[str, str]
) -> None:
    """Typing hides the rows that do not match at once (script), and Enter asks the server."""
    base, _ = site
    browser.get(base + "/ui/parameters")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.parameter")
    box = browser.find_element(By.ID, "q")
    box.send_keys("tier1")

    def visible(driver: webdriver.Chrome) -> list[Any]:
        return driver.find_elements(By.CSS_SELECTOR, "tr.parameter:not(.hidden)")

    WebDriverWait(browser, 5).until(
        lambda d: all("tier1" in row.get_attribute("data-name") for row in visible(d))
    )
    shown = visible(browser)
    assert 0 < len(shown) < len(rows)
    assert not browser.find_element(By.CSS_SELECTOR, 'section[data-category="risk"]').is_displayed()
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: "q=tier1" in d.current_url)
    served = browser.find_elements(By.CSS_SELECTOR, "tr.parameter")
    assert len(served) == len(shown)
    assert console_errors(browser) == []


def test_hostile_text_is_shown_as_text(browser: webdriver.Chrome, site: tuple[str, str]) -> None:
    """A commit message and a description holding <script> and an onerror image show literally
    and run nothing."""
    base, _ = site
    browser.get(base + "/ui/parameter?category=pricing&key=base_rate_USDC")
    subjects = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".timeline .subject")]
    assert f"Raise USDC {HOSTILE}" in subjects
    _no_script_ran(browser)
    browser.get(base + "/ui/parameter?category=pricing&key=base_rate_USDT")
    assert browser.find_element(By.ID, "description").text == f"USDT {HOSTILE}"
    _no_script_ran(browser)
    browser.get(base + "/ui/")
    assert HOSTILE in browser.find_element(By.CSS_SELECTOR, "#applied pre.message").text
    _no_script_ran(browser)
    assert console_errors(browser) == []


def _value_on_page(driver: webdriver.Chrome, url: str) -> str:
    driver.get(url)
    return str(driver.find_element(By.ID, "value").text)


def test_a_value_pushed_to_git_appears_in_the_daemons_console(
    browser: webdriver.Chrome, db_dsn: str, tmp_path: Path, daemons: Any
) -> None:
    """`syncd run` serves the console; after a commit is pushed and applied, the parameter page
    shows the new value, the commit in its timeline, and the front page the new applied commit."""
    repo = make_config_repo(tmp_path / "repo")
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    url = f"http://127.0.0.1:{daemon.port}/ui/parameter?category=pricing&key=base_rate_USDC"
    assert _value_on_page(browser, url) == "0.04"
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.0425", "Price USDC at 4.25%")
    wait_applied(db_dsn, sha, timeout=10)
    assert _value_on_page(browser, url) == "0.0425"
    first = browser.find_element(By.CSS_SELECTOR, ".timeline li")
    assert sha[:12] in first.text and "0.04 → 0.0425" in first.text
    browser.get(f"http://127.0.0.1:{daemon.port}/ui/")
    WebDriverWait(browser, 10).until(
        lambda d: "yes" in d.find_element(By.CSS_SELECTOR, "#sync-state .big").text or d.refresh()
    )
    assert sha in browser.find_element(By.ID, "applied").text
    assert "Price USDC at 4.25%" in browser.find_element(By.ID, "applied").text
    assert console_errors(browser) == []
    code, body = daemon.request("/ui/index.json")
    assert code == 200 and json.loads(body)["live"]["branch_head"] == sha
    assert daemon.request("/ui/", body=b"x")[0] == 405  # a POST, on the daemon's own server
