"""The sales context that payment rules read and checkouts pay for, and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django_countries.fields import CountryField


class PaymentTerm(models.Model):
    """A deferred-payment agreement such as "Net 30", given to a customer or a customer group."""

    label = models.CharField(max_length=255)

    class Meta:
        ordering = ["label"]
        constraints = [models.UniqueConstraint(Lower("label"), name="payment_term_label_unique")]

    def __str__(self) -> str:
        return self.label


class Website(models.Model):
    name = models.CharField(max_length=255, unique=True)
    code = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerGroup(models.Model):
    name = models.CharField(max_length=255, unique=True)
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A buying company (customer account)."""

    name = models.CharField(max_length=255)
    group = models.ForeignKey(
        CustomerGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def effective_payment_term(self) -> PaymentTerm | None:
        """The customer's own term, else its group's."""
        if self.payment_term_id:
            return self.payment_term
        return self.group.payment_term if self.group else None


class CustomerUser(models.Model):
    """A person who buys on behalf of a customer; signs in to the storefront only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_user"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="users")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.customer})"


class AuditEntry(models.Model):
    """Who changed what, and when. Secrets appear only as "changed", never with a value."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=255)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]
        verbose_name_plural = "audit entries"
        # The permission that lets a user into /admin/ at all; customers never hold it.
        permissions = [("access_backoffice", "Can use the back-office")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_repr}"

    @property
    def action_label(self) -> str:
        """'integration.activated' reads as 'Activated'."""
        return self.action.rpartition(".")[2].replace("_", " ").capitalize()

    def change_lines(self) -> list[tuple[str, str]]:
        """Each change as (field, 'before → after'); a secret only ever reads 'changed'."""
        lines = []
        for field, change in self.changes.items():
            if isinstance(change, list) and len(change) == 2:
                before, after = (_show(value) for value in change)
                lines.append((field, f"{before} → {after}"))
            else:
                lines.append((field, _show(change)))
        return lines


def _show(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


class Address(models.Model):
    name = models.CharField(max_length=255, blank=True, default="")
    street = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    region = models.CharField(max_length=10, blank=True, default="")  # ISO 3166-2, e.g. US-CA
    country = CountryField()

    def __str__(self) -> str:
        parts = [self.street, self.city, self.postal_code, self.region, str(self.country)]
        return ", ".join(part for part in parts if part)


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    customer_user = models.ForeignKey(
        CustomerUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    website = models.ForeignKey(Website, on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=19, decimal_places=4)
    total = models.DecimalField(max_digits=19, decimal_places=4)
    billing_address = models.ForeignKey(Address, on_delete=models.PROTECT, related_name="+")
    shipping_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Derived from the payment ledger by payments.services; stored so lists can filter on it.
    payment_status = models.CharField(max_length=32, default="pending", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The orders list's default order (newest first), so a page is read from the index
            # instead of sorting every order.
            models.Index(fields=["-created_at", "-id"], name="order_newest_first")
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=19, decimal_places=4)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"
