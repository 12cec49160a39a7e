"""S3 event notifications from the local AWS are shaped as AWS sends them, for a versioned bucket above all: the
submit function keys jobs on the version id (on the ETag and sequencer without one)."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests

from doverunner_local.aws import LocalAws

from .waiting import deliveries_ended, eventually

AWKWARD_KEY = "inbox/드라마 1화 (유출본)+.mp4"
CONFIGURATION_ID = "inbox-uploads"
EVENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SEQUENCER = re.compile(r"^[0-9A-F]{18}$")
PART_SIZE = 5 * 1024 * 1024

FORWARDER = """
import json
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(event))
"""


@dataclass(frozen=True)
class Inbox:
    """A bucket that notifies a queue of what happens in it; the queue is read by the test, not by a function."""

    aws: LocalAws
    bucket: str
    queue_url: str

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def records(self, count: int) -> list[dict[str, Any]]:
        """The next `count` records, and a failure if more arrive."""
        sqs = self.aws.client("sqs")
        received: list[dict[str, Any]] = []

        def receive(wait_seconds: int = 1) -> bool:
            response = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            )
            for message in response.get("Messages", []):
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                received.extend(json.loads(message["Body"]).get("Records", []))  # not the s3:TestEvent
            return len(received) >= count

        eventually(receive)
        # S3 sends to a queue or a topic within the request; to a function on a delivery thread. Once every delivery
        # has ended, a record that is not in the queue now never comes.
        deliveries_ended(self.aws)
        receive(wait_seconds=0)
        assert len(received) == count, [record["eventName"] for record in received]
        return received

    def record(self) -> dict[str, Any]:
        return self.records(1)[0]


def _queue(aws: LocalAws) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _bucket(aws: LocalAws, versioning: str | None) -> str:
    s3 = aws.client("s3")
    name = f"inbox-{uuid.uuid4().hex[:12]}"
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    s3.create_bucket(Bucket=name, **location)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def _inbox(
    aws: LocalAws, *, versioning: str | None = "Enabled", events: tuple[str, ...] = ("s3:ObjectCreated:*",)
) -> Inbox:
    bucket = _bucket(aws, versioning)
    queue_url, queue_arn = _queue(aws)
    configuration = {"Id": CONFIGURATION_ID, "QueueArn": queue_arn, "Events": list(events)}
    aws.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [configuration]}
    )
    return Inbox(aws, bucket, queue_url)


@pytest.fixture
def inbox(local_aws: LocalAws) -> Inbox:
    """A versioned bucket notifying a queue of created objects, as the app's inbox bucket does."""
    return _inbox(local_aws)


def _multipart_upload(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": number,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)["ETag"],
        }
        for number, body in ((1, b"a" * PART_SIZE), (2, b"b"))
    ]
    response: dict[str, Any] = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return response


# -- a PUT into a versioned bucket -------------------------------------------------------------------------------


def test_put_into_a_versioned_bucket_names_the_new_version(inbox: Inbox) -> None:
    put = inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    record = inbox.record()

    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"] == {
        "key": "inbox/a.mp4",
        "size": len(b"suspect video"),
        "eTag": put["ETag"].strip('"'),
        "versionId": put["VersionId"],
        "sequencer": record["s3"]["object"]["sequencer"],
    }
    assert SEQUENCER.match(record["s3"]["object"]["sequencer"])


def test_put_record_has_every_field_aws_sends(inbox: Inbox) -> None:
    inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    record = inbox.record()

    assert set(record) == {
        "eventVersion",
        "eventSource",
        "awsRegion",
        "eventTime",
        "eventName",
        "userIdentity",
        "requestParameters",
        "responseElements",
        "s3",
    }
    assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == ("2.1", "aws:s3", inbox.aws.region)
    assert EVENT_TIME.match(record["eventTime"])
    assert record["userIdentity"]["principalId"]
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    assert all(record["responseElements"].values())
    s3 = record["s3"]
    assert (s3["s3SchemaVersion"], s3["configurationId"]) == ("1.0", CONFIGURATION_ID)
    assert s3["bucket"]["name"] == inbox.bucket
    assert s3["bucket"]["arn"] == f"arn:aws:s3:::{inbox.bucket}"
    assert s3["bucket"]["ownerIdentity"]["principalId"]


def test_same_bytes_put_twice_under_one_key_are_two_versions_in_sequence(inbox: Inbox) -> None:
    first = inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")
    second = inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    earlier, later = (record["s3"]["object"] for record in inbox.records(2))

    assert [earlier["versionId"], later["versionId"]] == [first["VersionId"], second["VersionId"]]
    assert earlier["versionId"] != later["versionId"]
    assert earlier["eTag"] == later["eTag"]
    assert earlier["sequencer"] < later["sequencer"]


def test_event_key_is_form_encoded_with_its_slashes_kept(inbox: Inbox) -> None:
    inbox.s3.put_object(Bucket=inbox.bucket, Key=AWKWARD_KEY, Body=b"suspect video")

    key = inbox.record()["s3"]["object"]["key"]

    assert key == "inbox/%EB%93%9C%EB%9D%BC%EB%A7%88+1%ED%99%94+%28%EC%9C%A0%EC%B6%9C%EB%B3%B8%29%2B.mp4"
    assert unquote_plus(key) == AWKWARD_KEY


# -- other ways to create an object ------------------------------------------------------------------------------


