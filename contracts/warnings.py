"""Integration events published by the warnings service on ``<namespace>.warnings.events``,
keyed by the warning's id (so every step of one warning is in order on one partition).

Every step of a warning (预警) is one event: raised, acknowledged, commented, assigned,
escalated, resolved by a person, resolved by itself when its condition cleared; and HQ's
changes of a rule's threshold or allowances. Who acted and when travel in the envelope
(``actor``, ``actorrole``, ``time``); ``at`` is the time on the warnings service's clock
that the step was decided by (due times are counted on it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent

LevelName = Literal["branch_manager", "region", "hq_admin", "national"]
SeverityName = Literal["low", "medium", "high", "critical"]


class Reason(BaseModel):
    """Why the warning was raised, in words and in figures (decimal strings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    figures: dict[str, str] = Field(description="e.g. {'shortfall': '12000.00'}")


class WarningStep(IntegrationEvent):
    rule: str = Field(description="the rule's code, e.g. credit_hold")
    subject: str = Field(description="what the warning is about, e.g. order:6f1c…")
    branch: str | None = Field(description="the branch responsible first (none: HQ's)")
    at: datetime


class WarningRaised(WarningStep):
    """A rule's condition held long enough: the warning is raised for the person responsible
    at the lowest level, due by ``due_at`` before it passes up a level."""

    service = "warnings"
    event_name = "WarningRaised"
    version = 1

    rule_version: int = Field(ge=1, description="the version of the rule in force")
    threshold: str = Field(description="the rule's threshold in force (decimal string)")
    severity: SeverityName
    title: str
    subject_kind: str
    region: str | None
    dealer: str | None
    reasons: list[Reason] = Field(min_length=1)
    since: datetime = Field(description="when the condition began")
    level: LevelName
    responsible_role: str
    due_at: datetime | None = Field(description="escalates then if unresolved; none: the top")


class WarningAcknowledged(WarningStep):
    """Someone responsible has seen the warning (it still escalates unless resolved)."""

    service = "warnings"
    event_name = "WarningAcknowledged"
    version = 1


class WarningCommented(WarningStep):
    service = "warnings"
    event_name = "WarningCommented"
    version = 1

    text: str


class WarningAssigned(WarningStep):
    """The warning was given to a colleague in the same scope (a user name)."""

    service = "warnings"
    event_name = "WarningAssigned"
    version = 1

    assignee: str


class WarningEscalated(WarningStep):
    """Not resolved within its allowance: the warning passed up a level."""

    service = "warnings"
    event_name = "WarningEscalated"
    version = 1

    from_level: LevelName
    to_level: LevelName
    responsible_role: str
    due_at: datetime | None = Field(description="escalates again then; none: the top level")


class WarningResolved(WarningStep):
    """A person resolved the warning, with a note."""

    service = "warnings"
    event_name = "WarningResolved"
    version = 1

    note: str


class WarningAutoResolved(WarningStep):
    """The warning's condition cleared (e.g. the order left credit hold): it resolved itself."""

    service = "warnings"
    event_name = "WarningAutoResolved"
    version = 1

    reason: str


class WarningRuleChanged(IntegrationEvent):
    """HQ set a rule's threshold and each level's allowance: the rule's next version.
    Warnings raised before keep the version they were raised under."""

    service = "warnings"
    event_name = "WarningRuleChanged"
    version = 1

    rule: str
    rule_version: int = Field(ge=2)
    threshold: str
    allowances_minutes: dict[str, int] = Field(
        description="per level (branch_manager, region, hq_admin): minutes before escalating"
    )
