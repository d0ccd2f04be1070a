"""Payment rules decide which payment methods a checkout may use."""

from __future__ import annotations

from django.db import models

from integrations.models import PaymentMethod


class PaymentRule(models.Model):
    name = models.CharField(max_length=255)
    enabled = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0, help_text="Lower runs first.")
    currency = models.CharField(max_length=3)
    stop_processing = models.BooleanField("stop further rule processing", default=False)
    expression = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["enabled", "currency", "sort_order"])]

    def __str__(self) -> str:
        return self.name


class PaymentRuleMethod(models.Model):
    """One payment method in a rule, with its own switch."""

    rule = models.ForeignKey(PaymentRule, on_delete=models.CASCADE, related_name="methods")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="rule_methods")
    enabled = models.BooleanField(default=True)
    # Why the system switched it off (e.g. its integration was deleted); '' when it did not.
    disabled_reason = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "method"], name="rule_method_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.method}"
