"""S3 buckets from topology.BUCKETS: the CDR archive (billing evidence, kept as received)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology


class Archive(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.buckets: dict[str, s3.Bucket] = {}
        for spec in topology.BUCKETS:
            bucket = s3.Bucket(
                self,
                "".join(p.capitalize() for p in spec.key.split("_")),
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                versioned=True,  # an overwrite or delete never loses a CDR body
                lifecycle_rules=[
                    s3.LifecycleRule(
                        transitions=[
                            s3.Transition(
                                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                transition_after=Duration.days(90),
                            )
                        ]
                    )
                ],
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
            NagSuppressions.add_resource_suppressions(
                bucket,
                [
                    NagPackSuppression(
                        id="AwsSolutions-S1",
                        reason="Written only by the CDR Lambda (its own role); object-level auditing belongs "
                        "in the account's CloudTrail data events rather than a second log bucket.",
                    )
                ],
            )
            self.buckets[spec.key] = bucket
