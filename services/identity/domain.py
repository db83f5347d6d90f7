"""The identity service's aggregates: users and their API keys.

A user is a person who signs in to the console, or an integration that uses API keys; it has
a role of API.md and, where the role needs one, a branch, warehouse or dealer. Passwords and
keys are held only as argon2id hashes. Every event records who made the change (``by``) and
the library records when (``timestamp``).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from runtime.settings import ApiKeyGrant
from services.kernel.errors import NotFound, RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:identity")


class UserAlreadyExists(RuleViolation):
    code = "user_already_exists"


class UnknownUser(NotFound):
    code = "unknown_user"


class UnknownApiKey(NotFound):
    code = "unknown_api_key"


class UserDisabled(RuleViolation):
    code = "user_disabled"


class UserAlreadyDisabled(RuleViolation):
    code = "user_already_disabled"


class UserNotDisabled(RuleViolation):
    code = "user_not_disabled"


class ApiKeyAlreadyRevoked(RuleViolation):
    code = "api_key_already_revoked"


class CannotDisableOneself(RuleViolation):
    code = "cannot_disable_oneself"


class User(Aggregate):
    """A user of the platform, by its user name (e.g. ``cd.clerk``)."""

    @staticmethod
    def create_id(username: str) -> UUID:
        return uuid5(_IDS, f"user:{username}")

    class Created(Aggregate.Created):
        username: str
        grant: dict
        password_hash: str | None
        by: Provenance

    # Every event names its user: the relay translates each on its own.
    class PasswordReset(Aggregate.Event):
        username: str
        password_hash: str
        by: Provenance

    class RoleChanged(Aggregate.Event):
        username: str
        grant: dict
        by: Provenance

    class Disabled(Aggregate.Event):
        username: str
        reason: str
        by: Provenance

    class Enabled(Aggregate.Event):
        username: str
        by: Provenance

    @event(Created)
    def __init__(
        self, *, username: str, grant: dict, password_hash: str | None, by: Provenance
    ) -> None:
        self.username = username
        self.grant = ApiKeyGrant.model_validate(grant)
        self.password_hash = password_hash
        self.disabled = False
        self.changed_by = by.actor

    @property
    def may_sign_in(self) -> bool:
        return not self.disabled and self.password_hash is not None

    def reset_password(self, *, password_hash: str, by: Provenance) -> None:
        self._reset_password(username=self.username, password_hash=password_hash, by=by)

    @event(PasswordReset)
    def _reset_password(self, *, username: str, password_hash: str, by: Provenance) -> None:
        self.password_hash = password_hash
        self.changed_by = by.actor

    @event(RoleChanged)
    def _change_role(self, *, username: str, grant: dict, by: Provenance) -> None:
        self.grant = ApiKeyGrant.model_validate(grant)
        self.changed_by = by.actor

    def change_role(self, grant: ApiKeyGrant, *, by: Provenance) -> None:
        self._change_role(username=self.username, grant=grant.model_dump(mode="json"), by=by)

    def disable(self, *, reason: str, by: Provenance) -> None:
        if self.disabled:
            raise UserAlreadyDisabled(f"user {self.username} is disabled already")
        if by.actor == self.username:
            raise CannotDisableOneself("a user may not disable itself")
        self._disable(username=self.username, reason=reason, by=by)

    @event(Disabled)
    def _disable(self, *, username: str, reason: str, by: Provenance) -> None:
        self.disabled = True
        self.changed_by = by.actor

    def enable(self, *, by: Provenance) -> None:
        if not self.disabled:
            raise UserNotDisabled(f"user {self.username} is not disabled")
        self._enable(username=self.username, by=by)

    @event(Enabled)
    def _enable(self, *, username: str, by: Provenance) -> None:
        self.disabled = False
        self.changed_by = by.actor


def change_view(event: Aggregate.Event) -> dict:
    """One change to a user as its history shows it: what changed, when, who made it (with
    the role they made it in), and what the change says (the new role and scope, the reason
    for disabling). A password's hash is never part of it."""
    change = {
        User.Created: "created",
        User.PasswordReset: "password_reset",
        User.RoleChanged: "role_changed",
        User.Disabled: "disabled",
        User.Enabled: "enabled",
    }[type(event)]
    view: dict = {
        "version": event.originator_version,
        "change": change,
        "at": event.timestamp.isoformat(),
        "by": event.by.actor,
        "by_role": event.by.role,
    }
    if isinstance(event, User.Created | User.RoleChanged):
        grant = ApiKeyGrant.model_validate(event.grant)
        view.update(
            role=str(grant.role),
            branch=grant.branch,
            warehouse=grant.warehouse,
            dealer=grant.dealer,
            region=grant.region,
            region_branches=sorted(grant.region_branches),
        )
    if isinstance(event, User.Disabled):
        view["reason"] = event.reason
    return view


def new_user(
    username: str, grant: ApiKeyGrant, *, password_hash: str | None, by: Provenance
) -> User:
    return User(
        username=username,
        grant=grant.model_dump(mode="json"),
        password_hash=password_hash,
        by=by,
    )


class ApiKey(Aggregate):
    """An API key of a user (an integration's credential): it acts as that user. Only the
    argon2id hash of its secret is kept; the secret is shown once, when it is issued."""

    @staticmethod
    def create_id(key_id: str) -> UUID:
        return uuid5(_IDS, f"api-key:{key_id}")

    class Issued(Aggregate.Created):
        key_id: str
        username: str
        label: str
        key_hash: str
        by: Provenance

    class Revoked(Aggregate.Event):
        key_id: str
        username: str
        by: Provenance

    @event(Issued)
    def __init__(
        self, *, key_id: str, username: str, label: str, key_hash: str, by: Provenance
    ) -> None:
        self.key_id = key_id
        self.username = username
        self.label = label
        self.key_hash = key_hash
        self.revoked = False
        self.issued_by = by.actor

    def revoke(self, *, by: Provenance) -> None:
        if self.revoked:
            raise ApiKeyAlreadyRevoked(f"API key {self.key_id} is revoked already")
        self._revoke(key_id=self.key_id, username=self.username, by=by)

    @event(Revoked)
    def _revoke(self, *, key_id: str, username: str, by: Provenance) -> None:
        self.revoked = True


class Directory(Aggregate):
    """The names of every user and API key, so that HQ can list them (one per service:
    users and keys are created by HQ, a few a day, so one aggregate never contends)."""

    ID = uuid5(_IDS, "directory")

    @staticmethod
    def create_id() -> UUID:
        return Directory.ID

    class Opened(Aggregate.Created):
        pass

    class UserListed(Aggregate.Event):
        username: str

    class KeyListed(Aggregate.Event):
        key_id: str

    @event(Opened)
    def __init__(self) -> None:
        self.usernames: list[str] = []
        self.key_ids: list[str] = []

    @event(UserListed)
    def list_user(self, *, username: str) -> None:
        self.usernames.append(username)

    @event(KeyListed)
    def list_key(self, *, key_id: str) -> None:
        self.key_ids.append(key_id)
