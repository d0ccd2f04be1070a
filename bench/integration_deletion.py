"""How long deleting an integration takes, and its confirmation, as the rules using it pile up.

    python -m bench.integration_deletion              # or: make bench (after rules_resolution)
    BENCH_SIZES=100,1000 python -m bench.integration_deletion

For SQLite (a temporary file) and PostgreSQL (when `BENCH_POSTGRES_URL` is set, or a server on
127.0.0.1:5432 answers as `postgres`; a scratch database `bench_payments_<pid>` is created and
dropped), a fresh database is migrated; then, for 100, 1,000 and 10,000 rules, a money order
integration (no secrets) is created with `integrations.services.integration_create` and its
method is put into that many bulk-inserted rules. Every other rule also has an enabled method of
a second integration (Payment Terms), so deleting the first disables half of the rules and leaves
the other half enabled; 20 unrelated rules use only the second integration. After ANALYZE (on
PostgreSQL, what autovacuum would do after a bulk load), each size measures:

- `integrations.deletion.deletion_impact()`: the data of the confirmation page (the page itself
  is also rendered once, to count its queries);
- `integrations.deletion.integration_delete()`.

Deletion is destructive, so every run is wrapped in `transaction.atomic()` and rolled back with
`transaction.set_rollback(True)`: each run starts from the same data, and the setup is done once
per size. (`integration_delete` is itself atomic; here it runs in a savepoint, so the timings
leave out the final COMMIT.) One untimed run first counts the
queries (the SAVEPOINT and RELEASE around `integration_delete` included: 2 of the count); then
BENCH_RUNS (default 10) timed runs give the median and the p95 (with fewer than 20
runs, the p95 is the slowest run). Each size's rules are deleted before the next size is set up.

The results are printed as a Markdown table and written to bench-results/integration_deletion.json.
Targets: the same deletion query count and the same confirmation query count at every size; a
median deletion under 2 s at 10,000 rules on PostgreSQL.

Settings (environment variables):

    BENCH_SIZES           rule counts, comma-separated (default 100,1000,10000)
    BENCH_RUNS            timed runs per size (default 10), after one counting run
    BENCH_DATABASES       which databases to try (default sqlite,postgres)
    BENCH_POSTGRES_URL    a PostgreSQL server URL whose user may create databases
    BENCH_PROFILE         1: print a cProfile of the deletions at the largest size (to stderr)
    BENCH_STRICT          1: exit with status 1 when a target is missed
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench import common
from bench.common import ROOT, Column

RESULTS = ROOT / "bench-results" / "integration_deletion.json"
DEFAULT_SIZES = (100, 1_000, 10_000)
DEFAULT_RUNS = 10
UNRELATED_RULES = 20
TARGET_DELETE_MS = 2_000.0
TARGET_DATABASE = "postgresql"
TARGET_AT_RULES = 10_000
CURRENCIES = ["USD", "EUR", "GBP", "CAD"]


# --- child: one database ------------------------------------------------------------------------


def _child(label: str, sizes: list[int], out: Path) -> None:
    common.setup_django_and_migrate(label)

    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from integrations.deletion import deletion_impact, integration_delete
    from integrations.models import Integration

    runs = int(os.environ.get("BENCH_RUNS", str(DEFAULT_RUNS)))
    actor = User.objects.create(username="bench", is_superuser=True)
    other_method_id = _create_integration("PAYMENT_TERM", "Terms", actor)
    results = []
    for size in sorted(sizes):
        started = time.perf_counter()
        integration_id = _setup(size, other_method_id, actor)
        setup_seconds = time.perf_counter() - started

        def fresh(pk: int = integration_id) -> Integration:
            return Integration.objects.get(pk=pk)

        # The confirmation: its data, then (once) the page fragment the view renders from it.
        integration = fresh()
        with CaptureQueriesContext(connection) as impact_queries:
            impact = deletion_impact(integration=integration)
        with CaptureQueriesContext(connection) as page_queries:
            page_html = _render_confirmation(integration, actor)
        impact_timings = common.timed_runs(runs, partial(deletion_impact, integration=integration))

        # The deletion: a counting run, then the timed ones; each rolled back.
        with transaction.atomic():
            integration = fresh()
            with CaptureQueriesContext(connection) as delete_queries:
                report = integration_delete(integration=integration, actor=actor)
            transaction.set_rollback(True)
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "1" and size == max(sizes):
            import cProfile

            profiler = cProfile.Profile()
        delete_timings = []
        for _ in range(runs):
            with transaction.atomic():
                integration = fresh()
                if profiler is not None:
                    profiler.enable()
                t0 = time.perf_counter()
                integration_delete(integration=integration, actor=actor)
                delete_timings.append((time.perf_counter() - t0) * 1000)
                if profiler is not None:
                    profiler.disable()
                transaction.set_rollback(True)
        if profiler is not None:
            import pstats

            print(f"[{label}] profile of {runs} deletions at {size} rules:", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)

        impact_stats = common.timing_stats(impact_timings)
        delete_stats = common.timing_stats(delete_timings)
        result = {
            "database": label,
            "database_version": common.database_version(connection),
            "rules": size,
            "impact_median_ms": impact_stats.median_ms,
            "impact_p95_ms": impact_stats.p95_ms,
            "impact_queries": len(impact_queries),
            "page_queries": len(page_queries),
            "delete_median_ms": delete_stats.median_ms,
            "delete_p95_ms": delete_stats.p95_ms,
            "delete_min_ms": delete_stats.min_ms,
            "delete_max_ms": delete_stats.max_ms,
            "delete_queries": len(delete_queries),
            "rules_affected": report.rules_affected,
            "rules_disabled": report.rules_disabled,
            "rule_methods_disabled": report.rule_methods_disabled,
            "impact_rules_to_disable": impact.rules_to_disable.total,
            "page_bytes": len(page_html),
            "runs": runs,
            "setup_s": round(setup_seconds, 2),
        }
        print(
            f"[{label}] {size:>6} rules: impact median {impact_stats.median_ms:.2f} ms "
            f"({len(impact_queries)} queries, page {len(page_queries)}), delete median "
            f"{delete_stats.median_ms:.2f} ms, p95 {delete_stats.p95_ms:.2f} ms "
            f"({len(delete_queries)} queries; {report.rules_affected} affected, "
            f"{report.rules_disabled} disabled) (setup {setup_seconds:.1f}s)",
            file=sys.stderr,
        )
        results.append(result)
        _teardown(integration_id)
    out.write_text(json.dumps(results))


def _create_integration(type_name: str, name: str, actor: Any) -> int:
    """An offline integration (no secrets) through the service; the id of its first method."""
    from integrations.services import integration_create
    from integrations.types import Environment, IntegrationType

    settings: dict[str, Any] = {
        "MONEY_ORDER": {"label": "Check/Money Order", "short_label": "Check", "pay_to": "Acme"},
        "PAYMENT_TERM": {"label": "Payment Terms", "short_label": "Terms"},
    }[type_name]
    integration = integration_create(
        type=IntegrationType[type_name],
        name=name,
        is_active=True,
        environment=Environment.OFFLINE,
        settings=settings,
        secrets={},
        actor=actor,
    )
    return integration.methods.order_by("id").values_list("pk", flat=True)[0]


def _setup(size: int, other_method_id: int, actor: Any) -> int:
    """A money order integration used by `size` rules (half also using `other_method_id`), plus
    unrelated rules; the integration's id."""
    from django.db import connection, transaction

    from integrations.models import PaymentMethod
    from rules.models import PaymentRule, PaymentRuleMethod

    with transaction.atomic():
        method_id = _create_integration("MONEY_ORDER", f"Check {size}", actor)
        integration_id = PaymentMethod.objects.get(pk=method_id).integration_id
        rules = PaymentRule.objects.bulk_create(
            [
                PaymentRule(
                    name=f"Bench {size} rule {n}",
                    sort_order=n % 1000,
                    currency=CURRENCIES[n % len(CURRENCIES)],
                )
                for n in range(size + UNRELATED_RULES)
            ],
            batch_size=1000,
        )
        rule_methods = []
        for n, rule in enumerate(rules):
            if n < size:
                rule_methods.append(PaymentRuleMethod(rule_id=rule.pk, method_id=method_id))
            if n % 2 == 1 or n >= size:  # odd rules keep an enabled method after the deletion
                rule_methods.append(PaymentRuleMethod(rule_id=rule.pk, method_id=other_method_id))
        PaymentRuleMethod.objects.bulk_create(rule_methods, batch_size=1000)
    common.analyze(connection)
    return integration_id


