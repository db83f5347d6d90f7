"""Request and response bodies of the warnings API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from runtime.http.schemas import NOT_BLANK, USERNAME_PATTERN
from services.warnings.rules import CATALOGUE

RuleCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$"),
    Field(description=f"one of {', '.join(CATALOGUE)}", examples=["credit_hold"]),
]
LevelName = Literal["branch_manager", "region", "hq_admin", "national"]
SeverityName = Literal["low", "medium", "high", "critical"]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NOT_BLANK)
]
# A threshold as a decimal string; each rule's range is in GET /warning-rules (422 outside).
Threshold = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$"),
    Field(examples=["4"], description="decimal string within the rule's minimum and maximum"),
]
WarningPosition = Annotated[
    str,
    StringConstraints(pattern=r"^warnings:[0-9]{1,18}$"),
    Field(description="a command's `position`: wait until the inbox has it, else 503"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Comment(_Strict):
    text: Text = Field(examples=["Called the dealer: payment on Friday"])


class Assignment(_Strict):
    assignee: Annotated[
        str,
        StringConstraints(pattern=USERNAME_PATTERN),
        Field(description="a user name in the warning's scope", examples=["cd.clerk"]),
    ]


class Resolution(_Strict):
    note: Text = Field(examples=["Dealer paid 50,000.00; order released"])


class Acknowledgement(_Strict):
    pass


class Allowances(_Strict):
    """Minutes each level has before the warning passes up (1 minute to 30 days)."""

    branch_manager: int = Field(ge=1, le=43200)
    region: int = Field(ge=1, le=43200)
    hq_admin: int = Field(ge=1, le=43200)


class RuleChange(_Strict):
    threshold: Threshold
    allowances_minutes: Allowances | None = None


class Reason(BaseModel):
    text: str
    figures: dict[str, str]


class Step(BaseModel):
    model_config = ConfigDict(extra="allow")

    step: str
    at: str


class WarningRead(BaseModel):
    warning_id: str
    rule: str
    rule_version: int
    threshold: str
    title: str
    severity: SeverityName
    subject: str
    subject_kind: str
    branch: str | None
    region: str | None
    dealer: str | None
    status: Literal["watching", "open", "resolved", "dropped"]
    level: LevelName | None
    responsible_role: str | None
    assignee: str | None
    acknowledged_by: str | None
    reasons: list[Reason]
    since: str
    raised_at: str | None
    due_at: str | None
    resolution: str | None
    history: list[Step]
    version: int


class WarningChanged(WarningRead):
    position: str | None = None


class WarningPage(BaseModel):
    warnings: list[WarningRead]
    next_cursor: str | None


class Count(BaseModel):
    level: LevelName | None
    severity: SeverityName
    open: int


class WarningCounts(BaseModel):
    counts: list[Count]
    by_level: dict[str, int]
    by_severity: dict[str, int]
    total: int


class RuleRead(BaseModel):
    code: str
    title: str
    subject_kind: str
    severity: SeverityName
    threshold_means: str
    threshold: str
    minimum: str
    maximum: str
    allowances_minutes: dict[str, int]
    version: int
    changed_by: str | None


class RuleChanged(RuleRead):
    position: str | None = None


class RuleList(BaseModel):
    rules: list[RuleRead]


# A URL a delivery can be sent to: the host (a name or IPv4 address, labels of at most 63
# characters, as a resolver can encode) and port are checked by
# the pattern itself, so the OpenAPI document states the whole rule (an address such as
# "http://[" or "http://a:99999/" was accepted and every delivery to it failed).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # at most 63 characters
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
WEBHOOK_URL = (
    rf"^https?://(?:{_LABEL}\.){{0,20}}{_LABEL}"
    rf"(?::{_PORT})?(?:[/?#][!-~]{{0,1900}})?$"
)


class WebhookCreate(_Strict):
    url: Annotated[
        str,
        StringConstraints(pattern=WEBHOOK_URL, max_length=2000),
        Field(
            examples=["https://oa.example.cn/hooks/warnings"],
            description="http(s), a host name or IPv4 address, an optional port (1-65535), "
            "then any path and query",
        ),
    ]
    secret: Annotated[
        str,
        StringConstraints(pattern=r"^[!-~]{16,200}$"),
        Field(description="signs each delivery: X-Dist-Signature = sha256=HMAC(secret, body)"),
    ]
    levels: list[LevelName] = Field(default_factory=list, description="none: every level")
    severities: list[SeverityName] = Field(default_factory=list, description="none: all")


class WebhookRead(BaseModel):
    webhook_id: str
    url: str
    levels: list[str]
    severities: list[str]


class WebhookRegistered(WebhookRead):
    registered_by: str
    position: str | None = None


class WebhookList(BaseModel):
    webhooks: list[WebhookRead]


class Delivery(BaseModel):
    delivery_id: str
    warning_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None


class DeliveryList(BaseModel):
    deliveries: list[Delivery]
