"""Named domain errors. Each carries a machine-readable code; the HTTP edge maps the class of
error to a status (404 unknown id, 409 rule or state violation, 403 outside scope)."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    """An id the caller named does not exist."""


class RuleViolation(DomainError):
    """The command breaks a business rule or an allowed state transition."""


class OutsideScope(DomainError):
    """The caller may not act on this dealer, branch or warehouse."""

    code = "outside_scope"
