"""A checkout as payment rules see it: plain data, built from an order or the simulator's form."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Address:
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # ISO 3166-2, e.g. "US-CA"
    postal_code: str = ""
    city: str = ""


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Checkout:
    """Everything rules may look at, as plain data."""

    currency: str
    total: Decimal
    subtotal: Decimal | None = None
    website_id: int | None = None
    website_code: str = ""
    website_name: str = ""
    customer_id: int | None = None
    customer_name: str = ""
    customer_group_id: int | None = None
    customer_group_name: str = ""
    customer_user_id: int | None = None
    customer_user_email: str = ""
    payment_term: str = ""  # the customer's (or its group's) term, '' when none
    billing_address: Address = field(default_factory=Address)
    shipping_address: Address = field(default_factory=Address)
    line_items: tuple[LineItem, ...] = ()

    def variables(self) -> dict[str, Any]:
        """The checkout as CEL sees it (amounts as doubles, as CEL compares them)."""

        def address(a: Address) -> dict[str, str]:
            return {
                "countryIso2": a.country,
                "regionCode": a.region,
                "postalCode": a.postal_code,
                "city": a.city,
            }

        subtotal = self.subtotal if self.subtotal is not None else self.total
        return {
            "currency": self.currency,
            "subtotal": float(subtotal),
            "total": float(self.total),
            "website": {
                "id": self.website_id or 0,
                "code": self.website_code,
                "name": self.website_name,
            },
            "customer": {
                "id": self.customer_id or 0,
                "name": self.customer_name,
                "group": {"id": self.customer_group_id or 0, "name": self.customer_group_name},
            },
            "customerUser": {"id": self.customer_user_id or 0, "email": self.customer_user_email},
            "billingAddress": address(self.billing_address),
            "shippingAddress": address(self.shipping_address),
            "lineItems": [
                {"sku": li.sku, "quantity": li.quantity, "price": float(li.price)}
                for li in self.line_items
            ],
        }
