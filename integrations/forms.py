"""One settings form per integration type.

Each form knows which of its fields are secrets (encrypted, write-only: an empty field keeps the
stored value) and lays its fields out in titled sections. `integration_values()` hands the
service what to store.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms
from django.core.validators import RegexValidator

from integrations.models import Integration
from integrations.types import (
    Environment,
    IntegrationType,
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


def _flag(label: str, *, initial: bool = False, help_text: str = "") -> Any:
    return forms.BooleanField(label=label, required=False, initial=initial, help_text=help_text)


class IntegrationForm(forms.Form):
    """Fields every integration has; subclasses add the provider's settings."""

    type: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Secrets that may stay empty (e.g. a webhook signing secret configured later).
    optional_secret_fields: ClassVar[tuple[str, ...]] = ()
    has_remote_api: ClassVar[bool] = True
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


class MoneyOrderForm(IntegrationForm):
    type = IntegrationType.MONEY_ORDER
    has_remote_api = False
    label = _text("Label", initial="Check/Money Order", help_text="Shown to buyers at checkout.")
    short_label = _text(
        "Short label", initial="Check/Money Order", help_text="Shown in order history."
    )
    pay_to = _text("Pay to", help_text="Whom the check or money order is made out to.")
    send_to = forms.CharField(
        label="Send to",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The address and directions shown to the buyer with the payment instructions.",
    )
    fieldsets = [("Display", ["label", "short_label"]), ("Instructions", ["pay_to", "send_to"])]

    def environment(self) -> str:
        return Environment.OFFLINE


class PaymentTermForm(IntegrationForm):
    type = IntegrationType.PAYMENT_TERM
    has_remote_api = False
    label = _text("Label", initial="Payment Terms", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="Payment Terms", help_text="Shown in order history.")
    fieldsets = [("Display", ["label", "short_label"])]

    def environment(self) -> str:
        return Environment.OFFLINE


