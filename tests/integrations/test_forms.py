"""The integration forms, driven through the back-office views as an administrator would.

Valid data creates one integration with its payment methods and environment; invalid data
answers 400, shows the message next to the offending field and saves nothing.
"""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from django.test import Client
from django.utils import timezone

from integrations.models import Integration, PaymentMethod
from integrations.types import Environment, IntegrationType
from tests.factories import create_integration, form_data

pytestmark = pytest.mark.django_db

T = IntegrationType
ALL_TYPES = list(IntegrationType)
PAYFLOW_TYPES = [T.PAYFLOW_GATEWAY, T.PAYMENTS_PRO]
REQUIRED = "This field is required."
LIVE_KEYS_REFUSED = "Live keys cannot be used in a sandbox deployment."
NAME_TAKEN = "An integration with this name already exists."
REMOTE_ENDPOINT_REFUSED = "Only a simulator on this machine (127.0.0.1 or localhost) may be used."

# The payment methods each type yields: (identifier prefix, kind); identifiers end in _<id>.
EXPECTED_METHODS: dict[str, list[tuple[str, str]]] = {
    T.MONEY_ORDER: [("money_order", "money_order")],
    T.PAYMENT_TERM: [("payment_term", "payment_term")],
    T.PAYFLOW_GATEWAY: [
        ("paypal_payflow_gateway_credit_card", "credit_card"),
        ("paypal_payflow_gateway_express_checkout", "express_checkout"),
    ],
    T.PAYMENTS_PRO: [
        ("paypal_payments_pro_credit_card", "credit_card"),
        ("paypal_payments_pro_express_checkout", "express_checkout"),
    ],
    T.PAYPAL_EXPRESS: [("paypal_express", "paypal_express")],
    T.AUTHORIZE_NET: [("authorize_net", "credit_card")],
    T.STRIPE: [("stripe_payment", "credit_card")],
}
EXPECTED_ENVIRONMENT = {
    T.MONEY_ORDER: Environment.OFFLINE,
    T.PAYMENT_TERM: Environment.OFFLINE,
    T.PAYFLOW_GATEWAY: Environment.SANDBOX,
    T.PAYMENTS_PRO: Environment.SANDBOX,
    T.PAYPAL_EXPRESS: Environment.SANDBOX,
    T.AUTHORIZE_NET: Environment.SANDBOX,
    T.STRIPE: Environment.SANDBOX,
}
# Every field an administrator must fill in when creating an integration of each type.
PAYFLOW_REQUIRED = [
    "name",
    "credit_card_label",
    "credit_card_short_label",
    "allowed_card_types",
    "partner",
    "vendor",
    "user",
    "password",
    "credit_card_payment_action",
    "express_checkout_name",
    "express_checkout_label",
    "express_checkout_short_label",
    "express_checkout_payment_action",
]
REQUIRED_FIELDS: dict[str, list[str]] = {
    T.MONEY_ORDER: ["name", "label", "short_label", "pay_to", "send_to"],
    T.PAYMENT_TERM: ["name", "label", "short_label"],
    T.PAYFLOW_GATEWAY: PAYFLOW_REQUIRED,
    T.PAYMENTS_PRO: PAYFLOW_REQUIRED,
    T.PAYPAL_EXPRESS: [
        "name",
        "label",
        "short_label",
        "client_id",
        "client_secret",
        "payment_action",
    ],
    T.AUTHORIZE_NET: [
        "name",
        "credit_card_label",
        "credit_card_short_label",
        "allowed_card_types",
        "api_login_id",
        "transaction_key",
        "client_key",
        "payment_action",
    ],
    T.STRIPE: ["name", "label", "short_label", "publishable_key", "secret_key", "payment_action"],
}
# The secret fields of each type, and a valid replacement value for each.
NEW_SECRETS: dict[str, dict[str, str]] = {
    T.PAYFLOW_GATEWAY: {"password": "new-payflow-secret"},
    T.PAYMENTS_PRO: {"password": "new-payflow-secret"},
    T.PAYPAL_EXPRESS: {"client_secret": "new-paypal-client-secret"},
    T.AUTHORIZE_NET: {"transaction_key": "NewTxnKey0000001"},
    T.STRIPE: {
        "secret_key": "sk_test_ReplacedSecretKey00001",
        "webhook_signing_secret": "whsec_ReplacedSigning01",
    },
}
ECHECK_ON = {
    "echeck_enabled": True,
    "echeck_label": "eCheck",
    "echeck_short_label": "eCheck",
    "echeck_account_types": ["checking", "savings"],
    "echeck_confirmation_text": "I authorize the debit.",
}


