"""Identity's rules without a database: users and keys as aggregates, the hashing and
session rules, the replica every process keeps of the identity topic, and the bearer
credentials it lets a process accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from contracts import identity
from runtime.eventstore import Provenance
from runtime.http.auth import ApiKeys, WouldWait
from runtime.http.credentials import (
    WeakPassword,
    check_password_rules,
    hash_secret,
    issue_session,
    new_api_key,
    parse_api_key,
    read_session,
    verify_secret,
)
from runtime.http.problems import Problem
from runtime.identity_replica import IdentityReplica
from runtime.settings import ApiKeyGrant, Role, Settings, UnsafeConfiguration
from services.identity.contract import to_integration_event
from services.identity.domain import (
    ApiKey,
    ApiKeyAlreadyRevoked,
    CannotDisableOneself,
    UserAlreadyDisabled,
    UserNotDisabled,
    change_view,
    new_user,
)
from tests.platform import envelopes_of

SECRET = "unit-test-session-secret-32-chars-long"  # noqa: S105 - test data
WANG_MIN = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")
CHENGDU_CLERK = ApiKeyGrant(name="cd.clerk.wang", role=Role.BRANCH_CLERK, branch="CD")


def clerk():
    return new_user(
        "cd.clerk.wang", CHENGDU_CLERK, password_hash=hash_secret("x" * 12), by=WANG_MIN
    )


class TestUser:
    def test_every_change_records_who_made_it(self):
        user = clerk()
        user.disable(reason="left", by=WANG_MIN)
        user.enable(by=Provenance(actor="hq.admin", role="hq_admin"))
        events = user.collect_events()
        assert [e.by.actor for e in events] == ["Wang Min (HQ admin)"] * 2 + ["hq.admin"]
        assert all(e.timestamp for e in events)
        assert user.changed_by == "hq.admin"

    def test_its_history_says_what_changed_when_and_by_whom_without_the_hash(self):
        user = clerk()
        user.reset_password(password_hash=hash_secret("y" * 12), by=WANG_MIN)
        manager = ApiKeyGrant(name="cd.clerk.wang", role=Role.BRANCH_MANAGER, branch="CD")
        user.change_role(manager, by=WANG_MIN)
        user.disable(reason="moved to Chongqing", by=Provenance(actor="hq.admin", role="hq_admin"))
        history = [change_view(event) for event in user.collect_events()]
        assert [(c["change"], c["by"]) for c in history] == [
            ("created", "Wang Min (HQ admin)"),
            ("password_reset", "Wang Min (HQ admin)"),
            ("role_changed", "Wang Min (HQ admin)"),
            ("disabled", "hq.admin"),
        ]
        assert history[0]["role"] == "branch_clerk" and history[0]["branch"] == "CD"
        assert history[2]["role"] == "branch_manager"
        assert history[3]["reason"] == "moved to Chongqing"
        assert [c["version"] for c in history] == [1, 2, 3, 4]
        assert all(c["at"].startswith("20") for c in history)
        assert "argon2" not in repr(history)

    def test_disabling_twice_enabling_an_enabled_user_and_disabling_oneself_are_refused(self):
        user = clerk()
        with pytest.raises(UserNotDisabled):
            user.enable(by=WANG_MIN)
        with pytest.raises(CannotDisableOneself):
            user.disable(reason="oops", by=Provenance(actor="cd.clerk.wang", role="hq_admin"))
        user.disable(reason="left", by=WANG_MIN)
        assert not user.may_sign_in
        with pytest.raises(UserAlreadyDisabled):
            user.disable(reason="left", by=WANG_MIN)

    def test_an_integration_without_password_may_not_sign_in(self):
        erp = new_user(
            "erp.bridge", ApiKeyGrant(name="ERP", role=Role.ERP), password_hash=None, by=WANG_MIN
        )
        assert not erp.may_sign_in

    def test_published_events_carry_no_password_hash(self):
        user = clerk()
        user.reset_password(password_hash=hash_secret("y" * 12), by=WANG_MIN)
        published = [to_integration_event(e) for e in user.collect_events()]
        assert isinstance(published[0], identity.UserCreated)
        assert published[1] == identity.UserPasswordReset(username="cd.clerk.wang")
        assert "argon2" not in str([p.model_dump() for p in published])


class TestApiKey:
    def test_a_key_is_revoked_once_and_published_as_its_hash_only(self):
        new = new_api_key()
        key = ApiKey(
            key_id=new.key_id,
            username="erp.bridge",
            label="nightly",
            key_hash=hash_secret(new.secret),
            by=WANG_MIN,
        )
        key.revoke(by=WANG_MIN)
        with pytest.raises(ApiKeyAlreadyRevoked):
            key.revoke(by=WANG_MIN)
        issued, revoked = (to_integration_event(e) for e in key.collect_events())
        assert issued.key_hash.startswith("$argon2id$") and new.secret not in str(issued)
        assert revoked == identity.ApiKeyRevoked(key_id=new.key_id, username="erp.bridge")


class TestHashing:
    def test_passwords_are_argon2id_salted_and_verified(self):
        first, second = hash_secret("Chengdu-2026!"), hash_secret("Chengdu-2026!")
        assert first.startswith("$argon2id$") and first != second
        assert verify_secret(first, "Chengdu-2026!")
        assert not verify_secret(first, "chengdu-2026!")
        assert not verify_secret(None, "Chengdu-2026!")
        assert not verify_secret("not a hash", "Chengdu-2026!")

    @pytest.mark.parametrize("password", ["short", "cd.clerk.wang-2026"])
    def test_short_passwords_and_ones_holding_the_user_name_are_refused(self, password):
        with pytest.raises(WeakPassword):
            check_password_rules(password, username="cd.clerk.wang")

    def test_an_api_key_names_its_id_and_only_the_secret_is_hashed(self):
        new = new_api_key()
        assert parse_api_key(new.token) == (new.key_id, new.secret)
        assert parse_api_key("demo-hq-admin") is None
        assert parse_api_key(f"dk_{new.key_id}_short") is None


class TestSessions:
    def test_a_session_says_who_with_which_scope_until_when(self):
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        session = read_session(token, secret=SECRET)
        assert session.grant == CHENGDU_CLERK and session.username == "cd.clerk.wang"
        assert session.expires_ms - session.issued_ms == pytest.approx(600_000, abs=1000)

    def test_a_forged_or_expired_session_is_none(self):
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        forged = "another-secret-of-32-characters-x"  # noqa: S105 - test data
        assert read_session(token, secret=forged) is None
        header, payload, signature = token.split(".")
        assert read_session(f"{header}.{payload}.{signature[::-1]}", secret=SECRET) is None
        expired = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=-10)
        assert read_session(expired, secret=SECRET) is None

    def test_production_refuses_to_sign_without_a_secret(self):
        with pytest.raises(UnsafeConfiguration):
            Settings(dist_env="production", session_secret=None).session_signing_secret()
        assert Settings(dist_env="development").session_signing_secret()


def request_with(credential: str) -> Request:
    headers = [(b"authorization", f"Bearer {credential}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def replica_of(*events, at: datetime) -> IdentityReplica:
    replica = IdentityReplica()
    for envelope in envelopes_of(list(events), time=at.isoformat()):
        replica.apply(envelope)
    replica.caught_up.set()
    return replica


CREATED = identity.UserCreated(
    username="cd.clerk.wang", name="Wang Fang", role="branch_clerk", branch="CD"
)


def clerk_with_a_key():
    """A Chengdu clerk with a key, as a process's replica knew them five minutes ago."""
    new = new_api_key()
    issued = identity.ApiKeyIssued(
        key_id=new.key_id, username="cd.clerk.wang", label="pos", key_hash=hash_secret(new.secret)
    )
    replica = replica_of(CREATED, issued, at=datetime.now(UTC) - timedelta(minutes=5))
    return new, replica, ApiKeys({}, replica=replica, session_secret=SECRET)


