"""The published JSON Schemas are what the code publishes, and what it publishes fits them."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from contracts import EVENT_TYPES, EventType, UnknownEventType
from contracts import orders as published
from contracts.export import schema_documents

SCHEMAS = Path(__file__).parents[2] / "contracts" / "schemas"


def test_exported_schemas_match_the_contract_classes():
    """Changing a contract class changes its schema file (`make schemas`), so every change
    to a published event shows up in review."""
    for relative, schema in schema_documents().items():
        path = SCHEMAS / relative
        assert path.exists(), f"{relative} is not exported: run `make schemas`"
        assert json.loads(path.read_text()) == schema, f"{relative} is stale: run `make schemas`"


def test_every_event_type_names_its_service_and_version():
    for type_name, event in EVENT_TYPES.items():
        kind = EventType.parse(type_name)
        assert (kind.service, kind.name, kind.version) == (
            event.service,
            event.event_name,
            event.version,
        )


@pytest.mark.parametrize("value", ["orders.OrderPlaced.v1", "dist.orders.OrderPlaced", "x"])
def test_foreign_type_strings_are_refused(value):
    with pytest.raises(UnknownEventType):
        EventType.parse(value)


def test_an_order_placed_fits_its_published_schema():
    event = published.OrderPlaced(
        order_id="3f1c",
        dealer_id="9a2b",
        dealer_code="CD-001",
        branch="CD",
        region="SOUTHWEST",
        business_date=date(2026, 11, 20),
        lines=[
            published.OrderLine(
                sku="WULIANGYE-52-500ML",
                category="BAIJIU",
                quantity=12,
                unit_price=Decimal("1299.00"),
                amount=Decimal("15588.00"),
            )
        ],
        total=Decimal("15588.00"),
    )
    schema = json.loads((SCHEMAS / "orders" / "OrderPlaced.v1.json").read_text())
    data = event.model_dump(mode="json")
    jsonschema.validate(data, schema)
    assert data["total"] == "15588.00"


def test_the_published_grade_vocabulary_is_the_orders_services_dealer_grades():
    from typing import get_args

    from contracts.types import DealerGradeName
    from services.orders.domain import DealerGrade

    assert set(get_args(DealerGradeName)) == {grade.value for grade in DealerGrade}
