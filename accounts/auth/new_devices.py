"""New-device sign-in alerts: after a login from a device the account has not used, tell its owner.

A device is known when the login carries a valid trusted-device token of the user (the
caller says so), when the browser sends back the pages' device cookie this user logged in
with, or when a login (or the sign-up) within `NEW_DEVICE_MEMORY_DAYS` had the same device
label and IP network (IPv4 /24, IPv6 /64). What the check needs is one row per place in
`KnownDevice`, read with one indexed query; a login from a known place writes nothing more
than once a day. The email leaves after the commit, off the request's time.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.core.user_agents import device_label
from accounts.models import KnownDevice, SecurityEvent, User

# A known place's `last_seen_at` is refreshed at most this often, so most logins only read.
LAST_SEEN_TOUCH = timedelta(days=1)
COOKIE_BYTES = 32
# What `secrets.token_urlsafe(32)` gives; anything much longer is not one of ours.
COOKIE_MAX_LENGTH = 64


def ip_network_of(ip: str | None) -> str:
    """The network a login comes from: `203.0.113.0/24`, `2001:db8:1:2::/64`; empty when unknown."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def device_cookie_new() -> str:
    """A fresh value for the pages' device cookie (random; only its hash is stored)."""
    return secrets.token_urlsafe(COOKIE_BYTES)


def _cookie_hash(cookie: str | None) -> str:
    if not cookie or len(cookie) > COOKIE_MAX_LENGTH:
        return ""
    return hashlib.sha256(cookie.encode()).hexdigest()


def _places_remember(
    *, user: User, device: str, network: str, cookie_hash: str, now: datetime, known: list[KnownDevice]
) -> None:
    """Insert or refresh the rows of this place (and of this browser's cookie); one statement, if any."""
    fresh = {row.cookie_hash for row in known if now - row.last_seen_at < LAST_SEEN_TOUCH}
    rows = []
    if "" not in fresh:
        rows.append(
            KnownDevice(user=user, device=device, network=network, first_seen_at=now, last_seen_at=now)
        )
    if cookie_hash and cookie_hash not in fresh:
        rows.append(KnownDevice(user=user, cookie_hash=cookie_hash, first_seen_at=now, last_seen_at=now))
    if rows:
        KnownDevice.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "device", "network", "cookie_hash"],
            update_fields=["last_seen_at"],
        )


def new_device_remember(*, user: User, client: Client) -> None:
    """The sign-up's place: the first login from where the account was made alerts no one."""
    if settings.NEW_DEVICE_ALERTS:
        now = timezone.now()
        _places_remember(
            user=user,
            device=device_label(client.user_agent),
            network=ip_network_of(client.ip),
            cookie_hash="",
            now=now,
            known=[],
        )


@dataclass(frozen=True)
class LoginPlace:
    """Where a login comes from, as the check compares it: the device label, the IP network and
    the hash of the pages' device cookie (empty without one)."""

    device: str
    network: str
    cookie_hash: str


def login_place_of(client: Client, device_cookie: str | None = None) -> LoginPlace:
    return LoginPlace(device_label(client.user_agent), ip_network_of(client.ip), _cookie_hash(device_cookie))


def place_memory_start(now: datetime) -> datetime:
    """A place's label and network seen before this no longer make it known."""
    return now - timedelta(days=settings.NEW_DEVICE_MEMORY_DAYS)


def known_places_read(*, user: User, place: LoginPlace, now: datetime) -> list[KnownDevice]:
    """The rows of `user` that make `place` known at `now`, none when it is new: its label and
    network seen since `place_memory_start`, or its cookie (one indexed query).

    `accounts.auth.login_rows` reads the same rows within the API login's one statement."""
    where = Q(
        device=place.device, network=place.network, cookie_hash="", last_seen_at__gt=place_memory_start(now)
    )
    if place.cookie_hash:
        where |= Q(device="", network="", cookie_hash=place.cookie_hash)
    return list(KnownDevice.objects.filter(where, user=user).only("cookie_hash", "last_seen_at"))


def new_device_login_check(
    *, user: User, client: Client, trusted_device: bool = False, device_cookie: str | None = None
) -> bool:
    """After a successful login: whether the device was known; when it was not, record and email it.

    `device_cookie` is the pages' device cookie this browser sends (or the one the login is about
    to set); it becomes known for `user`. Inside the login's transaction, so a refused login
    remembers nothing and tells nobody.
    """
    if not settings.NEW_DEVICE_ALERTS or trusted_device:
        return True
    place = login_place_of(client, device_cookie)
    known = known_places_read(user=user, place=place, now=timezone.now())
    return new_device_login_after(user=user, client=client, place=place, known=known)


def new_device_login_after(
    *, user: User, client: Client, place: LoginPlace, known: list[KnownDevice]
) -> bool:
    """The check once `known` (the rows of `known_places_read`) is read: whether the place was
    known; the place remembered, and a new one recorded and emailed."""
    now = timezone.now()
    device, network, cookie_hash = place.device, place.network, place.cookie_hash
    is_known = bool(known)
    _places_remember(user=user, device=device, network=network, cookie_hash=cookie_hash, now=now, known=known)
    if not is_known:
        security_event_record(
            user=user,
            type=SecurityEvent.Type.NEW_DEVICE_LOGIN,
            client=client,
            details={"device": device, "ip": client.ip or ""},
        )
        notifications.new_device_login_notify(user=user, when=now, device=device, ip=client.ip)
    return is_known
