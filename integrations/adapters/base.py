"""What every provider adapter shares: plain data in, plain data out, no ORM."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


class Operation(enum.StrEnum):
    CHECK_CREDENTIALS = "check_credentials"
    AUTHORIZE = "authorize"
    CHARGE = "charge"
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter needs, copied out of the integration row for one call."""

    settings: dict[str, object]
    secrets: dict[str, str] = field(repr=False)
    sandbox: bool
    timeout_seconds: float
    # A local simulator's base URL; always None in a production deployment.
    api_base_url: str | None = None


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense (not a decline)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PaymentAdapter(Protocol):
    supports: ClassVar[frozenset[Operation]]

    def __init__(self, config: AdapterConfig) -> None: ...

    def check_credentials(self) -> ConnectionCheck:
        """Make one harmless call with the stored credentials and report the provider's answer."""
        ...


def unreachable(error: BaseException | str) -> ConnectionCheck:
    return ConnectionCheck(ok=False, message=f"Could not reach the provider: {error}")
