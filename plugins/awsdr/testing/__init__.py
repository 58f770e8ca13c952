"""Test tooling shipped with the package: the fault-injecting proxy (tests, bench, make chaos)."""
