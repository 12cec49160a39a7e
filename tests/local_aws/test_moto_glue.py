"""The glue fails loudly, naming moto's version, when the moto internals it patches change; and it cleans up."""

from __future__ import annotations

import os
from typing import Any

import moto
import pytest
from moto.awslambda.models import LambdaFunction
from web_acls import create_web_acl, visibility

from doverunner_local.aws.moto_glue import PINNED_MOTO_VERSION, MotoGlue, MotoGlueError, check_moto_internals


def test_checker_accepts_the_installed_moto() -> None:
    assert moto.__version__ == PINNED_MOTO_VERSION
    check_moto_internals()


def test_checker_names_the_moto_version_when_a_patched_internal_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    def invoke(self: Any, body: Any, headers: Any) -> bytes:
        return b""

    monkeypatch.setattr(LambdaFunction, "invoke", invoke)
    with pytest.raises(MotoGlueError, match=rf"(?s)moto {moto.__version__}.*LambdaFunction\.invoke: parameters"):
        check_moto_internals()


def test_checker_rejects_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(MotoGlueError, match=rf"(?s)moto 5\.3\.0 is installed.*verified against {PINNED_MOTO_VERSION}"):
        check_moto_internals()


def test_uninstall_restores_moto_and_the_environment() -> None:
    original_invoke = vars(LambdaFunction)["invoke"]
    original_port = os.environ.get("MOTO_PORT")
    glue = MotoGlue("http://127.0.0.1:9")
    glue.install()
    patched = vars(LambdaFunction)["invoke"]
    glue.uninstall()
    assert patched is not original_invoke
    assert vars(LambdaFunction)["invoke"] is original_invoke
    assert os.environ.get("MOTO_PORT") == original_port


def test_second_glue_in_one_process_is_refused() -> None:
    first = MotoGlue("http://127.0.0.1:9")
    first.install()
    try:
        with pytest.raises(MotoGlueError, match="another local AWS"):
            MotoGlue("http://127.0.0.1:10").install()
    finally:
        first.uninstall()


def test_updating_a_web_acl_with_no_rules_removes_its_rules() -> None:
    from doverunner_local.aws import LocalAws

    rule = {
        "Name": "block-admin",
        "Priority": 0,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": b"/admin",
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                "PositionalConstraint": "STARTS_WITH",
            }
        },
        "Action": {"Block": {}},
        "VisibilityConfig": visibility("r"),
    }
    with LocalAws() as aws:
        wafv2 = aws.client("wafv2")
        acl = create_web_acl(wafv2, "acl", rules=[rule])

        wafv2.update_web_acl(
            Name="acl",
            Id=acl.id,
            Scope="CLOUDFRONT",
            DefaultAction={"Allow": {}},
            VisibilityConfig=visibility("acl"),
            Rules=[],
            LockToken=acl.lock_token,
        )

        assert wafv2.get_web_acl(Name="acl", Id=acl.id, Scope="CLOUDFRONT")["WebACL"]["Rules"] == []


def test_closed_local_aws_leaves_nothing_for_the_next_one_in_the_process() -> None:
    from doverunner_local.aws import LocalAws

    # moto's state is process-wide: a second deployment of the same stack would otherwise find the first
    with LocalAws() as first:
        first.client("s3").create_bucket(Bucket="left-behind")

    with LocalAws() as second:
        assert second.client("s3").list_buckets()["Buckets"] == []


def test_checker_names_the_s3_internal_the_one_event_per_request_patch_relies_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.s3.models import S3Backend

    def complete_multipart_upload(self: Any, bucket_name: str, multipart_id: str, body: Any) -> None:
        """A moto that completes uploads without PutObject: the glue would drop nothing, or the wrong event."""

    monkeypatch.setattr(S3Backend, "complete_multipart_upload", complete_multipart_upload)
    with pytest.raises(MotoGlueError, match=r"(?s)S3Backend\.complete_multipart_upload: code no longer contains"):
        check_moto_internals()
