"""The users, devices and prepared requests the benchmark needs, made directly in the bench database."""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import User
from config.urls_bench import HASH_FLOOR_PASSWORD
from otp.models import CodePurpose, SmsDevice, code_digest

from .load import RequestLine

PASSWORD = "bench password, long enough to be fine"  # noqa: S105 - throwaway users of a throwaway database
EMAIL_DOMAIN = "bench.example"
BATCH_SIZE = 2000


def _database_create_if_missing(name: str) -> None:
    if connection.vendor != "postgresql":
        return
    # Django's own way in before the database exists: a cursor on the maintenance database.
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")


def database_prepare() -> None:
    """Create and migrate the bench database; refuses one not named for benchmarks."""
    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r} for benchmarks: its name must contain 'bench'.")
    _database_create_if_missing(name)
    call_command("migrate", interactive=False, verbosity=0)


def database_reset() -> None:
    """A migrated and empty bench database, and no codes left from the users it had."""
    database_prepare()
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(settings.EMAIL_FILE_PATH, ignore_errors=True)
    Path(settings.SMS_FILE_PATH).unlink(missing_ok=True)


def password_hash_milliseconds(samples: int = 30) -> float:
    """The median time to check a password against a hash of the first PASSWORD_HASHERS entry."""
    encoded = make_password(PASSWORD)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        check_password(PASSWORD, encoded)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def users_create(pool: str, count: int, **fields: object) -> list[User]:
    """`count` ACTIVE users `<pool>-<n>@bench.example` sharing one Argon2id hash of PASSWORD."""
    now = timezone.now()
    password_hash = make_password(PASSWORD)
    defaults = {
        "password": password_hash,
        "last_login": now,
        "password_changed_at": now,
        "email_verified_at": now,
        "last_login_device": "bench",
    }
    users = [User(email=f"{pool}-{n}@{EMAIL_DOMAIN}", **{**defaults, **fields}) for n in range(count)]
    return User.objects.bulk_create(users, batch_size=BATCH_SIZE)


def _json(**body: str) -> str:
    return json.dumps(body, separators=(",", ":"))


def _bearer(user: User) -> str:
    return f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}"


def floor_lines() -> list[RequestLine]:
    return [RequestLine(body=_json(password=HASH_FLOOR_PASSWORD))]


def login_lines(users: list[User]) -> list[RequestLine]:
    return [RequestLine(body=_json(email=user.email, password=PASSWORD)) for user in users]


def refresh_lines(users: list[User]) -> list[RequestLine]:
    lines = []
    for user in users:
        refresh_token = tokens_for_login(user, amr=AMR_PASSWORD).refresh_token
        lines.append(RequestLine(body=_json(refreshToken=refresh_token)))
    return lines


def bearer_lines(users: list[User], body: str = "") -> list[RequestLine]:
    return [RequestLine(authorization=_bearer(user), body=body) for user in users]


def sms_users_create(pool: str, count: int, **fields: object) -> list[User]:
    """Users with a phone, verified or not (see `fields`), each its own number."""
    users = users_create(pool, count, **fields)
    offset = SmsDevice.objects.count()
    SmsDevice.objects.bulk_create(
        [
            SmsDevice(
                user=user,
                name="Phone",
                number=f"+346{offset + n:08d}",
                confirmed=fields.get("phone_verified_at") is not None,
            )
            for n, user in enumerate(users)
        ],
        batch_size=BATCH_SIZE,
    )
    return users


def sms_send_lines(count: int) -> list[RequestLine]:
    """Users with a verified phone: `GET /auth/otp/code?method=SMS` sends them a step-up code."""
    users = sms_users_create("sms", count, phone_verified_at=timezone.now())
    return bearer_lines(users)


def otp_verify_lines(pool: str, count: int) -> list[RequestLine]:
    """Users with a pending phone and a known code each: `POST /auth/otp/code` confirms it, once."""
    users = sms_users_create(pool, count)
    valid_until = timezone.now() + timedelta(seconds=settings.OTP_CODE_VALIDITY_SECONDS)
    codes = {user.pk: f"{secrets.randbelow(10**6):06d}" for user in users}
    devices = list(SmsDevice.objects.filter(user__in=users))
    for device in devices:
        device.token = code_digest(codes[device.user_id])
        device.purpose = CodePurpose.VERIFY
        device.valid_until = valid_until
    SmsDevice.objects.bulk_update(devices, ["token", "purpose", "valid_until"], batch_size=BATCH_SIZE)
    body = _json(channel="SMS")
    return [RequestLine(authorization=_bearer(user), otp=codes[user.pk], body=body) for user in users]


def totp_users_create(pool: str, count: int) -> list[TOTPDevice]:
    users = users_create(pool, count, totp_verified_at=timezone.now())
    devices = [TOTPDevice(user=user, name="Authenticator app", confirmed=True, tolerance=1) for user in users]
    return TOTPDevice.objects.bulk_create(devices, batch_size=BATCH_SIZE)


def totp_login_lines(devices: list[TOTPDevice]) -> list[RequestLine]:
    """Password + the current TOTP code, one login per device: a used step is refused after.

    A code of step t is accepted until the end of step t+1, so these lines stay good for at
    least 30 s: write them right before the run, which must be shorter than that.
    """
    lines = []
    for device in devices:
        code = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits).token()
        lines.append(
            RequestLine(
                otp=f"{code:0{device.digits}d}", body=_json(email=device.user.email, password=PASSWORD)
            )
        )
    return lines
