"""Email deliveries: what makes each email leave at most once (accounts.core.tasks)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class EmailDelivery(models.Model):
    """One email the task queue sends at most once (accounts/core/tasks.py `delivery_run`).

    The task that sends it locks this row, sends, and marks it sent in one transaction: a task
    run again (a retry, a worker restarted) finds it sent and sends nothing.
    """

    id = models.UUIDField(primary_key=True)
    # What is sent: a template name, `password_reset`, `verification_code`; never an address.
    kind = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="email_delivery_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({'sent' if self.sent_at else 'not sent'})"
