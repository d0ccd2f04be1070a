"""Creating and editing payment rules through the back-office form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backoffice.models import AuditEntry
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from rules.models import PaymentRule
from tests.factories import CustomerGroupFactory, WebsiteFactory, create_integration, create_rule

pytestmark = pytest.mark.django_db

NEW = "/admin/payment-rules/new/"


@pytest.fixture
def card(admin_user) -> PaymentMethod:
    integration = create_integration(IntegrationType.STRIPE, name="Cards", actor=admin_user)
    return integration.methods.get()


def post_data(
    methods: list[PaymentMethod],
    /,
    *,
    enabled_methods: list[PaymentMethod] | None = None,
    destinations: list[dict[str, str]] | None = None,
    initial_destinations: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """What the browser sends for the rule form; a value of None drops the field."""
    rows = destinations or []
    data: dict[str, Any] = {
        "enabled": "on",
        "name": "Cards in the US",
        "sort_order": "10",
        "currency": "USD",
        "expression": "",
        "min_total": "",
        "max_total": "",
        "methods": [str(m.pk) for m in methods],
        "enabled_methods": [
            str(m.pk) for m in (methods if enabled_methods is None else enabled_methods)
        ],
        "destinations-TOTAL_FORMS": str(len(rows) + 1),
        "destinations-INITIAL_FORMS": str(initial_destinations),
        "destinations-MIN_NUM_FORMS": "0",
        "destinations-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"destinations-{index}-{key}"] = value
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_create_saves_every_field_and_audits(admin_client, card) -> None:
    website = WebsiteFactory()
    group = CustomerGroupFactory()
    data = post_data(
        [card],
        stop_processing="on",
        websites=[str(website.pk)],
        customer_groups=[str(group.pk)],
        min_total="10.50",
        max_total="1000",
        expression="total < 99999.0 && lineItems.all(li, li.quantity >= 1)",
        destinations=[
            {"country": "US", "region": "US-CA", "postal_codes": "94107,940* , 10001"},
            {"country": "DE", "region": "", "postal_codes": ""},
        ],
    )
    response = admin_client.post(NEW, data)
    rule = PaymentRule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/payment-rules/{rule.pk}/edit/"
    assert (rule.name, rule.sort_order, rule.currency, rule.stop_processing) == (
        "Cards in the US",
        10,
        "USD",
        True,
    )
    assert (rule.min_total, rule.max_total) == (Decimal("10.50"), Decimal("1000"))
    assert list(rule.websites.all()) == [website]
    assert list(rule.customer_groups.all()) == [group]
    assert [(str(d.country), d.region, d.postal_codes) for d in rule.destinations.all()] == [
        ("US", "US-CA", "94107, 940*, 10001"),
        ("DE", "", ""),
    ]
    assert [(rm.method, rm.enabled) for rm in rule.methods.all()] == [(card, True)]
    assert AuditEntry.objects.filter(action="payment_rule.created", object_id=rule.pk).exists()


def test_new_form_shows_currency_names_and_method_integrations(admin_client, card) -> None:
    create_integration(IntegrationType.STRIPE, name="Other Stripe")
    PaymentMethod.objects.update(admin_label="Credit Card")
    page = admin_client.get(NEW).content.decode()
    assert "USD — US Dollar" in page
    # Two methods share the admin label "Credit Card": the integration tells them apart.
    assert "Credit Card — Cards (Stripe)" in page
    assert "Credit Card — Other Stripe (Stripe)" in page
    assert "customerUser" in page and "lineItems" in page and "decimal numbers" in page


def test_edit_prefills_and_saves_changes(admin_client, card, admin_user) -> None:
    rule = create_rule(
        "Old name", methods=[card], actor=admin_user, destinations=[("US", "US-NY", "100*")]
    )
    url = f"/admin/payment-rules/{rule.pk}/edit/"
    page = admin_client.get(url).content.decode()
    assert 'value="Old name"' in page and 'value="100*"' in page
    assert "Created" in page  # the history panel
    data = post_data(
        [card],
        name="New name",
        enabled=None,
        destinations=[{"country": "US", "region": "US-NY", "postal_codes": "100*"}],
        initial_destinations=1,
    )
    assert admin_client.post(url, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.enabled) == ("New name", False)
    entry = AuditEntry.objects.get(action="payment_rule.updated", object_id=rule.pk)
    assert entry.changes["name"] == ["Old name", "New name"]
    assert "New name" in admin_client.get(url).content.decode()


def test_edit_removes_a_destination_marked_for_removal(admin_client, card, admin_user) -> None:
    rule = create_rule(methods=[card], actor=admin_user, destinations=[("US", "", "")])
    data = post_data(
        [card],
        destinations=[{"country": "US", "region": "", "postal_codes": "", "DELETE": "on"}],
        initial_destinations=1,
    )
    assert admin_client.post(f"/admin/payment-rules/{rule.pk}/edit/", data).status_code == 302
    assert not rule.destinations.exists()


def test_a_method_can_stay_in_a_rule_switched_off(admin_client, card) -> None:
    response = admin_client.post(NEW, post_data([card], enabled_methods=[]))
    assert response.status_code == 302
    assert [rm.enabled for rm in PaymentRule.objects.get().methods.all()] == [False]


INVALID = [
    pytest.param({"name": ""}, "name", "This field is required.", id="name-missing"),
    pytest.param({"name": "x" * 256}, "name", "at most 255 characters", id="name-too-long"),
    pytest.param(
        {"sort_order": "2147483648"}, "sort_order", "Enter a whole number from", id="sort-high"
    ),
    pytest.param(
        {"sort_order": "-2147483649"}, "sort_order", "Enter a whole number from", id="sort-low"
    ),
    pytest.param({"sort_order": "1.5"}, "sort_order", "Enter a whole number", id="sort-float"),
    pytest.param({"currency": "XXY"}, "currency", "Select a valid choice", id="currency-bad"),
    pytest.param({"currency": ""}, "currency", "This field is required.", id="currency-none"),
    pytest.param({"min_total": "-1"}, "min_total", "0 or more", id="min-negative"),
    pytest.param({"max_total": "abc"}, "max_total", "Enter a number.", id="max-not-number"),
    pytest.param(
        {"min_total": "100", "max_total": "99.99"},
        "max_total",
        "must not be below the minimum",
        id="min-above-max",
    ),
    pytest.param(
        {"expression": "total < 500 &&"}, "expression", "(line 1, column", id="expr-syntax"
    ),
    pytest.param(
        {"expression": "nosuchvar > 1.0"}, "expression", "Unknown variable", id="expr-unknown"
    ),
    pytest.param({"expression": "total + 1.0"}, "expression", "true or false", id="expr-not-bool"),
    pytest.param(
        {"expression": "true || " * 250 + "true"},
        "expression",
        "Keep expressions to 2,000 characters",
        id="expr-too-long",
    ),
    pytest.param({"websites": ["999999"]}, "websites", "Select a valid choice", id="website-bad"),
    pytest.param(
        {"customer_groups": ["x"]}, "customer_groups", "valid value", id="group-not-an-id"
    ),
    pytest.param({"methods": []}, "methods", "Choose at least one payment method.", id="no-method"),
    pytest.param({"methods": ["999999"]}, "methods", "Select a valid choice", id="method-unknown"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
def test_invalid_rule_is_refused_with_a_message_and_nothing_saved(
    admin_client, card, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = admin_client.post(NEW, post_data([card], **overrides))
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert "Nothing was saved" in response.content.decode()
    assert not PaymentRule.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="payment_rule").exists()


INVALID_DESTINATIONS = [
    pytest.param(
        {"country": "", "postal_codes": "10001"},
        "country",
        "Choose a country for this destination.",
        id="no-country",
    ),
    pytest.param({"country": "ZZ"}, "country", "Select a valid choice", id="unknown-country"),
    pytest.param(
        {"country": "US", "region": "FR-75"},
        "region",
        "“FR-75” is not a region of United States of America.",
        id="region-of-another-country",
    ),
    pytest.param(
        {"country": "US", "postal_codes": "10001, <script>"},
        "postal_codes",
        "letters, digits, spaces, hyphens and * only",
        id="postal-markup",
    ),
    pytest.param(
        {"country": "US", "postal_codes": "1" * 21},
        "postal_codes",
        "20 characters",
        id="postal-too-long",
    ),
    pytest.param(
        {"country": "US", "postal_codes": "100?1"},
        "postal_codes",
        "letters, digits, spaces, hyphens and * only",
        id="postal-question-mark",
    ),
]


@pytest.mark.parametrize(("row", "field", "message"), INVALID_DESTINATIONS)
def test_invalid_destination_is_refused_next_to_its_field(
    admin_client, card, row: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post(NEW, post_data([card], destinations=[row]))
    assert response.status_code == 400
    errors = response.context["destinations"].forms[0].errors
    assert message in " ".join(errors[field])
    assert not PaymentRule.objects.exists()


def test_tampered_destination_management_form_is_refused_not_a_500(admin_client, card) -> None:
    data = post_data([card])
    del data["destinations-TOTAL_FORMS"]
    response = admin_client.post(NEW, data)
    assert response.status_code == 400
    assert not PaymentRule.objects.exists()


def test_every_error_shows_at_once(admin_client, card) -> None:
    data = post_data(
        [], name="", destinations=[{"country": "US", "postal_codes": "<b>"}], expression="1 +"
    )
    response = admin_client.post(NEW, data)
    form = response.context["form"]
    assert set(form.errors) >= {"name", "methods", "expression"}
    assert response.context["destinations"].forms[0].errors["postal_codes"]


def test_method_of_an_offline_integration_is_not_offered_to_new_rules(admin_client, card) -> None:
    deleted = create_integration(IntegrationType.STRIPE, name="Gone")
    Integration.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    not_offered = create_integration(IntegrationType.STRIPE, name="Not offered").methods.get()
    PaymentMethod.objects.filter(pk=not_offered.pk).update(is_offered=False)
    page = admin_client.get(NEW).content.decode()
    assert "Gone" not in page and "Not offered" not in page
    for method in (deleted.methods.get(), not_offered):
        response = admin_client.post(NEW, post_data([method]))
        assert response.status_code == 400
        assert "Select a valid choice" in str(response.context["form"].errors["methods"])


@pytest.fixture
def rule_with_deleted_method(admin_user, card) -> tuple[PaymentRule, PaymentMethod]:
    """A rule whose second method's integration was deleted (and so switched off)."""
    gone = create_integration(IntegrationType.STRIPE, name="Gone Stripe", actor=admin_user)
    gone_method = gone.methods.get()
    rule = create_rule(methods=[card, (gone_method, False)], actor=admin_user)
    rule.methods.filter(method=gone_method).update(
        disabled_reason="Its integration “Gone Stripe” was deleted."
    )
    gone.deleted_at = timezone.now()
    gone.save(update_fields=["deleted_at"])
    return rule, gone_method


