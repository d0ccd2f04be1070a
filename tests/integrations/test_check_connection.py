"""Check connection: one harmless call with the stored credentials, over HTTP to a simulator."""

from __future__ import annotations

import base64
import html
import logging
import time
from dataclasses import dataclass

import pytest

from integrations import services
from integrations.adapters import adapter_for
from integrations.adapters.base import ConnectionCheck
from integrations.models import Integration
from integrations.types import IntegrationType
from simulators.base import Fault, Simulator
from simulators.payflow import PayflowSimulator
from tests.factories import VALID_SETTINGS, create_integration

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Provider:
    type: IntegrationType
    simulator: str  # the fixture running its simulator
    secret_field: str
    wrong_secret: str
    connected: str  # the whole message of a working check
    refused: str  # how a refusal of the credentials starts

    def __str__(self) -> str:
        return self.type.value

    @property
    def secret(self) -> str:
        return str(VALID_SETTINGS[self.type][self.secret_field])

    def secret_forms(self, secret: str) -> list[str]:
        """The secret as it could show up: as is, and inside an HTTP Basic credential."""
        forms = [secret]
        client_id = VALID_SETTINGS[self.type].get("client_id")
        if client_id:
            forms.append(base64.b64encode(f"{client_id}:{secret}".encode()).decode())
        return forms


PAYFLOW_REFUSED = "Payflow refused the request: User authentication failed"
PROVIDERS = [
    Provider(
        IntegrationType.STRIPE,
        "stripe_simulator",
        "secret_key",
        "sk_test_WrongSecretKey000000009",
        "Connected to Stripe (test mode); the secret key works.",
        "Stripe refused the secret key: Invalid API Key provided: sk_test_****",
    ),
    Provider(
        IntegrationType.PAYPAL_EXPRESS,
        "paypal_simulator",
        "client_secret",
        "wrong-client-secret-9",
        "Connected to PayPal (sandbox); the credentials work.",
        "PayPal refused the client ID or secret (401).",
    ),
    Provider(
        IntegrationType.PAYFLOW_GATEWAY,
        "payflow_simulator",
        "password",
        "wrong-password-9",
        "Connected to Payflow; the credentials work.",
        PAYFLOW_REFUSED,
    ),
    Provider(
        IntegrationType.PAYMENTS_PRO,
        "payflow_simulator",
        "password",
        "wrong-password-9",
        "Connected to Payflow; the credentials work.",
        PAYFLOW_REFUSED,
    ),
    Provider(
        IntegrationType.AUTHORIZE_NET,
        "authorize_net_simulator",
        "transaction_key",
        "WrongTxnKey00009",
        "Connected to Authorize.Net; the credentials work.",
        "Authorize.Net refused the credentials: User authentication failed due to invalid "
        "authentication values. (E00007).",
    ),
]
UNREACHABLE = "Could not reach the provider"


@pytest.fixture(params=PROVIDERS, ids=str)
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


@pytest.fixture
def simulator(provider: Provider, request: pytest.FixtureRequest) -> Simulator:
    return request.getfixturevalue(provider.simulator)


def _integration(provider: Provider, url: str, **overrides: str) -> Integration:
    return create_integration(provider.type, name="Checked", api_base_url=url, **overrides)


def _adapter_check(integration: Integration) -> ConnectionCheck:
    """The adapter's own answer: an exception it lets escape fails the test (the service would
    turn it into a message)."""
    return adapter_for(integration).check_credentials()


# --- what the check reports ------------------------------------------------------------------


def test_right_credentials_connect(provider: Provider, simulator: Simulator) -> None:
    result = services.integration_check_connection(
        integration=_integration(provider, simulator.url)
    )
    assert result == ConnectionCheck(ok=True, message=provider.connected)
    assert len(simulator.received) == 1


def test_wrong_credentials_are_refused(provider: Provider, simulator: Simulator) -> None:
    integration = _integration(
        provider, simulator.url, **{provider.secret_field: provider.wrong_secret}
    )
    result = services.integration_check_connection(integration=integration)
    assert not result.ok
    assert result.message.startswith(provider.refused)
    assert provider.wrong_secret not in result.message


