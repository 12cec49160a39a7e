"""The pipeline's resources in the synthesized template: what each is, and that each may do only its job."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from template_queries import actions_of, function_id, resources, role_statements

from antipiracy.adapters.jobs_table import STATE_INDEX

# ---- ingest ---------------------------------------------------------------------------------------------------


def test_inbox_bucket_is_encrypted_versioned_private_and_logged(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "inbox-bucket/"}),
        },
    )


def test_every_bucket_refuses_requests_without_tls(template_json: dict[str, Any]) -> None:
    buckets = resources(template_json, "AWS::S3::Bucket")
    policies = resources(template_json, "AWS::S3::BucketPolicy").values()
    denied = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert denied == set(buckets)


def test_only_objects_under_the_inbox_prefix_notify_the_ingest_queue(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbox/"}]}},
                        "QueueArn": Match.any_value(),
                    }
                ]
            }
        },
    )


def test_ingest_queue_has_a_dead_letter_queue_and_outlasts_the_function(template_json: dict[str, Any]) -> None:
    queues = resources(template_json, "AWS::SQS::Queue")
    (ingest,) = [q for k, q in queues.items() if k.startswith("IngestIngestQueue")]
    submit = template_json["Resources"][function_id(template_json, "submit")]["Properties"]

    assert ingest["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert ingest["Properties"]["VisibilityTimeout"] >= 6 * submit["Timeout"]
    assert all(q["Properties"]["SqsManagedSseEnabled"] for q in queues.values())


def test_submit_function_reads_the_queue_with_partial_batch_failures_and_bounded_concurrency(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 1,
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )


def test_submit_function_can_stream_a_large_object(template_json: dict[str, Any]) -> None:
    submit = template_json["Resources"][function_id(template_json, "submit")]["Properties"]

    assert (submit["MemorySize"], submit["Timeout"]) == (1024, 900)


# ---- functions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", ["submit", "tracker", "reporter", "revoker", "lifter", "prober"])
def test_each_function_has_its_own_role_and_log_group_with_retention(
    template_json: dict[str, Any], handler: str
) -> None:
    properties = template_json["Resources"][function_id(template_json, handler)]["Properties"]
    roles = [
        template_json["Resources"][function_id(template_json, h)]["Properties"]["Role"]
        for h in ("submit", "tracker", "reporter", "revoker", "lifter", "prober")
    ]
    log_group = template_json["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]

    assert roles.count(properties["Role"]) == 1
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert (properties["Architectures"], properties["Runtime"]) == (["arm64"], "python3.14")
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert len(properties["Layers"]) == 1


def test_no_policy_grants_an_action_wildcard(template_json: dict[str, Any]) -> None:
    statements = [
        s
        for p in resources(template_json, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]

    assert [a for a in actions_of(statements) if "*" in a] == []


def test_no_pipeline_role_uses_a_managed_policy(template_json: dict[str, Any]) -> None:
    for handler in ("submit", "tracker", "reporter", "revoker", "lifter", "prober"):
        role = template_json["Resources"][function_id(template_json, handler)]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in template_json["Resources"][role]["Properties"]


def test_submit_may_read_inbox_objects_read_and_write_only_reports_start_tracking_write_jobs_and_publish(
    template_json: dict[str, Any],
) -> None:
    statements = role_statements(template_json, "submit")

    assert actions_of(statements) == {
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
        "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "states:StartExecution", "states:SendTaskSuccess",
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        # The results of the jobs it ends or holds, and the operator's alert when it pauses submissions.
        "sns:Publish", "kms:Decrypt", "kms:GenerateDataKey",
    }  # fmt: skip
    published = [s["Resource"] for s in statements if s["Action"] == "sns:Publish"]
    topics = sorted(
        r["Ref"] for resource in published for r in (resource if isinstance(resource, list) else [resource])
    )
    assert sorted(("DetectionResultsTopic" in t, "OperatorAlertsTopic" in t) for t in topics) == [
        (False, True),
        (True, False),
    ]
    (machine_id,) = resources(template_json, "AWS::StepFunctions::StateMachine")
    states = [s for s in statements if "states:SendTaskSuccess" in s["Action"]]
    assert [s["Resource"] for s in states] == [{"Ref": machine_id}]
    s3 = {s["Resource"]["Fn::Join"][1][1]: actions_of([s]) for s in statements if "s3:GetObject" in s["Action"]}
    # The videos are read; reports are read (the key's current one, before it is replaced) and written.
    assert s3 == {"/inbox/*": {"s3:GetObject", "s3:GetObjectVersion"}, "/results/*": {"s3:GetObject", "s3:PutObject"}}


def test_tracker_may_only_read_the_secret_update_jobs_and_end_its_waits(template_json: dict[str, Any]) -> None:
    assert actions_of(role_statements(template_json, "tracker")) == {
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:UpdateItem",
        "states:SendTaskSuccess",
    }  # fmt: skip


def test_prober_may_only_read_the_secret_read_and_lift_the_pause_list_held_jobs_and_queue_retries(
    template_json: dict[str, Any],
) -> None:
    statements = role_statements(template_json, "prober")

    assert actions_of(statements) == {
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
        "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query",
        "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
    }  # fmt: skip
    (jobs,) = [s for s in statements if "dynamodb:Query" in s["Action"]]
    assert jobs["Resource"][1]["Fn::Join"][1][-1] == f"/index/{STATE_INDEX}"


def test_prober_runs_every_ten_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"ScheduleExpression": "rate(10 minutes)", "Targets": [Match.object_like({"Arn": Match.any_value()})]},
    )


def test_reporter_may_write_only_under_the_results_prefix_and_publish_results(template_json: dict[str, Any]) -> None:
    statements = role_statements(template_json, "reporter")

    s3 = [s for s in statements if any(a.startswith("s3:") for a in actions_of([s]))]
    # It reads reports (the key's current one, before replacing it) and writes them, never touches the videos.
    assert actions_of(s3) == {"s3:GetObject", "s3:PutObject"}
    assert {s["Resource"]["Fn::Join"][1][1] for s in s3} == {"/results/*"}
    assert "sns:Publish" in actions_of(statements)


def test_reporter_may_use_the_topic_key_only_through_sns(template_json: dict[str, Any]) -> None:
    statements = role_statements(template_json, "reporter")

    (kms,) = [s for s in statements if any(a.startswith("kms:") for a in actions_of([s]))]

    assert actions_of([kms]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    via = kms["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1]
    assert (via[0], via[2]) == ("sns.", ".")


# ---- tracking ---------------------------------------------------------------------------------------------------


def state_machine(template_json: dict[str, Any]) -> dict[str, Any]:
    import json

    (machine,) = resources(template_json, "AWS::StepFunctions::StateMachine").values()
    definition = machine["Properties"]["DefinitionString"]
    text = "".join(p if isinstance(p, str) else "ARN" for p in definition["Fn::Join"][1])
    return dict(json.loads(text))


def test_state_machine_checks_in_a_task_that_waits_for_its_token_until_the_detection_ends(
    template_json: dict[str, Any],
) -> None:
    states = state_machine(template_json)["States"]

    assert state_machine(template_json)["StartAt"] == "CheckDetection"
    assert states["CheckDetection"]["Next"] == "DetectionEnded"
    choices = states["DetectionEnded"]["Choices"]
    assert [(c["And"][1]["Variable"], c["Next"]) for c in choices] == [
        ("$.check.terminal", "WriteReport"),
        ("$.check.timed_out", "WriteTimeoutReport"),
        ("$.check.resubmit", "RequestUploadAgain"),
        ("$.check.wait", "WaitBeforeNextCheck"),
    ]
    # woken by a notification: check at once
    assert states["DetectionEnded"]["Default"] == "CheckDetection"
    assert states["WaitBeforeNextCheck"] == {
        "Type": "Wait",
        "SecondsPath": "$.check.wait_seconds",
        "Next": "CheckDetection",
    }


def test_the_check_keeps_a_token_for_a_notification_and_polls_again_at_its_time_out(
    template_json: dict[str, Any],
) -> None:
    check = state_machine(template_json)["States"]["CheckDetection"]

    assert check["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert check["Parameters"]["Payload"] == {"job_id.$": "$.job_id", "task_token.$": "$$.Task.Token"}
    assert check["ResultPath"] == "$.check"
    # without notifications registered (cdk.json), the poll is the longest wait, plus the tracker's own time-out
    assert check["TimeoutSeconds"] == 900 + 60
    assert [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in check["Catch"]] == [
        (["States.Timeout"], "CheckDetection", None),
        (["States.ALL"], "WriteFailureReport", "$.error"),
    ]


def test_tracker_may_end_only_its_own_state_machines_waits(template_json: dict[str, Any]) -> None:
    statements = role_statements(template_json, "tracker")
    (machine_id,) = resources(template_json, "AWS::StepFunctions::StateMachine")

    (wake,) = [s for s in statements if s["Action"] == "states:SendTaskSuccess"]
    assert wake["Resource"] == {"Ref": machine_id}


def test_state_machine_ends_a_timeout_and_an_error_in_fail_states_after_reporting(
    template_json: dict[str, Any],
) -> None:
    states = state_machine(template_json)["States"]

    assert states["WriteTimeoutReport"]["Next"] == "TrackingTimedOut"
    assert states["CheckDetection"]["Catch"][1]["Next"] == "WriteFailureReport"
    assert states["WriteFailureReport"]["Next"] == "TrackingFailed"
    assert states["WriteReport"]["Next"] == "Reported"
    assert {states[s]["Type"] for s in ("TrackingTimedOut", "TrackingFailed")} == {"Fail"}


def test_every_task_state_catches_every_error(template_json: dict[str, Any]) -> None:
    states = state_machine(template_json)["States"]

    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    uncaught = [name for name, state in tasks.items() if not any(
        "States.ALL" in catch["ErrorEquals"] for catch in state.get("Catch", [])
    )]  # fmt: skip
    assert len(tasks) == 8
    assert uncaught == []


def test_a_failing_report_step_gets_a_fallback_report_then_one_from_the_state_machine(
    template_json: dict[str, Any],
) -> None:
    states = state_machine(template_json)["States"]

    for report in ("WriteReport", "WriteTimeoutReport", "WriteFailureReport"):
        assert [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in states[report]["Catch"]] == [
            (["States.ALL"], "WriteFallbackReport", "$.report_error")
        ]
    assert states["WriteFallbackReport"]["Next"] == "ReportFailed"
    assert states["WriteFallbackReport"]["Catch"][0]["Next"] == "RecordReportFailure"
    record = states["RecordReportFailure"]
    assert record["Resource"].endswith(":states:::dynamodb:updateItem")
    assert record["Parameters"]["ExpressionAttributeValues"][":failed"] == {"S": "FAILED"}
    assert "#state IN" in record["Parameters"]["ConditionExpression"]
    assert record["Next"] == "ComposeLastResortReport"
    assert states["ComposeLastResortReport"]["Next"] == "WriteLastResortReport"
    write = states["WriteLastResortReport"]
    assert write["Resource"].endswith(":states:::aws-sdk:s3:putObject")
    assert write["Parameters"]["Key.$"] == "$.failed_job.version_report_key"
    assert write["Next"] == "ReportFailed"
    assert states["ReportFailed"]["Type"] == "Fail"


def test_an_unconfirmed_upload_is_asked_again_through_the_ingest_queue_then_checked_for(
    template_json: dict[str, Any],
) -> None:
    request = state_machine(template_json)["States"]["RequestUploadAgain"]

    assert request["Resource"].endswith(":states:::sqs:sendMessage")
    assert request["Parameters"]["MessageBody"] == {
        "type": "doverunner.resubmit",
        "job_id.$": "$.job_id",
        "uploads.$": "$.check.uploads",
    }
    assert request["Next"] == "CheckDetection"
    assert request["Catch"][0]["Next"] == "WriteFailureReport"


def test_check_outlasts_doverunner_down_for_ten_minutes(template_json: dict[str, Any]) -> None:
    (retry,) = state_machine(template_json)["States"]["CheckDetection"]["Retry"]

    waits = [retry["IntervalSeconds"] * retry["BackoffRate"] ** n for n in range(retry["MaxAttempts"])]

    assert sum(waits) > 600


def test_a_submission_outlasts_doverunner_down_for_ten_minutes(template_json: dict[str, Any]) -> None:
    queue = next(
        q["Properties"]
        for k, q in resources(template_json, "AWS::SQS::Queue").items()
        if k.startswith("IngestIngestQueue")
    )

    # the message comes back after each visibility timeout until it has been received maxReceiveCount times
    assert queue["VisibilityTimeout"] * queue["RedrivePolicy"]["maxReceiveCount"] > 600


def test_check_retries_when_doverunner_is_unreachable(template_json: dict[str, Any]) -> None:
    (retry,) = state_machine(template_json)["States"]["CheckDetection"]["Retry"]

    assert "TransportError" in retry["ErrorEquals"]
    assert retry["BackoffRate"] == 2


def test_state_machine_is_traced_logged_and_has_a_backstop_timeout(template_json: dict[str, Any]) -> None:
    (machine,) = resources(template_json, "AWS::StepFunctions::StateMachine").values()

    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert state_machine(template_json)["TimeoutSeconds"] == 604800 + 86400


def test_state_machine_logs_errors_only_without_execution_data(template_json: dict[str, Any]) -> None:
    # Inputs and outputs carry task tokens and job details: they stay out of CloudWatch Logs.
    (machine,) = resources(template_json, "AWS::StepFunctions::StateMachine").values()

    logging = machine["Properties"]["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)


def test_the_last_resort_report_goes_to_the_versions_own_address_never_the_current_one(
    template_json: dict[str, Any],
) -> None:
    states = state_machine(template_json)["States"]

    selected = states["RecordReportFailure"]["ResultSelector"]
    composed = (
        states["ComposeLastResortReport"]["Parameters"]["last_resort_report"]
        if "last_resort_report" in states["ComposeLastResortReport"]["Parameters"]
        else states["ComposeLastResortReport"]["Parameters"]
    )
    assert selected["version_report_key.$"] == "$.Attributes.version_report_key.S"
    assert (composed["report_key.$"], composed["current"]) == ("$.failed_job.version_report_key", False)


# ---- storage and secrets ----------------------------------------------------------------------------------------


def test_jobs_table_has_point_in_time_recovery_a_detection_index_and_a_state_index(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like({"IndexName": "by-detection-id"}),
                Match.object_like(
                    {
                        "IndexName": STATE_INDEX,
                        "KeySchema": [
                            {"AttributeName": "state", "KeyType": "HASH"},
                            {"AttributeName": "created_at", "KeyType": "RANGE"},
                        ],
                    }
                ),
            ],
        },
    )


def test_credentials_secret_is_created_empty_for_the_operator_to_fill(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SecretsManager::Secret", {"SecretString": '{"site_key": "", "access_key": "", "account_id": ""}'}
    )


def test_topics_are_encrypted_with_a_rotating_key(template: Template) -> None:
    template.resource_count_is("AWS::SNS::Topic", 3)
    template.all_resources_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


# ---- observability ----------------------------------------------------------------------------------------------


def test_alarms_cover_dead_letter_queues_every_function_executions_and_web_acl_capacity(
    template_json: dict[str, Any],
) -> None:
    alarms = resources(template_json, "AWS::CloudWatch::Alarm").values()
    # Alarms on one metric each (an alarm on a metric-math expression has no MetricName).
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms if "MetricName" in a["Properties"])

    assert metrics == sorted(
        ["ApproximateNumberOfMessagesVisible"] * 2
        + ["Errors"] * 6
        + ["ExecutionsFailed", "ExecutionsTimedOut", "RevocationsRefusedForCapacity", "WebAclCapacityUsedPercent"]
        + ["JobsHeld", "JobsRefused"]
    )
    assert all(len(a["Properties"]["AlarmActions"]) == 1 for a in alarms)


def test_a_dashboard_shows_the_pipeline(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


@pytest.mark.parametrize(
    "output",
    ["InboxBucketName", "IngestQueueUrl", "IngestDeadLetterQueueUrl", "JobsTableName", "StateMachineArn",
     "ResultsTopicArn", "OperatorTopicArn", "DoveRunnerSecretArn", "RevocationTopicArn", "RevocationQueueUrl",
     "RevocationDeadLetterQueueUrl", "RevocationLedgerTableName", "WebAclArn"],
)  # fmt: skip
def test_what_an_operator_needs_is_a_stack_output(template: Template, output: str) -> None:
    template.has_output(output, {"Value": Match.any_value()})


def test_state_machine_may_only_send_to_the_ingest_queue_and_update_jobs(template_json: dict[str, Any]) -> None:
    (machine,) = resources(template_json, "AWS::StepFunctions::StateMachine").values()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in resources(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (queue_id,) = [k for k in resources(template_json, "AWS::SQS::Queue") if k.startswith("IngestIngestQueue")]
    (jobs_id,) = [k for k in resources(template_json, "AWS::DynamoDB::Table") if k.startswith("JobsTable")]

    (send,) = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    (update,) = [s for s in statements if s["Action"] == "dynamodb:UpdateItem"]
    assert send["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # the table's ARN, built from its name
    assert update["Resource"]["Fn::Join"][1][-2:] == [":table/", {"Ref": jobs_id}]
