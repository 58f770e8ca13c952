"""The suite's schedule (tests/conftest.py ``SLOW_FIRST``) names modules that exist: a renamed
module would silently fall back to the end of the run and stretch CI's wall time."""

from __future__ import annotations

from conftest import ROOT, SLOW_FIRST


def test_every_slow_module_exists_once():
    assert len(set(SLOW_FIRST)) == len(SLOW_FIRST)
    missing = [path for path in SLOW_FIRST if not (ROOT / path).is_file()]
    assert missing == []
