"""Password hashing with Argon2id (pwdlib), off the event loop.

Hashing takes tens of milliseconds of CPU on purpose; it runs in a worker thread so that one
login does not stall every other request. When the hasher's parameters change, a successful
login returns a new hash to store (`verify` -> `(valid, new_hash)`).
"""

import secrets
from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool

password_hash = PasswordHash((Argon2Hasher(),))


async def hash_password(password: str) -> str:
    return await run_in_threadpool(password_hash.hash, password)


async def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Whether `password` matches, and a new hash when the stored one has old parameters."""
    return await run_in_threadpool(password_hash.verify_and_update, password, hashed)


@cache
def _dummy_hash(hasher: PasswordHash) -> str:
    """A hash made with the current parameters, so that verifying it costs what a real one does."""
    return hasher.hash(secrets.token_urlsafe(16))


async def burn_verification_time(password: str) -> None:
    """Spend the time of a real verification: an unknown e-mail must not answer faster."""
    await run_in_threadpool(password_hash.verify, password, _dummy_hash(password_hash))
