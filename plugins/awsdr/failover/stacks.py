"""CloudFormation stacks of the runbook: deployed in the DR region first in the compute phase.

Backup & restore and pilot light have no running infrastructure in the DR region; the policy's
``failover.stacks`` names the templates that make it (``{name, template, region, parameters}``).
:func:`deploy` creates the stack, or updates it when it is already there, and reports it done
when CloudFormation reports ``CREATE_COMPLETE`` / ``UPDATE_COMPLETE`` (no change to make counts as
complete). It never waits itself: while the stack is in progress it raises
:class:`~awsdr.aws.compute.StillWaiting` and the compute phase defers to the triggerer and calls
it again. Every request carries a deterministic ``ClientRequestToken`` (run, stack, action), so a
retry after a lost answer is the same request to CloudFormation, never a second one.

A drill deploys ``<name>-drill`` tagged ``awsdr:drill=<run id>``; its teardown and the next
drill's sweep delete such stacks (:func:`delete_tagged`). Nothing else is ever deleted.

:func:`validate` is the readiness check (``ValidateTemplate``), run on every readiness pass.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.compute import StillWaiting
from awsdr.aws.context import error_code, tag_dict, tag_list
from awsdr.kinds.base import CaptureError, tag_selected

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.policy import FailoverStack

log = logging.getLogger(__name__)

COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
#: an update that failed and was rolled back: the stack runs, but not what this run asked for
ROLLED_BACK = ("UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
GONE = ("DELETE_COMPLETE",)


def _token(run_id: str, name: str, action: str) -> str:
    digest = hashlib.sha256(f"{run_id}|{name}|{action}".encode()).hexdigest()[:40]
    return f"awsdr-{action}-{digest}"[:128]


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack ``name`` (None: there is none, or it was deleted)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        if error_code(err) == "ValidationError" and "does not exist" in str(err):
            return None
        raise
    live = [s for s in stacks if s.get("StackStatus") not in GONE]
    return live[0] if live else None


def template_args(template_url: str | None, template_path: str | None) -> dict[str, str]:
    """``TemplateURL`` or ``TemplateBody`` (the file read now: what is deployed is what is there)."""
    if template_url:
        return {"TemplateURL": template_url}
    if not template_path:
        raise CaptureError("the stack names no template")
    try:
        return {"TemplateBody": Path(template_path).read_text()}
    except OSError as err:
        raise CaptureError(f"template {template_path}: {err}") from err


def deploy(
    ctx: AwsContext, region: str, p: dict[str, Any], run_id: str, memo: dict[str, Any]
) -> tuple[bool, str]:
    """Create or update the stack of step params ``p``; ``(changed, detail)`` once it is complete.

    :raises StillWaiting: CloudFormation is still at work.
    :raises CaptureError: the stack failed (rolled back, or a create that failed).
    """
    cfn = ctx.client("cloudformation", region)
    name = p["name"]
    stack = describe(cfn, name)
    request: dict[str, Any] = {
        "StackName": name,
        **template_args(p.get("template_url"), p.get("template_path")),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(p["parameters"].items())],
        "Capabilities": list(p.get("capabilities") or []),
        "Tags": tag_list(p.get("tags") or {}),
    }
    if p.get("role_arn"):
        request["RoleARN"] = p["role_arn"]
    status = str((stack or {}).get("StackStatus"))
    if status == "DELETE_IN_PROGRESS":  # an earlier stack of this name (a swept drill's) is going
        memo.pop("action", None)
        raise StillWaiting("stack", [f"{name} (an earlier stack of this name is being deleted)"])
    if stack is None:
        if memo.get("action") == "create":
            raise CaptureError(f"stack {name} was created by this run and is gone from {region}")
        try:
            # the same token on a resend: CloudFormation answers for the first request, never a second
            cfn.create_stack(**request, ClientRequestToken=_token(run_id, name, "create"))
        except ClientError as err:
            if error_code(err) != "AlreadyExistsException":
                raise
            raise StillWaiting("stack", [f"{name} (another stack of this name appeared)"]) from err
        memo["action"] = "create"
        raise StillWaiting("stack", [f"{name} (creating)"])
    if status.endswith("_IN_PROGRESS"):
        raise StillWaiting("stack", [f"{name} ({status})"])
    reason = stack.get("StackStatusReason") or ""
    if status in ROLLED_BACK and memo.get("action") == "update":
        raise CaptureError(f"stack {name}: the update was rolled back ({status}: {reason})")
    if status == "ROLLBACK_COMPLETE" or status.endswith("_FAILED"):
        raise CaptureError(
            f"stack {name} in {region} is {status} ({reason}): delete it and run again"
            if status == "ROLLBACK_COMPLETE"
            else f"stack {name} in {region} is {status} ({reason})"
        )
    if "action" in memo:  # this run created or updated it, and CloudFormation is done
        return True, f"{name}: {status} ({memo['action']}d by this run)"
    try:
        cfn.update_stack(**request, ClientRequestToken=_token(run_id, name, "update"))
    except ClientError as err:
        if error_code(err) == "ValidationError" and "No updates are to be performed" in str(err):
            memo["action"] = "check"
            return False, f"{name}: {status}, already as the template says"
        raise
    memo["action"] = "update"
    raise StillWaiting("stack", [f"{name} (updating)"])


def delete_tagged(
    ctx: AwsContext, region: str, tag_key: str, tag_value: str | None = None, *, keep: str | None = None
) -> list[str]:
    """Delete the stacks tagged ``tag_key`` (= ``tag_value``), except those tagged ``keep``."""
    cfn = ctx.client("cloudformation", region)
    names: list[str] = []
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            if stack.get("StackStatus") in GONE or stack.get("StackStatus") == "DELETE_IN_PROGRESS":
                continue
            if tag_selected(tag_dict(stack.get("Tags")), tag_key, tag_value, keep):
                names.append(str(stack["StackName"]))
    for name in names:
        cfn.delete_stack(StackName=name)
    if names:
        log.info("Deleting %d stack(s) tagged %s in %s: %s", len(names), tag_key, region, ", ".join(names))
    return names


def validate(ctx: AwsContext, stack: FailoverStack) -> str | None:
    """``ValidateTemplate`` of the stack's template in its region: None when valid, else why not."""
    try:
        args = template_args(stack.template_url, stack.template_path)
        ctx.client("cloudformation", stack.region).validate_template(**args)
    except CaptureError as err:
        return str(err)
    except ClientError as err:
        return f"{error_code(err)}: {err}"
    return None
