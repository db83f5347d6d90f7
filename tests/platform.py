"""Test harness: platform processes served by uvicorn on free ports, in threads, so tests
talk to them over HTTP exactly as clients do."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from runtime.embedded import free_port
from runtime.http.server import server_config
from runtime.process import Process
from services.kernel.dates import business_today
from services.masterdata.domain import NOT_KNOWN_YET

HQ = {"Authorization": "Bearer demo-hq-admin"}
CHENGDU_CLERK = {"Authorization": "Bearer demo-chengdu-clerk"}
SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}

# The sales organisation the tests' dealers, warehouses and targets name: region -> branches.
ORGANISATION = {
    "SOUTHWEST": {"CD": "Chengdu Branch", "CQ": "Chongqing Branch"},
    "EAST": {"SH": "Shanghai Branch"},
    "NORTH": {"BJ": "Beijing Branch"},
    "NORTHWEST": {"XA": "Xi'an Branch"},
}


def register_organisation(orders: httpx.Client) -> None:
    """Headquarters registers the tests' regions and branches in orders (fixed keys: again
    on the same data replays)."""
    for region, branches in ORGANISATION.items():
        body = {"code": region, "name": f"{region.title()} Region"}
        response = command(
            orders, "/organisation/regions", body, headers=HQ, key=f"test-region-{region}"
        )
        assert response.status_code == 201, response.text
        for branch, name in branches.items():
            body = {"code": branch, "name": name, "region": region}
            response = command(
                orders, "/organisation/branches", body, headers=HQ, key=f"test-branch-{branch}"
            )
            assert response.status_code == 201, response.text


@contextmanager
def running_server(server: uvicorn.Server) -> Iterator[threading.Thread]:
    """``server`` running in a thread, once it has started; told to exit and joined after."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        yield thread
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(process: Process) -> Iterator[httpx.Client]:
    port = free_port()
    config = server_config(process.api, host="127.0.0.1", port=port, log_level="warning")
    process.start_workers()
    try:
        with (
            running_server(uvicorn.Server(config)),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client,
        ):
            yield client
    finally:
        process.close()


def command(
    client: httpx.Client,
    path: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    key: str | None = None,
) -> httpx.Response:
    return client.post(
        path, json=body, headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())}
    )


def command_when_known(
    client: httpx.Client,
    path: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    key: str | None = None,
    timeout: float = 30,
) -> httpx.Response:
    """A command naming dealers or SKUs that orders registered a moment ago, sent as the
    docs/business.md asks of clients: retried with the same key while the service answers 404
    ``unknown_dealer`` / ``unknown_sku`` (its replica has not caught up yet)."""
    key = key or str(uuid.uuid4())

    def attempt() -> httpx.Response | None:
        response = command(client, path, body, headers=headers, key=key)
        if response.status_code == 404 and response.json().get("code") in NOT_KNOWN_YET:
            return None
        return response

    return wait_until(attempt, timeout=timeout, what=f"{path} to know what it names")


def business_day(offset: int = 0) -> str:
    """The business date ``offset`` days from today, as the services see today when it is
    asked: not a date fixed when the test module was imported, which a run that passes
    midnight in China Standard Time (16:00 UTC) would find a day behind the services."""
    return (business_today() + timedelta(days=offset)).isoformat()


@contextmanager
def one_business_month() -> Iterator[date]:
    """The first day of the business month a module's seed belongs to, for a module fixture
    that seeds the demo company and whose tests check a month's figures. The demo dates what
    it seeds by the day it runs, so the month is taken when seeding starts, not when the
    module is imported (a run of the suite can pass midnight in China Standard Time on a
    month's last day between the two); a seed that itself crosses that midnight is split
    between two months, and the module is skipped with that reason rather than failed."""
    first = business_today().replace(day=1)
    yield first
    if business_today().replace(day=1) != first:
        pytest.skip(f"the seed crossed the end of {first:%Y-%m} (midnight CST): its months split")


def wait_until(condition: Callable[[], Any], *, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


# One route per read model of the query side (the lists share one projection), each
# waiting on `min_position`; the dealer statement reads receivables.
CAUGHT_UP_ROUTES = (
    "/hq/orders",
    "/dealers/CD-001/statement",
    "/hq/sales?by=region",
    "/hq/inventory",
    "/hq/channel-health/counts?by=branch",
    "/hq/rebates/pools",
    "/hq/demand-plans?by=branch&month={month}",
    "/hq/targets?month={month}",
)


def query_caught_up(query: httpx.Client, seeded: dict[str, int], month: str) -> None:
    """Every read model of the query side has reached the seed's last command of each
    service: a test starts from the whole demo company, not from whatever the projectors
    had reached when the seed returned (seconds behind on a loaded machine)."""
    for route in (route.format(month=month) for route in CAUGHT_UP_ROUTES):
        for origin, number in seeded.items():
            joiner = "&" if "?" in route else "?"
            url = f"{route}{joiner}min_position={origin}:{number}"

            def reached(url=url) -> bool:
                # 404 until the model has heard of the dealer (the scope check answers
                # before min_position waits); 422: the model does not read that service.
                return query.get(url, headers=HQ).status_code in (200, 422)

            wait_until(reached, timeout=120, what=f"{url} after the seed")


def envelopes_of(events: list, *, time: str = "2026-11-20T02:00:00Z") -> list:
    """Integration events as their services would publish them: positions 1, 2, 3, ... per
    origin, each naming the previous one (for read-model tests that apply them directly)."""
    from contracts import Envelope
    from contracts.envelope import event_id

    positions: dict[str, int] = {}
    out = []
    for event in events:
        origin = event.service
        previous = positions.get(origin, 0)
        positions[origin] = previous + 1
        out.append(
            Envelope(
                id=event_id(origin, previous + 1),
                source=origin,
                type=str(event.event_type()),
                subject=f"{origin}-{previous + 1}",
                time=time,
                sequence=1,
                position=previous + 1,
                previousposition=previous,
                data=event.model_dump(mode="json"),
            )
        )
    return out


def published(settings, service: str, name: str) -> list[dict]:
    """The envelopes of one event type on a service's topic, in position order."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1500,
    )
    topic = settings.topic(service)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    envelopes = [json.loads(record.value) for record in consumer]
    consumer.close()
    return sorted(
        (e for e in envelopes if e["type"].split(".")[2] == name), key=lambda e: e["position"]
    )
