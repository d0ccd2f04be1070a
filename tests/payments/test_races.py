"""Real parallel requests on one payment, integration or rule act once and leave totals right.

Staff and buyers sign in through the login page in their own `requests.Session` and post the
real forms to pytest-django's live server (one thread and one database connection per request),
released together by a barrier, as in tests/payments/test_concurrency_http.py. The fake card
adapter answers after a short delay, so the requests overlap inside the services.

SQLite serialises writers, so it cannot show a race: these tests run only on PostgreSQL
(DATABASE_URL=postgres://…), like tests/payments/test_concurrency.py.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import requests
from django.db import connection
from django.urls import reverse

from backoffice.models import Order
from integrations.adapters.base import CheckoutUrls
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from payments import services
from payments.browser_checkout import checkout_step, return_token
from payments.checkout_services import METHOD_UNAVAILABLE
from payments.models import Operation, PaymentTransaction, State, WebhookEvent
from payments.status import PaymentStatus
from rules.models import PaymentRule
from rules.services import RuleData, RuleMethodData, rule_save
from tests.factories import VALID_SETTINGS, create_integration, create_rule_with_methods
from tests.payments.support import key, make_order, offered_method
from tests.payments.test_concurrency_http import (
    TIMEOUT,
    action_form,
    confirmation,
    form_fields,
    post_together,
    signed_in,
    superuser,
)
from tests.providers.buyers import STRIPE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): SQLite serialises writers, so no race shows",
    ),
]

THREADS = 20


def assert_no_server_error(responses: list[Any]) -> None:
    for response in responses:
        assert isinstance(response, requests.Response), response
        assert response.status_code in (200, 400), (response.status_code, response.text[:500])


def total(rows: Any) -> Decimal:
    return sum((row.amount for row in rows), Decimal(0))


# --- 1. Twenty staff capturing one authorization at once ---------------------------------------


@pytest.fixture
def authorization(fake_card) -> PaymentTransaction:
    method = offered_method(IntegrationType.STRIPE, payment_action="manual", actor=superuser())
    order = make_order(total="100.00")
    row = services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )
    assert row.state == State.SUCCEEDED and row.is_open
    fake_card.delay_seconds = 0.2  # every request reaches the service while the first holds it
    return row


@pytest.mark.parametrize(
    ("amount", "captured", "refusal"),
    [
        ("100.00", "100.00", "already captured in full"),
        # The fake card takes several partial captures (multiple_captures): 6 x 15.00 fit.
        ("15.00", "90.00", "is too much"),
    ],
    ids=["full", "partial"],
)
def test_twenty_staff_capturing_one_authorization_never_capture_more_than_authorized(
    live_server, fake_card, authorization, amount, captured, refusal
):
    base_url = live_server.url
    sessions = [signed_in(base_url, superuser().username) for _ in range(THREADS)]
    steps = [confirmation(s, base_url, authorization, amount) for s in sessions]

    responses = post_together(
        [
            partial(session.post, url, data=data, timeout=TIMEOUT)
            for session, (url, data) in zip(sessions, steps, strict=True)
        ]
    )

    assert_no_server_error(responses)
    rows = PaymentTransaction.objects.filter(operation=Operation.CAPTURE)
    assert all(row.state == State.SUCCEEDED for row in rows)
    assert total(rows) == Decimal(captured)
    succeeded = [r for r in responses if "has been captured successfully" in r.text]
    assert len(succeeded) == rows.count() == int(Decimal(captured) / Decimal(amount))
    refused = [r for r in responses if r not in succeeded]
    assert all(r.status_code == 400 and refusal in r.text for r in refused)
    # The provider was asked once per ledger row, with that row's key.
    assert sorted(c[2] for c in fake_card.calls if c[0] == "capture") == sorted(
        row.idempotency_key for row in rows
    )
    order = Order.objects.get(pk=authorization.order_id)
    expected = PaymentStatus.PAID_IN_FULL if captured == "100.00" else PaymentStatus.PAID_PARTIALLY
    assert order.payment_status == expected


# --- 2. Partial refunds that together exceed the capture ----------------------------------------


def refund_form(
    session: requests.Session, base_url: str, tx: PaymentTransaction, amount: str
) -> tuple[str, dict[str, str]]:
    """The refund form of the order page, filled in: its URL and fields."""
    return action_form(session, base_url, tx, "refund", amount=amount, note="Returned goods")


def test_parallel_partial_refunds_never_refund_more_than_was_charged(live_server, fake_card):
    method = offered_method(IntegrationType.STRIPE, payment_action="automatic", actor=superuser())
    order = make_order(total="100.00")
    charge = services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )
    assert charge.operation == Operation.CHARGE and charge.state == State.SUCCEEDED
    fake_card.delay_seconds = 0.2
    base_url = live_server.url
    sessions = [signed_in(base_url, superuser().username) for _ in range(THREADS)]
    forms = [refund_form(s, base_url, charge, "15.00") for s in sessions]

    responses = post_together(
        [
            partial(session.post, url, data=data, timeout=TIMEOUT)
            for session, (url, data) in zip(sessions, forms, strict=True)
        ]
    )

    assert_no_server_error(responses)
    refunds = PaymentTransaction.objects.filter(operation=Operation.REFUND)
    assert all(row.state == State.SUCCEEDED for row in refunds)
    assert total(refunds) == Decimal("90.00")  # 6 x 15.00; a seventh would pass 100.00
    succeeded = [r for r in responses if "has been refunded successfully" in r.text]
    assert len(succeeded) == refunds.count() == 6
    refused = [r for r in responses if r not in succeeded]
    assert len(refused) == THREADS - 6
    assert all(r.status_code == 400 for r in refused)
    assert all(
        "You can refund at most 10.00 USD; 15.00 USD is too much." in r.text for r in refused
    )
    assert sorted(c[2] for c in fake_card.calls if c[0] == "refund") == sorted(
        row.idempotency_key for row in refunds
    )
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


@pytest.fixture
def charging(fake_card, monkeypatch) -> threading.Semaphore:
    """Released each time a charge reaches the provider (while its checkout is in flight)."""
    entered = threading.Semaphore(0)
    charge = fake_card.charge

    def charge_and_tell(self: Any, request: Any) -> Any:
        entered.release()
        return charge(self, request)

    monkeypatch.setattr(fake_card, "charge", charge_and_tell)
    return entered


def once_charging(entered: threading.Semaphore, change: Any) -> Any:
    """`change`, made once a checkout is at the provider (others still evaluating the rules)."""

    def run() -> Any:
        assert entered.acquire(timeout=TIMEOUT), "no checkout reached the provider"
        return change()

    return run


# --- 3. A webhook racing the buyer's return for the same payment -------------------------------

ROUNDS = 5


def test_a_webhook_racing_the_buyers_return_settles_the_payment_once(live_server, stripe_simulator):
    integration = create_integration(
        IntegrationType.STRIPE, name="Stripe", actor=superuser(), api_base_url=stripe_simulator.url
    )
    method = integration.methods.get()
    create_rule_with_methods("Cards", [method])
    base_url = live_server.url
    webhook_url = f"{base_url}{reverse('payments:webhook', args=[integration.webhook_token])}"
    secret = str(VALID_SETTINGS[IntegrationType.STRIPE]["webhook_signing_secret"])
    orders = [make_order(total="100.00") for _ in range(ROUNDS)]
    for order in orders:
        session, url, fields = buyer_checkout(base_url, order)
        started = submitted(session, url, fields, method)()
        assert started.status_code == 200 and "/pay/" in started.url, started.url
        row = PaymentTransaction.objects.get(order=order)
        # The buyer pays in the browser (the stand-in Stripe.js), which then comes back to us
        # while Stripe sends its webhook.
        step = checkout_step(row=row, urls=CheckoutUrls(base_url, base_url, base_url))
        params = STRIPE.pay(stripe_simulator, step, False)
        return_url = f"{base_url}{reverse('payments:checkout_return', args=[return_token(row)])}"
        body, headers = stripe_simulator.signed_webhook(
            "payment_intent.amount_capturable_updated", row.provider_reference, secret
        )

        back, notified = post_together(
            [
                partial(session.get, return_url, params=params, timeout=TIMEOUT),
                partial(requests.post, webhook_url, data=body, headers=headers, timeout=TIMEOUT),
            ]
        )

        assert isinstance(back, requests.Response) and isinstance(notified, requests.Response)
        assert back.status_code == 200 and "your payment is authorized" in back.text, back.text[
            :500
        ]
        assert notified.status_code == 200, notified.text[:500]
        event_id = json.loads(body)["id"]
        events = WebhookEvent.objects.filter(integration=integration, event_id=event_id)
        assert events.count() == 1
        # Whichever came second found the row settled (or no longer pending) and left it.
        assert events.get().outcome in (
            f"Settled transaction {row.pk} as succeeded.",
            f"Transaction {row.pk} left as succeeded.",
            "Recorded; no pending payment to settle.",
        )
        row.refresh_from_db()
        assert (row.state, row.is_open) == (State.SUCCEEDED, True)
        assert list(PaymentTransaction.objects.filter(order=order)) == [row]
        order.refresh_from_db()
        assert order.payment_status == PaymentStatus.AUTHORIZED
        intent = stripe_simulator.payment_intents[row.provider_reference]
        assert (intent["status"], intent["amount_capturable"]) == ("requires_capture", 10000)
    # The provider holds one payment per order, none captured.
    assert STRIPE.payments(stripe_simulator) == ROUNDS
    assert STRIPE.captured(stripe_simulator) == 0


# --- 4. An integration deleted while buyers submit their checkouts -----------------------------


def buyer_checkout(base_url: str, order: Order) -> tuple[requests.Session, str, dict[str, str]]:
    """A buyer signed in, on the checkout page of `order`: its URL and the form's fields."""
    assert order.customer_user is not None
    session = signed_in(base_url, order.customer_user.user.username)
    url = f"{base_url}{reverse('payments:checkout', args=[order.number])}"
    page = session.get(url, timeout=TIMEOUT)
    assert page.status_code == 200, page.status_code
    return session, url, form_fields(page.text, "")


