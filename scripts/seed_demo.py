"""Seed the local AWS emulator with the demo estate (idempotent: a second run changes nothing).

Primary ap-northeast-2, DR ap-northeast-1. Two plans (gold hourly, silver daily) over EBS
volumes, EC2 instances, RDS, Aurora, DynamoDB (items, PITR on) and versioned S3 buckets, plus
look-alike resources without the plan tags that nothing may ever touch, the catalog bucket and
the DR KMS key (alias/awsdr), a Route 53 zone and records for failover drills.

Usage: ``python scripts/seed_demo.py --endpoint http://127.0.0.1:4566``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

PRIMARY = "ap-northeast-2"
DR = "ap-northeast-1"


def _tags(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in d.items()]


def base_image(ec2) -> str:
    """An Amazon Linux 2 image to launch the demo instances from. Asked by name: listing every
    Amazon-owned image (over a thousand on the emulator) takes seconds per call."""
    for names in (["amzn2-ami-hvm-*x86_64-gp2"], ["*"]):
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": names}])["Images"]
        if images:
            return str(images[0]["ImageId"])
    raise RuntimeError("no Amazon-owned image to launch the demo instances from")


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.clients: dict[tuple[str, str], Any] = {}

    def c(self, service: str, region: str = PRIMARY) -> Any:
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = boto3.client(service, region_name=region, endpoint_url=self.endpoint)
        return self.clients[key]

    # --- EC2 / EBS ----------------------------------------------------------------------------
    def volume(self, name: str, size: int, tags: dict[str, str]) -> str:
        ec2 = self.c("ec2")
        found = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": [name]}])["Volumes"]
        if found:
            return found[0]["VolumeId"]
        vol = ec2.create_volume(
            AvailabilityZone=f"{PRIMARY}a",
            Size=size,
            VolumeType="gp3",
            TagSpecifications=[{"ResourceType": "volume", "Tags": _tags({"Name": name, **tags})}],
        )
        return vol["VolumeId"]

    def instance(self, name: str, tags: dict[str, str]) -> str:
        ec2 = self.c("ec2")
        found = ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [name]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
            ]
        )["Reservations"]
        if found:
            return found[0]["Instances"][0]["InstanceId"]
        image = base_image(ec2)
        inst = ec2.run_instances(
            ImageId=image,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            Placement={"AvailabilityZone": f"{PRIMARY}a"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags({"Name": name, **tags})}],
        )
        return inst["Instances"][0]["InstanceId"]

    # --- RDS / Aurora -------------------------------------------------------------------------
    def rds(self, ident: str, tags: dict[str, str]) -> None:
        rds = self.c("rds")
        try:
            rds.describe_db_instances(DBInstanceIdentifier=ident)
            return
        except ClientError:
            pass
        rds.create_db_instance(
            DBInstanceIdentifier=ident,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            EngineVersion="16.3",
            AllocatedStorage=20,
            MasterUsername="demo",
            MasterUserPassword="demo-password-1",
            StorageEncrypted=True,
            BackupRetentionPeriod=7,
            Tags=_tags(tags),
        )

    def aurora(self, ident: str, tags: dict[str, str]) -> None:
        rds = self.c("rds")
        try:
            rds.describe_db_clusters(DBClusterIdentifier=ident)
            return
        except ClientError:
            pass
        rds.create_db_cluster(
            DBClusterIdentifier=ident,
            Engine="aurora-postgresql",
            EngineVersion="16.4",
            MasterUsername="demo",
            MasterUserPassword="demo-password-1",
            DatabaseName="ledger",
            StorageEncrypted=True,
            BackupRetentionPeriod=7,
            Tags=_tags(tags),
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{ident}-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier=ident,
        )

    # --- DynamoDB -----------------------------------------------------------------------------
    def table(self, name: str, tags: dict[str, str], items: int, pitr: bool = True) -> None:
        ddb = self.c("dynamodb")
        try:
            ddb.describe_table(TableName=name)
            return
        except ClientError:
            pass
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=_tags(tags),
        )
        if pitr:
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        for i in range(items):
            ddb.put_item(
                TableName=name,
                Item={"pk": {"S": f"{name}#{i:04d}"}, "n": {"N": str(i)}, "payload": {"S": f"demo item {i}"}},
            )

    # --- S3 -----------------------------------------------------------------------------------
    def bucket(
        self,
        name: str,
        region: str,
        tags: dict[str, str] | None,
        objects: int,
        versioned: bool,
        object_lock: bool = False,
    ) -> None:
        s3 = self.c("s3", region)
        try:
            s3.head_bucket(Bucket=name)
            return
        except ClientError:
            pass
        lock = {"ObjectLockEnabledForBucket": True} if object_lock else {}
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}, **lock)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(tags)})
        for i in range(objects):
            s3.put_object(Bucket=name, Key=f"data/object-{i:03d}.txt", Body=f"demo object {i} v1".encode())
        if versioned and objects:
            s3.put_object(Bucket=name, Key="data/object-000.txt", Body=b"demo object 0 v2")

    # --- KMS / Route 53 -----------------------------------------------------------------------
    def kms_alias(self, region: str, alias: str) -> None:
        kms = self.c("kms", region)
        aliases = kms.list_aliases()["Aliases"]
        if any(a["AliasName"] == alias for a in aliases):
            return
        key = kms.create_key(
            Description="awsdr DR copies", Tags=[{"TagKey": "awsdr:purpose", "TagValue": "dr"}]
        )
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"])

    def repository(self, name: str, tags: dict[str, str], images: int = 2) -> list[str]:
        """An ECR repository with ``images`` small images pushed the way ``docker push`` does
        (each layer uploaded, then the manifest); returns the image digests."""
        import hashlib
        import json

        ecr = self.c("ecr")
        try:
            ecr.create_repository(repositoryName=name, tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        digests = []

        def blob(data: bytes) -> dict[str, Any]:
            upload = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
            ecr.upload_layer_part(
                repositoryName=name,
                uploadId=upload,
                partFirstByte=0,
                partLastByte=len(data) - 1,
                layerPartBlob=data,
            )
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            ecr.complete_layer_upload(repositoryName=name, uploadId=upload, layerDigests=[digest])
            return {"digest": digest, "size": len(data)}

        for n in range(images):
            config = blob(json.dumps({"architecture": "amd64", "os": "linux", "n": n, "repo": name}).encode())
            layer = blob(f"{name} layer {n} ".encode() * 64)
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **layer}],
            }
            text = json.dumps(manifest)
            try:
                put = ecr.put_image(
                    repositoryName=name,
                    imageManifest=text,
                    imageManifestMediaType=manifest["mediaType"],
                    imageTag=f"v{n + 1}",
                )
                image = put["image"]["imageId"]
            except ecr.exceptions.ImageAlreadyExistsException:  # seeded before: the same image
                image = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": f"v{n + 1}"}])[
                    "imageDetails"
                ][0]
            # ECR's digest is the manifest's sha256; moto 5.2.5 derives its own from the layers
            digests.append(str(image["imageDigest"]))
        return digests

    def function(self, name: str, tags: dict[str, str], environment: dict[str, str] | None = None) -> str:
        """A Python Lambda function (a real zip) with its own execution role; returns its ARN."""
        import io
        import json
        import zipfile

        iam = self.c("iam", "us-east-1")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName=f"{name}-role")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(
                "handler.py", f"def handle(event, context):\n    return {{'ok': True, 'fn': {name!r}}}\n"
            )
        lam = self.c("lambda")
        try:
            return str(
                lam.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=role,
                    Handler="handler.handle",
                    Code={"ZipFile": buf.getvalue()},
                    MemorySize=256,
                    Timeout=30,
                    Tags=tags,
                    **({"Environment": {"Variables": environment}} if environment else {}),
                )["FunctionArn"]
            )
        except lam.exceptions.ResourceConflictException:
            return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])

    def zone(self, name: str) -> None:
        r53 = self.c("route53", "us-east-1")
        zones = r53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
        if zones and zones[0]["Name"] == name:
            zone_id = zones[0]["Id"]
        else:
            zone_id = r53.create_hosted_zone(Name=name, CallerReference=f"awsdr-demo-{name}")["HostedZone"][
                "Id"
            ]
        r53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": f"app.{name}",
                            "Type": "CNAME",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": f"app.{PRIMARY}.{name.rstrip('.')}"}],
                        },
                    }
                ]
            },
        )

    # --- failover standbys (dr_failover / dr_failback / dr_failover_drill) ----------------------
    def standby_asg(self, name: str, region: str) -> None:
        """A launch template and an Auto Scaling group at its resting size 0/0/0 (pilot light)."""
        ec2 = self.c("ec2", region)
        asg = self.c("autoscaling", region)
        if asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            return
        templates = ec2.describe_launch_templates(
            Filters=[{"Name": "launch-template-name", "Values": [name]}]
        )["LaunchTemplates"]
        if not templates:
            image = base_image(ec2)
            ec2.create_launch_template(
                LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
            )
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
            MinSize=0,
            MaxSize=0,
            DesiredCapacity=0,
            AvailabilityZones=[f"{region}a"],
            Tags=[{"Key": "app", "Value": "orders", "PropagateAtLaunch": True}],
        )

    def standby_service(self, cluster: str, service: str, region: str, desired: int) -> None:
        """An ECS cluster and service at its resting task count."""
        ecs = self.c("ecs", region)
        ecs.create_cluster(clusterName=cluster)  # idempotent
        found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if any(s.get("status") == "ACTIVE" for s in found):
            return
        ecs.register_task_definition(
            family=service,
            containerDefinitions=[
                {"name": service, "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128}
            ],
        )
        ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=service, desiredCount=desired)

    def read_replica(self, source: str, replica: str, region: str) -> None:
        """A cross-region RDS read replica of a primary-region instance (moto supports it)."""
        rds = self.c("rds", region)
        try:
            rds.describe_db_instances(DBInstanceIdentifier=replica)
            return
        except ClientError:
            pass
        arn = self.c("rds").describe_db_instances(DBInstanceIdentifier=source)["DBInstances"][0][
            "DBInstanceArn"
        ]
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=replica,
            SourceDBInstanceIdentifier=arn,
            DBInstanceClass="db.t3.micro",
            Tags=_tags({"app": "orders", "role": "dr-replica"}),
        )

    def health_check(self, name: str, fqdn: str) -> None:
        """A Route 53 HTTPS health check, found by its caller reference and Name tag."""
        r53 = self.c("route53", "us-east-1")
        checks = r53.list_health_checks()["HealthChecks"]
        if any(hc["CallerReference"] == name for hc in checks):
            return
        hc = r53.create_health_check(
            CallerReference=name,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": fqdn,
                "Port": 443,
                "ResourcePath": "/health",
            },
        )["HealthCheck"]
        r53.change_tags_for_resource(
            ResourceType="healthcheck", ResourceId=hc["Id"], AddTags=[{"Key": "Name", "Value": name}]
        )

    def run(self) -> dict[str, int]:
        gold = {"dr-plan": "gold", "app": "orders"}
        silver = {"dr-plan": "silver", "app": "reports"}
        for i in range(3):
            self.volume(f"orders-data-{i}", 8 + i, gold)
        for i in range(2):
            self.volume(f"reports-data-{i}", 4, silver)
        self.volume("scratch-untagged", 2, {"app": "scratch"})
        self.volume("lookalike-bronze", 2, {"dr-plan": "bronze", "app": "orders"})
        for i in range(2):
            self.instance(f"orders-web-{i}", gold)
        self.instance("bastion-untagged", {"app": "ops"})
        self.rds("orders-db", gold)
        self.rds("reports-db", silver)
        self.rds("sandbox-db", {"app": "sandbox"})
        self.aurora("ledger", gold)
        self.table("orders", gold, items=50)
        self.table("report-runs", silver, items=20)
        self.table("sandbox-sessions", {"app": "sandbox"}, items=5, pitr=False)
        self.bucket("awsdr-demo-orders-assets", PRIMARY, gold, objects=12, versioned=True)
        self.bucket("awsdr-demo-reports", PRIMARY, silver, objects=6, versioned=True)
        self.bucket("awsdr-demo-sandbox", PRIMARY, {"app": "sandbox"}, objects=3, versioned=False)
        # an image repository and a function of the gold application: protected where a plan adds
        # ecr and lambda to its types (bench/soak_hourly_policy.yaml does; the demo policy's gold
        # lists the six data types)
        self.repository("orders/web", gold, images=2)
        self.function("orders-api", gold)
        # audit records are written under Object Lock, which a bucket with objects cannot enable
        self.bucket("awsdr-catalog", DR, None, objects=0, versioned=True, object_lock=True)
        self.kms_alias(DR, "alias/awsdr")
        self.zone("example.com.")
        self.kms_alias(PRIMARY, "alias/awsdr")  # failback copies come home under it
        self.standby_asg("web", DR)
        self.standby_service("app", "api", DR, desired=1)
        self.read_replica("orders-db", "orders-db-dr", DR)
        self.health_check("awsdr-demo-app-dr", f"app.{DR}.example.com")
        self.health_check("awsdr-demo-app-primary", f"app.{PRIMARY}.example.com")
        return {
            "volumes": 7,
            "instances": 3,
            "rds": 3,
            "aurora": 1,
            "tables": 3,
            "buckets": 4,
            "repositories": 1,
            "functions": 1,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", default=os.environ.get("AWSDR_ENDPOINT", "http://127.0.0.1:4566"))
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    counts = Seeder(args.endpoint).run()
    print(f"demo estate seeded at {args.endpoint}: {counts}")


if __name__ == "__main__":
    main()
