"""A crawl of the site as administrator, sales and buyer: every page and form, and never a 500.

On the seeded demo (its integrations wired to the test simulators, its authorized orders paid
through them), each role starts from `/` and `/admin/`, follows every link on this site (at most
`PAGES_PER_VIEW` URLs per view, so fifty orders do not make fifty visits), then submits every form
it found (at most `FORMS_PER_VIEW` per view and field set) with the CSRF token it carries: as the
page filled it in, empty, with random values, with `FIELDS_MUTATED` fields in turn replaced by a
random value, and with 100 KB in every field. The public endpoints
(`/payment/return|notify|cancel/<token>/`, `/webhooks/<token>/`) get random, empty, oversized
and binary bodies with real and forged tokens.

Every request must answer without a 500 and without an exception; a post refused for its CSRF
token counts as a failure too (the crawl would not have tested the view). The test client
enforces CSRF checks, as a browser meets them. Randomness comes from a seeded generator, so a
failure reproduces.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import Resolver404, resolve

from integrations.models import Integration
from payments.browser_checkout import return_token
from payments.models import PaymentTransaction
from tests.security.support import Form, PageReader, Simulators, local_path, seed_demo_on_simulators

pytestmark = pytest.mark.django_db

PAGES_PER_VIEW = 4
FORMS_PER_VIEW = 2
FIELDS_MUTATED = 5  # fields per form given a random value while the others stay as filled in
OVERSIZED = ("<b>&\"'é€" + "A" * 1014) * 100  # 100 KB of text, markup included
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "NaN",
    "-Infinity",
    "99999999999999999999999999999",
    "0.0000001",
    "10.505",
    "2147483648",
    "true",
    "null",
    "[]",
    "{}",
    "'; DROP TABLE integrations_integration; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "../../etc/passwd",
    "%00",
    "\x00",
    "\u202e\u0000\ufeff",
    "😀" * 20,
    "Ω≈ç√∫",
    "a" * 256,
    "https://evil.example/",
    "//evil.example",
    "1,2,3",
    ",,,",
    "total > 10.0 && currency == 'USD'",
    "US",
    "USD",
    "JPY",
]
SKIPPED_ACTIONS = ("/logout/",)  # signing out would end the crawl


@pytest.fixture
def simulators(
    stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
) -> Simulators:
    return Simulators(
        stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
    )


@pytest.fixture
def demo(simulators: Simulators) -> Simulators:
    seed_demo_on_simulators(simulators)
    return simulators


class Crawler:
    """One client asking; counts every request and remembers what went wrong."""

    def __init__(self, client: Client, who: str, rng: random.Random) -> None:
        self.client, self.who, self.rng = client, who, rng
        self.requests = 0
        self.failures: list[str] = []

    def ask(self, method: str, path: str, data: Any = None, *, note: str = "", **extra: Any) -> Any:
        self.requests += 1
        where = f"{method.upper()} {path} as {self.who}{f' ({note})' if note else ''}"
        try:
            if data is None:
                response = getattr(self.client, method)(path, **extra)
            else:
                response = getattr(self.client, method)(path, data, **extra)
        except Exception as error:  # the test client re-raises what the view let escape
            self.failures.append(f"{where}: {type(error).__name__}: {error}"[:500])
            return None
        if response.status_code >= 500:
            self.failures.append(f"{where}: {response.status_code}")
        elif response.status_code == 403 and b"CSRF" in response.content:
            self.failures.append(f"{where}: refused for its CSRF token")
        return response


def _view_name(path: str) -> str | None:
    try:
        return resolve(path.split("?")[0]).view_name
    except Resolver404:
        return None


def _crawl_pages(crawler: Crawler) -> tuple[list[str], list[Form]]:
    """Every page reachable from the start pages (capped per view), and the forms on them."""
    queue, seen, visited = ["/", "/admin/"], set(), []
    per_view: Counter[str] = Counter()
    forms: list[Form] = []
    while queue:
        path = queue.pop(0)
        view = _view_name(path)
        if path in seen or view is None or path.startswith("/static/"):
            continue
        seen.add(path)
        if per_view[view] >= PAGES_PER_VIEW:
            continue
        per_view[view] += 1
        response = crawler.ask("get", path)
        if response is None:
            continue
        visited.append(path)
        if response.status_code in (301, 302, 303, 307, 308):
            target = local_path(response["Location"])
            if target:
                queue.append(target)
            continue
        if "html" not in response.get("Content-Type", ""):
            continue
        page = PageReader.read(f"http://testserver{path}", response.content.decode())
        queue.extend(p for link in page.links if (p := local_path(link)) and p not in seen)
        forms.extend(page.forms)
    return visited, forms


def _distinct(forms: list[Form]) -> list[Form]:
    """The forms worth submitting: on this site, at most FORMS_PER_VIEW per view and field set."""
    kept: list[Form] = []
    per_kind: Counter[tuple[Any, ...]] = Counter()
    seen: set[tuple[Any, ...]] = set()
    for form in forms:
        path = local_path(form.action)
        if path is None or path.startswith(SKIPPED_ACTIONS) or _view_name(path) is None:
            continue
        identity = (path, form.method, tuple(form.names()))
        kind = (_view_name(path), form.method, tuple(form.names()))
        if identity in seen or per_kind[kind] >= FORMS_PER_VIEW:
            continue
        seen.add(identity)
        per_kind[kind] += 1
        kept.append(form)
    # What deletes, cancels or signs out goes last, so the other forms still find their objects.
    return sorted(kept, key=lambda form: any(w in form.action for w in ("delete", "abandon")))


def _as_filled(form: Form) -> dict[str, Any]:
    """What pressing the form's first button sends."""
    data: dict[str, list[str]] = {}
    pressed = False
    for field in form.fields:
        if field.kind in ("checkbox", "radio") and not field.checked:
            continue
        if field.kind in ("button", "submit", "image"):
            if pressed:
                continue
            pressed = True
        if field.kind == "select" and not field.value and field.options and not field.multiple:
            data.setdefault(field.name, []).append(field.options[0])
            continue
        data.setdefault(field.name, []).append(field.value)
    return data