def _teardown(integration_id: int) -> None:
    """Remove a size's rules and integration, so that the next size starts from the same base."""
    from django.db import transaction

    from integrations.models import Integration
    from rules.models import PaymentRule, PaymentRuleMethod

    integration = Integration.objects.get(pk=integration_id)
    with transaction.atomic():
        size = integration.name.removeprefix("Check ")
        rules = PaymentRule.objects.filter(name__startswith=f"Bench {size} rule ")
        PaymentRuleMethod.objects.filter(rule__in=rules).delete()
        rules.delete()
        integration.methods.all().delete()
        integration.delete()


def _render_confirmation(integration: Any, actor: Any) -> str:
    """The confirmation fragment, built and rendered as integrations.views._confirmation does
    (its queries: deletion_impact's and the template's)."""
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from integrations import views
    from integrations.deletion import deletion_impact

    request = RequestFactory().get(f"/integrations/{integration.pk}/delete/?partial=1")
    request.user = actor
    impact = deletion_impact(integration=integration)
    context = {
        "integration": integration,
        "impact": impact,
        "action": "delete",
        "review_url": views._rules_url(impact.affected_rule_ids, integration),
        "next": "",
    }
    return render_to_string("integrations/_confirm_body.html", context, request=request)


# --- parent: orchestrate ------------------------------------------------------------------------


