"""How an integration's stored settings read on its page (labels from its form, secrets masked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from integrations.forms import form_class_for
from integrations.models import Integration


@dataclass(frozen=True)
class SettingRow:
    label: str
    value: str
    is_secret: bool = False


def _display(field: forms.Field, value: Any) -> str:
    if isinstance(field, forms.BooleanField):
        return "Yes" if value else "No"
    if value in (None, "", []):
        return "—"
    choices = dict(getattr(field, "choices", []) or [])
    if isinstance(value, list):
        return ", ".join(str(choices.get(item, item)) for item in value)
    return str(choices.get(value, value))


def settings_sections(integration: Integration) -> list[tuple[str, list[SettingRow]]]:
    form = form_class_for(integration.type)(instance=integration)
    masked = form.stored_secrets
    sections = []
    for title, bound_fields in form.sections():
        if title == "General":
            continue
        rows = []
        for bound in bound_fields:
            if bound.name in form.secret_fields:
                rows.append(SettingRow(str(bound.label), masked.get(bound.name, "Not set"), True))
            else:
                rows.append(
                    SettingRow(
                        str(bound.label), _display(bound.field, integration.setting(bound.name))
                    )
                )
        sections.append((title, rows))
    return sections