# --- helpers ----------------------------------------------------------------------------------


def create_url(type: str) -> str:
    return f"/admin/integrations/new/?type={type}"


def edit_url(integration: Integration) -> str:
    return f"/admin/integrations/{integration.pk}/edit/"


def post_new(client: Client, type: str, name: str = "Test integration", **overrides: Any):
    return client.post(create_url(type), form_data(type, name, **overrides))


def post_edit(client: Client, integration: Integration, name: str | None = None, **overrides: Any):
    data = form_data(integration.type, name or integration.name, **overrides)
    return client.post(edit_url(integration), data)


def field_errors(response, field: str) -> list[str]:
    """The messages shown inside `field`'s `<div class="field has-error">` on the page.

    (A group of checkboxes is wrapped in a `<fieldset class="field has-error">` instead.)
    """
    page = lxml.html.fromstring(response.content.decode())
    wrappers = page.xpath(
        '//*[contains(concat(" ", normalize-space(@class), " "), " field ")][.//*[@name=$name]]',
        name=field,
    )
    assert len(wrappers) == 1, f"expected one wrapper for the field {field!r}"
    assert "has-error" in wrappers[0].get("class").split(), f"{field!r} is not marked in error"
    return [p.text_content() for p in wrappers[0].xpath('.//p[@class="field-error"]')]


def assert_refused(response, field: str, message: str) -> None:
    assert response.status_code == 400
    errors = field_errors(response, field)
    assert any(message in error for error in errors), errors


def snapshot(integration: Integration) -> tuple[Any, ...]:
    """Everything an edit could change about a stored integration."""
    row = Integration.objects.get(pk=integration.pk)
    methods = list(
        PaymentMethod.objects.filter(integration=row).values_list(
            "identifier", "admin_label", "label", "payment_action", "is_offered"
        )
    )
    return (
        row.name,
        row.is_active,
        row.environment,
        row.settings,
        row.encrypted_secrets,
        row.updated_at,
        methods,
    )


# --- creating: valid data ---------------------------------------------------------------------


@pytest.mark.parametrize("type", ALL_TYPES)
def test_valid_data_creates_one_integration_with_its_methods_and_environment(admin_client, type):
    assert admin_client.get(create_url(type)).status_code == 200

    response = post_new(admin_client, type, "Created")

    integration = Integration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/integrations/{integration.pk}/"
    assert integration.type == type
    assert integration.name == "Created"
    assert integration.is_active
    assert integration.environment == EXPECTED_ENVIRONMENT[type]
    methods = list(integration.methods.order_by("id").values_list("identifier", "kind"))
    assert methods == [
        (f"{prefix}_{integration.pk}", kind) for prefix, kind in EXPECTED_METHODS[type]
    ]
    assert all(integration.methods.values_list("is_offered", flat=True))
    assert admin_client.get(response["Location"]).status_code == 200
    assert admin_client.get(edit_url(integration)).status_code == 200


@pytest.mark.parametrize("type", PAYFLOW_TYPES)
def test_payflow_methods_are_named_after_the_integration_and_its_express_checkout(
    admin_client, type
):
    post_new(admin_client, type, "Payflow", express_checkout_name="Payflow PayPal")
    integration = Integration.objects.get()
    labels = dict(integration.methods.values_list("kind", "admin_label"))
    assert labels == {"credit_card": "Payflow", "express_checkout": "Payflow PayPal"}


def test_authorize_net_with_echeck_yields_a_card_and_an_echeck_method(admin_client):
    response = post_new(admin_client, T.AUTHORIZE_NET, "Authorize", **ECHECK_ON)

    assert response.status_code == 302
    integration = Integration.objects.get()
    methods = list(
        integration.methods.order_by("id").values_list("identifier", "kind", "admin_label")
    )
    assert methods == [
        (f"authorize_net_{integration.pk}", "credit_card", "Authorize"),
        (f"authorize_net_echeck_{integration.pk}", "echeck", "Authorize (eCheck)"),
    ]