class PayflowForm(IntegrationForm):
    """PayPal Payflow Gateway; PayPal Payments Pro uses the same protocol and form."""

    type = IntegrationType.PAYFLOW_GATEWAY
    secret_fields = ("password",)

    credit_card_label = _text("Credit card label", initial="Credit Card")
    credit_card_short_label = _text("Credit card short label", initial="Credit Card")
    allowed_card_types = forms.MultipleChoiceField(
        label="Allowed credit card types",
        choices=CARD_TYPES,
        initial=["visa", "mastercard"],
        widget=forms.CheckboxSelectMultiple,
    )
    partner = forms.CharField(
        label="Partner",
        max_length=64,
        initial="PayPal",
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only, e.g. PayPal.")],
        help_text="PayPal if you bought Payflow directly from PayPal; otherwise your reseller's ID "
        f"({', '.join(PAYFLOW_PARTNERS)}).",
    )
    vendor = _text("Vendor", help_text="Your merchant login ID.")
    user = _text("User", help_text="The API user; the same as the vendor unless you set up users.")
    password = _secret("Password", min_length=7, help_text="7 to 255 characters.")
    test_mode = _flag("Test mode", help_text="Use PayPal's pilot (sandbox) servers.")
    credit_card_payment_action = forms.ChoiceField(
        label="Credit card payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    require_cvv = _flag("Require CVV entry", initial=True)
    zero_amount_authorization = _flag(
        "Zero amount authorization", help_text="Verify cards with a $0 authorization."
    )
    authorization_for_required_amount = _flag(
        "Authorization for required amount",
        help_text="Also authorize the order amount; needs zero amount authorization and the "
        "Authorize action.",
    )
    debug_mode = _flag("Debug mode", help_text="Ask PayPal for verbose responses.")
    use_proxy = _flag("Use proxy")
    proxy_host = _text("Proxy host", required=False)
    proxy_port = forms.IntegerField(
        label="Proxy port", required=False, min_value=1, max_value=65535
    )
    enable_ssl_verification = _flag("Enable SSL verification", initial=True)
    express_checkout_name = _text(
        "Express checkout name",
        help_text="How administrators see the express checkout method; must differ from the name.",
    )
    express_checkout_label = _text("Express checkout label", initial="PayPal")
    express_checkout_short_label = _text("Express checkout short label", initial="PayPal")
    express_checkout_payment_action = forms.ChoiceField(
        label="Express checkout payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )

    fieldsets = [
        ("Display", ["credit_card_label", "credit_card_short_label", "allowed_card_types"]),
        ("Integration", ["partner", "vendor", "user", "password", "test_mode"]),
        (
            "Advanced",
            [
                "credit_card_payment_action",
                "require_cvv",
                "zero_amount_authorization",
                "authorization_for_required_amount",
                "debug_mode",
            ],
        ),
        ("Connection", ["use_proxy", "proxy_host", "proxy_port", "enable_ssl_verification"]),
        (
            "Express checkout",
            [
                "express_checkout_name",
                "express_checkout_label",
                "express_checkout_short_label",
                "express_checkout_payment_action",
            ],
        ),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is None:
            self.fields["test_mode"].initial = not deployment_is_production()

    def environment(self) -> str:
        return Environment.SANDBOX if self.cleaned_data.get("test_mode") else Environment.LIVE

    def clean_proxy_host(self) -> str:
        host: str = self.cleaned_data.get("proxy_host", "")
        if host and not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", host):
            raise forms.ValidationError("Enter a host name or IP address, without a scheme.")
        return host

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("use_proxy"):
            for field in ("proxy_host", "proxy_port"):
                if not cleaned.get(field) and field not in self.errors:
                    self.add_error(field, "Required when a proxy is used.")
        if cleaned.get("authorization_for_required_amount") and not (
            cleaned.get("zero_amount_authorization")
            and cleaned.get("credit_card_payment_action") == PaymentAction.AUTHORIZE
        ):
            self.add_error(
                "authorization_for_required_amount",
                "Needs zero amount authorization on and the Authorize payment action.",
            )
        if not cleaned.get("enable_ssl_verification") and deployment_is_production():
            self.add_error(
                "enable_ssl_verification",
                "SSL verification cannot be turned off in a production deployment.",
            )
        express_name = (cleaned.get("express_checkout_name") or "").strip()
        if express_name:
            cleaned["express_checkout_name"] = express_name
            if express_name.lower() == (cleaned.get("name") or "").lower():
                self.add_error("express_checkout_name", "Must differ from the integration's name.")
            elif self._express_name_taken(express_name):
                self.add_error(
                    "express_checkout_name",
                    "Another integration already uses this express checkout name.",
                )
        return cleaned

    def _express_name_taken(self, express_name: str) -> bool:
        others = Integration.objects.alive().filter(
            type__in=[IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO],
            settings__express_checkout_name__iexact=express_name,
        )
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        return others.exists()


class PaymentsProForm(PayflowForm):
    type = IntegrationType.PAYMENTS_PRO


class PayPalExpressForm(IntegrationForm):
    type = IntegrationType.PAYPAL_EXPRESS
    secret_fields = ("client_secret",)

    label = _text("Label", initial="PayPal", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="PayPal", help_text="Shown in order history.")
    client_id = forms.CharField(
        label="Client ID",
        max_length=255,
        validators=[RegexValidator(r"^[A-Za-z0-9_\-]+$", "This is not a PayPal client ID.")],
    )
    client_secret = _secret("Client secret")
    sandbox_mode = _flag("Sandbox mode", help_text="Use PayPal's sandbox.")
    payment_action = forms.ChoiceField(
        label="Payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    fieldsets = [
        ("Display", ["label", "short_label"]),
        ("Integration", ["client_id", "client_secret", "sandbox_mode"]),
        ("Advanced", ["payment_action"]),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is None:
            self.fields["sandbox_mode"].initial = not deployment_is_production()

    def environment(self) -> str:
        return Environment.SANDBOX if self.cleaned_data.get("sandbox_mode") else Environment.LIVE


class AuthorizeNetForm(IntegrationForm):
    type = IntegrationType.AUTHORIZE_NET
    secret_fields = ("transaction_key",)

    credit_card_label = _text("Credit card label", initial="Credit Card")
    credit_card_short_label = _text("Credit card short label", initial="Credit Card")
    allowed_card_types = forms.MultipleChoiceField(
        label="Allowed credit card types",
        choices=AUTHORIZE_NET_CARD_TYPES,
        initial=["visa", "mastercard"],
        widget=forms.CheckboxSelectMultiple,
    )
    api_login_id = forms.CharField(
        label="API login ID",
        max_length=25,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only.")],
    )
    transaction_key = forms.CharField(
        label="Transaction key",
        required=False,
        max_length=16,
        min_length=16,
        validators=[
            RegexValidator(r"^[A-Za-z0-9]+$", "A transaction key is 16 letters and digits.")
        ],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="16 characters.",
    )
    client_key = forms.CharField(
        label="Client key",
        max_length=255,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only.")],
        help_text="The public client key Accept.js uses in the buyer's browser.",
    )
    test_mode = _flag("Test mode", help_text="Use the Authorize.Net sandbox.")
    payment_action = forms.ChoiceField(
        label="Payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    require_cvv = _flag("Require CVV entry", initial=True)
    echeck_enabled = _flag(
        "Enable eCheck", help_text="Offer payment from a bank account (charge only)."
    )
    echeck_label = _text("eCheck label", initial="eCheck", required=False)
    echeck_short_label = _text("eCheck short label", initial="eCheck", required=False)
    echeck_account_types = forms.MultipleChoiceField(
        label="eCheck account types",
        choices=ECHECK_ACCOUNT_TYPES,
        initial=["checking", "savings"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    echeck_confirmation_text = forms.CharField(
        label="eCheck confirmation text",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The debit authorization the buyer accepts.",
    )
    fieldsets = [
        ("Display", ["credit_card_label", "credit_card_short_label", "allowed_card_types"]),
        ("Integration", ["api_login_id", "transaction_key", "client_key", "test_mode"]),
        ("Advanced", ["payment_action", "require_cvv"]),
        (
            "eCheck",
            [
                "echeck_enabled",
                "echeck_label",
                "echeck_short_label",
                "echeck_account_types",
                "echeck_confirmation_text",
            ],
        ),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is None:
            self.fields["test_mode"].initial = not deployment_is_production()

    def environment(self) -> str:
        return Environment.SANDBOX if self.cleaned_data.get("test_mode") else Environment.LIVE

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("echeck_enabled"):
            for field in ("echeck_label", "echeck_short_label", "echeck_account_types"):
                if not cleaned.get(field) and field not in self.errors:
                    self.add_error(field, "Required when eCheck is enabled.")
        return cleaned


STRIPE_KEY_PATTERNS = {
    "publishable_key": re.compile(r"^pk_(test|live)_[A-Za-z0-9]{8,247}$"),
    "secret_key": re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$"),
    "webhook_signing_secret": re.compile(r"^whsec_[A-Za-z0-9+/=]{8,249}$"),
}


def stripe_key_mode(key: str) -> str:
    """'test' or 'live' for a Stripe API key ('' when it is neither)."""
    match = re.match(r"^(?:pk|sk|rk)_(test|live)_", key)
    return match.group(1) if match else ""


class StripeForm(IntegrationForm):
    type = IntegrationType.STRIPE
    secret_fields = ("secret_key", "webhook_signing_secret")
    optional_secret_fields = ("webhook_signing_secret",)

    label = _text("Label", initial="Credit Card (Stripe)", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="Credit Card", help_text="Shown in order history.")
    publishable_key = forms.CharField(
        label="Publishable key", max_length=255, help_text="Starts with pk_test_ or pk_live_."
    )
    secret_key = _secret(
        "Secret key", help_text="Starts with sk_test_ or sk_live_ (or rk_ for a restricted key)."
    )
    webhook_signing_secret = _secret(
        "Webhook signing secret",
        help_text="Starts with whsec_. Optional until webhooks are set up.",
    )
    payment_action = forms.ChoiceField(
        label="Payment action",
        choices=[("manual", "Manual (authorize)"), ("automatic", "Automatic (capture)")],
        initial="automatic",
    )
    fieldsets = [
        ("Display", ["label", "short_label"]),
        ("Integration", ["publishable_key", "secret_key", "webhook_signing_secret"]),
        ("Advanced", ["payment_action"]),
    ]

    def _clean_key(self, field: str, kind: str) -> str:
        key: str = (self.cleaned_data.get(field) or "").strip()
        if not key:
            return key
        if not STRIPE_KEY_PATTERNS[field].match(key):
            raise forms.ValidationError(f"This is not a Stripe {kind}.")
        mode = stripe_key_mode(key)
        if mode == "test" and deployment_is_production():
            raise forms.ValidationError("Test keys cannot be used in a production deployment.")
        if mode == "live" and not deployment_is_production():
            raise forms.ValidationError("Live keys cannot be used in a sandbox deployment.")
        return key

    def clean_publishable_key(self) -> str:
        return self._clean_key("publishable_key", "publishable key (pk_test_… or pk_live_…)")

    def clean_secret_key(self) -> str:
        return self._clean_key("secret_key", "secret key (sk_test_… or sk_live_…)")

    def clean_webhook_signing_secret(self) -> str:
        return self._clean_key("webhook_signing_secret", "webhook signing secret (whsec_…)")

    def environment(self) -> str:
        mode = stripe_key_mode(self.cleaned_data.get("publishable_key", ""))
        return Environment.LIVE if mode == "live" else Environment.SANDBOX

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        publishable = cleaned.get("publishable_key", "")
        secret = cleaned.get("secret_key") or (
            self.instance.get_secrets().get("secret_key", "") if self.instance else ""
        )
        if publishable and secret and stripe_key_mode(publishable) != stripe_key_mode(secret):
            self.add_error(
                "secret_key",
                "The secret key and the publishable key must both be test or both live.",
            )
        return cleaned


FORMS: dict[str, type[IntegrationForm]] = {
    form.type: form
    for form in (
        MoneyOrderForm,
        PaymentTermForm,
        PayflowForm,
        PaymentsProForm,
        PayPalExpressForm,
        AuthorizeNetForm,
        StripeForm,
    )
}


def form_class_for(type: str) -> type[IntegrationForm]:
    return FORMS[type]
