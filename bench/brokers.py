"""The brokers' ceilings: what bare kafka-python reaches on each local broker, in one run.

For each broker (embedded Tansu, Apache Kafka) started fresh in a scratch folder: produce N
keyed 1 KB messages to a topic of the platform's shape (3 partitions, created with the
platform's settings) through the platform's own producer configuration (acks=all, one request
in flight, idempotent where the broker keeps producer state), then read them back in a
consumer group with manual commits, as the projectors do. No database, no decoding: no
consumer of the platform can go faster through one client.

    python -m bench.brokers [--messages 20000] [--brokers embedded,apache]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka import OffsetAndMetadata

from runtime import kafka
from runtime.embedded import ApacheKafka, EmbeddedBroker
from runtime.settings import Settings

BROKERS = {"embedded": EmbeddedBroker, "apache": ApacheKafka}
PAYLOAD = os.urandom(512).hex().encode()  # 1 KB, as a large envelope


@dataclass(frozen=True)
class BrokerCeiling:
    broker: str
    messages: int
    produce_per_s: float
    consume_per_s: float
    start_s: float


def measure(kind: str, messages: int, folder: Path) -> BrokerCeiling:
    started = time.perf_counter()
    broker = BROKERS[kind](folder / kind).start()
    start_s = time.perf_counter() - started
    try:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            kafka_namespace=f"bench{uuid.uuid4().hex[:6]}",
            kafka_session_timeout_ms=6000 if broker.keeps_logs else 1500,
            kafka_enable_idempotence=broker.keeps_logs,
        )
        topic = settings.topic("orders")
        admin = kafka.admin(settings)
        kafka.ensure_topic(admin, topic, settings)
        admin.close()
        return BrokerCeiling(
            broker=kind,
            messages=messages,
            produce_per_s=round(_produce(settings, topic, messages)),
            consume_per_s=round(_consume(settings, topic, messages)),
            start_s=round(start_s, 1),
        )
    finally:
        broker.stop()


def _produce(settings: Settings, topic: str, messages: int) -> float:
    producer = kafka.producer(settings, client_id="bench-produce")
    started = time.perf_counter()
    for number in range(messages):
        producer.send(topic, key=f"order-{number % 1000}".encode(), value=PAYLOAD)
    producer.flush()
    seconds = time.perf_counter() - started
    producer.close()
    return messages / seconds


def _consume(settings: Settings, topic: str, messages: int) -> float:
    consumer = kafka.group_consumer(
        settings, group_id=settings.consumer_group("bench"), topics=[topic]
    )
    read = 0
    started = None
    deadline = time.monotonic() + 120
    try:
        while read < messages and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=200)
            if polled and started is None:
                started = time.perf_counter()  # from the first record: not the group join
            read += sum(len(records) for records in polled.values())
            if polled:
                consumer.commit(
                    {tp: OffsetAndMetadata(r[-1].offset + 1, "", -1) for tp, r in polled.items()}
                )
        seconds = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close(autocommit=False)
    if read < messages:
        raise RuntimeError(f"read {read} of {messages} messages in 120 s")
    return read / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--brokers", default="embedded,apache")
    args = parser.parse_args(argv)
    kinds = args.brokers.split(",")
    if "apache" in kinds and not (shutil.which("java") and shutil.which("mvn")):
        print("Apache Kafka skipped: it needs Java 17+ and Maven on PATH")
        kinds.remove("apache")
    folder = Path(tempfile.mkdtemp(prefix="dist-bench-brokers-"))
    try:
        results = [measure(kind, args.messages, folder) for kind in kinds]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nkafka-python ceilings, {args.messages:,} keyed 1 KB messages, acks=all:")
    print(f"  {'broker':<10} {'produce msg/s':>14} {'consume msg/s':>14} {'start s':>8}")
    for result in results:
        print(
            f"  {result.broker:<10} {result.produce_per_s:>14,.0f} "
            f"{result.consume_per_s:>14,.0f} {result.start_s:>8.1f}"
        )
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "brokers.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
