"""Support actions as admin actions and buttons: a reason, a confirmation, one flow each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows import support
from accounts.models import User


class SupportReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit trail, which the user can read in their security history.",
    )


@dataclass(frozen=True)
class SupportAction:
    name: str
    title: str
    explanation: str
    service: Callable[..., User]


SUPPORT_ACTIONS = {
    action.name: action
    for action in [
        SupportAction(
            "block",
            "Block accounts",
            "Blocked accounts cannot log in, and every session and token they have stops working.",
            support.account_block,
        ),
        SupportAction(
            "unblock", "Unblock accounts", "The accounts can log in again.", support.account_unblock
        ),
        SupportAction(
            "freeze",
            "Freeze accounts",
            "As if the owner froze it: every session and token stops working, no device is trusted, and "
            "nobody can log in until the owner resets the password (or support unfreezes it).",
            support.account_freeze,
        ),
        SupportAction(
            "unfreeze",
            "Unfreeze accounts",
            "The accounts can log in again with their password and second factor, without a password reset. "
            "Only do this once you are sure who you are talking to.",
            support.account_unfreeze,
        ),
        SupportAction(
            "unlock",
            "Unlock accounts",
            "Lifts the lock and clears the failed password and code attempts.",
            support.account_unlock,
        ),
        SupportAction(
            "reset_mfa",
            "Reset second factors",
            "Schedules the removal of the authenticator app, the phone, the passkeys and the recovery codes, and "
            "the sign-out of every app of the accounts: it happens by itself once the delay "
            "(SUPPORT_MFA_RESET_DELAY_SECONDS) has passed, unless the user or support cancels it. "
            "Only do this once you are sure who you are talking to.",
            support.mfa_reset_schedule,
        ),
        SupportAction(
            "mfa_reset_cancel",
            "Cancel scheduled MFA resets",
            "The second factors stay as they are.",
            support.mfa_reset_cancel_by_support,
        ),
        SupportAction(
            "mfa_reset_now",
            "Reset second factors now",
            "Applies the scheduled resets at once, without waiting for their due time: the factors are "
            "removed and every app of the accounts is signed out.",
            support.mfa_reset_now,
        ),
        SupportAction(
            "revoke_tokens",
            "Sign out everywhere",
            "Every token the apps of the accounts hold stops working: they must log in again.",
            support.tokens_revoke,
        ),
        SupportAction(
            "reopen",
            "Reopen closed accounts",
            "The accounts can log in again with their password. Only within ACCOUNT_CLOSED_RETENTION_DAYS of "
            "their closing; after that they are deleted.",
            support.account_reopen,
        ),
        SupportAction(
            "resend_email_verification",
            "Resend email verification",
            "A new verification code is emailed to each account.",
            support.email_verification_resend,
        ),
    ]
}
# Support actions work on a handful of accounts, never on a whole filtered list by mistake.
SUPPORT_ACTION_MAX_ACCOUNTS = 50


class SupportActionMixin:
    """Support actions in an admin list: each asks for a reason on a confirmation page."""

    def support_action_run(
        self,
        request: HttpRequest,
        queryset: QuerySet[User],
        action: SupportAction,
        *,
        selected: list[Any] | None = None,
    ) -> HttpResponse | None:
        """Ask for the reason; once given, run the action's service on each account, one transaction each.

        `selected` are the admin's rows the action was chosen for, when they are not the accounts.
        """
        accounts = list(queryset.order_by("pk")[: SUPPORT_ACTION_MAX_ACCOUNTS + 1])
        if len(accounts) > SUPPORT_ACTION_MAX_ACCOUNTS:
            self.message_user(
                request,
                f"Select at most {SUPPORT_ACTION_MAX_ACCOUNTS} accounts for a support action.",
                messages.ERROR,
            )
            return None
        form = SupportReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_valid():
            selected = selected if selected is not None else [account.pk for account in accounts]
            return self._support_action_confirmation(request, action, accounts, form, selected)
        refusals = []
        for account in accounts:
            try:
                action.service(
                    user=account,
                    staff_member=request.user,
                    reason=form.cleaned_data["reason"],
                    client=client_from(request),
                )
            except ServiceError as error:
                refusals.append(f"{account.email}: {error.detail}")
        done = len(accounts) - len(refusals)
        if done:
            self.message_user(request, f"{action.title}: done for {done} account(s).", messages.SUCCESS)
        if refusals:
            self.message_user(
                request, f"{action.title}: not done for " + "; ".join(refusals), messages.WARNING
            )
        return None

    def _support_action_confirmation(
        self,
        request: HttpRequest,
        action: SupportAction,
        accounts: list[User],
        form: SupportReasonForm,
        selected: list[Any],
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": action.title,
            "opts": self.model._meta,
            "action": action,
            "accounts": accounts,
            "selected": selected,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/user/support_action_confirmation.html", context)
