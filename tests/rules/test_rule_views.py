"""The payment rule list, its row and bulk actions, and who may reach which rule page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import AuditEntry
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from rules.models import PaymentRule
from tests.factories import create_integration, create_rule

pytestmark = pytest.mark.django_db

LIST = "/admin/payment-rules/"


@pytest.fixture
def card(admin_user) -> PaymentMethod:
    return create_integration(IntegrationType.STRIPE, name="Cards", actor=admin_user).methods.get()


@pytest.fixture
def check(admin_user) -> PaymentMethod:
    integration = create_integration(IntegrationType.MONEY_ORDER, name="Checks", actor=admin_user)
    return integration.methods.get()


def names(response) -> list[str]:
    return [row.rule.name for row in response.context["rows"]]


# --- filters, sorting, pagination -----------------------------------------------------------


@pytest.fixture
def three_rules(admin_user, card, check) -> list[PaymentRule]:
    return [
        create_rule("Alpha", methods=[card], actor=admin_user, sort_order=30),
        create_rule(
            "Beta", methods=[check], actor=admin_user, sort_order=10, currency="EUR", enabled=False
        ),
        create_rule("Gamma", methods=[card, check], actor=admin_user, sort_order=20),
    ]


def test_list_shows_rules_by_sort_order(admin_client, three_rules) -> None:
    response = admin_client.get(LIST)
    assert response.status_code == 200
    assert names(response) == ["Beta", "Gamma", "Alpha"]
    page = response.content.decode()
    assert "Create Payment Rule" in page and "Enable selected" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=alp", ["Alpha"]),
        ("enabled=no", ["Beta"]),
        ("enabled=yes", ["Gamma", "Alpha"]),
        ("currency=EUR", ["Beta"]),
        ("currency=USD&q=a", ["Gamma", "Alpha"]),
        ("sort=name", ["Alpha", "Beta", "Gamma"]),
        ("sort=-name", ["Gamma", "Beta", "Alpha"]),
        ("sort=-sort_order", ["Alpha", "Gamma", "Beta"]),
        ("sort=currency", ["Beta", "Gamma", "Alpha"]),
        ("sort=-methods", ["Gamma", "Beta", "Alpha"]),
        ("sort=enabled", ["Beta", "Gamma", "Alpha"]),
    ],
)
def test_list_filters_and_sorts(admin_client, three_rules, query: str, expected) -> None:
    assert names(admin_client.get(f"{LIST}?{query}")) == expected


@pytest.mark.parametrize(
    "column",
    [
        "name",
        "enabled",
        "sort_order",
        "currency",
        "stop_processing",
        "methods",
        "destinations",
        "expression",
    ],
)
def test_every_column_sorts_both_ways(admin_client, three_rules, column: str) -> None:
    for sort in (column, f"-{column}"):
        response = admin_client.get(f"{LIST}?sort={sort}")
        assert response.status_code == 200
        assert sorted(names(response)) == ["Alpha", "Beta", "Gamma"]


def test_integration_narrows_the_list(admin_client, three_rules, card, check) -> None:
    assert names(admin_client.get(f"{LIST}?integration={card.integration_id}")) == [
        "Gamma",
        "Alpha",
    ]
    assert names(admin_client.get(f"{LIST}?integration={check.integration_id}")) == [
        "Beta",
        "Gamma",
    ]


def test_integration_filter_accepts_a_deleted_integration(admin_client, three_rules, card) -> None:
    Integration.objects.filter(pk=card.integration_id).update(deleted_at=timezone.now())
    response = admin_client.get(f"{LIST}?integration={card.integration_id}")
    assert names(response) == ["Gamma", "Alpha"]
    assert "Cards (deleted)" in response.content.decode()


def test_ids_narrow_the_list(admin_client, three_rules) -> None:
    alpha, beta, _ = three_rules
    response = admin_client.get(f"{LIST}?ids={alpha.pk},{beta.pk}")
    assert names(response) == ["Beta", "Alpha"]
    assert "Show all payment rules" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "ids={alpha},abc,-3,,99999999999999999999999999,1.5",
        "ids=%00{alpha}",
        "integration=abc&ids={alpha}",
        "integration=99999999999999999999&ids={alpha}",
        "sort=nonsense&ids={alpha}",
        "enabled=maybe&currency=<b>&ids={alpha}",
        "page=abc&ids={alpha}",
        "page=9999&ids={alpha}",
    ],
)
def test_malformed_query_parts_are_ignored(admin_client, three_rules, query: str) -> None:
    alpha = three_rules[0]
    response = admin_client.get(f"{LIST}?{query.format(alpha=alpha.pk)}")
    assert response.status_code == 200
    if "%00" not in query:
        assert names(response) == ["Alpha"]


def test_only_bad_ids_show_every_rule(admin_client, three_rules) -> None:
    response = admin_client.get(f"{LIST}?ids=x,y")
    assert response.status_code == 200
    assert len(names(response)) == 3


def test_list_paginates_by_25(admin_client, admin_user, card) -> None:
    for index in range(27):
        create_rule(f"Rule {index:02}", methods=[card], actor=admin_user, sort_order=index)
    first = admin_client.get(LIST)
    assert len(names(first)) == 25
    assert "Page 1 of 2" in first.content.decode()
    second = admin_client.get(f"{LIST}?page=2&q=Rule")
    assert names(second) == ["Rule 25", "Rule 26"]
    assert "q=Rule&amp;page=1" in second.content.decode()


def test_list_shows_methods_with_their_state(admin_client, admin_user, card, check) -> None:
    inactive = create_integration(IntegrationType.STRIPE, name="Sleeping", actor=admin_user)
    Integration.objects.filter(pk=inactive.pk).update(is_active=False)
    rule = create_rule(
        "Mixed",
        methods=[card, (check, False), inactive.methods.get()],
        actor=admin_user,
        destinations=[("US", "US-CA", "940*")],
        expression="total < 99999.0",
    )
    rule.methods.filter(method=check).update(disabled_reason="Its integration was deleted.")
    page = admin_client.get(LIST).content.decode()
    assert "disabled</span>" in page and "Its integration was deleted.</div>" in page
    assert 'title="Its integration was deleted."' in page
    assert "integration inactive" in page
    assert "California (US-CA): 940*" in page
    assert "total &lt; 99999.0" in page


def test_list_renders_in_a_fixed_number_of_queries(admin_client, admin_user, card, check) -> None:
    def queries_for(count: int) -> int:
        PaymentRule.objects.all().delete()
        for index in range(count):
            create_rule(
                f"Rule {index}",
                methods=[card, check],
                actor=admin_user,
                destinations=[("US", "", "1*"), ("DE", "", "")],
            )
        admin_client.get(LIST)  # warm the session and permission caches alike
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(f"{LIST}?sort=name")
        assert len(response.context["rows"]) == min(count, 25)
        return len(captured)

    assert queries_for(3) == queries_for(40)


def test_markup_in_rule_names_is_escaped_in_the_list(admin_client, admin_user, card) -> None:
    create_rule("<img src=x onerror=alert(1)>", methods=[card], actor=admin_user)
    page = admin_client.get(LIST).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- enabling and disabling -----------------------------------------------------------------


def test_row_action_disables_and_enables_with_audit(admin_client, three_rules) -> None:
    alpha = three_rules[0]
    back = f"{LIST}?q=a&sort=name"
    response = admin_client.post(f"{LIST}{alpha.pk}/disable/", {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    alpha.refresh_from_db()
    assert alpha.enabled is False
    assert AuditEntry.objects.filter(action="payment_rule.disabled", object_id=alpha.pk).exists()
    admin_client.post(f"{LIST}{alpha.pk}/enable/")
    alpha.refresh_from_db()
    assert alpha.enabled is True
    assert AuditEntry.objects.filter(action="payment_rule.enabled", object_id=alpha.pk).exists()


def test_row_action_on_a_missing_rule_is_404(admin_client) -> None:
    assert admin_client.post(f"{LIST}999999/enable/").status_code == 404


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/admin/payment-rules/", "/admin/"]
)
def test_unsafe_next_goes_back_to_the_plain_list(admin_client, three_rules, next_url) -> None:
    response = admin_client.post(f"{LIST}{three_rules[0].pk}/disable/", {"next": next_url})
    assert response["Location"] == LIST


def test_bulk_enable_and_disable_selected_rules(admin_client, three_rules) -> None:
    alpha, beta, gamma = three_rules
    back = f"{LIST}?currency=USD"
    response = admin_client.post(
        f"{LIST}bulk/", {"ids": [alpha.pk, gamma.pk], "action": "disable", "next": back}
    )
    assert response["Location"] == back
    assert set(PaymentRule.objects.filter(enabled=False).values_list("name", flat=True)) == {
        "Alpha",
        "Beta",
        "Gamma",
    }
    assert AuditEntry.objects.filter(action="payment_rule.disabled").count() == 2
    response = admin_client.post(
        f"{LIST}bulk/", {"ids": [alpha.pk, beta.pk, "junk"], "action": "enable"}, follow=True
    )
    assert "Enabled 2 payment rules." in response.content.decode()
    assert not PaymentRule.objects.get(pk=gamma.pk).enabled
    assert PaymentRule.objects.filter(enabled=True).count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "enable"}, "Select at least one payment rule first."),
        ({"action": "explode", "ids": ["1"]}, "Enable selected"),
    ],
)
def test_bulk_without_selection_or_action_changes_nothing(
    admin_client, three_rules, data, message
) -> None:
    response = admin_client.post(f"{LIST}bulk/", data, follow=True)
    assert message in response.content.decode()
    assert PaymentRule.objects.filter(enabled=True).count() == 2


def test_bulk_form_carries_csrf_and_the_current_list(admin_client, three_rules) -> None:
    page = admin_client.get(f"{LIST}?q=a").content.decode()
    form = re.search(r'<form id="bulk-form".*?</form>', page, re.S)
    assert form is not None
    assert "csrfmiddlewaretoken" in form.group(0)
    assert 'name="next" value="/admin/payment-rules/?q=a"' in form.group(0)


def test_bulk_requires_csrf(admin_user, three_rules) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(f"{LIST}bulk/", {"ids": [three_rules[0].pk], "action": "disable"})
    assert response.status_code == 403
    assert PaymentRule.objects.get(pk=three_rules[0].pk).enabled


# --- permissions ----------------------------------------------------------------------------

WRITES = [
    ("get", "new/"),
    ("post", "new/"),
    ("get", "{pk}/edit/"),
    ("post", "{pk}/edit/"),
    ("post", "{pk}/enable/"),
    ("post", "{pk}/disable/"),
    ("post", "bulk/"),
]


@pytest.fixture
def rule(admin_user, card) -> PaymentRule:
    return create_rule("Visible", methods=[card], actor=admin_user)


def test_sales_see_the_list_without_any_write_control(sales_client, rule) -> None:
    response = sales_client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Visible" in page
    for absent in ("Create Payment Rule", "Enable selected", "bulk-form", "/edit/", "⋯"):
        assert absent not in page


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_sales_and_buyers_get_403_on_every_write(
    sales_client, buyer_client, rule, method: str, path: str
) -> None:
    url = LIST + path.format(pk=rule.pk)
    data = {"ids": [rule.pk], "action": "disable"}
    for client in (sales_client, buyer_client):
        assert getattr(client, method)(url, data).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled and rule.name == "Visible"


def test_buyers_cannot_see_the_list(buyer_client, rule) -> None:
    assert buyer_client.get(LIST).status_code == 403


@pytest.mark.parametrize(("method", "path"), [("get", ""), *WRITES])
def test_anonymous_is_sent_to_login(rule, method: str, path: str) -> None:
    response = getattr(Client(), method)(LIST + path.format(pk=rule.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("path", ["{pk}/enable/", "{pk}/disable/", "bulk/"])
def test_state_changes_refuse_get(admin_client, rule, path: str) -> None:
    assert admin_client.get(LIST + path.format(pk=rule.pk)).status_code == 405


def test_administrators_reach_every_page(admin_client, rule) -> None:
    for path in ("", "new/", f"{rule.pk}/edit/"):
        assert admin_client.get(LIST + path).status_code == 200
    assert admin_client.get(f"{LIST}999999/edit/").status_code == 404


def test_system_menu_links_to_rules_and_simulator(admin_client, sales_client) -> None:
    for client in (admin_client, sales_client):
        page = client.get(LIST).content.decode()
        assert 'href="/admin/payment-rules/">Payment Rules</a>' in page
        assert 'href="/admin/payment-rules/simulate/">Simulate checkout</a>' in page