def submitted(
    session: requests.Session, url: str, fields: dict[str, str], method: PaymentMethod
) -> partial[requests.Response]:
    data = {**fields, "method": str(method.pk)}
    return partial(session.post, url, data=data, headers={"Referer": url}, timeout=TIMEOUT)


def ledger_after(post: partial[requests.Response], method: PaymentMethod) -> Any:
    """Post, then read which rows of `method` the database holds once the answer came back."""

    def run() -> tuple[requests.Response, set[int]]:
        response = post()
        try:
            seen = set(
                PaymentTransaction.objects.filter(method=method).values_list("pk", flat=True)
            )
        finally:
            connection.close()  # this thread's own connection
        return response, seen

    return run


def assert_checkout_outcomes(responses: list[Any], orders: list[Order]) -> None:
    """Each buyer either paid (the confirmation page) or was told the method is gone."""
    assert_no_server_error(responses)
    for response, order in zip(responses, orders, strict=True):
        order.refresh_from_db()
        rows = list(order.transactions.all())
        if response.status_code == 200:
            assert response.history and response.history[0].status_code == 302
            assert [row.state for row in rows] == [State.SUCCEEDED]
            assert order.payment_status == PaymentStatus.PAID_IN_FULL
        else:
            assert METHOD_UNAVAILABLE in response.text.replace("&#x27;", "'"), response.text[:500]
            assert rows == []
            assert order.payment_status == PaymentStatus.PENDING


