"""Deleting and deactivating an integration: impact first, dependent rule methods disabled."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backoffice.models import AuditEntry
from integrations import deletion
from integrations.models import Integration
from integrations.types import IntegrationType
from rules.evaluation import Address, Checkout, resolve_methods
from rules.models import PaymentRule, PaymentRuleMethod
from tests.factories import create_integration, create_rule_with_methods

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe(admin_user) -> Integration:
    return create_integration(IntegrationType.STRIPE, name="Shop Stripe", actor=admin_user)


@pytest.fixture
def checks(admin_user) -> Integration:
    return create_integration(IntegrationType.MONEY_ORDER, name="Checks", actor=admin_user)


def _method(integration: Integration):
    return integration.methods.order_by("id").first()


def test_impact_of_an_unused_integration_is_empty(stripe):
    impact = deletion.deletion_impact(integration=stripe)
    assert not impact.has_dependents
    assert impact.affected_rules.total == 0


def test_impact_names_rules_methods_and_rules_left_empty(stripe, checks):
    only_stripe = create_rule_with_methods("Only Stripe", [_method(stripe)], sort_order=1)
    shared = create_rule_with_methods(
        "Stripe and checks", [_method(stripe), _method(checks)], sort_order=2
    )
    create_rule_with_methods("Only checks", [_method(checks)])
    impact = deletion.deletion_impact(integration=stripe)
    assert impact.affected_rules.total == 2
    assert impact.affected_rules.names == ["Only Stripe", "Stripe and checks"]
    assert impact.rules_to_disable.names == ["Only Stripe"]
    assert [m.admin_label for m in impact.methods] == ["Shop Stripe"]
    assert sorted(impact.affected_rule_ids) == sorted([only_stripe.pk, shared.pk])


def test_impact_lists_ten_rule_names_then_and_n_more(stripe):
    for number in range(13):
        create_rule_with_methods(f"Rule {number:02}", [_method(stripe)], sort_order=number)
    impact = deletion.deletion_impact(integration=stripe)
    assert len(impact.affected_rules.names) == 10
    assert impact.affected_rules.more == 3


def test_delete_disables_methods_and_empty_rules_and_leaves_a_tombstone(
    stripe, checks, admin_user, django_capture_on_commit_callbacks
):
    only_stripe = create_rule_with_methods("Only Stripe", [_method(stripe)])
    shared = create_rule_with_methods("Shared", [_method(stripe), _method(checks)])
    already_off = create_rule_with_methods("Already off", [_method(stripe)], enabled=False)
    stripe_off_by_hand = create_rule_with_methods(
        "Stripe off by hand",
        [_method(stripe), _method(checks)],
        disabled_methods=(_method(stripe),),
    )

    with django_capture_on_commit_callbacks(execute=True) as cleanup:
        report = deletion.integration_delete(integration=stripe, actor=admin_user)

    assert len(cleanup) == 1  # the provider clean-up, run once the deletion committed
    assert (report.rule_methods_disabled, report.rules_affected, report.rules_disabled) == (3, 4, 1)
    assert PaymentRule.objects.get(pk=only_stripe.pk).enabled is False
    assert PaymentRule.objects.get(pk=shared.pk).enabled is True
    assert PaymentRule.objects.get(pk=already_off.pk).enabled is False
    assert PaymentRule.objects.get(pk=stripe_off_by_hand.pk).enabled is True
    stripe_rows = PaymentRuleMethod.objects.filter(method__integration=stripe)
    assert not stripe_rows.filter(enabled=True).exists()
    assert all("Shop Stripe deleted on" in row.disabled_reason for row in stripe_rows)
    assert all(row.disabled_reason.endswith(f"by {admin_user.username}") for row in stripe_rows)
    assert PaymentRuleMethod.objects.get(rule=shared, method__integration=checks).enabled is True

    tombstone = Integration.objects.get(pk=stripe.pk)
    assert tombstone.is_deleted and not tombstone.is_active
    assert tombstone.encrypted_secrets == ""
    assert tombstone.name == "Shop Stripe"  # past payments still show it
    assert not tombstone.methods.filter(is_offered=True).exists()
    # Its name is free again.
    create_integration(IntegrationType.STRIPE, name="Shop Stripe", actor=admin_user)

    assert AuditEntry.objects.filter(action="integration.deleted", object_id=stripe.pk).exists()
    wiped = AuditEntry.objects.get(action="integration.cleaned_up", object_id=stripe.pk)
    assert wiped.actor == admin_user and wiped.changes["secrets"] == "wiped"
    audited_rules = set(
        AuditEntry.objects.filter(action="payment_rule.updated").values_list("object_id", flat=True)
    )
    assert audited_rules == {only_stripe.pk, shared.pk, already_off.pk, stripe_off_by_hand.pk}
    disabled_entry = AuditEntry.objects.get(action="payment_rule.updated", object_id=only_stripe.pk)
    assert disabled_entry.changes["enabled"] == [True, False]
    assert disabled_entry.actor == admin_user


def test_deleted_methods_are_never_offered_at_checkout(stripe, checks, admin_user):
    create_rule_with_methods("Shared", [_method(stripe), _method(checks)])
    checkout = Checkout(currency="USD", total=Decimal("50"), billing_address=Address(country="US"))
    assert len(resolve_methods(checkout).methods) == 2
    deletion.integration_delete(integration=stripe, actor=admin_user)
    assert [m.admin_label for m in resolve_methods(checkout).methods] == ["Checks"]


def test_a_rule_added_after_the_dialog_opened_is_handled_too(stripe, admin_user):
    deletion.deletion_impact(integration=stripe)
    late = create_rule_with_methods("Added meanwhile", [_method(stripe)])
    report = deletion.integration_delete(integration=stripe, actor=admin_user)
    assert report.rules_disabled == 1
    assert PaymentRule.objects.get(pk=late.pk).enabled is False


def test_deleting_twice_is_refused_without_changes(stripe, admin_user):
    deletion.integration_delete(integration=stripe, actor=admin_user)
    with pytest.raises(deletion.DeletionError):
        deletion.integration_delete(integration=stripe, actor=admin_user)
    assert AuditEntry.objects.filter(action="integration.deleted").count() == 1


def _delete_queries(integration, admin_user) -> int:
    with CaptureQueriesContext(connection) as queries:
        deletion.integration_delete(integration=integration, actor=admin_user)
    return len(queries)


def test_delete_runs_a_fixed_number_of_queries_however_many_rules(admin_user):
    few = create_integration(IntegrationType.STRIPE, name="Few", actor=admin_user)
    many = create_integration(
        IntegrationType.STRIPE,
        name="Many",
        actor=admin_user,
        publishable_key="pk_test_Many00000001",
    )
    other = create_integration(IntegrationType.MONEY_ORDER, name="Other", actor=admin_user)
    for number in range(3):
        create_rule_with_methods(f"few {number}", [_method(few), _method(other)])
        create_rule_with_methods(f"few only {number}", [_method(few)])
    for number in range(120):
        create_rule_with_methods(f"many {number}", [_method(many), _method(other)])
        create_rule_with_methods(f"many only {number}", [_method(many)])
    assert _delete_queries(few, admin_user) == _delete_queries(many, admin_user)
    assert PaymentRule.objects.filter(name__startswith="many only", enabled=True).count() == 0


# --- through the browser's requests ---------------------------------------------------------


def test_confirmation_page_shows_the_impact_and_changes_nothing(admin_client, stripe, checks):
    create_rule_with_methods("Only <b>Stripe</b>", [_method(stripe)])
    create_rule_with_methods("Shared", [_method(stripe), _method(checks)])
    page = admin_client.get(f"/admin/integrations/{stripe.pk}/delete/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "2 payment rules" in html
    assert "Only &lt;b&gt;Stripe&lt;/b&gt;" in html
    assert "Rules that will be disabled" in html
    assert 'target="_blank" rel="noopener"' in html
    assert "Review the affected payment rules" in html
    assert Integration.objects.get(pk=stripe.pk).deleted_at is None
    fragment = admin_client.get(
        f"/admin/integrations/{stripe.pk}/delete/?partial=1"
    ).content.decode()
    assert "<html" not in fragment and "2 payment rules" in fragment


def test_plain_confirmation_without_dependents(admin_client, stripe):
    html = admin_client.get(f"/admin/integrations/{stripe.pk}/delete/").content.decode()
    assert "Delete integration “Shop Stripe”?" in html
    assert "No payment rule uses this integration." in html


def test_post_deletes_and_summarises_with_a_link(admin_client, stripe, checks):
    rule = create_rule_with_methods("Only Stripe", [_method(stripe)])
    create_rule_with_methods("Shared", [_method(stripe), _method(checks)])
    response = admin_client.post(f"/admin/integrations/{stripe.pk}/delete/", follow=True)
    html = response.content.decode()
    assert "Deleted Shop Stripe. Disabled 2 payment methods in 2 rules; 1 rule disabled." in html
    assert f"/admin/payment-rules/?ids={rule.pk}," in html
    assert "Shop Stripe</a>" not in html  # gone from the list
    assert admin_client.get(f"/admin/integrations/{stripe.pk}/").status_code == 404


def test_a_second_post_says_it_is_already_deleted(admin_client, stripe):
    admin_client.post(f"/admin/integrations/{stripe.pk}/delete/")
    response = admin_client.post(f"/admin/integrations/{stripe.pk}/delete/", follow=True)
    assert response.status_code == 200
    assert "has already been deleted" in response.content.decode()
    assert admin_client.post("/admin/integrations/999999/delete/").status_code == 404


def test_delete_needs_the_csrf_token_and_the_permission(
    admin_user, sales_client, buyer_client, client, stripe
):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(f"/admin/integrations/{stripe.pk}/delete/").status_code == 403
    assert sales_client.post(f"/admin/integrations/{stripe.pk}/delete/").status_code == 403
    assert sales_client.get(f"/admin/integrations/{stripe.pk}/delete/").status_code == 403
    assert buyer_client.post(f"/admin/integrations/{stripe.pk}/delete/").status_code == 403
    assert client.post(f"/admin/integrations/{stripe.pk}/delete/").status_code == 302
    assert Integration.objects.get(pk=stripe.pk).deleted_at is None


def test_deactivation_previews_then_is_reversible(admin_client, stripe):
    rule = create_rule_with_methods("Only Stripe", [_method(stripe)])
    preview = admin_client.get(f"/admin/integrations/{stripe.pk}/deactivate/").content.decode()
    assert "Deactivate integration “Shop Stripe”?" in preview
    assert "Only Stripe" in preview
    assert Integration.objects.get(pk=stripe.pk).is_active
    admin_client.post(f"/admin/integrations/{stripe.pk}/deactivate/")
    checkout = Checkout(currency="USD", total=Decimal("10"), billing_address=Address(country="US"))
    assert resolve_methods(checkout).methods == []
    rule.refresh_from_db()
    assert rule.enabled and rule.methods.get().enabled  # configuration kept
    admin_client.post(f"/admin/integrations/{stripe.pk}/activate/")
    assert [m.admin_label for m in resolve_methods(checkout).methods] == ["Shop Stripe"]


def test_confirmation_renders_in_a_fixed_number_of_queries(
    admin_client, stripe, django_assert_max_num_queries
):
    for number in range(3):
        create_rule_with_methods(f"r{number}", [_method(stripe)])
    with CaptureQueriesContext(connection) as few:
        admin_client.get(f"/admin/integrations/{stripe.pk}/delete/")
    for number in range(60):
        create_rule_with_methods(f"more {number}", [_method(stripe)])
    with CaptureQueriesContext(connection) as many:
        admin_client.get(f"/admin/integrations/{stripe.pk}/delete/")
    assert len(many) == len(few)


def test_the_confirmation_warns_about_money_in_flight(admin_client, checks):
    from payments.services import checkout_submit
    from tests.payments.support import make_order

    create_rule_with_methods("Checks", [_method(checks)])
    order = make_order(total="1234.50")
    checkout_submit(
        order=order,
        method=_method(checks),
        customer_user=order.customer_user,
        idempotency_key="k-1",
    )
    impact = deletion.deletion_impact(integration=checks)
    assert [(m.kind, m.count, m.total_text) for m in impact.money_in_flight] == [
        ("offline payment", 1, "1,234.50 USD")
    ]
    html = admin_client.get(f"/admin/integrations/{checks.pk}/delete/").content.decode()
    assert "1 open offline payment: 1,234.50 USD" in html
    assert "Capture, cancel or mark them received first" in html
    deactivate = admin_client.get(f"/admin/integrations/{checks.pk}/deactivate/").content.decode()
    assert "1 open offline payment" in deactivate


def test_no_money_in_flight_without_open_payments(stripe):
    assert deletion.deletion_impact(integration=stripe).money_in_flight == []
