"""Revocation: DoveRunner's status notifications -> verified leaking sessions blocked in the CloudFront web ACL.

SNS topic (DoveRunner publishes) -> SQS queue with a dead-letter queue -> revoker function -> AWS WAF, with a
ledger table of every token and why; a scheduled lifter ends blocks whose time is up.
"""

from __future__ import annotations

from aws_cdk import (
    Acknowledgment,
    Aws,
    CfnCondition,
    CfnResource,
    Duration,
    Fn,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from antipiracy import environment as names
from antipiracy.domain.revocations import TTL_ATTRIBUTE
from antipiracy.domain.web_acls import WAF_REGION, WebAclFailed, parse_arn
from stacks.functions import FunctionInputs
from stacks.nag import acknowledge, resource_evidence
from stacks.queues import queue_with_dead_letter_queue
from stacks.storage import record_table
from stacks.topics import encrypted_topic

REVOKER_TIMEOUT_SECONDS = 60


def web_acl_parts(arn: str) -> tuple[str, str]:
    """Name and id of a CloudFront web ACL ARN (arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)."""
    try:
        acl = parse_arn(arn)
    except WebAclFailed:
        raise ValueError(
            f"context doverunner:webAclArn must be a CloudFront (global) web ACL ARN in us-east-1: {arn!r}"
        ) from None
    return acl.name, acl.id


class Revocation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        inputs: FunctionInputs,
        topic_key: kms.IKey,
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = inputs.settings
        self.topic = encrypted_topic(
            self, "RevocationTopic", display_name="DoveRunner session revocation notifications", key=topic_key
        )
        self.queue, self.dead_letter_queue = queue_with_dead_letter_queue(
            self,
            "Revocation",
            consumer_timeout_seconds=REVOKER_TIMEOUT_SECONDS,
            max_receive_count=settings.max_receive_count,
        )
        self.topic.add_subscription(subscriptions.SqsSubscription(self.queue))
        # Only the account's own principals publish (the notification publisher user is one of them): no other
        # account can, whatever it is granted elsewhere.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PublishOnlyFromThisAccount",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringNotEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
            )
        )
        # Items the revoker writes for refused or unverified notifications carry ttl_epoch: a flood of forged
        # notifications cannot grow the ledger for good. Blocks (and their evidence) have none and stay.
        self.ledger = record_table(self, "Ledger", partition_key="token", time_to_live_attribute=TTL_ATTRIBUTE)
        self.ledger.add_global_secondary_index(
            index_name="by-state-expiry",
            partition_key=dynamodb.Attribute(name="state", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="expires_epoch", type=dynamodb.AttributeType.NUMBER),
        )
        self.web_acl_arn, web_acl_name, web_acl_id = self._web_acl(inputs)
        revocation_environment = {
            # What the revocation settings share with the detection functions' (the site, the jobs table, the results
            # prefix), and nothing of theirs alone.
            **{name: value for name, value in inputs.environment.items() if name in names.REVOCATION.variables},
            names.LEDGER_TABLE: self.ledger.table_name,
            names.WEB_ACL_NAME: web_acl_name,
            names.WEB_ACL_ID: web_acl_id,
            names.WAF_REGION: WAF_REGION,
            names.WAF_CAPACITY: str(settings.waf_capacity),
            names.BLOCK_SECONDS: str(settings.block_seconds),
            names.DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url,
        }
        self.revoker = inputs.function(
            self,
            "Revoker",
            handler_folder="revoker",
            description="DoveRunner revocation: verifies a leaking session's token and blocks it in AWS WAF",
            environment=revocation_environment,
            timeout=Duration.seconds(REVOKER_TIMEOUT_SECONDS),
        )
        self.revoker.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                report_batch_item_failures=True,
                # Containment: a flood of notifications waits in the queue instead of fanning out into as many
                # revokers (DoveRunner verification calls and web ACL updates) as Lambda allows.
                max_concurrency=settings.revoker_max_concurrency,
            )
        )
        self.lifter = inputs.function(
            self,
            "Lifter",
            handler_folder="lifter",
            description="DoveRunner revocation: lifts expired blocks and reports the web ACL's capacity",
            environment=revocation_environment,
            timeout=Duration.seconds(120),
        )
        self.lifter.run_every(self, "LiftExpiredBlocks", 5, "Lifts DoveRunner session blocks whose time is up")
        waf_access = iam.PolicyStatement(
            actions=["wafv2:GetWebACL", "wafv2:UpdateWebACL"], resources=[self.web_acl_arn]
        )
        ledger_access = iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            resources=[self.ledger.table_arn, f"{self.ledger.table_arn}/index/*"],
        )
        for function in (self.revoker, self.lifter):
            function.role.add_to_policy(waf_access)
            function.role.add_to_policy(ledger_access)
            acknowledge(
                function.role,
                "IAM5",
                "Querying the ledger's own indexes (table ARN + /index/*): a resource wildcard, not an action one.",
                evidence=resource_evidence(self, f"{self.ledger.table_arn}/index/*"),
            )
        self.revoker.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn])
        )
        # A report written before the notification arrived is written again with the revocation in it.
        self.revoker.allow_report_writes(bucket, settings.results_prefix)

    def _web_acl(self, inputs: FunctionInputs) -> tuple[str, str, str]:
        settings = inputs.settings
        if settings.web_acl_arn:
            name, acl_id = web_acl_parts(settings.web_acl_arn)
            return settings.web_acl_arn, name, acl_id
        # A CloudFront web ACL exists only in us-east-1, and CloudFormation creates one only from a stack there.
        # Elsewhere a custom resource creates it in us-east-1; which one is decided at deploy time.
        name = f"{Aws.STACK_NAME}-session-blocks"
        description = "Blocks pirate sessions named by DoveRunner - associate it with the CloudFront distribution"
        metric_name = "doverunner-session-blocks"
        region_is_waf = Fn.condition_equals(Aws.REGION, WAF_REGION)
        in_waf_region = CfnCondition(self, "InWafRegion", expression=region_is_waf)
        elsewhere = CfnCondition(self, "OutsideWafRegion", expression=Fn.condition_not(region_is_waf))
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
            ),
            description=description,
        )
        acl.cfn_options.condition = in_waf_region
        remote = CrossRegionWebAcl(
            self,
            "CrossRegionWebAcl",
            name=name,
            description=description,
            metric_name=metric_name,
            inputs=inputs,
        )
        for child in remote.node.find_all():
            if isinstance(child, CfnResource):
                child.cfn_options.condition = elsewhere
        # cfn-lint reads the WebAclArn output's Fn::If without its condition: each branch names the resource that
        # exists under that very condition.
        Validations.of(Stack.of(self)).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W1001",
                reason="The WebAclArn output's Fn::If picks the web ACL that exists under that very condition",
            )
        )
        arn = Token.as_string(Fn.condition_if(in_waf_region.logical_id, acl.attr_arn, remote.arn))
        acl_id = Token.as_string(Fn.condition_if(in_waf_region.logical_id, acl.attr_id, remote.acl_id))
        return arn, name, acl_id


