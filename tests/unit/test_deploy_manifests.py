"""Static checks of deploy/: every file is parsed, nothing is run (no Docker engine needed).

The YAML checks need PyYAML. It is not a dependency of the project, so when it is missing
those tests are skipped (with that reason); the Dockerfile and JSON checks always run.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from runtime.embedded import apache_kafka_version
from runtime.kafka import topic_configs
from runtime.settings import DEFAULT_PORTS, DEMO_API_KEYS, ApiKeyGrant, Settings

try:
    import yaml
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    yaml = None

needs_yaml = pytest.mark.skipif(
    yaml is None,
    reason="PyYAML is not installed: the YAML manifests under deploy/ cannot be parsed here",
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])

PROCESSES = ("query", "orders", "inventory", "finance", "identity", "warnings", "console")
PORTS = {
    "query": 8100,
    "orders": 8101,
    "inventory": 8102,
    "finance": 8103,
    "identity": 8104,
    "warnings": 8105,
    "console": 8080,
}

# The public API prefixes of each process, as routed by the Ingress.
PREFIXES = {
    "query": ["/hq", "/branches"],
    "orders": [
        "/orders",
        "/dealers",
        "/products",
        "/price-lists",
        "/promotions",
        "/returns",
        "/demand-plans",
        "/targets",
        "/organisation",
    ],
    "inventory": [
        "/warehouses",
        "/stock",
        "/shipments",
        "/transfers",
        "/stocktakes",
        "/goods-receipts",
    ],
    "finance": [
        "/accounts",
        "/invoices",
        "/receipts",
        "/credit-notes",
        "/rebate-policies",
        "/rebate-claims",
    ],
    "identity": ["/users", "/api-keys", "/sessions"],
    "warnings": ["/warnings", "/warning-rules"],
}
# /dealers/{dealer_id}/statement belongs to the query API, every other /dealers to orders.
DEALER_STATEMENT_REGEX = "/dealers/[^/]+/(?!salesperson$)"

APP_ENV = (
    "DIST_ENV",
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_NAMESPACE",
    "KAFKA_TOPIC_PARTITIONS",
    "KAFKA_REPLICATION_FACTOR",
    "KAFKA_MIN_INSYNC_REPLICAS",
    "KAFKA_RETENTION_MS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "KAFKA_SESSION_TIMEOUT_MS",
    "KAFKA_MAX_POLL_INTERVAL_MS",
    "API_KEYS_FILE",
    "SESSION_SECRET",
    "HOST",
    "LOG_LEVEL",
)
# Containers must listen on every interface (the app's default is 127.0.0.1).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
EXAMPLE_ROLES = {"hq_admin", "branch_clerk", "dealer", "erp"}


# --- helpers -------------------------------------------------------------------------------


@functools.cache
def load_all(path: Path) -> list[Any]:
    """The documents of a YAML file (cached: callers must not modify them)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_objects() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind} {name}, found {len(found)}"
    return found[0]


def only_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    [container] = pod_spec["containers"]
    return container


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port (number or name) resolved to the container's port."""
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            return declared["containerPort"]
    raise AssertionError(f"port {port!r} is not declared by container {container['name']}")


def compose() -> dict[str, Any]:
    [doc] = load_all(DEPLOY / "compose.yaml")
    return doc


