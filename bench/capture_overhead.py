"""Our own overhead per capture and per refund, against a provider that answers at once.

    python -m bench.capture_overhead                  # or: make bench (after the others)
    BENCH_RUNS=50 python -m bench.capture_overhead

For SQLite (a temporary file) and PostgreSQL (when `BENCH_POSTGRES_URL` is set, or a server on
127.0.0.1:5432 answers as `postgres`; a scratch database `bench_payments_<pid>` is created and
dropped), a fresh database is migrated and a Stripe integration is created whose adapter is
replaced, in this process only, by `InstantAdapter` (registered in
`integrations.adapters.ADAPTERS`, as the tests register their fake card adapter): it answers
every operation at once without any I/O, so what is measured is ours — the idempotency replay,
the row lock, the checks, the ledger writes, the order's status and the audit entry, with the
COMMIT.

BENCH_RUNS orders (default 200) are each authorized through `checkout_submit` (not timed);
then each authorization is captured in full with `payments.services.payment_capture`, and each
capture refunded in full with `payments.services.payment_refund`, one call timed at a time.
The first BENCH_WARMUP calls (default 5) of each are not timed: they count the SQL queries
(every one must issue the same number). Reported: the median and p95 per operation and its
query count.

The same run renders, through `django.test.Client` and under `CaptureQueriesContext`, the
buyer's checkout page (`/checkout/<number>/`) and the back-office order page
(`/admin/orders/<id>/`) for an order with 1 transaction (an authorization) and for one with
50 (an authorization, 30 partial captures and 19 refunds): each page must issue the same number
of queries for both.

The results are printed as Markdown tables and written to bench-results/capture_overhead.json.
Targets: a median capture under 10 ms on PostgreSQL; the same query count for every capture and
every refund; both pages in a fixed number of queries. Settings (environment variables):

    BENCH_RUNS            timed captures and refunds (default 200; 50 under BENCH_SIZE=small),
                          after BENCH_WARMUP (5)
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_PROFILE         1: print a cProfile of the timed captures (to stderr)
    BENCH_STRICT          1: exit with status 1 when a target is missed

(BENCH_SIZES, read by the other benchmarks, does not apply here.)
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from bench import common
from bench.common import ROOT, Column

RESULTS = ROOT / "bench-results" / "capture_overhead.json"
DEFAULT_RUNS = 200
SMALL_RUNS = 50
DEFAULT_WARMUP = 5
TARGET_MEDIAN_MS = 10.0
TARGET_DATABASE = "postgresql"
FEW, MANY = 1, 50
CAPTURES_IN_MANY = 30  # then MANY - 1 - CAPTURES_IN_MANY refunds


def _runs() -> int:
    small = os.environ.get("BENCH_SIZE", "").strip().lower() == "small"  # CI's reduced run
    return int(os.environ.get("BENCH_RUNS", str(SMALL_RUNS if small else DEFAULT_RUNS)))


# --- child: one database ------------------------------------------------------------------------


def _instant_adapter() -> type[Any]:
    """An adapter answering every money operation at once (defined after Django is set up)."""
    from integrations.adapters.base import (
        AdapterBase,
        ConnectionCheck,
        Operation,
        PaymentRequest,
        ProviderResult,
        ResultState,
    )

    def answer(operation: str, key: str) -> ProviderResult:
        return ProviderResult(
            ok=True,
            state=ResultState.SUCCEEDED,
            reference=f"bench-{operation}-{key}",
            raw={"status": "ok"},
        )

    class InstantAdapter(AdapterBase):
        supports: ClassVar[frozenset[Operation]] = frozenset(
            {
                Operation.CHECK_CREDENTIALS,
                Operation.AUTHORIZE,
                Operation.CHARGE,
                Operation.CAPTURE,
                Operation.CANCEL,
                Operation.REFUND,
            }
        )
        multiple_captures: ClassVar[bool] = True

        def check_credentials(self) -> ConnectionCheck:
            return ConnectionCheck(ok=True, message="instant")

        def authorize(self, request: PaymentRequest) -> ProviderResult:
            return answer("authorize", request.idempotency_key)

        def charge(self, request: PaymentRequest) -> ProviderResult:
            return answer("charge", request.idempotency_key)

        def capture(
            self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
        ) -> ProviderResult:
            return answer("capture", idempotency_key)

        def cancel(
            self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
        ) -> ProviderResult:
            return answer("cancel", idempotency_key)

        def refund(
            self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
        ) -> ProviderResult:
            return answer("refund", idempotency_key)

    return InstantAdapter


class _World:
    """A staff user, a buyer, an integration answering at once and a rule offering it."""

    def __init__(self) -> None:
        from django.contrib.auth.models import User

        from backoffice.models import Customer, CustomerUser, Website
        from integrations.adapters import ADAPTERS
        from integrations.services import integration_create
        from integrations.types import Environment, IntegrationType
        from rules.models import PaymentRule, PaymentRuleMethod

        ADAPTERS[IntegrationType.STRIPE] = _instant_adapter()
        self.staff = User.objects.create(username="bench-staff", is_superuser=True)
        buyer = User.objects.create(username="bench-buyer", email="buyer@example.com")
        self.customer = Customer.objects.create(name="Bench Buyer Inc.")
        self.customer_user = CustomerUser.objects.create(user=buyer, customer=self.customer)
        self.website = Website.objects.create(name="Bench", code="bench")
        integration = integration_create(
            type=IntegrationType.STRIPE,
            name="Instant card",
            is_active=True,
            environment=Environment.SANDBOX,
            settings={"label": "Credit Card", "short_label": "Card", "payment_action": "manual"},
            secrets={},
            actor=self.staff,
        )
        self.method = integration.methods.get()
        rule = PaymentRule.objects.create(name="Cards in USD", currency="USD")
        PaymentRuleMethod.objects.create(rule=rule, method=self.method)
        self.count = 0

    def authorization(self, total: str = "100.00") -> Any:
        """A new order authorized in full through checkout, as a buyer's card payment is."""
        from backoffice.models import Address, Order, OrderLine
        from payments.models import State
        from payments.services import checkout_submit

        self.count += 1
        address = Address.objects.create(
            name="Bea Buyer",
            street="1 Main St",
            city="Springfield",
            postal_code="12345",
            country="US",
        )
        order = Order.objects.create(
            number=f"BENCH-{self.count}",
            customer=self.customer,
            customer_user=self.customer_user,
            website=self.website,
            currency="USD",
            subtotal=Decimal(total),
            total=Decimal(total),
            billing_address=address,
            shipping_address=address,
        )
        OrderLine.objects.create(order=order, sku="SKU-1", name="Widget", quantity=1, price=total)
        row = checkout_submit(
            order=order,
            method=self.method,
            customer_user=self.customer_user,
            idempotency_key=f"bench-authorize-{self.count}",
        )
        assert row.state == State.SUCCEEDED and row.is_open, (row.state, row.message)
        return row


