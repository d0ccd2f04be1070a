"""Checkout page throughput under gunicorn, as a ratio of `/healthz` served in the same run.

    python -m bench.throughput                        # or: make bench
    BENCH_SIZE=small python -m bench.throughput       # CI: fewer requests per round

For SQLite (a temporary file) and PostgreSQL (when `BENCH_POSTGRES_URL` is set, or a server on
127.0.0.1:5432 answers as `postgres`; a scratch database `bench_payments_<pid>` is created and
dropped), a fresh database is migrated and given the rules of `bench.rules_resolution` (1,000 of
them, spread over 20 currencies and 50 countries) and a buyer's order awaiting payment whose
checkout page resolves its methods against them. gunicorn (the pinned version, sync workers,
one per core) serves the app on a free local port; a client of BENCH_CONCURRENCY threads
(default: two per worker, so a worker never waits for the client) sends plain `http.client`
GETs, one connection per request.

`/healthz` (one `SELECT 1`: the practical ceiling for a Django request here) and the buyer's
`/checkout/<number>/` are measured side by side: BENCH_ROUNDS rounds (default 5; 3 under
BENCH_SIZE=small), each one BENCH_REQUESTS requests (default 300; 60 small) to one page then to
the other, alternating which goes first. Each round gives both pages' requests per second and
their ratio checkout/healthz; the median ratio over the rounds is reported (the machine is
shared: a ratio measured within a round moves much less than either figure). Then the peak
resident memory (VmHWM) of each worker is read from /proc.

The results are printed as a Markdown table and written to bench-results/throughput.json.
Targets: a ratio of at least 0.5 with 1,000 rules, and a worker's peak RSS under 150 MB.
Settings (environment variables):

    BENCH_SIZE            small: fewer requests and rounds (CI)
    BENCH_ROUNDS, BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_WORKERS (default: the CPU count)
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_STRICT          1: exit with status 1 when a target is missed
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import common, data, gunicorn
from bench.common import ROOT, Column

RESULTS = ROOT / "bench-results" / "throughput.json"
RULES = 1_000
TARGET_RATIO = 0.5
TARGET_RSS_MB = 150.0


def _setting(name: str, full: int, small: int) -> int:
    default = small if data.bench_size() == "small" else full
    return int(os.environ.get(name, str(default)))


def _buyer_checkout(world: Any) -> tuple[str, str]:
    """A buyer's order awaiting payment: (its checkout path, the buyer's session cookie)."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from backoffice.models import Address, Customer, CustomerUser, Order, OrderLine

    user = User.objects.create(username="bench-buyer", email="buyer@example.com")
    customer = Customer.objects.create(name="Bench Buyer Inc.", group_id=world.group_ids[0])
    customer_user = CustomerUser.objects.create(user=user, customer=customer)
    address = Address.objects.create(
        name="Bea Buyer",
        street="1 Market St",
        city="San Francisco",
        postal_code="94107",
        region="US-CA",
        country="US",
    )
    order = Order.objects.create(
        number="BENCH-CHECKOUT-1",
        customer=customer,
        customer_user=customer_user,
        website_id=world.website_ids[0],
        currency="USD",
        subtotal=Decimal("230.00"),
        total=Decimal("250.00"),
        billing_address=address,
        shipping_address=address,
    )
    OrderLine.objects.create(order=order, sku="SKU-1", name="Widget", quantity=2, price="60.00")
    OrderLine.objects.create(order=order, sku="SKU-2", name="Gadget", quantity=1, price="110.00")
    client = Client()
    client.force_login(user)  # a session row the server's workers read, as a browser's
    path = f"/checkout/{order.number}/"
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    assert b'name="method"' in response.content, "the checkout offers no method"
    return path, client.cookies[settings.SESSION_COOKIE_NAME].value