def interpolate(value: str) -> str:
    """Compose-style ${VAR:-default} / ${VAR:?error} with no variables set."""

    def one(match: re.Match[str]) -> str:
        _, op, arg = match.group(1), match.group(2), match.group(3)
        # A required variable: a value long enough for any setting (SESSION_SECRET: 32+).
        return arg if op in (":-", "-") else "placeholder-of-a-required-variable"

    return re.sub(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", one, value)


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def ingress_routes() -> list[tuple[str, str, str, int]]:
    """(path, pathType, service, port) of every path of the API's Ingress, in file order."""
    ingress = k8s_object("Ingress", "dist")
    return [
        (
            path["path"],
            path["pathType"],
            path["backend"]["service"]["name"],
            path["backend"]["service"]["port"]["number"],
        )
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def route(url_path: str) -> str:
    """The Service ingress-nginx picks with use-regex on: every path becomes the
    case-insensitive regex ``^<path>``, tried longest path first, first match wins."""
    routes = sorted(ingress_routes(), key=lambda r: len(r[0]), reverse=True)
    for path, _, service, _ in routes:
        if re.match(path, url_path, flags=re.IGNORECASE):
            return service
    return "<default backend>"


# --- every file ----------------------------------------------------------------------------


def test_the_port_table_matches_the_application_defaults() -> None:
    assert PORTS == DEFAULT_PORTS


def test_deploy_yaml_files_exist() -> None:
    names = {str(path.relative_to(DEPLOY)) for path in YAML_FILES}
    assert {"compose.yaml", "k8s/kustomization.yaml", "k8s/ingress.yaml"} <= names
    for process in PROCESSES:
        assert f"k8s/{process}.yaml" in names


@needs_yaml
@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses_to_mappings(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} holds no document"
    assert all(isinstance(doc, dict) for doc in docs)


# --- Kubernetes ----------------------------------------------------------------------------


@needs_yaml
def test_every_k8s_object_is_named_and_namespaced() -> None:
    for obj in k8s_objects():
        assert obj.get("apiVersion") and obj.get("kind"), obj
        assert obj["metadata"].get("name"), obj
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "dist", obj["metadata"]


@needs_yaml
def test_kustomization_lists_every_manifest_except_the_example_secret() -> None:
    [kustomization] = load_all(K8S / "kustomization.yaml")
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    manifests = {p.name for p in K8S.glob("*.yaml")} - {
        "kustomization.yaml",
        "secret.example.yaml",
    }
    assert set(listed) == manifests


@needs_yaml
def test_one_deployment_and_one_service_per_process() -> None:
    objects = k8s_objects()
    for kind in ("Deployment", "Service"):
        names = sorted(o["metadata"]["name"] for o in objects if o["kind"] == kind)
        assert names == sorted(PROCESSES), kind


@needs_yaml
@pytest.mark.parametrize("process", PROCESSES)
def test_deployment_has_readiness_and_liveness_probes(process: str) -> None:
    deployment = k8s_object("Deployment", process)
    container = only_container(deployment["spec"]["template"]["spec"])
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert probe in container, f"{process} has no {probe}"
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path
        assert container_port(container, http_get["port"]) == PORTS[process]


@needs_yaml
@pytest.mark.parametrize("process", PROCESSES)
def test_deployment_runs_the_process_on_its_port(process: str) -> None:
    deployment = k8s_object("Deployment", process)
    pod = deployment["spec"]["template"]["spec"]
    container = only_container(pod)
    assert container["command"] == ["dist", "serve", process]
    assert [p["containerPort"] for p in container["ports"]] == [PORTS[process]]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    assert env.get(f"{process.upper()}_PORT") == str(PORTS[process])
    # Service links would set ORDERS_PORT=tcp://... etc., which the app reads as its ports.
    assert pod.get("enableServiceLinks") is False
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


@needs_yaml
@pytest.mark.parametrize("process", PROCESSES)
def test_deployment_is_configured_resourced_and_non_root(process: str) -> None:
    pod = k8s_object("Deployment", process)["spec"]["template"]["spec"]
    container = only_container(pod)
    sources = {
        next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]
    }
    assert sources == {"configMapRef": "dist-config", "secretRef": "dist-secrets"}
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][bound].keys(), bound
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


