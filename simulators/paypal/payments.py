"""PayPal's payments, as the REST v1 API keeps them: create and execute a payment, then capture,
void and refund what it authorized or sold; each change notifies the webhooks subscribed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.base import Response
from simulators.paypal.answers import (
    BUYER,
    OVERCAPTURE_CAP,
    Payment,
    amount_issue,
    error,
    invalid,
    json_answer,
    money,
    now,
    public,
    transaction_id,
)
from simulators.paypal.webhooks import PayPalWebhooks


class PayPalPayments(PayPalWebhooks):
    """Payments and the sales, authorizations, captures and refunds they lead to."""

    payments: dict[str, Payment]
    resources: dict[str, dict[str, Any]]
    _amounts: dict[str, Decimal]

    def _create(self, client_id: str, body: dict[str, Any]) -> Response:
        if body.get("intent") not in ("sale", "authorize", "order"):
            return invalid("intent", "Must be one of sale, authorize, order.")
        if body["intent"] == "order":
            return invalid("intent", "Order intent is not simulated.")
        payer = body.get("payer")
        if not isinstance(payer, dict) or payer.get("payment_method") != "paypal":
            return invalid("payer.payment_method", "Must be paypal.")
        urls = body.get("redirect_urls")
        if not isinstance(urls, dict) or not urls.get("return_url") or not urls.get("cancel_url"):
            return invalid("redirect_urls", "Return and cancel URLs are required.")
        transactions = body.get("transactions")
        if not isinstance(transactions, list) or len(transactions) != 1:
            return invalid("transactions", "Exactly one transaction is simulated.")
        amount = transactions[0].get("amount") if isinstance(transactions[0], dict) else None
        issue = amount_issue(amount)
        if issue:
            return invalid(f"transactions[0].{issue[0]}", issue[1])
        assert isinstance(amount, dict)
        payment = Payment(
            id="PAY-" + transaction_id() + secrets.token_hex(4).upper()[:7],
            client_id=client_id,
            intent=body["intent"],
            token="EC-" + transaction_id(),
            amount=Decimal(amount["total"]),
            currency=amount["currency"],
            request=body,
        )
        self.payments[payment.id] = payment
        return json_answer(201, self._payment_json(payment))

    def _payment_json(self, payment: Payment) -> dict[str, Any]:
        transaction = dict(payment.request["transactions"][0])
        related = []
        if payment.resource_id:
            related.append({payment.resource_kind: public(self.resources[payment.resource_id])})
            for resource in self.resources.values():
                if resource.get("parent_payment") == payment.id and resource["_kind"] in (
                    "capture",
                    "refund",
                ):
                    related.append({resource["_kind"]: public(resource)})
        transaction["related_resources"] = related
        data: dict[str, Any] = {
            "id": payment.id,
            "intent": payment.intent,
            "state": payment.state,
            "cart": payment.token.removeprefix("EC-"),
            "payer": {"payment_method": "paypal"},
            "transactions": [transaction],
            "redirect_urls": payment.request["redirect_urls"],
            "create_time": payment.create_time,
            "links": [
                self._link(f"/v1/payments/payment/{payment.id}", "self", "GET"),
            ],
        }
        if payment.state == "created":
            data["links"] += [
                {
                    "href": f"{self.url}/checkoutnow?token={payment.token}",
                    "rel": "approval_url",
                    "method": "REDIRECT",
                },
                self._link(f"/v1/payments/payment/{payment.id}/execute", "execute", "POST"),
            ]
        if payment.payer_id:
            data["payer"].update(
                status="VERIFIED", payer_info={**BUYER, "payer_id": payment.payer_id}
            )
        if payment.state == "failed":
            data["failure_reason"] = "INSTRUMENT_DECLINED"
        return data

    def _link(self, path: str, rel: str, method: str) -> dict[str, str]:
        return {"href": self.url + path, "rel": rel, "method": method}

    def _execute(self, payment: Payment, body: dict[str, Any]) -> Response:
        if payment.state == "approved":
            return error(400, "PAYMENT_ALREADY_DONE")
        if payment.state == "failed":
            return error(400, "PAYMENT_STATE_INVALID")
        if not payment.payer_id:
            return error(400, "PAYMENT_NOT_APPROVED_FOR_EXECUTION")
        if body.get("payer_id") != payment.payer_id:
            return invalid("payer_id", "Payer ID is invalid")
        if payment.decline:
            payment.state = "failed"
            return error(400, "INSTRUMENT_DECLINED")
        kind = "authorization" if payment.intent == "authorize" else "sale"
        resource = self._new_resource(
            kind,
            payment.client_id,
            payment.amount,
            payment.currency,
            parent_payment=payment.id,
            state="authorized" if kind == "authorization" else "completed",
        )
        if kind == "authorization":
            valid_until = datetime.now(UTC) + timedelta(days=29)
            resource.update(
                reason_code="AUTHORIZATION", valid_until=f"{valid_until:%Y-%m-%dT%H:%M:%SZ}"
            )
        else:
            resource.update(payment_mode="INSTANT_TRANSFER", protection_eligibility="ELIGIBLE")
        payment.state = "approved"
        payment.resource_kind, payment.resource_id = kind, resource["id"]
        created = "AUTHORIZATION.CREATED" if kind == "authorization" else "SALE.COMPLETED"
        self._notify(payment.client_id, f"PAYMENT.{created}", resource)
        return json_answer(200, self._payment_json(payment))

    def _new_resource(
        self, kind: str, client_id: str, amount: Decimal, currency: str, **extra: Any
    ) -> dict[str, Any]:
        resource_id = transaction_id()
        resource = {
            "_kind": kind,
            "_client": client_id,
            "id": resource_id,
            "amount": {"total": money(amount, currency), "currency": currency},
            "create_time": now(),
            "update_time": now(),
            **extra,
        }
        path = f"/v1/payments/{kind}/{resource_id}"
        resource["links"] = [self._link(path, "self", "GET")]
        self.resources[resource_id] = resource
        self._amounts[resource_id] = amount
        return resource

    def _capture(self, authorization: dict[str, Any], body: dict[str, Any]) -> Response:
        if authorization["state"] not in ("authorized", "partially_captured"):
            return error(400, "AUTHORIZATION_ALREADY_COMPLETED")
        currency = authorization["amount"]["currency"]
        amount_field = body.get("amount")
        if amount_field is None:  # no amount: capture everything still authorized
            amount_field = {"total": money(self._amounts[authorization["id"]], currency)}
            amount_field["currency"] = currency
        issue = amount_issue(amount_field)
        if issue:
            return invalid(issue[0], issue[1])
        if amount_field["currency"] != currency:
            return error(400, "CURRENCY_MISMATCH")
        amount = Decimal(amount_field["total"])
        remaining = self._amounts[authorization["id"]]
        # PayPal honours captures up to 115% of the authorization, at most 75 (USD) more.
        authorized = Decimal(authorization["amount"]["total"])
        limit = authorized + min(authorized * Decimal("0.15"), OVERCAPTURE_CAP)
        if authorized - remaining + amount > limit:
            return error(400, "CAPTURE_AMOUNT_LIMIT_EXCEEDED")
        final = bool(body.get("is_final_capture"))
        capture = self._new_resource(
            "capture",
            authorization["_client"],
            amount,
            currency,
            state="completed",
            is_final_capture=final,
            parent_payment=authorization["parent_payment"],
            authorization_id=authorization["id"],
        )
        left = Decimal(0) if final else max(remaining - amount, Decimal(0))
        self._amounts[authorization["id"]] = left
        fully = not left
        authorization["state"] = "captured" if fully else "partially_captured"
        authorization["update_time"] = now()
        self._notify(capture["_client"], "PAYMENT.CAPTURE.COMPLETED", capture)
        return json_answer(200, public(capture))

    def _void(self, authorization: dict[str, Any], body: dict[str, Any]) -> Response:
        # A partly captured authorization can still be voided: that releases the rest.
        if authorization["state"] not in ("authorized", "partially_captured"):
            return error(400, "AUTHORIZATION_ALREADY_COMPLETED")
        authorization["state"] = "voided"
        authorization["update_time"] = now()
        self._amounts[authorization["id"]] = Decimal(0)
        self._notify(authorization["_client"], "PAYMENT.AUTHORIZATION.VOIDED", authorization)
        return json_answer(200, public(authorization))

    def _refund(self, captured: dict[str, Any], body: dict[str, Any]) -> Response:
        currency = captured["amount"]["currency"]
        remaining = self._amounts[captured["id"]]
        if captured["state"] not in ("completed", "partially_refunded") or not remaining:
            return error(400, "TRANSACTION_ALREADY_REFUNDED")
        amount_field = body.get("amount") or {
            "total": money(remaining, currency),
            "currency": currency,
        }
        issue = amount_issue(amount_field)
        if issue:
            return invalid(issue[0], issue[1])
        if amount_field["currency"] != currency:
            return invalid("amount.currency", "Refund currency must match the transaction's.")
        amount = Decimal(amount_field["total"])
        if amount > remaining:
            return error(400, "REFUND_EXCEEDED_TRANSACTION_AMOUNT")
        refund = self._new_resource(
            "refund",
            captured["_client"],
            amount,
            currency,
            state="completed",
            parent_payment=captured["parent_payment"],
            **{f"{captured['_kind']}_id": captured["id"]},
        )
        self._amounts[refund["id"]] = Decimal(0)
        self._amounts[captured["id"]] = remaining - amount
        captured["state"] = "refunded" if amount == remaining else "partially_refunded"
        captured["update_time"] = now()
        event_type = f"PAYMENT.{captured['_kind'].upper()}.REFUNDED"
        self._notify(captured["_client"], event_type, refund)
        return json_answer(201, public(refund))
