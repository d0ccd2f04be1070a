from __future__ import annotations

from tests.payments.support import fake_card

__all__ = ["fake_card"]
