"""Checkout's in-process copy of the enabled rules of a currency, reloaded when any rule changes.

Checkout resolves its methods on every page; reading the rules from the database each time cost
five queries and most of the page's time. Instead each process keeps, per currency, the enabled
rules loaded with what evaluation reads, under the rule set's version token (`RuleSetVersion`,
which database triggers change on every write evaluation could see). A checkout reads the token
(one query) and reuses the rules loaded under it, or loads them again.

Reading the token before the rules keeps this safe: rules loaded after reading token T are at
least as new as T, so a later change gives a new token and a reload. Within `checkout_submit`
the rules lock is held while the token is read, so no change can commit between the token and
the provider call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection

from rules.checkout import Checkout
from rules.evaluation import destination_countries, load_for_checkout
from rules.models import PaymentRule, RuleSetVersion

# Databases whose migration installs the triggers that keep the token honest.
_TRIGGERED_VENDORS = frozenset({"postgresql", "sqlite"})


@dataclass(frozen=True)
class CurrencyRules:
    """One currency's enabled rules, by the billing country their destinations name."""

    token: str
    anywhere: tuple[PaymentRule, ...]  # rules without destinations
    by_country: dict[str, tuple[PaymentRule, ...]]

    def for_country(self, country: str) -> list[PaymentRule]:
        """Rules that could apply to a billing address in `country` (`evaluate()` orders them)."""
        return [*self.anywhere, *self.by_country.get(country, ())]


_cache: dict[str, CurrencyRules] = {}
# The rule simulator resolves any currency an administrator types: keep the cache bounded.
_MAX_CURRENCIES = 200


def current_token() -> str | None:
    """The rule set's version token; None where it cannot be trusted (so nothing is cached)."""
    if connection.vendor not in _TRIGGERED_VENDORS:
        return None
    # No row after a test database flush: until a rule write recreates it, nothing is cached.
    return RuleSetVersion.objects.filter(pk=1).values_list("token", flat=True).first()


def rules_for(checkout: Checkout) -> list[PaymentRule] | None:
    """The enabled rules of the checkout's currency that name its billing country or none.

    None when the token cannot be read; the caller then prefilters in SQL as before.
    """
    token = current_token()
    if token is None:
        return None
    if "\x00" in checkout.currency:  # PostgreSQL refuses NUL in text; no stored rule has one
        return []
    cached = _cache.get(checkout.currency)
    if cached is None or cached.token != token:
        cached = _load(checkout.currency, token)
        if len(_cache) >= _MAX_CURRENCIES:
            _cache.clear()
        _cache[checkout.currency] = cached
    return cached.for_country(checkout.billing_address.country)


def forget() -> None:
    """Drop every cached rule set (benchmarks measure a load after a change with it)."""
    _cache.clear()


def _load(currency: str, token: str) -> CurrencyRules:
    rules = load_for_checkout(PaymentRule.objects.filter(enabled=True, currency=currency))
    anywhere: list[PaymentRule] = []
    by_country: dict[str, list[PaymentRule]] = defaultdict(list)
    for rule in rules:
        countries = destination_countries(rule)
        if not countries:
            anywhere.append(rule)
        for country in countries:
            by_country[country].append(rule)
    return CurrencyRules(
        token=token,
        anywhere=tuple(anywhere),
        by_country={country: tuple(found) for country, found in by_country.items()},
    )
