"""Kafka clients configured the one way this platform uses them (kafka-python).

Producers: acks=all, one request in flight, keyed by aggregate id, idempotent where the
broker keeps producer state. Consumers: explicit offset
reset and manual commits (kafka-python 3 defaults to auto-commit and `latest`; INFRA-NOTES).
"""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from runtime.settings import Settings

UNKNOWN_TOPIC_OR_PARTITION = 3


# kafka-python keeps its own metrics (rates, averages and maxima per fetch, request and
# record), which nothing here reads: the platform's are in runtime.metrics. On, they were
# 1-4 % of each process's samples at 50 orders/s (bench.profile); off, they are gone, a
# saving smaller than the bench's noise (two runs each). The admin client has no such
# setting (it makes few requests).
NO_CLIENT_METRICS: dict[str, Any] = {"metrics_enabled": False}


def producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers(),
        "acks": "all",
        # The idempotent producer only where the broker keeps producer ids (Apache Kafka):
        # one that loses its state (the embedded one on a restart) leaves it in a fatal
        # state. Without it, duplicates from retries are harmless (consumers de-duplicate by
        # origin); one request in flight keeps retried batches in order within a partition.
        "enable_idempotence": settings.kafka_enable_idempotence,
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 2,
        "retries": 5,
        "client_id": "dist-producer",
        **NO_CLIENT_METRICS,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def group_consumer(
    settings: Settings,
    *,
    group_id: str,
    topics: list[str],
    listener: Any = None,
    **overrides: Any,
) -> KafkaConsumer:
    session_ms = settings.kafka_session_timeout_ms
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": session_ms,
        # A third of the session (Kafka's own advice): with the embedded broker's 1.5 s
        # session, each idle consumer sends two heartbeats a second, not three.
        "heartbeat_interval_ms": max(100, session_ms // 3),
        "max_poll_records": 500,
        # Hand over new records within 50 ms instead of the default 500 (read-your-writes
        # latency); an idle consumer costs a few more fetch requests.
        "fetch_max_wait_ms": 50,
        # Also the rebalance timeout: how long a join waits for members that went silent
        # (after a broker restart, one may be a ghost of this very consumer). A batch takes
        # seconds, far below the default 20 s.
        "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
        # The Java client's default: an answer that never comes (a SyncGroup lost in a
        # rebalance) fails after 30 s and the member rejoins, instead of kafka-python's 305 s.
        # The join itself waits longer (the rebalance timeout, above).
        "request_timeout_ms": max(30_000, session_ms + 5_000),
        "client_id": group_id,
        **NO_CLIENT_METRICS,
    }
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    consumer.subscribe(topics, listener=listener)
    # Know the topics' partitions before the first poll joins the group. Otherwise, with a
    # broker that answers the join at once (Apache Kafka), the leader assigns from metadata
    # that has not arrived yet: nothing, then a second rebalance, which kafka-python 3.0
    # sometimes never finishes (the member hangs after its SyncGroup and is evicted).
    for topic in topics:
        consumer.partitions_for_topic(topic)
    if listener is not None:
        listener.consumer = consumer
    return consumer


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers(), client_id="dist-admin")


def topic_id(client: KafkaAdminClient, topic: str) -> str | None:
    """The broker's id of the topic, or None when it does not exist. A topic that was lost
    and created again (the embedded broker after a restart) has a new id."""
    [description] = client.describe_topics([topic])
    if description["error_code"] == UNKNOWN_TOPIC_OR_PARTITION:
        return None
    return description.get("topic_id")


def topic_configs(settings: Settings) -> dict[str, str]:
    """What a topic the platform creates is set to (deploy/README.md, "Kafka")."""
    configs = {"cleanup.policy": "delete", "retention.ms": str(settings.kafka_retention_ms)}
    if settings.kafka_min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(settings.kafka_min_insync_replicas)
    return configs


def ensure_topic(
    client: KafkaAdminClient, topic: str, settings: Settings, *, timeout: float = 15.0
) -> str:
    """Create the topic if missing; return its id. Apache Kafka answers CreateTopics from
    its controller before the broker's metadata has the topic: wait (bounded) for it."""
    current = topic_id(client, topic)
    if current is not None:
        return current
    try:
        client.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=settings.kafka_topic_partitions,
                    replication_factor=settings.kafka_replication_factor,
                    topic_configs=topic_configs(settings),
                )
            ]
        )
    except TopicAlreadyExistsError:
        pass
    deadline = time.monotonic() + timeout
    while (created := topic_id(client, topic)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} could not be created")
        time.sleep(0.05)
    return created


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
