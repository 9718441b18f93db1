"""Faults of the dependencies: the SMS gateway, Redis and the database going away.

Each answer is a clean 503 in the error shape, and nothing is left half-written: no phone
without its code, no code that was never delivered, no cool-down or SMS budget spent on a
message that never left, and no throttle that silently stops counting.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache, caches
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_session
from accounts.models import SecurityEvent, User
from otp import sms_backends
from otp.models import SmsDevice
from otp.sms_backends import BaseSmsBackend, SmsDeliveryError
from tests.conftest import authenticate, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.robustness.live_server import LiveServer, closed_port, live_server

NUMBER = "+34612345678"


def assert_unavailable(response: Any, code: str = "service_unavailable") -> dict[str, Any]:
    assert response.status_code == 503, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- the SMS gateway ------------------------------------------------------------------------------


@pytest.fixture
def refused() -> Iterator[int]:
    """A loopback port where nothing listens: the gateway is down."""
    sock = closed_port()
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def stalling() -> Iterator[int]:
    """A loopback port that takes the connection and never answers: the gateway hangs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def twilio_at(settings: Any, port: int) -> None:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
    settings.TWILIO_AUTH_TOKEN = "not-a-real-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    settings.SMS_TIMEOUT_SECONDS = 0.5


@pytest.fixture(params=["refused", "stalling"])
def gateway_down(request: pytest.FixtureRequest, settings: Any) -> None:
    twilio_at(settings, request.getfixturevalue(request.param))


def gateway_back(settings: Any) -> None:
    settings.SMS_BACKEND = "locmem"


def pending_phone(user: User) -> SmsDevice:
    return SmsDevice.objects.create(user=user, name="Phone", number=NUMBER, confirmed=False)


def verified_phone(user: User) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=NUMBER, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def device_state(device: SmsDevice) -> tuple[Any, ...]:
    device.refresh_from_db()
    return device.token, device.purpose, device.valid_until, device.last_generated_timestamp


@pytest.mark.django_db
def test_adding_a_phone_with_the_gateway_down_leaves_no_phone(gateway_down: None, settings: Any) -> None:
    user = UserFactory()
    client = authenticate(APIClient(), user)
    started = time.monotonic()

    response = client.post("/auth/otp/methods/sms", {"phone": "612 34 56 78", "country": "ES"}, format="json")

    assert_unavailable(response, "sms_unavailable")
    assert time.monotonic() - started < 5, "the gateway timeout bounds the wait"
    assert not SmsDevice.objects.filter(user=user).exists()
    assert not SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_ADDED).exists()
    assert client.get("/auth/me").json()["hasValidatedPhone"] is False

    gateway_back(settings)
    retry = client.post("/auth/otp/methods/sms", {"phone": "612 34 56 78", "country": "ES"}, format="json")
    assert retry.status_code == 200, "no cool-down was started by the failed send"
    assert sms_backends.outbox[-1].to == NUMBER


@pytest.mark.django_db
def test_resending_a_code_with_the_gateway_down_stores_no_code(gateway_down: None, settings: Any) -> None:
    user = UserFactory()
    device = pending_phone(user)
    before = device_state(device)
    client = authenticate(APIClient(), user)

    assert_unavailable(client.get("/auth/otp/code", {"method": "SMS"}), "sms_unavailable")

    assert device_state(device) == before
    gateway_back(settings)
    assert client.get("/auth/otp/code", {"method": "SMS"}).status_code == 200
    confirm = client.post("/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code())
    assert confirm.status_code == 200


@pytest.mark.django_db
def test_a_login_code_with_the_gateway_down_stores_no_code(gateway_down: None, settings: Any) -> None:
    user = UserFactory()
    device = verified_phone(user)
    before = device_state(device)

    response = APIClient().post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "SMS"}, format="json"
    )

    assert_unavailable(response, "sms_unavailable")
    assert device_state(device) == before
    user.refresh_from_db()
    assert user.otp_failure_count == 0


@pytest.mark.django_db
def test_an_outage_does_not_spend_the_daily_sms_budget(settings: Any, refused: int) -> None:
    """Every failed send is refunded: after the outage the user still has the whole budget."""
    settings.SMS_MAX_PER_USER_PER_DAY = 2
    settings.SMS_RESEND_COOLDOWN_SECONDS = 0
    user = UserFactory()
    pending_phone(user)
    client = authenticate(APIClient(), user)

    twilio_at(settings, refused)
    for _ in range(5):
        assert_unavailable(client.get("/auth/otp/code", {"method": "SMS"}), "sms_unavailable")

    gateway_back(settings)
    assert client.get("/auth/otp/code", {"method": "SMS"}).status_code == 200
    assert client.get("/auth/otp/code", {"method": "SMS"}).status_code == 200
    assert client.get("/auth/otp/code", {"method": "SMS"}).status_code == 429
    assert len(sms_backends.outbox) == 2


class GatewayDownAfterEviction(BaseSmsBackend):
    """The gateway fails after the cache lost the SMS counters (evicted, or Redis restarted)."""

    def send(self, *, to: str, body: str) -> None:
        cache.clear()
        raise SmsDeliveryError("gateway down")


@pytest.mark.django_db
def test_a_refund_of_counters_the_cache_lost_meanwhile_is_still_a_clean_503(settings: Any) -> None:
    settings.SMS_BACKEND = f"{__name__}.GatewayDownAfterEviction"
    user = UserFactory()

    response = authenticate(APIClient(), user).post(
        "/auth/otp/methods/sms", {"phone": "612 34 56 78", "country": "ES"}, format="json"
    )

    assert_unavailable(response, "sms_unavailable")
    assert not SmsDevice.objects.filter(user=user).exists()


