"""Compute for the failover runbook: Auto Scaling groups, ECS services, instances from copied AMIs.

Every call reads the current state first and skips when the target is already met, so a retry
or a re-triggered run never scales, launches or creates twice. Describes are batched (50 groups,
10 services, one filtered DescribeInstances) and a wait is one batched round per call (the operator defers between rounds).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import chunks, error_code, tag_dict, tag_list

if TYPE_CHECKING:
    from collections.abc import Callable

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

SCALED = "scaled"
CREATED = "created"
LAUNCHED = "launched"
ALREADY = "already"

#: Tag on instances launched from a copied AMI: the launch's idempotency key.
TAG_LAUNCH_KEY = "awsdr:launch-key"
#: Instance states that count as "launched" (terminated ones do not).
LIVE_INSTANCE_STATES = ("pending", "running", "stopping", "stopped")
#: DescribeAutoScalingGroups / DescribeServices batch sizes.
ASG_BATCH = 50
ECS_BATCH = 10


class ComputeError(Exception):
    """A standby that is missing or cannot be changed; the message names it."""


class StillWaiting(Exception):  # noqa: N818 - a state, not an error
    """Something is not done yet; the caller defers and looks again (no wait here)."""

    def __init__(self, what: str, waiting: list[str]) -> None:
        super().__init__(f"{what}: still waiting for {', '.join(waiting)}")
        self.what = what
        self.waiting = waiting


def poll(check: Callable[[], list[str]], *, what: str) -> None:
    """One round of ``check`` (returns what is still not done).

    Never sleeps: waiting is the operator's, which defers to the triggerer between rounds.

    :raises StillWaiting: naming what is still not done.
    """
    waiting = check()
    if waiting:
        log.info("%s: waiting for %s", what, ", ".join(waiting))
        raise StillWaiting(what, waiting)


# --- Auto Scaling groups ---------------------------------------------------------------------


def describe_asgs(ctx: AwsContext, region: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: group}`` for the groups that exist (batched; missing names are absent)."""
    client = ctx.client("autoscaling", region)
    out: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(dict.fromkeys(names)), ASG_BATCH):
        for page in client.get_paginator("describe_auto_scaling_groups").paginate(
            AutoScalingGroupNames=batch
        ):
            for group in page.get("AutoScalingGroups", []):
                out[group["AutoScalingGroupName"]] = group
    return out


def asg_size(group: dict[str, Any]) -> dict[str, int]:
    return {"min": group["MinSize"], "desired": group["DesiredCapacity"], "max": group["MaxSize"]}


def scale_asg(ctx: AwsContext, region: str, name: str, size: dict[str, int]) -> str:
    """Set the group's min/desired/max to ``size``; ``already`` when it is there.

    :raises ComputeError: the group does not exist.
    """
    group = describe_asgs(ctx, region, [name]).get(name)
    if group is None:
        raise ComputeError(f"Auto Scaling group {name} not found in {region}")
    if asg_size(group) == size:
        return ALREADY
    ctx.client("autoscaling", region).update_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=size["min"], DesiredCapacity=size["desired"], MaxSize=size["max"]
    )
    log.info("Scaled %s in %s from %s to %s", name, region, asg_size(group), size)
    return SCALED


def asgs_not_ready(ctx: AwsContext, region: str, desired: dict[str, int]) -> list[str]:
    """Groups whose InService instances do not yet match ``desired`` (one batched describe)."""
    groups = describe_asgs(ctx, region, list(desired))
    waiting: list[str] = []
    for name, want in desired.items():
        group = groups.get(name)
        if group is None:
            waiting.append(f"{name} (missing)")
            continue
        instances = [i for i in group.get("Instances", []) if i.get("LifecycleState") != "Terminated"]
        in_service = [
            i
            for i in instances
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
        ]
        if len(in_service) < want or len(instances) > max(want, len(in_service)):
            waiting.append(f"{name} ({len(in_service)}/{want} in service)")
    return waiting


