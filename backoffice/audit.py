"""Writing and reading the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, QuerySet

from backoffice.models import AuditEntry

SECRET_CHANGED = "changed"
SECRET_SET = "set"


def audit_record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    target: Model,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry about `target`."""
    return AuditEntry.objects.create(
        actor=actor if isinstance(actor, User) else None,
        action=action,
        object_type=target._meta.label_lower,
        object_id=target.pk,
        object_repr=str(target)[:255],
        changes=changes or {},
    )


def audit_entries_for(*, target: Model, limit: int = 50) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        object_type=target._meta.label_lower, object_id=target.pk
    ).select_related("actor")[:limit]
