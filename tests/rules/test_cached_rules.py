"""Checkout's cached rule set: every write evaluation could see reaches the next checkout.

The cache is only as good as the database triggers that change the rule set's version, so each
kind of write is made here the way some code path makes it (a service, a bulk `update()`, raw
SQL, a many-to-many change, a delete) and the very next `resolve_methods()` must see it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import services as integration_services
from integrations.deletion import integration_delete
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from rules import cached_rules
from rules.evaluation import Address, Checkout, resolve_methods
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod, RuleSetVersion
from tests.factories import (
    CustomerGroupFactory,
    UserFactory,
    WebsiteFactory,
    create_integration,
    create_rule,
)

SF = Address(country="US", region="US-CA", postal_code="94107", city="San Francisco")
CHECKOUT = Checkout(currency="USD", total=Decimal("100.00"), billing_address=SF)


@pytest.fixture
def actor(db: None) -> User:
    return UserFactory(username="cache-admin", groups=["Administrators"])


@pytest.fixture
def method(actor: User) -> PaymentMethod:
    integration = create_integration(IntegrationType.MONEY_ORDER, "Check", actor=actor)
    return integration.methods.get()


@pytest.fixture
def rule(actor: User, method: PaymentMethod) -> PaymentRule:
    return create_rule("Everyone", methods=[method], actor=actor)


def offered() -> list[str]:
    return [m.admin_label for m in resolve_methods(CHECKOUT).methods]


def _queries(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def test_a_checkout_reads_only_the_version_while_no_rule_changes(rule: PaymentRule) -> None:
    assert offered() == ["Check"]
    assert _queries(offered) == 1


def _disable_rule_by_update(rule: PaymentRule, actor: User) -> None:
    PaymentRule.objects.filter(pk=rule.pk).update(enabled=False)


def _disable_rule_method_by_update(rule: PaymentRule, actor: User) -> None:
    PaymentRuleMethod.objects.filter(rule=rule).update(enabled=False)


def _stop_offering_by_update(rule: PaymentRule, actor: User) -> None:
    PaymentMethod.objects.filter(rule_methods__rule=rule).update(is_offered=False)


def _deactivate_integration(rule: PaymentRule, actor: User) -> None:
    integration = Integration.objects.get(methods__rule_methods__rule=rule)
    integration_services.integration_set_active(integration=integration, active=False, actor=actor)


def _delete_integration(rule: PaymentRule, actor: User) -> None:
    integration = Integration.objects.get(methods__rule_methods__rule=rule)
    integration_delete(integration=integration, actor=actor)


def _delete_rule(rule: PaymentRule, actor: User) -> None:
    rule.delete()


def _restrict_to_another_website(rule: PaymentRule, actor: User) -> None:
    rule.websites.add(WebsiteFactory())


def _restrict_to_another_customer_group(rule: PaymentRule, actor: User) -> None:
    rule.customer_groups.add(CustomerGroupFactory())


def _restrict_to_germany(rule: PaymentRule, actor: User) -> None:
    PaymentRuleDestination.objects.create(rule=rule, country="DE")


def _raise_minimum_by_raw_sql(rule: PaymentRule, actor: User) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rules_paymentrule SET min_total = 500 WHERE id = %s", [rule.pk])


@pytest.mark.parametrize(
    "change",
    [
        _disable_rule_by_update,
        _disable_rule_method_by_update,
        _stop_offering_by_update,
        _deactivate_integration,
        _delete_integration,
        _delete_rule,
        _restrict_to_another_website,
        _restrict_to_another_customer_group,
        _restrict_to_germany,
        _raise_minimum_by_raw_sql,
    ],
)
def test_the_next_checkout_sees_a_change_that_withdraws_the_method(
    rule: PaymentRule, actor: User, change: Callable[[PaymentRule, User], None]
) -> None:
    assert offered() == ["Check"]  # cached now
    change(rule, actor)
    assert offered() == []


def test_the_next_checkout_sees_a_new_rule_and_a_renamed_method(
    rule: PaymentRule, actor: User, method: PaymentMethod
) -> None:
    assert offered() == ["Check"]
    stripe = create_integration(IntegrationType.STRIPE, "Stripe", actor=actor).methods.get()
    PaymentRuleMethod.objects.create(rule=rule, method=stripe)
    assert offered() == ["Check", "Stripe"]
    PaymentMethod.objects.filter(pk=method.pk).update(admin_label="Cheque")
    assert offered() == ["Cheque", "Stripe"]


def test_without_the_version_row_every_checkout_reads_the_rules(rule: PaymentRule) -> None:
    assert offered() == ["Check"]
    RuleSetVersion.objects.all().delete()
    assert offered() == ["Check"]
    PaymentRule.objects.filter(pk=rule.pk).update(enabled=False)  # recreates the row
    assert RuleSetVersion.objects.exists()
    assert offered() == []


def test_a_change_committed_by_another_connection_reaches_this_process(
    backoffice_roles: None, rule: PaymentRule
) -> None:
    """Committed for real (a transactional database): the roles go with each flush."""
    assert offered() == ["Check"]

    def elsewhere() -> None:  # another worker's request: its own connection and transaction
        try:
            PaymentRule.objects.filter(pk=rule.pk).update(enabled=False)
        finally:
            connection.close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert offered() == []


def test_forget_drops_what_was_cached(rule: PaymentRule) -> None:
    offered()
    cached_rules.forget()
    assert _queries(offered) > 1


def test_the_cache_holds_a_bounded_number_of_currencies(rule: PaymentRule) -> None:
    for number in range(cached_rules._MAX_CURRENCIES + 50):
        resolve_methods(Checkout(currency=f"X{number:04}", total=Decimal("1"), billing_address=SF))
    assert len(cached_rules._cache) <= cached_rules._MAX_CURRENCIES
    assert offered() == ["Check"]