@needs_yaml
@pytest.mark.parametrize("process", PROCESSES)
def test_service_selects_its_deployment_on_its_port(process: str) -> None:
    service = k8s_object("Service", process)
    template = k8s_object("Deployment", process)["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    [port] = service["spec"]["ports"]
    assert port["port"] == PORTS[process]
    assert container_port(only_container(template["spec"]), port["targetPort"]) == PORTS[process]


@needs_yaml
def test_query_autoscales_within_the_partition_count() -> None:
    [hpa] = [o for o in k8s_objects() if o["kind"] == "HorizontalPodAutoscaler"]
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "query",
    }
    assert spec["minReplicas"] >= 2
    partitions = int(k8s_object("ConfigMap", "dist-config")["data"]["KAFKA_TOPIC_PARTITIONS"])
    assert spec["minReplicas"] <= spec["maxReplicas"] <= partitions


@needs_yaml
def test_migrate_job_runs_once_and_never_concurrently() -> None:
    job = k8s_object("Job", "dist-migrate")
    spec = job["spec"]
    assert spec["parallelism"] == 1
    assert spec["completions"] == 1
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod.get("enableServiceLinks") is False
    assert only_container(pod)["command"] == ["dist", "migrate"]


@needs_yaml
def test_configmap_holds_the_non_secret_settings() -> None:
    data = k8s_object("ConfigMap", "dist-config")["data"]
    assert all(isinstance(value, str) for value in data.values())
    assert data["DIST_ENV"] == "production"
    assert data["HOST"] == ALL_INTERFACES
    assert data["KAFKA_REPLICATION_FACTOR"] == "3"
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_NAMESPACE", "KAFKA_TOPIC_PARTITIONS"):
        assert data[key]
    assert not {"DATABASE_URL", "API_KEYS", "API_KEYS_FILE", "SESSION_SECRET"} & data.keys()


# --- Kafka settings, where the apps read them (Compose and the Kubernetes ConfigMap) ------


def kafka_settings_of_each_manifest() -> list[tuple[str, Settings]]:
    manifests = [
        ("compose", compose_env(compose()["services"]["migrate"])),
        ("k8s", k8s_object("ConfigMap", "dist-config")["data"]),
    ]
    return [
        (name, Settings(_env_file=None, **{k.lower(): interpolate(v) for k, v in env.items()}))
        for name, env in manifests
    ]


@needs_yaml
def test_manifests_configure_the_production_producer_and_topics() -> None:
    for name, settings in kafka_settings_of_each_manifest():
        assert settings.kafka_enable_idempotence, name
        assert settings.kafka_min_insync_replicas is not None, name
        # acks=all waits for min.insync.replicas; with fewer replicas than that no write
        # would ever succeed, with as many one lost broker would stop every write.
        assert settings.kafka_min_insync_replicas <= settings.kafka_replication_factor, name
        assert topic_configs(settings) == {
            "cleanup.policy": "delete",  # never compacted: the ERP replays every event
            "retention.ms": "-1",
            "min.insync.replicas": str(settings.kafka_min_insync_replicas),
        }, name


@needs_yaml
def test_kubernetes_topics_survive_the_loss_of_one_broker() -> None:
    [(_, settings)] = [(n, s) for n, s in kafka_settings_of_each_manifest() if n == "k8s"]
    assert settings.kafka_replication_factor == 3
    assert settings.kafka_min_insync_replicas == 2


@needs_yaml
def test_manifests_use_consumer_timeouts_apache_kafka_accepts() -> None:
    for name, settings in kafka_settings_of_each_manifest():
        # Kafka's group.min/max.session.timeout.ms defaults: 6 s and 30 min.
        assert 6_000 <= settings.kafka_session_timeout_ms <= 1_800_000, name
        # A member is evicted for missing polls only well after it stopped heartbeating.
        assert settings.kafka_max_poll_interval_ms > settings.kafka_session_timeout_ms, name


