"""The buyer's part at PayPal: `approve()` for tests, and the `/checkoutnow` approval page that
sends the browser back to the payment's return or cancel URL."""

from __future__ import annotations

import secrets
import string
import threading
from urllib.parse import parse_qs

from simulators.base import Request, Response, Simulator
from simulators.paypal.answers import Payment
from simulators.paypal.pages import approval_form, page, redirect


class PayPalApproval(Simulator):
    """The buyer approving (or cancelling) a payment created through the API."""

    payments: dict[str, Payment]
    merchant_names: dict[str, str]
    _state_lock: threading.RLock

    def approve(self, payment_id: str, *, decline: bool = False) -> dict[str, str]:
        """The buyer approves at PayPal: the query PayPal appends to the return URL."""
        with self._state_lock:
            payment = self.payments[payment_id]
            if not payment.payer_id:
                payment.payer_id = "".join(
                    secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13)
                )
            payment.decline = decline
            return {"paymentId": payment.id, "token": payment.token, "PayerID": payment.payer_id}

    def _checkout_page(self, request: Request) -> Response:
        if request.method == "POST":
            form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        else:
            form = {k: v[-1] for k, v in request.query.items()}
        payment = next((p for p in self.payments.values() if p.token == form.get("token")), None)
        if payment is None:
            return page(
                404, "Checkout session not found", "<p>This checkout link is not valid.</p>"
            )
        urls = payment.request["redirect_urls"]
        if request.method == "POST" and form.get("action") == "approve":
            query = self.approve(payment.id, decline=form.get("decline") == "on")
            return redirect(urls["return_url"], query)
        if request.method == "POST" and form.get("action") == "cancel":
            return redirect(urls["cancel_url"], {"token": payment.token})
        if request.method == "POST":
            return page(400, "Choose an action", "<p>Approve or cancel the payment.</p>")
        if payment.state != "created":
            return page(200, "Payment finished", "<p>This payment was already completed.</p>")
        return page(
            200,
            "Pay with PayPal",
            approval_form(payment, self.merchant_names.get(payment.client_id, "Sandbox merchant")),
        )
