"""Master data a service does not own: inventory and finance refuse dealers and SKUs that
their replica of orders' registry and catalogue does not hold, and say why a code orders
registered a moment ago may not be known yet."""

from __future__ import annotations

from uuid import UUID

import pytest

from contracts import orders as orders_events
from runtime.http.problems import status_of
from services.finance.application import POLICIES as FINANCE_POLICIES
from services.finance.application import register_dealer
from services.inventory.application import POLICIES as INVENTORY_POLICIES
from services.masterdata.domain import KnownDealer, KnownProduct, UnknownDealer, UnknownSku
from services.masterdata.replica import check_skus_known, known_dealer, record_dealer

WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"
MOUTAI = "MOUTAI-53-500ML"


class Catalogue:
    """A replica as the checks read it (ids to aggregates), counting the reads."""

    def __init__(self, *known: KnownDealer | KnownProduct) -> None:
        self.known = {aggregate.id: aggregate for aggregate in known}
        self.reads: list[list[UUID]] = []

    def read(self, ids: list[UUID]) -> dict:
        self.reads.append(ids)
        return {i: self.known[i] for i in ids if i in self.known}


def a_product(sku: str) -> KnownProduct:
    return KnownProduct(sku=sku, name=sku.title(), category="BAIJIU", unit="bottle")


CHENGDU_DEALER = KnownDealer(
    dealer_code="CD-001",
    name="Jinjiang Wine Trading",
    branch="CD",
    region="SOUTHWEST",
    grade="tier1_distributor",
)


class TestSkus:
    def test_skus_in_the_catalogue_pass_in_one_read(self):
        catalogue = Catalogue(a_product(WULIANGYE), a_product(JIANNANCHUN))
        check_skus_known(catalogue.read, [WULIANGYE, JIANNANCHUN, WULIANGYE], service="inventory")
        assert len(catalogue.reads) == 1
        assert len(catalogue.reads[0]) == 2  # a SKU named twice is read once

    def test_every_unknown_sku_is_named_and_refused_as_not_found(self):
        catalogue = Catalogue(a_product(WULIANGYE))
        with pytest.raises(UnknownSku) as refused:
            check_skus_known(
                catalogue.read, [MOUTAI, WULIANGYE, "FENJIU-42-475ML"], service="inventory"
            )
        assert refused.value.code == "unknown_sku"
        assert status_of(refused.value) == 404
        assert refused.value.extra == {"skus": [MOUTAI, "FENJIU-42-475ML"]}

    def test_nothing_named_reads_nothing(self):
        catalogue = Catalogue()
        check_skus_known(catalogue.read, [], service="finance")
        assert catalogue.reads == []

    def test_the_refusal_says_a_product_registered_a_moment_ago_comes_with_a_retry(self):
        with pytest.raises(UnknownSku) as refused:
            check_skus_known(Catalogue().read, [MOUTAI], service="inventory")
        detail = refused.value.detail
        assert "inventory knows no product MOUTAI-53-500ML" in detail
        assert "registered in orders a moment ago" in detail
        assert "retry" in detail


class TestDealers:
    def test_a_registered_dealer_is_known_with_its_branch_and_grade(self):
        dealer = known_dealer(Catalogue(CHENGDU_DEALER).read, "CD-001", service="finance")
        assert (dealer.branch, dealer.region, dealer.grade) == (
            "CD",
            "SOUTHWEST",
            "tier1_distributor",
        )

    def test_a_dealer_never_registered_is_refused_as_not_found(self):
        with pytest.raises(UnknownDealer) as refused:
            known_dealer(Catalogue(CHENGDU_DEALER).read, "ZZ-999", service="finance")
        assert refused.value.code == "unknown_dealer"
        assert status_of(refused.value) == 404
        assert refused.value.extra == {"dealer_code": "ZZ-999"}
        assert "registered in orders a moment ago" in refused.value.detail


class TestKeptFromTheOrdersTopic:
    def test_inventory_and_finance_learn_dealers_and_products_from_orders(self):
        dealer = str(orders_events.DealerRegistered.event_type())
        product = str(orders_events.ProductRegistered.event_type())
        assert INVENTORY_POLICIES[dealer] is record_dealer
        assert INVENTORY_POLICIES[product] is FINANCE_POLICIES[product]
        # finance also opens the dealer's account with the same registration
        assert FINANCE_POLICIES[dealer] is register_dealer

    def test_a_code_has_one_id_in_every_service(self):
        assert CHENGDU_DEALER.id == KnownDealer.create_id("CD-001")
        assert a_product(WULIANGYE).id == KnownProduct.create_id(WULIANGYE)
        assert KnownDealer.create_id("CD-001") != KnownProduct.create_id("CD-001")
