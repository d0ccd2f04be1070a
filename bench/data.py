"""The issue's data set, bulk-inserted: integrations, payment rules, orders and transactions.

    from bench.data import Dataset, scales_from_environment
    dataset = Dataset()              # after Django is set up and migrated
    dataset.grow_to(scale)           # scale 1.0: the full set; 0.1: a tenth; grows, never shrinks

At scale 1.0 (the full set, on PostgreSQL): 1,000 integrations of which 100 deleted, 10,000 payment
rules, 100,000 orders and 300,000 transactions. `BENCH_SIZE=small` (SQLite, CI) selects smaller
scales (see `scales_from_environment`). Growing adds rows after the existing ones, so the data at
10× contains the data at 1× and both are measured in the same run. Rows are inserted with
`bulk_create` in batches inside one transaction per table, then VACUUM ANALYZE (on PostgreSQL)
does what autovacuum would; everything is derived from a seeded generator, so two runs
build the same data.
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench import common

FULL = {"integrations": 1_000, "rules": 10_000, "orders": 100_000, "transactions": 300_000}
DELETED_SHARE = 10  # every 10th integration is a tombstone: 100 of 1,000
TRANSACTIONS_PER_ORDER = FULL["transactions"] // FULL["orders"]
BATCH = 2_000
SEED = 20261127
# (full run, small run): the 1× and the 10× of the growth ratio, as fractions of FULL.
SCALES = {"full": (0.1, 1.0), "small": (0.01, 0.1)}

CURRENCIES = ["USD", "EUR", "GBP", "CAD"]
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "NL", "JP", "AU"]
TYPES = ["money_order", "payment_term", "stripe", "paypal_express", "paypal_payflow_gateway"]
STATUSES = [
    "paid_in_full",
    "paid_in_full",
    "authorized",
    "authorized",
    "pending",
    "paid_partially",
    "refunded",
    "canceled",
    "declined",
    "invoiced",
]


def bench_size() -> str:
    """`full` unless BENCH_SIZE=small."""
    return "small" if os.environ.get("BENCH_SIZE", "").strip().lower() == "small" else "full"


def scales_from_environment() -> tuple[float, float]:
    return SCALES[bench_size()]


def counts_at(scale: float) -> dict[str, int]:
    return {name: max(1, round(full * scale)) for name, full in FULL.items()}


@dataclass
class Created:
    integrations: int = 0
    rules: int = 0
    orders: int = 0
    transactions: int = 0


class Dataset:
    """The sales context (websites, groups, customers, addresses, staff) and the growing rows."""

    def __init__(self) -> None:
        from django.contrib.auth.models import User

        from backoffice.models import Address, Customer, CustomerGroup, CustomerUser, Website

        self.admin = User.objects.create(username="bench-admin", is_superuser=True)
        buyer = User.objects.create(username="bench-buyer", email="buyer@example.com")
        self.website_ids = [
            Website.objects.create(name=f"Site {i}", code=f"site{i}").pk for i in range(3)
        ]
        self.group_ids = [CustomerGroup.objects.create(name=f"Group {i}").pk for i in range(4)]
        customers = Customer.objects.bulk_create(
            [Customer(name=f"Customer {i}", group_id=self.group_ids[i % 4]) for i in range(200)]
        )
        self.customer_ids = [c.pk for c in customers]
        self.customer_user = CustomerUser.objects.create(user=buyer, customer=customers[0])
        addresses = Address.objects.bulk_create(
            [
                Address(
                    name=f"Buyer {i}",
                    street=f"{i} Main St",
                    city="Springfield",
                    postal_code=f"{10000 + i}",
                    country=COUNTRIES[i % len(COUNTRIES)],
                )
                for i in range(200)
            ]
        )
        self.address_ids = [a.pk for a in addresses]
        self.created = Created()
        # Methods of live, active integrations (the ones rules and transactions use).
        self.method_ids: list[int] = []
        self.method_labels: dict[int, tuple[str, str, str, str]] = {}
        self.timings: dict[str, float] = {}

    def grow_to(self, scale: float) -> dict[str, int]:
        """Add rows until the data set is at `scale` of the full one; the counts reached."""
        from django.db import connection, transaction

        target = counts_at(scale)
        steps = [
            ("integrations", self._integrations),
            ("rules", self._rules),
            ("orders", self._orders),
            ("transactions", self._transactions),
        ]
        for name, step in steps:
            started = time.perf_counter()
            with transaction.atomic():
                step(target[name])
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        started = time.perf_counter()
        _vacuum_analyze(connection)
        self.timings["analyze"] = self.timings.get("analyze", 0.0) + time.perf_counter() - started
        print(
            f"[data] scale {scale:g}: {target} in "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()),
            file=sys.stderr,
        )
        return target

    def _integrations(self, count: int) -> None:
        from django.utils import timezone

        from integrations.methods import method_specs
        from integrations.models import Integration, PaymentMethod

        new = range(self.created.integrations, count)
        if not new:
            return
        now = timezone.now()
        integrations = Integration.objects.bulk_create(
            [
                Integration(
                    type=TYPES[n % len(TYPES)],
                    name=f"Integration {n:05d}",
                    is_active=n % 7 != 0,
                    environment="offline" if TYPES[n % len(TYPES)] in TYPES[:2] else "sandbox",
                    settings=_settings(TYPES[n % len(TYPES)], n),
                    owner=self.admin,
                    deleted_at=now if n % DELETED_SHARE == DELETED_SHARE - 1 else None,
                )
                for n in new
            ],
            batch_size=BATCH,
        )
        methods = [
            PaymentMethod(
                integration_id=integration.pk,
                identifier=spec.identifier,
                kind=spec.kind,
                label=spec.label,
                short_label=spec.short_label,
                admin_label=spec.admin_label,
                payment_action=spec.payment_action,
                is_offered=integration.deleted_at is None,
            )
            for integration in integrations
            for spec in method_specs(
                type=integration.type,
                integration_id=integration.pk,
                name=integration.name,
                settings=integration.settings,
            )
        ]
        type_of = {integration.pk: integration.type for integration in integrations}
        for method in PaymentMethod.objects.bulk_create(methods, batch_size=BATCH):
            self.method_labels[method.pk] = (
                method.label,
                method.short_label,
                method.admin_label,
                type_of[method.integration_id],
            )
            if method.is_offered:
                self.method_ids.append(method.pk)
        self.created.integrations = count

    def _rules(self, count: int) -> None:
        from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod

        new = range(self.created.rules, count)
        if not new:
            return
        rngs = [random.Random(SEED * 1_000_003 + n) for n in new]  # noqa: S311 - test data
        rules = PaymentRule.objects.bulk_create(
            [
                PaymentRule(
                    name=f"Rule {n:06d}",
                    enabled=rng.random() > 0.05,
                    sort_order=rng.randint(0, 1000),
                    currency=rng.choice(CURRENCIES),
                    expression=rng.choice(["", "", "total > 100.0", "size(lineItems) < 50"]),
                )
                for n, rng in zip(new, rngs, strict=True)
            ],
            batch_size=BATCH,
        )
        Websites = PaymentRule.websites.through
        websites, destinations, methods = [], [], []
        for rule, rng in zip(rules, rngs, strict=True):
            if rng.random() < 0.2:
                websites.append(
                    Websites(paymentrule_id=rule.pk, website_id=rng.choice(self.website_ids))
                )
            for country in rng.sample(COUNTRIES, rng.randint(0, 2)):
                destinations.append(
                    PaymentRuleDestination(rule_id=rule.pk, country=country, postal_codes="")
                )
            methods += [
                PaymentRuleMethod(rule_id=rule.pk, method_id=method_id)
                for method_id in rng.sample(self.method_ids, rng.randint(1, 3))
            ]
        Websites.objects.bulk_create(websites, batch_size=BATCH)
        PaymentRuleDestination.objects.bulk_create(destinations, batch_size=BATCH)
        PaymentRuleMethod.objects.bulk_create(methods, batch_size=BATCH)
        self.created.rules = count

    def _orders(self, count: int) -> None:
        from backoffice.models import Order

        for start in range(self.created.orders, count, BATCH):
            rng = random.Random(SEED + start)  # noqa: S311 - test data
            orders = []
            for n in range(start, min(start + BATCH, count)):
                total = Decimal(rng.randint(1_000, 500_000)) / 100
                address_id = rng.choice(self.address_ids)
                orders.append(
                    Order(
                        number=f"BO-{n:07d}",
                        customer_id=rng.choice(self.customer_ids),
                        website_id=self.website_ids[n % len(self.website_ids)],
                        currency=CURRENCIES[n % len(CURRENCIES)],
                        subtotal=total,
                        total=total,
                        billing_address_id=address_id,
                        shipping_address_id=address_id,
                        payment_status=rng.choice(STATUSES),
                    )
                )
            Order.objects.bulk_create(orders)
        self.created.orders = count

    def _transactions(self, count: int) -> None:
        """Per order: an authorization, then a capture and a refund (or a second capture)."""
        from django.utils import timezone

        from backoffice.models import Order
        from payments.models import PaymentTransaction

        now = timezone.now()
        first_order = self.created.transactions // TRANSACTIONS_PER_ORDER
        last_order = count // TRANSACTIONS_PER_ORDER
        orders = list(
            Order.objects.order_by("id").values_list("pk", "total", "currency")[
                first_order:last_order
            ]
        )
        for start in range(0, len(orders), BATCH // TRANSACTIONS_PER_ORDER):
            rng = random.Random(SEED + first_order + start)  # noqa: S311 - test data
            rows = []
            for pk, total, currency in orders[start : start + BATCH // TRANSACTIONS_PER_ORDER]:
                method_id = rng.choice(self.method_ids)
                open_authorization = rng.random() < 0.3
                authorization = _transaction(
                    self, pk, method_id, "authorize", total, currency, open_authorization
                )
                if open_authorization:
                    authorization.authorization_expires_at = now + timedelta(
                        days=rng.randint(-3, 29)
                    )
                rows.append(authorization)
                rows.append(_transaction(self, pk, method_id, "capture", total / 2, currency))
                second = "refund" if rng.random() < 0.5 else "capture"
                rows.append(_transaction(self, pk, method_id, second, total / 4, currency))
            PaymentTransaction.objects.bulk_create(rows)
        self.created.transactions = last_order * TRANSACTIONS_PER_ORDER


def _vacuum_analyze(connection: Any) -> None:
    """What autovacuum does after a bulk load: statistics, and the visibility map on PostgreSQL.

    Without the visibility map an index-only scan still reads every heap page it points to.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        common.analyze(connection)


def _settings(type_: str, n: int) -> dict[str, Any]:
    if type_ == "paypal_payflow_gateway":
        return {"credit_card_label": "Card", "express_checkout_name": f"Payflow Express {n}"}
    if type_ in ("stripe", "paypal_express"):
        return {"label": "Pay", "short_label": "Pay", "payment_action": "authorize"}
    return {"label": "Offline", "short_label": "Offline"}


def _transaction(
    dataset: Dataset,
    order_id: int,
    method_id: int,
    operation: str,
    amount: Decimal,
    currency: str,
    is_open: bool = False,
) -> Any:
    from payments.models import PaymentTransaction

    label, short_label, admin_label, provider_type = dataset.method_labels[method_id]
    dataset.created.transactions += 1
    return PaymentTransaction(
        order_id=order_id,
        method_id=method_id,
        method_label=label,
        method_short_label=short_label,
        method_admin_label=admin_label,
        provider_type=provider_type,
        operation=operation,
        amount=amount,
        currency=currency,
        state="succeeded",
        is_open=is_open,
        provider_reference=f"ref-{dataset.created.transactions}",
        idempotency_key=f"bench-data-{order_id}-{operation}-{dataset.created.transactions}",
    )
