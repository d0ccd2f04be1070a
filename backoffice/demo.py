"""Where the offline demo's provider simulators listen, and the credentials they accept.

`make run` starts the simulators (`python -m simulators`) and `seed_demo` points the demo
integrations at them through the sandbox-only endpoint override, so the card and PayPal methods
work with no internet and no provider account.
"""

from __future__ import annotations

import os

_BASE_PORT = int(os.environ.get("DEMO_SIMULATOR_PORT_BASE", "8470"))

DEMO_SIMULATOR_PORTS = {
    "stripe": _BASE_PORT,
    "paypal": _BASE_PORT + 1,
    "payflow": _BASE_PORT + 2,
    "authorize_net": _BASE_PORT + 3,
}


def simulator_url(name: str) -> str:
    return f"http://127.0.0.1:{DEMO_SIMULATOR_PORTS[name]}"


def demo_credentials() -> dict[str, list[tuple[str, ...]]]:
    """Each provider's credentials among the demo integrations, for the simulators to accept."""
    from backoffice.management.commands.seed_demo import DEMO_INTEGRATIONS
    from integrations.types import IntegrationType

    found: dict[str, list[tuple[str, ...]]] = {
        "stripe": [],
        "paypal": [],
        "payflow": [],
        "authorize_net": [],
    }
    for spec in DEMO_INTEGRATIONS:
        values = {**spec["settings"], **spec["secrets"]}
        if spec["type"] == IntegrationType.STRIPE:
            found["stripe"].append((values["secret_key"], values["publishable_key"]))
        elif spec["type"] == IntegrationType.PAYPAL_EXPRESS:
            found["paypal"].append((values["client_id"], values["client_secret"]))
        elif spec["type"] in (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO):
            found["payflow"].append(
                (values["partner"], values["vendor"], values["user"], values["password"])
            )
        elif spec["type"] == IntegrationType.AUTHORIZE_NET:
            found["authorize_net"].append(
                (values["api_login_id"], values["transaction_key"], values["client_key"])
            )
    return found
