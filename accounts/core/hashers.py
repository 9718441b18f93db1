"""Argon2id with at least OWASP's parameters (m=19 MiB, t=2, p=1), one hash at a time per process."""

from __future__ import annotations

import threading

from django.contrib.auth.hashers import Argon2PasswordHasher

# A hash is CPU work outside the GIL, with a 19 MiB buffer of its own. gunicorn runs one
# worker process per core, so one hash at a time in each keeps every core busy; more at once
# (a worker's threads all hashing) only shares the same cores and keeps a 19 MiB buffer per
# thread resident after it (docs/benchmarks.md, "Memory"). Other requests go on meanwhile.
_ONE_HASH_AT_A_TIME = threading.Lock()


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (already the `id` variant) with explicit, reviewed costs.

    It keeps Django's `argon2` algorithm name, so hashes made by either class verify
    with the other and raising the costs later re-hashes on the next login.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with _ONE_HASH_AT_A_TIME:
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with _ONE_HASH_AT_A_TIME:
            return super().verify(password, encoded)
