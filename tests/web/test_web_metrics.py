"""GET /metrics (statemachine.web._metrics) on real server processes: the Prometheus text
format, read by Prometheus' own parser; behind read access; events counted by outcome, rule
and kind; request latency by route template, never a path; the store's gauges read at the
scrape; and every worker's counts summed, whichever worker answers (issue 18, part 3)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import RELAY_SECRET, ProcessServer, R, W, at, create, fire, free_port, server_env

from statemachine.store import PostgresStore, SQLiteStore, SQLStore

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[Samples, str]:
    """The samples of one scrape, keyed by name and labels, read by Prometheus' own parser
    (it raises on anything that is not the text format), and the text itself."""
    answer = httpx.get(f"{url}/metrics", headers=R, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, answer.text


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when there is none: not counted yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def counted(samples: Samples, outcome: str, event: str, rule: str = "", kind: str = "") -> float:
    """``orderfsm_events_total`` for one outcome, event, rule and kind."""
    return value(
        samples, "orderfsm_events_total", outcome=outcome, event=event, rule=rule, kind=kind
    )


def total(samples: Samples, name: str, **match: str) -> float:
    """The sum of the samples ``name`` whose labels include ``match``."""
    return sum(
        v for (n, labels), v in samples.items() if n == name and set(match.items()) <= set(labels)
    )


@pytest.fixture
def server(where: tuple[str, str], tmp_path: Path) -> Iterator[ProcessServer]:
    """``python -m statemachine.web`` on ``where``'s database (SQLite, PostgreSQL), one
    worker, no sweeper, no relay."""
    kind, target = where
    place = {"db": target} if kind == "sqlite" else {"dsn": target}
    running = ProcessServer(**place, log=tmp_path / "server.log").start()
    yield running
    running.stop()


def open_sync(where: tuple[str, str]) -> SQLStore:
    """The synchronous store on ``where``'s database, to check what the gauges say."""
    kind, target = where
    return SQLiteStore(target, create=False) if kind == "sqlite" else PostgresStore(target)