COLUMNS = [
    Column("database", lambda r: str(r["database"]), numeric=False),
    Column("rules", lambda r: f"{r['rules']:,}"),
    Column("impact median ms", lambda r: f"{r['impact_median_ms']:.2f}"),
    Column("impact queries", lambda r: str(r["impact_queries"])),
    Column("delete median ms", lambda r: f"{r['delete_median_ms']:.2f}"),
    Column("delete p95 ms", lambda r: f"{r['delete_p95_ms']:.2f}"),
    Column("delete queries", lambda r: str(r["delete_queries"])),
    Column("rules disabled", lambda r: f"{r['rules_disabled']:,}"),
]


def _targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for database, rows in common.by_database(results).items():
        checks[f"{database}: same deletion query count at every size"] = (
            len({r["delete_queries"] for r in rows}) == 1
        )
        counts = {max(r["impact_queries"], r["page_queries"]) for r in rows}
        checks[f"{database}: same confirmation query count at every size"] = len(counts) == 1
        at_target = [r for r in rows if r["rules"] == TARGET_AT_RULES]
        if database == TARGET_DATABASE and at_target:
            name = f"{database}: deletion median under {TARGET_DELETE_MS / 1000:g} s at "
            checks[f"{name}{TARGET_AT_RULES:,}"] = at_target[0]["delete_median_ms"] < (
                TARGET_DELETE_MS
            )
    return checks


def main() -> int:
    child = common.child_arguments()
    if child is not None:
        _child(*child)
        return 0
    sizes = common.sizes_from_environment(DEFAULT_SIZES)
    results = common.run_databases("bench.integration_deletion", sizes)
    checks = _targets(results)
    common.print_report(common.markdown_table(COLUMNS, results), checks)
    common.write_results(
        RESULTS,
        {
            "benchmark": "integrations.deletion: deletion_impact and integration_delete",
            "runs": int(os.environ.get("BENCH_RUNS", str(DEFAULT_RUNS))),
            "isolation": "each run in transaction.atomic() and rolled back",
            "sizes": sizes,
            "results": results,
            "targets": checks,
        },
    )
    return common.exit_status(results, checks)


if __name__ == "__main__":
    sys.exit(main())
