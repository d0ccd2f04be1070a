"""Where the offline demo's provider simulators listen, and the credentials they accept.

`make run` starts the simulators (`python -m simulators`) and `seed_demo` points the demo
integrations at them through the sandbox-only endpoint override, so the card and PayPal methods
work with no internet and no provider account.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db import transaction

from integrations.adapters.base import CheckoutUrls
from payments.ledger import PaymentError
from simulators.demo_buyer import DemoPaymentError

if TYPE_CHECKING:
    from backoffice.models import CustomerUser, Order
    from integrations.models import PaymentMethod
    from payments.models import PaymentTransaction

__all__ = ["DemoPaymentError", "demo_method", "pay_demo_order", "simulators_reachable"]

_BASE_PORT = int(os.environ.get("DEMO_SIMULATOR_PORT_BASE", "8470"))

DEMO_SIMULATOR_PORTS = {
    "stripe": _BASE_PORT,
    "paypal": _BASE_PORT + 1,
    "payflow": _BASE_PORT + 2,
    "authorize_net": _BASE_PORT + 3,
}


def simulator_url(name: str) -> str:
    return f"http://127.0.0.1:{DEMO_SIMULATOR_PORTS[name]}"


def demo_credentials() -> dict[str, list[tuple[str, ...]]]:
    """Each provider's credentials among the demo integrations, for the simulators to accept."""
    from backoffice.management.commands.seed_demo import DEMO_INTEGRATIONS
    from integrations.types import IntegrationType

    found: dict[str, list[tuple[str, ...]]] = {
        "stripe": [],
        "paypal": [],
        "payflow": [],
        "authorize_net": [],
    }
    for spec in DEMO_INTEGRATIONS:
        values = {**spec["settings"], **spec["secrets"]}
        if spec["type"] == IntegrationType.STRIPE:
            found["stripe"].append((values["secret_key"], values["publishable_key"]))
        elif spec["type"] == IntegrationType.PAYPAL_EXPRESS:
            found["paypal"].append((values["client_id"], values["client_secret"]))
        elif spec["type"] in (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO):
            found["payflow"].append(
                (values["partner"], values["vendor"], values["user"], values["password"])
            )
        elif spec["type"] == IntegrationType.AUTHORIZE_NET:
            found["authorize_net"].append(
                (values["api_login_id"], values["transaction_key"], values["client_key"])
            )
    return found


def simulators_reachable(urls: list[str], timeout_seconds: float) -> bool:
    """Whether the simulators at `urls` answer, waiting a little for `make run` to start them."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            for url in urls:
                parts = urlsplit(url)
                socket.create_connection((parts.hostname, parts.port), timeout=1).close()
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)
        else:
            return True


def demo_method(spec: dict[str, Any]) -> PaymentMethod:
    from integrations.models import Integration

    integration_name, kind = spec["method"]
    return Integration.objects.alive().get(name=integration_name).methods.get(kind=kind)


def pay_demo_order(spec: dict[str, Any], buyer: CustomerUser) -> Order:
    """Create the order of `spec` and pay it as the buyer would, through the simulators.

    All or nothing: an order whose payment the simulator did not approve is not kept.
    """
    from backoffice.management.commands.seed_demo import create_demo_order
    from payments.browser_checkout import checkout_complete, checkout_step, return_token
    from payments.checkout_services import checkout_submit
    from payments.models import State
    from simulators.demo_buyer import pay

    method = demo_method(spec)
    base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"

    def urls(row: PaymentTransaction) -> CheckoutUrls:
        token = return_token(row)
        return CheckoutUrls(
            return_url=f"{base}/payment/return/{token}/",
            cancel_url=f"{base}/payment/cancel/{token}/",
            notify_url=f"{base}/payment/notify/{token}/",
        )

    with transaction.atomic():
        order = create_demo_order(spec, buyer)
        try:
            row = checkout_submit(
                order=order,
                method=method,
                customer_user=buyer,
                idempotency_key=f"demo-{order.number}",
                urls_for=urls,
            )
            row = checkout_complete(row=row, params=pay(checkout_step(row=row, urls=urls(row))))
        except PaymentError as error:
            raise DemoPaymentError(str(error)) from error
        if row.state != State.SUCCEEDED:
            raise DemoPaymentError(row.message or f"the payment is {row.state}")
    return order
