"""Bearer credentials mapped to principals (a role and, where it needs one, a scope).

A bearer credential is one of three, and all three map to the same ``Principal``, so that a
user signed in to the console sees and does exactly what an API key of the same role and
scope may: a key from configuration (``API_KEYS``, the demo keys in development), an API key
identity issued (``dk_<key id>_<secret>``), or a session token identity signed at sign-in.
Identity's keys and users are known from the process's replica of the identity topic.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass

from fastapi import Request

from runtime.eventstore import Provenance
from runtime.http.credentials import parse_api_key, read_session, verify_secret
from runtime.http.problems import Problem
from runtime.identity_replica import IdentityReplica
from runtime.settings import (
    BRANCH_ROLES,
    HQ_ROLES,
    REGION_MANAGER_PROCESSES,
    ApiKeyGrant,
    Role,
)
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
        branch; a region manager what a branch of its region reads (no more: a record of
        several branches is read if one of them is its own, as that branch's manager would);
        a warehouse clerk what touches its warehouse; a dealer what is its own."""
        if self.is_hq:
            return True
        if self.role in BRANCH_ROLES:
            return owner.every_branch or self.grant.branch in owner.branches
        if self.role == Role.REGION_MANAGER:
            return owner.every_branch or bool(self.grant.region_branches & owner.branches)
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
        if self.role == Role.REGION_MANAGER and branch_id in self.grant.region_branches:
            return
        if self.grant.branch != branch_id:
            raise Problem(403, "outside_scope", f"branch {branch_id} is outside your scope")


class WouldWait(Exception):
    """Authenticating this request would block (``ApiKeys.authenticate(wait=False)``)."""


def _refused(code: str, detail: str) -> Problem:
    return Problem(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


class VerifiedKeys:
    """Identity-issued keys this process verified a moment ago: argon2 costs tens of
    milliseconds on purpose, too much for every request. Keyed by a SHA-256 of the whole
    key, so the cache holds no key in clear; the replica is asked on every use, so a
    revoked key or a disabled user is refused at once, cached or not."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._verified: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def holds(self, token: str, key_id: str) -> bool:
        entry = self._verified.get(self._digest(token))
        return entry is not None and entry[0] == key_id and entry[1] > time.monotonic()

    def remember(self, token: str, key_id: str) -> None:
        with self._lock:
            now = time.monotonic()
            if len(self._verified) > 10_000:
                self._verified = {d: e for d, e in self._verified.items() if e[1] > now}
            self._verified[self._digest(token)] = (key_id, now + self.ttl_s)

    def forget(self, token: str) -> None:
        with self._lock:
            self._verified.pop(self._digest(token), None)


class ApiKeys:
    def __init__(
        self,
        grants: dict[str, ApiKeyGrant],
        *,
        replica: IdentityReplica | None = None,
        session_secret: str | None = None,
        key_cache_s: float = 300.0,
        process: str | None = None,
    ) -> None:
        self._grants = grants
        # A region manager is refused by the processes it has no business with (its role has
        # no command there and their lists are scoped per branch): see REGION_MANAGER_PROCESSES.
        self._admits_region_managers = process is None or process in REGION_MANAGER_PROCESSES
        self.replica = replica
        self._session_secret = session_secret
        self.verified = VerifiedKeys(key_cache_s)

    def authenticate(self, request: Request, *, wait: bool = True) -> Principal:
        """The caller, or a 401/403/503 Problem. Without ``wait``, raises ``WouldWait``
        rather than block: on argon2 for an issued key not verified lately (tens of
        milliseconds, on purpose), or on the identity replica still catching up. The HTTP
        dependency then asks again from a worker thread; everything else (configured keys,
        sessions, keys verified lately, refusals) is answered on the event loop."""
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _refused("unauthenticated", "send Authorization: Bearer <api key or session>")
        grant = self._configured(key) or self._identity_grant(key, wait)
        if grant.role == Role.REGION_MANAGER and not self._admits_region_managers:
            raise Problem(
                403,
                "forbidden_role",
                "a region manager reads its branches through the query API and works their "
                "warnings; this service has nothing for it",
            )
        correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        return Principal(grant=grant, correlation_id=correlation[:100])

    def _configured(self, key: str) -> ApiKeyGrant | None:
        for known, grant in self._grants.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return grant
        return None

    def _identity_grant(self, token: str, wait: bool) -> ApiKeyGrant:
        parsed = parse_api_key(token)
        if parsed is None and self._session_secret and token.count(".") == 2:
            return self._session_grant(token, wait)
        if parsed is None or self.replica is None:
            raise _refused("invalid_api_key", "the API key is not known")
        self._wait_for_replica(wait)
        key_id, secret = parsed
        known = self.replica.keys.get(key_id)
        user = self.replica.users.get(known.username) if known else None
        if known is None or known.revoked or user is None or user.disabled:
            self.verified.forget(token)
            raise _refused("invalid_api_key", "the API key is not known, revoked or disabled")
        if not self.verified.holds(token, key_id):
            if not wait:
                raise WouldWait("argon2")
            if not verify_secret(known.key_hash, secret):
                raise _refused("invalid_api_key", "the API key is not known")
            self.verified.remember(token, key_id)
        return user.grant

    def _session_grant(self, token: str, wait: bool) -> ApiKeyGrant:
        assert self._session_secret is not None
        session = read_session(token, secret=self._session_secret)
        if session is None:
            raise _refused("invalid_session", "the session is not valid or has expired")
        if self.replica is not None:
            self._wait_for_replica(wait)
            user = self.replica.users.get(session.username)
            # A user the replica does not know yet was created a moment ago (the token's
            # signature vouches for it); one it knows may since have been disabled or changed.
            if user is not None and (
                user.disabled or session.issued_ms < user.sessions_valid_from_ms
            ):
                raise _refused("invalid_session", "the session has ended: sign in again")
        return session.grant

    def _wait_for_replica(self, wait: bool) -> None:
        assert self.replica is not None
        if not wait and not self.replica.caught_up.is_set():
            raise WouldWait("identity replica")
        if not self.replica.caught_up.wait(timeout=2.0):
            raise Problem(
                503,
                "identity_not_ready",
                "this process is still reading the users and keys; try again shortly",
                headers={"Retry-After": "1"},
            )
