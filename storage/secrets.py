"""Channel secrets (bot tokens, app secrets, verify tokens, webhook secrets) encrypted at rest.

The key never lives in the database: it is `REFERFLOW_SECRET_KEY` (a Fernet key: 32 random bytes, url-safe base64,
as `referflow channels key` or `Fernet.generate_key()` gives), else a key file created once beside the database file
(`referflow.db.key`, mode 0600, readable by its owner only). Losing the key loses the saved secrets (connect the
channels again), never anything else.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "REFERFLOW_SECRET_KEY"
MASK = "••••"


class SecretKeyError(ValueError):
    """The secret key cannot be read or is not a key, said so that the person running Referflow can fix it."""


@dataclass(frozen=True)
class SecretBox:
    """Encrypts and decrypts secrets with the workspace's key (authenticated: a changed ciphertext is refused)."""

    fernet: Fernet

    def seal(self, secret: str) -> str:
        return self.fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        if not sealed:
            return ""
        try:
            return self.fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretKeyError("A saved channel secret cannot be decrypted with this secret key (was "
                                 f"{KEY_ENV} or the key file changed?). Connect the channel again.") from None


def load_secret_box(*, database_url: str, env: dict[str, str] | None = None) -> SecretBox:
    """The box for this database: the key from the environment, else the key file beside the database (created
    with a new random key the first time)."""
    env = os.environ if env is None else env
    value = env.get(KEY_ENV, "").strip()
    if value:
        return SecretBox(_fernet(value, f"{KEY_ENV}"))
    path = key_file(database_url)
    if path is None:
        raise SecretKeyError(f"This database is not a file, so there is nowhere to keep a key file: set {KEY_ENV}.")
    return SecretBox(_fernet(_read_or_create(path), str(path)))


def key_file(database_url: str) -> Path | None:
    """Where the key file of a file database lives; None for an in-memory database."""
    if not database_url.startswith("sqlite:///") or database_url.startswith("sqlite:///:memory:"):
        return None
    database = Path(database_url.removeprefix("sqlite:///"))
    return database.with_name(database.name + ".key")


def mask(secret: str) -> str:
    """What the admin sees of a saved secret: its last four characters (fewer of a short one)."""
    if not secret:
        return ""
    shown = 4 if len(secret) >= 12 else max(0, len(secret) // 4)
    return MASK + (secret[-shown:] if shown else "")


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretKeyError(f"The key file {path} can be read by others (mode {mode:o}); make it readable by "
                                 f"its owner only: chmod 600 {path}") from None
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(Fernet.generate_key().decode("ascii") + "\n")
    return path.read_text(encoding="ascii").strip()


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SecretKeyError(f"{where} is not a secret key: it must be 32 random bytes in url-safe base64 "
                             "(44 characters), e.g. from Fernet.generate_key().") from None