def test_the_detail_page_lists_the_new_integrations_methods(admin_client):
    post_new(admin_client, T.STRIPE, "Cards")
    integration = Integration.objects.get()
    page = admin_client.get(f"/admin/integrations/{integration.pk}/").content.decode()
    assert f"stripe_payment_{integration.pk}" in page


def test_a_name_of_255_characters_is_accepted(admin_client):
    response = post_new(admin_client, T.MONEY_ORDER, "n" * 255)
    assert response.status_code == 302
    assert Integration.objects.get().name == "n" * 255


def test_the_name_of_a_deleted_integration_can_be_reused(admin_client):
    old = create_integration(T.MONEY_ORDER, name="Checks")
    Integration.objects.filter(pk=old.pk).update(deleted_at=timezone.now())
    response = post_new(admin_client, T.MONEY_ORDER, "checks")
    assert response.status_code == 302
    assert Integration.objects.alive().get().name == "checks"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:12111", "http://localhost:12111/", "http://[::1]:12111"]
)
def test_an_endpoint_override_on_this_machine_is_accepted(admin_client, url):
    response = post_new(admin_client, T.STRIPE, api_base_url=url)
    assert response.status_code == 302
    assert Integration.objects.get().settings["api_base_url"] == url.rstrip("/")


def test_authorization_for_required_amount_with_zero_amount_authorize_is_accepted(admin_client):
    response = post_new(
        admin_client,
        T.PAYFLOW_GATEWAY,
        zero_amount_authorization=True,
        authorization_for_required_amount=True,
        credit_card_payment_action="authorize",
    )
    assert response.status_code == 302
    assert Integration.objects.get().settings["authorization_for_required_amount"] is True


def test_a_proxy_with_host_and_port_is_accepted(admin_client):
    response = post_new(
        admin_client, T.PAYFLOW_GATEWAY, use_proxy=True, proxy_host="proxy.local", proxy_port=3128
    )
    assert response.status_code == 302
    stored = Integration.objects.get().settings
    assert (stored["proxy_host"], stored["proxy_port"]) == ("proxy.local", 3128)


# --- creating: invalid data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type", "field"),
    [
        pytest.param(type, field, id=f"{type}-{field}")
        for type, fields in REQUIRED_FIELDS.items()
        for field in fields
    ],
)
def test_a_missing_required_field_is_refused_next_to_it(admin_client, type, field):
    response = post_new(admin_client, type, **{field: None})
    assert_refused(response, field, REQUIRED)
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param(
            {"secret_key": "pk_test_TestPublishable0001"},
            "secret_key",
            "This is not a Stripe secret key",
            id="publishable-key-as-secret-key",
        ),
        pytest.param(
            {"publishable_key": "sk_test_TestSecretKey000000001"},
            "publishable_key",
            "This is not a Stripe publishable key",
            id="secret-key-as-publishable-key",
        ),
        pytest.param(
            {"webhook_signing_secret": "sk_test_TestSecretKey000000001"},
            "webhook_signing_secret",
            "This is not a Stripe webhook signing secret",
            id="secret-key-as-signing-secret",
        ),
        pytest.param(
            {"secret_key": "sk_live_" + "LiveSecretKey000000001"},
            "secret_key",
            LIVE_KEYS_REFUSED,
            id="test-publishable-with-live-secret",
        ),
        pytest.param(
            {"publishable_key": "pk_live_LivePublishable0001"},
            "publishable_key",
            LIVE_KEYS_REFUSED,
            id="live-publishable-with-test-secret",
        ),
    ],
)
def test_stripe_refuses_a_key_of_the_wrong_kind_or_mode(admin_client, overrides, field, message):
    response = post_new(admin_client, T.STRIPE, **overrides)
    assert_refused(response, field, message)
    assert not Integration.objects.exists()


def test_stripe_refuses_live_keys_in_this_sandbox_deployment(admin_client):
    response = post_new(
        admin_client,
        T.STRIPE,
        publishable_key="pk_live_LivePublishable0001",
        secret_key="sk_live_" + "LiveSecretKey000000001",
    )
    assert_refused(response, "publishable_key", LIVE_KEYS_REFUSED)
    assert_refused(response, "secret_key", LIVE_KEYS_REFUSED)
    assert not Integration.objects.exists()