def _round(pool: ThreadPoolExecutor, port: int, path: str, cookie: str, count: int) -> Any:
    started = time.perf_counter()
    answers = list(pool.map(lambda _: gunicorn.get(port, path, cookie), range(count)))
    elapsed = time.perf_counter() - started
    return count / elapsed, [ms for _, ms in answers], [s for s, _ in answers if s != 200]


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench.rules_resolution import _World

    setup_test_environment()
    world = _World()
    world.grow_to(RULES)
    path, session = _buyer_checkout(world)
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    connection.close()  # the server's workers own the database from here

    workers = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
    rounds = _setting("BENCH_ROUNDS", 5, 3)
    requests = _setting("BENCH_REQUESTS", 300, 60)
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", str(2 * workers)))
    port = gunicorn.free_port()
    with gunicorn.serving(workers=workers, port=port) as server:
        pages = {"healthz": "/healthz", "checkout": path}
        rps: dict[str, list[float]] = {name: [] for name in pages}
        latencies: dict[str, list[float]] = {name: [] for name in pages}
        errors: dict[str, int] = {name: 0 for name in pages}
        ratios = []
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for page in pages.values():  # warm-up: imports, caches, connections
                _round(pool, port, page, cookie, 2 * concurrency)
            for n in range(rounds):
                order = list(pages) if n % 2 == 0 else list(reversed(pages))
                this_round = {}
                for name in order:
                    per_second, timings, failed = _round(pool, port, pages[name], cookie, requests)
                    this_round[name] = per_second
                    rps[name].append(per_second)
                    latencies[name] += timings
                    errors[name] += len(failed)
                ratios.append(this_round["checkout"] / this_round["healthz"])
                print(
                    f"[{label}] round {n + 1}: healthz {this_round['healthz']:.0f}/s, "
                    f"checkout {this_round['checkout']:.0f}/s, ratio {ratios[-1]:.2f}",
                    file=sys.stderr,
                )
        rss = gunicorn.workers_peak_rss_mb(server)
    result = {
        "database": label,
        "rules": RULES,
        "workers": workers,
        "concurrency": concurrency,
        "rounds": rounds,
        "requests_per_round": requests,
        "healthz_rps": round(statistics.median(rps["healthz"]), 1),
        "checkout_rps": round(statistics.median(rps["checkout"]), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "healthz_median_ms": common.timing_stats(latencies["healthz"]).median_ms,
        "checkout_median_ms": common.timing_stats(latencies["checkout"]).median_ms,
        "checkout_p95_ms": common.timing_stats(latencies["checkout"]).p95_ms,
        "errors": errors,
        "worker_peak_rss_mb": max(rss, default=0.0),
        "workers_peak_rss_mb": rss,
        "load_average": round(os.getloadavg()[0], 2),
    }
    out.write_text(json.dumps([result]))


# --- parent: orchestrate ------------------------------------------------------------------------


COLUMNS = [
    Column("database", lambda r: str(r["database"]), numeric=False),
    Column("rules", lambda r: f"{r['rules']:,}"),
    Column("healthz req/s", lambda r: f"{r['healthz_rps']:.0f}"),
    Column("checkout req/s", lambda r: f"{r['checkout_rps']:.0f}"),
    Column("ratio", lambda r: f"{r['ratio']:.2f}"),
    Column("checkout median ms", lambda r: f"{r['checkout_median_ms']:.1f}"),
    Column("checkout p95 ms", lambda r: f"{r['checkout_p95_ms']:.1f}"),
    Column("worker peak RSS MB", lambda r: f"{r['worker_peak_rss_mb']:.0f}"),
    Column("load average", lambda r: f"{r['load_average']:.2f}"),
]


def _targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for r in results:
        database = r["database"]
        checks[f"{database}: every request answered 200"] = not any(r["errors"].values())
        checks[f"{database}: checkout/healthz at least {TARGET_RATIO:g}"] = (
            r["ratio"] >= TARGET_RATIO
        )
        checks[f"{database}: worker peak RSS under {TARGET_RSS_MB:g} MB"] = (
            r["worker_peak_rss_mb"] < TARGET_RSS_MB
        )
    return checks


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    results = common.run_databases("bench.throughput", [RULES])
    checks = _targets(results)
    common.print_report(common.markdown_table(COLUMNS, results), checks)
    common.write_results(
        RESULTS,
        {
            "benchmark": "checkout page vs /healthz under gunicorn, requests per second",
            "size": data.bench_size(),
            "cpu_count": os.cpu_count(),
            "results": results,
            "targets": checks,
        },
    )
    return common.exit_status(results, checks)


if __name__ == "__main__":
    sys.exit(main())
