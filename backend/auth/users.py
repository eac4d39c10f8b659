"""Staff accounts in the records store; passwords hashed with argon2id (argon2-cffi)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.audit.chain import append_audit
from backend.auth.roles import Principal, Role
from backend.auth.tables import UserRow
from backend.records.store import RecordsStore, guarded

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LANGUAGES = ("en", "zh")
MIN_PASSWORD_LENGTH = 8

# One hasher with argon2-cffi's defaults (argon2id, RFC 9106 low-memory profile).
_HASHER = PasswordHasher()
# Verified against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = _HASHER.hash("bordergate-no-such-user")


class UserError(ValueError):
    """Bad account data (username taken, bad role, short password): nothing was changed."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    display_name: str
    role: Role
    language: str
    disabled: bool
    created_at: datetime

    def principal(self) -> Principal:
        return Principal(
            username=self.username,
            role=self.role,
            display_name=self.display_name,
            language=self.language,
        )


def normalise_username(username: str) -> str:
    return username.strip().lower()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _info(row: UserRow) -> UserInfo:
    return UserInfo(
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        language=row.language,
        disabled=row.disabled,
        created_at=row.created_at,
    )


def validate_new_user(
    username: str, role: str, display_name: str, language: str, password: str
) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise UserError(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in {r.value for r in Role}:
        raise UserError(f"role must be one of {', '.join(r.value for r in Role)}")
    if not display_name.strip() or len(display_name) > 128:
        raise UserError("display name must be 1-128 characters")
    if language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


@guarded
def create_user(
    store: RecordsStore,
    *,
    username: str,
    role: Role | str,
    display_name: str,
    password: str,
    language: str = "en",
    actor: str = "cli",
) -> UserInfo:
    """Add an account (audited). UserError if the data is bad or the username is taken."""
    name = normalise_username(username)
    validate_new_user(name, str(role), display_name, language, password)
    row = UserRow(
        username=name,
        display_name=display_name.strip(),
        role=str(role),
        language=language,
        password_hash=hash_password(password),
        disabled=False,
        created_at=datetime.now(UTC),
    )
    try:
        with store.session() as session, session.begin():
            session.add(row)
            session.flush()
            append_audit(
                session,
                kind="user-created",
                actor=actor,
                subject=name,
                detail={"role": str(role), "language": language},
            )
    except IntegrityError:
        raise UserError(f"username {name!r} is already taken") from None
    return _info(row)


@guarded
def get_user(store: RecordsStore, username: str) -> UserInfo | None:
    with store.session() as session:
        row = session.get(UserRow, normalise_username(username))
        return None if row is None else _info(row)


@guarded
def list_users(store: RecordsStore) -> list[UserInfo]:
    with store.session() as session:
        return [
            _info(r) for r in session.execute(select(UserRow).order_by(UserRow.username)).scalars()
        ]


@guarded
def check_password(store: RecordsStore, username: str, password: str) -> UserInfo | None:
    """The account if the password is right and it is enabled; None otherwise (blocking, slow)."""
    with store.session() as session:
        row = session.get(UserRow, normalise_username(username))
        stored_hash = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _HASHER.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        if _HASHER.check_needs_rehash(row.password_hash):  # the hasher's parameters changed
            row.password_hash = hash_password(password)
            session.commit()
        return _info(row)


@guarded
def set_disabled(store: RecordsStore, username: str, disabled: bool, *, actor: str) -> bool:
    """Disable or enable an account (audited); False if there is no such account."""
    name = normalise_username(username)
    with store.session() as session, session.begin():
        row = session.get(UserRow, name)
        if row is None:
            return False
        row.disabled = disabled
        append_audit(
            session,
            kind="user-disabled" if disabled else "user-enabled",
            actor=actor,
            subject=name,
            detail={},
        )
        return True


@guarded
def set_role(store: RecordsStore, username: str, role: Role | str, *, actor: str) -> bool:
    """Change an account's role (audited); open sessions carry the new role from their next
    request. False if there is no such account; UserError for an unknown role."""
    if str(role) not in {r.value for r in Role}:
        raise UserError(f"role must be one of {', '.join(r.value for r in Role)}")
    name = normalise_username(username)
    with store.session() as session, session.begin():
        row = session.get(UserRow, name)
        if row is None:
            return False
        if row.role != str(role):
            append_audit(
                session,
                kind="user-role-changed",
                actor=actor,
                subject=name,
                detail={"from": row.role, "to": str(role)},
            )
            row.role = str(role)
        return True


@guarded
def active_principal(store: RecordsStore, username: str) -> Principal | None:
    """The account's principal as stored now; None if it is disabled or does not exist."""
    with store.session() as session:
        row = session.get(UserRow, normalise_username(username))
        if row is None or row.disabled:
            return None
        return _info(row).principal()
