"""Headquarters' receivables read model over HTTP: receivables, exposure and utilisation per
dealer, AR aging as of any date (with a receipt posted late under an earlier business date),
roll-ups and scoping, agreeing with finance's own account to the fen. Real PostgreSQL and
broker, the saga running."""

from __future__ import annotations

from datetime import date

import pytest

from projections import bootstrap as query_process
from projections.receivables.queries import (
    DealerFilter,
    Level,
    aging,
    is_current,
    receivables_summary,
)
from projections.tracking import projections_engine
from tests.integration.saga import (
    CHENGDU_CLERK,
    DEALER_CD001,
    JIANNANCHUN,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import HQ, command, serving

pytestmark = pytest.mark.integration

SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}


def test_receivables_and_aging_as_of_any_date(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.receive(WULIANGYE, 100)
        company.receive(JIANNANCHUN, 100)
        company.credit_terms("CD-001", "100000.00", days=30)
        policy = {
            "policy_code": "TIER1-2026",
            "grade": "tier1_distributor",
            "rate": "0.0200",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        }
        ok(command(company.finance, "/rebate-policies", policy, headers=HQ))

        def shipped_order(lines: dict[str, int], ship_date: str | None) -> str:
            order_id = company.place(lines)["order_id"]
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
            if ship_date:
                ok(company.ship(order_id, lines, ship_date=ship_date))
            return order_id

        shipped_order({WULIANGYE: 10}, "2026-09-01")  # 12990.00, due 2026-10-01
        shipped_order({JIANNANCHUN: 10}, "2026-11-01")  # 4585.00, due 2026-12-01
        shipped_order({WULIANGYE: 5}, None)  # 6495.00 reserved, not shipped
        account = company.wait_account(lambda a: a["invoices_posted"] == 2, what="2 invoices")
        first, second = (i["invoice_id"] for i in account["open_invoices"])

        def post(path: str, body: dict, headers=HQ) -> dict:
            return ok(command(company.finance, path, body, headers=headers))

        post(
            "/receipts", {"dealer_code": "CD-001", "amount": "5000.00", "received_on": "2026-10-15"}
        )
        post(
            "/credit-notes",
            {
                "invoice_id": second,
                "amount": "1000.00",
                "reason": "breakage",
                "issued_on": "2026-11-10",
            },
        )

        def read(path: str, headers=HQ, **params) -> list[dict]:
            return ok(query.get(path, params=params, headers=headers))["items"]

        def cd001(path: str, **params) -> dict:
            [row] = read(path, dealer="CD-001", **params)
            return row

        # Late: posted now, received on 5 October. It restates every as-of date from then.
        late = post(
            "/receipts", {"dealer_code": "CD-001", "amount": "1000.00", "received_on": "2026-10-05"}
        )
        assert late["allocations"] == [{"invoice_id": first, "amount": "1000.00"}]

        aged = cd001("/hq/receivables/aging", as_of="2026-11-20", min_position=late["position"])
        assert aged == {
            "dealer": "CD-001",
            "not_yet_due": "3585.00",  # 4585.00 - 1000.00 credited, due 1 December
            "days_1_30": "0.00",
            "days_31_60": "6990.00",  # 12990.00 - 6000.00 received, 50 days past due
            "days_61_90": "0.00",
            "over_90": "0.00",
            "open_invoices": "10575.00",
            "unapplied_cash": "0.00",
            "receivables": "10575.00",
        }
        early = cd001("/hq/receivables/aging", as_of="2026-10-10")
        assert early["days_1_30"] == "11990.00"  # 9 days past due; the late receipt counts
        assert early["not_yet_due"] == "0.00"
        due_day = cd001("/hq/receivables/aging", as_of="2026-10-01")
        assert due_day["not_yet_due"] == "12990.00"  # due on the as-of date: not yet due
        later = cd001("/hq/receivables/aging", as_of="2027-01-05")
        assert later["days_31_60"] == "3585.00" and later["over_90"] == "6990.00"

        summary = cd001("/hq/receivables")
        account = company.account()
        assert summary["receivables"] == account["receivables"] == "10575.00"
        assert summary["reserved"] == account["reserved"] == "6495.00"
        assert summary["exposure"] == account["exposure"] == "17070.00"
        assert summary["utilisation"] == "0.1707"
        in_october = cd001("/hq/receivables", as_of="2026-10-31")
        assert in_october["invoiced"] == "12990.00" and in_october["received"] == "6000.00"

        # Rebate: 2 % of 17575.00 invoiced less the 1000.00 credit note.
        [rebate] = read("/hq/rebates", dealer="CD-001")
        assert rebate == {
            "dealer": "CD-001",
            "policy_code": "TIER1-2026",
            "net_sales": "16575.00",
            "accrued": "331.50",
            "settled": "0.00",
        }
        assert rebate["accrued"] == company.account()["rebate_accrued"]["TIER1-2026"]

        # As of a date on or after every document's, the figures come from running totals:
        # they equal the figures summed from every document.
        engine = projections_engine(settings, settings.projections_schema, pool_size=1)
        with engine.connect() as conn:
            for as_of in (date(2026, 11, 20), date(2027, 1, 5)):
                assert is_current(conn, as_of)
                for figures in (receivables_summary, aging):
                    answers = [
                        figures(
                            conn,
                            by=by,
                            where=DealerFilter(),
                            as_of=as_of,
                            limit=100,
                            cursor=None,
                            current=current,
                        )
                        for by in (Level.DEALER, Level.NATION)
                        for current in (True, False)
                    ]
                    assert answers[0] == answers[1] and answers[2] == answers[3], figures
            assert not is_current(conn, date(2026, 11, 5))
        engine.dispose()

        # Sales: invoiced on the invoices' dates, credited on the credit note's; net sales
        # are the rebate's base.
        monthly = {
            (row["period_start"], row["key"]): row
            for row in read(
                "/hq/sales",
                by="sku",
                period="month",
                date_to="2026-11-15",
                min_position=late["position"],  # the sales read model follows finance too
            )
        }
        september = monthly[("2026-09-01", WULIANGYE)]
        assert (september["invoiced_quantity"], september["net_sales"]) == (10, "12990.00")
        november = monthly[("2026-11-01", JIANNANCHUN)]
        assert (november["invoiced_amount"], november["credited_amount"]) == ("4585.00", "1000.00")
        assert november["net_sales"] == "3585.00"
        [nation] = read("/hq/sales", by="nation", period="month", date_from="2026-11-01")
        [branch] = read(
            "/branches/CD/sales",
            by="branch",
            period="month",
            date_from="2026-11-01",
            headers=CHENGDU_CLERK,
        )
        assert nation["net_sales"] == branch["net_sales"] == "3585.00"
        assert nation["ordered_amount"] == "24070.00"  # the three orders, placed on 20 November
        [before_note] = read("/hq/rebates", by="region", as_of="2026-11-05")
        assert (before_note["region"], before_note["accrued"]) == ("SOUTHWEST", "351.50")

        # The dealer's own statement (对账单), as of 20 November.
        statement = ok(
            query.get(
                "/dealers/CD-001/statement", params={"as_of": "2026-11-20"}, headers=DEALER_CD001
            )
        )
        assert statement["receivables"] == "10575.00" and statement["exposure"] == "17070.00"
        assert statement["aging"]["days_31_60"] == "6990.00"
        assert [
            (i["invoice_id"], i["open"], i["days_past_due"]) for i in statement["open_invoices"]
        ] == [
            (first, "6990.00", 50),
            (second, "3585.00", 0),
        ]
        assert statement["rebates"] == [
            {
                "policy_code": "TIER1-2026",
                "net_sales": "16575.00",
                "accrued": "331.50",
                "settled": "0.00",
            }
        ]
        assert query.get("/dealers/CD-002/statement", headers=DEALER_CD001).status_code == 403
        assert query.get("/dealers/CD-001/statement", headers=CHENGDU_CLERK).status_code == 200
        assert query.get("/dealers/CD-001/statement", headers=SHANGHAI_CLERK).status_code == 403
        unknown = query.get("/dealers/CD-999/statement", headers=HQ)
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_dealer"

        [cd] = read("/hq/receivables", by="branch")
        assert cd["branch"] == "CD" and cd["receivables"] == "10575.00"
        [nation] = read("/hq/receivables/aging", by="nation", as_of="2026-11-20")
        assert nation["nation"] == "CN" and nation["open_invoices"] == "10575.00"
        branch = read("/branches/CD/receivables", headers=CHENGDU_CLERK)
        assert {row["dealer"] for row in branch} == {"CD-001", "CD-002"}
        assert query.get("/branches/CD/receivables", headers=SHANGHAI_CLERK).status_code == 403
        assert query.get("/hq/receivables/aging", headers=CHENGDU_CLERK).status_code == 403
