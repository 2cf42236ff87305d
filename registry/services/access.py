"""Who may do what: bearer tokens → principals with roles and a county scope; the audit trail.

Rules enforced here (and only here):
- ACCESS-1 A request without a valid, unrevoked token of an enabled user is anonymous; anonymous
  callers read only reference data and the validation helpers.
- ACCESS-2 A user with a county scope reads and writes only that county's parcels, units and
  applications (`FORBIDDEN` otherwise, with no data). Users without a scope (admin, auditor,
  city-level staff) see every county.
- ACCESS-3 Each operation names the roles that may run it; `admin` may run everything.
- ACCESS-4 Every successful change writes an audit entry in the same transaction.
- ACCESS-5 Disabling a user or revoking a token takes effect at once: every change to users or
  tokens sends NOTIFY registry_access on commit (a trigger, migration 0007, whoever makes the
  change), and each running worker clears its TokenCache when it hears it
  (registry/api/auth.py). A worker that cannot listen falls back to the cache's 30 s lifetime.
- ACCESS-6 (which parties a county-scoped caller can find) is enforced in the one query that
  looks parties up: registry/services/reads.py `party_tree`.
- ACCESS-7 auditor and trading_center are city-wide roles: the ledger serves them every county
  whatever the user row says (READ-1, WRITE-1 in registry/services/ledger/__init__.py), while the
  register's reads would scope them (ACCESS-2). A county scope for a user holding one of them
  would be half applied, so it is refused (`CITY_WIDE_ROLE`, `check_scope`) rather than
  stored; county work goes to a second user.
- Tokens are random (256 bits), shown once, stored only as SHA-256, and never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.access import ApiToken, AuditEntry, Role, User
from registry.db.reference import Division, DivisionLevel
from registry.services.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

TOKEN_PREFIX = "rg_"
# Who may read the register's parcels, units, rights and cases (within their county scope).
REGISTER_READERS = (Role.CLERK, Role.REVIEWER, Role.REGISTRAR, Role.AUDITOR)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    username: str
    roles: frozenset[Role]
    county_code: str | None  # None: every county

    def has_any(self, roles: Iterable[Role]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles.intersection(roles))

    def may_see_county(self, county_code: str) -> bool:
        return self.county_code is None or self.county_code == county_code


def require(principal: Principal | None, *roles: Role) -> Principal:
    """The principal, if authenticated and holding one of `roles` (ACCESS-1, ACCESS-3)."""
    if principal is None:
        raise Unauthenticated()
    if roles and not principal.has_any(roles):
        wanted = ", ".join(r.value for r in roles)
        raise Forbidden(f"this needs one of the roles: {wanted}",
                        f"此操作需要以下角色之一：{'、'.join(r.label_zh for r in roles)}")
    return principal


def require_county(principal: Principal, county_code: str) -> None:
    """ACCESS-2: refuse anything outside the principal's county."""
    if not principal.may_see_county(county_code):
        raise Forbidden(f"outside your county ({principal.county_code})",
                        f"超出本人辖区（{principal.county_code}）")


def visible_counties(principal: Principal) -> list[str] | None:
    """The counties a principal may read (None: all), for filtering lists (ACCESS-2)."""
    return None if principal.county_code is None else [principal.county_code]


