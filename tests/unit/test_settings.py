"""Configuration refuses unsafe defaults outside development mode."""

from __future__ import annotations

import json

import pytest

from runtime.settings import PostgresLocation, Settings, UnsafeConfiguration

KEYS = {"k-7f3a9": {"name": "ERP", "role": "erp"}}


class TestApiKeys:
    def test_demo_keys_exist_in_development_mode(self):
        grants = Settings(dist_env="development").api_key_grants()
        assert grants["demo-chengdu-clerk"].branch == "CD"

    def test_production_without_keys_refuses_to_start(self):
        with pytest.raises(UnsafeConfiguration):
            Settings(dist_env="production").api_key_grants()

    def test_production_refuses_the_demo_keys(self):
        keys = {"demo-hq-admin": {"name": "x", "role": "hq_admin"}}
        with pytest.raises(UnsafeConfiguration):
            Settings(dist_env="production", api_keys=json.dumps(keys)).api_key_grants()

    def test_production_has_only_the_configured_keys(self):
        grants = Settings(dist_env="production", api_keys=json.dumps(KEYS)).api_key_grants()
        assert set(grants) == {"k-7f3a9"}

    def test_a_branch_role_needs_a_branch(self):
        keys = {"k": {"name": "clerk", "role": "branch_clerk"}}
        with pytest.raises(ValueError, match="needs a branch"):
            Settings(dist_env="production", api_keys=json.dumps(keys)).api_key_grants()

    def test_production_is_the_default(self, monkeypatch):
        monkeypatch.delenv("DIST_ENV", raising=False)
        assert not Settings().development


class TestDatabaseUrl:
    def test_parses_a_postgres_url(self):
        pg = PostgresLocation.from_url("postgresql://dist:s3cret@db.internal:6432/platform")
        assert (pg.host, pg.port, pg.user, pg.password, pg.dbname) == (
            "db.internal",
            6432,
            "dist",
            "s3cret",
            "platform",
        )

    def test_refuses_what_is_not_a_postgres_url(self):
        with pytest.raises(ValueError):
            Settings(database_url="mysql://root@localhost/x")


class TestKafka:
    def test_min_insync_replicas_above_the_replication_factor_is_refused(self):
        with pytest.raises(ValueError, match="MIN_INSYNC_REPLICAS"):
            Settings(kafka_replication_factor=1, kafka_min_insync_replicas=2)

    def test_topics_keep_every_event_by_default(self):
        from runtime.kafka import topic_configs

        assert topic_configs(Settings()) == {"cleanup.policy": "delete", "retention.ms": "-1"}


def test_the_banner_shows_a_region_manager_s_region_and_branches() -> None:
    from runtime.settings import DEMO_API_KEYS
    from runtime.supervisor import _scope_shown

    assert _scope_shown(DEMO_API_KEYS["demo-southwest-manager"]) == "SOUTHWEST (CD, CQ)"
    assert _scope_shown(DEMO_API_KEYS["demo-hq-admin"]) == "national"