def test_stripe_refuses_a_publishable_key_whose_mode_differs_from_the_stored_secret(
    admin_client, settings
):
    # Created in the sandbox with test keys; the deployment then goes to production and an
    # administrator enters a live publishable key but keeps the stored (test) secret key.
    integration = create_integration(T.STRIPE, name="Cards")
    before = snapshot(integration)
    settings.IS_PRODUCTION = True
    settings.PAYMENTS_ENVIRONMENT = "production"

    response = post_edit(
        admin_client,
        integration,
        publishable_key="pk_live_LivePublishable0001",
        secret_key="",
        webhook_signing_secret="",
        is_active=None,
    )

    assert_refused(
        response,
        "secret_key",
        "The secret key and the publishable key must both be test or both live.",
    )
    assert snapshot(integration) == before


@pytest.mark.parametrize("type", PAYFLOW_TYPES)
def test_payflow_refuses_a_password_shorter_than_7_characters(admin_client, type):
    response = post_new(admin_client, type, password="123456")
    assert_refused(response, "password", "Ensure this value has at least 7 characters (it has 6).")
    assert not Integration.objects.exists()


@pytest.mark.parametrize("type", PAYFLOW_TYPES)
def test_express_checkout_name_must_differ_from_the_name_ignoring_case(admin_client, type):
    response = post_new(admin_client, type, "Payflow", express_checkout_name="  PAYFLOW ")
    assert_refused(response, "express_checkout_name", "Must differ from the integration's name.")
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    ("first_type", "second_type"), [(a, b) for a in PAYFLOW_TYPES for b in PAYFLOW_TYPES]
)
def test_express_checkout_name_used_by_another_payflow_integration_is_refused(
    admin_client, first_type, second_type
):
    create_integration(first_type, name="First", express_checkout_name="Shared Express")
    response = post_new(admin_client, second_type, "Second", express_checkout_name="shared EXPRESS")
    assert_refused(
        response,
        "express_checkout_name",
        "Another integration already uses this express checkout name.",
    )
    assert Integration.objects.count() == 1


@pytest.mark.parametrize("type", ALL_TYPES)
def test_a_duplicate_name_is_refused_ignoring_case(admin_client, type):
    create_integration(T.MONEY_ORDER, name="Main Checkout")
    response = post_new(admin_client, type, "MAIN checkout")
    assert_refused(response, "name", NAME_TAKEN)
    assert Integration.objects.count() == 1


def test_a_name_over_255_characters_is_refused(admin_client):
    response = post_new(admin_client, T.MONEY_ORDER, "n" * 256)
    assert_refused(response, "name", "Ensure this value has at most 255 characters (it has 256).")
    assert not Integration.objects.exists()


@pytest.mark.parametrize("type", PAYFLOW_TYPES)
def test_a_proxy_needs_a_host_and_a_port(admin_client, type):
    response = post_new(admin_client, type, use_proxy=True, proxy_host="", proxy_port="")
    assert_refused(response, "proxy_host", "Required when a proxy is used.")
    assert_refused(response, "proxy_port", "Required when a proxy is used.")
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"zero_amount_authorization": None}, id="without-zero-amount-auth"),
        pytest.param(
            {"zero_amount_authorization": True, "credit_card_payment_action": "charge"},
            id="with-the-charge-action",
        ),
    ],
)
def test_authorization_for_required_amount_needs_zero_amount_authorize(admin_client, overrides):
    response = post_new(
        admin_client, T.PAYFLOW_GATEWAY, authorization_for_required_amount=True, **overrides
    )
    assert_refused(
        response,
        "authorization_for_required_amount",
        "Needs zero amount authorization on and the Authorize payment action.",
    )
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        pytest.param(
            "TxnKey012345678",
            "Ensure this value has at least 16 characters (it has 15).",
            id="15-characters",
        ),
        pytest.param(
            "TxnKey01234567890",
            "Ensure this value has at most 16 characters (it has 17).",
            id="17-characters",
        ),
        pytest.param(
            "TxnKey-123456789", "A transaction key is 16 letters and digits.", id="punctuation"
        ),
    ],
)
def test_authorize_net_transaction_key_must_be_16_letters_and_digits(admin_client, key, message):
    response = post_new(admin_client, T.AUTHORIZE_NET, transaction_key=key)
    assert_refused(response, "transaction_key", message)
    assert not Integration.objects.exists()


