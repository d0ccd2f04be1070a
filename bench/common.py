"""What the benchmarks share: one child process per database, scratch PostgreSQL databases,
timing statistics, the Markdown table, the targets and the JSON results.

A benchmark module provides `child(label, sizes, out)` (run in the child, after Django is set up
against the database it was given; it writes a JSON list of result rows to `out`) and calls
`run_databases(module, sizes)` in the parent. The child is started as
`python -m <module> --child <label> <out> <sizes>`; `child_arguments()` recognises that.

Environment variables read here:

    BENCH_SIZES           rule counts, comma-separated
    BENCH_SIZE            small: the reduced run CI makes (all but the largest default size)
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_STRICT          1: exit with status 1 when a target is missed
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench-results"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

Row = dict[str, Any]


# --- child side ---------------------------------------------------------------------------------


def child_arguments() -> tuple[str, list[int], Path] | None:
    """(label, sizes, out), as `child()` takes them, when this process is a child; else None."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        label, out, sizes = sys.argv[2], Path(sys.argv[3]), sys.argv[4]
        return label, [int(s) for s in sizes.split(",")], out
    return None


def setup_django_and_migrate(label: str) -> None:
    """Set Django up against the child's database and migrate it."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    django.setup()

    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"[{label}] migrated in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def database_version(connection: Any) -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def analyze(connection: Any) -> None:
    """On PostgreSQL, what autovacuum does after a bulk load.

    Without statistics the planner takes freshly filled tables for empty and picks plans (nested
    loops, sequential scans per row) that no production database would use.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def percentile(sorted_timings: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (with fewer than 20 runs, p95 = max)."""
    return sorted_timings[max(0, math.ceil(fraction * len(sorted_timings)) - 1)]


@dataclass(frozen=True)
class Stats:
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float


def timed_runs(runs: int, call: Callable[[], object]) -> list[float]:
    """Milliseconds each of `runs` calls of `call` took."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def timing_stats(timings_ms: Iterable[float]) -> Stats:
    ordered = sorted(timings_ms)
    return Stats(
        median_ms=round(statistics.median(ordered), 3),
        p95_ms=round(percentile(ordered, 0.95), 3),
        min_ms=round(ordered[0], 3),
        max_ms=round(ordered[-1], 3),
    )


# --- parent side --------------------------------------------------------------------------------


def sizes_from_environment(default: Sequence[int]) -> list[int]:
    """BENCH_SIZES; else `default`, without its largest size under BENCH_SIZE=small (CI)."""
    text = os.environ.get("BENCH_SIZES", "")
    if not text.strip():
        if os.environ.get("BENCH_SIZE", "").strip().lower() == "small" and len(default) > 1:
            return sorted(default)[:-1]
        return list(default)
    return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})


def run_child(module: str, label: str, database_url: str, sizes: list[int]) -> list[Row]:
    """Run `python -m module --child …` against `database_url`; its result rows, [] on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "PAYMENTS_ENVIRONMENT": "sandbox",
            "DEBUG": "false",
            "LOG_LEVEL": "ERROR",
        }
        command = [sys.executable, "-m", module, "--child", label, str(out)]
        completed = subprocess.run(  # noqa: S603 - our own interpreter and module
            [*command, ",".join(map(str, sizes))], cwd=ROOT, env=env, check=False
        )
        if completed.returncode != 0:
            print(f"[{label}] failed with status {completed.returncode}", file=sys.stderr)
            return []
        results: list[Row] = json.loads(out.read_text())
        return results


def postgres_server_url() -> str | None:
    url = os.environ.get("BENCH_POSTGRES_URL", "").strip()
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_POSTGRES_URL
    except OSError:
        return None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def postgres_admin(url: str, statement: str, database: str) -> None:
    """Run `statement` ("CREATE DATABASE {}"…) for `database` on the server at `url`."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin_url = url if parts.path.strip("/") else with_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        query = sql.SQL(statement).format(sql.Identifier(database))
        conn.execute(query)


def run_postgres(module: str, sizes: list[int]) -> list[Row]:
    """Run the child against a scratch database, created and dropped here."""
    server = postgres_server_url()
    if server is None:
        print("PostgreSQL: no server (set BENCH_POSTGRES_URL); skipped.", file=sys.stderr)
        return []
    name = f"bench_payments_{os.getpid()}"
    try:
        postgres_admin(server, "CREATE DATABASE {}", name)
    except Exception as error:
        print(f"PostgreSQL: cannot create a scratch database ({error}); skipped.", file=sys.stderr)
        return []
    try:
        return run_child(module, "postgresql", with_database(server, name), sizes)
    finally:
        postgres_admin(server, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def run_databases(module: str, sizes: list[int]) -> list[Row]:
    """The child's rows for SQLite (a temporary file) and PostgreSQL, as BENCH_DATABASES says."""
    wanted = {d.strip() for d in os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(",")}
    results: list[Row] = []
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            results += run_child(module, "sqlite", f"sqlite:///{tmp}/bench.sqlite3", sizes)
    if wanted & {"postgres", "postgresql"}:
        results += run_postgres(module, sizes)
    return results


@dataclass(frozen=True)
class Column:
    header: str
    format: Callable[[Row], str]
    numeric: bool = True


def markdown_table(columns: Sequence[Column], rows: Iterable[Row]) -> str:
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.format(row) for c in columns) + " |")
    return "\n".join(lines)


def by_database(results: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for r in results:
        grouped.setdefault(r["database"], []).append(r)
    return grouped


def print_report(table: str, checks: dict[str, bool]) -> None:
    print()
    print(table)
    print()
    for name, ok in checks.items():
        print(f"- {'met' if ok else 'MISSED'}: {name}")


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """`payload` with when, on which Python and machine, as indented JSON."""
    document = {
        "benchmark": payload.pop("benchmark"),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        **payload,
    }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nWrote {path.relative_to(ROOT)}")


def exit_status(results: list[Row], checks: dict[str, bool]) -> int:
    """1 when nothing ran, or (under BENCH_STRICT=1) when a target is missed; else 0."""
    if not results:
        return 1
    if os.environ.get("BENCH_STRICT") == "1" and not all(checks.values()):
        return 1
    return 0
