"""The admin password (scrypt-hashed), the session-cookie secret, rate-limited login attempts, and server-side
admin sessions (a new random token at every sign-in, deleted at sign-out)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storage.models import AdminAccount, AdminSession, LoginAttempt, utcnow

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5  # per client address within FAILURE_WINDOW
FAILURE_WINDOW = timedelta(minutes=10)
# Per account, whatever the addresses: after ACCOUNT_FREE_FAILURES wrong passwords in a row (since the last sign-in,
# within ACCOUNT_MEMORY) each further try waits ACCOUNT_FIRST_PAUSE, doubling up to ACCOUNT_MAX_PAUSE. A distributed
# attack gets one guess per pause at most, and the admin is never locked out for longer than ACCOUNT_MAX_PAUSE.
ACCOUNT_FREE_FAILURES = 10
ACCOUNT_FIRST_PAUSE = timedelta(minutes=1)
ACCOUNT_MAX_PAUSE = timedelta(minutes=15)
ACCOUNT_MEMORY = timedelta(hours=24)
# A browser that signed in before (a known device) is not held up by the account pause, so an attack from elsewhere
# cannot keep the admin out; it is paused like any other after DEVICE_MAX_FAILURES wrong passwords of its own.
DEVICE_MAX_FAILURES = 5
DEVICE_LIFETIME = timedelta(days=180)
SESSION_LIFETIME = timedelta(days=7)
TICKET_LIFETIME = timedelta(seconds=60)
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
        _end_all_sessions(session)  # a new password: whoever was signed in with the old one is out
    session.add(account)
    session.flush()
    return account.storage_secret


def admin_password_is_set(*, session: Session) -> bool:
    account = session.get(AdminAccount, 1)
    return bool(account and account.password_hash)


def set_admin_password(*, session: Session, password: str) -> None:
    account = session.get(AdminAccount, 1) or AdminAccount(storage_secret=secrets.token_urlsafe(32))
    account.password_hash = hash_password(password)
    _end_all_sessions(session)
    session.add(account)
    session.flush()


def _end_all_sessions(session: Session) -> None:
    session.execute(sa.delete(AdminSession))


def attempt_login(*, session: Session, client: str, password: str, device: str | None = None,
                  now: datetime | None = None) -> LoginResult:
    """Check a password, refusing to even try once a client has failed too often in the last few minutes, or while
    the account pauses after many failures from anywhere (unless `device`, the browser's known-device token, names
    a browser that signed in before). Refused tries are not recorded and not checked."""
    now = now or utcnow()
    since = now - FAILURE_WINDOW
    failures = session.exec(
        select(LoginAttempt.created_at)
        .where(LoginAttempt.client == client, LoginAttempt.success == sa.false(), LoginAttempt.created_at >= since)
        .order_by(LoginAttempt.created_at)
    ).all()
    if len(failures) >= MAX_FAILURES:
        wait = _as_utc(failures[-MAX_FAILURES]) + FAILURE_WINDOW - now
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        return LoginResult(False, f"Too many wrong passwords. Try again in {minutes} minute{'s' * (minutes > 1)}.")
    known = _known_device(session, device, now)
    paused_until = account_paused_until(session=session, now=now)
    if paused_until is not None and not _device_exempt(session, known, now):
        return LoginResult(False, _pause_message(paused_until, now))
    account = session.get(AdminAccount, 1)
    ok = bool(account and account.password_hash and verify_password(password, account.password_hash))
    session.add(LoginAttempt(client=client, success=ok, created_at=now, device=known))
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at < now - ACCOUNT_MEMORY))
    session.flush()
    if ok:
        return LoginResult(True)
    paused_until = account_paused_until(session=session, now=now)
    if paused_until is not None and not _device_exempt(session, known, now):
        return LoginResult(False, "That password is not right. " + _pause_message(paused_until, now))
    left = MAX_FAILURES - len(failures) - 1
    pause = f"{int(FAILURE_WINDOW.total_seconds() // 60)}-minute pause"
    tries = "try" if left == 1 else "tries"
    return LoginResult(False, f"That password is not right. {left} {tries} left before a {pause}.")


def _known_device(session: Session, token: str | None, now: datetime) -> str | None:
    """The stored digest of a known-device token, or None for an unknown, expired or absent one."""
    if not token:
        return None
    row = session.get(AdminSession, _digest(token))
    return row.token_hash if row and row.kind == "device" and _as_utc(row.expires_at) > now else None


def _device_exempt(session: Session, known: str | None, now: datetime) -> bool:
    """A known browser skips the account pause until it has failed DEVICE_MAX_FAILURES times in a row itself."""
    if known is None:
        return False
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.created_at)).where(LoginAttempt.device == known, LoginAttempt.success)
    ).one()
    since = max(_as_utc(last_success), now - ACCOUNT_MEMORY) if last_success else now - ACCOUNT_MEMORY
    failures = session.exec(
        select(sa.func.count()).where(LoginAttempt.device == known, LoginAttempt.success == sa.false(),
                                      LoginAttempt.created_at > since)
    ).one()
    return failures < DEVICE_MAX_FAILURES


def remember_device(*, session: Session, token: str | None) -> str:
    """After a sign-in: the browser's known-device token (kept, with a fresh lifetime, or new)."""
    now = utcnow()
    row = session.get(AdminSession, _digest(token)) if token else None
    if row is None or row.kind != "device" or _as_utc(row.expires_at) <= now:
        token = secrets.token_urlsafe(32)
        row = AdminSession(token_hash=_digest(token), kind="device", created_at=now)
    row.expires_at = now + DEVICE_LIFETIME
    session.add(row)
    session.flush()
    return token


