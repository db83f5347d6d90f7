"""Translation of the identity service's domain events into its published integration
events. Password hashes never leave the service; an API key leaves only as its hash."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import identity as published
from contracts.envelope import IntegrationEvent
from services.identity.domain import ApiKey, User


def _scoped(username: str, grant: dict) -> dict:
    return {
        "username": username,
        "name": grant["name"],
        "role": grant["role"],
        "branch": grant.get("branch"),
        "warehouse": grant.get("warehouse"),
        "dealer": grant.get("dealer"),
        "region": grant.get("region"),
        "region_branches": sorted(grant.get("region_branches") or ()),
    }


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, User.Created):
        return published.UserCreated(**_scoped(event.username, event.grant))
    if isinstance(event, User.RoleChanged):
        return published.UserRoleChanged(**_scoped(event.username, event.grant))
    if isinstance(event, User.PasswordReset):
        return published.UserPasswordReset(username=event.username)
    if isinstance(event, User.Disabled):
        return published.UserDisabled(username=event.username, reason=event.reason)
    if isinstance(event, User.Enabled):
        return published.UserEnabled(username=event.username)
    if isinstance(event, ApiKey.Issued):
        return published.ApiKeyIssued(
            key_id=event.key_id, username=event.username, label=event.label, key_hash=event.key_hash
        )
    if isinstance(event, ApiKey.Revoked):
        return published.ApiKeyRevoked(key_id=event.key_id, username=event.username)
    return None
