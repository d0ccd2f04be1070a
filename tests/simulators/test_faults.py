"""The faults every simulator can inject (simulators/base.py), seen from a plain HTTP client."""

from __future__ import annotations

import threading

import pytest
import requests

from simulators.base import Fault
from simulators.stripe import StripeSimulator

SECRET_KEY = "sk_test_TestSecretKey000000001"


def _balance(simulator: StripeSimulator, timeout: float = 5) -> requests.Response:
    return requests.get(f"{simulator.url}/v1/balance", auth=(SECRET_KEY, ""), timeout=timeout)


def _answers(simulator: StripeSimulator, monkeypatch: pytest.MonkeyPatch) -> threading.Semaphore:
    answered = threading.Semaphore(0)
    monkeypatch.setattr(simulator, "after_request", answered.release)
    return answered


def test_a_dropped_request_times_out_and_is_never_answered(
    stripe_simulator: StripeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = _answers(stripe_simulator, monkeypatch)
    stripe_simulator.fault = Fault.DROP
    stripe_simulator.slow_seconds = 30
    with pytest.raises(requests.Timeout):
        _balance(stripe_simulator, timeout=0.1)
    stripe_simulator.release_slow()
    # Dropped once released: a reset, never an answer.
    stripe_simulator.slow_seconds = 0
    with pytest.raises(requests.ConnectionError):
        _balance(stripe_simulator)
    assert len(stripe_simulator.received) == 2
    assert not answered.acquire(blocking=False)


def test_a_refused_connection_is_reset_before_the_request_is_read(
    stripe_simulator: StripeSimulator,
) -> None:
    stripe_simulator.fault = Fault.REFUSED
    with pytest.raises(requests.ConnectionError):
        _balance(stripe_simulator)
    assert stripe_simulator.received == []
    stripe_simulator.fault = None
    assert _balance(stripe_simulator).status_code == 200


def test_a_reset_mid_body_comes_after_the_provider_acted(
    stripe_simulator: StripeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = _answers(stripe_simulator, monkeypatch)
    stripe_simulator.fault = Fault.RESET_MID_BODY
    with pytest.raises(requests.RequestException):
        _balance(stripe_simulator).json()
    assert answered.acquire(timeout=30)


def test_rate_limited_answers_429_with_retry_after_and_does_nothing(
    stripe_simulator: StripeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = _answers(stripe_simulator, monkeypatch)
    stripe_simulator.fault = Fault.RATE_LIMITED
    stripe_simulator.retry_after_seconds = 7
    response = _balance(stripe_simulator)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert not answered.acquire(blocking=False)


def test_replay_answers_a_new_request_with_the_previous_answer(
    stripe_simulator: StripeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = requests.get(f"{stripe_simulator.url}/v1/balance", timeout=5)
    assert first.status_code == 401
    answered = _answers(stripe_simulator, monkeypatch)
    stripe_simulator.fault = Fault.REPLAY
    replayed = _balance(stripe_simulator)
    assert (replayed.status_code, replayed.content) == (401, first.content)
    assert not answered.acquire(blocking=False)
    stripe_simulator.fault = None
    assert _balance(stripe_simulator).status_code == 200