def test_echeck_needs_at_least_one_account_type(admin_client):
    response = post_new(
        admin_client, T.AUTHORIZE_NET, **{**ECHECK_ON, "echeck_account_types": None}
    )
    assert_refused(response, "echeck_account_types", "Required when eCheck is enabled.")
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:12111",
        "https://api.stripe.com",
        "http://127.0.0.1.example.com:12111",
        "http://localhost@example.com:12111",
        "http://169.254.169.254/",
        "http://0.0.0.0:12111",
    ],
)
def test_an_endpoint_override_off_this_machine_is_refused(admin_client, url):
    response = post_new(admin_client, T.STRIPE, api_base_url=url)
    assert_refused(response, "api_base_url", REMOTE_ENDPOINT_REFUSED)
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "type", [T.PAYFLOW_GATEWAY, T.PAYMENTS_PRO, T.AUTHORIZE_NET, T.PAYPAL_EXPRESS]
)
def test_every_remote_type_refuses_an_endpoint_override_off_this_machine(admin_client, type):
    response = post_new(admin_client, type, api_base_url="http://example.com:12111")
    assert_refused(response, "api_base_url", REMOTE_ENDPOINT_REFUSED)
    assert not Integration.objects.exists()


@pytest.mark.parametrize("type", [T.MONEY_ORDER, T.PAYMENT_TERM])
def test_offline_types_have_no_endpoint_override(admin_client, type):
    assert 'name="api_base_url"' not in admin_client.get(create_url(type)).content.decode()
    response = post_new(admin_client, type, api_base_url="http://example.com")
    assert response.status_code == 302
    assert "api_base_url" not in Integration.objects.get().settings


def test_a_refused_form_keeps_what_was_typed(admin_client):
    response = post_new(admin_client, T.MONEY_ORDER, "Checks", pay_to="", label="Cheque")
    page = lxml.html.fromstring(response.content.decode())
    assert page.xpath('//input[@name="name"]/@value') == ["Checks"]
    assert page.xpath('//input[@name="label"]/@value') == ["Cheque"]


@pytest.mark.parametrize("type", [T.MONEY_ORDER, T.STRIPE])
def test_a_blank_name_is_required(admin_client, type):
    response = post_new(admin_client, type, "   ")
    assert_refused(response, "name", REQUIRED)
    assert not Integration.objects.exists()


def test_a_restricted_stripe_key_is_accepted_as_the_secret_key(admin_client):
    response = post_new(admin_client, T.STRIPE, secret_key="rk_test_RestrictedKey0000001")
    assert response.status_code == 302
    assert Integration.objects.get().get_secrets()["secret_key"] == "rk_test_RestrictedKey0000001"


def test_markup_in_the_name_is_accepted_but_shown_escaped(admin_client):
    markup = "<script>alert(1)</script>"
    response = post_new(admin_client, T.MONEY_ORDER, markup)
    assert response.status_code == 302
    integration = Integration.objects.get()
    assert integration.name == markup

    for url in [
        "/admin/integrations/",
        f"/admin/integrations/{integration.pk}/",
        f"/admin/integrations/{integration.pk}/edit/",
    ]:
        page = admin_client.get(url).content.decode()
        assert markup not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


# --- editing ----------------------------------------------------------------------------------


def test_the_edit_page_shows_the_stored_settings_but_never_the_secrets(admin_client):
    integration = create_integration(T.STRIPE, name="Cards")
    response = admin_client.get(edit_url(integration))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="pk_test_TestPublishable0001"' in page
    assert "sk_test_TestSecretKey000000001" not in page
    assert "whsec_TestSigning0001" not in page


@pytest.mark.parametrize("type", list(NEW_SECRETS))
def test_an_empty_secret_field_keeps_the_stored_secret(admin_client, type):
    integration = create_integration(type, name="Edited")
    stored = integration.get_secrets()
    assert stored
    empty = dict.fromkeys(NEW_SECRETS[type], "")

    response = post_edit(admin_client, integration, "Edited again", **empty)

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Edited again"
    assert integration.get_secrets() == stored


@pytest.mark.parametrize("type", list(NEW_SECRETS))
def test_a_new_secret_replaces_the_stored_one(admin_client, type):
    integration = create_integration(type, name="Edited")

    response = post_edit(admin_client, integration, **NEW_SECRETS[type])

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.get_secrets() == NEW_SECRETS[type]


