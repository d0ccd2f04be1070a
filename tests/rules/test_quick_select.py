"""The rules list's integration select, joined in Python, renders as Django's Select does."""

from __future__ import annotations

from django import forms

from rules.forms import QuickSelect

CHOICES = [("", "All integrations"), ("7", "Cards"), ("12", "<b>Old & gone</b> (deleted)")]


class Filters(forms.Form):
    integration = forms.ChoiceField(required=False, choices=CHOICES, widget=QuickSelect)


class Reference(forms.Form):
    integration = forms.ChoiceField(required=False, choices=CHOICES)


def _options(html: str) -> list[str]:
    return [line.strip() for line in html.splitlines() if line.strip().startswith("<option")]


def test_marks_the_chosen_integration_and_escapes_names() -> None:
    html = str(Filters({"integration": "12"})["integration"])
    assert html.startswith('<select name="integration" id="id_integration">')
    assert _options(html) == [
        '<option value="">All integrations</option>',
        '<option value="7">Cards</option>',
        '<option value="12" selected>&lt;b&gt;Old &amp; gone&lt;/b&gt; (deleted)</option>',
    ]


def test_same_options_as_djangos_select() -> None:
    for data in ({}, {"integration": "7"}, {"integration": "nonsense"}):
        assert _options(str(Filters(data)["integration"])) == _options(
            str(Reference(data)["integration"])
        )
