"""Passwords: bcrypt with a per-password salt, over a SHA-256 pre-hash (bcrypt reads only 72 bytes).
There is no default password anywhere: the first admin gets a generated one, shown once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets

import bcrypt

from recon.access.roles import normalise_username

# ------------------------------------------------------------------------------------------ passwords

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


def _prehash(password: str) -> bytes:
    """SHA-256, base64: bcrypt reads only the first 72 bytes and stops at NUL; this keeps every byte."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A salted bcrypt hash of ``password`` (``$2b$...``, 60 characters)."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant time; a malformed hash never matches)."""
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


@functools.cache
def decoy_hash() -> str:
    """Checked when the user does not exist, so a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def password_problems(password: str, username: str = "") -> list[str]:
    """Why ``password`` is not acceptable (empty when it is): length, and not the user name."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if username and normalise_username(password) == normalise_username(username):
        problems.append("a password must not be the user name")
    return problems


def generate_password() -> str:
    """A random password (about 120 bits) for a new account, shown once."""
    return secrets.token_urlsafe(15)


