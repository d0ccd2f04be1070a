"""The payment rule form (its destination rows are in destination_forms) and the list filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice.form_fields import IdsChoiceField
from backoffice.models import CustomerGroup, Website
from integrations.models import PaymentMethod
from rules import expressions, selectors
from rules.models import PaymentRule, PaymentRuleMethod
from rules.presentation import currency_choices, method_label, method_note
from rules.services import RuleData, RuleMethodData, method_enable_refusal

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SORT_ORDER_RANGE = f"Enter a whole number from {INT32_MIN:,} to {INT32_MAX:,}."
NO_METHOD = "Choose at least one payment method."


@dataclass(frozen=True)
class MethodRow:
    """One line of the payment methods table."""

    method: PaymentMethod
    label: str
    used: bool
    enabled: bool
    note: str
    can_enable: bool


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class QuickSelect(forms.Select):
    """A select whose options are joined in Python instead of one template render each.

    The rules list offers every integration, live or deleted: with a thousand of them Django's
    per-option templates took most of the page's time (see bench.list_pages).
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = set(self.format_value(value))
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            (
                (key, " selected" if str(key) in chosen else "", label)
                for key, label in self.choices
            ),
        )
        return format_html(
            '<select name="{}"{}>\n{}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            options,
        )


class RuleFilterForm(forms.Form):
    """The list's query string; each bad value is ignored on its own (see views.rule_list)."""

    q = forms.CharField(required=False, max_length=255, label="Name")
    enabled = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("yes", "Enabled"), ("no", "Disabled")]
    )
    currency = forms.ChoiceField(required=False)
    integration = forms.ChoiceField(required=False, widget=QuickSelect)
    ids = forms.CharField(required=False, max_length=20000)
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in selectors.SORTS for key in (name, f"-{name}")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "currency").choices = [("", "All currencies"), *currency_choices()]
        _choice_field(self, "integration").choices = [
            ("", "All integrations"),
            *(
                (str(i.pk), f"{i.name} (deleted)" if i.is_deleted else i.name)
                for i in selectors.integrations_for_filter().only("name", "deleted_at")
            ),
        ]


def _checkboxes(queryset: QuerySet[Any], label: str, help_text: str) -> Any:
    return IdsChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.CheckboxSelectMultiple,
    )


def _money(label: str) -> Any:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_digits=19,
        decimal_places=4,
        error_messages={"min_value": "Enter an amount of 0 or more."},
    )


