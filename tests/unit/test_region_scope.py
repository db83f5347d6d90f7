"""The region manager's scope without a database: the read rule it follows (exactly what a
branch manager of each of its branches reads, nothing of another region, nothing HQ-only),
the grant that carries its branches, the processes that refuse it, and the identity events
that tell every process of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from contracts import identity
from contracts.registry import decode_data
from runtime.http.auth import ApiKeys, Principal
from runtime.http.credentials import issue_session
from runtime.http.problems import Problem
from runtime.identity_replica import IdentityReplica
from runtime.settings import DEMO_API_KEYS, ApiKeyGrant, Role
from services.identity.contract import to_integration_event
from services.identity.domain import new_user
from services.kernel.errors import OutsideScope
from services.kernel.ownership import Ownership
from tests.platform import envelopes_of
from tests.unit.test_identity import SECRET, WANG_MIN

SOUTHWEST = ApiKeyGrant(
    name="sw.manager", role=Role.REGION_MANAGER, region="SOUTHWEST", region_branches={"CD", "CQ"}
)


def principal(grant: ApiKeyGrant) -> Principal:
    return Principal(grant=grant, correlation_id="test")


def branch_manager(branch: str) -> Principal:
    return principal(ApiKeyGrant(name=f"{branch}.manager", role=Role.BRANCH_MANAGER, branch=branch))


RECORDS = [
    Ownership.of("order of CD-001", branches=["CD"], dealers=["CD-001"], warehouses=["WH-CD"]),
    Ownership.of("dealer CQ-002", branches=["CQ"], dealers=["CQ-002"]),
    Ownership.of("dealer SH-001", branches=["SH"], dealers=["SH-001"]),
    Ownership.of("transfer WH-SH to WH-CD", branches=["SH", "CD"]),
    Ownership.of("dealer BJ-003 (branch unknown to the read side)", dealers=["BJ-003"]),
    Ownership.of("warehouse WH-CENTRAL", warehouses=["WH-CENTRAL"]),
    Ownership("rebate policy of grade A", every_branch=True),
]


class TestReadRule:
    @pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.what)
    def test_a_region_manager_reads_what_a_manager_of_one_of_its_branches_reads(self, record):
        by_its_branches = any(branch_manager(b).may_read(record) for b in ("CD", "CQ"))
        assert principal(SOUTHWEST).may_read(record) is by_its_branches

    def test_nothing_of_another_region(self):
        with pytest.raises(OutsideScope):
            principal(SOUTHWEST).check_reads(RECORDS[2])

    def test_it_is_not_headquarters(self):
        with pytest.raises(Problem) as refused:
            principal(SOUTHWEST).require_hq()
        assert refused.value.status == 403

    def test_it_names_its_own_branches_only(self):
        principal(SOUTHWEST).require_branch("CQ")
        with pytest.raises(Problem) as refused:
            principal(SOUTHWEST).require_branch("SH")
        assert (refused.value.status, refused.value.code) == (403, "outside_scope")


class TestGrant:
    def test_a_region_manager_needs_its_region_and_branches(self):
        with pytest.raises(ValidationError):
            ApiKeyGrant(name="x", role=Role.REGION_MANAGER, region="SOUTHWEST")
        with pytest.raises(ValidationError):
            ApiKeyGrant(name="x", role=Role.REGION_MANAGER, region_branches={"CD"})

    def test_no_other_role_is_scoped_to_a_region(self):
        with pytest.raises(ValidationError):
            ApiKeyGrant(name="x", role=Role.BRANCH_MANAGER, branch="CD", region_branches={"SH"})

    def test_the_demo_region_manager_covers_chengdu_and_chongqing(self):
        grant = DEMO_API_KEYS["demo-southwest-manager"]
        assert (grant.region, grant.region_branches) == ("SOUTHWEST", {"CD", "CQ"})

    def test_a_session_carries_the_branches(self):
        keys = ApiKeys({}, replica=None, session_secret=SECRET, process="query")
        token = issue_session("sw.manager", SOUTHWEST, secret=SECRET, ttl_s=600)
        assert keys.authenticate(request_with(token)).grant == SOUTHWEST


def request_with(credential: str) -> Request:
    headers = [(b"authorization", f"Bearer {credential}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


class TestProcesses:
    @pytest.mark.parametrize("process", ["orders", "inventory", "finance"])
    def test_the_write_side_services_refuse_a_region_manager(self, process):
        keys = ApiKeys({"sw": SOUTHWEST}, process=process)
        with pytest.raises(Problem) as refused:
            keys.authenticate(request_with("sw"))
        assert (refused.value.status, refused.value.code) == (403, "forbidden_role")
        chengdu = ApiKeyGrant(name="cd", role=Role.BRANCH_MANAGER, branch="CD")
        assert ApiKeys({"cd": chengdu}, process=process).authenticate(request_with("cd"))

    @pytest.mark.parametrize("process", ["query", "warnings", "identity"])
    def test_the_query_warnings_and_identity_processes_admit_it(self, process):
        keys = ApiKeys({"sw": SOUTHWEST}, process=process)
        assert keys.authenticate(request_with("sw")).grant.region_branches == {"CD", "CQ"}


class TestIdentityEvents:
    def test_a_region_manager_is_published_with_its_branches_and_replicated(self):
        user = new_user("sw.manager", SOUTHWEST, password_hash=None, by=WANG_MIN)
        published = [to_integration_event(e) for e in user.collect_events()]
        assert published[0] == identity.UserCreated(
            username="sw.manager",
            name="sw.manager",
            role="region_manager",
            region="SOUTHWEST",
            region_branches=["CD", "CQ"],
        )
        replica = IdentityReplica()
        for envelope in envelopes_of(published, time=datetime.now(UTC).isoformat()):
            replica.apply(envelope)
        assert replica.users["sw.manager"].grant == SOUTHWEST

    def test_a_user_published_before_regions_reads_as_v2_with_no_region(self):
        v1 = identity.UserCreatedV1(
            username="cd.clerk.wang", name="Wang Fang", role="branch_clerk", branch="CD"
        )
        [envelope] = envelopes_of([v1], time=datetime.now(UTC).isoformat())
        read = decode_data(envelope)
        assert isinstance(read, identity.UserCreated)
        assert (read.branch, read.region, read.region_branches) == ("CD", None, [])
