"""Passwords: bcrypt with a per-password salt, over a SHA-256 pre-hash (bcrypt reads only 72 bytes).
There is no default password anywhere: the first admin gets a generated one, shown once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
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


# Passwords people pick first (and their bases: "password" also refuses "Password2026!"), the product's
# own words, and keyboard walks the run check does not see. Short on purpose: the point is the obvious.
COMMON_PASSWORDS = frozenset((
    "password", "passwd", "passphrase", "qwerty", "qwertz", "azerty", "letmein", "welcome", "welcomeback", "admin",
    "administrator", "root", "guest", "changeme", "default", "secret", "login", "master", "superman", "batman",
    "iloveyou", "trustno", "monkey", "dragon", "football", "baseball", "soccer", "sunshine", "princess", "shadow",
    "whatever", "freedom", "starwars", "pokemon", "computer", "internet", "hello", "abc", "abcd", "test", "testing",
    "summer", "winter", "spring", "autumn", "monday", "january", "december", "company", "office", "billing",
    "invoice", "finance", "recon", "msp", "1qaz2wsx3edc", "1qaz2wsx", "zaq12wsx", "qazwsx", "qazwsxedc",
    "qazwsxedcrfv", "1q2w3e4r5t6y", "1q2w3e4r", "q1w2e3r4t5y6"
))
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm",
         "azertyuiopqsdfghjklmwxcvbn", "1234567890qwertyuiop")
_LEET = str.maketrans("013457@$!", "oleastasi")
_AROUND = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _is_repeated(text: str) -> bool:
    """Whether ``text`` is one group repeated (a last repeat may be cut short: ``fin-fin-fin``)."""
    sizes = range(1, min(len(text) // 2, 64) + 1)
    return any((text[:size] * (len(text) // size + 1)).startswith(text) for size in sizes)


def _is_run(text: str) -> bool:
    """Whether ``text`` walks an alphabet, the digits or a keyboard row, either way."""
    return len(text) >= 6 and any(text in run + run or text[::-1] in run + run for run in _RUNS)


def _common(password: str) -> bool:
    folded = password.casefold()
    core = _AROUND.sub("", folded).translate(_LEET)
    return folded in COMMON_PASSWORDS or folded.translate(_LEET) in COMMON_PASSWORDS or core in COMMON_PASSWORDS


def password_problems(password: str, username: str = "") -> list[str]:
    """Why ``password`` is not acceptable (empty when it is): 12 to 1024 characters; not the user name;
    not one character or group repeated (``aaaaaaaaaaaa``); not a run of letters, digits or keys
    (``abcdefghijkl``, ``qwertyuiopas``); not a common password, also with digits and symbols around it
    or letters written as digits (``Password2026!``, ``P@ssw0rd``)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if username and normalise_username(password) == normalise_username(username):
        problems.append("a password must not be the user name")
    elif _is_repeated(folded):
        problems.append("a password must not be one character or group repeated")
    elif _is_run(folded):
        problems.append("a password must not be a run of letters, digits or keys (abcdef, 123456, qwerty)")
    elif _common(password):
        problems.append("a password must not be a common one (such as Password2026!): choose a phrase of "
                        "a few words")
    return problems


def generate_password() -> str:
    """A random password (about 120 bits) for a new account, shown once."""
    return secrets.token_urlsafe(15)


