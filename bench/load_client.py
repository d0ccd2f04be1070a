"""The load run's clients: buyers paying by card and sales staff capturing, over plain HTTP.

A `Browser` is one person's `requests.Session` (session cookie, then the CSRF cookie the first
form page sets) that times every request it sends and records its outcome in a shared
`Recorder`. Redirects are not followed, so each request is measured and checked on its own.
`buy()` plays a buyer's checkout, doing what Stripe.js would do against the simulator between
our payment page and our return URL; `capture()` plays a sales clerk on the back-office order
page (capture amount, confirmation, sometimes a partial refund).
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from random import Random
from typing import Any

import requests

TIMEOUT_SECONDS = 60
# What a busy clerk sees when the colleague beside them captured the same order a moment
# earlier: a refusal on the order page, not an error.
CAPTURE_REFUSED = (400,)

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_TAG_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_INPUT = re.compile(r"<input\b([^>]*)>")
_REFUND_LINK = re.compile(r"action=refund&amp;transaction=(\d+)")


def _attributes(tag: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _TAG_ATTRIBUTE.findall(tag)}


def form_fields(page: str, action: str) -> dict[str, str] | None:
    """The named inputs of the page's form posting to `action`, or None without such a form."""
    for form_attributes, body in _FORM.findall(page):
        if _attributes(form_attributes).get("action", "") == action:
            inputs = (_attributes(tag) for tag in _INPUT.findall(body))
            return {i["name"]: i.get("value", "") for i in inputs if "name" in i}
    return None


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int  # 0: no answer (connection refused, reset, timed out)
    milliseconds: float
    error: bool
    refused: bool


@dataclass
class Recorder:
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)


class FlowFailed(Exception):
    """A request got an answer the flow cannot go on from (already recorded as an error)."""


class Browser:
    def __init__(self, base_url: str, session_cookie: tuple[str, str], recorder: Recorder):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.cookies.set(*session_cookie, domain="127.0.0.1", path="/")
        self.recorder = recorder

    def send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        expected: Collection[int],
        refused: Collection[int] = (),
        **options: Any,
    ) -> requests.Response:
        """Send one request; raise FlowFailed unless its status is expected (or a refusal)."""
        if url.startswith("/"):
            url = self.base_url + url
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, url, allow_redirects=False, timeout=TIMEOUT_SECONDS, **options
            )
        except requests.RequestException as error:
            self._record(kind, 0, started, error=True)
            raise FlowFailed(f"{kind}: {error}") from error
        is_refusal = response.status_code in refused
        is_error = response.status_code not in expected and not is_refusal
        self._record(kind, response.status_code, started, error=is_error, refused=is_refusal)
        if is_error:
            raise FlowFailed(f"{kind}: {response.status_code} {response.text[:120]!r}")
        return response

    def _record(
        self, kind: str, status: int, started: float, *, error: bool, refused: bool = False
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.recorder.add(Outcome(kind, status, elapsed, error, refused))

    def form(self, page: requests.Response, action: str) -> dict[str, str]:
        fields = form_fields(page.text, action)
        if fields is None:
            raise FlowFailed(f"no form posting to {action} on {page.url}")
        return fields


@dataclass(frozen=True)
class Authorized:
    """An order a buyer paid by card, awaiting capture: what the sales staff are handed."""

    order_pk: int
    authorization_pk: int
    contended: bool = False  # handed to two clerks at once: one of them may be refused


def buy(browser: Browser, number: str, method_pk: int) -> int | None:
    """Check order `number` out with the method: the authorization's id, None if offline."""
    path = f"/checkout/{number}/"
    fields = browser.form(browser.send("checkout page", "GET", path, expected=(200,)), "")
    submitted = browser.send(
        "submit",
        "POST",
        path,
        data={**fields, "method": str(method_pk)},
        expected=(302,),
    )
    location = submitted.headers["Location"]
    if "/pay/" not in location:
        return None
    step = browser.send("step page", "GET", location, expected=(200,))
    card_step = re.search(r'<form class="card-step"([^>]*)>', step.text)
    if card_step is None:
        raise FlowFailed(f"no Stripe.js step on {location}")
    data = _attributes(card_step.group(1))
    intent_id = _stripe_js_confirm(browser, data)
    back = browser.send(
        "return", "GET", data["data-return"], params={"payment_intent": intent_id}, expected=(302,)
    )
    if not back.headers["Location"].endswith(f"/checkout/{number}/done/"):
        raise FlowFailed(f"the return sent the buyer to {back.headers['Location']}")
    return int(location.rstrip("/").rsplit("/", 1)[1])


def _stripe_js_confirm(browser: Browser, data: dict[str, str]) -> str:
    """What Stripe.js does when the buyer presses Pay: confirm the intent with the card."""
    from simulators.demo_buyer import CARD  # after Django is set up: it imports our adapters

    secret = data["data-secret"]
    intent_id = secret.split("_secret_")[0]
    origin = data["data-script"].removesuffix("/").removesuffix("/v3")
    card = {f"payment_method_data[card][{name}]": value for name, value in CARD.items()}
    browser.send(
        "stripe.js confirm (simulator)",
        "POST",
        f"{origin}/v1/payment_intents/{intent_id}/confirm",
        data={
            "key": data["data-key"],
            "client_secret": secret,
            "payment_method_data[type]": "card",
            **card,
        },
        expected=(200,),
    )
    return intent_id


def capture(browser: Browser, job: Authorized, random: Random, refund_share: float) -> None:
    """Capture the authorization (full or part); then sometimes refund part of the capture.

    A colleague may have captured it already: then the form is gone, or refused on confirming.
    """
    order_path = f"/admin/orders/{job.order_pk}/"
    action = f"{order_path}payments/{job.authorization_pk}/capture/"
    query = {"action": "capture", "transaction": str(job.authorization_pk)}
    page = browser.send("order page", "GET", order_path, params=query, expected=(200,))
    fields = form_fields(page.text, action)
    if fields is None:
        return
    capturable = Decimal(fields["amount"])
    amount = capturable if random.random() < 0.5 else _part(capturable, random)
    step = browser.send(
        "capture (amount)", "POST", action, data={**fields, "amount": str(amount)}, expected=(200,)
    )
    confirmed = browser.send(
        "capture (confirm)",
        "POST",
        action,
        data=browser.form(step, action),
        expected=(302,),
        refused=CAPTURE_REFUSED if job.contended else (),
    )
    if confirmed.status_code != 302 or random.random() >= refund_share:
        return
    _refund(browser, order_path, random)


def _refund(browser: Browser, order_path: str, random: Random) -> None:
    page = browser.send("order page", "GET", order_path, expected=(200,))
    link = _REFUND_LINK.search(page.text)
    if link is None:
        raise FlowFailed(f"no refund offered on {order_path} after a capture")
    capture_pk = link.group(1)
    query = {"action": "refund", "transaction": capture_pk}
    page = browser.send("order page", "GET", order_path, params=query, expected=(200,))
    action = f"{order_path}payments/{capture_pk}/refund/"
    fields = browser.form(page, action)
    amount = _part(Decimal(fields["amount"]), random)
    browser.send(
        "refund",
        "POST",
        action,
        data={**fields, "amount": str(amount), "note": "Load run: part of the goods returned."},
        expected=(302,),
    )


def _part(amount: Decimal, random: Random) -> Decimal:
    """Between a tenth and nine tenths of `amount`, in cents, at least one cent."""
    share = Decimal(random.randint(10, 90)) / 100
    return max((amount * share).quantize(Decimal("0.01"), rounding=ROUND_DOWN), Decimal("0.01"))
