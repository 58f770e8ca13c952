"""Resource kinds by policy type name. A new kind is one module and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awsdr.kinds.base import Kind
    from awsdr.policy import Policy


def get_kind(name: str) -> Kind:
    """The kind registered under a policy type name (``ebs``, ``ec2``, ...)."""
    import importlib

    module_name, class_name = _REGISTRY[name]
    module = importlib.import_module(f"awsdr.kinds.{module_name}")
    return getattr(module, class_name)()


_REGISTRY: dict[str, tuple[str, str]] = {
    "ebs": ("ebs", "EbsKind"),
    "ec2": ("ami", "AmiKind"),
    "rds": ("rds", "RdsKind"),
    "aurora": ("aurora", "AuroraKind"),
    "dynamodb": ("dynamodb", "DynamoDbKind"),
    "s3": ("s3", "S3Kind"),
    "ecr": ("ecr", "EcrKind"),
    "lambda": ("lambda_", "LambdaKind"),
}

KIND_NAMES = tuple(_REGISTRY)


def kind_for(name: str, policy: Policy, plan: str | None = None) -> Kind:
    """A kind configured from the policy: catalog location (S3, DynamoDB), reboot (EC2)."""
    kind = get_kind(name)
    if hasattr(kind, "catalog_bucket"):
        kind.catalog_bucket = policy.catalog_bucket  # type: ignore[attr-defined]
        kind.catalog_region = policy.catalog_region  # type: ignore[attr-defined]
    if hasattr(kind, "kms_keys"):
        kind.kms_keys = dict(policy.kms_keys)  # type: ignore[attr-defined]
    if name == "ec2" and plan is not None:
        kind.reboot = policy.plans[plan].ec2_reboot  # type: ignore[attr-defined]
    return kind
