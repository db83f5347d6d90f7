"""Credentials identity issues and every service checks: argon2id hashes of passwords and
API keys, the API key's format, and signed session tokens.

Pure functions and small values: no I/O. The identity service hashes; every process that
authenticates verifies (runtime.http.auth), against the replica it keeps of the identity
topic (runtime.identity_replica).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from runtime.settings import ApiKeyGrant

# argon2id with the library's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes).
_HASHER = PasswordHasher()
# Verified against when the user is unknown, so that an unknown user name takes as long to
# refuse as a wrong password and the timing tells nothing.
_UNKNOWN_USER_HASH = _HASHER.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10
API_KEY_PREFIX = "dk"
_API_KEY = re.compile(r"^dk_([a-z0-9]{8,32})_([A-Za-z0-9_-]{32,64})$")
SESSION_ALGORITHM = "HS256"
SESSION_ISSUER = "dist-identity"


class WeakPassword(ValueError):
    pass


def check_password_rules(password: str, *, username: str) -> None:
    """At least MIN_PASSWORD_LENGTH characters, not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if username.lower() in password.lower():
        raise WeakPassword("a password may not contain the user name")


def hash_secret(secret: str) -> str:
    """The argon2id hash (PHC string, salt included) of a password or an API key's secret."""
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches; with no hash (an unknown user), spends the same time."""
    try:
        return _HASHER.verify(stored_hash or _UNKNOWN_USER_HASH, secret) and bool(stored_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """What the integration sends: ``dk_<key_id>_<secret>``, shown once."""
        return f"{API_KEY_PREFIX}_{self.key_id}_{self.secret}"


def new_api_key() -> NewApiKey:
    return NewApiKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def parse_api_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of an identity-issued key, or None when it is not one."""
    match = _API_KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class Session:
    """What a session token says: who, with which role and scope, from when until when
    (milliseconds since the epoch, so that a change a moment after sign-in is later)."""

    username: str
    grant: ApiKeyGrant
    issued_ms: int
    expires_ms: int


def issue_session(username: str, grant: ApiKeyGrant, *, secret: str, ttl_s: int) -> str:
    now_ms = int(time.time() * 1000)
    claims = {
        "iss": SESSION_ISSUER,
        "sub": username,
        "iat": now_ms // 1000,
        "exp": now_ms // 1000 + ttl_s,
        "iat_ms": now_ms,
        "grant": grant.model_dump(mode="json", exclude_none=True),
    }
    return jwt.encode(claims, secret, algorithm=SESSION_ALGORITHM)


def read_session(token: str, *, secret: str) -> Session | None:
    """The session, if the token is one signed with ``secret`` and not expired; else None."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[SESSION_ALGORITHM],
            issuer=SESSION_ISSUER,
            options={"require": ["sub", "iat", "exp", "iss"]},
        )
        grant = ApiKeyGrant.model_validate(claims["grant"])
        issued_ms = int(claims["iat_ms"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return None
    return Session(
        username=str(claims["sub"]),
        grant=grant,
        issued_ms=issued_ms,
        expires_ms=int(claims["exp"]) * 1000,
    )
