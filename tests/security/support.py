"""What the security tests share: the seeded demo wired to the test simulators, and an HTML reader.

`seed_demo_on_simulators` runs `seed_demo`, teaches the session's simulators the demo
credentials, points every demo integration at them and pays the demo's authorized orders through
them as a buyer would, so every page (capture, refund, the payment step) has something to show.
`PageReader` finds what a person (or an attacker) could follow or submit on a page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from backoffice.demo import demo_credentials, pay_demo_order
from backoffice.management.commands.seed_demo import DEMO_AUTHORIZED_ORDERS
from backoffice.models import CustomerUser, Order
from integrations.models import Integration
from integrations.types import IntegrationType
from simulators.authorize_net import AuthorizeNetSimulator
from simulators.payflow import PayflowAccount, PayflowSimulator
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator


@dataclass
class Simulators:
    stripe: StripeSimulator
    paypal: PayPalSimulator
    payflow: PayflowSimulator
    authorize_net: AuthorizeNetSimulator

    def url_for(self, type: str) -> str | None:
        urls: dict[str, str] = {
            IntegrationType.STRIPE: self.stripe.url,
            IntegrationType.PAYPAL_EXPRESS: self.paypal.url,
            IntegrationType.PAYFLOW_GATEWAY: self.payflow.url,
            IntegrationType.PAYMENTS_PRO: self.payflow.url,
            IntegrationType.AUTHORIZE_NET: self.authorize_net.url,
        }
        return urls.get(type)

    def teach_demo_credentials(self) -> None:
        credentials = demo_credentials()
        for secret_key, publishable_key in credentials["stripe"]:
            self.stripe.secret_keys.add(secret_key)
            self.stripe.publishable_keys.add(publishable_key)
        for client_id, client_secret in credentials["paypal"]:
            self.paypal.clients[client_id] = client_secret
        for partner, vendor, user, password in credentials["payflow"]:
            self.payflow.accounts.add(
                PayflowAccount(partner=partner, vendor=vendor, user=user, password=password)
            )
        for api_login_id, transaction_key, client_key in credentials["authorize_net"]:
            self.authorize_net.merchants[api_login_id] = transaction_key
            self.authorize_net.client_keys[api_login_id] = client_key


def point_at_simulators(simulators: Simulators) -> None:
    """Every live integration talks to this session's simulators, never to the demo's ports."""
    for integration in Integration.objects.alive():
        url = simulators.url_for(integration.type)
        if url:
            integration.settings["api_base_url"] = url
            integration.save(update_fields=["settings", "updated_at"])


def seed_demo_on_simulators(simulators: Simulators, *, pay: bool = True) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    simulators.teach_demo_credentials()
    point_at_simulators(simulators)
    if pay:
        buyer = CustomerUser.objects.select_related("customer").get(user__username="buyer")
        for spec in DEMO_AUTHORIZED_ORDERS:
            pay_demo_order(spec, buyer)


# --- reading pages ------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea" or "button"
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    multiple: bool = False


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted({f.name for f in self.fields if f.name != "csrfmiddlewaretoken"})

    def csrf_token(self) -> str:
        return next((f.value for f in self.fields if f.name == "csrfmiddlewaretoken"), "")


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    text: str = ""


class PageReader(HTMLParser):
    """Links, forms, every element's attributes and the text of scripts, from one page."""

    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.elements: list[Element] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option_value: str | None = None
        self._textarea: Field | None = None
        self._script: Element | None = None

    @classmethod
    def read(cls, url: str, html: str) -> PageReader:
        reader = cls(url)
        reader.feed(html)
        reader.close()
        return reader

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        element = Element(tag, attributes)
        self.elements.append(element)
        if tag == "script":
            self._script = element
        if tag == "option" and self._select is not None:
            self._select.options.append(attributes.get("value", ""))
            if "selected" in attributes:
                self._select.value = attributes.get("value", "")
        elif tag == "a" and attributes.get("href"):
            self.links.append(urljoin(self.url, attributes["href"]))
        elif tag == "form":
            self._form = Form(
                action=urljoin(self.url, attributes.get("action") or self.url),
                method=(attributes.get("method") or "get").lower(),
            )
            self.forms.append(self._form)
        elif self._form is None or not attributes.get("name"):
            return
        elif tag == "input":
            self._form.fields.append(
                Field(
                    name=attributes["name"],
                    kind=attributes.get("type", "text").lower(),
                    value=attributes.get("value", ""),
                    checked="checked" in attributes,
                )
            )
        elif tag == "button":
            self._form.fields.append(
                Field(attributes["name"], "button", value=attributes.get("value", ""))
            )
        elif tag == "select":
            self._select = Field(attributes["name"], "select", multiple="multiple" in attributes)
            self._form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = Field(attributes["name"], "textarea")
            self._form.fields.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._script is not None:
            self._script.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "script":
            self._script = None


def local_path(url: str) -> str | None:
    """The path and query of `url` when it is on this site, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", "testserver"):
        return None
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def payment_action(client: Client, order: Order, action: str, **data: str) -> bool:
    """Submit the order page's form for `action` (capture, refund, cancel) as sales would.

    False when the page offers no such action; a confirmation step is confirmed.
    """
    url = reverse("orders:detail", args=[order.pk])
    page = PageReader.read("http://testserver/", client.get(url).content.decode())
    link = next((link for link in page.links if f"action={action}&" in link), None)
    if link is None:
        return False
    page = PageReader.read("http://testserver/", client.get(link).content.decode())
    form = next(f for f in page.forms if f.action.rstrip("/").endswith(f"/{action}"))
    values = {f.name: f.value for f in form.fields if f.kind not in ("button", "submit")}
    response = client.post(form.action, {**values, **data})
    if response.status_code == 200:  # the confirmation step: the same form, to submit again
        page = PageReader.read("http://testserver/", response.content.decode())
        form = next(f for f in page.forms if f.action.rstrip("/").endswith(f"/{action}"))
        response = client.post(form.action, {f.name: f.value for f in form.fields})
    assert response.status_code == 302, (action, response.content.decode()[:3000])
    return True
