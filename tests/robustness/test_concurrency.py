"""Races under real load: gunicorn with 4 workers on PostgreSQL + Redis, 20 clients at once.

Each burst is 20 requests released together by a barrier; the verdict comes from the answers
and from what the server wrote (database rows, the SMS file), not from the server's word.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests

from tests.robustness.conftest import Account, account_create
from tests.robustness.live_server import RELAXED_IP_LIMITS, LiveDatabase, LiveServer, live_server, redis_url

pytestmark = pytest.mark.postgres

CLIENTS = 20
WORKERS = 4
REQUEST_TIMEOUT_SECONDS = 30
SHORT_SMS_COOLDOWN_SECONDS = 5


@pytest.fixture(scope="module")
def concurrent_api(
    live_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The production rules (delays, cool-downs, caps), refresh-token rotation on.

    Bursts of right passwords race their codes here: each is an attempt on one email, which the
    password delay would refuse after the free ones. That delay has a server of its own.
    """
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("concurrent-api"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=WORKERS,
        environment={
            **RELAXED_IP_LIMITS,
            "JWT_ROTATE_REFRESH_TOKENS": "true",
            "LOGIN_FAILURES_BEFORE_DELAY": "1000",
        },
    ) as server:
        yield server


@pytest.fixture(scope="module")
def password_delay_api(
    live_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The production password delay: the 6th wrong password in a row starts it."""
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("password-delay-api"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=WORKERS,
        environment=RELAXED_IP_LIMITS,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def undelayed_api(
    live_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Second-factor delays off, so that every one of a burst of wrong codes is checked; and an
    SMS cool-down short enough for a test to wait out (yet far longer than a burst takes)."""
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("undelayed-api"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=WORKERS,
        environment={
            **RELAXED_IP_LIMITS,
            "OTP_FAILURES_BEFORE_DELAY": "1000",
            "LOGIN_FAILURES_BEFORE_DELAY": "1000",
            "SMS_RESEND_COOLDOWN_SECONDS": str(SHORT_SMS_COOLDOWN_SECONDS),
        },
    ) as server:
        yield server


def burst(
    send: Callable[[requests.Session, int], requests.Response], clients: int = CLIENTS
) -> list[requests.Response]:
    """`clients` requests from as many threads, each with its own connection, released together."""
    barrier = threading.Barrier(clients)
    sessions = [requests.Session() for _ in range(clients)]

    def one(index: int) -> requests.Response:
        barrier.wait(timeout=REQUEST_TIMEOUT_SECONDS)
        return send(sessions[index], index)

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(one, range(clients)))
    finally:
        for session in sessions:
            session.close()


def outcomes(responses: list[requests.Response]) -> Counter[tuple[int, str]]:
    """(status, code) of every answer; `ok` for a success."""
    counted: Counter[tuple[int, str]] = Counter()
    for response in responses:
        code = response.json().get("code", "ok") if response.content else "ok"
        counted[(response.status_code, code if response.status_code >= 400 else "ok")] += 1
    return counted


def assert_no_server_error(responses: list[requests.Response]) -> None:
    assert all(response.status_code < 500 for response in responses), outcomes(responses)


def totp_enrol(server: LiveServer, account: Account) -> pyotp.TOTP:
    response = server.request("POST", "/auth/otp/methods/totp", headers=account.bearer)
    assert response.status_code == 200, response.text
    return pyotp.parse_uri(response.json()["otpauthUri"])


def totp_confirmed(server: LiveServer, account: Account) -> pyotp.TOTP:
    """An authenticator whose current step is already used: the next step is the one to race."""
    authenticator = totp_enrol(server, account)
    response = server.request(
        "POST",
        "/auth/otp/code",
        json={"channel": "TOTP"},
        headers={**account.bearer, "x-otp": authenticator.now()},
    )
    assert response.status_code == 200, response.text
    return authenticator


def next_step_code(authenticator: pyotp.TOTP) -> str:
    return authenticator.at(time.time() + 30)


def wrong_code(authenticator: pyotp.TOTP) -> str:
    window = {authenticator.at(time.time() + 30 * step) for step in range(-2, 3)}
    return next(code for code in (f"{random.randrange(10**6):06d}" for _ in range(100)) if code not in window)


def spanish_mobile() -> str:
    return "+346" + "".join(random.choice("0123456789") for _ in range(8))


