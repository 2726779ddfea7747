"""Notifications: the Notifier against a real local HTTP receiver of Apprise's JSON webhook
kind (answering, failing with 500, hanging), the outage threshold, and the message text."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncd.daemon.events import (
    TOPICS,
    Change,
    CommitApplied,
    DependencyDown,
    DependencyUp,
    Drift,
    Event,
    HeadRefused,
    Outages,
)
from syncd.daemon.notify import Delivery, Level, Message, Notifier, RetryPolicy
from syncd.daemon.notify_targets import split_urls
from syncd.render.notification import NotifyContext, render
from tests.webhook_receiver import Receiver
from tonsurance.errors import UsageProblem

QUICK = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def notifiers() -> Iterator[Callable[..., Notifier]]:
    started: list[Notifier] = []

    def make(urls: list[str], **kwargs: Any) -> Notifier:
        notifier = Notifier(urls, **kwargs)
        notifier.start()
        started.append(notifier)
        return notifier

    yield make
    for notifier in started:
        notifier.close(2)


def wait_counts(notifier: Notifier, delivery: Delivery, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while notifier.counts()[delivery] < count:
        assert time.monotonic() < deadline, f"counts stayed at {notifier.counts()}"
        time.sleep(0.02)


def test_a_message_arrives_with_its_title_body_and_type(
    receiver: Receiver, notifiers: Callable[..., Notifier]
) -> None:
    """A sent message reaches the JSON webhook with its title, body and type, and counts as sent."""
    notifier = notifiers([receiver.url("/syncd")])
    notifier.send(
        Message("syncd main: applied abc", "1 changed\n~ pricing.x: 1 -> 2", Level.SUCCESS)
    )
    (post,) = receiver.wait_posts(1)
    assert post["path"] == "/syncd"
    assert post["title"] == "syncd main: applied abc"
    assert post["message"] == "1 changed\n~ pricing.x: 1 -> 2"
    assert post["type"] == "success"
    wait_counts(notifier, Delivery.SENT, 1)


def test_each_target_gets_every_message(
    receiver: Receiver, notifiers: Callable[..., Notifier]
) -> None:
    """With two URLs, both receive each message, in the order sent."""
    other = Receiver()
    try:
        notifier = notifiers([receiver.url("/a"), other.url("/b")])
        for n in range(3):
            notifier.send(Message(f"m{n}", "body"))
        assert [p["title"] for p in receiver.wait_posts(3)] == ["m0", "m1", "m2"]
        assert [p["title"] for p in other.wait_posts(3)] == ["m0", "m1", "m2"]
        wait_counts(notifier, Delivery.SENT, 6)
    finally:
        other.close()


def test_a_receiver_answering_500_is_retried_counted_and_logged_once(
    receiver: Receiver, notifiers: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 is retried up to the policy's attempts, then counted failed; a streak of failures
    logs one line, and the first success after it logs the recovery."""
    receiver.status = 500
    results: list[Delivery] = []
    notifier = notifiers([receiver.url()], retry=QUICK, on_result=results.append)
    with caplog.at_level(logging.INFO, logger="syncd.run"):
        notifier.send(Message("first", "x"))
        notifier.send(Message("second", "x"))
        wait_counts(notifier, Delivery.FAILED, 2)
        assert len(receiver.posts) == 2 * QUICK.attempts
        receiver.status = 200
        notifier.send(Message("third", "x"))
        wait_counts(notifier, Delivery.SENT, 1)
    events = [getattr(r, "event", "") for r in caplog.records]
    assert events.count("notify_failed") == 1
    assert events.count("notify_recovered") == 1
    failed = next(r for r in caplog.records if getattr(r, "event", "") == "notify_failed")
    assert "500" in failed.getMessage()
    assert results == [Delivery.FAILED, Delivery.FAILED, Delivery.SENT]


def test_a_receiver_that_never_answers_times_out_and_counts_as_failed(
    receiver: Receiver, notifiers: Callable[..., Notifier]
) -> None:
    """A receiver that holds the request past the read timeout counts as a failure per message."""
    receiver.hold.set()
    notifier = notifiers([receiver.url(rto="0.3", cto="0.3")], retry=QUICK)
    notifier.send(Message("lost", "x"))
    wait_counts(notifier, Delivery.FAILED, 1)
    assert notifier.counts()[Delivery.SENT] == 0
    assert len(receiver.posts) == QUICK.attempts