def counties_to_read(principal: Principal, county_code: str | None) -> list[str] | None:
    """ACCESS-2 for lists: the counties a list may show (None: all) — the principal's own, or
    the one asked for if the principal may see it (FORBIDDEN otherwise)."""
    if county_code is None:
        return visible_counties(principal)
    require_county(principal, county_code)
    return [county_code]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class TokenCache:
    """Token → principal for a few seconds, so most requests need no extra round trip.

    Cleared when users or tokens change (ACCESS-5); `ttl` bounds what a missed clear costs.
    """

    ttl: float = 30.0
    max_entries: int = 10_000
    _entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0  # advanced by every clear()

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        with self._lock:
            found = self._entries.get(digest)
        if found is None or found[0] < time.monotonic():
            return False, None
        return True, found[1]

    def put(self, digest: str, principal: Principal | None, generation: int) -> None:
        """Keep what a lookup found, unless the cache was cleared since it began
        (`generation` read before the lookup): it may have read what was then revoked."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None (ACCESS-1)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = session.execute(
        select(User.id, User.username, User.roles, User.county_code)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_sha256 == token_sha256(token), ApiToken.revoked_at.is_(None),
               User.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    return Principal(user_id=row.id, username=row.username,
                     roles=frozenset(Role(r) for r in row.roles), county_code=row.county_code)


def principal_of_user(session: Session, user_id: int) -> Principal | None:
    """The principal user `user_id` acts as today (None if it is gone or disabled), for work
    done on its behalf later, such as a retried import (RESUME-2)."""
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        return None
    return Principal(user_id=user.id, username=user.username,
                     roles=frozenset(Role(r) for r in user.roles), county_code=user.county_code)


CITY_WIDE_ROLES = (Role.AUDITOR, Role.TRADING_CENTER)


def check_scope(roles: Iterable[Role | str], county_code: str | None) -> None:
    """ACCESS-7: no county scope for a user holding a city-wide role."""
    city_wide = [r for r in CITY_WIDE_ROLES if r in {Role(x) for x in roles}]
    if county_code is not None and city_wide:
        names = ", ".join(r.value for r in city_wide)
        raise InvalidInput(
            "CITY_WIDE_ROLE",
            f"{'、'.join(r.label_zh for r in city_wide)}面向全市，不能限定县区（{county_code}）",
            f"{names} is city-wide: a user holding it cannot have a county scope "
            f"({county_code}), which the ledger would ignore; use another user for county work")


def create_user(session: Session, username: str, roles: Iterable[Role | str],
                county_code: str | None = None,
                display_name: str | None = None) -> tuple[User, str]:
    """A new user and their first token (returned once, stored hashed)."""
    role_set = sorted({Role(r) for r in roles})
    if not role_set:
        raise InvalidInput("INVALID_ROLE", "至少需要一个角色", "at least one role is required")
    check_scope(role_set, county_code)
    if not username or len(username) > 64 or not username.replace("_", "").replace(
            "-", "").replace(".", "").isalnum():
        raise InvalidInput("INVALID_USERNAME", "用户名无效", f"invalid username: {username!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError("USER_EXISTS", f"用户已存在：{username}",
                          f"user already exists: {username}")
    if county_code is not None:
        level = session.scalar(select(Division.level).where(Division.code == county_code))
        if level is not DivisionLevel.COUNTY:
            raise InvalidInput("UNKNOWN_COUNTY", f"未知的县级区划：{county_code}",
                               f"not a known county: {county_code}")
    user = User(username=username, display_name=display_name or username, roles=role_set,
                county_code=county_code)
    session.add(user)
    session.flush()
    return user, issue_token(session, user.id, label="initial")


def issue_token(session: Session, user_id: int, label: str = "") -> str:
    token = new_token()
    session.add(ApiToken(user_id=user_id, token_sha256=token_sha256(token), label=label))
    session.flush()
    return token


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        raise NotFound("用户", "user", username)
    return user


def set_user_disabled(session: Session, username: str, disabled: bool, now: datetime,
                      operator: str) -> User:
    """Disable a user (every token of theirs stops working, ACCESS-1 and ACCESS-5) or enable
    them again; doing what is already done changes nothing."""
    user = _user_named(session, username)
    if (user.disabled_at is not None) == disabled:
        return user
    user.disabled_at = now if disabled else None
    system_audit(session, operator, "disableUser" if disabled else "enableUser",
                 f"user:{user.username}", None)
    session.flush()
    return user


def revoke_tokens(session: Session, username: str, now: datetime, operator: str,
                  label: str | None = None) -> int:
    """Revoke a user's live tokens (those with `label`, or all); how many (ACCESS-5)."""
    user = _user_named(session, username)
    tokens = list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                               *([ApiToken.label == label] if label is not None else []))
        .with_for_update()))
    for token in tokens:
        token.revoked_at = now
    if tokens:
        system_audit(session, operator, "revokeTokens", f"user:{user.username}", None,
                     {"tokens": [t.id for t in tokens], "label": label})
    session.flush()
    return len(tokens)


def audit(session: Session, principal: Principal, operation: str, target: str,
          request_id: str | None, details: dict[str, Any] | None = None) -> None:
    """ACCESS-4: record a change in the caller's transaction (details scrubbed, PII-3)."""
    from registry.services.pii import scrub

    session.add(AuditEntry(user_id=principal.user_id, username=principal.username,
                           request_id=request_id, operation=operation, target=scrub(target),
                           details=scrub(details or {})))


def system_audit(session: Session, name: str, operation: str, target: str,
                 request_id: str | None, details: dict[str, Any] | None = None) -> None:
    """ACCESS-4 for a caller without a token of its own (an operator at the command line,
    the trading center's signed feed, the service's sweeper), under its name."""
    from registry.services.pii import scrub

    session.add(AuditEntry(user_id=None, username=name, request_id=request_id,
                           operation=operation, target=scrub(target),
                           details=scrub(details or {})))
