"""The repeatable destination rows of the rule form: country, optional region, postal codes."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, cast

import pycountry
from django import forms
from django_countries import countries

from rules.services import DestinationData

MAX_POSTAL_CODE_LENGTH = 20
MAX_DESTINATIONS = 100
_POSTAL_CODE = re.compile(r"[A-Za-z0-9 *-]+")


@cache
def subdivisions_by_country() -> dict[str, list[tuple[str, str]]]:
    """ISO 3166-2 subdivisions per ISO 3166-1 alpha-2 country, sorted by name."""
    found: dict[str, list[tuple[str, str]]] = {}
    for subdivision in pycountry.subdivisions:
        found.setdefault(subdivision.country_code, []).append((subdivision.code, subdivision.name))
    return {code: sorted(items, key=lambda item: item[1]) for code, items in found.items()}


def region_label(code: str) -> str:
    subdivision = pycountry.subdivisions.get(code=code) if code else None
    return f"{subdivision.name} ({code})" if subdivision else code


def clean_postal_codes(text: str) -> str:
    """Normalise "10001,940* " to "10001, 940*"; raise ValidationError naming a bad entry."""
    codes = [code.strip() for code in text.split(",") if code.strip()]
    for code in codes:
        if len(code) > MAX_POSTAL_CODE_LENGTH:
            raise forms.ValidationError(
                f"“{code[:30]}” is too long: keep each code or pattern to "
                f"{MAX_POSTAL_CODE_LENGTH} characters."
            )
        if not _POSTAL_CODE.fullmatch(code):
            raise forms.ValidationError(
                f"“{code}” is not a postal code or pattern: use letters, digits, spaces, "
                "hyphens and * only."
            )
    return ", ".join(codes)


class DestinationForm(forms.Form):
    country = forms.ChoiceField(
        label="Country", error_messages={"required": "Choose a country for this destination."}
    )
    region = forms.CharField(
        label="Region",
        required=False,
        max_length=10,
        # A select filled with the chosen country's subdivisions; validated in clean().
        widget=forms.Select(),
    )
    postal_codes = forms.CharField(
        label="Postal codes",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. 10001, 940*"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["country"]).choices = [
            ("", "Choose a country"),
            *countries,
        ]
        country = self._current_country()
        cast(forms.Select, self.fields["region"].widget).choices = [
            ("", "Whole country"),
            *subdivisions_by_country().get(country, []),
        ]

    def _current_country(self) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix("country"), ""))
        return str(self.initial.get("country", ""))

    def clean_postal_codes(self) -> str:
        return clean_postal_codes(self.cleaned_data.get("postal_codes", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        country = cleaned.get("country")
        region = cleaned.get("region", "")
        if country and region:
            known = dict(subdivisions_by_country().get(country, []))
            if region not in known:
                name = countries.name(country)
                self.add_error(
                    "region",
                    f"“{region}” is not a region of {name}. "
                    "Choose one of its regions, or the whole country.",
                )
        return cleaned

    def destination(self) -> DestinationData:
        return DestinationData(
            country=self.cleaned_data["country"],
            region=self.cleaned_data.get("region", ""),
            postal_codes=self.cleaned_data.get("postal_codes", ""),
        )


BaseDestinationFormSet = forms.formset_factory(
    DestinationForm,
    extra=1,
    can_delete=True,
    max_num=MAX_DESTINATIONS,
    validate_max=True,
    # Django builds up to max_num + 1000 forms for whatever TOTAL_FORMS a POST claims: a forged
    # count made one request render 1,100 rows (30 s). Build no more than a rule may have.
    absolute_max=MAX_DESTINATIONS,
)


class DestinationFormSet(BaseDestinationFormSet):  # type: ignore[misc,valid-type]
    """Destinations of one rule; rows left empty or marked for removal are dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "destinations")
        super().__init__(*args, **kwargs)

    def destinations(self) -> tuple[DestinationData, ...]:
        return tuple(
            form.destination()
            for form in self.forms
            # An untouched extra row has no cleaned data: it is not a destination.
            if form.cleaned_data.get("country") and not self._should_delete_form(form)
        )
