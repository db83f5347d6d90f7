"""The published JSON Schemas are what the code publishes, and what it publishes fits them."""

from __future__ import annotations

import inspect
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from contracts import (
    EVENT_TYPES,
    Envelope,
    EventType,
    UnknownEventType,
    decode_data,
    handler_for,
    inventory,
)
from contracts import orders as published
from contracts.compatibility import breaking_changes
from contracts.export import IncompatibleChange, export, incompatible_changes, schema_documents
from contracts.registry import PUBLISHED, SUPERSEDED

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
    event = published.OrderPlacedV1(
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


# -- versions: published schemas are promises ------------------------------------------------
FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_no_published_schema_changed_incompatibly():
    """Every schema under contracts/schemas is still readable by the code, and the code's
    schema for it differs at most in documentation. A failure here means: put the change in
    a new version of the event (with an upcast from the old one) instead."""
    assert incompatible_changes() == {}


def test_every_published_event_has_its_schema_and_every_superseded_one_upcasts_to_it():
    for event in SUPERSEDED:
        current = event
        while current not in PUBLISHED:
            upcast = inspect.signature(current.upcast).return_annotation
            current = EVENT_TYPES[f"dist.{event.service}.{event.event_name}.v{current.version + 1}"]
            assert upcast in (current.__name__, current), (event, upcast)
        assert (current.service, current.event_name) == (event.service, event.event_name)


def goods_received_v2() -> dict:
    return json.loads((SCHEMAS / "inventory" / "GoodsReceived.v2.json").read_text())


class TestBreakingChanges:
    def test_documentation_may_change(self):
        changed = goods_received_v2()
        changed["description"] = "入库: goods in, valued (reworded)"
        changed["$defs"]["ReceivedLine"]["properties"]["sku"]["title"] = "SKU code"
        assert breaking_changes(goods_received_v2(), changed) == []

    def test_a_renamed_nested_model_is_not_a_change(self):
        changed = goods_received_v2()
        changed["$defs"]["CostedLine"] = changed["$defs"].pop("ReceivedLine")
        changed["properties"]["lines"]["items"]["$ref"] = "#/$defs/CostedLine"
        assert breaking_changes(goods_received_v2(), changed) == []

    def test_each_structural_change_is_named_by_its_path(self):
        changed = goods_received_v2()
        line = changed["$defs"]["ReceivedLine"]
        del line["properties"]["unit_cost"]  # removed
        line["required"].remove("unit_cost")
        line["properties"]["batch_number"] = {"type": "string"}  # added, optional
        line["properties"]["quantity"]["exclusiveMinimum"] = 1  # tightened
        changed["properties"]["warehouse_code"] = {"type": "integer"}  # retyped
        changed["required"].remove("business_date")  # became optional
        assert breaking_changes(goods_received_v2(), changed) == [
            "business_date: became optional",
            "lines.items.unit_cost: the field was removed",
            "lines.items.batch_number: a new optional field",
            "lines.items.quantity.exclusiveMinimum: 0 became 1",
            "warehouse_code.type: 'string' became 'integer'",
        ]

    def test_export_refuses_to_overwrite_a_published_version_with_a_breaking_change(self, tmp_path):
        published = tmp_path / "schemas"
        shutil.copytree(SCHEMAS, published)
        path = published / "inventory" / "GoodsReceived.v1.json"
        as_published = json.loads(path.read_text())
        # As if v1 had been published with a field the code no longer has.
        as_published["properties"]["supplier_code"] = {"type": "string"}
        path.write_text(json.dumps(as_published))
        with pytest.raises(IncompatibleChange, match="supplier_code: the field was removed"):
            export(published)
        assert json.loads(path.read_text()) == as_published  # nothing written

    def test_a_published_version_the_code_no_longer_reads_is_reported(self, tmp_path):
        published = tmp_path / "schemas"
        shutil.copytree(SCHEMAS, published)
        shutil.copy(
            published / "orders" / "OrderPlaced.v1.json",
            published / "orders" / "OrderPlaced.v0.json",
        )
        assert incompatible_changes(published) == {
            "orders/OrderPlaced.v0.json": ["published, but the code no longer reads this version"]
        }


class TestStoredOldEvents:
    """Envelopes as the inventory service published them before stock was valued (v1)."""

    def stored(self) -> list[Envelope]:
        lines = (FIXTURES / "inventory-events-v1.jsonl").read_text().splitlines()
        return [Envelope.model_validate_json(line) for line in lines]

    def test_they_fit_the_v1_schemas_they_were_published_under(self):
        for envelope in self.stored():
            name = envelope.event_type.name
            schema = json.loads((SCHEMAS / "inventory" / f"{name}.v1.json").read_text())
            jsonschema.validate(envelope.data, schema)

    def test_they_decode_into_the_current_version_not_valued(self):
        received, shipped = (decode_data(envelope) for envelope in self.stored())
        assert isinstance(received, inventory.GoodsReceived)
        assert [(line.sku, line.quantity, line.unit_cost) for line in received.lines] == [
            ("WULIANGYE-52-500ML", 120, None),
            ("JIANNANCHUN-52-500ML", 60, None),
        ]
        assert received.value is None
        assert isinstance(shipped, inventory.ShipmentDispatched)
        assert [(line.sku, line.quantity, line.cost) for line in shipped.lines] == [
            ("WULIANGYE-52-500ML", 12, None)
        ]
        assert shipped.order_complete and shipped.dealer_code == "CD-001"

    def test_a_handler_of_the_current_version_is_found_for_them(self):
        handlers = {str(inventory.ShipmentDispatched.event_type()): "invoice it"}
        for envelope in self.stored():
            expected = "invoice it" if "Shipment" in envelope.type else None
            assert handler_for(envelope.type, handlers) == expected

    def test_a_version_newer_than_the_code_reads_is_refused_not_ignored(self):
        handlers = {str(inventory.ShipmentDispatched.event_type()): "invoice it"}
        with pytest.raises(UnknownEventType, match="reads ShipmentDispatched up to v2"):
            handler_for("dist.inventory.ShipmentDispatched.v3", handlers)
        assert handler_for("dist.inventory.GoodsReceived.v3", handlers) is None


def test_the_erp_handbook_names_every_published_event_and_its_current_version():
    handbook = (Path(__file__).parents[2] / "contracts" / "README.md").read_text()
    for event in PUBLISHED:
        assert event.event_name in handbook, event.event_name
    for event in SUPERSEDED:
        assert f"`{event.event_name}` v{event.version}" in handbook, event
