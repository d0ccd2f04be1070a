"""Form fields shared by the back-office forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# What a database id can hold (SQLite's INTEGER and PostgreSQL's bigint: signed 64 bits).
DATABASE_IDS = range(-(2**63), 2**63)


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """A ModelMultipleChoiceField that refuses an id no database column can hold.

    Django guards an exact lookup against such a number but not the `pk__in` query this field
    runs, and SQLite then raises OverflowError (a 500) instead of "not one of the choices".
    """

    def clean(self, value: Any) -> Any:
        for item in value if isinstance(value, list | tuple) else []:
            try:
                number = int(str(item).strip())
            except ValueError:
                continue  # Django's own check answers for what is not a number
            if number not in DATABASE_IDS:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": item},
                )
        return super().clean(value)
