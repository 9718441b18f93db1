"""Password login, then the second factor or a trusted device, then the session and its tokens."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from accounts.auth.login_rows import login_rows_write
from accounts.auth.new_devices import login_place_of, new_device_login_after, new_device_login_check
from accounts.auth.owner_query import login_user_read
from accounts.auth.tokens import (
    AMR_PASSKEY,
    AMR_PASSWORD,
    AMR_PASSWORD_AND_OTP,
    AMR_PASSWORD_AND_PASSKEY,
    AMR_PASSWORD_AND_TRUSTED_DEVICE,
    IssuedTokens,
    api_session_new,
    tokens_for_login,
    tokens_for_session,
)
from accounts.auth.trusted_devices import (
    trusted_device_create,
    trusted_device_use,
)
from accounts.core.account_state import account_open_or_none, account_status_check
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_log_and_count, security_event_new, security_event_record
from accounts.core.login_throttles import (
    login_attempt_reserve,
    login_failures_forget,
    login_ip_failure_record,
)
from accounts.core.tasks import task_enqueue
from accounts.flows.password_breaches import password_breach_check_if_due
from accounts.models import SecurityEvent, User, email_normalize
from config.logs import request_id_bound, request_id_var
from otp import services as otp_services
from otp.services import mfa_reset_apply
from otp.webauthn import services

EventType = SecurityEvent.Type


@functools.cache
def _timing_dummy_hash() -> str:
    """A hash made with the current hasher, checked when no account has the email."""
    return make_password("timing-equaliser-for-unknown-emails")


# --- login and tokens -------------------------------------------------------------------------


def password_failure_record(*, email: str, user: User | None, client: Client) -> ServiceError:
    """Count a wrong password on the IP; its record is a task, written after the answer, so an
    existing and an unknown email take as long to refuse (one task enqueued either way)."""
    login_ip_failure_record(ip=client.ip)
    task_enqueue(
        login_failure_record,
        user_id=user.pk if user else None,
        client=dataclasses.asdict(client),
        request_id=request_id_var.get(),
    )
    return ServiceError(ErrorCode.AUTHENTICATION_FAILED)


@task()
def login_failure_record(
    *, user_id: int | None, client: dict[str, str | None], request_id: str | None
) -> None:
    """The security event of a wrong password, logged with the id of the request that had it
    (run again after a worker died within it, it is recorded twice)."""
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    details = {"factor": "password"}
    with request_id_bound(request_id):
        if user is not None:
            security_event_record(
                user=user, type=EventType.LOGIN_FAILED, client=Client(**client), details=details
            )
        else:
            security_event_log_and_count(
                type=EventType.LOGIN_FAILED, user_id=None, client=Client(**client), details=details
            )


def _second_factor_challenge(*, user: User, otp_method: str | None) -> ServiceError:
    """No `x-otp` yet: name the methods, and send the login SMS when asked to."""
    methods = otp_services.second_factor_methods(user)
    if otp_method is None:
        return ServiceError(ErrorCode.OTP_REQUIRED, methods=methods)
    if otp_method not in methods:
        return ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
    if otp_method == otp_services.Method.WEBAUTHN:
        options = services.second_factor_options_generate(user=user)
        return ServiceError(
            ErrorCode.OTP_REQUIRED,
            methods=methods,
            webauthn={"challengeId": options.challenge_id, "publicKey": options.public_key},
        )
    if otp_method != otp_services.Method.SMS:
        return ServiceError(ErrorCode.OTP_REQUIRED, methods=methods)
    sent = otp_services.login_sms_code_send(user=user)
    return ServiceError(
        # A datetime: the JSON renderer writes it as GET /auth/otp/code does (`...Z`).
        ErrorCode.OTP_REQUIRED,
        methods=methods,
        channel=sent.channel,
        validUntil=sent.valid_until,
    )


def login_password_verify(*, email: str, password: str, client: Client, forget_now: bool = True) -> User:
    """The first step of every login: throttles, password, then the account's status.

    The right password forgets the email's counted attempts (`login_failures_forgotten`); with
    `forget_now` False the caller records the login in this request, or forgets them itself.
    """
    email = email_normalize(email)
    # A closed account is an unknown email: the same hash check, the same refusal, the same time.
    user = account_open_or_none(login_user_read(email))
    login_attempt_reserve(
        email=email, ip=client.ip, last_success=user.last_login if user is not None else None
    )
    password_ok = (
        user.check_password(password) if user is not None else check_password(password, _timing_dummy_hash())
    )
    if user is None or not password_ok:
        raise password_failure_record(email=email, user=user, client=client)
    with login_failures_forgotten(email, now=forget_now):
        account_status_check(user)
        password_breach_check_if_due(user=user, password=password, client=client)
        # A support reset that has come due takes effect here: the second step sees no factor.
        return mfa_reset_apply.mfa_reset_apply_if_due(user)


@contextlib.contextmanager
def login_failures_forgotten(email: str, *, now: bool) -> Iterator[None]:
    """After the right password for `email`: its counted attempts forgotten at once, or (`now`
    False) only if the block stops the login with a ServiceError. A login recorded in this
    request needs nothing more: the email's next attempt finds its `last_login` after them and
    forgets them then (login_attempt_reserve), which saves a round trip to the cache."""
    if now:
        login_failures_forget(email=email)
    try:
        yield
    except ServiceError:
        if not now:
            login_failures_forget(email=email)
        raise


def login_second_factor(
    *,
    user: User,
    otp: str | None,
    otp_method: str | None,
    client: Client,
    webauthn: dict | None = None,
) -> otp_services.Method | None:
    """The second step, for accounts with a verified factor: the method that passed, or None.

    `webauthn` is `{challengeId, credential}`: a passkey assertion instead of an `x-otp` code.
    """
    if not user.has_second_factor:
        if otp_method is not None:
            raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
        return None
    if webauthn is not None:
        if not user.passkey_count:
            raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
        return services.second_factor_verify(
            user=user,
            challenge_id=webauthn["challengeId"],
            credential=webauthn["credential"],
            client=client,
        )
    if otp is None:
        raise _second_factor_challenge(user=user, otp_method=otp_method)
    # State before code: a method the account has not verified is refused before any check.
    method = otp_services.Method(otp_method) if otp_method is not None else None
    if method is not None and method not in otp_services.second_factor_methods(user):
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
    return otp_services.login_second_factor_verify(user=user, code=otp, client=client, method=method)


def login_record(
    *,
    user: User,
    method: otp_services.Method | None,
    client: Client,
    trusted_device: bool = False,
    passwordless: bool = False,
    device_cookie: str | None = None,
) -> list[str]:
    """Note the login on the account and in the audit trail, tell a new device; the `amr` of its tokens.

    Run it in the transaction that starts the login's session: its UPDATE of the account's
    row waits for a freeze, block or logout-all under way, and finds the account changed
    (refused if it may no longer authenticate); one that starts later ends this session.
    `device_cookie`: the pages' device cookie of this browser (accounts.auth.new_devices).
    """
    return _login_record_noted(
        user=user,
        values=_login_noted(user, client),
        method=method,
        client=client,
        trusted_device=trusted_device,
        passwordless=passwordless,
        device_cookie=device_cookie,
    )


def _login_record_noted(
    *,
    user: User,
    values: dict[str, object],
    method: otp_services.Method | None,
    client: Client,
    trusted_device: bool,
    passwordless: bool = False,
    device_cookie: str | None = None,
) -> list[str]:
    """`login_record` once `_login_noted` has set the account's columns of this login."""
    if not User.objects.filter(pk=user.pk, token_generation=user.token_generation).update(**values):
        user.refresh_from_db(fields=["status", "locked_until", "is_active", "token_generation"])
        account_status_check(user)
        User.objects.filter(pk=user.pk).update(**values)
    details = _login_event_details(method=method, trusted_device=trusted_device, passwordless=passwordless)
    security_event_record(user=user, type=EventType.LOGIN_SUCCEEDED, client=client, details=details)
    new_device_login_check(
        user=user, client=client, trusted_device=trusted_device, device_cookie=device_cookie
    )
    return _login_amr(method=method, trusted_device=trusted_device, passwordless=passwordless)


