"""The payment ledger: append-only rows, one per operation asked of a provider."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from backoffice.models import CustomerUser, Order
from integrations.models import Integration, PaymentMethod


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
            # Answers and webhooks are matched to rows by the provider's reference.
            models.Index(fields=["provider_type", "provider_reference"]),
            # The orders list's filters: by method (its admin label, case-insensitively) and by
            # open authorization (awaiting capture, expiring within N days).
            models.Index(Upper("method_admin_label"), name="payment_tx_method_label_upper"),
            models.Index(
                fields=["order", "authorization_expires_at"],
                condition=Q(operation=Operation.AUTHORIZE, state=State.SUCCEEDED, is_open=True),
                name="payment_tx_open_authorization",
            ),
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


class WebhookEvent(models.Model):
    """A verified provider notification, kept once per event id so a replay changes nothing."""

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=255)
    reference = models.CharField(max_length=255, blank=True, default="")
    # The ledger row it settled, if any; what it did, for the people reading it later.
    transaction = models.ForeignKey(
        PaymentTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=255, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)  # as verified; no secrets in it
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "event_id"], name="webhook_event_once_per_integration"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class Reconciliation(models.Model):
    """How reconciliation is getting on with one unsettled ledger row: its retry schedule."""

    transaction = models.OneToOneField(
        PaymentTransaction, on_delete=models.PROTECT, related_name="reconciliation"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # None: due at the next run.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Asked as often as the schedule allows and still unsettled: a person must look at it.
    needs_person = models.BooleanField(default=False)
    last_answer = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["needs_person", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"reconciliation of {self.transaction_id} ({self.attempts} attempts)"
