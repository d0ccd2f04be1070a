"""Payment rules decide which payment methods a checkout may use."""

from __future__ import annotations

from django.db import models
from django_countries.fields import CountryField

from backoffice.models import CustomerGroup, Website
from integrations.models import PaymentMethod


class PaymentRule(models.Model):
    name = models.CharField(max_length=255)
    enabled = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0, help_text="Lower runs first.")
    currency = models.CharField(max_length=3)
    stop_processing = models.BooleanField("stop further rule processing", default=False)
    expression = models.TextField(blank=True, default="")
    websites = models.ManyToManyField(Website, blank=True, related_name="+")
    customer_groups = models.ManyToManyField(CustomerGroup, blank=True, related_name="+")
    min_total = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    max_total = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
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


class PaymentRuleDestination(models.Model):
    """Where a rule applies: a country, optionally one of its regions and some postal codes."""

    rule = models.ForeignKey(PaymentRule, on_delete=models.CASCADE, related_name="destinations")
    country = CountryField()
    # ISO 3166-2 code such as "US-CA"; '' for the whole country.
    region = models.CharField(max_length=10, blank=True, default="")
    # Comma-separated exact codes or patterns with `*`, e.g. "10001, 940*"; '' for any.
    postal_codes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["country", "region"])]

    def __str__(self) -> str:
        parts = [self.region, str(self.country)]
        text = ", ".join(p for p in parts if p)
        return f"{text} {self.postal_codes}".strip()

    def postal_patterns(self) -> list[str]:
        return [code.strip() for code in self.postal_codes.split(",") if code.strip()]


class RuleSetVersion(models.Model):
    """One row whose token the database changes on every write that rule evaluation could see.

    Triggers (migration 0003) replace the token after any insert, update or delete on the rules,
    their methods, destinations, websites and customer groups, and on payment methods and
    integrations, so bulk updates and raw SQL count too. Checkout keeps the rules it loaded
    under a token and reloads them when the token changes (`rules.cached_rules`).
    """

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.token
