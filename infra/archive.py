"""S3 buckets from topology.BUCKETS: the CDR archive (billing evidence, kept as received), with the
lifecycle of cdk.json ``roam_emp.retention`` (docs/operations.md "Retention")."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology

from .config import RetentionPolicy


class Archive(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, retain: bool, retention: RetentionPolicy
    ) -> None:
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
                lifecycle_rules=[_lifecycle(retention)],
                object_lock_enabled=bool(retention.cdr_archive_object_lock) or None,
                object_lock_default_retention=_object_lock(retention),
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


def _lifecycle(retention: RetentionPolicy) -> s3.LifecycleRule:
    """Colder storage as a body ages, gone after ``cdr_archive_days`` (0 = kept forever); a
    replaced or deleted version (versioning) follows the same clock from when it was replaced."""
    steps = [
        (retention.cdr_archive_cold_after_days, s3.StorageClass.GLACIER_INSTANT_RETRIEVAL),
        (retention.cdr_archive_deep_archive_after_days, s3.StorageClass.DEEP_ARCHIVE),
    ]
    days = retention.cdr_archive_days
    return s3.LifecycleRule(
        id="cdr-archive-retention",
        transitions=[
            s3.Transition(storage_class=c, transition_after=Duration.days(d)) for d, c in steps if d
        ],
        noncurrent_version_transitions=[
            s3.NoncurrentVersionTransition(storage_class=c, transition_after=Duration.days(d))
            for d, c in steps
            if d
        ],
        expiration=Duration.days(days) if days else None,
        noncurrent_version_expiration=Duration.days(days) if days else None,
        abort_incomplete_multipart_upload_after=Duration.days(7),
    )


def _object_lock(retention: RetentionPolicy) -> s3.ObjectLockRetention | None:
    """WORM for accounting law, off by default: in COMPLIANCE mode nobody, root included, can delete
    a body before its lock ends (GOVERNANCE: only with s3:BypassGovernanceRetention)."""
    mode, days = retention.cdr_archive_object_lock, Duration.days(retention.cdr_archive_object_lock_days)
    if mode == "COMPLIANCE":
        return s3.ObjectLockRetention.compliance(days)
    if mode == "GOVERNANCE":
        return s3.ObjectLockRetention.governance(days)
    return None