class TestBearerCredentials:
    def test_a_session_and_an_issued_key_act_as_the_user_with_its_scope(self):
        new, replica, keys = clerk_with_a_key()
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        for credential in (token, new.token, new.token):  # the second key use is cached
            principal = keys.authenticate(request_with(credential))
            assert (principal.name, principal.role, principal.grant.branch) == (
                "cd.clerk.wang",
                Role.BRANCH_CLERK,
                "CD",
            )

    def test_a_user_disabled_after_sign_in_is_refused_and_a_revoked_key_at_once(self):
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        new, replica, keys = clerk_with_a_key()
        keys.authenticate(request_with(new.token))  # verified and cached
        later = datetime.now(UTC) + timedelta(seconds=1)
        revoked = identity.ApiKeyRevoked(key_id=new.key_id, username="cd.clerk.wang")
        disabled = identity.UserDisabled(username="cd.clerk.wang", reason="left")
        for envelope in envelopes_of([revoked, disabled], time=later.isoformat()):
            replica.apply(envelope)
        for credential, code in ((token, "invalid_session"), (new.token, "invalid_api_key")):
            with pytest.raises(Problem) as refused:
                keys.authenticate(request_with(credential))
            assert (refused.value.status, refused.value.code) == (401, code)

    def test_a_session_from_before_a_role_change_is_refused(self):
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        changed = identity.UserRoleChanged(
            username="cd.clerk.wang", name="Wang Fang", role="branch_clerk", branch="SH"
        )
        replica = replica_of(CREATED, changed, at=datetime.now(UTC) + timedelta(seconds=1))
        keys = ApiKeys({}, replica=replica, session_secret=SECRET)
        with pytest.raises(Problem):
            keys.authenticate(request_with(token))

    def test_before_the_replica_has_caught_up_identity_credentials_wait_then_503(self):
        replica = IdentityReplica()
        keys = ApiKeys({"demo-hq-admin": CHENGDU_CLERK}, replica=replica, session_secret=SECRET)
        assert keys.authenticate(request_with("demo-hq-admin")).name == "cd.clerk.wang"
        with pytest.raises(Problem) as waiting:
            keys.authenticate(request_with(new_api_key().token))
        assert waiting.value.status == 503