def login_record_and_api_session_start(
    *, user: User, method: otp_services.Method | None, client: Client, trusted_device: bool = False
) -> IssuedTokens:
    """`login_record`, then the API session and its tokens (`tokens_for_login`), in one transaction
    (within the caller's, if there is one). On PostgreSQL, from a known place, the last login, the
    event and the session are one statement (accounts.auth.login_rows), the tokens signed while it
    runs; elsewhere, from a new place, or when the account changed under this login, the same
    rows are written through the ORM, which finds out why and tells a new place."""
    amr = _login_amr(method=method, trusted_device=trusted_device, passwordless=False)
    values = _login_noted(user, client)
    details = _login_event_details(method=method, trusted_device=trusted_device, passwordless=False)
    event = security_event_new(user=user, type=EventType.LOGIN_SUCCEEDED, client=client, details=details)
    session = api_session_new(user=user, amr=amr, client=client)
    place = login_place_of(client) if settings.NEW_DEVICE_ALERTS and not trusted_device else None
    written = login_rows_write(
        user=user,
        saving=values,
        event=event,
        session=session,
        place=place,
        meanwhile=lambda: tokens_for_session(user, amr=amr, session_id=str(session.pk)),
    )
    if written is None:
        with transaction.atomic(savepoint=False):
            amr = _login_record_noted(
                user=user, values=values, method=method, client=client, trusted_device=trusted_device
            )
            return tokens_for_login(user, amr=amr, client=client)
    known, tokens = written
    security_event_log_and_count(
        type=EventType.LOGIN_SUCCEEDED, user_id=user.pk, client=client, details=details
    )
    if place is not None:
        new_device_login_after(user=user, client=client, place=place, known=known)
    return tokens