def clone_asg(
    ctx: AwsContext, region: str, source: str, name: str, size: dict[str, int], tags: dict[str, str]
) -> str:
    """Create group ``name`` like ``source`` (launch template or configuration, subnets) at ``size``.

    Drills use it to exercise a standby without touching it. ``already`` when ``name`` exists.
    """
    groups = describe_asgs(ctx, region, [source, name])
    if name in groups:
        return ALREADY
    src = groups.get(source)
    if src is None:
        raise ComputeError(f"Auto Scaling group {source} not found in {region}: nothing to clone")
    args: dict[str, Any] = {
        "AutoScalingGroupName": name,
        "MinSize": size["min"],
        "MaxSize": size["max"],
        "DesiredCapacity": size["desired"],
        "Tags": [{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in tags.items()],
    }
    if src.get("LaunchTemplate"):
        lt = src["LaunchTemplate"]
        ref = (
            {"LaunchTemplateId": lt["LaunchTemplateId"]}
            if lt.get("LaunchTemplateId")
            else {"LaunchTemplateName": lt["LaunchTemplateName"]}
        )
        args["LaunchTemplate"] = {**ref, "Version": lt.get("Version", "$Default")}
    elif src.get("MixedInstancesPolicy"):
        args["MixedInstancesPolicy"] = src["MixedInstancesPolicy"]
    elif src.get("LaunchConfigurationName"):
        args["LaunchConfigurationName"] = src["LaunchConfigurationName"]
    if src.get("VPCZoneIdentifier"):
        args["VPCZoneIdentifier"] = src["VPCZoneIdentifier"]
    else:
        args["AvailabilityZones"] = src["AvailabilityZones"]
    try:
        ctx.client("autoscaling", region).create_auto_scaling_group(**args)
    except ClientError as err:
        if error_code(err) == "AlreadyExists":
            return ALREADY
        raise
    log.info("Created Auto Scaling group %s in %s (a copy of %s) at %s", name, region, source, size)
    return CREATED


def delete_asgs_tagged(ctx: AwsContext, region: str, tag_key: str, tag_value: str) -> list[str]:
    """Force-delete (instances included) every group tagged ``tag_key=tag_value``."""
    client = ctx.client("autoscaling", region)
    names: list[str] = []
    for page in client.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page.get("AutoScalingGroups", []):
            tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
            if tags.get(tag_key) == tag_value:
                names.append(group["AutoScalingGroupName"])
    for name in names:
        try:
            client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        except ClientError as err:
            if error_code(err) not in ("ValidationError", "ScalingActivityInProgress"):
                raise
        log.info("Deleted Auto Scaling group %s in %s", name, region)
    return names


# --- ECS services ----------------------------------------------------------------------------


def describe_services(
    ctx: AwsContext, region: str, cluster: str, services: list[str]
) -> dict[str, dict[str, Any]]:
    """``{name: service}`` for the ACTIVE or DRAINING services of ``cluster`` among ``services``."""
    client = ctx.client("ecs", region)
    out: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(dict.fromkeys(services)), ECS_BATCH):
        try:
            answer = client.describe_services(cluster=cluster, services=batch, include=["TAGS"])
        except ClientError as err:
            if error_code(err) == "ClusterNotFoundException":
                return {}
            raise
        for svc in answer.get("services", []):
            if svc.get("status") in ("ACTIVE", "DRAINING"):
                out[svc["serviceName"]] = svc
    return out


def scale_ecs(ctx: AwsContext, region: str, cluster: str, service: str, desired: int) -> str:
    """Set the service's desired count; ``already`` when it is there.

    :raises ComputeError: the service does not exist.
    """
    svc = describe_services(ctx, region, cluster, [service]).get(service)
    if svc is None:
        raise ComputeError(f"ECS service {cluster}/{service} not found in {region}")
    if svc["desiredCount"] == desired:
        return ALREADY
    ctx.client("ecs", region).update_service(cluster=cluster, service=service, desiredCount=desired)
    log.info(
        "Scaled ECS %s/%s in %s from %d to %d tasks", cluster, service, region, svc["desiredCount"], desired
    )
    return SCALED