def test_an_integration_deleted_during_checkouts_takes_no_payment_after_the_delete(
    live_server, fake_card, charging
):
    method = offered_method(IntegrationType.STRIPE, payment_action="automatic", actor=superuser())
    fake_card.delay_seconds = 0.2  # submits are at the provider while the delete runs
    base_url = live_server.url
    orders = [make_order(total="100.00") for _ in range(THREADS)]
    buyers = [buyer_checkout(base_url, order) for order in orders]
    admin = signed_in(base_url, superuser().username)
    delete_url = f"{base_url}{reverse('integrations:delete', args=[method.integration_id])}"
    page = admin.get(delete_url, timeout=TIMEOUT)
    delete_fields = form_fields(
        page.text, reverse("integrations:delete", args=[method.integration_id])
    )
    delete = partial(admin.post, delete_url, data=delete_fields, timeout=TIMEOUT)

    *responses, (deleted, rows_at_delete) = post_together(
        [submitted(session, url, fields, method) for session, url, fields in buyers]
        + [once_charging(charging, ledger_after(delete, method))]
    )

    assert deleted.status_code == 200 and f"Deleted {method.integration.name}." in deleted.text
    assert Integration.objects.get(pk=method.integration_id).is_deleted
    assert_checkout_outcomes(responses, orders)
    rows = PaymentTransaction.objects.filter(method=method)
    # Every payment committed before the delete did; none was written after it.
    assert set(rows.values_list("pk", flat=True)) == rows_at_delete
    charges = [c for c in fake_card.calls if c[0] == "charge"]
    assert sorted(c[2] for c in charges) == sorted(row.idempotency_key for row in rows)


# --- 5. A rule edited while parallel checkouts evaluate it -------------------------------------


def test_a_rule_edited_during_checkouts_is_seen_whole_by_each(live_server, fake_card, charging):
    actor = superuser()
    old, both, new = (
        create_integration(
            IntegrationType.STRIPE, name=f"Card {name}", actor=actor, payment_action="automatic"
        ).methods.get()
        for name in ("old", "both", "new")
    )
    rule = create_rule_with_methods("Cards", [old, both, new], disabled_methods=(new,))
    fake_card.delay_seconds = 0.2
    base_url = live_server.url
    orders = [make_order(total="100.00") for _ in range(THREADS)]
    buyers = [buyer_checkout(base_url, order) for order in orders]
    chosen = [(old, new)[i % 2] for i in range(THREADS)]
    edit = RuleData(
        name=rule.name,
        sort_order=rule.sort_order,
        currency=rule.currency,
        methods=(
            RuleMethodData(old, enabled=False),
            RuleMethodData(both),
            RuleMethodData(new),
        ),
    )

    def edit_rule() -> set[int]:
        try:
            rule_save(rule=PaymentRule.objects.get(pk=rule.pk), data=edit, actor=actor)
            return set(PaymentTransaction.objects.values_list("pk", flat=True))
        finally:
            connection.close()

    *responses, rows_at_edit = post_together(
        [
            submitted(session, url, fields, method)
            for (session, url, fields), method in zip(buyers, chosen, strict=True)
        ]
        + [once_charging(charging, edit_rule)]
    )

    assert_checkout_outcomes(responses, orders)
    rows = PaymentTransaction.objects.all()
    assert {row.method_id for row in rows} <= {old.pk, new.pk}
    # The old method only by a submit that committed before the edit did.
    assert {row.pk for row in rows if row.method_id == old.pk} <= rows_at_edit
    charges = [c for c in fake_card.calls if c[0] == "charge"]
    assert sorted(c[2] for c in charges) == sorted(row.idempotency_key for row in rows)