def test_nothing_listening_is_unreachable(provider: Provider, unreachable_url: str) -> None:
    result = services.integration_check_connection(
        integration=_integration(provider, unreachable_url)
    )
    assert not result.ok
    assert result.message.startswith(UNREACHABLE)


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.GARBAGE], ids=str)
def test_a_failing_provider_is_reported_not_raised(
    provider: Provider, simulator: Simulator, fault: Fault
) -> None:
    integration = _integration(provider, simulator.url)
    simulator.fault = fault
    result = _adapter_check(integration)
    assert not result.ok
    assert result.message
    assert len(simulator.received) == 1  # no retries behind our back


def test_a_slow_provider_times_out(provider: Provider, simulator: Simulator, settings) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    integration = _integration(provider, simulator.url)
    simulator.fault = Fault.SLOW
    simulator.slow_seconds = 2.0
    started = time.monotonic()
    result = _adapter_check(integration)
    assert time.monotonic() - started < 1.5
    assert not result.ok
    assert result.message.startswith(UNREACHABLE)


def test_payflow_sends_its_client_timeout_in_whole_seconds(
    payflow_simulator: PayflowSimulator, settings
) -> None:
    # Payflow reads X-VPS-CLIENT-TIMEOUT as whole seconds: 0 would leave it no time at all.
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    integration = create_integration(
        IntegrationType.PAYFLOW_GATEWAY, api_base_url=payflow_simulator.url
    )
    assert _adapter_check(integration).ok
    assert payflow_simulator.received[0].headers["X-VPS-CLIENT-TIMEOUT"] == "1"


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["connected", "refused", "unreachable"])
def test_the_secret_is_never_logged(
    provider: Provider,
    simulator: Simulator,
    unreachable_url: str,
    outcome: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = provider.wrong_secret if outcome == "refused" else provider.secret
    url = unreachable_url if outcome == "unreachable" else simulator.url
    integration = _integration(provider, url, **{provider.secret_field: secret})
    caplog.set_level(logging.DEBUG)
    services.integration_check_connection(integration=integration)
    assert caplog.records  # the SDKs and requests did log the call
    for form in provider.secret_forms(secret):
        assert form not in caplog.text


# --- the page --------------------------------------------------------------------------------


def _check_url(integration: Integration) -> str:
    return f"/admin/integrations/{integration.pk}/check-connection/"


def test_administrator_sees_a_working_check_on_the_page(
    admin_client, provider: Provider, simulator: Simulator
) -> None:
    integration = _integration(provider, simulator.url)
    response = admin_client.post(_check_url(integration), follow=True)
    assert response.redirect_chain == [(integration.get_absolute_url(), 302)]
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert f'<li class="message message-success">{provider.connected}</li>' in page
    assert provider.secret not in page


@pytest.mark.parametrize("failure", ["refused", Fault.HTTP_500, Fault.GARBAGE], ids=str)
def test_administrator_sees_a_failed_check_on_the_page_never_a_500(
    admin_client, provider: Provider, simulator: Simulator, failure: str | Fault
) -> None:
    secret = provider.wrong_secret if failure == "refused" else provider.secret
    integration = _integration(provider, simulator.url, **{provider.secret_field: secret})
    if isinstance(failure, Fault):
        simulator.fault = failure
    response = admin_client.post(_check_url(integration), follow=True)
    assert response.redirect_chain == [(integration.get_absolute_url(), 302)]
    assert response.status_code == 200
    assert '<li class="message message-error">' in response.content.decode()
    assert secret not in response.content.decode()


def test_sales_staff_may_not_check_a_connection(sales_client, stripe_simulator: Simulator) -> None:
    integration = create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    assert sales_client.post(_check_url(integration)).status_code == 403
    assert not stripe_simulator.received


def test_a_check_needs_a_post(admin_client, stripe_simulator: Simulator) -> None:
    integration = create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    assert admin_client.get(_check_url(integration)).status_code == 405
    assert not stripe_simulator.received


@pytest.mark.parametrize("type", [IntegrationType.MONEY_ORDER, IntegrationType.PAYMENT_TERM])
def test_offline_integrations_have_nothing_to_check(admin_client, type: IntegrationType) -> None:
    integration = create_integration(type)
    assert admin_client.post(_check_url(integration)).status_code == 404


def test_authorize_net_with_a_malformed_stored_key_says_so(admin_user):
    integration = create_integration(
        IntegrationType.AUTHORIZE_NET, name="Malformed", actor=admin_user
    )
    integration.set_secrets({"transaction_key": "x" * 40})  # longer than the API allows
    result = adapter_for(integration).check_credentials()
    assert not result.ok
    assert "wrong format" in result.message
