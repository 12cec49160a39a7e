"""Letting DoveRunner publish to the revocation topic: a publish-only IAM user with its keys in a secret, and
(opt-in) the topic registered with DoveRunner's notification API by a custom resource at deploy time.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, SecretValue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from antipiracy import environment as names
from stacks.functions import FunctionInputs
from stacks.nag import acknowledge, acknowledge_scan

REGISTRAR_TIMEOUT_SECONDS = 120
# CloudFormation's own limit on waiting for an answer, should the function never send one (default: an hour).
REGISTRATION_SERVICE_TIMEOUT_SECONDS = 300


class NotificationPublisher(Construct):
    """An IAM user that may only publish to the revocation topic, and its access key in a secret: the keys
    DoveRunner's notification API takes."""

    def __init__(
        self, scope: Construct, construct_id: str, *, topic: sns.ITopic, topic_key: kms.IKey, key_serial: int
    ) -> None:
        super().__init__(scope, construct_id)
        # No password (no console login), no groups, no managed policy: the one policy below is all it may do.
        self.user = iam.User(self, "User")
        publish_only = iam.Policy(
            self,
            "PublishOnly",
            users=[self.user],
            statements=[
                iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
                # What SNS needs from a publisher to an SSE-KMS topic, and only when SNS asks for this topic.
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[topic_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"sns.{Aws.REGION}.{Aws.URL_SUFFIX}",
                            "kms:EncryptionContext:aws:sns:topicArn": topic.topic_arn,
                        }
                    },
                ),
            ],
        )
        acknowledge_scan(
            publish_only,
            "CKV_AWS_40",
            "DoveRunner's notification API takes an IAM access key, so the publisher is a user; this one inline "
            "policy allows sns:Publish to the revocation topic (and its key through SNS) and nothing else.",
            resource_type="AWS::IAM::Policy",
        )
        # Named in the topic's own policy too: the one principal outside the stack's functions that publishes.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NotificationPublisherPublishes",
                principals=[iam.ArnPrincipal(self.user.user_arn)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
            )
        )
        # Incrementing the serial creates a new key; the old one is deleted once the deploy is done.
        self.access_key = iam.AccessKey(self, "AccessKey", user=self.user, serial=key_serial)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=(
                "AWS keys of the publish-only user DoveRunner publishes revocation notifications with: JSON with "
                "aws_access_key and aws_secret_key (doverunner noti register/update)."
            ),
            # Ref and GetAtt in the template: the key's values never appear in it.
            secret_object_value={
                "aws_access_key": SecretValue.unsafe_plain_text(self.access_key.access_key_id),
                "aws_secret_key": self.access_key.secret_access_key,
            },
            # Written by the stack from the access key: nothing to keep once the key is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "SMG4",
            "The value is an IAM access key the stack creates; Secrets Manager cannot rotate it in DoveRunner's "
            "registration. Rotating = incrementing doverunner:publisherKeySerial (a new access key in this secret) "
            "and updating the registration: automatic with doverunner:registerTopic, else doverunner noti update.",
        )


class TopicRegistrar(Construct):
    """A custom resource that registers the topic with DoveRunner (create), updates the registration (update,
    e.g. a new publisher key) and deletes it (delete). Its physical id is DoveRunner's notification id."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        inputs: FunctionInputs,
        topic: sns.ITopic,
        publisher: NotificationPublisher,
        credentials: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = inputs.settings
        self.registrar = inputs.function(
            self,
            "Registrar",
            handler_folder="registrar",
            description="DoveRunner revocation: registers the revocation topic with DoveRunner (custom resource)",
            environment={
                names.DOVERUNNER_SECRET_ID: credentials.secret_arn,
                names.DOVERUNNER_SITE_ID: settings.site_id,
                names.DOVERUNNER_API_URL: settings.api_url,
            },
            timeout=Duration.seconds(REGISTRAR_TIMEOUT_SECONDS),
        )
        self.registrar.role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[credentials.secret_arn, publisher.secret.secret_arn],
            )
        )
        # A retried create would find its own registration (A4029): serve_custom_resource never retries.
        self.registration = self.registrar.serve_custom_resource(
            self,
            "Registration",
            resource_type="Custom::DoveRunnerTopicRegistration",
            properties={
                "Name": Aws.STACK_NAME,
                "TopicArn": topic.topic_arn,
                "PublisherSecretArn": publisher.secret.secret_arn,
                # A new key changes it, so the registration is updated with the new key.
                "PublisherKeySerial": str(settings.publisher_key_serial),
            },
            timeout=Duration.seconds(REGISTRATION_SERVICE_TIMEOUT_SECONDS),
        )
        self.notification_id = self.registration.get_att_string("NotificationId")
