from __future__ import annotations

from typing import Any

from django import forms

from backoffice.form_fields import IdsChoiceField
from backoffice.models import Customer, CustomerGroup, PaymentTerm


class PaymentTermForm(forms.Form):
    label = forms.CharField(label="Label", max_length=255, help_text='For example "Net 30".')
    customers = IdsChoiceField(
        label="Customers",
        queryset=Customer.objects.select_related("group"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A customer's own term wins over its group's.",
    )
    groups = IdsChoiceField(
        label="Customer groups",
        queryset=CustomerGroup.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Customers without a term of their own get their group's.",
    )

    def __init__(self, *args: Any, instance: PaymentTerm | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "label": instance.label,
                "customers": list(instance.customers.all()),
                "groups": list(instance.groups.all()),
            }
        super().__init__(*args, **kwargs)

    def clean_label(self) -> str:
        label: str = self.cleaned_data["label"].strip()
        clash = PaymentTerm.objects.filter(label__iexact=label)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("A payment term with this label already exists.")
        return label
