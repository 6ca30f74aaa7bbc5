"""The admin password (scrypt-hashed), the session-cookie secret, and rate-limited login attempts."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storage.models import AdminAccount, LoginAttempt, utcnow

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=10)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str = ""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def check_new_password(password: str, confirmation: str) -> str | None:
    """Why a new password cannot be used, or None when it can."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if password != confirmation:
        return "The two passwords are not the same."
    return None


def ensure_admin_account(*, session: Session, password: str | None = None, storage_secret: str | None = None) -> str:
    """Create the admin row on first start and return the storage secret. A given password (from the environment)
    replaces the stored one unless it already matches."""
    account = session.get(AdminAccount, 1)
    if account is None:
        account = AdminAccount(storage_secret=storage_secret or secrets.token_urlsafe(32))
    if storage_secret:
        account.storage_secret = storage_secret
    if password and not (account.password_hash and verify_password(password, account.password_hash)):
        account.password_hash = hash_password(password)
    session.add(account)
    session.flush()
    return account.storage_secret


def admin_password_is_set(*, session: Session) -> bool:
    account = session.get(AdminAccount, 1)
    return bool(account and account.password_hash)


def set_admin_password(*, session: Session, password: str) -> None:
    account = session.get(AdminAccount, 1) or AdminAccount(storage_secret=secrets.token_urlsafe(32))
    account.password_hash = hash_password(password)
    session.add(account)
    session.flush()


def attempt_login(*, session: Session, client: str, password: str) -> LoginResult:
    """Check a password, refusing to even try once a client has failed too often in the last few minutes."""
    since = utcnow() - FAILURE_WINDOW
    failures = session.exec(
        select(LoginAttempt.created_at)
        .where(LoginAttempt.client == client, LoginAttempt.success == sa.false(), LoginAttempt.created_at >= since)
        .order_by(LoginAttempt.created_at)
    ).all()
    if len(failures) >= MAX_FAILURES:
        wait = failures[-MAX_FAILURES] + FAILURE_WINDOW - utcnow()
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        return LoginResult(False, f"Too many wrong passwords. Try again in {minutes} minute{'s' * (minutes > 1)}.")
    account = session.get(AdminAccount, 1)
    ok = bool(account and account.password_hash and verify_password(password, account.password_hash))
    session.add(LoginAttempt(client=client, success=ok))
    session.flush()
    if ok:
        return LoginResult(True)
    left = MAX_FAILURES - len(failures) - 1
    pause = f"{int(FAILURE_WINDOW.total_seconds() // 60)}-minute pause"
    tries = "try" if left == 1 else "tries"
    return LoginResult(False, f"That password is not right. {left} {tries} left before a {pause}.")
