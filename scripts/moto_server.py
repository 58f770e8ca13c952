"""The local AWS emulator: moto's server with one behaviour made AWS-like.

moto 5.2.5 freezes a table's PITR ``LatestRestorableDateTime`` at the moment PITR was turned on;
AWS moves it forward continuously, a few minutes behind the present. DynamoDB cross-region
copies export *at the window's time*, which is only possible once the window is within the PITR
period, so with moto's frozen clock no copy of a window after PITR was enabled could ever be
made. Here ``LatestRestorableDateTime`` is the present minus ``AWSDR_MOTO_PITR_LAG_SECONDS``
(default 5; AWS is about 300). Everything else is moto as pinned.

Usage: ``python scripts/moto_server.py -H 127.0.0.1 -p 4566`` (the arguments of ``moto_server``).
"""

from __future__ import annotations

import os
import time


def patch_pitr_clock() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    lag = float(os.environ.get("AWSDR_MOTO_PITR_LAG_SECONDS", "5"))
    original = DynamoDBBackend.describe_continuous_backups

    def describe_continuous_backups(self, table_name):  # type: ignore[no-untyped-def]
        result = original(self, table_name)
        desc = result.get("PointInTimeRecoveryDescription", {}) if isinstance(result, dict) else {}
        if desc.get("PointInTimeRecoveryStatus") == "ENABLED":
            desc["LatestRestorableDateTime"] = max(
                desc.get("EarliestRestorableDateTime", 0), time.time() - lag
            )
        return result

    DynamoDBBackend.describe_continuous_backups = describe_continuous_backups  # type: ignore[method-assign]


def main() -> None:
    patch_pitr_clock()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
