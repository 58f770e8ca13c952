"""``python -m awsdr.iam``: write (or check) the IAM policies of include/iam/ from the DR policy.

Usage::

    python -m awsdr.iam [--policy FILE] [--out DIR] [--account ID] [--check]

``--check`` writes nothing and exits 1 when a file in DIR differs from what the policy gives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from awsdr.iam.generate import MAX_CHARS, documents, render, size
from awsdr.policy import load_policy

DEFAULT_OUT = Path(__file__).resolve().parents[3] / "include" / "iam"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m awsdr.iam", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy", help="the DR policy file (default: AWSDR_POLICY or include/dr_policy.yaml)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory of the JSON files")
    parser.add_argument("--account", default="*", help="the AWS account id in the ARNs (default *)")
    parser.add_argument("--partition", default="aws")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    policy = load_policy(args.policy) if args.policy else load_policy()
    docs = documents(policy, account=args.account, partition=args.partition)
    stale = []
    for name, doc in docs.items():
        if size(doc) > MAX_CHARS:
            print(
                f"{name}: {size(doc)} characters, over IAM's {MAX_CHARS} for a managed policy",
                file=sys.stderr,
            )
            return 2
        path = args.out / name
        text = render(doc)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path} ({len(doc['Statement'])} statements, {size(doc)} characters)")
    if stale:
        print("out of date (run `make iam`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
