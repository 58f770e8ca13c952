"""A standby ECS service that pulls its images from the primary region's registry is pointed at
the DR copies (the ecr type's) before the failover scales it: a region that is out serves no
image pulls. moto runs no tasks and checks no image, so what is asserted is the task definition
the service ends up on."""

from __future__ import annotations

import json

from conftest import DR, PRIMARY

from awsdr.aws import compute

ACCOUNT = "123456789012"
HOME = f"{ACCOUNT}.dkr.ecr.{PRIMARY}.amazonaws.com"
AWAY = f"{ACCOUNT}.dkr.ecr.{DR}.amazonaws.com"


def _dr_image(ctx, repo: str, tag: str) -> None:
    """An image in the DR region's registry as the ecr copy leaves it (same repository, same tag)."""
    ecr = ctx.client("ecr", DR)
    ecr.create_repository(repositoryName=repo)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": "sha256:" + "2" * 64,
                "size": 3,
            }
        ],
    }
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)


def _standby(ctx, images: list[str]) -> str:
    ecs = ctx.client("ecs", DR)
    ecs.create_cluster(clusterName="app")
    arn = ecs.register_task_definition(
        family="api",
        containerDefinitions=[
            {"name": f"c{i}", "image": image, "memory": 128} for i, image in enumerate(images)
        ],
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/api-exec",
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="app", serviceName="api", taskDefinition=arn, desiredCount=0)
    return arn


def _images(ctx) -> list[str]:
    ecs = ctx.client("ecs", DR)
    [svc] = ecs.describe_services(cluster="app", services=["api"])["services"]
    task = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return [c["image"] for c in task["containerDefinitions"]]


def test_images_of_the_primary_registry_are_swapped_for_their_dr_copies_once(ctx):
    _dr_image(ctx, "orders/web", "v1")
    before = _standby(
        ctx,
        [
            f"{HOME}/orders/web:v1",  # copied to DR: repointed
            f"{HOME}/orders/worker:v7",  # no copy in DR: left, and said so
            "public.ecr.aws/nginx/nginx:1.27",  # not this account's registry: left
        ],
    )
    outcome, notes = compute.repoint_images(ctx, DR, "app", "api")
    assert outcome == "repointed"
    assert notes == [
        f"{HOME}/orders/web:v1 -> {AWAY}/orders/web:v1",
        f"kept {HOME}/orders/worker:v7 (no copy in {DR})",
    ]
    assert _images(ctx) == [
        f"{AWAY}/orders/web:v1",
        f"{HOME}/orders/worker:v7",
        "public.ecr.aws/nginx/nginx:1.27",
    ]
    ecs = ctx.client("ecs", DR)
    [svc] = ecs.describe_services(cluster="app", services=["api"])["services"]
    assert svc["taskDefinition"] != before  # a new revision of the same family, its role kept
    task = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert task["family"] == "api"
    assert task["executionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/api-exec"
    # a retry (or a re-triggered failover) registers nothing more
    revisions = ecs.list_task_definitions(familyPrefix="api")["taskDefinitionArns"]
    assert compute.repoint_images(ctx, DR, "app", "api") == (
        "already",
        [f"{HOME}/orders/worker:v7 (no copy in {DR})"],
    )
    assert ecs.list_task_definitions(familyPrefix="api")["taskDefinitionArns"] == revisions


def test_a_digest_reference_is_kept_as_a_digest_and_needs_that_digest_in_dr(ctx):
    _dr_image(ctx, "orders/web", "v1")
    [detail] = ctx.client("ecr", DR).describe_images(repositoryName="orders/web")["imageDetails"]
    digest = detail["imageDigest"]
    assert compute.local_image(ctx, DR, f"{HOME}/orders/web@{digest}") == f"{AWAY}/orders/web@{digest}"
    assert compute.local_image(ctx, DR, f"{HOME}/orders/web@sha256:{'f' * 64}") is None
    assert compute.local_image(ctx, DR, f"{AWAY}/orders/web:v1") is None  # already local
    assert compute.local_image(ctx, DR, f"{HOME}/orders/web") is None  # "latest" was not copied
