"""The fields every integration has, and helpers for the per-type forms."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms

from integrations.models import Integration
from integrations.types import (
    Environment,
    PaymentAction,
    deployment_is_production,
    environment_refusal,
)

CARD_TYPES = [
    ("visa", "Visa"),
    ("mastercard", "Mastercard"),
    ("discover", "Discover"),
    ("american_express", "American Express"),
]
AUTHORIZE_NET_CARD_TYPES = [
    *CARD_TYPES,
    ("jcb", "JCB"),
    ("diners_club", "Diners Club"),
    ("china_union_pay", "China UnionPay"),
]
ECHECK_ACCOUNT_TYPES = [
    ("checking", "Checking"),
    ("savings", "Savings"),
    ("businessChecking", "Business checking"),
]
CARD_ACTIONS = [
    (PaymentAction.AUTHORIZE, "Authorize"),
    (PaymentAction.CHARGE, "Authorize and charge"),
]
PAYFLOW_PARTNERS = ["PayPal", "PayPalCA", "AMEX", "VSA", "WPAY"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
NAME_TAKEN = "An integration with this name already exists."


def _text(label: str, *, initial: str = "", help_text: str = "", required: bool = True) -> Any:
    return forms.CharField(
        label=label, max_length=255, initial=initial, help_text=help_text, required=required
    )


def _secret(label: str, *, help_text: str = "", min_length: int | None = None) -> Any:
    return forms.CharField(
        label=label,
        max_length=255,
        min_length=min_length,
        required=False,  # required on create only; see IntegrationForm.__init__()
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _card_types(choices: list[tuple[str, str]]) -> Any:
    return forms.MultipleChoiceField(
        label="Allowed credit card types",
        choices=choices,
        initial=["visa", "mastercard"],
        widget=forms.CheckboxSelectMultiple,
    )


def _flag(label: str, *, initial: bool = False, help_text: str = "") -> Any:
    return forms.BooleanField(label=label, required=False, initial=initial, help_text=help_text)


class IntegrationForm(forms.Form):
    """Fields every integration has; subclasses add the provider's settings."""

    type: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Secrets that may stay empty (e.g. a webhook signing secret configured later).
    optional_secret_fields: ClassVar[tuple[str, ...]] = ()
    has_remote_api: ClassVar[bool] = True
    # The checkbox that puts the integration in the provider's sandbox (test mode), if any.
    sandbox_flag: ClassVar[str | None] = None
    fieldsets: ClassVar[list[tuple[str, list[str]]]] = []

    name = forms.CharField(
        label="Name",
        max_length=255,
        help_text="Shown to administrators in lists, payment rules and payment history.",
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Inactive integrations are never offered at checkout.",
    )
    api_base_url = forms.URLField(
        label="Endpoint override (sandbox only)",
        required=False,
        max_length=255,
        assume_scheme="http",
        help_text="Send API calls to a local simulator instead of the provider, e.g. "
        "http://127.0.0.1:12111. Ignored and refused in a production deployment.",
    )

    def __init__(self, *args: Any, instance: Integration | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "is_active": instance.is_active,
                **instance.settings,
            }
        super().__init__(*args, **kwargs)
        if not self.has_remote_api or deployment_is_production():
            del self.fields["api_base_url"]
        if self.sandbox_flag and instance is None:
            # A new integration starts in the mode this deployment accepts.
            self.fields[self.sandbox_flag].initial = not deployment_is_production()
        self.stored_secrets = instance.masked_secrets() if instance else {}
        for name in self.secret_fields:
            field = self.fields[name]
            # A new integration needs its secrets; an edit keeps the stored ones when left empty.
            field.required = instance is None and name not in self.optional_secret_fields
            stored = self.stored_secrets.get(name)
            if stored:
                field.help_text = " ".join(
                    str(part)
                    for part in (field.help_text, f"Stored: {stored}. Leave empty to keep it.")
                    if part
                )

    # --- layout -------------------------------------------------------------------------------

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        general = ["name", "is_active"]
        layout = [("General", general), *self.fieldsets]
        if "api_base_url" in self.fields:
            layout.append(("Local testing", ["api_base_url"]))
        return [(title, [self[name] for name in names]) for title, names in layout]

    # --- validation ---------------------------------------------------------------------------

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        clash = Integration.objects.alive().filter(name__iexact=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(NAME_TAKEN)
        return name

    def clean_api_base_url(self) -> str:
        url: str = self.cleaned_data.get("api_base_url") or ""
        if url and urlsplit(url).hostname not in LOOPBACK_HOSTS:
            raise forms.ValidationError(
                "Only a simulator on this machine (127.0.0.1 or localhost) may be used."
            )
        return url.rstrip("/")

    def environment(self) -> str:
        """The environment these settings put the integration in."""
        if self.sandbox_flag and not self.cleaned_data.get(self.sandbox_flag):
            return Environment.LIVE
        return Environment.SANDBOX

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("is_active") and not self.errors:
            refusal = environment_refusal(self.environment())
            if refusal:
                self.add_error("is_active", refusal)
        return cleaned

    # --- results ------------------------------------------------------------------------------

    def cleaned_settings(self) -> dict[str, Any]:
        skip = {"name", "is_active", *self.secret_fields}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip and v not in (None,)}

    def integration_values(self) -> dict[str, Any]:
        """What integration_create/integration_update take from a valid form."""
        return {
            "name": self.cleaned_data["name"],
            "is_active": self.cleaned_data["is_active"],
            "environment": self.environment(),
            "settings": self.cleaned_settings(),
            "secrets": self.cleaned_secrets(),
        }

    def cleaned_secrets(self) -> dict[str, str]:
        """The submitted secrets; an empty field means "keep what is stored"."""
        return {
            name: self.cleaned_data[name]
            for name in self.secret_fields
            if self.cleaned_data.get(name)
        }
