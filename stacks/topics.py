"""An SNS topic as every topic of the app is made: encrypted with the stack's topic key, TLS only."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def encrypted_topic(scope: Construct, construct_id: str, *, display_name: str, key: kms.IKey) -> sns.Topic:
    return sns.Topic(scope, construct_id, display_name=display_name, master_key=key, enforce_ssl=True)
