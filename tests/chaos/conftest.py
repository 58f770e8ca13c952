"""Chaos fixtures: a fault proxy in front of the session's emulator, short create back-offs.

``AWSDR_CHAOS=full`` (``make chaos``) raises fault rates and counts; every scenario adds a row to
the table printed at the end of the session (scenario, faults injected, kills, invariant result).
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("AWSDR_CHAOS") == "full"
ROWS: list[tuple[str, str, str, str]] = []


@pytest.fixture
def fast_creates(monkeypatch):
    """Create back-off in milliseconds (the emulator is consistent at once; AWS gets 1 s and up)."""
    from awsdr.aws import idempotent

    monkeypatch.setattr(idempotent, "DEFAULT_BACKOFF", idempotent.Backoff(attempts=8, base=0.02, cap=0.2))


@pytest.fixture
def fast_retries(monkeypatch):
    """botocore's retry sleeps shortened, ``standard`` mode unless ``make chaos`` (adaptive, real).

    The proxy throttles at random whatever the rate, so adaptive mode's rate limiter keeps slowing
    the client (about 2 calls/s at 20 %, measured): right for AWS, minutes for a CI test.
    """
    if FULL:
        return
    from botocore.retries import standard

    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)


@pytest.fixture
def proxy(moto, fast_creates):
    """A started :class:`FaultProxy` factory (faults off until ``set_faults``)."""
    from awsdr.testing.fault_proxy import FaultProxy

    made = []

    def _make(faults=None, rules=()):
        p = FaultProxy(moto, faults, rules=rules).start()
        made.append(p)
        return p

    yield _make
    for p in made:
        p.stop()


def record_row(scenario: str, faults: str, kills: str, result: str) -> None:
    ROWS.append((scenario, faults, kills, result))


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    width = [
        max(len(r[i]) for r in [("scenario", "faults injected", "kills", "invariants"), *ROWS])
        for i in range(4)
    ]
    line = "  ".join(f"{{:<{w}}}" for w in width)
    terminalreporter.write_line("")
    terminalreporter.write_line(line.format("scenario", "faults injected", "kills", "invariants"))
    for row in ROWS:
        terminalreporter.write_line(line.format(*row))