@needs_yaml
def test_example_secret_holds_only_placeholders() -> None:
    [secret] = load_all(K8S / "secret.example.yaml")
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "dist-secrets"
    data = secret["stringData"]
    assert set(data) == {"DATABASE_URL", "API_KEYS", "SESSION_SECRET"}
    assert "REPLACE-ME" in data["DATABASE_URL"]
    assert "REPLACE-ME" in data["SESSION_SECRET"] and len(data["SESSION_SECRET"]) >= 32
    check_placeholder_grants(json.loads(data["API_KEYS"]))


# --- Ingress -------------------------------------------------------------------------------


@needs_yaml
def test_ingress_routes_exactly_the_api_prefixes() -> None:
    ingress = k8s_object("Ingress", "dist")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    routes = ingress_routes()
    expected = {(DEALER_STATEMENT_REGEX, "query")} | {
        (prefix, service) for service, prefixes in PREFIXES.items() for prefix in prefixes
    }
    assert len(routes) == len(expected)
    assert {(path, service) for path, _, service, _ in routes} == expected
    for path, path_type, service, port in routes:
        assert port == PORTS[service], path
        regex = path == DEALER_STATEMENT_REGEX
        assert path_type == ("ImplementationSpecific" if regex else "Prefix"), path
    paths = [path for path, *_ in routes]
    assert paths.index(DEALER_STATEMENT_REGEX) < paths.index("/dealers")


@needs_yaml
@pytest.mark.parametrize(
    ("prefix", "service"),
    [(prefix, service) for service, prefixes in PREFIXES.items() for prefix in prefixes],
)
def test_ingress_sends_each_prefix_to_its_service(prefix: str, service: str) -> None:
    assert route(prefix) == service
    assert route(f"{prefix}/some-id") == service


@needs_yaml
@pytest.mark.parametrize(
    ("url_path", "service"),
    [
        ("/dealers/CD-001/statement", "query"),
        ("/dealers", "orders"),
        ("/dealers/CD-001", "orders"),
        ("/dealers/CD-001/orders", "query"),
        ("/dealers/CD-001/salesperson", "orders"),
        ("/healthz", "<default backend>"),
        ("/metrics", "<default backend>"),
    ],
)
def test_ingress_splits_dealer_statements_from_dealers(url_path: str, service: str) -> None:
    assert route(url_path) == service


@needs_yaml
def test_every_dealer_route_reaches_the_app_that_serves_it() -> None:
    """The query API's routes under /dealers/{d}/ (statement, lists, plans) and the orders
    service's under /dealers, read from the routers themselves: a route added to either
    is routed (the dealer lists were not, when only the statement was)."""
    from projections.api import lists, planning, routes
    from services.orders.api import planning as orders_planning
    from services.orders.api import routes as orders_routes

    def paths(*routers) -> set[str]:
        return {
            re.sub(r"\{(dealer_id|dealer_code|code)\}", "CD-001", route.path)
            for router in routers
            for route in router.routes
        }

    query_paths = paths(lists.dealers, planning.dealers, routes.dealers)
    orders_paths = paths(orders_routes.dealers, orders_planning.salespeople_of_dealers)
    assert "/dealers/CD-001/statement" in query_paths and "/dealers/CD-001" in orders_paths
    for path in query_paths:
        assert route(re.sub(r"\{[^}]+\}", "X-1", path)) == "query", path
    for path in orders_paths:
        assert route(re.sub(r"\{[^}]+\}", "X-1", path)) == "orders", path


def test_prefixes_of_different_services_do_not_overlap() -> None:
    # With use-regex, "/stock" also matches "/stocktakes": harmless within one service,
    # a misroute across services.
    owned = [(prefix, service) for service, prefixes in PREFIXES.items() for prefix in prefixes]
    for prefix, service in owned:
        for other, other_service in owned:
            if service != other_service:
                assert not other.lower().startswith(prefix.lower()), (prefix, other)


# --- Compose -------------------------------------------------------------------------------


