"""Resource kinds by policy type name. A new kind is one module and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awsdr.kinds.base import Kind


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
}

KIND_NAMES = tuple(_REGISTRY)
