"""What the topic-registration custom resource is given in the tests: its properties and the publisher's keys."""

from __future__ import annotations

from antipiracy.services.register import PublisherKeys

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:DoveRunnerDetection-revocations"
KEYS = PublisherKeys("AKIAPUBLISHERTEST001", "publisher-secret-key/with+chars")
NEW_KEYS = PublisherKeys("AKIAPUBLISHERTEST002", "rotated-publisher-secret-key")
PROPERTIES = {"Name": "DoveRunnerDetection", "TopicArn": TOPIC_ARN, "PublisherSecretArn": "arn:publisher-secret"}