@needs_yaml
def test_compose_has_every_service() -> None:
    services = compose()["services"]
    assert {"postgres", "kafka", "migrate", *PROCESSES} <= services.keys()
    assert services["postgres"]["image"] == "postgres:16"
    # The broker the integration tests' second pass runs on (deploy/apache-kafka/pom.xml).
    assert services["kafka"]["image"] == f"apache/kafka:{apache_kafka_version()}"
    for name in ("postgres", "kafka"):
        assert services[name]["healthcheck"]["test"], name


@needs_yaml
def test_compose_kafka_is_a_consistent_single_kraft_node() -> None:
    services = compose()["services"]
    env = compose_env(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID: a base64 UUID"
    listeners = dict(
        re.fullmatch(r"(\w+)://[^:]*:(\d+)", item).groups()
        for item in env["KAFKA_LISTENERS"].split(",")
    )
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert listeners.keys() <= protocols.keys()
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners
    node, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert node == str(env["KAFKA_NODE_ID"])
    assert voter.rsplit(":", 1)[1] == listeners[controller]
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert controller not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    # Containers reach the broker through the internal listener, on the name it advertises.
    bootstrap = compose_env(services["migrate"])["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap in advertised.values()
    assert bootstrap.rsplit(":", 1)[1] == listeners[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1


@needs_yaml
def test_compose_kafka_keeps_every_event_and_creates_no_topic_by_itself() -> None:
    broker = compose_env(compose()["services"]["kafka"])
    apps = compose_env(compose()["services"]["migrate"])
    assert broker["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert broker["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert int(broker["KAFKA_MIN_INSYNC_REPLICAS"]) == 1
    assert int(apps["KAFKA_REPLICATION_FACTOR"]) == 1  # one broker
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
    ):
        assert int(broker[key]) == 1, key


@needs_yaml
@pytest.mark.parametrize("name", ["migrate", *PROCESSES])
def test_compose_app_services_have_the_needed_env(name: str) -> None:
    doc = compose()
    service = doc["services"][name]
    env = compose_env(service)
    assert set(APP_ENV) <= env.keys()
    assert env["DIST_ENV"] == "production"
    assert env["HOST"] == ALL_INTERFACES
    assert env["KAFKA_REPLICATION_FACTOR"] == "1"
    database = Settings(
        _env_file=None, database_url=interpolate(env["DATABASE_URL"]), dist_env="production"
    ).postgres()
    assert (database.host, database.port) == ("postgres", 5432)
    # API keys come from the mounted example file (a Compose secret), never inline.
    assert "API_KEYS" not in env
    assert "api_keys" in service["secrets"]
    assert env["API_KEYS_FILE"] == "/run/secrets/api_keys"
    secret_file = interpolate(doc["secrets"]["api_keys"]["file"])
    assert (DEPLOY / secret_file).resolve() == DEPLOY / "api-keys.example.json"


@needs_yaml
def test_compose_runs_the_reference_erp_consumer_from_the_same_image() -> None:
    services = compose()["services"]
    erp = services["erp"]
    assert erp["command"] == ["python", "-m", "erp", "run"]
    assert erp["image"] == services["orders"]["image"]
    env = compose_env(erp)
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_NAMESPACE"} <= env.keys()


@needs_yaml
def test_compose_migrate_is_a_one_shot_after_postgres_and_kafka() -> None:
    migrate = compose()["services"]["migrate"]
    assert migrate["command"] == ["dist", "migrate"]
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
    }
    assert migrate.get("restart", "no") == "no"
    assert "deploy" not in migrate  # no replicas


@needs_yaml
@pytest.mark.parametrize("process", PROCESSES)
def test_compose_app_starts_after_migrate_and_checks_readyz(process: str) -> None:
    service = compose()["services"][process]
    assert service["command"] == ["dist", "serve", process]
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    test = " ".join(service["healthcheck"]["test"])
    assert f":{PORTS[process]}/readyz" in test
    published = [str(port) for port in service.get("ports", [])]
    assert any(port.endswith(f":{PORTS[process]}") for port in published), published


@needs_yaml
def test_compose_builds_the_image_from_the_deploy_dockerfile() -> None:
    services = compose()["services"]
    images = {services[name]["image"] for name in ("migrate", *PROCESSES)}
    assert len(images) == 1
    build = services["migrate"]["build"]
    assert (DEPLOY / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    users = [(i, rest) for i, (keyword, rest) in enumerate(instructions) if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    index, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    cmd = next(i for i, (keyword, _) in enumerate(instructions) if keyword == "CMD")
    assert index < cmd


def test_dockerfile_installs_the_package_with_constraints() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install -c constraints.txt ." in runs
    [(_, cmd)] = [(k, rest) for k, rest in instructions if k == "CMD"]
    assert json.loads(cmd) == ["dist", "serve", "query"]
    exposed = " ".join(rest for keyword, rest in instructions if keyword == "EXPOSE").split()
    assert sorted(map(int, exposed)) == sorted(PORTS.values())
    envs = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert f"HOST={ALL_INTERFACES}" in envs


# --- API keys ------------------------------------------------------------------------------


def check_placeholder_grants(raw: dict[str, Any]) -> None:
    grants = {key: ApiKeyGrant.model_validate(grant) for key, grant in raw.items()}
    assert all(key.startswith("REPLACE-ME-") for key in grants)
    assert not set(grants) & set(DEMO_API_KEYS)
    assert {str(grant.role) for grant in grants.values()} == EXAMPLE_ROLES
    by_role = {str(grant.role): grant for grant in grants.values()}
    assert by_role["branch_clerk"].branch == "CD"
    assert by_role["dealer"].dealer == "CD-001"


def test_example_api_keys_are_placeholders_production_accepts() -> None:
    text = (DEPLOY / "api-keys.example.json").read_text()
    check_placeholder_grants(json.loads(text))
    settings = Settings(_env_file=None, dist_env="production", api_keys=text, api_keys_file=None)
    assert len(settings.api_key_grants()) == len(EXAMPLE_ROLES)


@needs_yaml
def test_console_has_its_own_sticky_host_apart_from_the_apis() -> None:
    console = k8s_object("Ingress", "console")
    api_hosts = {rule["host"] for rule in k8s_object("Ingress", "dist")["spec"]["rules"]}
    [rule] = console["spec"]["rules"]
    assert rule["host"] not in api_hosts
    [path] = rule["http"]["paths"]
    assert path["path"] == "/"
    assert path["backend"]["service"] == {"name": "console", "port": {"number": 8080}}
    # Its sessions live in one replica's memory: the Ingress and the Service are sticky.
    assert console["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert k8s_object("Service", "console")["spec"]["sessionAffinity"] == "ClientIP"
    container = only_container(k8s_object("Deployment", "console")["spec"]["template"]["spec"])
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["QUERY_URL"] == "http://query:8100"
    assert env["IDENTITY_URL"] == "http://identity:8104"


def test_the_console_is_told_where_every_process_it_calls_is_in_both_manifests() -> None:
    """The console calls each process at ``<PROCESS>_URL``; unset, it falls back to
    HOST:port, which in a cluster or compose is the console's own container."""
    from dataclasses import fields

    from console.web import Urls

    wanted = {f"{field.name.upper()}_URL": field.name for field in fields(Urls)}
    container = only_container(k8s_object("Deployment", "console")["spec"]["template"]["spec"])
    in_k8s = {item["name"]: item.get("value") for item in container["env"]}
    in_compose = compose_env(compose()["services"]["console"])
    for variable, process in wanted.items():
        port = DEFAULT_PORTS[process]
        assert in_k8s.get(variable) == f"http://{process}:{port}", variable
        assert in_compose.get(variable) == f"http://{process}:{port}", variable
