"""gunicorn serving the app on a free local port for a benchmark, and its workers' peak memory.

The pinned gunicorn (requirements.lock) with sync workers, as a deployment runs it; the
benchmark's child process has set Django's environment (DATABASE_URL, sandbox payments) up.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import ROOT

STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, cookie: str) -> tuple[int, float]:
    """GET `path` on a new connection: the status and the milliseconds it took."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def _wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            if get(port, "/healthz", "")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)  # readiness poll of a starting server, not a measurement
    raise RuntimeError("gunicorn did not answer within a minute")


@contextmanager
def serving(*, workers: int, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with `workers` sync workers on 127.0.0.1:`port`, answering /healthz."""
    # As a deployment does before starting the server: WhiteNoise serves STATIC_ROOT (and warns
    # in every worker when it is missing).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
        cwd=ROOT,
        check=True,
    )
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and the pinned gunicorn
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backoffice.wsgi:application",
            f"--workers={workers}",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1"},
    )
    try:
        _wait_until_serving(port, server)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _children(master: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry.name))
    return children


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_peak_rss_mb(server: subprocess.Popen[bytes]) -> list[float]:
    """Each worker's peak resident memory (VmHWM), in MB, smallest first; read before stopping."""
    return sorted(round(_peak_rss_mb(pid), 1) for pid in _children(server.pid))
