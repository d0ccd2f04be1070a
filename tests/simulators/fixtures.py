"""pytest fixtures for the provider simulators (registered in tests/conftest.py).

Each simulator runs once per test session; the per-test fixture resets it and teaches it the
credentials `tests.factories.create_integration` stores, so an integration built with the default
settings plus `api_base_url=simulator.url` connects. A test may change the state (forget the
credentials, set a `fault`) freely: the next test starts clean.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

from integrations.types import IntegrationType
from simulators.authorize_net import AuthorizeNetSimulator
from simulators.base import Simulator
from simulators.payflow import PayflowAccount, PayflowSimulator
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator
from tests.factories import VALID_SETTINGS

S = TypeVar("S", bound=Simulator)


@contextmanager
def running(simulator: S) -> Iterator[S]:
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def _for_one_test(simulator: S) -> Iterator[S]:
    yield simulator
    errors = list(simulator.errors)
    simulator.reset()
    assert not errors, f"{type(simulator).__name__} failed:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def _stripe_server() -> Iterator[StripeSimulator]:
    with running(StripeSimulator()) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def _paypal_server() -> Iterator[PayPalSimulator]:
    with running(PayPalSimulator()) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def _payflow_server() -> Iterator[PayflowSimulator]:
    with running(PayflowSimulator()) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def _authorize_net_server() -> Iterator[AuthorizeNetSimulator]:
    with running(AuthorizeNetSimulator()) as simulator:
        yield simulator


@pytest.fixture
def stripe_simulator(_stripe_server: StripeSimulator) -> Iterator[StripeSimulator]:
    _stripe_server.reset()
    settings = VALID_SETTINGS[IntegrationType.STRIPE]
    _stripe_server.secret_keys.add(settings["secret_key"])
    _stripe_server.publishable_keys.add(settings["publishable_key"])
    yield from _for_one_test(_stripe_server)


@pytest.fixture
def paypal_simulator(_paypal_server: PayPalSimulator) -> Iterator[PayPalSimulator]:
    _paypal_server.reset()
    settings = VALID_SETTINGS[IntegrationType.PAYPAL_EXPRESS]
    _paypal_server.clients[settings["client_id"]] = settings["client_secret"]
    yield from _for_one_test(_paypal_server)


@pytest.fixture
def payflow_simulator(_payflow_server: PayflowSimulator) -> Iterator[PayflowSimulator]:
    """Payflow Gateway and Payments Pro: the same API, and the same default credentials."""
    _payflow_server.reset()
    for type in (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO):
        settings = VALID_SETTINGS[type]
        _payflow_server.accounts.add(
            PayflowAccount(
                partner=settings["partner"],
                vendor=settings["vendor"],
                user=settings["user"],
                password=settings["password"],
            )
        )
    yield from _for_one_test(_payflow_server)


@pytest.fixture
def authorize_net_simulator(
    _authorize_net_server: AuthorizeNetSimulator,
) -> Iterator[AuthorizeNetSimulator]:
    _authorize_net_server.reset()
    settings = VALID_SETTINGS[IntegrationType.AUTHORIZE_NET]
    _authorize_net_server.merchants[settings["api_login_id"]] = settings["transaction_key"]
    _authorize_net_server.client_keys[settings["api_login_id"]] = settings["client_key"]
    yield from _for_one_test(_authorize_net_server)


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL on which nothing listens (a port that was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
