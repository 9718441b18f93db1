"""`manage.py seed_users --count N`: many ACTIVE users fast, for benchmarks and scale tests.

One password hash is computed and shared by every user (hashing a million passwords would
take hours); rows go in with COPY on PostgreSQL and multi-row INSERTs elsewhere, in
batches. A share of the users get a verified phone, so phone search has data.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from otp.models import SmsDevice

EMAIL_DOMAIN = "seed.example"
# Spanish mobile numbers +34 6XX XXX XXX: valid for libphonenumber, 10^8 of them.
PHONE_PREFIX = "+346"
PHONE_DIGITS = 8


def _batches(objects: Iterable[models.Model], size: int) -> Iterator[list[models.Model]]:
    iterator = iter(objects)
    while batch := list(islice(iterator, size)):
        yield batch


def rows_insert(model: type[models.Model], objects: list[models.Model]) -> None:
    """Insert `objects` in one statement: COPY on PostgreSQL, a multi-row INSERT elsewhere."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=len(objects))
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for instance in objects:
            copy.write_row(
                [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
            )


class Command(BaseCommand):
    help = "Create COUNT active users sharing one password, a share of them with a verified phone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="How many users to create.")
        parser.add_argument(
            "--password",
            default=None,
            help="Their password (one hash for all). Without it they get an unusable password.",
        )
        parser.add_argument(
            "--phone-share",
            type=float,
            default=0.1,
            help="Share of the users with a verified phone (default 0.1).",
        )
        parser.add_argument("--batch-size", type=int, default=10_000, help="Rows per statement.")

    def handle(self, *args: Any, **options: Any) -> None:
        count, share, batch_size = options["count"], options["phone_share"], options["batch_size"]
        if count < 1 or batch_size < 1:
            raise CommandError("--count and --batch-size must be at least 1.")
        if not 0 <= share <= 1:
            raise CommandError("--phone-share is a share between 0 and 1.")
        started = time.monotonic()
        tag = secrets.token_hex(4)
        password_hash = make_password(options["password"])
        phone_every = round(1 / share) if share else 0
        now = timezone.now()
        users = (
            self._user(
                tag,
                number,
                count,
                password_hash,
                now,
                with_phone=bool(phone_every) and number % phone_every == 0,
            )
            for number in range(count)
        )
        for batch in _batches(users, batch_size):
            with transaction.atomic():
                rows_insert(User, batch)
        phones = self._phones_add(tag, count, batch_size)
        self.stdout.write(
            f"Created {count} users ({phones} with a verified phone) in {time.monotonic() - started:.1f} s: "
            f"{tag}-0@{EMAIL_DOMAIN} to {tag}-{count - 1}@{EMAIL_DOMAIN}."
        )

    @staticmethod
    def _user(
        tag: str, number: int, count: int, password_hash: str, now: datetime, *, with_phone: bool
    ) -> User:
        joined = now - timedelta(seconds=count - number)
        return User(
            email=f"{tag}-{number}@{EMAIL_DOMAIN}",
            password=password_hash,
            date_joined=joined,
            last_login=joined,
            password_changed_at=joined,
            email_verified_at=joined,
            phone_verified_at=joined if with_phone else None,
        )

    @staticmethod
    def _phones_add(tag: str, count: int, batch_size: int) -> int:
        """A confirmed SMS device for each user of this run whose phone is verified."""
        first_number = secrets.randbelow(10**PHONE_DIGITS - count)
        user_ids = list(
            User.objects.filter(email__startswith=f"{tag}-", phone_verified_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        devices = (
            SmsDevice(
                user_id=user_id,
                name="Phone",
                number=f"{PHONE_PREFIX}{first_number + offset:0{PHONE_DIGITS}d}",
                confirmed=True,
            )
            for offset, user_id in enumerate(user_ids)
        )
        for batch in _batches(devices, batch_size):
            with transaction.atomic():
                rows_insert(SmsDevice, batch)
        return len(user_ids)
