"""Load run: buyers checking out by card while sales staff capture, under gunicorn on PostgreSQL.

    python -m bench.load                        # or: make bench
    BENCH_SIZE=small python -m bench.load       # CI: 100 orders

PostgreSQL only (SQLite serialises writers, so it shows no contention): when `BENCH_POSTGRES_URL`
is set, or a server on 127.0.0.1:5432 answers as `postgres`, a scratch database
`bench_payments_<pid>` is created, migrated and dropped afterwards; without a server nothing is
measured and the run exits 0.

The database gets (see `bench.load_world`) a Stripe integration (payment action "manual":
authorize only) pointed at a Stripe simulator on 127.0.0.1 through the sandbox-only endpoint
override, with a webhook endpoint registered at our server (so the simulator's events race the
buyers' returns), a Check/Money Order integration, one rule offering both, buyer accounts with
BENCH_LOAD_ORDERS orders awaiting payment, and sales users (the Sales role). gunicorn (the
pinned version, BENCH_LOAD_WORKERS sync workers) serves the app on a free port. Then, over
plain HTTP:

- BENCH_LOAD_BUYERS buyer threads take the orders one by one: the checkout page, the POST of
  the method (every fifth order Check/Money Order, the others the card), the payment step page,
  what Stripe.js does against the simulator (confirm the PaymentIntent with a test card), and
  the return URL, where our server asks the provider and records the authorization;
- meanwhile BENCH_LOAD_SALES sales threads take each authorized order from the buyers (a
  quarter of them twice, so two clerks work on the same order at once): the order page with
  its capture form, the amount (in full or part), the confirmation, and for a third of the
  captures a partial refund. A clerk whose colleague on the same order captured first is
  refused (400): counted as refused, not as an error (a 400 on any other order is an error).

Every request is timed and checked against the status a browser expects (a connection error
or any other status is an error). Afterwards the ledger is checked against itself and against
the simulator (see `bench.load_ledger`), and the gunicorn workers' peak RSS is read. Before
the clock starts, every worker serves the checkout and order list pages once (not measured).
The results are printed as a Markdown table and written to bench-results/load.json.

Targets: no error (error rate 0) and a balanced ledger, whose failure always exits with
status 1 (a correctness check); p95 under 1 s for every kind of request (4 workers, 2 cores),
reported, and failing only under BENCH_STRICT=1. Settings (environment variables):

    BENCH_SIZE            small: 100 orders instead of 400 (CI)
    BENCH_LOAD_ORDERS     orders to check out (default 400; 100 small)
    BENCH_LOAD_BUYERS     buyer threads (default 16)
    BENCH_LOAD_SALES      sales threads (default 4)
    BENCH_LOAD_WORKERS    gunicorn sync workers (default 4)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_STRICT          1: exit with status 1 when the p95 target is missed too
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

from bench import common, data, gunicorn
from bench.common import ROOT, Column
from bench.load_client import Authorized, Browser, FlowFailed, Outcome, Recorder, buy, capture
from bench.load_ledger import check_ledger
from bench.load_world import OrderToPay, World, build_world

if TYPE_CHECKING:
    from simulators.stripe import StripeSimulator

RESULTS = ROOT / "bench-results" / "load.json"
TARGET_P95_MS = 1000.0
CONTENDED_SHARE = 0.25
REFUND_SHARE = 1 / 3
SIMULATOR_KIND = "stripe.js confirm (simulator)"
WEBHOOK_QUIET_SECONDS = 2.0


def _setting(name: str, full: int, small: int | None = None) -> int:
    default = small if small is not None and data.bench_size() == "small" else full
    return int(os.environ.get(name, str(default)))


@dataclass
class Run:
    seconds: float
    handed_to_sales: set[int]
    failures: list[str]
    client_cpu_seconds: float = 0.0  # the clients' and the simulator's, not the server's


def _load(world: World, base_url: str, recorder: Recorder, buyers: int) -> Run:
    """Buyers pay every order while clerks capture what they authorized; how long it took."""
    to_pay: queue.Queue[OrderToPay] = queue.Queue()
    for order in world.orders:
        to_pay.put(order)
    authorized: queue.Queue[Authorized] = queue.Queue()
    buyers_done = threading.Event()
    run = Run(seconds=0.0, handed_to_sales=set(), failures=[])

    def buyer(seed: int) -> None:
        random = Random(seed)  # noqa: S311 - reproducible choices of a load run, not secrets
        while True:
            try:
                order = to_pay.get_nowait()
            except queue.Empty:
                return
            browser = Browser(base_url, order.session_cookie, recorder)
            try:
                authorization = buy(browser, order.number, order.method_pk)
            except FlowFailed as failure:
                run.failures.append(f"{order.number}: {failure}")
                continue
            if authorization is not None:
                contended = random.random() < CONTENDED_SHARE
                job = Authorized(order.pk, authorization, contended=contended)
                run.handed_to_sales.add(authorization)
                authorized.put(job)
                if contended:
                    authorized.put(job)  # a second clerk, on the same order at the same time

    def clerk(seed: int, cookie: tuple[str, str]) -> None:
        random = Random(seed)  # noqa: S311 - reproducible choices of a load run, not secrets
        browser = Browser(base_url, cookie, recorder)
        while True:
            try:
                job = authorized.get(timeout=0.2)
            except queue.Empty:
                if buyers_done.is_set() and authorized.empty():
                    return
                continue
            try:
                capture(browser, job, random, REFUND_SHARE)
            except FlowFailed as failure:
                run.failures.append(f"order {job.order_pk}: {failure}")

    buyer_threads = [threading.Thread(target=buyer, args=(n,)) for n in range(buyers)]
    clerk_threads = [
        threading.Thread(target=clerk, args=(1000 + n, cookie))
        for n, cookie in enumerate(world.sales_cookies)
    ]
    started, client_cpu = time.perf_counter(), time.process_time()
    for thread in buyer_threads + clerk_threads:
        thread.start()
    for thread in buyer_threads:
        thread.join()
    buyers_done.set()
    for thread in clerk_threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    run.client_cpu_seconds = time.process_time() - client_cpu
    return run


def _warm_up(world: World, base_url: str, workers: int) -> None:
    """Every worker serves each page once before the clock starts (URLconf, templates, caches)."""
    pages = [(o.session_cookie, f"/checkout/{o.number}/") for o in world.orders[: 2 * workers]]
    pages += [(cookie, "/admin/orders/") for cookie in world.sales_cookies] * workers
    unrecorded = Recorder()

    def visit(page: tuple[tuple[str, str], str]) -> None:
        Browser(base_url, page[0], unrecorded).send("warm-up", "GET", page[1], expected=(200,))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(visit, pages))


def _wait_for_webhooks(simulator: StripeSimulator) -> None:
    """The simulator sends its events a moment after each call: let the last ones arrive."""
    seen = -1
    while seen != len(simulator.deliveries):
        seen = len(simulator.deliveries)
        time.sleep(simulator.webhook_delay_seconds + WEBHOOK_QUIET_SECONDS)


def _kinds(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append(outcome)
    rows = []
    for kind, found in by_kind.items():
        stats = common.timing_stats(o.milliseconds for o in found)
        rows.append(
            {
                "kind": kind,
                "count": len(found),
                "errors": sum(o.error for o in found),
                "refused": sum(o.refused for o in found),
                "median_ms": round(stats.median_ms, 1),
                "p95_ms": round(stats.p95_ms, 1),
            }
        )
    return rows


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.db import connection

    orders = sizes[0]
    workers = _setting("BENCH_LOAD_WORKERS", 4)
    buyers = _setting("BENCH_LOAD_BUYERS", 16)
    sales = _setting("BENCH_LOAD_SALES", 4)
    port = gunicorn.free_port()
    from simulators.stripe import StripeSimulator

    simulator = StripeSimulator()
    simulator.webhook_delay_seconds = 0.05  # the event races the buyer's return, as it may
    simulator.start()
    try:
        world = build_world(simulator, port, orders, sales)
        common.analyze(connection)
        connection.close()  # the server's workers own the database from here
        recorder = Recorder()
        with gunicorn.serving(workers=workers, port=port) as server:
            base_url = f"http://127.0.0.1:{port}"
            _warm_up(world, base_url, workers)
            run = _load(world, base_url, recorder, buyers)
            _wait_for_webhooks(simulator)
            rss = gunicorn.workers_peak_rss_mb(server)
        load_average = os.getloadavg()[0]
        ledger = check_ledger(
            order_numbers=[o.number for o in world.orders],
            captured_by_staff=run.handed_to_sales,
            simulator=simulator,
        )
    finally:
        simulator.stop()
    ours = [o for o in recorder.outcomes if o.kind != SIMULATOR_KIND]
    webhook_errors = sum(not 200 <= d["status"] < 300 for d in simulator.deliveries)
    errors = sum(o.error for o in recorder.outcomes) + webhook_errors
    result = {
        "database": label,
        "database_version": common.database_version(connection),
        "orders": orders,
        "workers": workers,
        "buyers": buyers,
        "sales": sales,
        "seconds": round(run.seconds, 1),
        "client_cpu_seconds": round(run.client_cpu_seconds, 1),
        "requests": len(ours),
        "requests_per_second": round(len(ours) / run.seconds, 1),
        "errors": errors,
        "error_rate": round(errors / max(len(ours), 1), 5),
        "refused": sum(o.refused for o in ours),
        "kinds": _kinds(recorder.outcomes),
        "webhooks": len(simulator.deliveries),
        "webhook_errors": webhook_errors,
        "failures": run.failures[:20],
        "ledger": {
            "orders": ledger.orders,
            "authorizations": ledger.authorizations,
            "captures": ledger.captures,
            "refunds": ledger.refunds,
            "balances": ledger.balances,
            "problems": ledger.problems[:20],
        },
        "worker_peak_rss_mb": max(rss, default=0.0),
        "workers_peak_rss_mb": rss,
        "load_average": round(load_average, 2),
    }
    out.write_text(json.dumps([result]))


# --- parent: orchestrate ------------------------------------------------------------------------


COLUMNS = [
    Column("request", lambda r: str(r["kind"]), numeric=False),
    Column("count", lambda r: f"{r['count']:,}"),
    Column("errors", lambda r: str(r["errors"])),
    Column("refused", lambda r: str(r["refused"])),
    Column("median ms", lambda r: f"{r['median_ms']:.0f}"),
    Column("p95 ms", lambda r: f"{r['p95_ms']:.0f}"),
]


def _checks(result: dict[str, Any]) -> tuple[dict[str, bool], dict[str, bool]]:
    """(correctness checks, which always fail the run; the latency target)."""
    ledger = result["ledger"]
    correctness = {
        "error rate 0 (every request answered as a browser expects)": result["errors"] == 0,
        f"ledger balances ({ledger['orders']} orders checked)": ledger["balances"],
    }
    slowest = max((k["p95_ms"] for k in result["kinds"]), default=0.0)
    latency = {f"p95 under {TARGET_P95_MS:.0f} ms for every request": slowest < TARGET_P95_MS}
    return correctness, latency


def _summary(result: dict[str, Any]) -> str:
    ledger = result["ledger"]
    return (
        f"{result['database_version']}: {result['orders']} orders, {result['buyers']} buyers, "
        f"{result['sales']} sales staff, {result['workers']} gunicorn workers: "
        f"{result['requests']:,} requests in {result['seconds']} s = "
        f"{result['requests_per_second']} req/s, {result['errors']} errors "
        f"(rate {result['error_rate']}), {result['refused']} refused captures, "
        f"{result['webhooks']} webhooks ({result['webhook_errors']} not accepted); "
        f"client and simulator CPU {result['client_cpu_seconds']} s; ledger balances: "
        f"{'yes' if ledger['balances'] else 'NO'} ({ledger['orders']} orders, "
        f"{ledger['authorizations']} authorizations, {ledger['captures']} captures, "
        f"{ledger['refunds']} refunds); worker peak RSS {result['worker_peak_rss_mb']:.0f} MB; "
        f"load average {result['load_average']}"
    )


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    if common.postgres_server_url() is None:
        print("Load run: no PostgreSQL server (set BENCH_POSTGRES_URL); nothing measured.")
        return 0
    results = common.run_postgres("bench.load", [_setting("BENCH_LOAD_ORDERS", 400, 100)])
    if not results:
        return 1
    result = results[0]
    correctness, latency = _checks(result)
    common.print_report(common.markdown_table(COLUMNS, result["kinds"]), correctness | latency)
    print(f"\n{_summary(result)}")
    for problem in result["failures"] + result["ledger"]["problems"]:
        print(f"  - {problem}")
    common.write_results(
        RESULTS,
        {
            "benchmark": "load: buyers checking out by card while sales staff capture",
            "size": data.bench_size(),
            "cpu_count": os.cpu_count(),
            "results": results,
            "targets": correctness | latency,
        },
    )
    if not all(correctness.values()):
        return 1
    return common.exit_status(results, latency)


if __name__ == "__main__":
    sys.exit(main())