def account_paused_until(*, session: Session, now: datetime | None = None) -> datetime | None:
    """When the admin account may be tried again after many wrong passwords in a row, or None if it may now."""
    now = now or utcnow()
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.created_at)).where(LoginAttempt.success == sa.true())
    ).one()
    since = max(_as_utc(last_success), now - ACCOUNT_MEMORY) if last_success else now - ACCOUNT_MEMORY
    count, last_failure = session.exec(
        select(sa.func.count(), sa.func.max(LoginAttempt.created_at))
        .where(LoginAttempt.success == sa.false(), LoginAttempt.created_at > since)
    ).one()
    if count < ACCOUNT_FREE_FAILURES:
        return None
    doublings = min(count - ACCOUNT_FREE_FAILURES, 16)
    pause = min(ACCOUNT_FIRST_PAUSE * 2**doublings, ACCOUNT_MAX_PAUSE)
    until = _as_utc(last_failure) + pause
    return until if until > now else None


def _pause_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return (f"Sign-in to this account is paused after {ACCOUNT_FREE_FAILURES} or more wrong passwords in a row. "
            f"Try again at {until:%H:%M} UTC (in {minutes} minute{'s' * (minutes > 1)}). A browser that has signed in "
            "here before is not held up.")


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------- sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_ticket(*, session: Session, browser_id: str, redirect_to: str) -> str:
    """A one-time ticket, valid for a minute and only for this browser, that /login/complete trades for a session."""
    ticket = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AdminSession(token_hash=_digest(ticket), kind="ticket", browser_id=browser_id,
                             redirect_to=redirect_to, created_at=now, expires_at=now + TICKET_LIFETIME))
    session.flush()
    return ticket


def redeem_login_ticket(*, session: Session, ticket: str, browser_id: str | None) -> tuple[str, str] | None:
    """Use up a ticket and start a new admin session: (session token, page to land on), or None when the ticket is
    unknown, used, expired or from another browser. Expired sessions and tickets are swept away meanwhile."""
    now = utcnow()
    session.execute(sa.delete(AdminSession).where(AdminSession.expires_at < now))
    row = session.get(AdminSession, _digest(ticket)) if ticket else None
    if row is None or row.kind != "ticket":
        return None
    session.delete(row)
    session.flush()
    if _as_utc(row.expires_at) < now or not browser_id or not hmac.compare_digest(row.browser_id or "", browser_id):
        return None
    token = secrets.token_urlsafe(32)
    session.add(AdminSession(token_hash=_digest(token), kind="session", created_at=now,
                             expires_at=now + SESSION_LIFETIME))
    session.flush()
    return token, row.redirect_to or "/"


def session_is_valid(*, session: Session, token: str | None) -> bool:
    if not token:
        return False
    row = session.get(AdminSession, _digest(token))
    return bool(row and row.kind == "session" and _as_utc(row.expires_at) > utcnow())


def end_session(*, session: Session, token: str | None) -> None:
    """Sign out: the token (and every copy of the cookie that holds it) stops working for good."""
    if token:
        session.execute(sa.delete(AdminSession).where(AdminSession.token_hash == _digest(token)))
        session.flush()