def test_a_new_stripe_secret_key_alone_keeps_the_stored_signing_secret(admin_client):
    integration = create_integration(T.STRIPE, name="Cards")
    post_edit(
        admin_client,
        integration,
        secret_key="sk_test_ReplacedSecretKey00001",
        webhook_signing_secret="",
    )
    integration.refresh_from_db()
    assert integration.get_secrets() == {
        "secret_key": "sk_test_ReplacedSecretKey00001",
        "webhook_signing_secret": "whsec_TestSigning0001",
    }


def test_turning_echeck_off_withdraws_the_method_but_keeps_its_row(admin_client):
    integration = create_integration(T.AUTHORIZE_NET, name="Authorize", **ECHECK_ON)
    echeck = integration.methods.get(kind="echeck")

    response = post_edit(admin_client, integration, transaction_key="", echeck_enabled=None)

    assert response.status_code == 302
    echeck.refresh_from_db()
    assert echeck.is_offered is False
    assert integration.methods.get(kind="credit_card").is_offered is True
    assert integration.methods.count() == 2

    post_edit(admin_client, integration, transaction_key="", **ECHECK_ON)
    echeck.refresh_from_db()
    assert echeck.is_offered is True
    assert integration.methods.count() == 2


@pytest.mark.parametrize("type", ALL_TYPES)
def test_renaming_relabels_the_methods_for_administrators(admin_client, type):
    integration = create_integration(type, name="Old name")
    secrets = dict.fromkeys(NEW_SECRETS.get(type, {}), "")

    response = post_edit(admin_client, integration, "New name", **secrets)

    assert response.status_code == 302
    first = integration.methods.order_by("id").first()
    assert first.admin_label == "New name"
    assert "Old name" not in integration.methods.values_list("admin_label", flat=True)


def test_renaming_authorize_net_relabels_its_echeck_method(admin_client):
    integration = create_integration(T.AUTHORIZE_NET, name="Old name", **ECHECK_ON)
    post_edit(admin_client, integration, "New name", transaction_key="", **ECHECK_ON)
    labels = dict(integration.methods.values_list("kind", "admin_label"))
    assert labels == {"credit_card": "New name", "echeck": "New name (eCheck)"}


@pytest.mark.parametrize("type", PAYFLOW_TYPES)
def test_a_payflow_integration_keeps_its_own_express_checkout_name_when_edited(admin_client, type):
    integration = create_integration(type, name="Payflow", express_checkout_name="PayPal Button")
    response = post_edit(
        admin_client, integration, password="", express_checkout_name="paypal button"
    )
    assert response.status_code == 302
    labels = dict(integration.methods.values_list("kind", "admin_label"))
    assert labels["express_checkout"] == "paypal button"


@pytest.mark.parametrize(
    ("type", "overrides", "field", "message"),
    [
        pytest.param(
            T.STRIPE,
            {"secret_key": "pk_test_TestPublishable0001"},
            "secret_key",
            "This is not a Stripe secret key",
            id="stripe-not-a-secret-key",
        ),
        pytest.param(
            T.STRIPE,
            {"publishable_key": "pk_live_LivePublishable0001", "secret_key": ""},
            "publishable_key",
            LIVE_KEYS_REFUSED,
            id="stripe-live-key",
        ),
        pytest.param(
            T.PAYFLOW_GATEWAY,
            {"password": "short"},
            "password",
            "Ensure this value has at least 7 characters (it has 5).",
            id="payflow-short-password",
        ),
        pytest.param(
            T.PAYFLOW_GATEWAY,
            {"password": "", "express_checkout_name": "EDITED"},
            "express_checkout_name",
            "Must differ from the integration's name.",
            id="payflow-express-name-equals-name",
        ),
        pytest.param(
            T.AUTHORIZE_NET,
            {"transaction_key": "short"},
            "transaction_key",
            "Ensure this value has at least 16 characters (it has 5).",
            id="authorize-net-short-key",
        ),
        pytest.param(
            T.AUTHORIZE_NET,
            {"transaction_key": "", **ECHECK_ON, "echeck_account_types": None},
            "echeck_account_types",
            "Required when eCheck is enabled.",
            id="authorize-net-echeck-without-account-types",
        ),
        pytest.param(
            T.MONEY_ORDER,
            {"pay_to": ""},
            "pay_to",
            REQUIRED,
            id="money-order-missing-pay-to",
        ),
        pytest.param(
            T.PAYPAL_EXPRESS,
            {"client_secret": "", "api_base_url": "http://example.com"},
            "api_base_url",
            REMOTE_ENDPOINT_REFUSED,
            id="paypal-remote-endpoint",
        ),
    ],
)
def test_an_invalid_edit_is_refused_and_changes_nothing(
    admin_client, type, overrides, field, message
):
    integration = create_integration(type, name="Edited")
    before = snapshot(integration)

    response = post_edit(admin_client, integration, "Edited", **overrides)

    assert_refused(response, field, message)
    assert snapshot(integration) == before
    assert Integration.objects.count() == 1


