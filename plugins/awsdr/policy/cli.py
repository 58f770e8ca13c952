"""``python -m awsdr.policy [--schema] [PATH]``: print the JSON Schema, or validate a policy file."""

from __future__ import annotations

import argparse
import json
import sys

from awsdr.policy.model import PolicyError
from awsdr.policy.schema import policy_json_schema
from awsdr.policy.source import POLICY_ENV_VAR


def main(argv: list[str] | None = None) -> int:
    """``python -m awsdr.policy [--schema] [PATH]``: print the schema, or validate a policy."""
    from awsdr.policy import load_policy

    parser = argparse.ArgumentParser(prog="python -m awsdr.policy", description="Validate a DR policy file.")
    parser.add_argument("--schema", action="store_true", help="print the policy JSON Schema and exit")
    parser.add_argument(
        "path", nargs="?", help=f"policy file (default: ${POLICY_ENV_VAR} or include/dr_policy.yaml)"
    )
    args = parser.parse_args(argv)
    if args.schema:
        print(json.dumps(policy_json_schema(), indent=2, sort_keys=True))
        return 0
    try:
        policy = load_policy(args.path)
    except PolicyError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{policy.source_path}: OK, {len(policy.plans)} plan(s): {', '.join(policy.plans)}")
    return 0
