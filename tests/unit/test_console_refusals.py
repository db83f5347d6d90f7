"""The console says what the platform refused in the user's language: every code the services
can answer has its Chinese words, and a schema error is said wholly in Chinese from its type
and figures."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import services
from console.i18n import FIGURES_ZH, REASONS_ZH, health_reason, warning_reason
from console.pages.orders import ORDER_RULES
from console.refusals import REFUSALS_ZH, refusal_text, schema_error_text
from console.web import LANGUAGE, field_errors
from services.kernel.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]


def domain_error_codes() -> set[str]:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(module.name)
    codes, classes = set(), [DomainError]
    while classes:
        cls = classes.pop()
        if cls.__module__.startswith(("services.", "runtime.", "projections.")):
            codes.add(cls.code)  # not a test's own (the whole suite runs in one process)
        classes.extend(cls.__subclasses__())
    return codes


def problem_codes() -> set[str]:
    """Codes the HTTP edges answer with directly (``Problem(409, "code", ...)`` and the
    auth edge's refusals), read from the source."""
    pattern = re.compile(r'(?:Problem\(\s*\d{3},\s*|_refused\(\s*)"([a-z_]+)"')
    codes = set()
    for folder in ("runtime", "services", "projections", "console"):
        for path in (ROOT / folder).rglob("*.py"):
            codes.update(pattern.findall(path.read_text(encoding="utf-8")))
    return codes


def test_every_code_the_platform_answers_with_is_said_in_chinese():
    missing = (domain_error_codes() | problem_codes()) - REFUSALS_ZH.keys()
    assert not missing, f"add the Chinese words of {sorted(missing)} to console/refusals.py"


def test_a_refusal_is_its_kind_in_chinese_with_the_apis_detail_beside_it():
    short = {"code": "insufficient_stock", "detail": "WULIANGYE-52-500ML: 12 available, 30 asked"}
    assert refusal_text(short, "zh") == "可用库存不足（WULIANGYE-52-500ML: 12 available, 30 asked）"
    assert refusal_text(short, "en") == short["detail"]
    unheard = {"code": "a_code_from_a_newer_service", "detail": "said in English"}
    assert refusal_text(unheard, "zh") == "said in English"
    assert refusal_text({"code": "outside_scope"}, "zh") == "超出您的管理范围"


@pytest.mark.parametrize(
    ("item", "said"),
    [
        (
            {"type": "greater_than", "context": {"gt": 0}, "message": "Input should be > 0"},
            "须大于 0",
        ),
        ({"type": "missing", "message": "Field required"}, "必填"),
        (
            {"type": "string_too_long", "context": {"max_length": 64}, "message": "…"},
            "最多 64 个字符",
        ),
        (
            {
                "type": "enum",
                "context": {"expected": "'branch', 'dealer' or 'sku'"},
                "message": "…",
            },
            "须为以下之一：'branch'、'dealer'、'sku'",
        ),
        (
            {"type": "string_pattern_mismatch", "format": "month", "message": "should be a month"},
            "须为 YYYY-MM 格式的月份，如 2026-11",
        ),
        ({"type": "string_pattern_mismatch", "message": "should match '^x$'"}, "格式不正确"),
        ({"type": "greater_than", "message": "no figures came"}, "no figures came"),
        ({"type": "int_type", "message": "should be an integer"}, "须为整数"),
        (
            {"type": "ratio_format", "context": {"gt": "0", "le": "0.9"}, "message": "?"},
            "须为大于 0、不超过 0.9 的小数，最多 4 位小数",
        ),
        (
            {"type": "ratio_format", "context": {"ge": "0", "le": "0.5"}, "message": "?"},
            "须为 0 至 0.5 的小数，最多 4 位小数",
        ),
        ({"type": "a_type_pydantic_adds_later", "message": "as pydantic says"}, "as pydantic says"),
    ],
)
def test_a_schema_error_is_said_in_chinese_from_its_type_and_figures(item, said):
    assert schema_error_text(item, "zh") == said
    assert schema_error_text(item, "en") == item["message"]


def test_a_forms_errors_are_in_the_requests_language():
    problem = {
        "code": "invalid_request",
        "detail": "body.lines.0.quantity: Input should be greater than 0",
        "errors": [
            {
                "path": "body.lines.0.quantity",
                "message": "Input should be greater than 0",
                "type": "greater_than",
                "context": {"gt": 0},
            }
        ],
    }
    unknown = {"code": "unknown_dealer", "detail": "no dealer CD-999"}
    token = LANGUAGE.set("zh")
    try:
        assert field_errors(problem) == {"lines.0.quantity": "须大于 0"}
        assert field_errors(unknown, rules=ORDER_RULES) == {
            "dealer_code": "找不到该经销商（no dealer CD-999）"
        }
    finally:
        LANGUAGE.reset(token)
    assert field_errors(problem) == {"lines.0.quantity": "Input should be greater than 0"}


def test_why_a_dealer_is_red_is_said_in_chinese_from_its_figures_and_the_rules():
    dealer = {
        "exposure": "95000.00",
        "credit_limit": "80000.00",
        "utilisation": "1.1875",
        "over_90": "1200.50",
        "undelivered_shipments": 3,
    }
    rules = {
        "utilisation_yellow": "0.8000",
        "utilisation_red": "1.0000",
        "over_90_yellow": "0.01",
        "over_90_red": "10000.00",
        "undelivered_after_days": 7,
        "undelivered_yellow": 1,
        "undelivered_red": 3,
    }
    said = {
        rule: health_reason({"rule": rule, "detail": "in English"}, dealer, rules, "zh")
        for rule in ("credit_utilisation", "over_90_days", "undelivered_shipments")
    }
    assert said == {
        "credit_utilisation": "敞口 ¥95,000.00，占信用额度 ¥80,000.00 的 118.75%"
        "（黄灯自 80.00%，红灯自 100.00%）",
        "over_90_days": "逾期 90 天以上的应收 ¥1,200.50（黄灯自 ¥0.01，红灯自 ¥10,000.00）",
        "undelivered_shipments": "3 张发货单发出 7 天后仍未确认签收（黄灯自 1 张，红灯自 3 张）",
    }
    assert health_reason({"rule": "over_90_days", "detail": "in English"}, {}, rules, "zh") == (
        "in English"
    )
    assert health_reason({"rule": "over_90_days", "detail": "in English"}, dealer, rules, "en") == (
        "in English"
    )


def reason_kinds() -> set[frozenset[str]]:
    """The figures of each kind of reason services/warnings gives (``reason(text, a=...)``)."""
    kinds = set()
    for path in (ROOT / "services" / "warnings").glob("*.py"):
        for call in re.finditer(r"\breason\((.*?)\n\s*\)", path.read_text(encoding="utf-8"), re.S):
            names = re.findall(r"^\s*([a-z_0-9]+)=", call.group(1), re.M)
            if names:
                kinds.add(frozenset(names))
    return kinds


def test_every_kind_of_warnings_reason_and_its_figures_are_said_in_chinese():
    kinds = reason_kinds()
    assert len(kinds) > 15
    names = set().union(*kinds)
    assert not names - FIGURES_ZH.keys(), sorted(names - FIGURES_ZH.keys())
    assert not kinds - REASONS_ZH.keys(), [sorted(k) for k in kinds - REASONS_ZH.keys()]


def test_a_warnings_reason_is_said_in_chinese_from_its_figures():
    hold = {
        "text": "credit refused for dealer CD-001: ...",
        "figures": {
            "order_total": "38970.00",
            "exposure": "120000.00",
            "credit_limit": "150000.00",
            "shortfall": "8970.00",
        },
    }
    warning = {"dealer": "CD-001"}
    assert warning_reason(hold, warning, "zh") == (
        "经销商 CD-001 信用不足：敞口 ¥120,000.00 加本单 ¥38,970.00，超出信用额度 "
        "¥150,000.00 共 ¥8,970.00"
    )
    assert warning_reason(hold, warning, "en") == hold["text"]
    odd = {"text": "a newer kind", "figures": {"something": "1"}}
    assert warning_reason(odd, warning, "zh") == "a newer kind"
    unreadable = {**hold, "figures": {**hold["figures"], "exposure": "n/a"}}
    assert warning_reason(unreadable, warning, "zh") == hold["text"]


def test_every_warning_rule_has_its_name_in_both_languages():
    from console.i18n import MESSAGES
    from services.warnings.rules import CATALOGUE

    for lang in ("zh", "en"):
        missing = [code for code in CATALOGUE if f"rule.{code}" not in MESSAGES[lang]]
        assert not missing, (lang, missing)