def services_not_ready(ctx: AwsContext, region: str, cluster: str, desired: dict[str, int]) -> list[str]:
    """Services whose running task count is not yet ``desired`` (one batched describe).

    Scaling changes only the desired count, not the task definition, so no new deployment is
    rolled out: the running count is what says the service serves. A FAILED rollout raises.
    """
    found = describe_services(ctx, region, cluster, list(desired))
    waiting: list[str] = []
    for name, want in desired.items():
        svc = found.get(name)
        if svc is None:
            waiting.append(f"{cluster}/{name} (missing)")
            continue
        if any(
            d.get("rolloutState") == "FAILED"
            for d in svc.get("deployments", [])
            if d.get("status") == "PRIMARY"
        ):
            raise ComputeError(f"ECS service {cluster}/{name} in {region}: deployment FAILED")
        if svc.get("runningCount") != want:
            waiting.append(f"{cluster}/{name} ({svc.get('runningCount')}/{want} running)")
    return waiting


def clone_service(
    ctx: AwsContext,
    region: str,
    cluster: str,
    source: str,
    name: str,
    desired: int,
    tags: dict[str, str],
) -> str:
    """Create service ``name`` in ``cluster`` with ``source``'s task definition and network setup."""
    found = describe_services(ctx, region, cluster, [source, name])
    if name in found:
        return ALREADY
    src = found.get(source)
    if src is None:
        raise ComputeError(f"ECS service {cluster}/{source} not found in {region}: nothing to clone")
    # Made idle, then scaled like the standby itself (one path for both; emulators start tasks
    # only on a scale).
    args: dict[str, Any] = {
        "cluster": cluster,
        "serviceName": name,
        "taskDefinition": src["taskDefinition"],
        "desiredCount": 0,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    for key in ("launchType", "networkConfiguration", "platformVersion", "capacityProviderStrategy"):
        if src.get(key):
            args[key] = src[key]
    try:
        ctx.client("ecs", region).create_service(**args)
    except ClientError as err:
        if error_code(err) != "InvalidParameterException" or "already exists" not in str(err):
            raise
        return ALREADY
    if desired:
        ctx.client("ecs", region).update_service(cluster=cluster, service=name, desiredCount=desired)
    log.info(
        "Created ECS service %s/%s in %s (a copy of %s), %d tasks", cluster, name, region, source, desired
    )
    return CREATED


#: An ECR image reference: ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>`` then
#: ``:<tag>`` or ``@<digest>`` (none: ``latest``)
ECR_IMAGE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+?)(?:@(?P<digest>sha256:[0-9a-f]{64})|:(?P<tag>[A-Za-z0-9_.-]{1,128}))?$"
)
#: What RegisterTaskDefinition takes of a DescribeTaskDefinition answer (the rest is read-only)
_TASK_DEF_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


def local_image(ctx: AwsContext, region: str, image: str) -> str | None:
    """``image`` rewritten to this account's registry in ``region`` when it names another
    region's ECR registry of the same account and the DR copy is there (the same tag or digest
    in the same-named repository, as the ecr kind copies it); None otherwise."""
    m = ECR_IMAGE.match(image)
    if m is None or m["region"] == region:
        return None
    ref: dict[str, str] = {"imageDigest": m["digest"]} if m["digest"] else {"imageTag": m["tag"] or "latest"}
    try:
        found = ctx.client("ecr", region).describe_images(
            registryId=m["account"], repositoryName=m["repo"], imageIds=[ref]
        )
    except ClientError as err:
        if error_code(err) in ("RepositoryNotFoundException", "ImageNotFoundException"):
            return None
        raise
    if not found.get("imageDetails"):
        return None
    suffix = f"@{m['digest']}" if m["digest"] else f":{m['tag'] or 'latest'}"
    return f"{m['account']}.dkr.ecr.{region}.amazonaws.com{m['cn'] or ''}/{m['repo']}{suffix}"


