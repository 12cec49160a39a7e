"""Tracking: one Step Functions execution per job that checks its detection until it ends, then writes the report
and publishes the result. Notification first: after a check the Check step waits for its task token, which a
DoveRunner notification about the detection uses to end the wait (core/antipiracy/services/wake.py); its time-out
is the safety net's poll. Shorter waits (growing while no notification is expected) are plain Wait states. An
upload whose answer never came and whose detection never appeared is asked for again through the ingest queue.
Every step that can fail ends in a report, and a report step that fails in a fallback report, so no job stays
unfinished."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from antipiracy import environment as names
from stacks.functions import FunctionInputs, PipelineFunction
from stacks.nag import acknowledge, resource_evidence
from stacks.settings import Settings
from stacks.topics import encrypted_topic

LAST_RESORT_REASON = "the report step and its fallback failed; this report was written by the state machine"
# The tracker's own time-out; the Check task's time-out is the poll plus this (the run is part of the task).
CHECK_FUNCTION_TIMEOUT = Duration.seconds(60)
# Errors of the Check step worth another try before the job is reported as failed: DoveRunner unreachable.
TRANSIENT_ERRORS = ["TransportError", "Lambda.TooManyRequestsException", "Lambda.ServiceException"]


class Tracking(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        inputs: FunctionInputs,
        bucket: s3.IBucket,
        topic_key: kms.IKey,
        jobs_table: dynamodb.ITable,
        ingest_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = inputs.settings
        self._jobs_table = jobs_table
        self._ingest_queue = ingest_queue
        self._bucket = bucket
        self.results_topic = encrypted_topic(
            self, "DetectionResultsTopic", display_name="DoveRunner detection results", key=topic_key
        )
        self.tracker = inputs.function(
            self,
            "Tracker",
            handler_folder="tracker",
            description="DoveRunner detection: checks a job's detection status and records it",
            timeout=CHECK_FUNCTION_TIMEOUT,
        )
        self.reporter = inputs.function(
            self,
            "Reporter",
            handler_folder="reporter",
            description="DoveRunner detection: writes a job's report next to its input and publishes the result",
            environment={**inputs.environment, names.RESULTS_TOPIC_ARN: self.results_topic.topic_arn},
        )
        self.reporter.allow_publishing(self.results_topic, topic_key)
        self.reporter.allow_report_writes(bucket, settings.results_prefix)
        self._results_prefix = settings.results_prefix
        self.state_machine = self._state_machine(settings, inputs.log_retention)
        # A policy of its own, outside the role: the tracker's function must not depend on the state machine,
        # whose definition names the function. The tracker ends its own Check step's wait.
        iam.Policy(
            self,
            "TrackerEndsItsWait",
            roles=[self.tracker.role],
            statements=[self._send_task_success()],
        )

    def _send_task_success(self) -> iam.PolicyStatement:
        # Task tokens of this state machine's executions only: IAM checks SendTaskSuccess against the state machine.
        return iam.PolicyStatement(actions=["states:SendTaskSuccess"], resources=[self.state_machine.state_machine_arn])

    def allow_waking(self, function: PipelineFunction) -> None:
        """Lets a function that handles notifications end an execution's wait."""
        function.role.add_to_policy(self._send_task_success())

    def _state_machine(self, settings: Settings, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        # One Check is a task that waits for its token (services/track.check_and_wait): it ends itself with the
        # check's result, or keeps the token so that a notification ends it; its time-out is the safety net's poll.
        check = tasks.LambdaInvoke(
            self,
            "CheckDetection",
            lambda_function=self.tracker.function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"job_id": sfn.JsonPath.string_at("$.job_id"), "task_token": sfn.JsonPath.task_token}
            ),
            # The poll counts from the task's start, which the function's own run is part of: a run slower than
            # the poll (DoveRunner slow, invocations queued) must not time the task out before it kept its token.
            task_timeout=sfn.Timeout.duration(
                Duration.seconds(settings.poll_seconds + CHECK_FUNCTION_TIMEOUT.to_seconds())
            ),
            result_path="$.check",
            retry_on_service_exceptions=False,
        )
        check.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(30), max_attempts=6, backoff_rate=2)
        report = self._report_step("WriteReport")
        report_timeout = self._report_step("WriteTimeoutReport")
        report_error = self._report_step("WriteFailureReport")
        report_failed = sfn.Fail(
            self, "ReportFailed", error="ReportFailed", cause="the report step failed; a fallback report says why"
        )
        fallback_report = self._fallback_report(report_failed)
        for task in (report, report_timeout, report_error):
            task.add_catch(fallback_report, result_path="$.report_error")
        failed = sfn.Fail(self, "TrackingFailed", error="TrackingFailed", cause="the detection could not be followed")
        timed_out = sfn.Fail(
            self,
            "TrackingTimedOut",
            error="TrackingTimedOut",
            cause="no terminal status within the maximum tracking time",
        )
        # No notification within the poll: the safety net checks again (the state stays as the last Check left it).
        check.add_catch(check, errors=["States.Timeout"], result_path=sfn.JsonPath.DISCARD)
        check.add_catch(report_error, result_path="$.error")
        report_error.next(failed)
        # A wait shorter than the poll (waits growing while no notification is expected or the detection is not
        # found yet, a live detection's time box): a plain wait.
        wait = sfn.Wait(self, "WaitBeforeNextCheck", time=sfn.WaitTime.seconds_path("$.check.wait_seconds"))
        wait.next(check)
        upload_again = tasks.SqsSendMessage(
            self,
            "RequestUploadAgain",
            queue=self._ingest_queue,
            message_body=sfn.TaskInput.from_object(
                {
                    "type": "doverunner.resubmit",
                    "job_id": sfn.JsonPath.string_at("$.job_id"),
                    "uploads": sfn.JsonPath.number_at("$.check.uploads"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        upload_again.add_retry(interval=Duration.seconds(5), max_attempts=4, backoff_rate=2)
        upload_again.add_catch(report_error, result_path="$.error")

        def flag(name: str) -> sfn.Condition:
            path = f"$.check.{name}"
            return sfn.Condition.and_(sfn.Condition.is_present(path), sfn.Condition.boolean_equals(path, True))

        decide = (
            sfn.Choice(self, "DetectionEnded")
            .when(flag("terminal"), report.next(sfn.Succeed(self, "Reported")))
            .when(flag("timed_out"), report_timeout.next(timed_out))
            .when(flag("resubmit"), upload_again.next(check))
            .when(flag("wait"), wait)
            # Woken by a notification: check at once.
            .otherwise(check)
        )
        log_group = logs.LogGroup(self, "StateMachineLogs", retention=log_retention)
        machine = sfn.StateMachine(
            self,
            "DetectionTracker",
            definition_body=sfn.DefinitionBody.from_chainable(check.next(decide)),
            # A backstop behind the Check step's own limit, so no execution lives forever.
            timeout=Duration.seconds(settings.max_tracking_seconds + 24 * 3600),
            tracing_enabled=True,
            # Errors only, without execution data: inputs and outputs carry task tokens and job details.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
            comment="Follows one DoveRunner detection job until its detection ends, then reports it",
        )
        acknowledge(
            machine,
            "SF1",
            "The state machine logs errors only, without execution data: its inputs and outputs carry task tokens and "
            "job details, which must not land in CloudWatch Logs; X-Ray tracing and the execution history show the "
            "rest.",
        )
        acknowledge(
            machine,
            "IAM5",
            "Step Functions log delivery and X-Ray support no resource-level permissions (Resource '*'); invoking "
            "a function is granted on its versions too (':*'); the last-resort report may be written only under "
            "the results prefix (a key wildcard, not an action wildcard).",
            evidence=(
                "Resource::*",
                *resource_evidence(
                    self,
                    f"{self.tracker.function.function_arn}:*",
                    f"{self.reporter.function.function_arn}:*",
                    self._bucket.arn_for_objects(f"{self._results_prefix}*"),
                ),
            ),
        )
        return machine

    def _report_step(self, name: str) -> tasks.LambdaInvoke:
        """A step of the reporter function, retried while Lambda or DoveRunner is briefly unavailable."""
        step = tasks.LambdaInvoke(
            self, name, lambda_function=self.reporter.function, payload_response_only=True, result_path="$.result"
        )
        step.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(5), max_attempts=4, backoff_rate=2)
        return step

    def _fallback_report(self, report_failed: sfn.Fail) -> tasks.LambdaInvoke:
        """When a report step fails: a plain report saying so (built only from what the submit function recorded).
        When that fails too, the job is marked FAILED straight in DynamoDB and the state machine writes its report
        itself, so no job stays unfinished or unreported."""
        fallback = self._report_step("WriteFallbackReport")
        unfinished = ("RECEIVED", "SUBMITTING", "SUBMITTED", "TRACKING")
        values = {f":s{i}": tasks.DynamoAttributeValue.from_string(state) for i, state in enumerate(unfinished)}
        record = tasks.DynamoUpdateItem(
            self,
            "RecordReportFailure",
            table=self._jobs_table,
            key={"job_id": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.job_id"))},
            update_expression="SET #state = :failed, #reason = :reason, report_error_cause = :cause",
            condition_expression="#state IN (" + ", ".join(values) + ")",
            expression_attribute_names={"#state": "state", "#reason": "reason"},
            expression_attribute_values={
                **values,
                ":failed": tasks.DynamoAttributeValue.from_string("FAILED"),
                ":reason": tasks.DynamoAttributeValue.from_string(LAST_RESORT_REASON),
                ":cause": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.fallback_error.Cause")),
            },
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            result_selector={
                "bucket": sfn.JsonPath.string_at("$.Attributes.bucket.S"),
                "key": sfn.JsonPath.string_at("$.Attributes.key.S"),
                # The version's own report address (services/report.py); the key's current report is not touched.
                "version_report_key": sfn.JsonPath.string_at("$.Attributes.version_report_key.S"),
            },
            result_path="$.failed_job",
        )
        record.add_retry(
            errors=["DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.ThrottlingException"],
            interval=Duration.seconds(5),
            max_attempts=4,
            backoff_rate=2,
        )
        record.add_catch(report_failed, result_path=sfn.JsonPath.DISCARD)
        fallback.add_catch(record, result_path="$.fallback_error")
        record.next(self._last_resort_report(report_failed))
        fallback.next(report_failed)
        return fallback

    def _last_resort_report(self, report_failed: sfn.Fail) -> sfn.Chain:
        """A report written by the state machine itself, no function involved: the job id, the input and both
        failures, where the operator looks for the report."""
        compose = sfn.Pass(
            self,
            "ComposeLastResortReport",
            parameters={
                "report_version": "1",
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "state": "FAILED",
                "input": {
                    "bucket": sfn.JsonPath.string_at("$.failed_job.bucket"),
                    "key": sfn.JsonPath.string_at("$.failed_job.key"),
                },
                "reason": LAST_RESORT_REASON,
                # It cannot compare versions: it writes only this version's report, never the key's current one.
                "report_key": sfn.JsonPath.string_at("$.failed_job.version_report_key"),
                "current": False,
                "error": {
                    "report_step": sfn.JsonPath.string_at("$.report_error.Cause"),
                    "fallback_report_step": sfn.JsonPath.string_at("$.fallback_error.Cause"),
                },
            },
            result_path="$.last_resort_report",
        )
        write = tasks.CallAwsService(
            self,
            "WriteLastResortReport",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": sfn.JsonPath.string_at("$.failed_job.bucket"),
                "Key": sfn.JsonPath.string_at("$.failed_job.version_report_key"),
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.last_resort_report")),
                "ContentType": "application/json; charset=utf-8",
            },
            iam_resources=[self._bucket.arn_for_objects(f"{self._results_prefix}*")],
            iam_action="s3:PutObject",
            result_path=sfn.JsonPath.DISCARD,
        )
        write.add_retry(interval=Duration.seconds(5), max_attempts=4, backoff_rate=2)
        write.add_catch(report_failed, result_path=sfn.JsonPath.DISCARD)
        return compose.next(write).next(report_failed)
