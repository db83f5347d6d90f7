"""The organisation (组织架构) as master data: regions and branches registered once each, a
branch only in a registered region, and the checks that orders (the owner) and inventory
(its replica) make on what names a branch or a region."""

from __future__ import annotations

from uuid import UUID

import pytest

from runtime.eventstore import Provenance
from runtime.http.problems import status_of
from services.masterdata.domain import KnownBranch, KnownRegion
from services.masterdata.replica import check_organisation_known
from services.organisation.domain import (
    BranchAlreadyRegistered,
    BranchNotInRegion,
    Organisation,
    RegionAlreadyRegistered,
    UnknownBranch,
    UnknownRegion,
)

HQ = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")


def southwest() -> Organisation:
    organisation = Organisation()
    organisation.register_region("SOUTHWEST", "Southwest Region", None, "Li Na", HQ)
    organisation.register_branch("CD", "Chengdu Branch", "SOUTHWEST", "Zhao Lei", HQ)
    return organisation


class TestRegisterTheOrganisation:
    def test_a_branch_sits_in_a_registered_region(self):
        organisation = southwest()
        assert organisation.branches["CD"] == {
            "name": "Chengdu Branch",
            "region": "SOUTHWEST",
            "manager": "Zhao Lei",
        }
        with pytest.raises(UnknownRegion) as refused:
            organisation.register_branch("LS", "Lhasa Branch", "TIBET", None, HQ)
        assert (status_of(refused.value), refused.value.extra) == (404, {"region": "TIBET"})

    def test_a_region_under_an_unknown_parent_is_refused(self):
        with pytest.raises(UnknownRegion):
            southwest().register_region("SICHUAN", "Sichuan", "WEST", None, HQ)

    def test_a_code_is_registered_once(self):
        organisation = southwest()
        with pytest.raises(RegionAlreadyRegistered):
            organisation.register_region("SOUTHWEST", "Again", None, None, HQ)
        with pytest.raises(BranchAlreadyRegistered):
            organisation.register_branch("CD", "Again", "SOUTHWEST", None, HQ)
        assert len(organisation.collect_events()) == 3  # opened, the region, the branch


class TestWhatNamesABranch:
    def test_orders_refuses_an_unknown_branch_or_region_or_a_branch_of_another_region(self):
        organisation = southwest()
        organisation.register_region("EAST", "East Region", None, None, HQ)
        organisation.check_branch("CD", "SOUTHWEST")
        organisation.check_branch("CD")
        with pytest.raises(UnknownBranch) as refused:
            organisation.check_branch("LS", "SOUTHWEST")
        assert status_of(refused.value) == 404 and refused.value.code == "unknown_branch"
        with pytest.raises(UnknownRegion):
            organisation.check_branch("CD", "TIBET")
        with pytest.raises(BranchNotInRegion) as wrong:
            organisation.check_branch("CD", "EAST")
        assert status_of(wrong.value) == 409

    def test_inventory_checks_its_replica_in_one_read_and_says_why_a_code_may_be_new(self):
        known = {
            aggregate.id: aggregate
            for aggregate in (
                KnownRegion(region_code="SOUTHWEST", name="Southwest", parent_region=None),
                KnownRegion(region_code="EAST", name="East", parent_region=None),
                KnownBranch(branch_code="CD", name="Chengdu Branch", region="SOUTHWEST"),
            )
        }
        reads: list[list[UUID]] = []

        def read(ids: list[UUID]) -> dict:
            reads.append(ids)
            return {i: known[i] for i in ids if i in known}

        check_organisation_known(read, branch="CD", region="SOUTHWEST", service="inventory")
        check_organisation_known(read, branch=None, region=None, service="inventory")
        assert [len(ids) for ids in reads] == [2]  # nothing named, nothing read
        with pytest.raises(UnknownBranch) as refused:
            check_organisation_known(read, branch="LS", region=None, service="inventory")
        assert "registered in orders a moment ago" in refused.value.detail
        with pytest.raises(UnknownRegion):
            check_organisation_known(read, branch=None, region="TIBET", service="inventory")
        with pytest.raises(BranchNotInRegion):
            check_organisation_known(read, branch="CD", region="EAST", service="inventory")
