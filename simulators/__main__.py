"""Run every provider simulator for the offline demo: `python -m simulators` (`make run` does).

Each simulator listens on 127.0.0.1 at a fixed port (see `DEMO_SIMULATOR_PORTS`), knows the demo
integrations' credentials, and keeps its state (payments, authorizations) in a file under
`.demo/`, so an authorization seeded once can still be captured after a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
django.setup()

from backoffice.demo import DEMO_SIMULATOR_PORTS, demo_credentials  # noqa: E402
from simulators.authorize_net import AuthorizeNetSimulator  # noqa: E402
from simulators.base import Simulator  # noqa: E402
from simulators.payflow import PayflowAccount, PayflowSimulator  # noqa: E402
from simulators.paypal import PayPalSimulator  # noqa: E402
from simulators.stripe import StripeSimulator  # noqa: E402

logger = logging.getLogger("simulators")

SIMULATORS: dict[str, type[Simulator]] = {
    "stripe": StripeSimulator,
    "paypal": PayPalSimulator,
    "payflow": PayflowSimulator,
    "authorize_net": AuthorizeNetSimulator,
}


def persistent(name: str, simulator_class: type[Simulator], state_dir: Path) -> Simulator:
    """`simulator_class` on its demo port, saving its provider state after every request."""
    state_file = state_dir / f"{name}.pickle"
    lock = threading.Lock()

    class Persistent(simulator_class):  # type: ignore[valid-type,misc]
        bind_port = DEMO_SIMULATOR_PORTS[name]

        def after_request(self) -> None:
            with lock:
                # Demo data of our own making, read back only by this process: pickle is fine.
                state_file.write_bytes(pickle.dumps(self.provider_state()))

    simulator = Persistent()
    if state_file.exists():
        try:
            # Written by this runner only, in the checkout's own .demo/ folder.
            state: dict[str, Any] = pickle.loads(state_file.read_bytes())  # noqa: S301
        except Exception:
            logger.warning("Ignoring unreadable simulator state %s", state_file)
        else:
            simulator.__dict__.update(state)
    return simulator


def teach_credentials(simulators: dict[str, Simulator]) -> None:
    """The demo integrations' credentials, as the test fixtures teach them."""
    credentials = demo_credentials()
    stripe = simulators["stripe"]
    assert isinstance(stripe, StripeSimulator)
    for secret_key, publishable_key in credentials["stripe"]:
        stripe.secret_keys.add(secret_key)
        if hasattr(stripe, "publishable_keys"):
            stripe.publishable_keys.add(publishable_key)
    paypal = simulators["paypal"]
    assert isinstance(paypal, PayPalSimulator)
    for client_id, client_secret in credentials["paypal"]:
        paypal.clients[client_id] = client_secret
    payflow = simulators["payflow"]
    assert isinstance(payflow, PayflowSimulator)
    for partner, vendor, user, password in credentials["payflow"]:
        payflow.accounts.add(
            PayflowAccount(partner=partner, vendor=vendor, user=user, password=password)
        )
    authorize_net = simulators["authorize_net"]
    assert isinstance(authorize_net, AuthorizeNetSimulator)
    for api_login_id, transaction_key, client_key in credentials["authorize_net"]:
        authorize_net.merchants[api_login_id] = transaction_key
        if hasattr(authorize_net, "client_keys"):
            authorize_net.client_keys[api_login_id] = client_key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=Path(".demo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        running = {
            name: persistent(name, simulator_class, args.state_dir)
            for name, simulator_class in SIMULATORS.items()
        }
    except OSError as error:
        print(f"Cannot start the provider simulators: {error}", file=sys.stderr)
        print("Is another `make run` still running? Ports:", DEMO_SIMULATOR_PORTS, file=sys.stderr)
        return 1
    teach_credentials(running)
    for name, simulator in running.items():
        simulator.start()
        logger.info("%s simulator on %s", name, simulator.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for simulator in running.values():
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