def test_deleted_integration_method_stays_visible_but_disabled(
    admin_client, rule_with_deleted_method
) -> None:
    rule, gone_method = rule_with_deleted_method
    page = admin_client.get(f"/admin/payment-rules/{rule.pk}/edit/").content.decode()
    assert "Gone Stripe" in page
    assert "Its integration “Gone Stripe” was deleted." in page
    assert f'id="method-enabled-{gone_method.pk}" aria-label' in page
    assert "cannot be enabled</span>" in page


def test_deleted_integration_method_cannot_be_enabled_again(
    admin_client, card, rule_with_deleted_method
) -> None:
    rule, gone_method = rule_with_deleted_method
    data = post_data([card, gone_method], enabled_methods=[card, gone_method])
    response = admin_client.post(f"/admin/payment-rules/{rule.pk}/edit/", data)
    assert response.status_code == 400
    assert "cannot be enabled again" in str(response.context["form"].errors["enabled_methods"])
    assert rule.methods.get(method=gone_method).enabled is False


def test_deleted_integration_method_can_be_kept_off_or_removed(
    admin_client, card, rule_with_deleted_method
) -> None:
    rule, gone_method = rule_with_deleted_method
    url = f"/admin/payment-rules/{rule.pk}/edit/"
    kept = post_data([card, gone_method], enabled_methods=[card], name="Kept")
    assert admin_client.post(url, kept).status_code == 302
    assert rule.methods.get(method=gone_method).disabled_reason  # the system's reason stays
    removed = post_data([card], name="Removed")
    assert admin_client.post(url, removed).status_code == 302
    assert list(rule.methods.values_list("method", flat=True)) == [card.pk]


def test_markup_in_names_and_postal_codes_is_escaped(admin_client, card, admin_user) -> None:
    rule = create_rule(
        "<script>alert(1)</script>", methods=[card], actor=admin_user, destinations=[("US",)]
    )
    page = admin_client.get(f"/admin/payment-rules/{rule.pk}/edit/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    response = admin_client.post(
        NEW, post_data([card], destinations=[{"country": "US", "postal_codes": "<img src=x>"}])
    )
    assert "<img src=x>" not in response.content.decode()
    assert "&lt;img src=x&gt;" in response.content.decode()
