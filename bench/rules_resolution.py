"""How long `rules.evaluation.resolve_methods()` takes for one checkout as payment rules pile up.

    python -m bench.rules_resolution                  # or: make bench
    BENCH_SIZES=100,1000 python -m bench.rules_resolution

For SQLite (a temporary file) and PostgreSQL (when `BENCH_POSTGRES_URL` is set, or a server on
127.0.0.1:5432 answers as `postgres`; a scratch database `bench_payments_<pid>` is created and
dropped), a fresh database is migrated and filled with 100, 1,000 and 10,000 rules spread over
20 currencies and 50 countries, with methods from a handful of integrations, so that about 1% of
the rules reach expression evaluation for the measured checkout. Each size reports the median and
p95 of `resolve_methods()` over repeated runs after a warm-up, and its SQL query count: while no
rule changes (the process's cached rules serve it), and for the first checkout after a change
(the currency's rules loaded again; `rules.cached_rules.forget()` before each run). The
results are printed as a Markdown table and written to bench-results/rules_resolution.json.

Each database runs in a child process (Django is set up once per process, before the database
is known); the parent only orchestrates. Settings (environment variables):

    BENCH_SIZES           rule counts, comma-separated (default 100,1000,10000)
    BENCH_RUNS            timed runs per size (default 50), after BENCH_WARMUP (default 5)
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_PROFILE         1: print a cProfile of the runs at the largest size (to stderr)
    BENCH_STRICT          1: exit with status 1 when a target is missed
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import common
from bench.common import ROOT, Column

RESULTS = ROOT / "bench-results" / "rules_resolution.json"
DEFAULT_SIZES = (100, 1_000, 10_000)
TARGET_MEDIAN_MS = 20.0
TARGET_AT_RULES = 10_000
SEED = 20261127

CURRENCIES = [
    "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "MXN", "BRL", "INR", "CNY", "SGD", "NZD", "ZAR",
]  # fmt: skip
COUNTRIES = [
    "US", "CA", "MX", "BR", "AR", "CL", "CO", "PE", "GB", "IE",
    "FR", "DE", "NL", "BE", "LU", "ES", "PT", "IT", "AT", "CH",
    "DK", "SE", "NO", "FI", "PL", "CZ", "SK", "HU", "RO", "BG",
    "GR", "TR", "IL", "AE", "SA", "EG", "ZA", "NG", "KE", "IN",
    "CN", "JP", "KR", "SG", "MY", "TH", "VN", "PH", "AU", "NZ",
]  # fmt: skip
REGIONS = {"US": ["US-CA", "US-NY", "US-TX"], "CA": ["CA-ON", "CA-QC"], "DE": ["DE-BE", "DE-BY"]}
POSTAL_PATTERNS = ["", "", "", "941*", "10001, 10002", "9*", "8*, 7*"]
# Every rule has one, so exactly the rules passing every other condition reach the engine.
EXPRESSIONS = [
    "total > 100.0",
    "total < 5000.0 && subtotal > 0.0",
    "billingAddress.postalCode.startsWith('9')",
    "lineItems.exists(l, l.quantity >= 2)",
    "customer.group.name != 'Blocked' && size(lineItems) < 50",
    "currency == 'USD' || currency == 'EUR'",
    "shippingAddress.countryIso2 in ['US', 'CA', 'MX']",
    "lineItems.all(l, l.price < 1000.0)",
]


# --- child: one database ------------------------------------------------------------------------


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rules import cached_rules
    from rules.evaluation import Outcome, resolve_methods

    world = _World()
    checkout = world.checkout()
    runs = int(os.environ.get("BENCH_RUNS", "50"))
    warmup = int(os.environ.get("BENCH_WARMUP", "5"))
    reached = {
        Outcome.MATCHED,
        Outcome.EXPRESSION_FALSE,
        Outcome.EXPRESSION_ERROR,
        Outcome.NO_USABLE_METHOD,
    }
    results = []
    for size in sorted(sizes):
        started = time.perf_counter()
        world.grow_to(size)
        setup_seconds = time.perf_counter() - started
        for _ in range(warmup):
            resolve_methods(checkout)
        with CaptureQueriesContext(connection) as queries:
            resolution = resolve_methods(checkout)
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "1" and size == max(sizes):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        timings = common.timed_runs(runs, lambda: resolve_methods(checkout))
        if profiler is not None:
            import pstats

            profiler.disable()
            print(f"[{label}] profile of {runs} runs at {size} rules:", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        # The first checkout after a rule changed loads the currency's rules again.
        with CaptureQueriesContext(connection) as reload_queries:
            cached_rules.forget()
            resolve_methods(checkout)

        def after_a_change() -> None:
            cached_rules.forget()
            resolve_methods(checkout)

        reload_timings = common.timed_runs(runs, after_a_change)
        stats, reload = common.timing_stats(timings), common.timing_stats(reload_timings)
        result = {
            "database": label,
            "database_version": common.database_version(connection),
            "rules": size,
            "median_ms": stats.median_ms,
            "p95_ms": stats.p95_ms,
            "min_ms": stats.min_ms,
            "queries": len(queries),
            "after_change_median_ms": reload.median_ms,
            "after_change_p95_ms": reload.p95_ms,
            "after_change_queries": len(reload_queries),
            "candidates": len(resolution.trace),
            "expressions_evaluated": sum(t.outcome in reached for t in resolution.trace),
            "methods": len(resolution.methods),
            "runs": runs,
            "setup_s": round(setup_seconds, 2),
        }
        print(
            f"[{label}] {size:>6} rules: median {result['median_ms']:.2f} ms, "
            f"p95 {result['p95_ms']:.2f} ms, {result['queries']} queries; after a change "
            f"{result['after_change_median_ms']:.2f} ms, {result['after_change_queries']} queries; "
            f"{result['candidates']} candidates, {result['expressions_evaluated']} expressions "
            f"(setup {setup_seconds:.1f}s)",
            file=sys.stderr,
        )
        results.append(result)
    out.write_text(json.dumps(results))


class _World:
    """Integrations, websites, groups and a growing set of rules, all bulk-inserted."""

    def __init__(self) -> None:
        from django.contrib.auth.models import User

        from backoffice.models import CustomerGroup, Website
        from integrations.services import integration_create
        from integrations.types import Environment, IntegrationType

        actor = User.objects.create(username="bench", is_superuser=True)
        specs: list[tuple[str, str, str, dict[str, Any], bool]] = [
            (
                IntegrationType.MONEY_ORDER,
                "Check",
                Environment.OFFLINE,
                {"label": "Check/Money Order", "short_label": "Check", "pay_to": "Acme"},
                True,
            ),
            (
                IntegrationType.PAYMENT_TERM,
                "Terms",
                Environment.OFFLINE,
                {"label": "Payment Terms", "short_label": "Terms"},
                True,
            ),
            (
                IntegrationType.STRIPE,
                "Stripe",
                Environment.SANDBOX,
                {"label": "Credit Card", "short_label": "Card", "payment_action": "manual"},
                True,
            ),
            (
                IntegrationType.PAYPAL_EXPRESS,
                "PayPal",
                Environment.SANDBOX,
                {"label": "PayPal", "short_label": "PayPal", "payment_action": "authorize"},
                True,
            ),
            (
                IntegrationType.PAYFLOW_GATEWAY,
                "Payflow",
                Environment.SANDBOX,
                {"credit_card_label": "Card", "express_checkout_name": "Payflow Express"},
                True,
            ),
            (
                IntegrationType.AUTHORIZE_NET,
                "Authorize.Net (old)",
                Environment.SANDBOX,
                {"credit_card_label": "Card", "payment_action": "charge"},
                False,
            ),
        ]
        self.method_ids: list[int] = []
        for type_, name, environment, settings, active in specs:
            integration = integration_create(
                type=type_,
                name=name,
                is_active=active,
                environment=environment,
                settings=settings,
                secrets={},
                actor=actor,
            )
            self.method_ids += [m.pk for m in integration.methods.all()]
        self.website_ids = [
            Website.objects.create(name=f"Site {i}", code=f"site{i}").pk for i in range(3)
        ]
        self.group_ids = [CustomerGroup.objects.create(name=f"Group {i}").pk for i in range(4)]
        self.count = 0

    def checkout(self) -> Any:
        from rules.evaluation import Address, Checkout, LineItem

        address = Address(country="US", region="US-CA", postal_code="94107", city="San Francisco")
        return Checkout(
            currency="USD",
            total=Decimal("250.00"),
            subtotal=Decimal("230.00"),
            website_id=self.website_ids[0],
            website_code="site0",
            customer_group_id=self.group_ids[0],
            customer_group_name="Group 0",
            payment_term="Net 30",
            billing_address=address,
            shipping_address=address,
            line_items=(
                LineItem("SKU-1", 2, Decimal("60.00")),
                LineItem("SKU-2", 1, Decimal("110.00")),
            ),
        )

    def grow_to(self, size: int) -> None:
        from django.db import connection, transaction

        from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod

        new = range(self.count, size)
        if not new:
            return
        # One generator per rule: rule n is the same whatever the sizes asked for.
        rngs = [random.Random(SEED * 1_000_003 + n) for n in new]  # noqa: S311 - test data
        with transaction.atomic():
            rules = PaymentRule.objects.bulk_create(
                [
                    PaymentRule(
                        name=f"Rule {n}",
                        enabled=rng.random() > 0.05,
                        sort_order=rng.randint(0, 1000),
                        # Every 100th rule is a currency's catch-all (no destinations, websites
                        # or groups; rule 0 is USD's), so each size has candidates to load.
                        currency=CURRENCIES[n // 100 % len(CURRENCIES)]
                        if n % 100 == 0
                        else rng.choice(CURRENCIES),
                        stop_processing=False,  # every candidate is evaluated: the worst case
                        expression=rng.choice(EXPRESSIONS),
                        min_total=Decimal(rng.choice([10, 50, 100, 200]))
                        if rng.random() < 0.3
                        else None,
                        max_total=Decimal(rng.choice([500, 1000, 10000]))
                        if rng.random() < 0.3
                        else None,
                    )
                    for n, rng in zip(new, rngs, strict=True)
                ],
                batch_size=1000,
            )
            websites, groups, destinations, methods = [], [], [], []
            Websites = PaymentRule.websites.through
            Groups = PaymentRule.customer_groups.through
            for n, rule, rng in zip(new, rules, rngs, strict=True):
                if n % 100 == 0:  # a catch-all
                    methods.append(PaymentRuleMethod(rule_id=rule.pk, method_id=self.method_ids[0]))
                    continue
                if rng.random() < 0.2:
                    websites.append(
                        Websites(paymentrule_id=rule.pk, website_id=rng.choice(self.website_ids))
                    )
                if rng.random() < 0.3:
                    groups += [
                        Groups(paymentrule_id=rule.pk, customergroup_id=group_id)
                        for group_id in rng.sample(self.group_ids, rng.randint(1, 2))
                    ]
                if rng.random() >= 0.3:  # else: everywhere
                    for country in rng.sample(COUNTRIES, rng.randint(1, 3)):
                        destinations.append(
                            PaymentRuleDestination(
                                rule_id=rule.pk,
                                country=country,
                                region=rng.choice(["", *REGIONS.get(country, [])]),
                                postal_codes=rng.choice(POSTAL_PATTERNS),
                            )
                        )
                methods += [
                    PaymentRuleMethod(
                        rule_id=rule.pk, method_id=method_id, enabled=rng.random() > 0.05
                    )
                    for method_id in rng.sample(self.method_ids, rng.randint(1, 3))
                ]
            Websites.objects.bulk_create(websites, batch_size=1000)
            Groups.objects.bulk_create(groups, batch_size=1000)
            PaymentRuleDestination.objects.bulk_create(destinations, batch_size=1000)
            PaymentRuleMethod.objects.bulk_create(methods, batch_size=1000)
        # Without statistics PostgreSQL's planner takes the fresh tables for empty and scans
        # them once per candidate rule.
        common.analyze(connection)
        self.count = size


# --- parent: orchestrate ------------------------------------------------------------------------


COLUMNS = [
    Column("database", lambda r: str(r["database"]), numeric=False),
    Column("rules", lambda r: f"{r['rules']:,}"),
    Column("median ms", lambda r: f"{r['median_ms']:.2f}"),
    Column("p95 ms", lambda r: f"{r['p95_ms']:.2f}"),
    Column("queries", lambda r: str(r["queries"])),
    Column("after a change: median ms", lambda r: f"{r['after_change_median_ms']:.2f}"),
    Column("p95 ms", lambda r: f"{r['after_change_p95_ms']:.2f}"),
    Column("queries", lambda r: str(r["after_change_queries"])),
    Column("candidates", lambda r: str(r["candidates"])),
    Column("expressions evaluated", lambda r: str(r["expressions_evaluated"])),
]


def _targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for database, rows in common.by_database(results).items():
        checks[f"{database}: same query count at every size"] = (
            len({r["queries"] for r in rows}) == 1
            and len({r["after_change_queries"] for r in rows}) == 1
        )
        at_target = [r for r in rows if r["rules"] == TARGET_AT_RULES]
        if at_target:
            checks[f"{database}: median under {TARGET_MEDIAN_MS:g} ms at {TARGET_AT_RULES:,}"] = (
                at_target[0]["median_ms"] < TARGET_MEDIAN_MS
            )
    return checks


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    sizes = common.sizes_from_environment(DEFAULT_SIZES)
    results = common.run_databases("bench.rules_resolution", sizes)
    checks = _targets(results)
    common.print_report(common.markdown_table(COLUMNS, results), checks)
    common.write_results(
        RESULTS,
        {
            "benchmark": "rules.evaluation.resolve_methods, one checkout",
            "runs": int(os.environ.get("BENCH_RUNS", "50")),
            "warmup": int(os.environ.get("BENCH_WARMUP", "5")),
            "sizes": sizes,
            "results": results,
            "targets": checks,
        },
    )
    return common.exit_status(results, checks)


if __name__ == "__main__":
    sys.exit(main())