def _measure(
    label: str,
    operation: str,
    calls: list[Callable[[], Any]],
    warmup: int,
    profile: bool,
) -> dict[str, Any]:
    """Counting runs (the first `warmup` calls), then the rest timed one at a time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for call in calls[:warmup]:
        with CaptureQueriesContext(connection) as queries:
            call()
        counts.append(len(queries))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    timings, cpu_timings = [], []
    for call in calls[warmup:]:
        if profiler is not None:
            profiler.enable()
        t0, cpu0 = time.perf_counter(), time.process_time()
        call()
        timings.append((time.perf_counter() - t0) * 1000)
        cpu_timings.append((time.process_time() - cpu0) * 1000)
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        import pstats

        print(f"[{label}] profile of {len(timings)} {operation}s:", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    stats = common.timing_stats(timings)
    # On a shared machine the other processes' load moves these timings more than any code
    # change of a query or two: say how busy it was (1-minute load average, 0 if unknown).
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return {
        "database": label,
        "database_version": common.database_version(connection),
        "operation": operation,
        "median_ms": stats.median_ms,
        "p95_ms": stats.p95_ms,
        "min_ms": stats.min_ms,
        "max_ms": stats.max_ms,
        # This process's CPU time alone (Python, ORM, driver; not the database server's), which
        # the machine's load moves much less than the wall-clock time.
        "cpu_median_ms": common.timing_stats(cpu_timings).median_ms,
        "queries": counts[0] if counts else 0,
        "query_counts_seen": sorted(set(counts)),
        "runs": len(timings),
        "load_average": round(load, 2),
    }


def _page_queries(label: str, world: _World) -> list[dict[str, Any]]:
    """The checkout and order pages' query counts for an order with FEW and with MANY rows."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from payments.services import payment_capture, payment_refund

    orders = {}
    for count in (FEW, MANY):
        authorization = world.authorization("100.00")
        captures = []
        for n in range(count - 1):
            if n < CAPTURES_IN_MANY:
                captures.append(
                    payment_capture(
                        transaction=authorization,
                        amount="1.00",
                        actor=world.staff,
                        idempotency_key=f"bench-page-capture-{count}-{n}",
                    )
                )
            else:
                payment_refund(
                    transaction=captures[n - CAPTURES_IN_MANY],
                    amount="0.50",
                    note="bench",
                    actor=world.staff,
                    idempotency_key=f"bench-page-refund-{count}-{n}",
                )
        orders[count] = authorization.order
        assert authorization.order.transactions.count() == count

    buyer, staff = Client(), Client()
    buyer.force_login(world.customer_user.user)
    staff.force_login(world.staff)
    pages = {
        "/checkout/<number>/": (buyer, lambda order: f"/checkout/{order.number}/"),
        "/admin/orders/<id>/": (staff, lambda order: f"/admin/orders/{order.pk}/"),
    }
    rows = []
    for url, (client, url_of) in pages.items():
        counts = {}
        for count, order in orders.items():
            client.get(url_of(order))  # a first render fills per-process caches
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url_of(order))
            assert response.status_code == 200, (url, count, response.status_code)
            counts[count] = len(queries)
        rows.append(
            {
                "database": label,
                "page": "checkout" if url.startswith("/checkout/") else "order",
                "url": url,
                "queries_few": counts[FEW],
                "queries_many": counts[MANY],
            }
        )
    return rows


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.db import connection
    from django.test.utils import setup_test_environment

    from payments.models import State
    from payments.services import payment_capture, payment_refund

    setup_test_environment()  # the test client's host, as the test suite has it
    # The pages are rendered without collectstatic; WhiteNoise warns that there is nothing.
    warnings.filterwarnings("ignore", message="No directory at")
    runs = _runs()
    warmup = int(os.environ.get("BENCH_WARMUP", str(DEFAULT_WARMUP)))
    profile = os.environ.get("BENCH_PROFILE") == "1"
    world = _World()
    started = time.perf_counter()
    authorizations = [world.authorization() for _ in range(warmup + runs)]
    common.analyze(connection)
    setup_seconds = time.perf_counter() - started

    captures: list[Any] = []

    def capture(authorization: Any) -> Callable[[], Any]:
        def call() -> None:
            row = payment_capture(
                transaction=authorization,
                amount=authorization.amount,
                actor=world.staff,
                idempotency_key=f"bench-capture-{authorization.pk}",
            )
            assert row.state == State.SUCCEEDED, row.message
            captures.append(row)

        return call

    def refund(captured: Any) -> Callable[[], Any]:
        def call() -> None:
            row = payment_refund(
                transaction=captured,
                amount=captured.amount,
                note="Returned goods",
                actor=world.staff,
                idempotency_key=f"bench-refund-{captured.pk}",
            )
            assert row.state == State.SUCCEEDED, row.message

        return call

    results = [
        _measure(label, "capture", [capture(a) for a in authorizations], warmup, profile),
    ]
    results.append(_measure(label, "refund", [refund(c) for c in list(captures)], warmup, False))
    for result in results:
        result["setup_s"] = round(setup_seconds, 2)
        print(
            f"[{label}] {result['operation']}: median {result['median_ms']:.2f} ms, "
            f"p95 {result['p95_ms']:.2f} ms, CPU median {result['cpu_median_ms']:.2f} ms, "
            f"{result['queries']} queries "
            f"({result['runs']} runs, load average {result['load_average']:.2f}; "
            f"setup {setup_seconds:.1f}s)",
            file=sys.stderr,
        )
    pages = _page_queries(label, world)
    for page in pages:
        print(
            f"[{label}] {page['page']} page {page['url']}: {page['queries_few']} queries with "
            f"{FEW} transaction, {page['queries_many']} with {MANY}",
            file=sys.stderr,
        )
    out.write_text(json.dumps([*results, *pages]))