# --- Redis ------------------------------------------------------------------------------------------


@pytest.fixture
def redis_down(refused: int) -> Iterator[None]:
    """The cache is Redis, and Redis does not answer."""
    dead = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{refused}/0",
        }
    }
    with override_settings(CACHES=dead):
        yield


def test_the_django_redis_cache_raises_rather_than_swallowing(redis_down: None) -> None:
    """What every rule below relies on: a dead Redis is an exception, never a silent miss."""
    with pytest.raises(redis.exceptions.ConnectionError):
        caches["default"].get("anything")
    with pytest.raises(redis.exceptions.ConnectionError):
        caches["default"].incr("anything")


@pytest.mark.django_db
@pytest.mark.parametrize("password", [DEFAULT_PASSWORD, "a wrong password"])
def test_login_with_redis_down_is_503_not_unthrottled(redis_down: None, password: str) -> None:
    """The login throttles cannot be consulted, so no password is checked at all."""
    user = UserFactory()
    last_login = user.last_login

    response = APIClient().post("/auth/login", {"email": user.email, "password": password}, format="json")

    assert_unavailable(response)
    user.refresh_from_db()
    assert user.last_login == last_login
    assert not SecurityEvent.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_password_change_with_redis_down_is_503(redis_down: None) -> None:
    user = UserFactory()
    response = authenticate(APIClient(), user).post(
        "/auth/password/change",
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": "a brand new passphrase"},
        format="json",
    )
    assert_unavailable(response)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/register", {"email": "newcomer@example.com", "password": "a fine passphrase"}),
        ("/auth/password/reset", {"email": "someone@example.com"}),
    ],
)
def test_ip_rate_limited_endpoints_with_redis_down_are_503(redis_down: None, path: str, body: dict) -> None:
    assert_unavailable(APIClient().post(path, body, format="json"))
    assert not User.objects.filter(email="newcomer@example.com").exists()


@pytest.mark.django_db
def test_an_sms_with_redis_down_is_503_and_not_sent(redis_down: None) -> None:
    """The SMS budget cannot be counted, so nothing is sent and no code is stored."""
    user = UserFactory()
    device = pending_phone(user)
    before = device_state(device)

    assert_unavailable(authenticate(APIClient(), user).get("/auth/otp/code", {"method": "SMS"}))

    assert device_state(device) == before
    assert sms_backends.outbox == []


@pytest.mark.django_db
def test_what_needs_no_cache_still_works_with_redis_down(redis_down: None) -> None:
    user = UserFactory()
    assert authenticate(APIClient(), user).get("/auth/me").status_code == 200
    assert APIClient().get("/.well-known/jwks.json").status_code == 200


@pytest.mark.django_db
def test_healthz_with_redis_down(redis_down: None) -> None:
    body = assert_unavailable(APIClient().get("/healthz"))
    assert (body["status"], body["database"], body["cache"]) == ("unavailable", "ok", "unavailable")


# --- the database, on a live server -------------------------------------------------------------


@pytest.fixture(scope="module")
def dead_database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn whose DATABASE_URL points at a PostgreSQL port where nothing listens."""
    sock = closed_port()
    url = f"postgres://postgres@127.0.0.1:{sock.getsockname()[1]}/nowhere"
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("dead-database"), database_url=url, cache_url=None
    ) as server:
        yield server
    sock.close()


def assert_live_unavailable(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "service_unavailable" and body["detail"]
    return body


def test_healthz_with_the_database_down(dead_database_server: LiveServer) -> None:
    body = assert_live_unavailable(dead_database_server.request("GET", "/healthz"))
    assert (body["status"], body["database"], body["cache"]) == ("unavailable", "unavailable", "ok")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/auth/login", {"email": "someone@example.com", "password": "a password"}),
        ("POST", "/auth/register", {"email": "newcomer@example.com", "password": "a fine passphrase"}),
        ("POST", "/auth/password/reset", {"email": "someone@example.com"}),
        ("POST", "/auth/login/refresh", "refresh"),
        ("GET", "/auth/me", None),
        ("GET", "/auth/otp/code?method=SMS", None),
        ("POST", "/auth/otp/methods/totp", None),
        ("POST", "/auth/logout/all", None),
    ],
)
def test_the_api_with_the_database_down_is_a_clean_503(
    dead_database_server: LiveServer, method: str, path: str, body: Any
) -> None:
    """A token that verifies by signature alone still needs the user row: 503, not 401 or 500."""
    user = User(pk=1, email="someone@example.com", token_generation=0)
    tokens = tokens_for_session(user, amr=AMR_PASSWORD, session_id=str(uuid.uuid4()))
    json_body = {"refreshToken": tokens.refresh_token} if body == "refresh" else body
    response = dead_database_server.request(
        method, path, json=json_body, headers={"Authorization": f"Bearer {tokens.id_token}"}
    )
    assert_live_unavailable(response)


def test_what_needs_no_database_still_works_with_it_down(dead_database_server: LiveServer) -> None:
    assert dead_database_server.request("GET", "/.well-known/jwks.json").status_code == 200
    assert dead_database_server.request("GET", "/api/schema/").status_code == 200
    missing = dead_database_server.request("GET", "/auth/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
