"""The browser step of card and PayPal checkouts: begin, return, abandon, webhooks.

The provider here is a fake registered in our own adapter registry (the real providers are tested
against their simulators in tests/providers/): it lets these tests decide what "the provider"
reports, so the ledger, the pages and the webhook endpoint can be checked in every order of events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.models import Order
from integrations.adapters.base import (
    AdapterBase,
    CheckoutUrls,
    InvalidWebhook,
    Operation,
    PaymentNotTaken,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ProviderResult,
    ResultState,
    StepKind,
    WebhookEvent,
)
from integrations.models import PaymentMethod
from integrations.types import IntegrationType
from payments.browser_checkout import return_token
from payments.models import PaymentTransaction, State
from payments.models import WebhookEvent as WebhookEventRow
from payments.status import PaymentStatus
from tests.factories import CustomerUserFactory
from tests.payments.support import make_order, offered_method

pytestmark = pytest.mark.django_db

SIGNING_KEY = b"fake-signing-key"


class FakeBrowserAdapter(AdapterBase):
    """A provider whose payments happen in the browser; `outcome` is what it reports."""

    supports: ClassVar[frozenset[Operation]] = frozenset(
        {Operation.AUTHORIZE, Operation.CHARGE, Operation.CAPTURE, Operation.REFUND}
    )
    browser_step: ClassVar[bool] = True
    outcome: ClassVar[str] = "succeeded"  # succeeded | declined | unfinished | unreachable
    begin_fails: ClassVar[bool] = False
    completes_after_abandon: ClassVar[bool] = False
    calls: ClassVar[list[str]] = []
    urls: ClassVar[list[CheckoutUrls]] = []

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        self.calls.append("begin")
        self.urls.append(urls)
        if self.begin_fails:
            raise ProviderError("connection refused")
        if request.currency == "BHD":
            raise ProviderError("Currency is not supported", permanent=True)
        if request.currency == "KWD":
            raise PaymentNotTaken("The provider cannot take payments in KWD.")
        return PaymentStep(
            kind=StepKind.HOSTED_FORM,
            reference=f"tok-{request.idempotency_key}",
            url="http://127.0.0.1:9/payflowlink",
            data={"SECURETOKEN": "secure-token", "SECURETOKENID": request.idempotency_key},
        )

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        self.calls.append("complete")
        if self.outcome == "unreachable":
            raise ProviderError("read timed out")
        if self.outcome == "unfinished":
            return ProviderResult(ok=True, state=ResultState.PENDING)
        if self.outcome == "declined":
            return ProviderResult(ok=False, state=ResultState.FAILED, message="Card declined.")
        return ProviderResult(ok=True, state=ResultState.SUCCEEDED, reference=f"auth-{reference}")

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        self.calls.append("abandon")
        return super().abandon(request, reference=reference)

    def may_complete_after_abandon(self, request: PaymentRequest) -> bool:
        return self.completes_after_abandon

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        if headers.get("X-Verifier-Down"):
            raise ProviderError("verification service timed out")
        expected = hmac.new(SIGNING_KEY, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Fake-Signature", ""), expected):
            raise InvalidWebhook("bad signature")
        event = json.loads(body)
        return WebhookEvent(
            id=event["id"],
            type=event["type"],
            reference=event["reference"],
            state=ResultState(event["state"]) if event.get("state") else None,
            raw=event,
            order_number=event.get("order", ""),
        )


@pytest.fixture
def browser_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeBrowserAdapter]]:
    from integrations.adapters import ADAPTERS

    monkeypatch.setitem(ADAPTERS, IntegrationType.STRIPE, FakeBrowserAdapter)
    monkeypatch.setattr(FakeBrowserAdapter, "outcome", "succeeded")
    monkeypatch.setattr(FakeBrowserAdapter, "begin_fails", False)
    monkeypatch.setattr(FakeBrowserAdapter, "completes_after_abandon", False)
    monkeypatch.setattr(FakeBrowserAdapter, "calls", [])
    monkeypatch.setattr(FakeBrowserAdapter, "urls", [])
    yield FakeBrowserAdapter


@pytest.fixture
def card_checkout(browser_provider: type[FakeBrowserAdapter]) -> dict[str, Any]:
    customer_user = CustomerUserFactory()
    order = make_order(customer_user=customer_user, total="120.00")
    method = offered_method(IntegrationType.STRIPE, payment_action="manual")
    client = Client()
    client.force_login(customer_user.user)
    return {"order": order, "method": method, "client": client, "customer_user": customer_user}


def submit(client: Client, order: Order, method: PaymentMethod, key: str = "key-1") -> Any:
    return client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": method.pk, "idempotency_key": key},
    )


def started_row(order: Order) -> PaymentTransaction:
    return PaymentTransaction.objects.get(order=order)


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    signature = hmac.new(SIGNING_KEY, body, hashlib.sha256).hexdigest()
    return body, {"HTTP_X_FAKE_SIGNATURE": signature}


def test_submit_starts_the_payment_and_sends_the_buyer_to_the_payment_page(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    response = submit(client, order, card_checkout["method"])
    row = started_row(order)
    assert response.status_code == 302
    assert response["Location"] == reverse("payments:checkout_pay", args=[order.number, row.pk])
    assert (row.state, row.operation, row.provider_reference) == (
        State.PENDING,
        "authorize",
        "tok-key-1",
    )
    urls = FakeBrowserAdapter.urls[0]
    assert urls.return_url.startswith("http://testserver/payment/return/")
    assert return_token(row) in urls.return_url
    # The checkout page now leads back to the started payment instead of offering a second one.
    again = client.get(reverse("payments:checkout", args=[order.number]))
    assert again["Location"] == response["Location"]


def test_payment_page_posts_the_card_to_the_provider_never_to_us(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    page = client.get(submit(client, order, card_checkout["method"])["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'action="http://127.0.0.1:9/payflowlink"' in html
    assert 'name="ACCT"' in html and 'name="SECURETOKEN" value="secure-token"' in html
    # Our CSRF token would leak to the provider: the provider's form must not carry it.
    card_form = html[html.index('id="card-step"') : html.index("</form>", html.index("card-step"))]
    assert "csrfmiddlewaretoken" not in card_form
    assert FakeBrowserAdapter.calls == ["begin", "begin"]  # asked again, idempotently


def test_return_settles_the_authorization_once_however_often_it_comes(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    return_url = FakeBrowserAdapter.urls[0].return_url
    anonymous = Client()  # a cross-site post from the provider carries no session cookie
    first = anonymous.post(return_url, {"RESULT": "0", "PNREF": "A10X"})
    second = client.get(return_url)
    row = started_row(order)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == reverse("payments:checkout_done", args=[order.number])
    assert (row.state, row.is_open, row.provider_reference) == (
        State.SUCCEEDED,
        True,
        "auth-tok-key-1",
    )
    assert row.authorization_expires_at is not None
    assert FakeBrowserAdapter.calls.count("complete") == 1
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED
    done = client.get(first["Location"])
    assert b"your payment is authorized" in done.content


def test_a_decline_lets_the_buyer_choose_another_method(card_checkout: dict[str, Any]) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    FakeBrowserAdapter.outcome = "declined"
    submit(client, order, card_checkout["method"])
    client.get(FakeBrowserAdapter.urls[0].return_url)
    done = client.get(reverse("payments:checkout_done", args=[order.number]))
    assert b"Your payment was declined" in done.content and b"Card declined." in done.content
    FakeBrowserAdapter.outcome = "succeeded"
    retry = submit(client, order, card_checkout["method"], key="key-2")
    assert PaymentTransaction.objects.filter(order=order).count() == 2
    assert "/pay/" in retry["Location"]


def test_unfinished_payment_stays_pending_and_the_page_is_shown_again(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    FakeBrowserAdapter.outcome = "unfinished"
    submit(client, order, card_checkout["method"])
    response = client.get(FakeBrowserAdapter.urls[0].return_url, follow=True)
    assert started_row(order).state == State.PENDING
    assert response.redirect_chain[-1][0].endswith(f"/pay/{started_row(order).pk}/")


def test_an_unreachable_provider_after_the_browser_step_leaves_an_honest_unknown(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    FakeBrowserAdapter.outcome = "unreachable"
    submit(client, order, card_checkout["method"])
    done = client.get(FakeBrowserAdapter.urls[0].return_url, follow=True)
    row = started_row(order)
    assert row.state == State.UNKNOWN and "may or may not" in row.message
    assert b"We are confirming your payment" in done.content


def test_a_provider_that_cannot_start_the_payment_charges_nothing(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    FakeBrowserAdapter.begin_fails = True
    response = submit(client, order, card_checkout["method"], key="key-9")
    row = started_row(order)
    assert row.state == State.FAILED and "nothing was charged" in row.message
    assert response["Location"] == reverse("payments:checkout_done", args=[order.number])


def test_choosing_another_method_gives_the_started_payment_up(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    row = started_row(order)
    response = client.post(
        reverse("payments:checkout_pay_abandon", args=[order.number, row.pk]), follow=True
    )
    row.refresh_from_db()
    assert row.state == State.FAILED and "abandon" in FakeBrowserAdapter.calls
    assert b"nothing was charged" in response.content
    assert b'name="method"' in response.content  # the methods are offered again


def test_cancel_on_the_providers_page_returns_to_the_methods(card_checkout: dict[str, Any]) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    response = client.get(FakeBrowserAdapter.urls[0].cancel_url)
    assert response["Location"] == reverse("payments:checkout", args=[order.number])
    assert started_row(order).state == State.FAILED


def test_card_numbers_sent_to_us_are_refused_and_nothing_is_recorded(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    response = Client().post(
        FakeBrowserAdapter.urls[0].return_url, {"ACCT": "4111111111111111", "CVV2": "123"}
    )
    assert response.status_code == 400 and b"Card details" in response.content
    assert started_row(order).state == State.PENDING
    assert "complete" not in FakeBrowserAdapter.calls


@pytest.mark.parametrize("token", ["not-a-token", "MQ:1uZ:forged"])
def test_a_forged_return_token_is_not_found(token: str) -> None:
    assert Client().get(reverse("payments:checkout_return", args=[token])).status_code == 404


def test_another_buyer_cannot_open_the_payment_page(card_checkout: dict[str, Any]) -> None:
    order = card_checkout["order"]
    submit(card_checkout["client"], order, card_checkout["method"])
    stranger = Client()
    stranger.force_login(CustomerUserFactory().user)
    url = reverse("payments:checkout_pay", args=[order.number, started_row(order).pk])
    assert stranger.get(url).status_code == 404


def test_webhook_before_the_return_settles_and_the_return_changes_nothing(
    card_checkout: dict[str, Any],
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    row = started_row(order)
    integration = card_checkout["method"].integration
    body, headers = signed(
        {
            "id": "evt_1",
            "type": "payment.ok",
            "reference": row.provider_reference,
            "state": "succeeded",
        }
    )
    url = reverse("payments:webhook", args=[integration.webhook_token])
    response = Client().post(url, body, content_type="application/json", **headers)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED and row.is_open
    client.get(FakeBrowserAdapter.urls[0].return_url)
    assert "complete" not in FakeBrowserAdapter.calls
    # The same event again is acknowledged and changes nothing.
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 200
    assert WebhookEventRow.objects.count() == 1
    assert PaymentTransaction.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("signature", [None, "0" * 64])
def test_webhook_with_a_missing_or_wrong_signature_is_refused_and_not_recorded(
    card_checkout: dict[str, Any], signature: str | None
) -> None:
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    body = json.dumps(
        {"id": "evt_2", "type": "x", "reference": started_row(order).provider_reference}
    ).encode()
    headers = {"HTTP_X_FAKE_SIGNATURE": signature} if signature else {}
    url = reverse("payments:webhook", args=[card_checkout["method"].integration.webhook_token])
    response = Client().post(url, body, content_type="application/json", **headers)
    assert response.status_code == 400
    assert not WebhookEventRow.objects.exists()
    assert started_row(order).state == State.PENDING


def test_webhook_url_is_per_integration_and_unguessable(card_checkout: dict[str, Any]) -> None:
    token = card_checkout["method"].integration.webhook_token
    assert len(token) >= 40
    assert (
        Client().post("/webhooks/guess/", b"{}", content_type="application/json").status_code == 404
    )
    assert Client().get(f"/webhooks/{token}/").status_code == 405


def test_webhook_about_an_unknown_payment_is_recorded_only(card_checkout: dict[str, Any]) -> None:
    integration = card_checkout["method"].integration
    body, headers = signed({"id": "evt_3", "type": "refund", "reference": "elsewhere"})
    url = reverse("payments:webhook", args=[integration.webhook_token])
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 200
    event = WebhookEventRow.objects.get()
    assert event.transaction is None and "no pending payment" in event.outcome


def test_webhook_that_cannot_be_verified_now_asks_the_provider_to_retry(
    card_checkout: dict[str, Any],
) -> None:
    body, headers = signed({"id": "evt_4", "type": "x", "reference": "r"})
    url = reverse("payments:webhook", args=[card_checkout["method"].integration.webhook_token])
    response = Client().post(
        url, body, content_type="application/json", HTTP_X_VERIFIER_DOWN="1", **headers
    )
    assert response.status_code == 503
    assert not WebhookEventRow.objects.exists()


@pytest.mark.parametrize("provider_can_still_take_it", [True, False])
def test_a_payment_taken_after_the_buyer_left_it_is_recorded_not_lost(
    card_checkout: dict[str, Any], provider_can_still_take_it: bool
) -> None:
    """A Payflow card form cannot be revoked: a buyer may post it from an old tab."""
    order, client = card_checkout["order"], card_checkout["client"]
    FakeBrowserAdapter.completes_after_abandon = provider_can_still_take_it
    submit(client, order, card_checkout["method"])
    row = started_row(order)
    client.post(reverse("payments:checkout_pay_abandon", args=[order.number, row.pk]))
    row.refresh_from_db()
    assert row.state == State.FAILED
    Client().post(FakeBrowserAdapter.urls[0].return_url, {"RESULT": "0", "PNREF": "B1"})
    row.refresh_from_db()
    if provider_can_still_take_it:
        assert row.state == State.SUCCEEDED and "second payment" in row.message
        order.refresh_from_db()
        assert order.payment_status == PaymentStatus.AUTHORIZED
    else:
        assert row.state == State.FAILED
        assert "complete" not in FakeBrowserAdapter.calls


def test_webhook_settles_a_payment_whose_answer_was_lost_by_its_order_number(
    card_checkout: dict[str, Any],
) -> None:
    """Authorize.Net: the charge answer timed out, so the row never learnt its transaction id."""
    order, client = card_checkout["order"], card_checkout["client"]
    submit(client, order, card_checkout["method"])
    PaymentTransaction.objects.filter(order=order).update(
        state=State.UNKNOWN, provider_reference=""
    )
    body, headers = signed(
        {
            "id": "evt_5",
            "type": "authcapture",
            "reference": "60000001",
            "state": "succeeded",
            "order": order.number,
        }
    )
    url = reverse("payments:webhook", args=[card_checkout["method"].integration.webhook_token])
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 200
    row = started_row(order)
    assert (row.state, row.provider_reference) == (State.SUCCEEDED, "60000001")


def refused_checkout(currency: str) -> tuple[PaymentTransaction, Any, Client]:
    """A checkout in `currency` that the fake provider refuses to start: (row, answer, client)."""
    customer_user = CustomerUserFactory()
    order = make_order(customer_user=customer_user, currency=currency, total="12.345")
    method = offered_method(IntegrationType.STRIPE, currency=currency, payment_action="manual")
    client = Client()
    client.force_login(customer_user.user)
    response = submit(client, order, method)
    return started_row(order), response, client


def test_a_provider_that_refuses_the_payment_says_so_rather_than_unreachable(
    browser_provider: type[FakeBrowserAdapter],
) -> None:
    row, _, _ = refused_checkout("BHD")
    assert row.state == State.FAILED
    assert "refused this payment (Currency is not supported)" in row.message


def test_a_payment_the_adapter_cannot_take_is_refused_in_its_own_words(
    browser_provider: type[FakeBrowserAdapter],
) -> None:
    row, response, client = refused_checkout("KWD")
    assert row.state == State.FAILED
    assert row.message == (
        "The provider cannot take payments in KWD. Nothing was charged. "
        "Please select a different payment method."
    )
    assert "refused" not in row.message  # the provider was never asked
    done = client.get(response["Location"])
    assert row.message in done.content.decode()