def _random_value(rng: random.Random, field_options: list[str]) -> str:
    if field_options and rng.random() < 0.3:
        return rng.choice(field_options)
    return rng.choice(NASTY)


def _variants(form: Form, rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    csrf = {"csrfmiddlewaretoken": form.csrf_token()} if form.csrf_token() else {}
    filled = _as_filled(form)
    fields = [f for f in form.fields if f.name != "csrfmiddlewaretoken"]
    yield "empty", dict(csrf)
    yield (
        "random",
        {**{f.name: _random_value(rng, f.options) for f in fields}, **csrf},
    )
    for field in rng.sample(fields, min(len(fields), FIELDS_MUTATED)):
        yield (
            f"{field.name} random",
            {**filled, field.name: _random_value(rng, field.options), **csrf},
        )
    yield "oversized", {**{f.name: OVERSIZED for f in fields}, **csrf}
    yield "as filled in", {**filled, **csrf}


def _submit_forms(crawler: Crawler, forms: list[Form]) -> int:
    submitted = 0
    for form in _distinct(forms):
        path = local_path(form.action)
        assert path is not None
        method = "post" if form.method == "post" else "get"
        for note, data in _variants(form, crawler.rng):
            crawler.ask(method, path, data, note=note)
        submitted += 1
    return submitted


def _signed_in(username: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username=username))
    return client


def test_every_page_and_form_as_each_role_answers_without_a_500(demo: Simulators) -> None:
    total, failures, report = 0, [], []
    for username in ("buyer", "sales", "admin"):
        crawler = Crawler(_signed_in(username), username, random.Random(f"crawl-{username}"))
        pages, forms = _crawl_pages(crawler)
        submitted = _submit_forms(crawler, forms)
        report.append(f"{username}: {len(pages)} pages, {submitted} forms")
        total += crawler.requests
        failures += crawler.failures
        assert len(pages) > 3, f"{username} reached almost nothing: {pages}"
        assert submitted > 0, f"{username} found no form to submit"
    print(f"crawl: {total} requests ({'; '.join(report)})")
    assert not failures, f"{len(failures)} of {total} requests failed:\n" + "\n".join(failures)


# --- public endpoints ---------------------------------------------------------------------------

SIGNATURE_HEADERS = {
    "HTTP_STRIPE_SIGNATURE": "t=1,v1=" + "0" * 64,
    "HTTP_X_ANET_SIGNATURE": "sha512=" + "0" * 128,
    "HTTP_PAYPAL_TRANSMISSION_ID": "x",
    "HTTP_PAYPAL_TRANSMISSION_TIME": "x",
    "HTTP_PAYPAL_TRANSMISSION_SIG": "x",
    "HTTP_PAYPAL_CERT_URL": "https://evil.example/cert.pem",
    "HTTP_PAYPAL_AUTH_ALGO": "SHA256withRSA",
}


