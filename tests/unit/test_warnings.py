"""The warning (预警) as an aggregate: watched, raised, escalated once per allowance up to the
national level, resolved by a person or by itself; decided by the times it is given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from contracts import Envelope
from contracts.registry import decode_data
from runtime.eventstore import Provenance
from services.warnings.contract import to_integration_event
from services.warnings.domain import (
    PLACE_GRACE,
    EarlyWarning,
    Status,
    WarningAlreadyResolved,
    WarningNotRaised,
)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
HOLD_HOURS = 4
ALLOWANCES = {"branch_manager": 60, "region": 120, "hq_admin": 240}
SYSTEM = Provenance(actor="warnings", role="system")
LI_QIANG = Provenance(actor="cd.manager", role="branch_manager", branch="CD")


def credit_hold(branch: str | None = "CD") -> EarlyWarning:
    return EarlyWarning(
        rule="credit_hold",
        rule_version=2,
        threshold=Decimal(HOLD_HOURS),
        allowances=ALLOWANCES,
        severity="high",
        title="order on credit hold",
        subject="order:CD-20261123-0001",
        subject_kind="order",
        occurrence=1,
        branch=branch,
        region="SOUTHWEST" if branch else None,
        dealer="CD-001",
        reasons=[
            {
                "text": "credit refused for dealer CD-001",
                "figures": {"shortfall": "12000.00", "credit_limit": "200000.00"},
            }
        ],
        since=T0,
        due_at=T0 + timedelta(hours=HOLD_HOURS),
        by=SYSTEM,
    )


RAISED_AT_ONCE = {
    "rule": "stock_shortage",
    "rule_version": 1,
    "threshold": Decimal(1),
    "allowances": ALLOWANCES,
    "severity": "high",
    "title": "order refused for a stock shortage",
    "subject": "order:CD-20261123-0002",
    "subject_kind": "order",
    "occurrence": 1,
    "branch": "CD",
    "region": "SOUTHWEST",
    "dealer": "CD-001",
    "reasons": [{"text": "short", "figures": {"short": "4"}}],
    "since": T0,
    "due_at": T0,
    "by": SYSTEM,
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(hours=HOLD_HOURS, minutes=minutes)


class TestRaising:
    def test_a_watched_warning_is_raised_once_its_delay_has_passed(self):
        warning = credit_hold()
        assert not warning.fire(T0 + timedelta(hours=3, minutes=59))
        assert warning.status == Status.WATCHING
        assert warning.fire(at(0))
        assert (warning.status, warning.level) == (Status.OPEN, "branch_manager")
        assert warning.responsible_role == "branch_manager"
        assert warning.due_at == at(60)

    def test_a_warning_of_no_known_branch_waits_to_learn_it_then_goes_to_headquarters(self):
        warning = EarlyWarning(**{**RAISED_AT_ONCE, "branch": None, "region": None})
        assert not warning.fire(T0 + PLACE_GRACE - timedelta(seconds=1))
        assert warning.fire(T0 + PLACE_GRACE)
        assert warning.level == "hq_admin"

    def test_learning_the_branch_while_waiting_sends_it_there(self):
        warning = EarlyWarning(
            **{**RAISED_AT_ONCE, "branch": None, "region": None},
        )
        assert not warning.fire(T0), "no branch yet: it waits for one"
        warning.locate(branch="CD", region="SOUTHWEST", dealer="CD-001")
        assert warning.fire(T0 + timedelta(seconds=1))
        assert (warning.level, warning.branch) == ("branch_manager", "CD")

    def test_nobody_acts_on_a_warning_not_raised_yet(self):
        with pytest.raises(WarningNotRaised):
            credit_hold().acknowledge(by=LI_QIANG, now=T0)


class TestEscalation:
    def test_ignored_it_passes_up_each_level_once_per_allowance_to_the_top(self):
        warning = credit_hold()
        warning.fire(at(0))
        assert not warning.fire(at(59))
        assert warning.fire(at(60))
        assert warning.level == "region"
        assert not warning.fire(at(61)), "the region's allowance has only begun"
        assert warning.fire(at(60 + 120))
        assert warning.level == "hq_admin"
        assert warning.fire(at(60 + 120 + 240))
        assert warning.level == "national"
        assert warning.due_at is None
        assert not warning.fire(at(10_000)), "national is the top"
        steps = [step["step"] for step in warning.history]
        assert steps == ["watched", "raised", "escalated", "escalated", "escalated"]

    def test_a_late_tick_escalates_one_level_not_all_it_missed(self):
        warning = credit_hold()
        warning.fire(at(0))
        assert warning.fire(at(10_000))
        assert warning.level == "region"

    def test_acknowledging_does_not_stop_escalation(self):
        warning = credit_hold()
        warning.fire(at(0))
        warning.acknowledge(by=LI_QIANG, now=at(5))
        assert warning.fire(at(60))


class TestResolution:
    def test_resolved_it_stops_escalating_and_resolving_again_is_refused(self):
        warning = credit_hold()
        warning.fire(at(0))
        warning.resolve("Dealer paid 50,000.00", by=LI_QIANG, now=at(10))
        assert not warning.fire(at(60))
        with pytest.raises(WarningAlreadyResolved):
            warning.resolve("again", by=LI_QIANG, now=at(11))

    def test_a_cleared_condition_resolves_it_saying_why(self):
        warning = credit_hold()
        warning.fire(at(0))
        assert warning.condition_cleared("the order was cancelled", now=at(3))
        assert (warning.status, warning.resolution) == (Status.RESOLVED, "the order was cancelled")
        assert not warning.condition_cleared("again", now=at(4))

    def test_cleared_before_it_was_raised_it_is_dropped_unseen(self):
        warning = credit_hold()
        warning.condition_cleared("credit reserved", now=T0 + timedelta(hours=1))
        assert warning.status == Status.DROPPED
        assert not warning.fire(at(0))


class TestPublished:
    def test_every_step_is_a_versioned_integration_event_but_the_watching(self):
        warning = credit_hold()
        warning.fire(at(0))
        warning.acknowledge(by=LI_QIANG, now=at(1))
        warning.comment("calling the dealer", by=LI_QIANG, now=at(2))
        warning.assign("cd.clerk", by=LI_QIANG, now=at(3))
        warning.fire(at(60))
        warning.resolve("paid", by=LI_QIANG, now=at(70))
        published = [to_integration_event(e) for e in warning.collect_events()]
        names = [type(p).__name__ if p else None for p in published]
        assert names == [
            None,
            "WarningRaised",
            "WarningAcknowledged",
            "WarningCommented",
            "WarningAssigned",
            "WarningEscalated",
            "WarningResolved",
        ]
        raised = published[1]
        assert raised.rule_version == 2
        assert raised.reasons[0].figures["shortfall"] == "12000.00"
        assert raised.due_at == at(60)
        # Each survives its own schema (what the relay publishes, a consumer decodes).
        for event in filter(None, published):
            envelope = Envelope(
                id="x",
                source="warnings",
                type=str(event.event_type()),
                subject=str(warning.id),
                time=at(0),
                sequence=1,
                position=1,
                previousposition=0,
                data=event.model_dump(mode="json"),
            )
            assert decode_data(envelope) == event


@pytest.mark.parametrize(
    "url",
    ["http://[", "https://[::1/hooks", "http://oa.example.cn:99999/hooks", "http://-oa/hooks"],
)
def test_a_webhook_url_no_delivery_could_reach_is_refused(url: str) -> None:
    """An address that does not parse (or names no reachable port) was accepted with 201 and
    every delivery to it failed; the pattern in the OpenAPI document now refuses it."""
    from pydantic import ValidationError

    from services.warnings.api.schemas import WebhookCreate

    with pytest.raises(ValidationError):
        WebhookCreate(url=url, secret="s" * 16)
    hook = WebhookCreate(url="https://oa.example.cn:8443/hooks/warnings?from=dist", secret="s" * 16)
    assert urlsplit(hook.url).port == 8443


def test_an_address_the_resolver_cannot_encode_fails_its_delivery_not_the_deliverer() -> None:
    """A host label over 63 characters raised UnicodeError from the resolver, which stopped
    the deliverer thread, and with it every other subscriber's deliveries."""
    from services.warnings.webhooks import Deliverer

    deliverer = Deliverer(board=None, timeout_s=1.0)
    status, error = deliverer._send(
        uuid.uuid4(), 7, {"type": "WarningRaised"}, f"http://{'a' * 64}.example.cn/", "s" * 16
    )
    assert status is None
    assert error is not None and "UnicodeError" in error
