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

Two downloads AWS serves from S3 through presigned URLs, which moto cannot reach or does not
have, come from this emulator itself (``/awsdr-api/...`` on the same host and port), so the ecr and
lambda kinds run their real HTTPS-download code paths (here over HTTP) end to end:

- ECR ``GetDownloadUrlForLayer`` (moto 5.2.5 answers 500, not implemented): the URL of the layer's
  bytes, kept when ``CompleteLayerUpload`` finished it (moto keeps only its size);
- Lambda ``GetFunction``'s ``Code.Location`` (moto's points at an unreachable S3 host): the URL of
  the function's zip.

Lambda ``Invoke`` runs without Docker (moto's own ``lambda.use_docker: false``: the function is not
executed, the payload comes back with status 200); there is no Docker engine here.

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


def patch_conditional_puts() -> None:
    """S3 conditional writes (``If-Match``/``If-None-Match`` on PutObject) are atomic on AWS; moto
    checks the ETag and then writes, so two threads of this server could both pass one ETag and the
    second write silently replaced the first (the catalog index's lost update, seen under load).
    Conditional PUTs are made one at a time here."""
    import threading

    from moto.s3.responses import S3Response

    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self):  # type: ignore[no-untyped-def]
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with lock:
                return original(self)
        return original(self)

    S3Response.put_object = put_object  # type: ignore[method-assign]


CLOCK_PATH = "/awsdr-api/clock"
BLOB_PATH = "/awsdr-api/ecr-blob/"
CODE_PATH = "/awsdr-api/lambda-code/"
#: the emulator's own address as clients reach it (from the last request's Host header)
BASE = {"url": "http://127.0.0.1"}
#: ECR layer bytes by (registry id, digest), kept as moto finishes an upload
BLOBS: dict[tuple[str, str], bytes] = {}


def patch_downloads() -> None:
    """ECR layer and Lambda code downloads served by this emulator (see the docstring)."""
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config
    from moto.core.exceptions import ServiceException
    from moto.ecr.models import ECRBackend
    from moto.ecr.responses import ECRResponse

    default_user_config["lambda"]["use_docker"] = False
    complete = ECRBackend.complete_layer_upload

    def complete_layer_upload(self, repository_name, upload_id, layer_digests, registry_id=None):  # type: ignore[no-untyped-def]
        repository = self._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else b""
        result = complete(self, repository_name, upload_id, layer_digests, registry_id=registry_id)
        BLOBS[(repository.registry_id, result["layerDigest"])] = data
        return result

    class LayersNotFoundException(ServiceException):
        code = "LayersNotFoundException"

    def get_download_url_for_layer(self):  # type: ignore[no-untyped-def]
        import json

        name, digest = self._get_param("repositoryName"), self._get_param("layerDigest")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        if digest not in repository.layers or (repository.registry_id, digest) not in BLOBS:
            raise LayersNotFoundException(f"The image layer {digest} does not exist in {name}")
        url = f"{BASE['url']}{BLOB_PATH}{repository.registry_id}/{digest}"
        return json.dumps({"downloadUrl": url, "layerDigest": digest})

    ECRBackend.complete_layer_upload = complete_layer_upload  # type: ignore[method-assign]
    ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[attr-defined]
    get_code = LambdaFunction.get_code

    def lambda_get_code(self):  # type: ignore[no-untyped-def]
        resp = get_code(self)
        if (resp.get("Code") or {}).get("RepositoryType") == "S3":
            resp["Code"]["Location"] = (
                f"{BASE['url']}{CODE_PATH}{self.region}/{self.account_id}/{self.function_name}"
            )
        return resp

    LambdaFunction.get_code = lambda_get_code  # type: ignore[method-assign]


def _serve_download(path: str) -> bytes | None:
    """The bytes behind a download URL of :func:`patch_downloads`; None when there are none."""
    if path.startswith(BLOB_PATH):
        registry, _, digest = path[len(BLOB_PATH) :].partition("/")
        return BLOBS.get((registry, digest))
    region, account, name = (path[len(CODE_PATH) :].split("/") + ["", "", ""])[:3]
    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends
    from moto.core.config import default_user_config

    backends = lambda_backends if default_user_config["lambda"]["use_docker"] else lambda_simple_backends
    try:
        fn = backends[account][region].get_function(name)
    except Exception:  # noqa: BLE001 - any failure to find it is a 404
        return None
    return bytes(fn.code_bytes)


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
        path = environ.get("PATH_INFO") or ""
        if environ.get("HTTP_HOST"):
            BASE["url"] = f"http://{environ['HTTP_HOST']}"
        if path.startswith((BLOB_PATH, CODE_PATH)):
            data = _serve_download(path)
            if data is None:
                start_response("404 Not Found", [("Content-Length", "0")])
                return [b""]
            start_response(
                "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))]
            )
            return [data]
        if path != CLOCK_PATH:
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
    patch_conditional_puts()
    patch_downloads()
    install_clock_endpoint()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
