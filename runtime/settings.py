"""Typed configuration for every process, read from the environment.

Nothing is read at import time: each process calls ``Settings()`` once in its entry point
and passes the object down, so tests build processes with explicit settings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("orders", "inventory", "finance")
DEFAULT_PORTS = {
    "query": 8100,
    "orders": 8101,
    "inventory": 8102,
    "finance": 8103,
    "identity": 8104,
    "warnings": 8105,
    "console": 8080,
}


class Role(StrEnum):
    HQ_ADMIN = "hq_admin"
    HQ_VIEWER = "hq_viewer"
    CREDIT_CONTROLLER = "credit_controller"
    BRANCH_MANAGER = "branch_manager"
    BRANCH_CLERK = "branch_clerk"
    REGION_MANAGER = "region_manager"
    WAREHOUSE_CLERK = "warehouse_clerk"
    DEALER = "dealer"
    ERP = "erp"


HQ_ROLES = frozenset({Role.HQ_ADMIN, Role.HQ_VIEWER, Role.CREDIT_CONTROLLER, Role.ERP})
BRANCH_ROLES = frozenset({Role.BRANCH_MANAGER, Role.BRANCH_CLERK})
# The processes a region manager may call: it reads its branches' figures (query) and works
# their warnings (warnings); identity answers its sign-in. Orders, inventory and finance
# refuse it outright (403 ``forbidden_role``): it has no command there, and their lists are
# scoped per branch, not per region (docs/users.md, "Region manager").
REGION_MANAGER_PROCESSES = frozenset({"query", "warnings", "identity"})


class ApiKeyGrant(BaseModel):
    """What one API key may do: a named principal with a role and, where needed, a scope."""

    name: str
    role: Role
    branch: str | None = None
    warehouse: str | None = None
    dealer: str | None = None
    # A region manager's region and the branches of it the manager covers: fixed when HQ
    # sets the user's role (identity checks each is a registered branch of the region).
    region: str | None = None
    region_branches: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _scope_present(self) -> ApiKeyGrant:
        if self.role in BRANCH_ROLES and not self.branch:
            raise ValueError(f"role {self.role} needs a branch")
        if self.role == Role.REGION_MANAGER and not (self.region and self.region_branches):
            raise ValueError("role region_manager needs a region and its branches")
        if self.role != Role.REGION_MANAGER and (self.region or self.region_branches):
            raise ValueError("only a region manager is scoped to a region")
        if self.role == Role.WAREHOUSE_CLERK and not self.warehouse:
            raise ValueError("role warehouse_clerk needs a warehouse")
        if self.role == Role.DEALER and not self.dealer:
            raise ValueError("role dealer needs a dealer")
        return self


# The documented demo keys (README, "Demo keys"). They exist only in development mode.
DEMO_API_KEYS: dict[str, ApiKeyGrant] = {
    "demo-hq-admin": ApiKeyGrant(name="Wang Min (HQ admin)", role=Role.HQ_ADMIN),
    "demo-hq-viewer": ApiKeyGrant(name="Zhao Lei (HQ analyst)", role=Role.HQ_VIEWER),
    "demo-credit-controller": ApiKeyGrant(
        name="Sun Li (credit control)", role=Role.CREDIT_CONTROLLER
    ),
    "demo-chengdu-manager": ApiKeyGrant(
        name="Li Qiang (Chengdu manager)", role=Role.BRANCH_MANAGER, branch="CD"
    ),
    "demo-chengdu-clerk": ApiKeyGrant(
        name="Chen Jing (Chengdu clerk)", role=Role.BRANCH_CLERK, branch="CD"
    ),
    "demo-shanghai-clerk": ApiKeyGrant(
        name="Xu Hui (Shanghai clerk)", role=Role.BRANCH_CLERK, branch="SH"
    ),
    "demo-chengdu-warehouse": ApiKeyGrant(
        name="Liu Yang (Chengdu warehouse)", role=Role.WAREHOUSE_CLERK, warehouse="WH-CD"
    ),
    "demo-dealer-cd001": ApiKeyGrant(
        name="Jinjiang Wine Trading (dealer)", role=Role.DEALER, dealer="CD-001"
    ),
    "demo-erp": ApiKeyGrant(name="ERP integration", role=Role.ERP),
    "demo-southwest-manager": ApiKeyGrant(
        name="Li Na (Southwest region manager)",
        role=Role.REGION_MANAGER,
        region="SOUTHWEST",
        region_branches=frozenset({"CD", "CQ"}),
    ),
}


# The documented demo users (README, "Users, sign-in and keys"): one per demo key, with the
# key's role and scope, all with DEMO_PASSWORD. Created at start in development mode only.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - documented, development only
DEMO_USERS: dict[str, str] = {
    "hq.admin": "demo-hq-admin",
    "hq.viewer": "demo-hq-viewer",
    "credit.controller": "demo-credit-controller",
    "cd.manager": "demo-chengdu-manager",
    "cd.clerk": "demo-chengdu-clerk",
    "sh.clerk": "demo-shanghai-clerk",
    "cd.warehouse": "demo-chengdu-warehouse",
    "dealer.cd001": "demo-dealer-cd001",
    "erp.integration": "demo-erp",
    "sw.manager": "demo-southwest-manager",
}
# Signs development sessions only: outside development mode SESSION_SECRET must be set.
DEVELOPMENT_SESSION_SECRET = "development-only-session-secret-not-for-production"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class UnsafeConfiguration(RuntimeError):
    """Raised at start-up when production settings would use development shortcuts."""


class PostgresLocation(BaseModel):
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> PostgresLocation:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg2"):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
        )

    def dsn(self) -> str:
        """A libpq connection URL (psycopg2 / psycopg)."""
        return self.sqlalchemy_url().replace("postgresql+psycopg2://", "postgresql://", 1)

    def sqlalchemy_url(self) -> str:
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.dbname,
        ).render_as_string(hide_password=False)


class Settings(BaseSettings):
    """Settings shared by every process. Environment variable names are the field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    dist_env: Environment = Environment.PRODUCTION
    # One PostgreSQL database; each service owns a schema in it (orders, inventory, finance,
    # projections). Unset: the embedded server started by `dist run`.
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    # A prefix for every topic and consumer group, so several platforms (or tests) can share
    # one broker without seeing each other.
    kafka_namespace: str = "dist"
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # Settings of the topics the platform creates (deploy/README.md). With acks=all a write
    # is acknowledged once min.insync.replicas replicas have it (unset: the broker's
    # default). Retention -1 keeps every event: the topics are the ERP's replay source and
    # what `dist rebuild` reads, so they are never compacted either.
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    kafka_retention_ms: int = Field(default=-1, ge=-1)
    # The idempotent producer (a retried batch is written once). Off by default because
    # the embedded broker forgets producer ids on a restart, which leaves an idempotent
    # producer in a fatal state; on Apache Kafka turn it on (the manifests do).
    kafka_enable_idempotence: bool = False
    # Real Kafka refuses session timeouts below group.min.session.timeout.ms (6 s by
    # default). The embedded broker delays a new group's join by about half of it, so the
    # embedded run lowers it (INFRA-NOTES).
    kafka_session_timeout_ms: int = Field(default=10_000, ge=500)
    # The longest a consumer may take between polls (one batch) before the group evicts it;
    # also how long a rebalance waits for members to rejoin.
    kafka_max_poll_interval_ms: int = Field(default=20_000, ge=1_000)
    # Records a consumer applies per database transaction (one poll).
    consumer_max_poll_records: int = Field(default=500, ge=1, le=10_000)
    # JSON object {"<api key>": {"name": ..., "role": ..., "branch": ...}} or a file of it.
    api_keys: str | None = None
    api_keys_file: Path | None = None
    # The schema of the read models; a rebuild or a second projector can use another one.
    projections_schema: str = Field(default="projections", pattern=r"^[a-z_][a-z0-9_]*$")
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    query_port: int = DEFAULT_PORTS["query"]
    orders_port: int = DEFAULT_PORTS["orders"]
    inventory_port: int = DEFAULT_PORTS["inventory"]
    finance_port: int = DEFAULT_PORTS["finance"]
    identity_port: int = DEFAULT_PORTS["identity"]
    warnings_port: int = DEFAULT_PORTS["warnings"]
    console_port: int = DEFAULT_PORTS["console"]
    # Where the console reaches the other processes (unset: HOST and their ports, as
    # `dist run` starts them; in a cluster, their service URLs).
    query_url: str | None = None
    orders_url: str | None = None
    inventory_url: str | None = None
    finance_url: str | None = None
    identity_url: str | None = None
    warnings_url: str | None = None
    # Signs the session tokens identity issues at sign-in; every service checks them with
    # it, offline. At least 32 characters; required outside development mode.
    session_secret: str | None = Field(default=None, min_length=32)
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Wrong passwords for one user name within the window before it is locked (429) until
    # the oldest of them leaves the window (services/identity/throttle.py).
    sign_in_max_failures: int = Field(default=5, ge=1, le=100)
    sign_in_window_s: float = Field(default=900.0, ge=1, le=24 * 3600)
    # How long a process trusts an API key it verified (argon2 is slow on purpose); a
    # revocation or a disabled user takes effect as soon as the replica has it regardless.
    api_key_cache_s: float = Field(default=300.0, ge=0, le=3600)
    # Bounded wait of a query given ?min_position= before it answers 503.
    read_your_writes_timeout_s: float = Field(default=5.0, gt=0, le=30)
    # While the database is unreachable, a command or query answers 503 database_unavailable
    # (with Retry-After) within this many seconds, and a command so answered never commits.
    database_timeout_s: float = Field(default=5.0, ge=1, le=60)
    # Orders above this total (CNY) also need a branch manager's approval.
    order_approval_threshold: Decimal = Field(default=Decimal("500000.00"), ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # What every HTTP app accepts: a body over the limit is refused (413) before it is read;
    # a body, or a request line and headers, that takes longer than its timeout is dropped;
    # a longer URL is 414, longer headers 431.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    http_body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    http_max_url_bytes: int = Field(default=8192, ge=256)
    http_max_header_bytes: int = Field(default=16384, ge=1024)
    # How long a kept-alive connection may sit idle before the server closes it: longer than
    # a client keeps an idle connection in its pool (httpx 5 s, a proxy's upstream 60 s), so
    # that the client, not the server, ends it. Were the server first, a client could send
    # on a connection the server is closing at that moment; it reads "Server disconnected
    # without sending a response", and a POST is not retried (uvicorn's own default is 5 s).
    http_keep_alive_s: float = Field(default=75.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _replicas_can_acknowledge(self) -> Settings:
        if (self.kafka_min_insync_replicas or 1) > self.kafka_replication_factor:
            raise ValueError(
                "KAFKA_MIN_INSYNC_REPLICAS is above KAFKA_REPLICATION_FACTOR: no write could "
                "ever be acknowledged with acks=all"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value:
            PostgresLocation.from_url(value)
        return value

    @property
    def development(self) -> bool:
        return self.dist_env == Environment.DEVELOPMENT

    @property
    def database_attempt_timeout_s(self) -> int:
        """How long one attempt waits for a connection (whole seconds, as the drivers take
        it): short enough that several attempts fit in ``database_timeout_s``."""
        return max(1, int(self.database_timeout_s // 4))

    def port_of(self, process: str) -> int:
        return int(getattr(self, f"{process}_port"))

    def url_of(self, process: str) -> str:
        """The base URL another process is reached at: ``<PROCESS>_URL`` or HOST:port."""
        configured = getattr(self, f"{process}_url")  # every process has its field
        if configured:
            return str(configured).rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port_of(process)}"

    def postgres(self) -> PostgresLocation:
        if not self.database_url:
            raise UnsafeConfiguration("DATABASE_URL is not set (and no embedded server runs)")
        return PostgresLocation.from_url(self.database_url)

    def bootstrap_servers(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise UnsafeConfiguration("KAFKA_BOOTSTRAP_SERVERS is not set")
        return self.kafka_bootstrap_servers

    def topic(self, service: str) -> str:
        return f"{self.kafka_namespace}.{service}.events"

    def dead_letter_topic(self, consumer: str) -> str:
        return f"{self.kafka_namespace}.{consumer}.dlq"

    def consumer_group(self, consumer: str) -> str:
        return f"{self.kafka_namespace}.{consumer}"

    def session_signing_secret(self) -> str:
        """The secret sessions are signed with; refuses to run without one in production."""
        if self.session_secret:
            return self.session_secret
        if self.development:
            return DEVELOPMENT_SESSION_SECRET
        raise UnsafeConfiguration(
            "SESSION_SECRET is not set: every process needs the same secret (32+ characters)"
        )

    def api_key_grants(self) -> dict[str, ApiKeyGrant]:
        """The configured keys; refuses demo keys outside development mode."""
        raw: dict[str, object] = {}
        if self.api_keys_file:
            raw.update(json.loads(self.api_keys_file.read_text()))
        if self.api_keys:
            raw.update(json.loads(self.api_keys))
        grants = {key: ApiKeyGrant.model_validate(grant) for key, grant in raw.items()}
        if self.development:
            return {**DEMO_API_KEYS, **grants}
        demo = sorted(set(grants) & set(DEMO_API_KEYS))
        if demo:
            raise UnsafeConfiguration(
                f"demo API keys {demo} are configured outside development mode"
            )
        if not grants:
            raise UnsafeConfiguration(
                "no API keys configured: set API_KEYS or API_KEYS_FILE (or DIST_ENV=development)"
            )
        return grants
