"""Account rules: sign-up, login (password then second factor), tokens, passwords."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError

from otp import services as otp_services
from otp.webauthn import services as webauthn_services

from . import mfa_resets, notifications
from .account_state import account_may_authenticate, account_status_check
from .background import work_in_background
from .client import Client
from .errors import ErrorCode, ServiceError
from .events import security_event_log_and_count, security_event_record
from .hot_queries import refresh_owner_read_and_touch
from .mail import email_send
from .models import RevokedToken, SecurityEvent, User, email_normalize
from .new_devices import new_device_login_check, new_device_remember
from .security_changes import security_change_record
from .sessions import api_session_end_quietly, session_id_parse, sessions_end_all
from .throttles import login_attempt_reserve, login_failures_forget, login_ip_failure_record
from .tokens import (
    AMR_PASSKEY,
    AMR_PASSWORD,
    AMR_PASSWORD_AND_OTP,
    AMR_PASSWORD_AND_PASSKEY,
    AMR_PASSWORD_AND_TRUSTED_DEVICE,
    IssuedTokens,
    RefreshToken,
    id_token_for,
    refresh_token_for,
    tokens_for_login,
)
from .trusted_devices import trusted_device_create, trusted_device_use, trusted_devices_revoke_all
from .unfreezing import account_unfreeze_record

EventType = SecurityEvent.Type


@functools.cache
def _timing_dummy_hash() -> str:
    """A hash made with the current hasher, checked when no account has the email."""
    return make_password("timing-equaliser-for-unknown-emails")


def password_validate(*, password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ServiceError(ErrorCode.PASSWORD_INVALID, errors={field: list(error.messages)}) from error


# --- sign-up ----------------------------------------------------------------------------------


def user_register(*, email: str, password: str, client: Client) -> None:
    """Create the account and email a verification code; for a taken email, tell its owner.

    Both paths validate, hash and send one email, so the answer and its timing do not
    say whether the email was known.
    """
    email = email_normalize(email)
    password_validate(password=password, user=User(email=email), field="password")
    owner = User.objects.filter(email=email).values_list("language", "anti_phishing_code").first()
    owner_language, owner_code = owner if owner is not None else (None, "")
    if owner_language is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email,
                    password,
                    last_login_device=client.user_agent,
                    language=client.language or settings.LANGUAGE_CODE,
                )
                security_event_record(user=user, type=EventType.SIGNED_UP, client=client)
                new_device_remember(user=user, client=client)
                otp_services.email_verification_code_send(user=user)
            return
        except IntegrityError:
            # Registered concurrently: answer as for a taken email.
            owner_language = client.language or settings.LANGUAGE_CODE
    make_password(password)
    _signup_attempt_notify(email=email, language=owner_language, anti_phishing_code=owner_code)


def _signup_attempt_notify(*, email: str, language: str, anti_phishing_code: str) -> None:
    """Tell the owner of a taken email that someone tried to sign up with it, at most once per
    `SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS`: repeated sign-ups must not flood their inbox."""
    key = "signup-attempt-notice:" + hashlib.sha256(email.encode()).hexdigest()
    if cache.add(key, 1, timeout=settings.SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS):
        email_send(
            to=email,
            language=language,
            template="signup_attempt",
            context={"email": email},
            anti_phishing_code=anti_phishing_code,
        )


def user_language_set(*, user: User, language: str) -> User:
    """The language of what is sent to `user` outside a request (notifications, support actions)."""
    user.language = language
    User.objects.filter(pk=user.pk).update(language=language)
    return user


# --- login and tokens -------------------------------------------------------------------------


def _password_failure(*, email: str, user: User | None, client: Client) -> ServiceError:
    """Count a wrong password on the IP; its record is written off the request's time, so an
    existing and an unknown email take as long to refuse."""
    login_ip_failure_record(ip=client.ip)

    def record() -> None:
        if user is not None:
            security_event_record(
                user=user, type=EventType.LOGIN_FAILED, client=client, details={"factor": "password"}
            )
        else:
            security_event_log_and_count(
                type=EventType.LOGIN_FAILED, user_id=None, client=client, details={"factor": "password"}
            )

    work_in_background(record)
    return ServiceError(ErrorCode.AUTHENTICATION_FAILED)


def _second_factor_challenge(*, user: User, otp_method: str | None) -> ServiceError:
    """No `x-otp` yet: name the methods, and send the login SMS when asked to."""
    methods = otp_services.second_factor_methods(user)
    if otp_method is None:
        return ServiceError(ErrorCode.OTP_REQUIRED, methods=methods)
    if otp_method not in methods:
        return ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
    if otp_method == otp_services.Method.WEBAUTHN:
        options = webauthn_services.second_factor_options_generate(user=user)
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


def login_password_verify(*, email: str, password: str, client: Client) -> User:
    """The first step of every login: throttles, password, then the account's status."""
    email = email_normalize(email)
    login_attempt_reserve(email=email, ip=client.ip)
    user = User.objects.filter(email=email).first()
    password_ok = (
        user.check_password(password) if user is not None else check_password(password, _timing_dummy_hash())
    )
    if user is None or not password_ok:
        raise _password_failure(email=email, user=user, client=client)
    login_failures_forget(email=email)
    account_status_check(user)
    # A support reset that has come due takes effect here: the second step sees no factor.
    return mfa_resets.mfa_reset_apply_if_due(user)


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
        return webauthn_services.second_factor_verify(
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
    `device_cookie`: the pages' device cookie of this browser (accounts.new_devices).
    """
    user.last_login, user.last_login_device = timezone.now(), client.user_agent
    # A lock that has lifted by itself ends here too, with a fresh second-factor budget.
    fields = ["last_login", "last_login_device", *user.lock_lift_if_expired(user.last_login)]
    values = {field: getattr(user, field) for field in fields}
    if not User.objects.filter(pk=user.pk, token_generation=user.token_generation).update(**values):
        user.refresh_from_db(fields=["status", "locked_until", "is_active", "token_generation"])
        account_status_check(user)
        User.objects.filter(pk=user.pk).update(**values)
    factor = method.lower() if method else ("trusted_device" if trusted_device else "password")
    details = {"factor": factor, "passwordless": True} if passwordless else {"factor": factor}
    security_event_record(user=user, type=EventType.LOGIN_SUCCEEDED, client=client, details=details)
    new_device_login_check(
        user=user, client=client, trusted_device=trusted_device, device_cookie=device_cookie
    )
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
    user = login_password_verify(email=email, password=password, client=client)
    trusted = login_trusted_device_use(user=user, device_token=device_token, client=client)
    method = (
        None
        if trusted
        else login_second_factor(user=user, otp=otp, otp_method=otp_method, client=client, webauthn=webauthn)
    )
    with transaction.atomic():
        amr = login_record(user=user, method=method, client=client, trusted_device=trusted)
        tokens = tokens_for_login(user, amr=amr, client=client)
        if method is None or not trust_device:
            return tokens
        trusted_now = trusted_device_create(user=user, client=client)
    return dataclasses.replace(tokens, device_token=trusted_now.token)


def _refresh_token_parse(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as error:
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID) from error


def _expiry(token: RefreshToken) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def _refresh_token_owner(token: RefreshToken) -> User:
    """The ACTIVE owner of a current, unrevoked `token` of a live session, in one statement; else token_not_valid.

    The statement also stamps the session as used now.
    """
    family = RevokedToken.family_key(token.get("fam", ""))
    session_id = session_id_parse(token.get("sid"))
    try:
        owner_id = int(token["sub"])
    except (TypeError, ValueError):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID) from None
    if session_id is None:  # issued before sessions existed, or forged
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    found = refresh_owner_read_and_touch(
        owner_id=owner_id, session_id=session_id, jti=token["jti"], family=family
    )
    user, token_revoked, session_live = found if found is not None else (None, True, False)
    if (
        user is None
        or not session_live
        or token_revoked
        or not account_may_authenticate(user)
        or token["gen"] != user.token_generation
    ):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    return user


def token_refresh(*, refresh_token: str, client: Client) -> IssuedTokens:
    """A new idToken; with rotation on, also a new refreshToken, and reuse revokes the family."""
    token = _refresh_token_parse(refresh_token)
    try:
        user = _refresh_token_owner(token)
    except ServiceError:
        if settings.JWT_ROTATE_REFRESH_TOKENS:
            _rotated_token_reuse_check(token, client=client)
        raise
    amr = token.get("amr", AMR_PASSWORD)
    session_id = token["sid"]
    id_token = str(id_token_for(user, amr=amr, session_id=session_id))
    if not settings.JWT_ROTATE_REFRESH_TOKENS:
        return IssuedTokens(id_token=id_token)
    try:
        with transaction.atomic():
            RevokedToken.objects.create(
                jti=token["jti"],
                user=user,
                reason=RevokedToken.Reason.ROTATED,
                expires_at=_expiry(token),
            )
    except IntegrityError:
        # Another request rotated this token first: two holders of one token.
        _family_revoke(token, user=user, client=client)
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID) from None
    rotated = refresh_token_for(
        user, amr=amr, session_id=session_id, family=token["fam"], expires_at=token["exp"]
    )
    return IssuedTokens(id_token=id_token, refresh_token=str(rotated))


def _rotated_token_reuse_check(token: RefreshToken, *, client: Client) -> None:
    """A rotated-out token presented again revokes its whole family (RFC 9700 §4.14.2)."""
    rotated = RevokedToken.objects.filter(jti=token["jti"], reason=RevokedToken.Reason.ROTATED).first()
    if rotated is not None:
        _family_revoke(token, user=rotated.user, client=client)


def _family_revoke(token: RefreshToken, *, user: User, client: Client) -> None:
    _, created = RevokedToken.objects.get_or_create(
        jti=RevokedToken.family_key(token["fam"]),
        defaults={
            "user": user,
            "reason": RevokedToken.Reason.REUSED_FAMILY,
            "expires_at": _expiry(token),
        },
    )
    if created:
        security_event_record(user=user, type=EventType.REFRESH_TOKEN_REUSED, client=client)


def logout(*, user: User, refresh_token: str, client: Client) -> None:
    """Revoke one refresh token of the caller's and end its session."""
    token = _refresh_token_parse(refresh_token)
    if str(token["sub"]) != str(user.pk):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    owner = _refresh_token_owner(token)
    with transaction.atomic():
        _, created = RevokedToken.objects.get_or_create(
            jti=token["jti"],
            defaults={
                "user": owner,
                "reason": RevokedToken.Reason.LOGOUT,
                "expires_at": _expiry(token),
            },
        )
        if not created:
            raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
        api_session_end_quietly(session_id=token["sid"])
        security_event_record(user=owner, type=EventType.LOGGED_OUT, client=client)


def session_logout_record(*, user: User, client: Client) -> None:
    """A browser session ended by its user (the API's logout revokes a refresh token instead)."""
    security_event_record(user=user, type=EventType.LOGGED_OUT, client=client, details={"session": "browser"})


def tokens_revoke_all(
    *,
    user: User,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    reason: str = "",
) -> None:
    """Every refresh token and idToken issued so far stops working, every session ends, no device is trusted."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.refresh_from_db(fields=["token_generation"])
    sessions_end_all(user=user)
    trusted_devices_revoke_all(user=user)
    details = {"reason": reason} if reason else {}
    security_event_record(
        user=user,
        type=EventType.TOKENS_REVOKED,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details=details,
    )


# --- passwords ----------------------------------------------------------------------------


def _password_set(user: User, password: str, *, keep_session: object = None) -> None:
    """New password: tokens issued before stop working, sessions but `keep_session` end, no device is
    trusted; a security change."""
    user.set_password(password)
    user.password_changed_at = security_change_record(user=user)
    user.token_generation = F("token_generation") + 1
    user.save(update_fields=["password", "password_changed_at", "token_generation"])
    user.refresh_from_db(fields=["token_generation"])
    sessions_end_all(user=user, except_id=keep_session)
    trusted_devices_revoke_all(user=user)


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    otp: str | None,
    client: Client,
    keep_session: object = None,
) -> User:
    """Current password, a valid new one and step-up when MFA is on; revokes every token.

    `keep_session`: the browser session the page changes the password from, which stays.
    """
    login_attempt_reserve(email=user.email, ip=client.ip)
    if not user.check_password(current_password):
        raise _password_failure(email=user.email, user=user, client=client)
    login_failures_forget(email=user.email)
    password_validate(password=new_password, user=user, field="newPassword")
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        _password_set(user, new_password, keep_session=keep_session)
        security_event_record(user=user, type=EventType.PASSWORD_CHANGED, client=client)
        notifications.password_changed_notify(user=user)
    return user


def password_reset_request(*, email: str, client: Client) -> None:
    """Email a single-use reset link if an account has `email`; the same answer either way.

    Everything, the lookup included, happens off the request's time: the answer takes as
    long for an unknown email as for a known one.
    """
    email = email_normalize(email)
    work_in_background(lambda: _password_reset_link_send(email=email, client=client))


def _password_reset_link_send(*, email: str, client: Client) -> None:
    user = User.objects.filter(email=email).first()
    if user is None:
        security_event_log_and_count(type=EventType.PASSWORD_RESET_REQUESTED, user_id=None, client=client)
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    security_event_record(user=user, type=EventType.PASSWORD_RESET_REQUESTED, client=client)
    # email_send has logged a failure; nobody is waiting for the answer.
    with contextlib.suppress(ServiceError):
        email_send(
            to=user.email,
            language=user.language,
            template="password_reset",
            context={
                "uid": uid,
                "token": token,
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
                "frozen": user.status == User.Status.FROZEN,
            },
            anti_phishing_code=user.anti_phishing_code,
        )


def _password_reset_user(uid: str, token: str) -> User:
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist) as error:
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400) from error
    if not default_token_generator.check_token(user, token):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400)
    return user


def password_reset_confirm(*, uid: str, token: str, new_password: str, client: Client) -> User:
    """Set a new password from an emailed link. It does not log in; a lock from failed codes lifts,
    a frozen account is ACTIVE again (its second factors kept)."""
    user = _password_reset_user(uid, token)
    password_validate(password=new_password, user=user, field="newPassword")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _password_set(user, new_password)
        if user.status == User.Status.LOCKED:
            user.save(update_fields=user.lock_lift())
            security_event_record(
                user=user, type=EventType.ACCOUNT_UNLOCKED, client=client, details={"by": "password reset"}
            )
        if user.status == User.Status.FROZEN:
            account_unfreeze_record(user=user, client=client)
        security_event_record(user=user, type=EventType.PASSWORD_RESET, client=client)
        notifications.password_reset_notify(user=user)
    return user
