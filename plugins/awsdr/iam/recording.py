"""moto's request recorder: which AWS operation each recorded request was, by botocore's models.

The recorder (``/moto-api/recorder/...``, or ``MOTO_RECORDER_FILEPATH``) writes one JSON line per
request: method, URL, headers, body. The service and region come from the SigV4 credential scope
in ``Authorization``; the operation from ``X-Amz-Target`` (JSON protocols), ``Action=`` (query
protocols), the ``/service/<svc>/operation/<op>`` path (Smithy RPC v2) or, for REST services
(S3, Route 53), from matching the method, path and query against each operation's ``requestUri``
in the service model.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.session import get_session

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_RPC_V2 = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)$")


@dataclass(frozen=True)
class Call:
    """One recorded request: ``service`` is boto3's name (``resourcegroupstaggingapi``)."""

    service: str
    region: str
    operation: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


@cache
def _signing_names(services: tuple[str, ...]) -> dict[str, str]:
    session = get_session()
    out: dict[str, str] = {}
    for svc in services:
        model = session.get_service_model(svc)
        out[model.signing_name or svc] = svc
        out[model.endpoint_prefix] = out.get(model.endpoint_prefix, svc)
    return out


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], frozenset[str], int, str]]:
    """``(method, path regex, query keys, specificity, operation)`` for a REST service."""
    model = get_session().get_service_model(service)
    routes = []
    for op in model.operation_names:
        if model.operation_model(op).deprecated:
            # S3's GetBucketLifecycle/PutBucketLifecycle share their routes with the
            # ...Configuration operations the code calls: the deprecated ones never match
            continue
        http = model.operation_model(op).http
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        keys = frozenset(q.split("=", 1)[0] for q in query.split("&") if q)
        pattern = ""
        literal = 0
        for part in re.split(r"(\{[^}]+\})", path.rstrip("/") or "/"):
            if part.startswith("{"):
                pattern += ".+" if part.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(part)
                literal += len(part)
        routes.append(
            (http.get("method", "GET"), re.compile(f"^{pattern}/?$"), keys, literal * 10 + len(keys), op)
        )
    return routes


def _rest_operation(
    service: str, method: str, path: str, query: dict[str, Any], headers: dict[str, str]
) -> str:
    best: tuple[int, str] | None = None
    for m, regex, keys, score, op in _rest_routes(service):
        if m != method or not regex.match(path) or not keys <= set(query):
            continue
        if best is None or score > best[0]:
            best = (score, op)
    if best is None:
        return f"{method} {path}"
    op = best[1]
    if service == "s3":  # the same route; the copy source header tells them apart
        copy = "x-amz-copy-source" in headers
        if op in ("PutObject", "CopyObject"):
            op = "CopyObject" if copy else "PutObject"
        elif op in ("UploadPart", "UploadPartCopy"):
            op = "UploadPartCopy" if copy else "UploadPart"
    return op


def parse(text: str, services: tuple[str, ...]) -> list[Call]:
    """The calls of a recording (one JSON object per line) to the given boto3 services."""
    names = _signing_names(tuple(sorted(services)))
    calls: list[Call] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        req = json.loads(line)
        headers = {k.lower(): str(v) for k, v in (req.get("headers") or {}).items()}
        scope = _SCOPE.search(headers.get("authorization", ""))
        if scope is None:
            continue  # unsigned: moto's own API, not an AWS call
        region, signing = scope.groups()
        service = names.get(signing, signing)
        url = urllib.parse.urlsplit(req["url"])
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = req.get("body") or ""
        if req.get("body_encoded") and body:
            body = base64.b64decode(body).decode("utf-8", "replace")
        target = headers.get("x-amz-target")
        rpc = _RPC_V2.search(path)
        if target:
            op = target.rsplit(".", 1)[-1]
        elif rpc:
            op = rpc.group(1)
        elif "Action" in query:
            op = query["Action"][0]
        elif req["method"] == "POST" and body.startswith("Action=") or "&Action=" in body:
            op = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
        else:
            op = _rest_operation(service, req["method"], path, query, headers)
        kept = tuple(sorted((k, v) for k, v in headers.items() if k.startswith("x-amz-object-lock")))
        calls.append(Call(service, region, op, req["method"], path, kept))
    return calls
