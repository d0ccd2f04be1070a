"""The simulators refuse what the real APIs refuse, the way they refuse it."""

from __future__ import annotations

import requests

from integrations.adapters import payflow_nvp
from simulators.authorize_net import BOM, PATH, AuthorizeNetSimulator
from simulators.payflow import PayflowSimulator
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator

PAYFLOW_LOGIN = "PARTNER=PayPal&VENDOR=acme&USER=acme&PWD=payflow-secret-1"


def _payflow(simulator: PayflowSimulator, body: str, **headers: str) -> dict[str, str]:
    headers = {"Content-Type": "text/namevalue", "X-VPS-REQUEST-ID": "req-1", **headers}
    response = requests.post(simulator.url, data=body.encode(), headers=headers, timeout=5)
    return payflow_nvp.decode(response.text)


def test_stripe_wants_an_api_key_and_masks_a_wrong_one(stripe_simulator: StripeSimulator) -> None:
    url = f"{stripe_simulator.url}/v1/balance"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")
    wrong = requests.get(url, headers={"Authorization": "Bearer sk_test_Nope12345678"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_********5678",
        }
    }
    # Stripe also takes the key as the Basic user name, as `curl -u sk_test_…:` sends it.
    basic = requests.get(url, auth=("sk_test_TestSecretKey000000001", ""), timeout=5)
    assert basic.json()["object"] == "balance"


def test_paypal_wants_a_grant_type(paypal_simulator: PayPalSimulator) -> None:
    response = requests.post(
        f"{paypal_simulator.url}/v1/oauth2/token",
        auth=("SandboxClientId", "paypal-client-secret-1"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error_description"] == "Grant Type is NULL"


def test_payflow_wants_its_headers(payflow_simulator: PayflowSimulator) -> None:
    body = f"{PAYFLOW_LOGIN}&TRXTYPE=A&TENDER=C&AMT=0.00"
    assert _payflow(payflow_simulator, body, **{"X-VPS-REQUEST-ID": ""})["RESULT"] == "7"
    assert _payflow(payflow_simulator, body, **{"Content-Type": "text/xml"})["RESULT"] == "29"


def test_payflow_replays_a_reused_request_id(payflow_simulator: PayflowSimulator) -> None:
    body = f"{PAYFLOW_LOGIN}&TRXTYPE=A&TENDER=C&AMT=0.00&CREATESECURETOKEN=Y&SECURETOKENID=t1"
    first = _payflow(payflow_simulator, body)
    again = _payflow(payflow_simulator, body.replace("SECURETOKENID=t1", "SECURETOKENID=t2"))
    assert first["RESULT"] == "0"
    assert again == {**first, "DUPLICATE": "1"}
    reused_token_id = _payflow(payflow_simulator, body, **{"X-VPS-REQUEST-ID": "req-2"})
    assert reused_token_id["RESULT"] == "7"


def test_payflow_reads_length_tags(payflow_simulator: PayflowSimulator) -> None:
    body = "PARTNER=PayPal&VENDOR=acme&USER=acme&PWD[16]=payflow-secret-1&TRXTYPE=A&TENDER=C"
    assert (
        _payflow(payflow_simulator, body + "&CREATESECURETOKEN=Y&SECURETOKENID=t3")["RESULT"] == "0"
    )


def test_authorize_net_rejects_an_invalid_request_with_a_bom(
    authorize_net_simulator: AuthorizeNetSimulator,
) -> None:
    response = requests.post(
        authorize_net_simulator.url + PATH,
        data=b'<authenticateTestRequest xmlns="AnetApi/xml/v1/schema/AnetApiSchema.xsd"><bogus/>'
        b"</authenticateTestRequest>",
        timeout=5,
    )
    assert response.content.startswith(BOM)
    assert "<ErrorResponse " in response.content.decode()
    assert "<code>E00003</code>" in response.content.decode()


def test_routes_not_simulated_yet_say_so(stripe_simulator: StripeSimulator) -> None:
    response = requests.get(
        f"{stripe_simulator.url}/v1/charges",
        headers={"Authorization": "Bearer sk_test_TestSecretKey000000001"},
        timeout=5,
    )
    assert response.status_code == 501
    assert response.text == "StripeSimulator does not simulate GET /v1/charges"
