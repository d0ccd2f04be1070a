"""Plays the buyer's browser against the demo simulators, for seeding authorized demo orders.

`seed_demo` pays a few orders the way a buyer would, so that sales staff find authorizations
awaiting capture: it starts the payment through our own checkout services, then does here what
the buyer's browser would do on the provider's side (Stripe.js confirming the PaymentIntent,
approving on PayPal's page), over HTTP to the simulator, and hands the result back to the
checkout as the provider's redirect would.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import requests

from integrations.adapters.base import PaymentStep, StepKind

# The simulators' approving test card (Stripe's 4242…); a month and year safely in the future.
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
TIMEOUT_SECONDS = 10


class DemoPaymentError(Exception):
    """The simulator did not approve the demo payment."""


def pay(step: PaymentStep) -> dict[str, str]:
    """Do the buyer's part of `step`; answer what the provider sends back to our return URL."""
    if step.kind == StepKind.STRIPE_JS:
        return _confirm_stripe(step)
    if step.kind == StepKind.REDIRECT and "/checkoutnow" in step.url:
        return _approve_paypal(step)
    raise DemoPaymentError(f"The demo buyer cannot play a {step.kind} step for {step.url!r}.")


def _confirm_stripe(step: PaymentStep) -> dict[str, str]:
    secret = step.data["client_secret"]
    intent_id = secret.split("_secret_")[0]
    origin = step.data["script_url"].removesuffix("/").removesuffix("/v3")
    fields = {
        "key": step.data["publishable_key"],
        "client_secret": secret,
        "payment_method_data[type]": "card",
        **{f"payment_method_data[card][{name}]": value for name, value in CARD.items()},
    }
    answer = requests.post(
        f"{origin}/v1/payment_intents/{intent_id}/confirm", data=fields, timeout=TIMEOUT_SECONDS
    )
    if answer.status_code != 200:
        raise DemoPaymentError(f"Stripe simulator refused the demo card: {answer.text[:200]}")
    return {"payment_intent": intent_id}


def _approve_paypal(step: PaymentStep) -> dict[str, str]:
    url = urlsplit(step.url)
    token = dict(parse_qsl(url.query)).get("token", "")
    answer = requests.post(
        f"{url.scheme}://{url.netloc}/checkoutnow",
        data={"token": token, "action": "approve"},
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    if answer.status_code not in (302, 303):
        raise DemoPaymentError(f"PayPal simulator did not approve: {answer.text[:200]}")
    return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
