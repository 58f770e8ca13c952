"""ECR repositories: recovery point = an image list written to the catalog bucket.

The protected resource is an ECR repository in the primary region carrying the plan's selection
tags (DescribeRepositories + ListTagsForResource: the Resource Groups Tagging API does not list
``ecr:repository`` everywhere, and moto lists none). Repositories this product made (DR
repositories, tagged ``awsdr:managed=true``) are never sources.

The recovery point of a repository for a window is the list of the images the repository held as
of the window: every image still in the repository whose ``imagePushedAt`` is at or before the
window (whole seconds, like windows: an image pushed during the window's second counts). Each
entry names the image's digest, its tags, manifest media type, size and push time. ECR keeps no
history of tags, so the tags are those the image carries when the capture runs, and an image
deleted (or expired by a lifecycle policy) before the capture is not in the point: capture late
and the point names what survives. The document is JSON at
``points/ecr/<plan>/<repository>/<window stamp>.json`` in the catalog bucket (``/`` in a
repository name is written ``!``, a character ECR names never hold), written once with
``If-None-Match: *`` (an existing document is returned, never rewritten), the PRODUCT.md tag set in
its ``"tags"``, the image list last. Its folder's listing index (:func:`awsdr.catalog.point_index_key`)
holds each document's header so listings read one index per folder.

Cross-region copy (:meth:`EcrKind.copy`): the DR repository has the source's name, in the DR
region; when missing it is created KMS-encrypted with the DR key and tagged
``awsdr:managed=true`` (an existing one, e.g. made by ECR replication, is used as it is and
reported in ``details``). Images already there (by digest: replication, an earlier window) are not
copied again. A missing image is copied by digest: BatchGetImage in the source for its manifest;
BatchCheckLayerAvailability in DR for every blob (config and layers) it names; each missing blob
is fetched with GetDownloadUrlForLayer + an HTTPS GET (:func:`http_download`, checked against its
digest) and uploaded with InitiateLayerUpload / UploadLayerPart / CompleteLayerUpload; then
PutImage with the manifest exactly as read, its media type, the digest (so ECR refuses a manifest
that does not hash to it) and each tag. Multi-arch images (Docker manifest lists, OCI indexes) are
copied: their child manifests first (untagged, by digest), then the index. Docker schema 1
manifests are refused (a per-image :class:`CaptureError`). Foreign / non-distributable layers
(Windows base layers with ``urls``) are not copied: registries do not hold them.

The copy point is the DR document ``points/ecr-dr/<region>/<plan>/<repository>/<stamp>.json``: the
source entries, each marked verified (present in the DR repository by digest after the copy, one
listing), an index's children, and the copy's tags (``awsdr:copy-of``...).

Retention deletes documents only. Images in DR repositories this product made that no remaining
DR document (nor a primary document still waiting for its copy to this region) names are
returned by :meth:`EcrKind.unreferenced_data` and removed by :meth:`EcrKind.delete_data`
(BatchDeleteImage, after a re-check). Restore creates nothing: the restored resource is the
repository holding the images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_dict, tag_list
from awsdr.aws.idempotent import THROTTLING_CODES
from awsdr.catalog import copies_prefix, dr_point_doc_key, point_doc_key, point_index_key, points_prefix
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    DELETED,
    MISSING,
    REFUSED,
    CaptureError,
    Kind,
    RecoveryPoint,
    Resource,
    Restored,
    RetryLater,
    point_from_tags,
)
from awsdr.kinds.s3 import (
    _delete_manifests,
    get_doc,
    indexed_listing,
    list_keys,
    put_doc_etag,
    resolve_kms_key,
    update_point_index,
    version_id_of,
)
from awsdr.windows import (
    TAG_CAPTURED_AT,
    TAG_KIND,
    TAG_MANAGED,
    format_window,
    is_product_made,
    parse_window,
    to_utc,
    window_stamp,
)

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Most concurrent per-repository / per-blob calls.
WORKERS = 8
DOC_SCHEMA = 1
#: DescribeImages (by id), BatchGetImage, BatchCheckLayerAvailability, BatchDeleteImage: <= 100 ids.
BATCH = 100
#: DescribeImages / DescribeRepositories page size (AWS: at most 1,000).
PAGE = 1000
#: UploadLayerPart takes at most 20 MiB per part; ECR's InitiateLayerUpload names the part size.
PART_MAX = 20 * 1024**2
PART_DEFAULT = 10 * 1024**2
#: Read size of a download.
CHUNK = 1024**2
#: Seconds an HTTPS GET of a blob may stall before it fails.
DOWNLOAD_TIMEOUT = 300

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KIND = "ecr"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
#: What BatchGetImage is asked for: the stored manifest as it is (no conversion, digest kept).
ACCEPTED = [DOCKER_V2, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX]
#: Layers a registry does not hold (fetched from their ``urls``): never copied.
FOREIGN_LAYERS = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
#: AWS answers that are not a per-image failure: the caller backs off or queues the copy.
PASS_THROUGH = THROTTLING_CODES | frozenset(
    {
        "LimitExceededException",
        "ServiceQuotaExceededException",
        "TooManyRequestsException",
        "ResourceLimitExceeded",
    }
)
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_NO_REPO = "RepositoryNotFoundException"
#: Tag on a DR repository naming the repository it holds the copies of.
TAG_DR_OF = "awsdr:dr-repository-of"


# --- names and documents ---------------------------------------------------------------------------


def repo_segment(repository: str) -> str:
    """A repository name as one key segment: ``/`` (namespaces) becomes ``!``, never in ECR names."""
    return repository.replace("/", "!")


def repo_from_segment(segment: str) -> str:
    return segment.replace("!", "/")


def point_key(plan: str, repository: str, window: datetime) -> str:
    """``points/ecr/<plan>/<repository>/<window stamp>.json``."""
    return point_doc_key(KIND, plan, repo_segment(repository), window)


def dr_point_key(region: str, plan: str, repository: str, window: datetime) -> str:
    """``points/ecr-dr/<region>/<plan>/<repository>/<window stamp>.json`` (the copy point)."""
    return dr_point_doc_key(KIND, region, plan, repo_segment(repository), window)


def images_digest(images: list[dict[str, Any]]) -> str:
    """sha256 hex over the sorted image digests, each line ending in ``\\n``."""
    digest = hashlib.sha256()
    for d in sorted(str(i["digest"]) for i in images):
        digest.update(d.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _header(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "images"}


def _is_doc_key(key: str, prefix: str, depth: int) -> bool:
    """A point document under ``prefix`` with exactly ``depth`` segments after it (not an index)."""
    if not key.startswith(prefix):
        return False
    rest = key[len(prefix) :].split("/")
    return len(rest) == depth and rest[-1].endswith(".json") and rest[-1] != "index.json"


def _pass_through(err: ClientError) -> None:
    """Throttling and quota answers propagate as they are (the caller queues them)."""
    if error_code(err) in PASS_THROUGH:
        raise err


def _few(items: list[str], limit: int = 5) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; ... ({len(items) - limit} more)" if len(items) > limit else "")


# --- ECR reads -------------------------------------------------------------------------------------


def list_images(ecr: Any, repository: str) -> list[dict[str, Any]]:
    """Every image of ``repository`` (paginated DescribeImages, 1,000 a page)."""
    images: list[dict[str, Any]] = []
    paginator = ecr.get_paginator("describe_images")
    for page in paginator.paginate(repositoryName=repository, PaginationConfig={"PageSize": PAGE}):
        images.extend(page.get("imageDetails", []))
    return images


def images_as_of(ecr: Any, repository: str, as_of: datetime) -> list[dict[str, Any]]:
    """The entries of every image in ``repository`` pushed at or before ``as_of``, by digest."""
    limit = to_utc(as_of)
    entries: dict[str, dict[str, Any]] = {}
    for image in list_images(ecr, repository):
        pushed = image.get("imagePushedAt")
        if pushed is None or to_utc(pushed) > limit:
            continue
        entries[image["imageDigest"]] = {
            "digest": image["imageDigest"],
            "tags": sorted(image.get("imageTags") or []),
            "media_type": image.get("imageManifestMediaType"),
            "artifact_media_type": image.get("artifactMediaType"),
            "size": int(image.get("imageSizeInBytes") or 0),
            "pushed_at": format_window(pushed),
        }
    return [entries[d] for d in sorted(entries)]


def list_repositories(ecr: Any) -> list[dict[str, Any]]:
    """Every repository of the account's registry in the client's region (paginated)."""
    repos: list[dict[str, Any]] = []
    for page in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": PAGE}):
        repos.extend(page.get("repositories", []))
    return repos


def repository_tags(ecr: Any, arn: str) -> dict[str, str]:
    return tag_dict(ecr.list_tags_for_resource(resourceArn=arn).get("tags"))


def describe_repository(ecr: Any, repository: str) -> dict[str, Any] | None:
    """The repository's description, or None when there is none."""
    try:
        [repo] = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    except ClientError as err:
        if error_code(err) == _NO_REPO:
            return None
        raise
    return dict(repo)