class TestAuthenticatingWithoutWaiting:
    """The event loop authenticates a request itself when it can do so at once; what would
    wait (argon2 on a key not verified lately, a replica still catching up) is left to a
    worker thread."""

    def test_configured_keys_sessions_and_keys_verified_lately_are_answered_at_once(self):
        new, replica, keys = clerk_with_a_key()
        keys._grants = {"demo-hq-admin": CHENGDU_CLERK}
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        keys.authenticate(request_with(new.token))  # verified (argon2) and remembered
        for credential in ("demo-hq-admin", token, new.token):
            assert keys.authenticate(request_with(credential), wait=False).grant.branch == "CD"

    def test_a_key_not_verified_lately_would_wait_for_argon2(self):
        new, _, keys = clerk_with_a_key()
        with pytest.raises(WouldWait):
            keys.authenticate(request_with(new.token), wait=False)

    def test_identity_credentials_would_wait_for_a_replica_catching_up(self):
        replica = IdentityReplica()
        keys = ApiKeys({}, replica=replica, session_secret=SECRET)
        token = issue_session("cd.clerk.wang", CHENGDU_CLERK, secret=SECRET, ttl_s=600)
        for credential in (token, new_api_key().token):
            with pytest.raises(WouldWait):
                keys.authenticate(request_with(credential), wait=False)

    def test_refusals_are_answered_at_once(self):
        new, replica, keys = clerk_with_a_key()
        for credential in ("not-a-key", "dk_nope_nope", "a.b.c"):
            with pytest.raises(Problem) as refused:
                keys.authenticate(request_with(credential), wait=False)
            assert refused.value.status == 401
