"""Channel health (渠道健康) over HTTP: each Chengdu dealer's colour and reasons from the rules
headquarters set, recoloured at once when the rules change, with counts by colour per branch
and scoping. Real PostgreSQL and broker, the saga running."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import (
    CHENGDU_CLERK,
    JIANNANCHUN,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import HQ, command, serving

pytestmark = pytest.mark.integration

SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}
AS_OF = "2026-11-20"


def test_dealers_are_coloured_by_the_rules_hq_sets(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.receive(WULIANGYE, 100)
        company.receive(JIANNANCHUN, 100)
        company.credit_terms("CD-001", "100000.00", days=30)
        company.credit_terms("CD-002", "20000.00", days=30)

        def approved(lines: dict[str, int], dealer: str) -> str:
            order_id = company.place(lines, dealer=dealer)["order_id"]
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
            return order_id

        # CD-001: shipped in July (due 31 July: 112 days past due on 20 November), never
        # confirmed delivered; a second shipment last week, confirmed.
        old = approved({WULIANGYE: 10}, "CD-001")
        ok(company.ship(old, {WULIANGYE: 10}, ship_date="2026-07-01"))
        recent = approved({JIANNANCHUN: 4}, "CD-001")
        shipment = ok(company.ship(recent, {JIANNANCHUN: 4}, ship_date="2026-11-12"))
        delivered = ok(
            command(
                company.inventory,
                f"/shipments/{shipment['shipment_id']}/delivery",
                {"delivered_on": "2026-11-14"},
                headers=CHENGDU_CLERK,
            )
        )
        # CD-002: 13 bottles of Wuliangye reserved, 16887.00 of a 20000.00 limit (84 %).
        approved({WULIANGYE: 13}, "CD-002")
        company.wait_account(lambda a: a["invoices_posted"] == 2, what="2 invoices")
        account = company.wait_account(
            lambda a: a["reserved"] == "16887.00", dealer="CD-002", what="CD-002's reservation"
        )
        # HQ confirms the default rules: its position follows every finance event above.
        confirmed = ok(
            command(
                company.finance,
                "/accounts/health-rules",
                {"undelivered_after_days": 14},
                headers=HQ,
            )
        )

        def health(path: str = "/hq/channel-health", headers=HQ, **params) -> dict:
            return ok(query.get(path, params={"as_of": AS_OF, **params}, headers=headers))

        health(min_position=delivered["position"])  # shipments and delivery are in
        answer = health(min_position=confirmed["position"])  # and every finance event
        dealers = {item["dealer"]: item for item in answer["items"]}
        assert answer["rules"]["utilisation_yellow"] == "0.8000"  # the defaults
        cd001 = dealers["CD-001"]
        assert cd001["colour"] == "yellow"
        assert [(r["rule"], r["colour"]) for r in cd001["reasons"]] == [
            ("over_90_days", "yellow"),
            ("undelivered_shipments", "yellow"),
        ]
        assert cd001["over_90"] == "12990.00" and cd001["undelivered_shipments"] == 1
        assert cd001["exposure"] == "14824.00" and cd001["utilisation"] == "0.1482"
        cd002 = dealers["CD-002"]
        assert (cd002["colour"], cd002["utilisation"]) == ("yellow", "0.8444")
        assert [r["rule"] for r in cd002["reasons"]] == ["credit_utilisation"]
        assert "84.4% of the credit limit 20000.00" in cd002["reasons"][0]["detail"]
        assert account["exposure"] == cd002["exposure"] == "16887.00"

        # Before July's invoice fell due, CD-001 was green.
        [early] = health(dealer="CD-001", as_of="2026-07-10")["items"]
        assert (early["colour"], early["reasons"]) == ("green", [])

        # HQ tightens the rules: 10000.00 over 90 days is red, 80 % stays yellow.
        rules = ok(
            command(
                company.finance, "/accounts/health-rules", {"over_90_red": "10000.00"}, headers=HQ
            )
        )
        assert rules["over_90_red"] == "10000.00" and rules["utilisation_red"] == "1.0000"
        stricter = health(min_position=rules["position"])
        colours = {item["dealer"]: item["colour"] for item in stricter["items"]}
        assert colours == {"CD-001": "red", "CD-002": "yellow"}
        assert health(colour="red")["items"][0]["dealer"] == "CD-001"

        counts = health("/hq/channel-health/counts", by="region")["items"]
        assert counts == [{"region": "SOUTHWEST", "green": 0, "yellow": 1, "red": 1, "dealers": 2}]
        own = health("/branches/CD/channel-health/counts", headers=CHENGDU_CLERK)["items"]
        assert own == [{"branch": "CD", "green": 0, "yellow": 1, "red": 1, "dealers": 2}]

        # Scope and bad input.
        assert query.get("/branches/CD/channel-health", headers=SHANGHAI_CLERK).status_code == 403
        assert query.get("/hq/channel-health", headers=CHENGDU_CLERK).status_code == 403
        for params in ({"colour": "purple"}, {"by": "dealer"}, {"as_of": "yesterday"}):
            bad = query.get("/hq/channel-health/counts", params=params, headers=HQ)
            assert bad.status_code == 422 and bad.json()["code"] == "invalid_request", params
        for body in ({"utilisation_yellow": "1.20"}, {"undelivered_after_days": 0}):
            refused = command(company.finance, "/accounts/health-rules", body, headers=HQ)
            assert refused.status_code in (409, 422), refused.text
        clerk = command(company.finance, "/accounts/health-rules", {}, headers=CHENGDU_CLERK)
        assert clerk.status_code == 403