# --- one code, twenty clients ---------------------------------------------------------------------


def test_the_same_totp_code_confirms_the_factor_once(
    concurrent_api: LiveServer, live_database: LiveDatabase
) -> None:
    account = account_create(concurrent_api)
    code = totp_enrol(concurrent_api, account).now()

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/otp/code"),
            json={"channel": "TOTP"},
            headers={**account.bearer, "x-otp": code},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert_no_server_error(responses)
    counted = outcomes(responses)
    assert counted[(200, "ok")] == 1, counted
    verified = live_database.value(
        "select count(*) from accounts_securityevent e join accounts_user u on u.id = e.user_id "
        "where u.email = %s and e.type = 'FACTOR_VERIFIED'",
        account.email,
    )
    assert verified == 1


def test_the_same_totp_code_logs_in_once(concurrent_api: LiveServer, live_database: LiveDatabase) -> None:
    account = account_create(concurrent_api)
    code = next_step_code(totp_confirmed(concurrent_api, account))

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/login"),
            json={"email": account.email, "password": account.password},
            headers={"x-otp": code},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert_no_server_error(responses)
    counted = outcomes(responses)
    assert counted[(200, "ok")] == 1, counted
    assert set(counted) <= {(200, "ok"), (403, "otp_invalid"), (429, "otp_throttled")}, counted
    logins_with_totp = live_database.value(
        "select count(*) from accounts_securityevent e join accounts_user u on u.id = e.user_id "
        "where u.email = %s and e.type = 'LOGIN_SUCCEEDED' and e.details->>'factor' = 'totp'",
        account.email,
    )
    assert logins_with_totp == 1


def test_the_same_totp_code_steps_up_once(concurrent_api: LiveServer, live_database: LiveDatabase) -> None:
    account = account_create(concurrent_api)
    code = next_step_code(totp_confirmed(concurrent_api, account))

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/otp/methods/recovery-codes"),
            headers={**account.bearer, "x-otp": code},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert_no_server_error(responses)
    counted = outcomes(responses)
    assert counted[(200, "ok")] == 1, counted
    generated = live_database.value(
        "select count(*) from accounts_securityevent e join accounts_user u on u.id = e.user_id "
        "where u.email = %s and e.type = 'RECOVERY_CODES_GENERATED'",
        account.email,
    )
    assert generated == 1


# --- per-account throttles across workers -----------------------------------------------------------


