"""The identity application: the command handlers of users and API keys, and sign-in.

A handler loads what it needs, asks the aggregates, and saves once. Passwords and key
secrets are hashed here, before any event holds them; answers never carry a hash, and the
one answer that carries a new key's secret is not stored (see api/routes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.http.credentials import (
    check_password_rules,
    hash_secret,
    issue_session,
    new_api_key,
    verify_secret,
)
from runtime.process_manager import Policy
from runtime.settings import DEMO_API_KEYS, DEMO_PASSWORD, DEMO_USERS, ApiKeyGrant
from services.identity.contract import to_integration_event
from services.identity.domain import (
    ApiKey,
    Directory,
    UnknownApiKey,
    UnknownUser,
    User,
    UserAlreadyExists,
    UserDisabled,
    change_view,
    new_user,
)
from services.kernel.errors import RuleViolation
from services.masterdata import replica
from services.masterdata.replica import KnowsMasterData


class WeakPasswordRefused(RuleViolation):
    code = "weak_password"


class InvalidCredentials(Exception):
    """Sign-in refused. Deliberately one error for an unknown user, a wrong password and a
    disabled user: the answer tells nobody which part was wrong."""


@dataclass(frozen=True)
class CreateUser:
    username: str
    grant: ApiKeyGrant
    password: str | None


@dataclass(frozen=True)
class IssuedKey:
    result: CommandResult
    token: str


def who_view(user: User) -> dict[str, Any]:
    """Who the user is and with which role and scope."""
    grant = user.grant
    return {
        "username": user.username,
        "name": grant.name,
        "role": str(grant.role),
        "branch": grant.branch,
        "warehouse": grant.warehouse,
        "dealer": grant.dealer,
        "region": grant.region,
        "region_branches": sorted(grant.region_branches),
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        **who_view(user),
        "disabled": user.disabled,
        "may_sign_in": user.may_sign_in,
        "created_at": user.created_on.isoformat(),
        "modified_at": user.modified_on.isoformat(),
        "modified_by": user.changed_by,
        "version": user.version,
    }


def api_key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "username": key.username,
        "label": key.label,
        "revoked": key.revoked,
        "issued_at": key.created_on.isoformat(),
        "issued_by": key.issued_by,
    }


def _named(grant: ApiKeyGrant, username: str) -> ApiKeyGrant:
    """The grant a user acts with: its user name is who the events say did it."""
    return grant.model_copy(update={"name": username})


class IdentityApplication(KnowsMasterData, ServiceApplication):
    """Users and keys. It knows the organisation's branches through its replica of the
    orders topic (services/masterdata), and refuses a user scoped to one it does not know."""

    service = "identity"
    name = "identity"
    contract = staticmethod(to_integration_event)
    # The directory gains an event per user and key: read it from a recent snapshot.
    snapshotting_intervals: ClassVar[dict[type, int]] = {Directory: 100}

    # -- users -----------------------------------------------------------------------------
    def create_user(
        self, cmd: CreateUser, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """A user scoped to a branch the organisation has (else 404 ``unknown_branch``)."""
        self.check_scope(cmd.grant)
        return self._create_user(cmd, by=by, idempotency=idempotency)

    def check_scope(self, grant: ApiKeyGrant) -> None:
        """The branch, or the region and each of its branches a region manager covers, are
        the organisation's: else 404 ``unknown_branch`` / ``unknown_region``, or 409
        ``branch_not_in_region``."""
        self.check_organisation(branch=grant.branch, region=None)
        if grant.region is not None:
            self.check_organisation(branch=None, region=grant.region)
            for branch in sorted(grant.region_branches):
                self.check_organisation(branch=branch, region=grant.region)

    def _create_user(
        self, cmd: CreateUser, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        duplicate = UserAlreadyExists(f"user {cmd.username} exists already")
        if self.exists(User.create_id(cmd.username)):
            raise duplicate
        password_hash = None
        if cmd.password is not None:
            password_hash = self._password_hash(cmd.password, cmd.username)
        user = new_user(cmd.username, cmd.grant, password_hash=password_hash, by=by)
        directory = self._directory()
        directory.list_user(username=cmd.username)
        try:
            return self.save_command(
                user, directory, status_code=201, body=user_view(user), idempotency=idempotency
            )
        except IntegrityError:
            if self.exists(user.id):
                raise duplicate from None
            raise  # the directory changed meanwhile: the caller decides again

    def get_user(self, username: str) -> User:
        try:
            return self.repository.get(User.create_id(username))
        except AggregateNotFoundError:
            raise UnknownUser(f"no user {username}") from None

    def user_history(self, username: str) -> list[dict[str, Any]]:
        """Every change to the user, oldest first: its events are its history."""
        events = list(self.repository.event_store.get(User.create_id(username)))
        if not events:
            raise UnknownUser(f"no user {username}")
        return [change_view(event) for event in events]

    def list_users(self) -> list[User]:
        directory = self._directory()
        found = self.get_many([User.create_id(name) for name in directory.usernames])
        return sorted(found.values(), key=lambda user: user.username)

    def reset_password(
        self, username: str, password: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        user = self.get_user(username)
        user.reset_password(password_hash=self._password_hash(password, username), by=by)
        return self._save_user(user, idempotency)

    def change_role(
        self,
        username: str,
        grant: ApiKeyGrant,
        *,
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        user = self.get_user(username)
        self.check_scope(grant)
        user.change_role(grant, by=by)
        return self._save_user(user, idempotency)

    def disable_user(
        self, username: str, reason: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        user = self.get_user(username)
        user.disable(reason=reason, by=by)
        return self._save_user(user, idempotency)

    def enable_user(
        self, username: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        user = self.get_user(username)
        user.enable(by=by)
        return self._save_user(user, idempotency)

    def _save_user(self, user: User, idempotency: IdempotencyKey | None) -> CommandResult:
        return self.save_command(
            user, status_code=200, body=user_view(user), idempotency=idempotency
        )

    @staticmethod
    def _password_hash(password: str, username: str) -> str:
        try:
            check_password_rules(password, username=username)
        except ValueError as error:
            raise WeakPasswordRefused(str(error)) from None
        return hash_secret(password)

    def _directory(self) -> Directory:
        try:
            return self.repository.get(Directory.create_id())
        except AggregateNotFoundError:
            return Directory()

    # -- API keys --------------------------------------------------------------------------
    def issue_api_key(
        self, username: str, label: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> IssuedKey:
        user = self.get_user(username)
        if user.disabled:
            raise UserDisabled(f"user {username} is disabled: enable it first")
        new = new_api_key()
        key = ApiKey(
            key_id=new.key_id,
            username=username,
            label=label,
            key_hash=hash_secret(new.secret),
            by=by,
        )
        directory = self._directory()
        directory.list_key(key_id=new.key_id)
        # The stored answer (replayed to a retry) names the key but never holds its secret.
        result = self.save_command(
            key, directory, status_code=201, body=api_key_view(key), idempotency=idempotency
        )
        return IssuedKey(result=result, token=new.token)

    def get_api_key(self, key_id: str) -> ApiKey:
        try:
            return self.repository.get(ApiKey.create_id(key_id))
        except AggregateNotFoundError:
            raise UnknownApiKey(f"no API key {key_id}") from None

    def list_api_keys(self) -> list[ApiKey]:
        directory = self._directory()
        found = self.get_many([ApiKey.create_id(key_id) for key_id in directory.key_ids])
        return sorted(found.values(), key=lambda key: (key.username, key.created_on))

    def revoke_api_key(
        self, key_id: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        key = self.get_api_key(key_id)
        key.revoke(by=by)
        return self.save_command(
            key, status_code=200, body=api_key_view(key), idempotency=idempotency
        )

    # -- sign-in ---------------------------------------------------------------------------
    def sign_in(self, username: str, password: str) -> tuple[User, str]:
        """The user and a session token, or InvalidCredentials."""
        try:
            user: User | None = self.repository.get(User.create_id(username))
        except AggregateNotFoundError:
            user = None
        stored_hash = user.password_hash if user is not None else None
        matches = verify_secret(stored_hash, password)
        if user is None or not matches or not user.may_sign_in:
            raise InvalidCredentials
        token = issue_session(
            username,
            _named(user.grant, username),
            secret=self.settings.session_signing_secret(),
            ttl_s=self.settings.session_ttl_s,
        )
        return user, token

    # -- development -----------------------------------------------------------------------
    def create_demo_users(self) -> int:
        """One user per demo key, with its role and scope and DEMO_PASSWORD (development mode
        only: outside it there are no demo users). Returns how many were created now. They
        are created at start, before the demo organisation is seeded: their branches are not
        checked (the demo company registers them a moment later)."""
        if not self.settings.development:
            return 0
        by = Provenance(actor="development-mode", role="hq_admin")
        created = 0
        for username, demo_key in DEMO_USERS.items():
            if self.exists(User.create_id(username)):
                continue
            grant = DEMO_API_KEYS[demo_key]
            cmd = CreateUser(username=username, grant=grant, password=DEMO_PASSWORD)
            try:
                self._create_user(cmd, by=by, idempotency=None)
            except UserAlreadyExists:
                continue
            created += 1
        return created


# The process manager keeps the organisation (and dealers, products) as orders registers it.
POLICIES: dict[str, Policy] = dict(replica.POLICIES)
