"""The console's formats and its asset lock: money to the fen as ¥1,234.56, China time,
and the integrity check of the assets it fetches from the npm registry."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal

import pytest

from console import assets
from console.i18n import MESSAGES, china_time, translator, yuan
from console.pages.orders import order_form_errors
from console.pages.rebates import CLAIM_RULES
from console.pages.users import role_and_scope, user_form_errors
from console.web import field_errors


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("1234.56", "¥1,234.56"),
        ("6978.18", "¥6,978.18"),
        ("0", "¥0.00"),
        ("-1500.5", "-¥1,500.50"),
        (Decimal("2000000.00"), "¥2,000,000.00"),
        ("123456789012.01", "¥123,456,789,012.01"),
    ],
)
def test_money_is_shown_in_yuan_to_the_fen(amount, shown):
    assert yuan(amount) == shown


def test_times_are_shown_in_china_time():
    assert china_time("2026-12-04T17:45:00Z") == "2026-12-05 01:45"
    assert china_time("2026-12-04T09:00:00+08:00") == "2026-12-04 09:00"


def test_both_catalogues_name_the_same_messages_and_chinese_is_the_default():
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    assert translator("fr")("sign_in") == "登录"
    assert translator("en")("sign_in") == "Sign in"


def test_the_apis_errors_are_placed_by_their_fields():
    schema = {
        "code": "invalid_request",
        "errors": [{"path": "body.lines.0.quantity", "message": "greater than 0"}],
    }
    assert order_form_errors(schema) == {"lines.0.quantity": "greater than 0"}
    unknown = {"code": "unknown_dealer", "detail": "no dealer CD-999"}
    assert order_form_errors(unknown) == {"dealer_code": "no dealer CD-999"}
    assert order_form_errors({"code": "credit_limit_exceeded", "detail": "over"}) == {
        "form": "over"
    }


def test_the_lock_pins_echarts_from_the_npm_registry_with_its_sha512():
    lock = json.loads(assets.LOCK.read_text())
    entry = lock["echarts"]
    assert entry["tarball"].startswith("https://registry.npmjs.org/echarts/-/")
    assert entry["integrity"].startswith("sha512-")


def test_a_download_that_does_not_match_its_integrity_is_refused():
    data = b"echarts tarball"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assets.verify(data, good)
    with pytest.raises(assets.IntegrityMismatch):
        assets.verify(data + b"tampered", good)


def test_identitys_errors_are_placed_by_the_user_forms_fields_not_by_its_shapes():
    schema = {
        "code": "invalid_request",
        "errors": [
            {"path": "body.branch.branch", "message": "Field required"},
            {"path": "body.branch.password", "message": "at least 10 characters"},
        ],
    }
    assert user_form_errors(schema) == {
        "branch": "Field required",
        "password": "at least 10 characters",
    }
    taken = {"code": "user_already_exists", "detail": "user cd.clerk exists already"}
    assert user_form_errors(taken) == {"username": "user cd.clerk exists already"}


def test_a_region_managers_branches_are_one_field_typed_as_a_list():
    form = {"role": "region_manager", "region": " SOUTHWEST ", "branches": "CD， CQ、 GY,"}
    assert role_and_scope(form) == {
        "role": "region_manager",
        "region": "SOUTHWEST",
        "branches": ["CD", "CQ", "GY"],
    }
    outside = {"code": "branch_not_in_region", "detail": "XA is not a SOUTHWEST branch"}
    assert user_form_errors(outside, "region_manager") == {"branches": outside["detail"]}
    unknown = {"code": "unknown_branch", "detail": "no branch XX"}
    assert user_form_errors(unknown, "region_manager") == {"branches": "no branch XX"}
    assert user_form_errors(unknown, "branch_clerk") == {"branch": "no branch XX"}
    shape = {
        "code": "invalid_request",
        "errors": [{"path": "body.region.branches.1", "message": "should be a code"}],
    }
    assert user_form_errors(shape, "region_manager") == {"branches": "should be a code"}


def test_a_rebate_claim_over_the_pool_is_the_amounts_error():
    over = {"code": "rebate_claim_exceeds_pool", "detail": "only 50.68 available"}
    assert field_errors(over, rules=CLAIM_RULES) == {"amount": "only 50.68 available"}