def batch_get_manifests(ecr: Any, repository: str, digests: list[str]) -> dict[str, dict[str, Any]]:
    """``digest -> {"manifest", "media_type"}`` of the images found (BatchGetImage, 100 a call).

    A digest not found is left out (moto names failures by tag only, so the answer's digests decide).
    """
    found: dict[str, dict[str, Any]] = {}
    for batch in Kind.batches(sorted(set(digests)), BATCH):
        response = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": d} for d in batch],
            acceptedMediaTypes=ACCEPTED,
        )
        for image in response.get("images", []):
            digest = str((image.get("imageId") or {}).get("imageDigest") or "")
            if digest in batch and digest not in found:
                manifest = str(image["imageManifest"])
                media = image.get("imageManifestMediaType") or _media_type_of(manifest)
                found[digest] = {"manifest": manifest, "media_type": media}
    return found


def _media_type_of(manifest: str) -> str | None:
    try:
        value = json.loads(manifest).get("mediaType")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def manifest_refs(manifest: str, media_type: str | None) -> tuple[list[str], list[str]]:
    """``(child manifest digests, blob digests)`` a manifest names.

    An index names children (its ``manifests``); an image manifest names its config and layers
    (foreign / non-distributable layers left out). ValueError for schema 1 or unreadable JSON.
    """
    if media_type in SCHEMA1:
        raise ValueError(f"Docker schema 1 manifest ({media_type}) is not supported: push it as schema 2")
    try:
        doc = json.loads(manifest)
    except ValueError as err:
        raise ValueError(f"manifest is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ValueError("manifest is not a JSON object")
    kind = media_type or doc.get("mediaType")
    if doc.get("schemaVersion") == 1 or kind in SCHEMA1:
        raise ValueError("Docker schema 1 manifest is not supported: push it as schema 2")
    if kind in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
        return [str(m["digest"]) for m in doc.get("manifests") or []], []
    blobs: list[str] = []
    config = doc.get("config") or {}
    if config.get("digest"):
        blobs.append(str(config["digest"]))
    for layer in doc.get("layers") or []:
        if layer.get("mediaType") in FOREIGN_LAYERS or layer.get("urls"):
            continue
        blobs.append(str(layer["digest"]))
    return [], list(dict.fromkeys(blobs))


def available_blobs(ecr: Any, repository: str, digests: list[str]) -> set[str]:
    """The blobs among ``digests`` ``repository`` holds (BatchCheckLayerAvailability, 100 a call)."""
    have: set[str] = set()
    for batch in Kind.batches(sorted(set(digests)), BATCH):
        response = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=batch)
        have.update(
            layer["layerDigest"]
            for layer in response.get("layers", [])
            if layer.get("layerAvailability") == "AVAILABLE"
        )
    return have


# --- the blob transfer (its HTTPS GET is the one thing tests stub) ---------------------------------


