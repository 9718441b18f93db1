"""Second factors, split by job: verification and throttling, code delivery and the SMS budget,
enrolment and removal, applying support's due MFA reset. Reads live in `otp.selectors`. Callers import from here."""

from __future__ import annotations

from otp.methods import Channel, Method
from otp.recovery_codes import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME, recovery_code_digest
from otp.selectors import TotpEnrolment, recovery_codes_remaining, second_factor_methods, totp_enrolment_of
from otp.services.delivery import (
    CodeSent,
    email_change_code_discard,
    email_change_code_send,
    email_verification_code_send,
    login_sms_code_send,
    sms_code_deliver,
    sms_code_send,
    verification_code_send,
)
from otp.services.enrolment import (
    factor_removal_record_and_notify,
    recovery_codes_generate,
    sms_device_add,
    sms_device_delete,
    totp_device_create,
    totp_device_delete,
)
from otp.services.removal import factors_remove_all, recovery_codes_drop_if_no_factor
from otp.services.verification import (
    channel_confirm,
    email_change_code_verify,
    login_second_factor_verify,
    otp_delay_remaining,
    pending_factors_drop_and_record,
    step_up_verify,
)

__all__ = [
    "RECOVERY_ALPHABET",
    "RECOVERY_DEVICE_NAME",
    "Channel",
    "CodeSent",
    "Method",
    "TotpEnrolment",
    "channel_confirm",
    "email_change_code_discard",
    "email_change_code_send",
    "email_change_code_verify",
    "email_verification_code_send",
    "factor_removal_record_and_notify",
    "factors_remove_all",
    "login_second_factor_verify",
    "login_sms_code_send",
    "otp_delay_remaining",
    "pending_factors_drop_and_record",
    "recovery_code_digest",
    "recovery_codes_drop_if_no_factor",
    "recovery_codes_generate",
    "recovery_codes_remaining",
    "second_factor_methods",
    "sms_code_deliver",
    "sms_code_send",
    "sms_device_add",
    "sms_device_delete",
    "step_up_verify",
    "totp_device_create",
    "totp_device_delete",
    "totp_enrolment_of",
    "verification_code_send",
]
