"""Back-office list pages at 1× and 10× the data: time per page, queries per page, growth ratio.

    python -m bench.list_pages                        # or: make bench
    BENCH_SIZE=small python -m bench.list_pages       # CI: a hundredth and a tenth of the data

For SQLite (a temporary file) and PostgreSQL (when `BENCH_POSTGRES_URL` is set, or a server on
127.0.0.1:5432 answers as `postgres`; a scratch database `bench_payments_<pid>` is created and
dropped), a fresh database is migrated and `bench.data.Dataset` bulk-inserts a tenth of the
issue's data set (100 integrations, 1,000 rules, 10,000 orders, 30,000 transactions), the pages
are measured, then it grows to the whole set (1,000 integrations of which 100 deleted, 10,000
rules, 100,000 orders, 300,000 transactions) and they are measured again. SQLite, and every
database under BENCH_SIZE=small, uses a tenth of those sizes.

Each page (the integrations list, the rules list, the orders list unfiltered and with each of its
filters) is fetched by a signed-in administrator through `django.test.Client`: BENCH_WARMUP
untimed requests (default 3), one under `CaptureQueriesContext` to count its SQL queries, then
BENCH_RUNS timed ones (default 30; 10 under BENCH_SIZE=small), giving the median and p95. The
growth ratio is the median at 10× divided by the median at 1×, both from the same run.

The results are printed as a Markdown table and written to bench-results/list_pages.json.
Targets: a median under 100 ms at the full size on PostgreSQL, and the same query count at both
sizes for every page. Settings (environment variables):

    BENCH_SIZE            small: the reduced data set (CI)
    BENCH_RUNS            timed requests per page and size, after BENCH_WARMUP (default 3)
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_PROFILE         1: print a cProfile of the requests at the larger size (to stderr)
    BENCH_STRICT          1: exit with status 1 when a target is missed
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench import common, data
from bench.common import ROOT, Column

RESULTS = ROOT / "bench-results" / "list_pages.json"
TARGET_MEDIAN_MS = 100.0
TARGET_DATABASE = "postgresql"


def _runs() -> int:
    return int(os.environ.get("BENCH_RUNS", "10" if data.bench_size() == "small" else "30"))


def _pages(dataset: data.Dataset) -> dict[str, str]:
    from integrations.models import PaymentMethod

    method = PaymentMethod.objects.get(pk=dataset.method_ids[0])
    return {
        "integrations": "/admin/integrations/",
        "rules": "/admin/payment-rules/",
        "rules, one integration": f"/admin/payment-rules/?integration={method.integration_id}",
        "orders": "/admin/orders/",
        "orders, status": "/admin/orders/?status=authorized",
        "orders, method label": f"/admin/orders/?method={method.admin_label}",
        "orders, method id": f"/admin/orders/?method={method.pk}",
        "orders, website": f"/admin/orders/?website={dataset.website_ids[1]}",
        "orders, awaiting capture": "/admin/orders/?awaiting_capture=on",
        "orders, expires within 7 days": "/admin/orders/?expires_within=7",
        "orders, last page": "/admin/orders/?page=last",
    }


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # the test client's host, as the test suite has it
    warnings.filterwarnings("ignore", message="No directory at")
    runs, warmup = _runs(), int(os.environ.get("BENCH_WARMUP", "3"))
    scales = data.SCALES["small"] if label == "sqlite" else data.scales_from_environment()
    dataset = data.Dataset()
    client = Client()
    client.force_login(dataset.admin)
    results = []
    for scale in scales:
        started = time.perf_counter()
        counts = dataset.grow_to(scale)
        setup_seconds = time.perf_counter() - started
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "1" and scale == max(scales):
            import cProfile

            profiler = cProfile.Profile()
        for page, url in _pages(dataset).items():
            for _ in range(warmup):
                client.get(url)
            # Each request starts by clearing the query log (Django's request_started handler):
            # start empty, so what the context captures is exactly this request's queries.
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            query_count = len(queries)  # now: the next request clears the log it reads
            assert response.status_code == 200, (url, response.status_code)
            timings = []
            for _ in range(runs):
                if profiler is not None:
                    profiler.enable()
                t0 = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - t0) * 1000)
                if profiler is not None:
                    profiler.disable()
            stats = common.timing_stats(timings)
            result = {
                "database": label,
                "database_version": common.database_version(connection),
                "scale": scale,
                **counts,
                "page": page,
                "url": url,
                "median_ms": stats.median_ms,
                "p95_ms": stats.p95_ms,
                "min_ms": stats.min_ms,
                "queries": query_count,
                "runs": runs,
                "setup_s": round(setup_seconds, 1),
                "load_average": round(os.getloadavg()[0], 2),
            }
            print(
                f"[{label}] scale {scale:g} {page}: median {stats.median_ms:.1f} ms, "
                f"p95 {stats.p95_ms:.1f} ms, {query_count} queries",
                file=sys.stderr,
            )
            results.append(result)
        if profiler is not None:
            import pstats

            print(f"[{label}] profile at scale {scale:g}:", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    out.write_text(json.dumps(_with_growth(results)))


def _with_growth(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per page: the larger size's figures, with the smaller's median and query count."""
    small_scale = min(r["scale"] for r in results)
    smaller = {r["page"]: r for r in results if r["scale"] == small_scale}
    rows = []
    for r in results:
        if r["scale"] == small_scale:
            continue
        base = smaller[r["page"]]
        rows.append(
            {
                **r,
                "median_ms_at_1x": base["median_ms"],
                "queries_at_1x": base["queries"],
                "growth": round(r["median_ms"] / base["median_ms"], 2),
            }
        )
    return rows


# --- parent: orchestrate ------------------------------------------------------------------------


COLUMNS = [
    Column("database", lambda r: str(r["database_version"]).split(" (")[0], numeric=False),
    Column("page", lambda r: str(r["page"]), numeric=False),
    Column("rows (10×)", lambda r: _rows(r)),
    Column("median ms", lambda r: f"{r['median_ms']:.1f}"),
    Column("p95 ms", lambda r: f"{r['p95_ms']:.1f}"),
    Column("queries", lambda r: str(r["queries"])),
    Column("median ms at 1×", lambda r: f"{r['median_ms_at_1x']:.1f}"),
    Column("growth 10×/1×", lambda r: f"{r['growth']:.2f}"),
]


def _rows(row: dict[str, Any]) -> str:
    if row["page"].startswith("integrations"):
        return f"{row['integrations']:,}"
    if row["page"].startswith("rules"):
        return f"{row['rules']:,}"
    return f"{row['orders']:,}"


def _targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for database, rows in common.by_database(results).items():
        checks[f"{database}: same query count at 1× and 10× on every page"] = all(
            r["queries"] == r["queries_at_1x"] for r in rows
        )
        if database == TARGET_DATABASE and data.bench_size() == "full":
            for r in rows:
                checks[f"{database}: {r['page']} median under {TARGET_MEDIAN_MS:g} ms"] = (
                    r["median_ms"] < TARGET_MEDIAN_MS
                )
    return checks


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    results = common.run_databases("bench.list_pages", [0])
    checks = _targets(results)
    common.print_report(common.markdown_table(COLUMNS, results), checks)
    common.write_results(
        RESULTS,
        {
            "benchmark": "back-office list pages through django.test.Client",
            "size": data.bench_size(),
            "runs": _runs(),
            "results": results,
            "targets": checks,
        },
    )
    return common.exit_status(results, checks)


if __name__ == "__main__":
    sys.exit(main())