def http_download(url: str, out: IO[bytes]) -> None:
    """GET ``url`` (the presigned URL GetDownloadUrlForLayer gave) into ``out``, streamed.

    HTTPS only, except for an emulator's plain-HTTP URL on a loopback host.
    """
    parsed = urlparse(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ValueError(f"refusing to download a layer over {parsed.scheme or 'no scheme'}: {url[:80]}")
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310 (scheme checked)
        shutil.copyfileobj(response, out, CHUNK)


def copy_blob(src: Any, dst: Any, repository: str, dr_repository: str, digest: str) -> int:
    """Copy one blob (layer or config) of ``repository`` into ``dr_repository``; returns its size.

    GetDownloadUrlForLayer, :func:`http_download` into a temporary file, sha256 checked against
    ``digest``, then InitiateLayerUpload / UploadLayerPart (in order, parts of the size ECR names,
    at most 20 MiB) / CompleteLayerUpload, whose digest must be ``digest`` (a blob another copy
    completed first, LayerAlreadyExistsException, is there: fine).
    """
    url = src.get_download_url_for_layer(repositoryName=repository, layerDigest=digest)["downloadUrl"]
    algorithm, _, expected = digest.partition(":")
    if algorithm != "sha256":
        raise ValueError(f"blob {digest}: only sha256 digests are supported")
    with tempfile.TemporaryFile() as tmp:
        http_download(url, tmp)
        size = tmp.tell()
        tmp.seek(0)
        hasher = hashlib.sha256()
        for chunk in iter(lambda: tmp.read(CHUNK), b""):
            hasher.update(chunk)
        if hasher.hexdigest() != expected:
            raise ValueError(f"blob {digest}: downloaded {size} bytes hash to sha256:{hasher.hexdigest()}")
        upload = dst.initiate_layer_upload(repositoryName=dr_repository)
        part = min(int(upload.get("partSize") or PART_DEFAULT), PART_MAX)
        tmp.seek(0)
        first = 0
        for chunk in iter(lambda: tmp.read(part), b""):
            dst.upload_layer_part(
                repositoryName=dr_repository,
                uploadId=upload["uploadId"],
                partFirstByte=first,
                partLastByte=first + len(chunk) - 1,
                layerPartBlob=chunk,
            )
            first += len(chunk)
    try:
        done = dst.complete_layer_upload(
            repositoryName=dr_repository, uploadId=upload["uploadId"], layerDigests=[digest]
        )
    except ClientError as err:
        if error_code(err) == "LayerAlreadyExistsException":
            return size
        raise
    if done.get("layerDigest") and done["layerDigest"] != digest:
        raise ValueError(f"blob {digest}: ECR completed the upload as {done['layerDigest']}")
    return size


def put_image(
    dst: Any, repository: str, digest: str, manifest: str, media_type: str | None, tags: list[str]
) -> list[str]:
    """PutImage by digest, once per tag (untagged: once without); returns warnings.

    Already there with that tag: fine. A tag an immutable repository gives another image: the image
    is pushed by digest without it, and the tag is reported.
    """
    warnings: list[str] = []
    base: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest, "imageDigest": digest}
    if media_type:
        base["imageManifestMediaType"] = media_type
    pushed = False
    wanted: list[str | None] = list(tags) or [None]
    for tag in wanted:
        kwargs = {**base, **({"imageTag": tag} if tag else {})}
        try:
            response = dst.put_image(**kwargs)
        except ClientError as err:
            code = error_code(err)
            if code == "ImageAlreadyExistsException":
                pushed = True
                continue
            if code == "ImageTagAlreadyExistsException":
                warnings.append(f"tag {tag} names another image in {repository}: not moved")
                continue
            raise
        got = ((response.get("image") or {}).get("imageId") or {}).get("imageDigest")
        if got and got != digest:
            raise ValueError(f"PutImage stored {got}, not {digest}")
        pushed = True
    if not pushed:
        dst.put_image(**base)  # every tag refused: the image by digest, untagged
    return warnings


# --- the kind --------------------------------------------------------------------------------------