def repoint_images(ctx: AwsContext, region: str, cluster: str, service: str) -> tuple[str, list[str]]:
    """Point ``service``'s containers at the images in ``region``'s own ECR registry.

    A standby whose task definition pulls from the primary region's registry cannot start its
    tasks while that region is out. Every container image naming another region's registry of
    this account whose copy is in ``region`` (the ecr type copies images by digest, tags kept) is
    rewritten: a new revision of the task definition is registered and the service updated to
    it. ``("repointed", [old -> new, ...])``, or ``("already", [images left as they are and why])``
    when nothing needs to change. Idempotent: a retry finds the new revision in use.
    """
    svc = describe_services(ctx, region, cluster, [service]).get(service)
    if svc is None:
        raise ComputeError(f"ECS service {cluster}/{service} not found in {region}")
    ecs = ctx.client("ecs", region)
    answer = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
    task = answer["taskDefinition"]
    containers = [dict(c) for c in task.get("containerDefinitions", [])]
    changes: list[str] = []
    kept: list[str] = []
    for c in containers:
        image = str(c.get("image", ""))
        m = ECR_IMAGE.match(image)
        if m is None or m["region"] == region:
            continue
        local = local_image(ctx, region, image)
        if local is None:
            kept.append(f"{image} (no copy in {region})")
            continue
        c["image"] = local
        changes.append(f"{image} -> {local}")
    if not changes:
        return ALREADY, kept
    args = {k: task[k] for k in _TASK_DEF_FIELDS if task.get(k)}
    args["containerDefinitions"] = containers
    if answer.get("tags"):
        args["tags"] = answer["tags"]
    new = ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=new)
    log.info(
        "ECS %s/%s in %s now pulls from its own registry: %s", cluster, service, region, "; ".join(changes)
    )
    return "repointed", changes + [f"kept {k}" for k in kept]


def delete_services_tagged(
    ctx: AwsContext, region: str, clusters: list[str], tag_key: str, tag_value: str
) -> list[str]:
    """Scale to zero and delete every service of ``clusters`` tagged ``tag_key=tag_value``."""
    client = ctx.client("ecs", region)
    deleted: list[str] = []
    for cluster in dict.fromkeys(clusters):
        arns: list[str] = []
        try:
            for page in client.get_paginator("list_services").paginate(cluster=cluster):
                arns.extend(page.get("serviceArns", []))
        except ClientError as err:
            if error_code(err) == "ClusterNotFoundException":
                continue
            raise
        names = [arn.rsplit("/", 1)[-1] for arn in arns]
        for name, svc in describe_services(ctx, region, cluster, names).items():
            tags = {t["key"]: t["value"] for t in svc.get("tags") or []}
            if tags.get(tag_key) != tag_value:
                continue
            if svc["desiredCount"]:
                client.update_service(cluster=cluster, service=name, desiredCount=0)
            client.delete_service(cluster=cluster, service=name, force=True)
            deleted.append(f"{cluster}/{name}")
            log.info("Deleted ECS service %s/%s in %s", cluster, name, region)
    return deleted


# --- instances from copied AMIs (backup & restore) -------------------------------------------


def launch_key(*parts: str) -> str:
    """A short deterministic idempotency key (also a valid ClientToken: at most 64 ASCII chars)."""
    return "awsdr-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def instances_tagged(ctx: AwsContext, region: str, tag_key: str, tag_value: str) -> list[dict[str, Any]]:
    """Live (not terminated) instances carrying ``tag_key=tag_value``."""
    ec2 = ctx.client("ec2", region)
    out: list[dict[str, Any]] = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{tag_key}", "Values": [tag_value]},
            {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)},
        ]
    )
    for page in pages:
        for reservation in page.get("Reservations", []):
            out.extend(reservation.get("Instances", []))
    return out