def test_copy_notifies_object_created_copy_with_the_copy_version(inbox: Inbox) -> None:
    inbox.s3.put_object(Bucket=inbox.bucket, Key="staging/a.mp4", Body=b"suspect video")
    inbox.record()

    copy = inbox.s3.copy_object(
        Bucket=inbox.bucket, Key="inbox/a.mp4", CopySource={"Bucket": inbox.bucket, "Key": "staging/a.mp4"}
    )

    record = inbox.record()
    assert record["eventName"] == "ObjectCreated:Copy"
    assert record["s3"]["object"]["key"] == "inbox/a.mp4"
    assert record["s3"]["object"]["versionId"] == copy["VersionId"]


def test_multipart_upload_notifies_complete_multipart_upload_only(inbox: Inbox) -> None:
    completed = _multipart_upload(inbox.s3, inbox.bucket, "inbox/big.mp4")

    record = inbox.record()

    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record["s3"]["object"]["size"] == PART_SIZE + 1
    assert record["s3"]["object"]["eTag"] == completed["ETag"].strip('"')
    assert record["s3"]["object"]["versionId"] == completed["VersionId"]


def test_browser_post_notifies_object_created_post(inbox: Inbox) -> None:
    form = inbox.s3.generate_presigned_post(Bucket=inbox.bucket, Key="inbox/posted.mp4")
    response = requests.post(form["url"], data=form["fields"], files={"file": b"suspect video"}, timeout=30)
    response.raise_for_status()

    record = inbox.record()

    version = inbox.s3.head_object(Bucket=inbox.bucket, Key="inbox/posted.mp4")["VersionId"]
    assert record["eventName"] == "ObjectCreated:Post"
    assert record["s3"]["object"]["versionId"] == version


# -- tags ---------------------------------------------------------------------------------------------------------


def test_put_with_tags_notifies_no_tagging_event(local_aws: LocalAws) -> None:
    inbox = _inbox(local_aws, events=("s3:ObjectCreated:*", "s3:ObjectTagging:*"))

    inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video", Tagging="source=upload")

    assert inbox.record()["eventName"] == "ObjectCreated:Put"


def test_tagging_an_object_notifies_object_tagging_put_without_size_or_sequencer(local_aws: LocalAws) -> None:
    inbox = _inbox(local_aws, events=("s3:ObjectTagging:*",))
    put = inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    inbox.s3.put_object_tagging(
        Bucket=inbox.bucket, Key="inbox/a.mp4", Tagging={"TagSet": [{"Key": "state", "Value": "detected"}]}
    )

    record = inbox.record()
    assert (record["eventName"], record["eventVersion"]) == ("ObjectTagging:Put", "2.3")
    assert record["s3"]["object"] == {
        "key": "inbox/a.mp4",
        "eTag": put["ETag"].strip('"'),
        "versionId": put["VersionId"],
    }


# -- buckets without versioning ----------------------------------------------------------------------------------


def test_unversioned_bucket_records_have_a_sequencer_and_no_version_id(local_aws: LocalAws) -> None:
    inbox = _inbox(local_aws, versioning=None)

    inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    obj = inbox.record()["s3"]["object"]
    assert "versionId" not in obj
    assert SEQUENCER.match(obj["sequencer"])


def test_suspended_bucket_records_name_the_null_version(local_aws: LocalAws) -> None:
    inbox = _inbox(local_aws, versioning="Suspended")

    inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    assert inbox.record()["s3"]["object"]["versionId"] == "null"


def test_unversioned_overwrites_keep_their_etag_and_increase_the_sequencer(local_aws: LocalAws) -> None:
    inbox = _inbox(local_aws, versioning=None)

    for _ in range(2):
        inbox.s3.put_object(Bucket=inbox.bucket, Key="inbox/a.mp4", Body=b"suspect video")

    earlier, later = (record["s3"]["object"] for record in inbox.records(2))
    assert earlier["eTag"] == later["eTag"]
    assert earlier["sequencer"] < later["sequencer"]


# -- other destinations ------------------------------------------------------------------------------------------


def test_topic_destination_gets_the_same_record(local_aws: LocalAws) -> None:
    bucket = _bucket(local_aws, "Enabled")
    queue_url, queue_arn = _queue(local_aws)
    sns = local_aws.client("sns")
    topic_arn = sns.create_topic(Name=f"events-{uuid.uuid4().hex[:12]}")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    configuration = {"Id": CONFIGURATION_ID, "TopicArn": topic_arn, "Events": ["s3:ObjectCreated:*"]}
    local_aws.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [configuration]}
    )
    inbox = Inbox(local_aws, bucket, queue_url)

    put = inbox.s3.put_object(Bucket=bucket, Key="inbox/a.mp4", Body=b"suspect video")

    obj = inbox.record()["s3"]["object"]
    assert obj["versionId"] == put["VersionId"]
    assert SEQUENCER.match(obj["sequencer"])


def test_function_destination_gets_the_same_record(local_aws: LocalAws) -> None:
    bucket = _bucket(local_aws, "Enabled")
    queue_url, _ = _queue(local_aws)
    role = local_aws.client("iam").create_role(
        RoleName=f"forwarder-{uuid.uuid4().hex[:12]}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("forwarder.py", FORWARDER)
    function_arn = local_aws.client("lambda").create_function(
        FunctionName=f"forwarder-{uuid.uuid4().hex[:12]}",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="forwarder.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"QUEUE_URL": queue_url}},
    )["FunctionArn"]
    configuration = {"Id": CONFIGURATION_ID, "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
    local_aws.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [configuration]}
    )
    inbox = Inbox(local_aws, bucket, queue_url)

    put = inbox.s3.put_object(Bucket=bucket, Key="inbox/a.mp4", Body=b"suspect video")

    obj = inbox.record()["s3"]["object"]
    assert obj["versionId"] == put["VersionId"]
    assert SEQUENCER.match(obj["sequencer"])