class CrossRegionWebAcl(Construct):
    """The web ACL created in us-east-1 by a custom resource, for a stack in another region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        metric_name: str,
        inputs: FunctionInputs,
    ) -> None:
        super().__init__(scope, construct_id)
        self.creator = inputs.function(
            self,
            "Creator",
            handler_folder="webacl",
            description="DoveRunner revocation: creates the CloudFront web ACL in us-east-1 (custom resource)",
            # Nothing to read: the web ACL's name and description come with each request.
            environment={},
            timeout=Duration.seconds(120),
        )
        acls = f"arn:{Aws.PARTITION}:wafv2:{WAF_REGION}:{Aws.ACCOUNT_ID}:global/webacl/{name}/*"
        self.creator.role.add_to_policy(
            iam.PolicyStatement(
                actions=["wafv2:CreateWebACL", "wafv2:GetWebACL", "wafv2:DeleteWebACL"], resources=[acls]
            )
        )
        # ListWebACLs (a retried create adopts the web ACL it made) has no resource-level permissions.
        self.creator.role.add_to_policy(iam.PolicyStatement(actions=["wafv2:ListWebACLs"], resources=["*"]))
        acknowledge(
            self.creator.role,
            "IAM5",
            "The web ACL's id is known only once it is created (name fixed, id wildcard); ListWebACLs supports "
            "no resource-level permissions.",
            evidence=("Resource::*", *resource_evidence(self, acls)),
        )
        resource = self.creator.serve_custom_resource(
            self,
            "WebAcl",
            resource_type="Custom::CloudFrontWebAcl",
            properties={"Name": name, "Description": description, "MetricName": metric_name},
            timeout=Duration.seconds(300),
        )
        self.arn = resource.get_att_string("Arn")
        self.acl_id = resource.get_att_string("Id")