def launch_from_image(
    ctx: AwsContext,
    region: str,
    *,
    image_id: str,
    instance_type: str,
    count: int,
    key: str,
    name: str,
    tags: dict[str, str],
    subnet: str | None = None,
) -> tuple[str, list[str]]:
    """Make sure ``count`` live instances tagged ``awsdr:launch-key=key`` run ``image_id``.

    Existing ones (a retry, a re-triggered run) are counted first and only the missing are
    launched, with a ClientToken derived from the key so a retried call is not doubled either.
    :return: ``(launched | already, instance ids)``.
    """
    existing = [i["InstanceId"] for i in instances_tagged(ctx, region, TAG_LAUNCH_KEY, key)]
    missing = count - len(existing)
    if missing <= 0:
        return ALREADY, existing
    all_tags = {**tags, TAG_LAUNCH_KEY: key, "Name": name}
    args: dict[str, Any] = {
        "ImageId": image_id,
        "InstanceType": instance_type,
        "MinCount": missing,
        "MaxCount": missing,
        "ClientToken": launch_key(key, str(len(existing))),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tag_list(all_tags)},
            {"ResourceType": "volume", "Tags": tag_list(all_tags)},
        ],
    }
    if subnet:
        args["SubnetId"] = subnet
    answer = ctx.client("ec2", region).run_instances(**args)
    launched = [i["InstanceId"] for i in answer.get("Instances", [])]
    log.info("Launched %s from %s in %s: %s", name, image_id, region, ", ".join(launched))
    return LAUNCHED, existing + launched


def instances_not_running(ctx: AwsContext, region: str, ids: list[str]) -> list[str]:
    """Instances among ``ids`` that are not yet ``running`` (one batched describe)."""
    if not ids:
        return []
    ec2 = ctx.client("ec2", region)
    states: dict[str, str] = {}
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-id", "Values": ids}]
    ):
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                states[inst["InstanceId"]] = inst["State"]["Name"]
    bad = [i for i in ids if states.get(i) in ("shutting-down", "terminated", None)]
    if bad:
        raise ComputeError(f"instances gone in {region}: {', '.join(bad)}")
    return [f"{i} ({states[i]})" for i in ids if states[i] != "running"]


def terminate_tagged(
    ctx: AwsContext, region: str, tag_key: str, tag_value: str | None = None, *, keep: str | None = None
) -> list[str]:
    """Terminate the live instances carrying ``tag_key`` (= ``tag_value`` when given), except
    those whose ``tag_key`` is ``keep``."""
    ec2 = ctx.client("ec2", region)
    values = [tag_value] if tag_value is not None else ["*"]
    ids: list[str] = []
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{tag_key}", "Values": values},
            {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)},
        ]
    ):
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                value = tag_dict(inst.get("Tags")).get(tag_key)
                if (tag_value is None or value == tag_value) and (keep is None or value != keep):
                    ids.append(inst["InstanceId"])
    for batch in chunks(ids, 500):
        ec2.terminate_instances(InstanceIds=batch)
    if ids:
        log.info("Terminated %d instance(s) tagged %s in %s: %s", len(ids), tag_key, region, ", ".join(ids))
    return ids


def resolve_instance(ctx: AwsContext, region: str, source: str) -> str | None:
    """An instance id for ``source``: itself when it is an id, else the instance with that Name tag."""
    if source.startswith("i-"):
        return source
    ec2 = ctx.client("ec2", region)
    answer = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [source]},
            {"Name": "instance-state-name", "Values": [*LIVE_INSTANCE_STATES, "shutting-down", "terminated"]},
        ]
    )
    found = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
    live = [i for i in found if i["State"]["Name"] in LIVE_INSTANCE_STATES] or found
    return str(live[0]["InstanceId"]) if live else None