def test_twenty_wrong_codes_at_once_are_all_counted(
    undelayed_api: LiveServer, live_database: LiveDatabase
) -> None:
    """No lost update: the per-account counter sees every failure, whichever worker served it."""
    account = account_create(undelayed_api)
    code = wrong_code(totp_confirmed(undelayed_api, account))

    responses = burst(
        lambda session, _: session.post(
            undelayed_api.url("/auth/login"),
            json={"email": account.email, "password": account.password},
            headers={"x-otp": code},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert outcomes(responses) == Counter({(403, "otp_invalid"): CLIENTS})
    assert (
        live_database.value("select otp_failure_count from accounts_user where email = %s", account.email)
        == CLIENTS
    )


def test_the_second_factor_delay_holds_across_workers(
    concurrent_api: LiveServer, live_database: LiveDatabase
) -> None:
    """From the 3rd failure on, attempts inside the delay are refused unchecked and not counted."""
    account = account_create(concurrent_api)
    code = wrong_code(totp_confirmed(concurrent_api, account))

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/login"),
            json={"email": account.email, "password": account.password},
            headers={"x-otp": code},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    counted = outcomes(responses)
    assert set(counted) == {(403, "otp_invalid"), (429, "otp_throttled")}, counted
    checked = counted[(403, "otp_invalid")]
    assert 3 <= checked < CLIENTS
    assert (
        live_database.value("select otp_failure_count from accounts_user where email = %s", account.email)
        == checked
    )


def test_twenty_wrong_passwords_at_once_meet_the_login_delay(password_delay_api: LiveServer) -> None:
    """The per-email delay is shared through Redis: a burst gets the free attempts, not twenty."""
    account = account_create(password_delay_api)

    started = time.monotonic()
    responses = burst(
        lambda session, index: session.post(
            password_delay_api.url("/auth/login"),
            json={"email": account.email, "password": f"wrong password {index}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )
    lasted = time.monotonic() - started

    counted = outcomes(responses)
    assert set(counted) == {(403, "authentication_failed"), (429, "login_throttled")}, counted
    free = 5  # LOGIN_FAILURES_BEFORE_DELAY, the default: the 6th failure starts the delay
    # Each attempt is reserved in Redis before its password is checked: the free attempts and
    # the one the delay still allows, whichever worker answers. On a loaded machine the burst
    # may outlast the delays (1 s, then 2 s, ...): an attempt after one has run out is allowed.
    delays_run_out = math.floor(math.log2(lasted + 1))
    assert free + 1 <= counted[(403, "authentication_failed")] <= free + 1 + delays_run_out, (counted, lasted)


# --- SMS caps across workers ------------------------------------------------------------------------


def test_twenty_code_requests_at_once_send_one_sms(undelayed_api: LiveServer) -> None:
    account = account_create(undelayed_api)
    number = spanish_mobile()
    added = undelayed_api.request(
        "POST", "/auth/otp/methods/sms", json={"phone": number, "country": "ES"}, headers=account.bearer
    )
    assert added.status_code == 200, added.text
    time.sleep(SHORT_SMS_COOLDOWN_SECONDS + 0.2)  # the cool-down of that first code passes

    started = time.monotonic()
    responses = burst(
        lambda session, _: session.get(
            undelayed_api.url("/auth/otp/code"),
            params={"method": "SMS"},
            headers=account.bearer,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert time.monotonic() - started < SHORT_SMS_COOLDOWN_SECONDS, "the burst fits in one cool-down"
    assert outcomes(responses) == Counter({(200, "ok"): 1, (429, "otp_attempts_exhausted"): CLIENTS - 1})
    assert len(undelayed_api.sms_messages(number)) == 2


def test_twenty_phones_added_at_once_send_one_sms(
    concurrent_api: LiveServer, live_database: LiveDatabase
) -> None:
    account = account_create(concurrent_api)
    number = spanish_mobile()

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/otp/methods/sms"),
            json={"phone": number, "country": "ES"},
            headers=account.bearer,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert outcomes(responses) == Counter({(200, "ok"): 1, (429, "otp_attempts_exhausted"): CLIENTS - 1})
    assert len(concurrent_api.sms_messages(number)) == 1
    devices = live_database.value(
        "select count(*) from otp_smsdevice d join accounts_user u on u.id = d.user_id where u.email = %s",
        account.email,
    )
    assert devices == 1


def test_the_per_number_cap_holds_across_workers(concurrent_api: LiveServer) -> None:
    """Twenty accounts add one number at once: exactly the daily cap of texts reaches it."""
    accounts = [account_create(concurrent_api) for _ in range(CLIENTS)]
    number = spanish_mobile()

    responses = burst(
        lambda session, index: session.post(
            concurrent_api.url("/auth/otp/methods/sms"),
            json={"phone": number, "country": "ES"},
            headers=accounts[index].bearer,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    cap = 10  # SMS_MAX_PER_NUMBER_PER_DAY, the default
    assert outcomes(responses) == Counter({(200, "ok"): cap, (429, "otp_attempts_exhausted"): CLIENTS - cap})
    assert len(concurrent_api.sms_messages(number)) == cap


# --- refresh-token rotation -----------------------------------------------------------------------


def test_concurrent_refresh_does_not_fork_the_token_family(concurrent_api: LiveServer) -> None:
    account = account_create(concurrent_api)

    responses = burst(
        lambda session, _: session.post(
            concurrent_api.url("/auth/login/refresh"),
            json={"refreshToken": account.refresh_token},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    )

    assert_no_server_error(responses)
    counted = outcomes(responses)
    assert counted[(200, "ok")] >= 1, counted
    assert set(counted) <= {(200, "ok"), (403, "token_not_valid")}, counted
    rotated = [response.json()["refreshToken"] for response in responses if response.status_code == 200]
    still_working = [
        token
        for token in rotated
        if concurrent_api.request("POST", "/auth/login/refresh", json={"refreshToken": token}).status_code
        == 200
    ]
    assert len(still_working) <= 1, "two holders of one refresh token each kept a working family"
    replay = concurrent_api.request(
        "POST", "/auth/login/refresh", json={"refreshToken": account.refresh_token}
    )
    assert (replay.status_code, replay.json()["code"]) == (403, "token_not_valid")