# --- parent: orchestrate ------------------------------------------------------------------------


OPERATION_COLUMNS = [
    # "PostgreSQL 15.20 (Debian …)": the name and the version are enough for the table.
    Column("database", lambda r: " ".join(str(r["database_version"]).split()[:2]), numeric=False),
    Column("operation", lambda r: str(r["operation"]), numeric=False),
    Column("runs", lambda r: str(r["runs"])),
    Column("median ms", lambda r: f"{r['median_ms']:.2f}"),
    Column("p95 ms", lambda r: f"{r['p95_ms']:.2f}"),
    Column("CPU median ms", lambda r: f"{r['cpu_median_ms']:.2f}"),
    Column("queries", lambda r: str(r["queries"])),
    Column("load average", lambda r: f"{r['load_average']:.2f}"),
]
PAGE_COLUMNS = [
    Column("database", lambda r: str(r["database"]), numeric=False),
    Column("page", lambda r: str(r["url"]), numeric=False),
    Column(f"queries, {FEW} transaction", lambda r: str(r["queries_few"])),
    Column(f"queries, {MANY} transactions", lambda r: str(r["queries_many"])),
]


def _split(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    operations = [r for r in results if "operation" in r]
    return operations, [r for r in results if "page" in r]


def _targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    operations, pages = _split(results)
    checks: dict[str, bool] = {}
    for r in operations:
        name = f"{r['database']}: the same query count for every {r['operation']}"
        checks[name] = len(r["query_counts_seen"]) == 1
        if r["database"] == TARGET_DATABASE and r["operation"] == "capture":
            checks[f"{r['database']}: capture median under {TARGET_MEDIAN_MS:g} ms"] = (
                r["median_ms"] < TARGET_MEDIAN_MS
            )
    for r in pages:
        name = f"{r['database']}: {r['url']} in the same queries with {FEW} and {MANY} rows"
        checks[name] = r["queries_few"] == r["queries_many"]
    return checks


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    # The child takes a sizes argument; this benchmark has one size (BENCH_RUNS operations).
    results = common.run_databases("bench.capture_overhead", [0])
    checks = _targets(results)
    operations, pages = _split(results)
    common.print_report(
        common.markdown_table(OPERATION_COLUMNS, operations)
        + "\n\n"
        + common.markdown_table(PAGE_COLUMNS, pages),
        checks,
    )
    common.write_results(
        RESULTS,
        {
            "benchmark": "payments.services payment_capture / payment_refund, instant adapter",
            "runs": _runs(),
            "warmup": int(os.environ.get("BENCH_WARMUP", str(DEFAULT_WARMUP))),
            "results": results,
            "targets": checks,
        },
    )
    return common.exit_status(results, checks)


if __name__ == "__main__":
    sys.exit(main())
