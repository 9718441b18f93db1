"""Argon2id with at least OWASP's parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (already the `id` variant) with explicit, reviewed costs.

    It keeps Django's `argon2` algorithm name, so hashes made by either class verify
    with the other and raising the costs later re-hashes on the next login.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
