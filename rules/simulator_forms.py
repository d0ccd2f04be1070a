"""The simulator's checkout form: every field a rule or an expression can look at."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pycountry
from django import forms
from django.core.exceptions import ValidationError
from django_countries import countries

from backoffice.models import Address as OrderAddress
from backoffice.models import Customer, CustomerGroup, Order, PaymentTerm, Website
from rules.evaluation import Address, Checkout, LineItem
from rules.models import PaymentRule

MAX_LINE_ITEMS = 200
MAX_QUANTITY = 1_000_000
AMOUNT_DIGITS = 19  # as PaymentRule.min_total/max_total store them
AMOUNT_DECIMALS = 4
POSTAL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")
SKU = re.compile(r"^[^\s,][^,]{0,63}$")
QUANTITY = re.compile(r"^[0-9]{1,7}$")
# Whole digits as the amounts rules compare with can hold; any decimals, refused with a message.
PRICE = re.compile(rf"^[0-9]{{1,{AMOUNT_DIGITS - AMOUNT_DECIMALS}}}(?:\.(?P<decimals>[0-9]+))?$")


def currency_choices() -> list[tuple[str, Any]]:
    """Currencies some rule uses first (what people simulate), then every ISO 4217 currency."""
    used = set(PaymentRule.objects.values_list("currency", flat=True).distinct())
    names = {c.alpha_3: c.name for c in pycountry.currencies}

    def label(code: str) -> str:
        return f"{code} — {names[code]}" if code in names else code

    return [
        ("Used by payment rules", [(code, label(code)) for code in sorted(used)]),
        ("Other currencies", [(code, label(code)) for code in sorted(set(names) - used)]),
    ]


def _amount_field(label: str, *, required: bool, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_digits=AMOUNT_DIGITS,
        decimal_places=AMOUNT_DECIMALS,
        help_text=help_text,
        error_messages={
            "min_value": "An amount cannot be negative.",
            "max_decimal_places": f"Use at most {AMOUNT_DECIMALS} decimal places.",
            "max_digits": "This amount is too large.",
            "max_whole_digits": "This amount is too large.",
        },
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _country_field(title: str, help_text: str = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=f"{title} country",
        required=False,
        choices=[("", "—"), *countries],
        help_text=help_text,
        error_messages={"invalid_choice": "Pick a country from the list."},
    )


def _region_field(title: str) -> forms.CharField:
    return forms.CharField(
        label=f"{title} region",
        required=False,
        max_length=10,
        help_text="ISO 3166-2: US-CA, or just CA",
    )


def _postal_code_field(title: str) -> forms.CharField:
    return forms.CharField(label=f"{title} postal code", required=False, max_length=20)


def _city_field(title: str) -> forms.CharField:
    return forms.CharField(label=f"{title} city", required=False, max_length=100)


class SimulationForm(forms.Form):
    """Describe a checkout; `checkout()` turns the cleaned form into `rules.evaluation.Checkout`."""

    currency = forms.ChoiceField(
        error_messages={"invalid_choice": "“%(value)s” is not an ISO 4217 currency code."}
    )
    website = forms.ModelChoiceField(
        queryset=Website.objects.all(),
        required=False,
        empty_label="Any (no particular website)",
        help_text="Rules for some websites match only when one of them is chosen.",
        error_messages={"invalid_choice": "Pick a website from the list."},
    )
    total = _amount_field("Total", required=True)
    subtotal = _amount_field("Subtotal", required=False, help_text="Empty: same as the total.")
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.select_related("group__payment_term", "payment_term").order_by(
            "name"
        ),
        required=False,
        empty_label="— none (guest) —",
        help_text="Its customer group and payment term are used.",
        error_messages={"invalid_choice": "Pick a customer from the list."},
    )
    customer_group = forms.ModelChoiceField(
        queryset=CustomerGroup.objects.select_related("payment_term"),
        required=False,
        empty_label="— none —",
        help_text="Used when no customer is chosen.",
        error_messages={"invalid_choice": "Pick a customer group from the list."},
    )
    billing_country = _country_field("Billing", "Rule destinations compare this address.")
    billing_region = _region_field("Billing")
    billing_postal_code = _postal_code_field("Billing")
    billing_city = _city_field("Billing")
    shipping_country = _country_field("Shipping", "Empty: same as billing.")
    shipping_region = _region_field("Shipping")
    shipping_postal_code = _postal_code_field("Shipping")
    shipping_city = _city_field("Shipping")
    line_items = forms.CharField(
        label="Line items",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "SKU-100, 2, 19.99"}),
        help_text="One per line: SKU, quantity, unit price. Expressions see them as lineItems.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currency.choices = currency_choices()

    def clean_line_items(self) -> tuple[LineItem, ...]:
        text: str = self.cleaned_data["line_items"]
        rows = [(number, row) for number, row in enumerate(text.splitlines(), 1) if row.strip()]
        if len(rows) > MAX_LINE_ITEMS:
            raise ValidationError(f"Simulate at most {MAX_LINE_ITEMS} line items.")
        items, errors = [], []
        for number, row in rows:
            try:
                items.append(_line_item(row))
            except ValidationError as error:
                errors.append(f"Line {number}: {error.messages[0]}")
        if errors:
            raise ValidationError(errors)
        return tuple(items)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for prefix in ("billing", "shipping"):
            self._clean_address(prefix, data)
        return data

    def _clean_address(self, prefix: str, data: dict[str, Any]) -> None:
        country: str = data.get(f"{prefix}_country", "")
        region_key, postal_key = f"{prefix}_region", f"{prefix}_postal_code"
        region: str = (data.get(region_key) or "").strip().upper()
        if region:
            if not country:
                if f"{prefix}_country" not in self.errors:
                    self.add_error(region_key, "Choose the country this region belongs to.")
            else:
                code = region if "-" in region else f"{country}-{region}"
                subdivision = pycountry.subdivisions.get(code=code)
                if subdivision is None:
                    self.add_error(
                        region_key,
                        f"“{region}” is not a region of {countries.name(country)} "
                        f"(ISO 3166-2, e.g. {_example_region(country)}).",
                    )
                elif subdivision.country_code != country:
                    self.add_error(
                        region_key,
                        f"{code} ({subdivision.name}) is in "
                        f"{countries.name(subdivision.country_code)}, "
                        f"not {countries.name(country)}.",
                    )
                else:
                    data[region_key] = code
        postal_code: str = (data.get(postal_key) or "").strip()
        if postal_code and not POSTAL_CODE.match(postal_code):
            self.add_error(postal_key, "Use letters, digits, spaces and hyphens only.")

    def _address(self, prefix: str) -> Address:
        data = self.cleaned_data
        return Address(
            country=data[f"{prefix}_country"],
            region=data[f"{prefix}_region"],
            postal_code=data[f"{prefix}_postal_code"].strip(),
            city=data[f"{prefix}_city"].strip(),
        )

    def checkout(self) -> Checkout:
        """The checkout described by this (valid) form."""
        data = self.cleaned_data
        website: Website | None = data["website"]
        customer: Customer | None = data["customer"]
        group: CustomerGroup | None = customer.group if customer else data["customer_group"]
        term: PaymentTerm | None
        if customer:
            term = customer.effective_payment_term()
        else:
            term = group.payment_term if group else None
        billing = self._address("billing")
        shipping = self._address("shipping")
        return Checkout(
            currency=data["currency"],
            total=data["total"],
            subtotal=data["subtotal"],
            website_id=website.pk if website else None,
            website_code=website.code if website else "",
            website_name=website.name if website else "",
            customer_id=customer.pk if customer else None,
            customer_name=customer.name if customer else "",
            customer_group_id=group.pk if group else None,
            customer_group_name=group.name if group else "",
            payment_term=term.label if term else "",
            billing_address=billing,
            shipping_address=shipping if shipping != Address() else billing,
            line_items=data["line_items"],
        )


def _line_item(row: str) -> LineItem:
    parts = [part.strip() for part in row.split(",")]
    if len(parts) != 3:
        raise ValidationError(f"write “SKU, quantity, price” (got {len(parts)} values).")
    sku, quantity, price = parts
    if not SKU.match(sku):
        raise ValidationError("the SKU is empty or too long (64 characters at most).")
    if not QUANTITY.match(quantity) or not 1 <= int(quantity) <= MAX_QUANTITY:
        raise ValidationError(f"the quantity must be a whole number from 1 to {MAX_QUANTITY:,}.")
    match = PRICE.match(price)
    if not match:
        raise ValidationError(f"“{price[:20]}” is not a price (write it like 19.99).")
    if len(match["decimals"] or "") > AMOUNT_DECIMALS:
        raise ValidationError(f"use at most {AMOUNT_DECIMALS} decimal places in the price.")
    return LineItem(sku=sku, quantity=int(quantity), price=Decimal(price))


def _example_region(country: str) -> str:
    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    return min((s.code for s in subdivisions), default="US-CA")


def order_query(order: Order) -> dict[str, str]:
    """The simulator's fields filled from an existing order (its customer, addresses, lines)."""

    def address(prefix: str, row: OrderAddress | None) -> dict[str, str]:
        if row is None:
            return {}
        return {
            f"{prefix}_country": str(row.country),
            f"{prefix}_region": row.region,
            f"{prefix}_postal_code": row.postal_code,
            f"{prefix}_city": row.city,
        }

    lines = "\n".join(
        f"{line.sku}, {line.quantity}, {line.price.normalize():f}" for line in order.lines.all()
    )
    return {
        "currency": order.currency,
        "website": str(order.website_id),
        "total": f"{order.total.normalize():f}",
        "subtotal": f"{order.subtotal.normalize():f}",
        "customer": str(order.customer_id),
        **address("billing", order.billing_address),
        **address("shipping", order.shipping_address),
        "line_items": lines,
    }