def test_metrics_need_read_access_and_are_the_prometheus_text_format(
    server: ProcessServer,
) -> None:
    """Without a token /metrics is a 401 problem with a challenge, as every read; the read
    token (and the write token, which reads) get the Prometheus text format, which
    Prometheus' parser reads, with every family the service promises."""
    anonymous = httpx.get(f"{server.url}/metrics", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "orderfsm_" not in anonymous.text
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer no"}, timeout=30)
    assert wrong.status_code == 401
    assert httpx.get(f"{server.url}/metrics", headers=W, timeout=30).status_code == 200
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert create(client, "AE-1").status_code == 201
        fire(client, "AE-1", "request_cancellation", at=at(hours=1))
    samples, text = scrape(server.url)
    names = {name for name, _ in samples}
    assert {
        "orderfsm_events_total",
        "orderfsm_http_request_duration_seconds_bucket",
        "orderfsm_http_request_duration_seconds_count",
        "orderfsm_outbox_depth",
        "orderfsm_outbox_oldest_age_seconds",
        "orderfsm_dead_letters",
        "orderfsm_sweep_lag_seconds",
        "orderfsm_store_up",
    } <= names
    assert "# TYPE orderfsm_events_total counter" in text
    assert value(samples, "orderfsm_store_up") == 1
    openapi = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert "/metrics" not in openapi["paths"]  # for Prometheus, not for API clients


def test_events_are_counted_by_outcome_rule_and_kind(
    server: ProcessServer, where: tuple[str, str]
) -> None:
    """R15, R2, R16: an applied event, its replay (duplicate), a cancellation after dispatch
    (rejected by R2, kind state), one dated without an offset and one for no stored order
    (invalid), one dated far ahead (invalid, kind time) are each counted once under their
    outcome, event, rule and kind; latency is labelled by route template and status class,
    and no order id is a label anywhere."""
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(days=400)).isoformat()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert create(client, "AE-1").status_code == 201
        assert create(client, "AE-2").status_code == 201
        sent = [
            fire(client, "AE-1", "request_cancellation", key="c-1", at=at(hours=1)),
            fire(client, "AE-1", "request_cancellation", key="c-1", at=at(hours=1)),
            fire(client, "AE-1", "dispatch", key="d-1", at=at(1), tracking_number="LP1"),
            fire(client, "AE-1", "request_cancellation", at=at(2)),
            fire(client, "AE-1", "confirm_delivery", at="2026-03-09 18:00"),
            fire(client, "AE-404", "confirm_delivery", at=at(7)),
            fire(client, "AE-2", "dispatch", at=far, tracking_number="LP2"),
        ]
        assert [a.status_code for a in sent] == [200, 200, 200, 409, 422, 404, 422]
        assert sent[1].headers["Idempotent-Replayed"] == "true"
        assert client.get("/orders/AE-1", headers=R).status_code == 200
    before = dt.datetime.now(dt.UTC)
    samples, _ = scrape(server.url)
    after = dt.datetime.now(dt.UTC)

    assert counted(samples, "applied", "request_cancellation") == 1
    assert counted(samples, "duplicate", "request_cancellation") == 1  # R15
    assert counted(samples, "applied", "dispatch") == 1
    assert counted(samples, "rejected", "request_cancellation", "R2", "state") == 1
    assert counted(samples, "invalid", "confirm_delivery") == 2  # no offset (R16); no order
    assert counted(samples, "invalid", "dispatch", kind="time") == 1  # ORDERFSM_MAX_SKEW
    assert total(samples, "orderfsm_events_total") == 7

    latency = "orderfsm_http_request_duration_seconds_count"
    fired = {"route": "/orders/{order_id}/events/request_cancellation", "method": "POST"}
    assert value(samples, latency, **fired, status="2xx") == 2
    assert value(samples, latency, **fired, status="4xx") == 1
    assert value(samples, latency, route="/orders", method="POST", status="2xx") == 2
    assert value(samples, latency, route="/orders/{order_id}", method="GET", status="2xx") == 1
    labels = {v for _, pairs in samples for _, v in pairs}
    assert not [v for v in labels if "AE-" in v], labels  # never an order id in a label

    # the store's gauges, read at the scrape: two notifications queued (no relay), none dead
    store = open_sync(where)
    try:
        queued = store.outbox()
        due = store.orders(due_before=after, limit=1)
    finally:
        store.close()
    assert value(samples, "orderfsm_outbox_depth") == len(queued) == 2
    assert value(samples, "orderfsm_dead_letters") == 0
    age = value(samples, "orderfsm_outbox_oldest_age_seconds")
    first = min(item.notification.at for item in queued)
    assert 0 < age <= (after - first).total_seconds()
    assert due and due[0].due_at is not None  # AE-2's R1 deadline passed, and no sweeper
    lag = value(samples, "orderfsm_sweep_lag_seconds")
    assert (before - due[0].due_at).total_seconds() - 1 <= lag
    assert lag <= (after - due[0].due_at).total_seconds() + 1


