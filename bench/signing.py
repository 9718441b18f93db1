"""Signing cost: ES256, RS256 and HS256 sign and verify per second, on an idToken's claims.

Run as `python -m bench.signing` (part of `make bench`). Keys: tests/keys/es256-test.pem
and rs256-test.pem; HS256 with a 256-bit secret. Each operation is timed for a fixed time
through PyJWT, as the service signs and verifies, in this process.
"""

from __future__ import annotations

import argparse
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

KEYS_DIR = Path(__file__).resolve().parent.parent / "tests" / "keys"


@dataclass(frozen=True)
class SigningCost:
    algorithm: str
    signs_per_second: float
    verifies_per_second: float
    token_bytes: int


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "token_type": "access",
        "exp": now + 900,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sub": "123456",
        "email": "someone@example.com",
        "email_verified": True,
        "amr": ["pwd", "otp"],
        "gen": 0,
        "iss": "auth-service",
        "aud": "auth-service-clients",
    }


def _rate(operation: Callable[[], object], seconds: float) -> float:
    operation()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            operation()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


def signing_cost(algorithm: str, signing_key: Any, verifying_key: Any, *, seconds: float) -> SigningCost:
    claims = _claims()
    token = jwt.encode(claims, signing_key, algorithm=algorithm, headers={"kid": "bench"})
    options = {"require": ["exp", "iat", "jti", "sub", "iss", "aud"]}

    def verify() -> object:
        return jwt.decode(
            token,
            verifying_key,
            algorithms=[algorithm],
            audience="auth-service-clients",
            issuer="auth-service",
            options=options,
        )

    return SigningCost(
        algorithm=algorithm,
        signs_per_second=_rate(lambda: jwt.encode(claims, signing_key, algorithm=algorithm), seconds),
        verifies_per_second=_rate(verify, seconds),
        token_bytes=len(token),
    )


def _private_key(name: str) -> Any:
    return serialization.load_pem_private_key((KEYS_DIR / name).read_bytes(), password=None)


def signing_costs(seconds: float = 1.5) -> list[SigningCost]:
    es256, rs256 = _private_key("es256-test.pem"), _private_key("rs256-test.pem")
    secret = secrets.token_bytes(32)
    return [
        signing_cost("ES256", es256, es256.public_key(), seconds=seconds),
        signing_cost("RS256", rs256, rs256.public_key(), seconds=seconds),
        signing_cost("HS256", secret, secret, seconds=seconds),
    ]


def signing_report(costs: list[SigningCost]) -> str:
    from .report import markdown_table

    rows = [
        [
            cost.algorithm,
            f"{cost.signs_per_second:,.0f}",
            f"{1e6 / cost.signs_per_second:.0f}",
            f"{cost.verifies_per_second:,.0f}",
            f"{1e6 / cost.verifies_per_second:.0f}",
            str(cost.token_bytes),
        ]
        for cost in costs
    ]
    return markdown_table(
        ["algorithm", "signs/s", "µs/sign", "verifies/s", "µs/verify", "idToken bytes"], rows
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time per operation and algorithm")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    arguments = parser.parse_args(argv)
    table = signing_report(signing_costs(arguments.seconds))
    print(table)
    if not arguments.no_docs:
        from .report import section_replace

        section_replace("signing-results", table)


if __name__ == "__main__":
    main()