def test_send_returns_while_the_receiver_hangs_and_a_full_queue_drops(
    receiver: Receiver, notifiers: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    """While the receiver holds the first message, sends still return; beyond the queue's size
    messages are dropped and counted (logged once), and the queued ones go out after release."""
    receiver.hold.set()
    notifier = notifiers([receiver.url()], queue_size=3, retry=QUICK)
    notifier.send(Message("m0", "x"))
    receiver.wait_posts(1)
    with caplog.at_level(logging.INFO, logger="syncd.run"):
        for n in range(1, 9):
            notifier.send(Message(f"m{n}", "x"))
    assert not receiver.release.is_set() and len(receiver.posts) == 1
    assert notifier.counts()[Delivery.DROPPED] == 5
    assert [getattr(r, "event", "") for r in caplog.records].count("notify_dropped") == 1
    receiver.hold.clear()
    receiver.release.set()
    assert [p["title"] for p in receiver.wait_posts(4)] == ["m0", "m1", "m2", "m3"]
    wait_counts(notifier, Delivery.SENT, 4)


def test_a_url_apprise_cannot_parse_is_a_one_line_usage_error_without_secrets() -> None:
    """A bad URL names its position and scheme only; a good one is masked in the target name."""
    with pytest.raises(UsageProblem) as bad:
        Notifier(["json://127.0.0.1:1/ok", "nosuchservice://admin:hunter2@host/x"])
    text = str(bad.value)
    assert "notification URL 2 (nosuchservice://...)" in text
    assert "hunter2" not in text and "\n" not in text
    with pytest.raises(UsageProblem, match=r"URL 1 \(\(no scheme\)\)"):
        Notifier(["just-words"])
    good = Notifier(["json://user:hunter2@127.0.0.1:1/path"])
    assert "hunter2" not in good.targets[0].name and "127.0.0.1:1/path" in good.targets[0].name


def test_syncd_notify_is_split_on_whitespace_and_commas() -> None:
    """SYNCD_NOTIFY holds several URLs separated by spaces, newlines or commas; a comma inside
    a URL (not before another scheme://) stays in it."""
    assert split_urls(" json://a/x, slack://t/b/c\n\tpagerduty://k@r,mailto://u@h?to=a@x,b@y") == [
        "json://a/x",
        "slack://t/b/c",
        "pagerduty://k@r",
        "mailto://u@h?to=a@x,b@y",
    ]
    assert split_urls(None) == [] and split_urls(" , ") == []


def test_a_url_can_take_only_some_kinds_of_message(
    receiver: Receiver, notifiers: Callable[..., Notifier]
) -> None:
    """A URL ending in syncd_events=refused+outage gets only those kinds; an unknown kind is a
    usage error."""
    notifier = notifiers(
        [receiver.url("/all"), receiver.url("/pager", syncd_events="refused+outage")],
        topics=TOPICS,
    )
    notifier.send(Message("a change", "x", topic="applied"))
    notifier.send(Message("a refusal", "x", topic="refused"))
    wait_counts(notifier, Delivery.SENT, 3)
    got = sorted((post["path"], post["title"]) for post in receiver.wait_posts(3))
    assert got == [("/all", "a change"), ("/all", "a refusal"), ("/pager", "a refusal")]
    assert len(receiver.posts) == 3
    with pytest.raises(UsageProblem, match=r"syncd_events=paging is not a kind of message"):
        Notifier([receiver.url(syncd_events="refused,paging")], topics=TOPICS)


def test_a_dependency_is_announced_only_past_the_threshold_and_then_when_back() -> None:
    """Down for less than the threshold sends nothing; past it, one 'down' and later one 'back'."""
    sent: list[Event] = []
    outages = Outages(sent.append, threshold=60)
    outages.down("database", "refused", now=0)
    outages.up("database", failed_tries=3, now=20)
    assert sent == []
    for now in (100, 130, 161, 200):
        outages.down("git", "timeout", now=now)
    assert sent == [DependencyDown("git", "timeout", 61.0)]
    outages.up("git", failed_tries=4, now=230)
    assert sent[1] == DependencyUp("git", 130.0, 4)


CTX = NotifyContext(branch="main", host="db1", public_url="https://config.example.com/", max_keys=2)


def test_an_applied_commit_lists_counts_a_few_changes_and_the_console_link() -> None:
    """The applied message has the sha, author, counts, at most max_keys changes and a link."""
    event = CommitApplied(
        sha="370201284dd6aaaa",
        author="Ana Lyst <ana@example.com>",
        summary="Raise the USDC base rate",
        added=1,
        changed=2,
        removed=0,
        changes=(
            Change("change", "pricing.base_rate_USDC", "0.04", "0.045"),
            Change("add", "pricing.base_rate_EURC", None, "0.05"),
            Change("change", "stress_scenarios.crypto_crash", None, "price_impacts"),
        ),
    )
    message = render(event, CTX)
    assert message.title == "syncd main: applied 370201284dd6"
    assert message.level is Level.SUCCESS
    assert message.body.splitlines() == [
        "Ana Lyst <ana@example.com>: Raise the USDC base rate",
        "2 changed, 1 added, 0 removed",
        "~ pricing.base_rate_USDC: 0.04 -> 0.045",
        "+ pricing.base_rate_EURC: 0.05",
        "... and 1 more",
        "Console: https://config.example.com/ui/",
    ]


def test_refusals_drift_and_outages_say_why() -> None:
    """Refused, drift and dependency messages carry the reason, the rows and the host."""
    refused = render(
        HeadRefused(
            "bad0000000000", "Eve <e@x>", "oops", "pricing.yaml:3:5: -1 < 0", "good00000000ff"
        ),
        NotifyContext(branch="main", host="db1"),
    )
    assert refused.level is Level.FAILURE and "Why: pricing.yaml:3:5: -1 < 0" in refused.body
    assert "good00000000 stays applied" in refused.body and "Console" not in refused.body
    drift = render(Drift("c" * 40, 3, ("pricing.a", "pricing.b", "risk.c"), True), CTX)
    assert drift.title == "syncd main: put back 3 rows changed outside git"
    assert drift.body.splitlines()[1:4] == ["pricing.a", "pricing.b", "... and 1 more"]
    down = render(DependencyDown("database", "connection refused", 75), CTX)
    assert down.title == "syncd main: database down for 75 s"
    assert "db1: connection refused" in down.body
    back = render(DependencyUp("database", 300, 9), CTX)
    assert back.title == "syncd main: database back after 5 min" and "9 failed tries" in back.body
