"""Apache Kafka's broker as the tests and `dist run --kafka apache` run it: fetched once,
stopped cleanly, and keeping its topics and records across a restart. Only on the
TEST_KAFKA=apache pass (the session's broker is then Apache Kafka)."""

from __future__ import annotations

import shutil
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition

from runtime import kafka
from runtime.embedded import ApacheKafka, apache_kafka_jars

pytestmark = [pytest.mark.integration, pytest.mark.broker]


@pytest.fixture
def apache(broker) -> ApacheKafka:
    if not isinstance(broker, ApacheKafka):
        pytest.skip("the session's broker is not Apache Kafka (TEST_KAFKA=apache)")
    return broker


def test_once_fetched_the_broker_needs_no_maven(apache, monkeypatch):
    fetched = apache_kafka_jars()
    found = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "mvn" else found(name))
    assert apache_kafka_jars() == fetched
    assert any(fetched.glob("kafka_2.13-*.jar"))


def test_a_restart_is_a_clean_shutdown_that_keeps_topics_and_records(apache, settings):
    topic = settings.topic("orders")
    admin = kafka.admin(settings)
    topic_id = kafka.ensure_topic(admin, topic, settings)
    admin.close()
    producer = kafka.producer(settings)
    for number in range(12):
        producer.send(topic, key=f"CD-001-{number % 3}".encode(), value=b"WULIANGYE-52-500ML")
    producer.flush()
    producer.close()

    apache.stop()
    assert (apache.log_dirs / ".kafka_cleanshutdown").exists(), "not a controlled shutdown"
    apache.start()

    admin = kafka.admin(settings)
    assert kafka.topic_id(admin, topic) == topic_id
    admin.close()
    consumer = KafkaConsumer(
        bootstrap_servers=apache.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id=f"check-{uuid.uuid4().hex[:6]}",
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    ends = consumer.end_offsets(partitions)
    consumer.close()
    assert sum(ends.values()) == 12  # exact: no batch missing, none counted twice