def _bodies(rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """POST bodies: (note, keyword arguments for the test client)."""
    yield "empty", {}
    yield "random form", {"data": {rng.choice(NASTY) or "x": rng.choice(NASTY) for _ in range(6)}}
    yield (
        "provider-like form",
        {
            "data": {
                "RESULT": rng.choice(["0", "-1", "12", "x"]),
                "PNREF": rng.choice(NASTY),
                "SECURETOKEN": rng.choice(NASTY),
                "SECURETOKENID": rng.choice(NASTY),
                "token": rng.choice(NASTY),
                "PayerID": rng.choice(NASTY),
                "paymentId": rng.choice(NASTY),
                "payment_intent": rng.choice(NASTY),
                "dataValue": rng.choice(NASTY),
            }
        },
    )
    yield "oversized form", {"data": {"RESULT": "0", "PNREF": OVERSIZED, "x": OVERSIZED}}
    yield "binary", {"data": bytes(rng.randrange(256) for _ in range(512)), "content_type": "x/y"}
    yield (
        "random json",
        {
            "data": json.dumps({"id": rng.choice(NASTY), "type": rng.choice(NASTY), "data": {}}),
            "content_type": "application/json",
        },
    )
    yield "broken json", {"data": '{"id": "evt_1", "type": ', "content_type": "application/json"}
    yield "oversized json", {"data": json.dumps({"x": OVERSIZED}), "content_type": "text/plain"}
    yield (
        "signed-looking json",
        {"data": "{}", "content_type": "application/json", **SIGNATURE_HEADERS},
    )


def test_public_endpoints_answer_random_posts_without_a_500(demo: Simulators) -> None:
    crawler = Crawler(Client(), "anonymous", random.Random("public"))
    payments = list(PaymentTransaction.objects.all())
    assert payments, "the demo paid no order"
    tokens = [return_token(row) for row in payments]
    forged = ["x", "0" * 300, tokens[0][:-2] + "xx", tokens[0] + ":extra", "%2e%2e", "é"]
    for token in tokens + forged:
        for endpoint in ("return", "notify", "cancel"):
            path = f"/payment/{endpoint}/{token}/"
            crawler.ask("get", path, note="no query")
            crawler.ask("get", path, {"token": crawler.rng.choice(NASTY)}, note="random query")
            for note, arguments in _bodies(crawler.rng):
                crawler.ask("post", path, note=note, **arguments)
    webhook_tokens = [i.webhook_token for i in Integration.objects.all()]
    for token in webhook_tokens + forged:
        path = f"/webhooks/{token}/"
        crawler.ask("get", path)
        for note, arguments in _bodies(crawler.rng):
            crawler.ask("post", path, note=note, **arguments)
    print(
        f"public endpoints: {crawler.requests} requests "
        f"({len(tokens)} payment tokens, {len(webhook_tokens)} webhook tokens, "
        f"{len(forged)} forged)"
    )
    assert not crawler.failures, (
        f"{len(crawler.failures)} of {crawler.requests} requests failed:\n"
        + "\n".join(crawler.failures)
    )


# --- what the crawl found -----------------------------------------------------------------------


def test_an_id_no_database_can_hold_is_an_invalid_choice_not_a_500(admin_client: Client) -> None:
    """SQLite raised OverflowError on `pk__in` with such a number (the rule and term forms)."""
    too_big = str(2**63)
    response = admin_client.post(
        "/admin/payment-terms/new/", {"label": "Net 45", "customers": [too_big], "groups": ["1"]}
    )
    assert response.status_code in (200, 400)
    assert f"{too_big} is not one of the available choices" in response.content.decode()
    response = admin_client.post(
        "/admin/payment-rules/new/", {"name": "R", "currency": "USD", "methods": [too_big]}
    )
    assert response.status_code == 400
    assert f"{too_big} is not one of the available choices" in response.content.decode()


def test_a_forged_destination_count_builds_no_more_rows_than_a_rule_may_have(
    admin_client: Client,
) -> None:
    """Django would build up to 1,100 destination forms for any TOTAL_FORMS a POST claims."""
    response = admin_client.post(
        "/admin/payment-rules/new/",
        {
            "name": "R",
            "currency": "USD",
            "destinations-TOTAL_FORMS": "2147483648",
            "destinations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 400
    assert response.content.decode().count('name="destinations-') < 1000  # 4 fields a row
    assert "Please submit at most 100 forms" in response.content.decode()