class EcrKind(Kind):
    """ECR repositories; the point is an image list in the catalog bucket.

    :param catalog_bucket: where the documents go (set by ``kinds.kind_for``).
    :param catalog_region: the catalog bucket's region (default: the region asked about).
    """

    name = "ecr"
    tagging_type = None
    describe_batch = BATCH

    def __init__(self, catalog_bucket: str | None = None, catalog_region: str | None = None) -> None:
        self.catalog_bucket = catalog_bucket
        self.catalog_region = catalog_region

    # --- catalog ------------------------------------------------------------------------------

    def _catalog(self, ctx: AwsContext, region: str) -> tuple[Any, str]:
        if not self.catalog_bucket:
            raise ValueError("EcrKind.catalog_bucket is not set: ECR points have nowhere to go")
        return ctx.client("s3", self.catalog_region or region), self.catalog_bucket

    def _point(self, key: str, header: dict[str, Any], region: str) -> RecoveryPoint | None:
        """The point of a document (its header); None when it is not a managed point."""
        is_copy = "dr_repository" in header
        if not is_copy and header.get("region") != region:
            return None
        total = header.get("total_bytes")
        details: dict[str, Any] = {
            "document_key": key,
            "repository": header.get("repository"),
            "image_count": header.get("image_count"),
            "total_bytes": total,
            "size_bytes": total,
            "digest": header.get("digest"),
        }
        if is_copy:
            for name in (
                "dr_repository",
                "dr_repository_managed",
                "kms_key_id",
                "source_document",
                "copied",
                "already_present",
                "blobs_uploaded",
                "verified_at",
                "warnings",
            ):
                details[name] = header.get(name)
        when = header.get("copied_at") if is_copy else header.get("captured_at")
        point = point_from_tags(
            self.name,
            key,
            f"s3://{self.catalog_bucket}/{key}",
            header.get("region") or region,
            dict(header.get("tags") or {}),
            AVAILABLE,
            created_at=parse_window(when) if when else None,
            details=details,
        )
        if point is not None:
            point.source_id = header.get("repository") or point.source_id
            point.plan = header.get("plan") or point.plan
        return point

    def _read_point(self, catalog: Any, catalog_bucket: str, key: str, region: str) -> RecoveryPoint | None:
        doc, _ = get_doc(catalog, catalog_bucket, key)
        return None if doc is None else self._point(key, _header(doc), region)

    def _index_put(self, catalog: Any, catalog_bucket: str, key: str, etag: str, doc: dict[str, Any]) -> None:
        """Record a written document's header in its folder's listing index (best effort)."""
        if not etag:
            return
        entry = {"etag": etag.strip('"'), "header": json.loads(json.dumps(_header(doc)))}
        update_point_index(catalog, catalog_bucket, point_index_key(key), put={key: entry})

    def _write_once(
        self, catalog: Any, catalog_bucket: str, key: str, doc: dict[str, Any], region: str
    ) -> RecoveryPoint:
        """Write ``doc`` at ``key`` unless one is there (If-None-Match); the point of what is there."""
        try:
            etag = put_doc_etag(catalog, catalog_bucket, key, doc, if_none_match=True)
        except ClientError as err:
            raise CaptureError(f"document {key}: {error_code(err)}: {err}") from err
        if etag is not None:
            self._index_put(catalog, catalog_bucket, key, etag, doc)
            made = self._point(key, _header(json.loads(json.dumps(doc))), region)
        else:
            made = self._read_point(catalog, catalog_bucket, key, region)
        if made is None:
            why = (
                "exists and is not a managed point"
                if etag is None
                else f"does not make a managed point ({doc.get('tags')})"
            )
            raise CaptureError(f"document {key} {why}")
        return made

    # --- discovery ----------------------------------------------------------------------------

    def _resource(self, ecr: Any, repo: dict[str, Any], region: str, tags: dict[str, str]) -> Resource:
        name = repo["repositoryName"]
        encryption = repo.get("encryptionConfiguration") or {}
        images = list_images(ecr, name)
        meta = {
            "repository_uri": repo.get("repositoryUri"),
            "registry_id": repo.get("registryId"),
            "encryption": {"type": encryption.get("encryptionType"), "kms_key": encryption.get("kmsKey")},
            "image_count": len(images),
            "total_bytes": sum(int(i.get("imageSizeInBytes") or 0) for i in images),
            "image_tag_mutability": repo.get("imageTagMutability"),
            "scan_on_push": bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush")),
        }
        return Resource(
            kind=self.name, id=name, arn=repo["repositoryArn"], region=region, tags=tags, meta=meta
        )

    def discover(self, ctx: AwsContext, region: str, tags: dict[str, str]) -> list[Resource]:
        """Repositories carrying all ``tags`` (DescribeRepositories + ListTagsForResource, pool of 8),
        product-made ones left out."""
        ecr = ctx.client("ecr", region)
        repos = list_repositories(ecr)

        def _one(repo: dict[str, Any]) -> Resource | None:
            try:
                rtags = repository_tags(ecr, repo["repositoryArn"])
                if is_product_made(rtags) or not all(rtags.get(k) == v for k, v in tags.items()):
                    return None
                return self._resource(ecr, repo, region, rtags)
            except ClientError as err:
                if error_code(err) == _NO_REPO:
                    return None
                raise

        if not repos:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(repos))) as pool:
            found = [r for r in pool.map(_one, repos) if r is not None]
        return sorted(found, key=lambda r: r.id)

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        """The repositories behind ``arns`` (one paginated listing; vanished ones left out)."""
        if not arns:
            return []
        ecr = ctx.client("ecr", region)
        wanted = set(arns)
        repos = [r for r in list_repositories(ecr) if r["repositoryArn"] in wanted]

        def _one(repo: dict[str, Any]) -> Resource | None:
            try:
                return self._resource(ecr, repo, region, repository_tags(ecr, repo["repositoryArn"]))
            except ClientError as err:
                if error_code(err) == _NO_REPO:
                    return None
                raise

        if not repos:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(repos))) as pool:
            return [r for r in pool.map(_one, repos) if r is not None]

    # --- capture ------------------------------------------------------------------------------

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        """The documents of (plan, window): one listing of ``points/ecr/<plan>/`` plus its indexes."""
        catalog, catalog_bucket = self._catalog(ctx, region)
        prefix, name = points_prefix(KIND, plan), f"{window_stamp(window)}.json"
        listed = indexed_listing(
            catalog,
            catalog_bucket,
            prefix,
            lambda k: _is_doc_key(k, prefix, 2) and k.rsplit("/", 1)[-1] == name,
        )
        found: dict[str, RecoveryPoint] = {}
        for key, entry in listed:
            header = entry.get("header") if entry else None
            point = (
                self._point(key, header, region)
                if isinstance(header, dict)
                else self._read_point(catalog, catalog_bucket, key, region)
            )
            if point is not None and point.plan == plan and point.window == to_utc(window):
                found[point.source_id] = point
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        """Write the image list of ``resource`` as of ``window`` (once; an existing one is returned)."""
        catalog, catalog_bucket = self._catalog(ctx, resource.region)
        repository = resource.id
        key = point_key(plan, repository, window)
        try:
            existing = self._read_point(catalog, catalog_bucket, key, resource.region)
        except ClientError as err:
            raise CaptureError(f"document {key}: {error_code(err)}: {err}") from err
        if existing is not None:
            return existing
        ecr = ctx.client("ecr", resource.region)
        try:
            repo = describe_repository(ecr, repository)
            if repo is None:
                raise CaptureError(f"repository {repository} not found in {resource.region}")
            images = images_as_of(ecr, repository, window)
        except ClientError as err:
            _pass_through(err)
            raise CaptureError(f"{error_code(err)}: {err}") from err
        captured_at = parse_window(tags[TAG_CAPTURED_AT]) if TAG_CAPTURED_AT in tags else datetime.now(UTC)
        encryption = repo.get("encryptionConfiguration") or {}
        doc = {
            "schema": DOC_SCHEMA,
            "kind": "ecr",
            "repository": repository,
            "repository_arn": repo.get("repositoryArn"),
            "repository_uri": repo.get("repositoryUri"),
            "region": resource.region,
            "plan": plan,
            "window": format_window(window),
            "captured_at": format_window(captured_at),
            "as_of": format_window(window),
            "image_count": len(images),
            "total_bytes": sum(i["size"] for i in images),
            "digest": images_digest(images),
            "settings": {
                "image_tag_mutability": repo.get("imageTagMutability"),
                "scan_on_push": bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush")),
                "encryption_type": encryption.get("encryptionType"),
            },
            "tags": dict(tags),
            "images": images,
        }
        return self._write_once(catalog, catalog_bucket, key, doc, resource.region)

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        """Documents are available once written; a document gone is ``missing`` (HEAD, pool of 8)."""
        if not points:
            return points
        catalog, catalog_bucket = self._catalog(ctx, region)

        def _one(point: RecoveryPoint) -> None:
            try:
                catalog.head_object(Bucket=catalog_bucket, Key=point.point_id)
            except ClientError as err:
                if error_code(err) not in _NOT_FOUND:
                    raise
                point.status = MISSING
                return
            point.status = AVAILABLE

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            list(pool.map(_one, points))
        return points

    # --- listing --------------------------------------------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Primary documents of ``region`` and DR documents held in ``region`` (managed ones).

        One listing per prefix, one GET per folder index; documents without a valid index entry
        are read themselves (pool of 8).
        """
        catalog, catalog_bucket = self._catalog(ctx, region)
        depth = 2 if plan else 3
        listed: list[tuple[str, dict[str, Any] | None]] = []
        for prefix in (points_prefix(KIND, plan), copies_prefix(KIND, region, plan)):

            def wanted(key: str, prefix: str = prefix) -> bool:
                return _is_doc_key(key, prefix, depth)

            listed += indexed_listing(catalog, catalog_bucket, prefix, wanted)
        if not listed:
            return []

        def _one(item: tuple[str, dict[str, Any] | None]) -> RecoveryPoint | None:
            key, entry = item
            header = entry.get("header") if entry else None
            if isinstance(header, dict):
                return self._point(key, header, region)
            return self._read_point(catalog, catalog_bucket, key, region)

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(listed))) as pool:
            points = list(pool.map(_one, listed))
        return [p for p in points if p is not None and (plan is None or p.plan == plan)]

    # --- copy -----------------------------------------------------------------------------------

    def _dr_repository(
        self, dst: Any, repository: str, region: str, kms_arn: str, settings: dict[str, Any]
    ) -> tuple[dict[str, Any], bool, list[str]]:
        """The DR repository (created when missing): ``(description, made by us, warnings)``."""
        repo = describe_repository(dst, repository)
        created = False
        if repo is None:
            kwargs: dict[str, Any] = {
                "repositoryName": repository,
                "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": kms_arn},
                "imageScanningConfiguration": {"scanOnPush": bool(settings.get("scan_on_push"))},
                "tags": tag_list({TAG_MANAGED: "true", TAG_KIND: self.name, TAG_DR_OF: repository}),
            }
            if settings.get("image_tag_mutability"):
                kwargs["imageTagMutability"] = settings["image_tag_mutability"]
            try:
                repo = dst.create_repository(**kwargs)["repository"]
                created = True
            except ClientError as err:
                if error_code(err) != "RepositoryAlreadyExistsException":
                    _pass_through(err)
                    raise CaptureError(
                        f"cannot create repository {repository} in {region}: {error_code(err)}: {err}"
                    ) from err
                repo = describe_repository(dst, repository)
                if repo is None:
                    raise RetryLater(
                        f"repository {repository} in {region} is being created or deleted"
                    ) from err
        assert repo is not None
        ours = created or repository_tags(dst, repo["repositoryArn"]).get(TAG_MANAGED) == "true"
        warnings: list[str] = []
        encryption = repo.get("encryptionConfiguration") or {}
        if encryption.get("encryptionType") not in ("KMS", "KMS_DSSE"):
            warnings.append(
                f"DR repository {repository} is encrypted with {encryption.get('encryptionType') or 'AES256'}, "
                "not the DR KMS key (ECR cannot change a repository's encryption)"
            )
        elif encryption.get("kmsKey") and encryption["kmsKey"] != kms_arn:
            warnings.append(f"DR repository {repository} uses KMS key {encryption['kmsKey']}, not {kms_arn}")
        return repo, ours, warnings

    def copy(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        dest_region: str,
        kms_key_id: str,
        tags: dict[str, str],
        dest_ctx: AwsContext | None = None,
    ) -> RecoveryPoint:
        """Make every image of the point present (by digest) in the DR repository; the copy is the DR document.

        Images already there are not copied again; a missing one is copied blob by blob (only the
        blobs DR lacks) then put by digest with its tags. Per-image failures are collected (the
        others go on) and raised together as a :class:`CaptureError`, so a retry copies only the
        rest; throttling and quota errors propagate as the botocore ClientError.
        """
        if point.point_id.startswith(copies_prefix(KIND)):
            raise CaptureError(f"{point.point_id} is already a DR copy")
        dctx = dest_ctx or ctx
        catalog, catalog_bucket = self._catalog(ctx, dest_region)
        repository = point.source_id
        key = dr_point_key(dest_region, point.plan, repository, point.window)
        try:
            done = self._read_point(catalog, catalog_bucket, key, dest_region)
            if done is not None:
                return done
            source, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        if source is None:
            raise CaptureError(f"document {point.point_id} not found in {catalog_bucket}")
        src, dst = ctx.client("ecr", point.region), dctx.client("ecr", dest_region)
        kms_arn = resolve_kms_key(dctx, dest_region, kms_key_id)
        entries: list[dict[str, Any]] = list(source.get("images", []))
        try:
            repo, ours, warnings = self._dr_repository(
                dst, repository, dest_region, kms_arn, source.get("settings") or {}
            )
            present = {i["imageDigest"] for i in list_images(dst, repository)}
        except ClientError as err:
            _pass_through(err)
            if error_code(err) == _NO_REPO:
                raise RetryLater(f"repository {repository} in {dest_region} is not there yet") from err
            raise CaptureError(f"repository {repository} in {dest_region}: {error_code(err)}: {err}") from err
        already = sum(1 for e in entries if e["digest"] in present)
        problems: dict[str, str] = {}
        children: dict[str, list[str]] = {}
        copied, blobs_uploaded = 0, 0
        todo = [e["digest"] for e in entries if e["digest"] not in present]
        if todo:
            try:
                copied, blobs_uploaded, more = self._copy_images(
                    src, dst, repository, todo, present, problems, children, {e["digest"]: e for e in entries}
                )
            except ClientError as err:
                _pass_through(err)
                if error_code(err) == _NO_REPO:
                    raise RetryLater(f"repository {repository} in {dest_region} is not there yet") from err
                raise CaptureError(
                    f"copy of {repository} to {dest_region}: {error_code(err)}: {err}"
                ) from err
            warnings += more
        # children of indexes that were already there: recorded so retention keeps them
        indexes = [
            e["digest"] for e in entries if e.get("media_type") in INDEX_TYPES and e["digest"] not in children
        ]
        if indexes:
            try:
                for digest, got in batch_get_manifests(dst, repository, indexes).items():
                    children[digest] = manifest_refs(got["manifest"], got["media_type"])[0]
            except (ClientError, ValueError) as err:
                if isinstance(err, ClientError):
                    _pass_through(err)
                warnings.append(f"children of indexes not read in {dest_region}: {err}")
        try:
            verified = {i["imageDigest"] for i in list_images(dst, repository)}
        except ClientError as err:
            _pass_through(err)
            raise CaptureError(
                f"verification listing of {repository} in {dest_region}: {error_code(err)}"
            ) from err
        for e in entries:
            if e["digest"] not in verified and e["digest"] not in problems:
                problems[e["digest"]] = "not present in the DR repository after the copy"
        for digest, kids in children.items():
            lost = [k for k in kids if k not in verified]
            if lost and digest not in problems:
                problems[digest] = f"{len(lost)} child manifests not present in the DR repository"
        if problems:
            lines = [f"{d}: {why}" for d, why in sorted(problems.items())]
            raise CaptureError(
                f"{len(problems)} of {len(entries)} images not copied to {repository} in {dest_region}: {_few(lines)}"
            )
        copied_at = datetime.now(UTC)
        encryption = repo.get("encryptionConfiguration") or {}
        doc = {
            "schema": DOC_SCHEMA,
            "kind": "ecr-dr",
            "repository": repository,
            "dr_repository": repository,
            "dr_repository_arn": repo.get("repositoryArn"),
            "dr_repository_uri": repo.get("repositoryUri"),
            "dr_repository_managed": ours,
            "region": dest_region,
            "source_region": point.region,
            "source_document": point.point_id,
            "plan": point.plan,
            "window": format_window(point.window),
            "captured_at": source.get("captured_at"),
            "copied_at": format_window(copied_at),
            "verified_at": format_window(copied_at),
            "image_count": len(entries),
            "total_bytes": sum(int(e.get("size", 0)) for e in entries),
            "digest": source.get("digest") or images_digest(entries),
            "kms_key_id": encryption.get("kmsKey") or kms_arn,
            "copied": copied,
            "already_present": already,
            "blobs_uploaded": blobs_uploaded,
            "warnings": warnings,
            "tags": dict(tags),
            "images": [
                {
                    **e,
                    "verified": True,
                    **({"children": children[e["digest"]]} if e["digest"] in children else {}),
                }
                for e in entries
            ],
        }
        return self._write_once(catalog, catalog_bucket, key, doc, dest_region)

    def _copy_images(
        self,
        src: Any,
        dst: Any,
        repository: str,
        todo: list[str],
        present: set[str],
        problems: dict[str, str],
        children: dict[str, list[str]],
        entries: dict[str, dict[str, Any]],
    ) -> tuple[int, int, list[str]]:
        """Copy the images ``todo`` (digests) and the child manifests they need; returns
        ``(images put, blobs uploaded, warnings)``. Failures go to ``problems`` by digest."""
        manifests: dict[str, dict[str, Any]] = {}
        refs: dict[str, tuple[list[str], list[str]]] = {}
        wanted = list(todo)
        for _depth in range(3):  # the images, their children (an index of indexes: one more)
            fetched = batch_get_manifests(src, repository, [d for d in wanted if d not in manifests])
            for digest in wanted:
                if digest in manifests or digest in problems:
                    continue
                if digest not in fetched:
                    problems[digest] = "image not found in the source repository (deleted since the capture?)"
                    continue
                manifests[digest] = fetched[digest]
                try:
                    refs[digest] = manifest_refs(fetched[digest]["manifest"], fetched[digest]["media_type"])
                except ValueError as err:
                    problems[digest] = str(err)
            kids = {k for d, (ks, _) in refs.items() for k in ks}
            for digest, (ks, _) in refs.items():
                if ks:
                    children[digest] = ks
            wanted = sorted(k for k in kids if k not in present and k not in manifests and k not in problems)
            if not wanted:
                break
        blobs_of = {d: refs[d][1] for d in refs if d not in problems}
        need = sorted({b for bs in blobs_of.values() for b in bs})
        have = available_blobs(dst, repository, need) if need else set()
        missing = [b for b in need if b not in have]
        blob_errors: dict[str, str] = {}

        def _blob(digest: str) -> tuple[str, int | None, str | None]:
            try:
                return digest, copy_blob(src, dst, repository, repository, digest), None
            except ClientError as err:
                _pass_through(err)
                return digest, None, f"{error_code(err)} {err}"
            except (OSError, ValueError) as err:  # the download (URLError, timeouts) or a digest check
                return digest, None, f"{type(err).__name__}: {err}"

        uploaded = 0
        if missing:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(missing))) as pool:
                for digest, size, why in pool.map(_blob, missing):
                    if why is not None:
                        blob_errors[digest] = why
                    elif size is not None:
                        uploaded += 1
        warnings: list[str] = []
        put = 0

        def depth(digest: str, seen: frozenset[str] = frozenset()) -> int:
            inner = [k for k in refs.get(digest, ([], []))[0] if k in refs and k not in seen]
            return (
                1 + max((depth(k, seen | {digest}) for k in inner), default=0)
                if refs.get(digest, ([], []))[0]
                else 0
            )

        # image manifests first, then indexes (an index of indexes after its children)
        order = sorted(manifests, key=lambda d: (depth(d), d))
        for digest in order:
            if digest in problems:
                continue
            child_digests, blobs = refs[digest]
            bad = [b for b in blobs if b in blob_errors]
            if bad:
                problems[digest] = f"blob {bad[0]}: {blob_errors[bad[0]]}" + (
                    f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                )
                continue
            lost = [k for k in child_digests if k not in present]
            if lost:
                why = problems.get(lost[0], "not copied")
                problems[digest] = f"child manifest {lost[0]}: {why}"
                continue
            entry = entries.get(digest) or {}
            got = manifests[digest]
            try:
                warnings += put_image(
                    dst, repository, digest, got["manifest"], got["media_type"], list(entry.get("tags") or [])
                )
            except ClientError as err:
                _pass_through(err)
                code = error_code(err)
                if code == "ReferencedImagesNotFoundException":
                    raise RetryLater(
                        f"image {digest}: its child manifests are not visible in DR yet"
                    ) from err
                problems[digest] = f"{code} {err}"
                continue
            except ValueError as err:
                problems[digest] = str(err)
                continue
            present.add(digest)
            put += 1
        return put, uploaded, warnings

    # --- tags / delete ----------------------------------------------------------------------------

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Merge ``tags`` into the document's ``"tags"`` (If-Match; the image list kept last)."""
        catalog, catalog_bucket = self._catalog(ctx, point.region)
        key = point.point_id
        for _ in range(10):
            doc, etag = get_doc(catalog, catalog_bucket, key)
            if doc is None:
                raise CaptureError(f"document {key} not found")
            images = doc.pop("images", [])
            doc["tags"] = {**(doc.get("tags") or {}), **tags}
            doc["images"] = images
            written = put_doc_etag(catalog, catalog_bucket, key, doc, if_match=etag)
            if written is not None:
                self._index_put(catalog, catalog_bucket, key, written, doc)
                return
        raise CaptureError(f"document {key} kept changing: tags not set")

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete documents (primary points and DR copies) after re-reading their tags (the JSON's,
        and any S3 object tags): refused unless ``awsdr:managed=true`` without ``awsdr:legal-hold``.
        Images are never deleted here: :meth:`unreferenced_data` / :meth:`delete_data` do that."""
        catalog, catalog_bucket = self._catalog(ctx, region)
        return _delete_manifests(catalog, catalog_bucket, points, all_versions=False, indexed=True)

    # --- images no document names any more (retention) ---------------------------------------------

    def _referenced(self, catalog: Any, catalog_bucket: str, region: str) -> dict[str, set[str]]:
        """Repository -> the digests kept in ``region``: every DR document's images and their
        children (managed or not, held or not), and the images of primary documents whose copy to
        ``region`` is not written yet (a copy in flight reuses what is there)."""
        dr_prefix, primary_prefix = copies_prefix(KIND, region), points_prefix(KIND)
        dr_keys = [k for k in list_keys(catalog, catalog_bucket, dr_prefix) if _is_doc_key(k, dr_prefix, 3)]
        copied = {k[len(dr_prefix) :] for k in dr_keys}
        primary = [
            k
            for k in list_keys(catalog, catalog_bucket, primary_prefix)
            if _is_doc_key(k, primary_prefix, 3) and k[len(primary_prefix) :] not in copied
        ]
        keep: dict[str, set[str]] = {}

        def _read(key: str) -> dict[str, Any] | None:
            return get_doc(catalog, catalog_bucket, key)[0]

        keys = dr_keys + primary
        if not keys:
            return keep
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys))) as pool:
            for key, doc in zip(keys, pool.map(_read, keys), strict=True):
                if doc is None:
                    continue
                repository = str(
                    doc.get("dr_repository") or doc.get("repository") or repo_from_segment(key.split("/")[-2])
                )
                digests = keep.setdefault(repository, set())
                for image in doc.get("images", []):
                    digests.add(str(image["digest"]))
                    digests.update(str(c) for c in image.get("children") or [])
        return keep

    def _managed_repositories(self, ecr: Any) -> list[str]:
        repos = list_repositories(ecr)

        def _one(repo: dict[str, Any]) -> str | None:
            try:
                ours = repository_tags(ecr, repo["repositoryArn"]).get(TAG_MANAGED) == "true"
            except ClientError as err:
                if error_code(err) == _NO_REPO:
                    return None
                raise
            return str(repo["repositoryName"]) if ours else None

        if not repos:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(repos))) as pool:
            return sorted(r for r in pool.map(_one, repos) if r is not None)

    def unreferenced_data(
        self, ctx: AwsContext, region: str, *, vault_ctx: AwsContext | None = None
    ) -> list[tuple[str, list[dict[str, str]]]]:
        """``(repository, [{"Key": digest, "VersionId": ""}])`` of images in DR repositories this
        product made (``awsdr:managed=true``) that no document keeps (see :meth:`_referenced`).

        Repositories anybody else made (ECR replication's, the protected ones) are never looked at.
        ECR points have no vault copies: with ``vault_ctx`` there is nothing.
        """
        if vault_ctx is not None:
            return []
        catalog, catalog_bucket = self._catalog(ctx, region)
        ecr = ctx.client("ecr", region)
        keep = self._referenced(catalog, catalog_bucket, region)
        out: list[tuple[str, list[dict[str, str]]]] = []
        for repository in self._managed_repositories(ecr):
            try:
                images = list_images(ecr, repository)
            except ClientError as err:
                if error_code(err) == _NO_REPO:
                    continue
                raise
            kept = keep.get(repository, set())
            doomed = sorted({i["imageDigest"] for i in images} - kept)
            if doomed:
                out.append((repository, [{"Key": d, "VersionId": ""} for d in doomed]))
        return out

    def delete_data(
        self,
        ctx: AwsContext,
        region: str,
        bucket: str,
        items: list[dict[str, str]],
        *,
        vault_ctx: AwsContext | None = None,
    ) -> dict[str, str]:
        """Delete images of the DR repository ``bucket`` (BatchDeleteImage, 100 a call) after a
        re-check: the repository is tagged ``awsdr:managed=true`` and no document keeps the digest
        (else ``refused``). Outcomes are keyed ``<digest>@`` (``key@version`` with no version)."""
        if not items:
            return {}
        if vault_ctx is not None:
            return {version_id_of(i): REFUSED for i in items}
        catalog, catalog_bucket = self._catalog(ctx, region)
        ecr = ctx.client("ecr", region)
        repo = describe_repository(ecr, bucket)
        if repo is None:
            return {version_id_of(i): ABSENT for i in items}
        if repository_tags(ecr, repo["repositoryArn"]).get(TAG_MANAGED) != "true":
            return {version_id_of(i): REFUSED for i in items}
        kept = self._referenced(catalog, catalog_bucket, region).get(bucket, set())
        outcomes: dict[str, str] = {}
        todo: list[dict[str, str]] = []
        for item in items:
            if item["Key"] in kept:
                outcomes[version_id_of(item)] = REFUSED
            else:
                todo.append(item)
        for batch in self.batches(todo, BATCH):
            try:
                response = ecr.batch_delete_image(
                    repositoryName=bucket, imageIds=[{"imageDigest": i["Key"]} for i in batch]
                )
            except ClientError as err:
                _pass_through(err)
                outcomes.update({version_id_of(i): f"error: {error_code(err)} {err}" for i in batch})
                continue
            failed: dict[str, str] = {}
            for failure in response.get("failures", []):
                digest = (failure.get("imageId") or {}).get("imageDigest")
                code = failure.get("failureCode")
                if digest:
                    failed[digest] = (
                        ABSENT if code == "ImageNotFound" else f"error: {code} {failure.get('failureReason')}"
                    )
            for item in batch:
                outcomes[version_id_of(item)] = failed.get(item["Key"], DELETED)
        return outcomes

    def data_present(
        self, ctx: AwsContext, region: str, bucket: str, items: list[dict[str, str]]
    ) -> dict[str, bool]:
        """Whether each image is still in ``bucket`` (one listing): for retention's reconciliation
        of an interrupted :meth:`delete_data` batch (its S3 HEAD does not apply to ECR)."""
        try:
            have = {i["imageDigest"] for i in list_images(ctx.client("ecr", region), bucket)}
        except ClientError as err:
            if error_code(err) != _NO_REPO:
                raise
            have = set()
        return {version_id_of(i): i["Key"] in have for i in items}

    # --- restore / validate / cleanup --------------------------------------------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """Nothing is created: the restored resource is the repository holding the point's images
        (the DR repository for a copy, the protected repository for a primary point). ``name`` and
        ``tags`` are not used."""
        catalog, catalog_bucket = self._catalog(ctx, point.region)
        try:
            doc, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise CaptureError(f"document {point.point_id}: {error_code(err)}: {err}") from err
        if doc is None:
            raise CaptureError(f"document {point.point_id} not found in {catalog_bucket}")
        holder = str(doc.get("dr_repository") or doc.get("repository") or point.source_id)
        return Restored(
            kind=self.name,
            resource_id=holder,
            region=point.region,
            point_id=point.point_id,
            status=AVAILABLE,
            started_at=datetime.now(UTC),
            details={
                "repository": holder,
                "repository_uri": doc.get("dr_repository_uri") or doc.get("repository_uri"),
                "document_key": point.point_id,
                "image_count": doc.get("image_count"),
                "created": False,
            },
        )

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        """``available`` while the repository exists, else ``missing`` (one listing)."""
        if not items:
            return items
        names = {r["repositoryName"] for r in list_repositories(ctx.client("ecr", region))}
        for item in items:
            item.status = AVAILABLE if item.resource_id in names else MISSING
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Every digest the point names is in the repository (DescribeImages by digest, 100 a call;
        a batch ECR refuses for a missing image is resolved with one listing), and the counts and
        the digest over the image list match what was captured."""
        catalog, catalog_bucket = self._catalog(ctx, restored.region)
        try:
            doc, _ = get_doc(catalog, catalog_bucket, restored.point_id)
        except ClientError as err:
            return [f"document {restored.point_id} unreadable: {error_code(err)}"]
        if doc is None:
            return [f"document {restored.point_id} not found in {catalog_bucket}"]
        problems: list[str] = []
        details = expected.get("details") or {}
        images: list[dict[str, Any]] = list(doc.get("images", []))
        if details.get("digest") and images_digest(images) != details["digest"]:
            problems.append("the document's image list differs from the captured one (digest)")
        if details.get("image_count") is not None and len(images) != details["image_count"]:
            problems.append(f"image count {len(images)} in the document != captured {details['image_count']}")
        repository = restored.resource_id
        ecr = ctx.client("ecr", restored.region)
        digests = sorted({str(i["digest"]) for i in images})
        found: set[str] = set()
        listing: set[str] | None = None
        try:
            for batch in self.batches(digests, BATCH):
                try:
                    response = ecr.describe_images(
                        repositoryName=repository, imageIds=[{"imageDigest": d} for d in batch]
                    )
                    found.update(i["imageDigest"] for i in response.get("imageDetails", []))
                except ClientError as err:
                    if error_code(err) != "ImageNotFoundException":
                        raise
                    if listing is None:
                        listing = {i["imageDigest"] for i in list_images(ecr, repository)}
                    found.update(d for d in batch if d in listing)
        except ClientError as err:
            return [*problems, f"repository {repository}: {error_code(err)}"]
        missing = [d for d in digests if d not in found]
        if missing:
            noun = "image" if len(missing) == 1 else "images"
            problems.append(f"{len(missing)} {noun} missing in {repository}: {_few(missing, 10)}")
        present = len(digests) - len(missing)
        want = details.get("image_count", doc.get("image_count"))
        if want is not None and present != want:
            problems.append(f"{present} of the point's images in {repository}, {want} captured")
        return problems

    def cleanup(
        self,
        ctx: AwsContext,
        region: str,
        tag_key: str,
        tag_value: str | None = None,
        *,
        keep: str | None = None,
    ) -> list[str]:
        """ECR restores create nothing, so there is nothing to clean up."""
        return []
