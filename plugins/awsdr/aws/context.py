"""One place that makes boto3 clients: per (service, region), thread-safe, built once per task.

Kinds, the catalog and the planners' executors take an :class:`AwsContext`, never a hook, so the
same code runs from an Airflow task (``from_connection``) and from a test against moto.
"""

from __future__ import annotations

import base64
import datetime
import os
import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable


def default_config(max_pool: int = 20) -> Config:
    """Adaptive retries: throttling is backed off and retried by botocore itself.

    The SDKs' own variables ``AWS_RETRY_MODE`` and ``AWS_MAX_ATTEMPTS`` override the mode and the
    attempts (adaptive's client-side rate limiter slows a client to about 2 calls/s under a storm
    of random throttles; the CI chaos test runs ``standard``, ``make chaos`` the default).
    """
    mode = os.environ.get("AWS_RETRY_MODE") or "adaptive"
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 10)
    return Config(
        retries={"mode": mode, "max_attempts": attempts},
        max_pool_connections=max_pool,
        connect_timeout=10,
        read_timeout=60,
    )


#: merged into the config of :meth:`AwsContext.create_client`: one attempt, no botocore retry
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})

#: merged into the config of :meth:`AwsContext.probe_client`: a region that does not answer is
#: told in seconds (two attempts, short timeouts), not after ten adaptive retries of a minute each
PROBE = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5, read_timeout=10)


class AwsContext:
    """Clients keyed by (service, region); the account id looked up once.

    :param session_factory: returns a boto3 Session for a region (from an Airflow connection,
        or plain boto3 in tests).
    :param endpoint_url: a single endpoint for every service (moto server); None for real AWS.
    :param config: botocore config shared by every client.
    """

    def __init__(
        self,
        session_factory: Callable[[str], boto3.session.Session],
        *,
        endpoint_url: str | None = None,
        endpoint_for: Callable[[str], str | None] | None = None,
        config: Config | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._endpoint_url = endpoint_url
        self._endpoint_for = endpoint_for
        self._config = config or default_config()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint_url

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                endpoint = self._endpoint_for(service) if self._endpoint_for else self._endpoint_url
                found = self._session_factory(region).client(
                    service, region_name=region, endpoint_url=endpoint, config=self._config
                )
                self._clients[key] = found
            return found

    def create_client(self, service: str, region: str) -> Any:
        """A client that sends each request once: for creates of recovery points and copies.

        botocore would resend a create whose answer was lost (a 5xx or a reset after the work was
        done) and make a second point; these go through :func:`awsdr.aws.idempotent.create_or_find`,
        which looks the point up before any second attempt. Reads keep :meth:`client`'s retries.
        """
        return self._variant(service, region, "once", NO_RETRIES)

    def probe_client(self, service: str, region: str) -> Any:
        """A client for reachability probes (is the primary region there at all?): two attempts
        and short timeouts, so an unreachable region is reported in seconds per resource."""
        return self._variant(service, region, "probe", PROBE)

    def _variant(self, service: str, region: str, name: str, overrides: Config) -> Any:
        key = (service, f"{region}#{name}")
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                endpoint = self._endpoint_for(service) if self._endpoint_for else self._endpoint_url
                found = self._session_factory(region).client(
                    service, region_name=region, endpoint_url=endpoint, config=self._config.merge(overrides)
                )
                self._clients[key] = found
            return found

    def account_id(self, region: str) -> str:
        if self._account_id is None:
            self._account_id = self.client("sts", region).get_caller_identity()["Account"]
        return self._account_id

    @classmethod
    def from_boto3(cls, *, endpoint_url: str | None = None, config: Config | None = None) -> AwsContext:
        """Plain boto3 credentials chain (tests, scripts)."""
        sessions: dict[str, boto3.session.Session] = {}

        def factory(region: str) -> boto3.session.Session:
            if region not in sessions:
                sessions[region] = boto3.session.Session(region_name=region)
            return sessions[region]

        return cls(factory, endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_connection(cls, conn_id: str = "aws_default", *, config: Config | None = None) -> AwsContext:
        """Credentials, role and endpoint from an Airflow AWS connection."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        hook = AwsBaseHook(aws_conn_id=conn_id, client_type="sts")
        conn = hook.conn_config

        def factory(region: str) -> boto3.session.Session:
            return hook.get_session(region_name=region)

        return cls(
            factory,
            endpoint_url=conn.endpoint_url,
            endpoint_for=lambda service: conn.get_service_endpoint_url(service_name=service),
            config=config,
        )


def jsonable(value: Any, when: Callable[[Any], Any]) -> Any:
    """A JSON-safe copy of an AWS response fragment: datetimes through ``when``, bytes as base64,
    ``ResponseMetadata`` dropped."""
    if isinstance(value, dict):
        return {k: jsonable(v, when) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [jsonable(v, when) for v in value]
    if isinstance(value, datetime.datetime):
        return when(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """Split ``items`` into lists of at most ``size`` (AWS batch limits)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def error_code(err: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or the exception's class name."""
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(err).__name__))
    return type(err).__name__


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}