class RuleForm(forms.Form):
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    name = forms.CharField(label="Name", max_length=255)
    sort_order = forms.IntegerField(
        label="Sort order",
        initial=0,
        min_value=INT32_MIN,
        max_value=INT32_MAX,
        help_text="Lower runs first.",
        error_messages={
            "invalid": SORT_ORDER_RANGE,
            "min_value": SORT_ORDER_RANGE,
            "max_value": SORT_ORDER_RANGE,
        },
        widget=forms.NumberInput(attrs={"step": 1}),
    )
    currency = forms.ChoiceField(label="Currency", initial="USD")
    stop_processing = forms.BooleanField(
        label="Stop further rule processing",
        required=False,
        help_text="When this rule matches, rules with a higher sort order are not looked at.",
    )
    websites = _checkboxes(
        Website.objects.order_by(Lower("name")), "Websites", "None ticked: every website."
    )
    customer_groups = _checkboxes(
        CustomerGroup.objects.order_by(Lower("name")),
        "Customer groups",
        "None ticked: every customer, in a group or not.",
    )
    min_total = _money("Minimum order total")
    max_total = _money("Maximum order total")
    expression = forms.CharField(
        label="Expression",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "code"}),
        help_text="Optional. The rule matches only when this is true.",
    )
    methods = IdsChoiceField(
        queryset=PaymentMethod.objects.none(),
        label="Payment methods",
        error_messages={"required": NO_METHOD},
        widget=forms.CheckboxSelectMultiple,
    )
    enabled_methods = IdsChoiceField(
        queryset=PaymentMethod.objects.none(),
        required=False,
        label="Enabled payment methods",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, rule: PaymentRule | None = None, **kwargs: Any) -> None:
        self.current: dict[int, PaymentRuleMethod] = (
            {rm.method_id: rm for rm in rule.methods.all()} if rule else {}
        )
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "enabled": rule.enabled,
                "name": rule.name,
                "sort_order": rule.sort_order,
                "currency": rule.currency,
                "stop_processing": rule.stop_processing,
                "websites": list(rule.websites.all()),
                "customer_groups": list(rule.customer_groups.all()),
                "min_total": rule.min_total,
                "max_total": rule.max_total,
                "expression": rule.expression,
            }
        super().__init__(*args, **kwargs)
        _choice_field(self, "currency").choices = [("", "Choose a currency"), *currency_choices()]
        candidates = selectors.methods_for_rule(current_ids=list(self.current))
        self.candidates = list(candidates)
        for name in ("methods", "enabled_methods"):
            self.fields[name].queryset = candidates  # type: ignore[attr-defined]

    # --- validation ---------------------------------------------------------------------------

    def clean_expression(self) -> str:
        source = str(self.cleaned_data.get("expression", ""))
        if len(source) > expressions.MAX_EXPRESSION_LENGTH:
            raise forms.ValidationError(
                f"Keep expressions to {expressions.MAX_EXPRESSION_LENGTH:,} characters "
                f"(this one has {len(source):,})."
            )
        if source:
            try:
                expressions.validate(source)
            except expressions.ExpressionProblem as problem:
                raise forms.ValidationError(str(problem)) from None
        return source

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_total"), cleaned.get("max_total")
        if low is not None and high is not None and low > high:
            self.add_error("max_total", "The maximum must not be below the minimum.")
        used = cleaned.get("methods") or []
        enabled = {m.pk for m in cleaned.get("enabled_methods") or []}
        for method in used:
            current = self.current.get(method.pk)
            if method.pk in enabled and (current is None or not current.enabled):
                refusal = method_enable_refusal(method)
                if refusal:
                    self.add_error("enabled_methods", refusal)
        return cleaned

    # --- results ------------------------------------------------------------------------------

    def rule_data(self, destinations: tuple[Any, ...]) -> RuleData:
        data = self.cleaned_data
        enabled = {m.pk for m in data["enabled_methods"]}
        used = {m.pk for m in data["methods"]}
        return RuleData(
            name=data["name"],
            enabled=data["enabled"],
            sort_order=data["sort_order"],
            currency=data["currency"],
            stop_processing=data["stop_processing"],
            expression=data["expression"],
            websites=tuple(data["websites"]),
            customer_groups=tuple(data["customer_groups"]),
            min_total=data["min_total"],
            max_total=data["max_total"],
            destinations=destinations,
            # In the table's order, so a new rule offers its methods in the order shown.
            methods=tuple(
                RuleMethodData(method=m, enabled=m.pk in enabled)
                for m in self.candidates
                if m.pk in used
            ),
        )

    # --- layout -------------------------------------------------------------------------------

    def method_rows(self) -> list[MethodRow]:
        if self.is_bound:
            used = set(self.data.getlist("methods"))  # type: ignore[attr-defined]
            enabled = set(self.data.getlist("enabled_methods"))  # type: ignore[attr-defined]
        else:
            used = {str(pk) for pk in self.current}
            # A method ticked for use starts enabled unless the rule has it switched off.
            enabled = {
                str(m.pk)
                for m in self.candidates
                if m.pk not in self.current or self.current[m.pk].enabled
            }
        rows = []
        for method in self.candidates:
            current = self.current.get(method.pk)
            refusal = method_enable_refusal(method)
            rows.append(
                MethodRow(
                    method=method,
                    label=method_label(method),
                    used=str(method.pk) in used,
                    enabled=str(method.pk) in enabled,
                    note=method_note(method, current),
                    can_enable=not refusal or bool(current and current.enabled),
                )
            )
        return rows
