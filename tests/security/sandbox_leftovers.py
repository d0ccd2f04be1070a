"""A sandbox deployment's payments, left in the database when the deployment became production.

`sandbox_world()` builds, while the deployment is still sandbox, one integration of a type in
test mode with everything that can hold money: a rule offering its methods, a checkout the buyer
started (through the real provider simulator), an open authorization, a charge and a capture whose
answer was lost. `flip_to_production()` then changes the setting, as an operator would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backoffice.models import CustomerUser, Order
from integrations.adapters import ADAPTERS, adapter_class_for
from integrations.models import Integration, PaymentMethod
from integrations.types import OFFLINE_TYPES, Environment, IntegrationType
from payments.models import Operation, PaymentTransaction, State
from payments.services import checkout_submit
from simulators.base import Simulator
from tests.factories import CustomerUserFactory, create_integration, create_rule_with_methods
from tests.payments.support import key, make_order, payment_term, recorded_row, return_urls_for

ALL_TYPES = list(IntegrationType)
REMOTE_TYPES = [type for type in IntegrationType if type not in OFFLINE_TYPES]
SIMULATOR_FIXTURES: dict[str, str] = {
    IntegrationType.STRIPE: "stripe_simulator",
    IntegrationType.PAYPAL_EXPRESS: "paypal_simulator",
    IntegrationType.PAYFLOW_GATEWAY: "payflow_simulator",
    IntegrationType.PAYMENTS_PRO: "payflow_simulator",
    IntegrationType.AUTHORIZE_NET: "authorize_net_simulator",
}
REFUSAL = "A sandbox (test mode) integration cannot be active in a production deployment."
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def flip_to_production(settings: Any) -> None:
    settings.IS_PRODUCTION = True
    settings.PAYMENTS_ENVIRONMENT = "production"


class Outbound:
    """Every host outside this machine that code tried to reach (and was refused)."""

    def __init__(self) -> None:
        self.hosts: list[str] = []


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbound]:
    """A tripwire on name lookups: in production the endpoint override is off, so a request that
    leaked would go to the provider's own sandbox host, never to our simulator; this records it
    (and keeps the test from reaching the internet)."""
    seen = Outbound()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK:
            seen.hosts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tripwire: {name} is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield seen


@dataclass
class SandboxWorld:
    type: str
    integration: Integration
    method: PaymentMethod
    buyer: CustomerUser
    simulator: Simulator | None
    checkout: PaymentTransaction  # started by the buyer (pending; offline ones: awaiting receipt)
    authorization: PaymentTransaction  # open, awaiting capture
    charge: PaymentTransaction  # captured at once, refundable
    lost_capture: PaymentTransaction  # a capture whose answer never came (unknown)

    def provider_calls(self) -> int:
        return len(self.simulator.received) if self.simulator else 0

    def ledger(self) -> list[tuple[int, str, bool]]:
        rows = PaymentTransaction.objects.order_by("pk").values_list("pk", "state", "is_open")
        return list(rows)

    def fresh_order(self) -> Order:
        return make_order(customer_user=self.buyer)


def sandbox_world(type: str, simulator: Simulator | None) -> SandboxWorld:
    """Everything a sandbox deployment can leave behind for an integration of `type`."""
    remote = type in ADAPTERS
    overrides = {"api_base_url": simulator.url} if remote and simulator else {}
    integration = create_integration(type, name=f"Old test {type}", **overrides)
    if not remote:
        # Offline types have no test mode: a row that says sandbox anyway stands for one, since
        # the guards read the environment, not the type.
        Integration.objects.filter(pk=integration.pk).update(environment=Environment.SANDBOX)
        integration.refresh_from_db()
    assert integration.environment == Environment.SANDBOX
    methods = list(integration.methods.all())
    create_rule_with_methods(f"Rule {type}", methods)
    buyer = CustomerUserFactory()
    buyer.customer.payment_term = payment_term()
    buyer.customer.save()
    method = methods[0]
    checkout = _started_checkout(make_order(customer_user=buyer), method, buyer)
    authorization = _ledger_row(
        method, buyer, Operation.AUTHORIZE, is_open=True, expires=timedelta(days=5)
    )
    charge = _ledger_row(method, buyer, Operation.CHARGE)
    lost_capture = _ledger_row(
        method, buyer, Operation.CAPTURE, state=State.UNKNOWN, source=authorization
    )
    # Made an hour before the flip: due for reconciliation, stale as a checkout.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    PaymentTransaction.objects.update(created_at=an_hour_ago, updated_at=an_hour_ago)
    if simulator is not None:
        simulator.received.clear()  # what the sandbox deployment asked is not under test
    return SandboxWorld(
        type=type,
        integration=integration,
        method=method,
        buyer=buyer,
        simulator=simulator,
        checkout=PaymentTransaction.objects.get(pk=checkout.pk),
        authorization=authorization,
        charge=charge,
        lost_capture=lost_capture,
    )


def _started_checkout(order: Order, method: PaymentMethod, buyer: CustomerUser) -> Any:
    adapter_class = adapter_class_for(method.integration.type)
    browser = bool(adapter_class and adapter_class.browser_step)

    row = checkout_submit(
        order=order,
        method=method,
        customer_user=buyer,
        idempotency_key=key("sandbox-checkout"),
        urls_for=return_urls_for if browser else None,
    )
    expected = State.PENDING if browser else State.SUCCEEDED
    assert row.state == expected, (row.state, row.message)
    return row


def _ledger_row(
    method: PaymentMethod,
    buyer: CustomerUser,
    operation: str,
    *,
    state: str = State.SUCCEEDED,
    is_open: bool = False,
    expires: timedelta | None = None,
    source: PaymentTransaction | None = None,
) -> PaymentTransaction:
    """A row as the sandbox deployment's ledger holds it (its provider answered back then)."""
    order = source.order if source else make_order(customer_user=buyer)
    row = recorded_row(
        method,
        order,
        operation,
        reference=key(f"sandbox-{operation}"),
        state=state,
        is_open=is_open,
        source=source,
    )
    if expires is not None:
        row.authorization_expires_at = timezone.now() + expires
        row.save(update_fields=["authorization_expires_at"])
    return row
