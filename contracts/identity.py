"""Integration events published by the identity service on topic ``<namespace>.identity.events``,
keyed by the user or API key id.

Who made each change and when travel in the envelope (``actor``, ``actorrole``, ``time``).
No password travels anywhere; an API key travels only as its argon2id hash, which the
services that authenticate keep in their replica to verify a presented key. Every service
that accepts identity credentials reads this topic from its beginning, so it must keep
every record (no time-based retention).
"""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import IntegrationEvent

Role = str  # one of the roles of API.md (hq_admin, branch_clerk, dealer, ...)


class _UserScopedV1(IntegrationEvent):
    """A user's role and scope as published before region managers (v1)."""

    username: str
    name: str
    role: Role
    branch: str | None = None
    warehouse: str | None = None
    dealer: str | None = None


class UserScoped(_UserScopedV1):
    """What a user may do: a role and, where the role needs one, a branch, warehouse or
    dealer (as for a configured API key), or a region manager's region and the branches of
    it the manager covers."""

    region: str | None = None
    region_branches: list[str] = Field(
        default=[], description="a region manager's branches of its region; empty otherwise"
    )


class UserCreated(UserScoped):
    """HQ created a user (a person who signs in, or an integration that uses API keys).

    v2 (superseding v1) names a region manager's region and branches."""

    service = "identity"
    event_name = "UserCreated"
    version = 2


class UserCreatedV1(_UserScopedV1):
    """HQ created a user, as published before region managers. Superseded by v2."""

    service = "identity"
    event_name = "UserCreated"
    version = 1

    def upcast(self) -> UserCreated:
        """v2 with no region."""
        return UserCreated(**self.model_dump())


class UserRoleChanged(UserScoped):
    """The user's role or scope changed. Sessions issued before it are no longer accepted;
    the user's API keys act with the new role and scope.

    v2 (superseding v1) names a region manager's region and branches."""

    service = "identity"
    event_name = "UserRoleChanged"
    version = 2


class UserRoleChangedV1(_UserScopedV1):
    """The user's role or scope changed, as published before region managers. Superseded
    by v2."""

    service = "identity"
    event_name = "UserRoleChanged"
    version = 1

    def upcast(self) -> UserRoleChanged:
        """v2 with no region."""
        return UserRoleChanged(**self.model_dump())


class UserPasswordReset(IntegrationEvent):
    """HQ set a new password for the user. Sessions issued before it are no longer accepted.
    The password itself never leaves the identity service."""

    service = "identity"
    event_name = "UserPasswordReset"
    version = 1

    username: str


class UserDisabled(IntegrationEvent):
    """The user may no longer sign in; its sessions and API keys are refused everywhere."""

    service = "identity"
    event_name = "UserDisabled"
    version = 1

    username: str
    reason: str


class UserEnabled(IntegrationEvent):
    """A disabled user may sign in again (sessions from before stay refused); its API keys
    that were not revoked work again."""

    service = "identity"
    event_name = "UserEnabled"
    version = 1

    username: str


class ApiKeyIssued(IntegrationEvent):
    """An API key was issued to a user: it acts as that user. ``key_hash`` is the argon2id
    hash of the key's secret part (``dk_<key_id>_<secret>``); the secret is never stored."""

    service = "identity"
    event_name = "ApiKeyIssued"
    version = 1

    key_id: str = Field(pattern=r"^[a-z0-9]{8,32}$")
    username: str
    label: str
    key_hash: str = Field(pattern=r"^\$argon2id\$")


class ApiKeyRevoked(IntegrationEvent):
    """The API key is refused from now on, everywhere."""

    service = "identity"
    event_name = "ApiKeyRevoked"
    version = 1

    key_id: str
    username: str
