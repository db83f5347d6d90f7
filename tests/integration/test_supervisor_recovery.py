"""`dist run`'s supervisor brings the platform back after kill -9 of the broker or of the
postmaster (restarted on their ports; the relay republishes to the fresh broker), and a child
that keeps failing is reported and held back while the others go on serving. Real processes:
PostgreSQL, the broker and the orders service as children of the supervisor under test."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from runtime.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from runtime.migrate import migrate
from runtime.settings import Settings
from runtime.supervisor import Child, Supervisor
from services.orders.domain import Dealer
from tests.integration.test_delivery_guarantees import topic_envelopes
from tests.platform import HQ, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def organised(orders_url: str) -> bool:
    """HQ registers the Southwest region and its Chengdu branch (a dealer names them);
    fixed keys, so a retry after a 503 replays."""
    steps = (
        ("/organisation/regions", {"code": "SOUTHWEST", "name": "Southwest Region"}),
        ("/organisation/branches", {"code": "CD", "name": "Chengdu", "region": "SOUTHWEST"}),
    )
    for path, body in steps:
        headers = {**HQ, "Idempotency-Key": f"org-{body['code']}"}
        if httpx.post(f"{orders_url}{path}", json=body, headers=headers, timeout=10).is_error:
            return False
    return True


def register(orders_url: str, code: str, name: str) -> httpx.Response:
    body = {"code": code, "name": name, "branch": "CD", "region": "SOUTHWEST"}
    return httpx.post(
        f"{orders_url}/dealers",
        json={**body, "grade": "tier1_distributor"},
        headers={**HQ, "Idempotency-Key": f"reg-{code}"},
        timeout=10,
    )


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def lock_names(lock: Path) -> str | None:
    """The PID a postmaster.pid names (None while it is missing or half written)."""
    try:
        return (lock.read_text().split() or [None])[0]
    except FileNotFoundError:
        return None


def published_dealers(settings: Settings) -> set[str]:
    return {envelope["subject"] for envelope in topic_envelopes(settings)}


@pytest.fixture
def platform(tmp_path: Path):
    """PostgreSQL, the broker, the orders service and a downstream consumer that cannot
    start, all under one supervisor (2 restarts per ten minutes each)."""
    postgres = EmbeddedPostgres(tmp_path / "pg", fast_unsafe=True).start()
    broker = EmbeddedBroker(tmp_path / "broker").start()
    settings = Settings(
        dist_env="development",
        database_url=postgres.url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_namespace=f"t{uuid.uuid4().hex[:10]}",
        kafka_session_timeout_ms=1500,
        orders_port=free_port(),
        database_timeout_s=2,
    )
    migrate(settings)
    env = {
        **os.environ,
        "DIST_ENV": "development",
        "DATABASE_URL": postgres.url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKA_NAMESPACE": settings.kafka_namespace,
        "KAFKA_SESSION_TIMEOUT_MS": "1500",
        "ORDERS_PORT": str(settings.orders_port),
        "HOST": "127.0.0.1",
        "DATABASE_TIMEOUT_S": "2",
    }
    orders = Child(
        "orders", [sys.executable, "-m", "runtime", "serve", "orders"], env, tmp_path / "o.log"
    )
    # The ERP consumer with a broken configuration: it exits as soon as it starts.
    erp = Child("erp", [sys.executable, "-c", "raise SystemExit(3)"], env, tmp_path / "erp.log")
    # A window longer than the test: the failing child stays held back throughout.
    supervisor = Supervisor(max_restarts=2, window_s=600)
    supervisor.watch("postgres", postgres)
    supervisor.watch("broker", broker)
    for child in (orders, erp):
        child.start()
        supervisor.watch(child.name, child)
    stopping = threading.Event()
    watcher = threading.Thread(target=supervisor.run, args=(stopping,), kwargs={"interval_s": 0.2})
    watcher.start()
    try:
        yield settings, supervisor, postgres, broker
    finally:
        stopping.set()
        watcher.join(timeout=10)
        for child in (erp, orders):
            child.stop()
        broker.stop()
        postgres.stop()
        shutil.rmtree(postgres.folder, ignore_errors=True)


def test_platform_recovers_from_kill_9_and_a_failing_child_is_held_back(platform):
    settings, supervisor, postgres, broker = platform
    orders_url = f"http://127.0.0.1:{settings.orders_port}"
    wait_until(lambda: ready(orders_url), timeout=60, what="orders ready")
    wait_until(lambda: supervisor.failing() == ["erp"], timeout=20, what="erp reported")
    # The others go on serving (a loaded machine may answer 503 within the 2 s bound).
    wait_until(lambda: organised(orders_url), timeout=20, what="the organisation registered")
    wait_until(
        lambda: register(orders_url, "CD-001", "Jinjiang Wine Trading").status_code == 201,
        timeout=20,
        what="CD-001 registered",
    )
    wait_until(
        lambda: str(Dealer.create_id("CD-001")) in published_dealers(settings),
        timeout=30,
        what="CD-001 published",
    )

    killed_broker = broker.process.pid
    os.kill(killed_broker, signal.SIGKILL)
    wait_until(lambda: broker.alive() and broker.process.pid != killed_broker, timeout=20)
    wait_until(lambda: ready(orders_url), timeout=60, what="orders ready after the broker")
    # The fresh broker has nothing; the relay republishes from the event store.
    wait_until(
        lambda: str(Dealer.create_id("CD-001")) in published_dealers(settings),
        timeout=60,
        what="CD-001 republished",
    )

    killed_postmaster = postgres.process.pid
    stale_lock = postgres.pgdata / "postmaster.pid"
    os.kill(killed_postmaster, signal.SIGKILL)
    wait_until(lambda: postgres.alive() and postgres.process.pid != killed_postmaster, timeout=40)
    wait_until(
        lambda: lock_names(stale_lock) == str(postgres.process.pid),
        timeout=20,
        what="the restarted postmaster's own lock file",
    )
    wait_until(lambda: ready(orders_url), timeout=60, what="orders ready after PostgreSQL")
    wuhou = wait_until(
        lambda: (r := register(orders_url, "CD-002", "Wuhou Spirits")).status_code == 201 and r,
        timeout=20,
        what="CD-002 registered",
    )
    assert wuhou.json()["code"] == "CD-002"
    assert supervisor.failing() == ["erp"]
