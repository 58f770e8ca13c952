"""The local AWS emulator: moto's server with one behaviour made AWS-like.

moto 5.2.5 freezes a table's PITR ``LatestRestorableDateTime`` at the moment PITR was turned on;
AWS moves it forward continuously, a few minutes behind the present. DynamoDB cross-region
copies export *at the window's time*, which is only possible once the window is within the PITR
period, so with moto's frozen clock no copy of a window after PITR was enabled could ever be
made. Here ``LatestRestorableDateTime`` is the present minus ``AWSDR_MOTO_PITR_LAG_SECONDS``
(default 5; AWS is about 300). Everything else is moto as pinned.

Simulated time (``make soak`` only): ``POST /awsdr-api/clock`` with ``{"now": "<ISO-8601>"}`` moves
this emulator's clock (every service: snapshot times, PITR, S3 versions...) to that instant, and
it ticks on from there at the real pace; ``{"now": null}`` returns to the real clock and ``GET``
shows the current one. It uses the ``time-machine`` package, imported only when called: an
emulator nobody sends this to runs on the real clock exactly as before.

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


CLOCK_PATH = "/awsdr-api/clock"


def install_clock_endpoint() -> None:
    """``/awsdr-api/clock``: the simulated clock of the whole emulator process (see the docstring)."""
    import json
    import threading
    from datetime import UTC, datetime

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lock = threading.Lock()
    state: dict = {"traveller": None}
    original = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") != CLOCK_PATH:
            return original(self, environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            target = json.loads(environ["wsgi.input"].read(size) or b"{}").get("now")
            with lock:
                if state["traveller"] is not None:
                    state["traveller"].stop()
                    state["traveller"] = None
                if target is not None:
                    import time_machine

                    state["traveller"] = time_machine.travel(datetime.fromisoformat(target), tick=True)
                    state["traveller"].start()
        body = json.dumps(
            {"now": datetime.now(tz=UTC).isoformat(), "simulated": state["traveller"] is not None}
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


def main() -> None:
    patch_pitr_clock()
    install_clock_endpoint()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
