"""Observability: the operator topic, alarms on everything that needs a person, and a dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from antipiracy import environment as names
from antipiracy.environment import METRICS_NAMESPACE, SERVICE_NAME
from stacks.topics import encrypted_topic


def custom_metric(name: str, statistic: str = "Sum", period: Duration | None = None) -> cw.Metric:
    """A metric the functions emit through Powertools (their service and namespace: antipiracy.environment)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=period or Duration.minutes(5),
    )


# Rejected revocation notifications in five minutes that call for a person.
REJECTED_NOTIFICATIONS_THRESHOLD = 5


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic_key: kms.IKey, alarm_email: str = "") -> None:
        super().__init__(scope, construct_id)
        self.operator_topic = encrypted_topic(
            self, "OperatorAlertsTopic", display_name="DoveRunner detection alerts", key=topic_key
        )
        # CloudWatch alarms publish to the encrypted topic: this account's alarms only (confused deputy).
        topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccountPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        if alarm_email:
            self.operator_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = cw_actions.SnsAction(self.operator_topic)
        self.alarms: list[cw.Alarm] = []
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=None)

    def _alarm(self, construct_id: str, metric: cw.IMetric, description: str, threshold: float = 1) -> cw.Alarm:
        """An alarm to the operator topic when `metric` reaches `threshold` (no data: all is well)."""
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def watch_dead_letter_queue(self, queue: sqs.IQueue, name: str = "DeadLetterQueueNotEmpty") -> None:
        self._alarm(
            name,
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            "Messages that could not be processed wait in a dead-letter queue: the function's logs (or the message's "
            "reason attribute) say why; fix it, then redrive the messages.",
        )

    def watch_capacity(self, threshold_percent: float = 80.0) -> None:
        """Before the web ACL is full: the lifter reports its use every five minutes."""
        self._alarm(
            "WebAclCapacityNearlyFull",
            custom_metric(names.METRIC_WEB_ACL_CAPACITY_USED, statistic="Maximum", period=Duration.minutes(15)),
            f"The web ACL that blocks sessions is {threshold_percent:.0f}% full: past 100% new blocks are refused "
            "(recorded as CAPACITY_EXCEEDED). Lower doverunner:blockSeconds, unblock old sessions, or raise the "
            "web ACL's capacity (doverunner:wafCapacity, up to 5,000 WCU on request).",
            threshold=threshold_percent,
        )
        self._alarm(
            "BlocksRefusedForCapacity",
            custom_metric(names.METRIC_REFUSED_FOR_CAPACITY),
            "A verified pirate session was not blocked because the web ACL is full: see the revocation ledger.",
        )

    def watch_rejected_notifications(self, threshold: float = REJECTED_NOTIFICATIONS_THRESHOLD) -> None:
        """Notifications that block nothing: invalid, not verified by DoveRunner, or refused (their evidence). A
        few are normal; many at once are forged notifications or a broken registration."""
        self._alarm(
            "RevocationNotificationsRejected",
            cw.MathExpression(
                expression="FILL(invalid, 0) + FILL(unverified, 0) + FILL(refused, 0)",
                using_metrics={
                    "invalid": custom_metric(names.METRIC_INVALID_NOTIFICATIONS),
                    "unverified": custom_metric(names.METRIC_NOT_VERIFIED),
                    "refused": custom_metric(names.METRIC_NOTIFICATIONS_REFUSED),
                },
                label="Rejected revocation notifications",
                period=Duration.minutes(5),
            ),
            f"{threshold:.0f} or more revocation notifications in five minutes were invalid, not verified by "
            "DoveRunner or refused: forged notifications, or a publisher key in the wrong hands (rotate it: "
            "doverunner:publisherKeySerial). The revocation ledger says which tokens and why.",
            threshold=threshold,
        )

    def watch_holds(self) -> None:
        """DoveRunner refusing a request: the site's quota or credentials (jobs held, submissions paused), or one
        job's request (refused)."""
        self._alarm(
            "DetectionJobsHeld",
            custom_metric(names.METRIC_JOBS_HELD),
            "DoveRunner refused the site's quota or credentials: submissions are paused and new jobs are held. The "
            "operator topic's message and the held jobs' reports say which code; fix the cause (raise the quota, "
            "correct the secret), then run `doverunner jobs retry --held` (the probe also resumes them).",
        )
        self._alarm(
            "DetectionRequestsRefused",
            custom_metric(names.METRIC_JOBS_REFUSED),
            "DoveRunner refused a detection request: the job's report (outcome REFUSED) names the A-code, its cause "
            "and solution. `doverunner jobs retry JOB` sends it again once fixed.",
        )

    def watch_functions(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        for name, function in functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                f"The {name} function failed: see its log group.",
            )

    def watch_state_machine(self, machine: sfn.StateMachine) -> None:
        self._alarm(
            "TrackingExecutionsFailed",
            machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            "A detection job could not be followed to its end; its report says why.",
        )
        self._alarm(
            "TrackingExecutionsTimedOut",
            machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
            "A detection job's execution reached the state machine's time limit.",
        )

    def add_dashboard(
        self,
        queue: sqs.IQueue,
        dead_letter: sqs.IQueue,
        functions: Mapping[str, lambda_.IFunction],
        machine: sfn.StateMachine,
    ) -> None:
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Jobs",
                left=[
                    custom_metric(n)
                    for n in ("JobsSubmitted", "JobsRejected", "JobsCompleted", "JobsFailed", "JobsTimedOut")
                ],
                width=12,
            ),
            cw.GraphWidget(title="Watermarks found", left=[custom_metric("WatermarksFound")], width=12),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Ingest queue",
                left=[
                    queue.metric_approximate_number_of_messages_visible(),
                    dead_letter.metric_approximate_number_of_messages_visible(),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Tracking executions",
                left=[
                    machine.metric_started(),
                    machine.metric_succeeded(),
                    machine.metric_failed(),
                    machine.metric_timed_out(),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Function errors", left=[f.metric_errors() for f in functions.values()], width=12),
            cw.GraphWidget(title="Function duration", left=[f.metric_duration() for f in functions.values()], width=12),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
