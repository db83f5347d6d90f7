"""Bearer API keys mapped to principals (a role and, where it needs one, a scope)."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from fastapi import Request

from runtime.eventstore import Provenance
from runtime.http.problems import Problem
from runtime.settings import BRANCH_ROLES, HQ_ROLES, ApiKeyGrant, Role
from services.kernel.errors import OutsideScope
from services.kernel.ownership import Ownership


@dataclass(frozen=True)
class Principal:
    grant: ApiKeyGrant
    correlation_id: str

    @property
    def name(self) -> str:
        return self.grant.name

    @property
    def role(self) -> Role:
        return self.grant.role

    @property
    def is_hq(self) -> bool:
        return self.grant.role in HQ_ROLES

    def provenance(self, causation_id: str | None = None) -> Provenance:
        return Provenance(
            actor=self.grant.name,
            role=str(self.grant.role),
            branch=self.grant.branch,
            correlation_id=self.correlation_id,
            causation_id=causation_id,
        )

    def require(self, *roles: Role) -> None:
        if self.grant.role not in roles:
            raise Problem(403, "forbidden_role", f"role {self.grant.role} may not do this")

    def require_hq(self) -> None:
        if not self.is_hq:
            raise Problem(403, "outside_scope", "national figures are for headquarters")

    def may_read(self, owner: Ownership) -> bool:
        """The one read rule: headquarters reads everything; a branch what belongs to its
        branch; a warehouse clerk what touches its warehouse; a dealer what is its own."""
        if self.is_hq:
            return True
        if self.role in BRANCH_ROLES:
            return owner.every_branch or self.grant.branch in owner.branches
        if self.role == Role.WAREHOUSE_CLERK:
            return self.grant.warehouse in owner.warehouses
        if self.role == Role.DEALER:
            return self.grant.dealer in owner.dealers
        return False

    def check_reads(self, owner: Ownership) -> None:
        if not self.may_read(owner):
            raise OutsideScope(f"{owner.what} is outside your scope")

    def require_branch(self, branch_id: str) -> None:
        if self.is_hq:
            return
        if self.grant.branch != branch_id:
            raise Problem(403, "outside_scope", f"branch {branch_id} is outside your scope")


class ApiKeys:
    def __init__(self, grants: dict[str, ApiKeyGrant]) -> None:
        self._grants = grants

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Problem(
                401,
                "unauthenticated",
                "send Authorization: Bearer <api key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        for known, grant in self._grants.items():
            if hmac.compare_digest(known.encode(), key.strip().encode()):
                correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
                return Principal(grant=grant, correlation_id=correlation[:100])
        raise Problem(
            401,
            "invalid_api_key",
            "the API key is not known",
            headers={"WWW-Authenticate": "Bearer"},
        )
