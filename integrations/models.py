"""An integration is a configured connection to one payment provider; it yields payment methods."""

from __future__ import annotations

import secrets as token_source
from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from integrations import secrets
from integrations.types import Environment, IntegrationType, PaymentAction, environment_allowed


class IntegrationQuerySet(models.QuerySet["Integration"]):
    def alive(self) -> IntegrationQuerySet:
        """Integrations that have not been deleted (deleted ones stay as tombstones)."""
        return self.filter(deleted_at__isnull=True)


def new_webhook_token() -> str:
    return token_source.token_urlsafe(32)


class Integration(models.Model):
    type = models.CharField(max_length=40, choices=IntegrationType.choices)
    name = models.CharField(max_length=255)
    is_active = models.BooleanField("active", default=True)
    environment = models.CharField(max_length=10, choices=Environment.choices)
    settings = models.JSONField(default=dict, blank=True)
    # One Fernet token holding a JSON object of this integration's secrets; see `secrets`.
    encrypted_secrets = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The unguessable part of this integration's webhook URL (/webhooks/<token>/); the
    # provider's signature is still checked on every call.
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(deleted_at__isnull=True),
                name="integration_name_unique_while_alive",
            )
        ]
        indexes = [models.Index(fields=["type", "is_active"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("integrations:detail", args=[self.pk])

    @property
    def status_label(self) -> str:
        return "Active" if self.is_active else "Inactive"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def get_secrets(self) -> dict[str, str]:
        """The decrypted secrets: the one accessor adapters and services use."""
        return secrets.decrypt(self.encrypted_secrets)

    def set_secrets(self, values: dict[str, str]) -> None:
        self.encrypted_secrets = secrets.encrypt(values)

    def masked_secrets(self) -> dict[str, str]:
        return {name: secrets.mask(value) for name, value in self.get_secrets().items()}

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)

    def allowed_in_deployment(self) -> bool:
        return environment_allowed(self.environment)


class PaymentMethod(models.Model):
    """What a buyer picks at checkout; derived from its integration's settings."""

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="methods")
    identifier = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=40)
    label = models.CharField(max_length=255)
    short_label = models.CharField(max_length=255)
    admin_label = models.CharField(max_length=255)
    payment_action = models.CharField(max_length=20, choices=PaymentAction.choices)
    # False when the integration's settings no longer yield this method (e.g. eCheck turned off).
    is_offered = models.BooleanField(default=True)

    class Meta:
        ordering = ["integration_id", "id"]

    def __str__(self) -> str:
        return self.admin_label