def test_renaming_to_another_integrations_name_is_refused(admin_client):
    create_integration(T.MONEY_ORDER, name="Checks")
    integration = create_integration(T.PAYMENT_TERM, name="Terms")
    before = snapshot(integration)

    response = post_edit(admin_client, integration, "CHECKS")

    assert_refused(response, "name", NAME_TAKEN)
    assert snapshot(integration) == before


def test_an_integration_may_keep_its_name_in_another_case(admin_client):
    integration = create_integration(T.MONEY_ORDER, name="Checks")
    response = post_edit(admin_client, integration, "CHECKS")
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "CHECKS"


# --- odd requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?type=", "?type=bitcoin", "?type=STRIPE", "?type[]=stripe"])
def test_an_unknown_type_shows_the_type_chooser(admin_client, query):
    response = admin_client.get(f"/admin/integrations/new/{query}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose the payment provider to connect." in page
    for type in ALL_TYPES:
        assert f'href="?type={type}"' in page


def test_posting_an_unknown_type_creates_nothing(admin_client):
    response = admin_client.post("/admin/integrations/new/?type=bitcoin", {"name": "Coins"})
    assert response.status_code == 200
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "?sort=bogus&page=abc&type=nope&status=x&q=" + "q" * 300,
        "?page=-1",
        "?page=99999",
        "?page=1.5",
        "?sort=",
        "?sort=--name",
        "?q=%00",
        "?q=%25%27%22<>",
        "?status=active&status=inactive",
    ],
)
def test_a_malformed_list_query_still_shows_the_list(admin_client, query):
    create_integration(T.MONEY_ORDER, name="Checks")
    response = admin_client.get(f"/admin/integrations/{query}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "sort", ["name", "type", "status", "environment", "methods", "rules", "created"]
)
@pytest.mark.parametrize("direction", ["", "-"])
def test_the_list_sorts_by_every_column(admin_client, sort, direction):
    create_integration(T.MONEY_ORDER, name="Checks")
    create_integration(T.PAYFLOW_GATEWAY, name="Payflow")
    response = admin_client.get(f"/admin/integrations/?sort={direction}{sort}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Checks" in page and "Payflow" in page


def test_the_list_filters_by_name_type_and_status(admin_client):
    create_integration(T.MONEY_ORDER, name="Checks")
    create_integration(T.STRIPE, name="Cards", is_active=None)

    def names(query: str) -> list[str]:
        page = admin_client.get(f"/admin/integrations/?{query}").content.decode()
        rows = lxml.html.fromstring(page).xpath("//tr[@data-integration]/td[1]")
        return [row.text_content() for row in rows]

    assert names("q=card") == ["Cards"]
    assert names("type=money_order") == ["Checks"]
    assert names("status=inactive") == ["Cards"]
    assert names("status=active&type=stripe") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/integrations/{pk}/"),
        ("get", "/admin/integrations/{pk}/edit/"),
        ("post", "/admin/integrations/{pk}/edit/"),
        ("post", "/admin/integrations/{pk}/activate/"),
        ("post", "/admin/integrations/{pk}/deactivate/"),
        ("post", "/admin/integrations/{pk}/check-connection/"),
    ],
)
@pytest.mark.parametrize("which", ["unknown", "deleted"])
def test_an_unknown_or_deleted_integration_is_not_found(admin_client, method, path, which):
    if which == "unknown":
        pk = 999999
    else:
        deleted = create_integration(T.STRIPE, name="Gone")
        Integration.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
        pk = deleted.pk
    response = getattr(admin_client, method)(path.format(pk=pk))
    assert response.status_code == 404


@pytest.mark.parametrize("type", [T.MONEY_ORDER, T.PAYMENT_TERM])
def test_checking_the_connection_of_an_offline_integration_is_not_found(admin_client, type):
    integration = create_integration(type, name="Offline")
    response = admin_client.post(f"/admin/integrations/{integration.pk}/check-connection/")
    assert response.status_code == 404
