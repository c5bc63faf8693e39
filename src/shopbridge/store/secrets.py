"""Encryption at rest for the credentials a connection holds (tokens, app and client secrets)."""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_KEY_VARIABLE = "SHOPBRIDGE_SECRET_KEY"

log = structlog.get_logger(__name__)


class SecretDecryptionError(ValueError):
    """A stored secret cannot be read with this key (wrong key, or the value was tampered with)."""


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) over UTF-8 text; the ciphertext is URL-safe text.

    `key` may list several keys separated by commas, newest first, to rotate: the first
    encrypts, any of them decrypts.
    """

    def __init__(self, key: str | bytes) -> None:
        text = key.decode("ascii") if isinstance(key, bytes) else key
        keys = [part.strip() for part in text.split(",") if part.strip()]
        if not keys:
            raise ValueError(f"{SECRET_KEY_VARIABLE} holds no key")
        self._fernet = MultiFernet([Fernet(part) for part in keys])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    @classmethod
    def from_environment(cls, key_file: Path | None = None) -> SecretBox:
        """The box for `SHOPBRIDGE_SECRET_KEY`, or for a key kept in `var/secret.key` when unset."""
        key = os.environ.get(SECRET_KEY_VARIABLE, "").strip()
        if key:
            return cls(key)
        path = key_file or Path.cwd() / "var" / "secret.key"
        log.warning(
            "secret key read from a local file; production should set the variable",
            variable=SECRET_KEY_VARIABLE,
            key_file=str(path),
        )
        return cls(_read_or_create_key_file(path))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as error:
            raise SecretDecryptionError(
                f"a stored secret cannot be decrypted: is {SECRET_KEY_VARIABLE} the key it was "
                "written with?"
            ) from error


def _read_or_create_key_file(path: Path) -> str:
    # The key decrypts every token in the database: its folder (./var, beside the SQLite file)
    # and the file itself are for this account only, like the database's (see store.db).
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # Write a complete key file aside, then link it into place: link() fails if the name
        # exists, so two processes starting at once agree on one key and never read a half file.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
            key_file.write(SecretBox.generate_key() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()