def _login_noted(user: User, client: Client) -> dict[str, object]:
    """The account's columns a login sets (set on `user` too): the last login and its device, and
    a lock that has lifted by itself ending here, with a fresh second-factor budget."""
    user.last_login, user.last_login_device = timezone.now(), client.user_agent
    fields = ["last_login", "last_login_device", *user.lock_lift_if_expired(user.last_login)]
    return {field: getattr(user, field) for field in fields}


def _login_event_details(
    *, method: otp_services.Method | None, trusted_device: bool, passwordless: bool
) -> dict[str, object]:
    factor = method.lower() if method else ("trusted_device" if trusted_device else "password")
    return {"factor": factor, "passwordless": True} if passwordless else {"factor": factor}


def _login_amr(*, method: otp_services.Method | None, trusted_device: bool, passwordless: bool) -> list[str]:
    if passwordless:
        return AMR_PASSKEY
    if method == otp_services.Method.WEBAUTHN:
        return AMR_PASSWORD_AND_PASSKEY
    if method:
        return AMR_PASSWORD_AND_OTP
    return AMR_PASSWORD_AND_TRUSTED_DEVICE if trusted_device else AMR_PASSWORD


def login_trusted_device_use(*, user: User, device_token: str | None, client: Client) -> bool:
    """Whether `device_token` opens a live trusted device of this account with a second factor (then recorded)."""
    if not device_token or not user.has_second_factor:
        return False
    return trusted_device_use(user=user, token=device_token, client=client) is not None


def login(
    *,
    email: str,
    password: str,
    otp: str | None,
    otp_method: str | None,
    client: Client,
    webauthn: dict | None = None,
    device_token: str | None = None,
    trust_device: bool = False,
) -> IssuedTokens:
    """Password, then the second factor unless the device is trusted; tokens (and a device token) on success."""
    user = login_password_verify(email=email, password=password, client=client, forget_now=False)
    with login_failures_forgotten(email_normalize(email), now=False):
        trusted = login_trusted_device_use(user=user, device_token=device_token, client=client)
        method = (
            None
            if trusted
            else login_second_factor(
                user=user, otp=otp, otp_method=otp_method, client=client, webauthn=webauthn
            )
        )
    if method is None or not trust_device:
        return login_record_and_api_session_start(
            user=user, method=method, client=client, trusted_device=trusted
        )
    with transaction.atomic():
        tokens = login_record_and_api_session_start(user=user, method=method, client=client)
        trusted_now = trusted_device_create(user=user, client=client)
    return dataclasses.replace(tokens, device_token=trusted_now.token)
