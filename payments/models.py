"""The payment ledger: append-only rows, one per operation asked of a provider."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from backoffice.models import CustomerUser, Order
from integrations.models import PaymentMethod


class Operation(models.TextChoices):
    AUTHORIZE = "authorize", "Authorize"
    CHARGE = "charge", "Charge"
    CAPTURE = "capture", "Capture"
    CANCEL = "cancel", "Cancel"
    REFUND = "refund", "Refund"
    PENDING = "pending", "Pending (offline)"
    INVOICE = "invoice", "Invoice"


class State(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # The provider may or may not have acted (timeout, garbled answer): reconciliation settles it.
    UNKNOWN = "unknown", "Unknown"


class PaymentTransaction(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="transactions")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="transactions")
    # Snapshots, so history reads right after the integration is edited or deleted.
    method_label = models.CharField(max_length=255)
    method_short_label = models.CharField(max_length=255)
    method_admin_label = models.CharField(max_length=255)
    provider_type = models.CharField(max_length=40)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # An authorization (or offline payment) still awaiting capture.
    is_open = models.BooleanField(default=False)
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    provider_reference = models.CharField(max_length=255, blank=True, default="")
    idempotency_key = models.CharField(max_length=128, unique=True)
    authorization_expires_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_user = models.ForeignKey(
        CustomerUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    message = models.CharField(max_length=500, blank=True, default="")  # the provider's answer
    request = models.JSONField(default=dict, blank=True)  # redacted: no secret, no card data
    response = models.JSONField(default=dict, blank=True)  # redacted
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["order", "-id"]),
            models.Index(fields=["state", "updated_at"]),
        ]
        permissions = [
            ("view_payment_history", "Can view an order's payment history"),
            ("capture_payment", "Can capture authorized payments"),
            ("cancel_payment", "Can cancel authorizations"),
            ("refund_payment", "Can refund payments"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.amount} {self.currency} ({self.state})"

    @property
    def successful(self) -> bool:
        return self.state == State.SUCCEEDED