def test_a_dead_letter_shows_and_leaves_the_outbox_depth(tmp_path: Path) -> None:
    """A relay whose receiver never answers (nobody listens) gives a notification up after
    ORDERFSM_RELAY_ATTEMPTS=1: /metrics then counts one dead letter and an empty outbox, read
    from the store at the scrape."""
    env = server_env(
        ORDERFSM_RELAY_URL=f"http://127.0.0.1:{free_port()}/hook",
        ORDERFSM_RELAY_SECRET=RELAY_SECRET,
        ORDERFSM_RELAY_ATTEMPTS="1",
        ORDERFSM_RELAY_INTERVAL="0.05",
    )
    server = ProcessServer(db=str(tmp_path / "orders.db"), log=tmp_path / "s.log", env=env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "DL-1").status_code == 201
            answer = fire(client, "DL-1", "request_cancellation", at=at(hours=1))
            assert answer.status_code == 200
        for _ in range(600):  # each gauge is read on its own: wait for the two to agree
            samples, _ = scrape(server.url)
            gauges = ("orderfsm_dead_letters", "orderfsm_outbox_depth")
            if [value(samples, name) for name in gauges] == [1, 0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the relay never gave the notification up: {samples}")
        assert value(samples, "orderfsm_outbox_oldest_age_seconds") == 0
        assert value(samples, "orderfsm_store_read_errors") == 0
    finally:
        server.stop()


def _pids(log: Path, path_part: str) -> set[int]:
    """The processes whose access lines (JSON) answered a path holding ``path_part``."""
    found = set()
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["logger"] == "statemachine.web.access" and path_part in record["path"]:
                found.add(record["pid"])
    return found


def test_two_workers_count_every_event_whichever_answers_the_scrape(tmp_path: Path) -> None:
    """R15: `--workers 2`: events sent on fresh connections until both workers have applied
    some (their access lines name their process), then every scrape, on fresh connections
    until both workers have answered one, counts every applied event exactly once: the
    workers' counts are summed (prometheus_client's multiprocess mode), in a directory made
    for the run and removed when the server stops."""
    log, temporary = tmp_path / "server.log", tmp_path / "tmp"
    temporary.mkdir()
    server = ProcessServer(
        db=str(tmp_path / "orders.db"), log=log, workers=2, env=server_env(TMPDIR=str(temporary))
    )
    server.command[server.command.index("--log-level") + 1] = "info"
    server.command += ["--log-format", "json"]
    server.start()
    sent = 0
    try:
        assert [p.name[:17] for p in temporary.iterdir()] == ["orderfsm-metrics-"]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(200):
                assert create(client, f"AE-{n}").status_code == 201
        while sent < 200 and (sent < 20 or len(_pids(log, "/events/")) < 2):
            # a new connection each time: either worker may accept it
            answer = httpx.post(
                f"{server.url}/orders/AE-{sent}/events/dispatch",
                headers=W,
                json={"at": at(1), "tracking_number": f"LP{sent}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            sent += 1
        assert len(_pids(log, "/events/")) == 2, "one worker took every connection"
        scrapes = 0
        while scrapes < 20 or (len(_pids(log, "/metrics")) < 2 and scrapes < 200):
            samples, _ = scrape(server.url)
            assert counted(samples, "applied", "dispatch") == sent
            assert total(samples, "orderfsm_events_total") == sent
            assert value(samples, "orderfsm_store_up") == 1
            scrapes += 1
        assert len(_pids(log, "/metrics")) == 2, "one worker answered every scrape"
        assert server.terminate() == 0
    finally:
        server.stop()
    assert list(temporary.iterdir()) == []


def test_a_store_that_cannot_write_is_down_and_its_gauges_left_out(tmp_path: Path) -> None:
    """R1: the SQLite file moved away under the service: the scrape still answers, with
    orderfsm_store_up 0 (as /readyz) and no gauge read from a file nobody sees any more;
    the event refused meanwhile (503) is counted as failed."""
    import shutil

    server = ProcessServer(db=str(tmp_path / "orders.db"), log=tmp_path / "server.log").start()
    kept = tmp_path / "kept"
    kept.mkdir()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "AE-1").status_code == 201
            samples, _ = scrape(server.url)
            assert value(samples, "orderfsm_store_up") == 1
            for name in ("orders.db", "orders.db-wal", "orders.db-shm"):
                if (tmp_path / name).exists():
                    shutil.move(tmp_path / name, kept / name)
            refused = fire(client, "AE-1", "request_cancellation", at=at(hours=1))
            assert refused.status_code == 503
        samples, _ = scrape(server.url)
        assert value(samples, "orderfsm_store_up") == 0
        names = {name for name, _ in samples}
        assert not names & {"orderfsm_outbox_depth", "orderfsm_sweep_lag_seconds"}
        assert counted(samples, "failed", "request_cancellation") == 1
        assert (
            value(
                samples,
                "orderfsm_http_request_duration_seconds_count",
                route="/orders/{order_id}/events/request_cancellation",
                method="POST",
                status="5xx",
            )
            == 1
        )
    finally:
        server.stop()
