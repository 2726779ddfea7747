"""A notification target's keys never reach syncd's log or stderr, whatever Apprise says when a
send fails (its PagerDuty plugin names the API key in its connection error)."""

from __future__ import annotations

import logging
import time

import pytest

from syncd.daemon.logs import setup_logging
from syncd.daemon.notify import Delivery, Message, Notifier, RetryPolicy
from tests.support import free_port

TOKENS = ("Zq7", "Vk9", "Xy3")


def test_a_failed_send_never_logs_the_targets_keys(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty and JSON webhook targets whose sends fail (through a proxy on a closed local
    port, so nothing leaves the machine) are named and explained without any of their keys."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    setup_logging("text", logging.INFO)
    urls = [
        "pagerduty://Zq7integrationkey@Vk9apikeyvalue/Xy3source",
        f"json://hook:Zq7password@127.0.0.1:{free_port()}/hook?token=Xy3token",
    ]
    notifier = Notifier(urls, retry=RetryPolicy(attempts=1, first_delay=0.05))
    notifier.start()
    try:
        notifier.send(Message("Applied", "one change"))
        deadline = time.monotonic() + 20
        while notifier.counts()[Delivery.FAILED] < len(urls):
            assert time.monotonic() < deadline, notifier.counts()
            time.sleep(0.05)
    finally:
        notifier.close(2)
    out, err = capfd.readouterr()
    names = " ".join(target.name for target in notifier.targets)
    assert "notify_failed" in err and "pagerduty://" in err
    for text in (out, err, names):
        assert not [token for token in TOKENS if token in text], text
