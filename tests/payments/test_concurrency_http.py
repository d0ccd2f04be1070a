"""Staff clicking Capture at the same moment, over HTTP through a real server, capture once.

Each staff member signs in on the login page and walks the back-office capture form (the amount,
then the confirmation) in their own `requests.Session`, as a browser would; the confirmations are
then posted at the same instant (a barrier) to pytest-django's live server, which serves each
request in its own thread with its own database connection. The fake card adapter answers after
a short delay, so every request is inside the service while the first holds the lock.

SQLite serialises writers, so it cannot show a race: these tests run only on PostgreSQL
(DATABASE_URL=postgres://…), like tests/payments/test_concurrency.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from django.db import connection
from django.urls import reverse

from backoffice.models import Order
from integrations.types import IntegrationType
from payments import services
from payments.models import Operation, PaymentTransaction, State
from payments.status import PaymentStatus
from tests.factories import UserFactory
from tests.payments.support import key, make_order, offered_method

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): SQLite serialises writers, so no race shows",
    ),
]

PASSWORD = "pass-word-123"  # what UserFactory sets
TIMEOUT = 30


class _Forms(HTMLParser):
    """The fields of each <form> on a page, by its action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = self.forms.setdefault(values.get("action", ""), {})
        elif tag == "input" and self._current is not None and "name" in values:
            self._current[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    assert action in parser.forms, f"no form posting to {action}"
    return parser.forms[action]


def signed_in(base_url: str, username: str) -> requests.Session:
    """A browser-like session signed in through the login page (CSRF cookie and token)."""
    session = requests.Session()
    login = f"{base_url}{reverse('login')}"
    page = session.get(login, timeout=TIMEOUT)
    fields = form_fields(page.text, reverse("login"))
    response = session.post(
        login,
        data={**fields, "username": username, "password": PASSWORD},
        headers={"Referer": login},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200 and "sessionid" in session.cookies, response.text[:500]
    return session


def action_form(
    session: requests.Session, base_url: str, tx: PaymentTransaction, action: str, **values: str
) -> tuple[str, dict[str, str]]:
    """The order page's form for `action` on `tx`, filled in with `values`: its URL and fields."""
    order_url = f"{base_url}{reverse('orders:detail', args=[tx.order_id])}"
    path = reverse("orders:payment_action", args=[tx.order_id, tx.pk, action])
    page = session.get(order_url, params={"action": action, "transaction": tx.pk}, timeout=TIMEOUT)
    assert page.status_code == 200, page.status_code
    return f"{base_url}{path}", {**form_fields(page.text, path), **values}


def confirmation(
    session: requests.Session, base_url: str, tx: PaymentTransaction, amount: str
) -> tuple[str, dict[str, str]]:
    """Open the capture form, submit the amount; the confirmation form's URL and fields."""
    url, fields = action_form(session, base_url, tx, "capture", amount=amount)
    step = session.post(url, data=fields, timeout=TIMEOUT)
    assert step.status_code == 200 and "The customer will be charged" in step.text
    confirm = form_fields(step.text, url.removeprefix(base_url))
    assert (
        confirm["confirmed"] == "True" and confirm["idempotency_key"] == fields["idempotency_key"]
    )
    return url, confirm


def post_together(posts: list[Callable[[], requests.Response]]) -> list[Any]:
    """Send `posts` from threads released at the same instant; each response or exception."""
    barrier = threading.Barrier(len(posts))
    results: list[Any] = [None] * len(posts)

    def run(index: int, post: Callable[[], requests.Response]) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            results[index] = post()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * TIMEOUT)
    return results


def assert_normal_pages(responses: list[Any], order: Order) -> None:
    """Every request got a page of the back-office about the order: no 500, no exception."""
    for response in responses:
        assert isinstance(response, requests.Response), response
        assert response.status_code in (200, 400), (response.status_code, response.text[:500])
        assert order.number in response.text


def superuser() -> Any:
    # Groups from the roles migration are flushed by transactional tests; a superuser holds
    # every permission regardless.
    return UserFactory(is_superuser=True)


@pytest.fixture
def authorization(fake_card) -> PaymentTransaction:
    method = offered_method(IntegrationType.STRIPE, payment_action="manual", actor=superuser())
    order = make_order(total="100.00")
    row = services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )
    assert row.state == State.SUCCEEDED and row.is_open
    fake_card.delay_seconds = 0.3  # every request reaches the service while the first holds it
    return row


@pytest.mark.parametrize("staff_count", [2, 10])
def test_staff_capturing_at_once_over_http_capture_once(
    live_server, fake_card, authorization, staff_count
):
    base_url = live_server.url
    sessions = [signed_in(base_url, superuser().username) for _ in range(staff_count)]
    steps = [confirmation(s, base_url, authorization, "100.00") for s in sessions]

    responses = post_together(
        [
            partial(session.post, url, data=data, timeout=TIMEOUT)
            for session, (url, data) in zip(sessions, steps, strict=True)
        ]
    )

    order = Order.objects.get(pk=authorization.order_id)
    assert_normal_pages(responses, order)
    captures = PaymentTransaction.objects.filter(operation=Operation.CAPTURE)
    assert [(c.state, c.source_id) for c in captures] == [(State.SUCCEEDED, authorization.pk)]
    assert [call[0] for call in fake_card.calls].count("capture") == 1
    assert order.payment_status == PaymentStatus.PAID_IN_FULL
    # The winner lands on the order page with the success message; the others are told why not.
    succeeded = [r for r in responses if "has been captured successfully" in r.text]
    assert len(succeeded) == 1 and succeeded[0].status_code == 200
    assert succeeded[0].history and succeeded[0].history[0].status_code == 302
    refused = [r for r in responses if r is not succeeded[0]]
    assert all(r.status_code == 400 for r in refused), [r.status_code for r in refused]
    assert all("already captured in full" in r.text for r in refused)
    PaymentTransaction.objects.filter(pk=authorization.pk, is_open=False).get()


def test_a_capture_confirmation_resubmitted_at_once_over_http_captures_once(
    live_server, fake_card, authorization
):
    base_url = live_server.url
    first = signed_in(base_url, superuser().username)
    url, data = confirmation(first, base_url, authorization, "60.00")
    # The same browser sending the same form twice (a double click): same cookies, same key.
    second = requests.Session()
    second.cookies.update(first.cookies)

    responses = post_together(
        [partial(session.post, url, data=data, timeout=TIMEOUT) for session in (first, second)]
    )

    order = Order.objects.get(pk=authorization.order_id)
    assert_normal_pages(responses, order)
    # Both land on the order page; the one session holds the success message, which whichever
    # page is rendered first shows (a browser shows only the last response anyway).
    assert all(r.status_code == 200 and r.history[0].status_code == 302 for r in responses)
    assert any("has been captured successfully" in r.text for r in responses)
    assert not any(
        "message-error" in r.text or "message-warning" in r.text or "has-error" in r.text
        for r in responses
    )
    captures = PaymentTransaction.objects.filter(operation=Operation.CAPTURE)
    assert [(c.amount, c.state, c.idempotency_key) for c in captures] == [
        (60, State.SUCCEEDED, data["idempotency_key"])
    ]
    assert [call[0] for call in fake_card.calls].count("capture") == 1
    assert order.payment_status == PaymentStatus.PAID_PARTIALLY
    # 40.00 USD remain capturable: the authorization stays open.
    assert PaymentTransaction.objects.get(pk=authorization.pk).is_open
