"""Requests by file: each line a request or a named problem; the file as a whole refused when it cannot be taken."""

from __future__ import annotations

import json

import pytest

from antipiracy.domain.detection_requests import (
    MAX_TITLE_CHARS,
    DetectionRequest,
    RequestFileProblem,
    RequestLine,
    read_request_file,
)

LIMIT = 7 * 24 * 3600


def read(text: str, key: str = "inbox/requests/batch.jsonl", max_lines: int = 1000) -> list[RequestLine]:
    return read_request_file(text.encode(), key, max_lines=max_lines, max_seconds_limit=LIMIT)


def line(**fields: object) -> str:
    return json.dumps(fields)


def test_a_url_request_is_read_with_its_fields() -> None:
    (request,) = read(line(type="url", url="https://pirate.example/v/ep3.mp4", title="Episode 3", service="DWM"))

    assert request.request == DetectionRequest("url", "https://pirate.example/v/ep3.mp4", "Episode 3", "PD006")
    assert (request.number, request.problem) == (1, "")


def test_a_live_request_keeps_its_time_box_and_demo_flag() -> None:
    (request,) = read(line(type="live", url="http://live.example/s/playlist.m3u8", max_seconds=600, demo=True))

    assert request.request == DetectionRequest(
        "live", "http://live.example/s/playlist.m3u8", "playlist.m3u8", None, True, 600
    )


def test_a_request_without_title_is_titled_after_the_urls_file_name() -> None:
    (request,) = read(line(type="url", url="https://pirate.example/v/leak%20cam.mkv?token=1"))

    assert request.request is not None
    assert request.request.title == "leak%20cam.mkv"


def test_a_json_file_holds_one_request_spread_over_several_lines() -> None:
    text = json.dumps({"type": "url", "url": "https://pirate.example/a.mp4"}, indent=2)

    (request,) = read(text, key="inbox/requests/one.json")

    assert (request.number, request.problem, request.request is not None) == (1, "", True)


def test_blank_lines_are_skipped_and_lines_keep_their_numbers() -> None:
    text = (
        "\n"
        + line(type="url", url="https://a.example/1.mp4")
        + "\n\n"
        + line(type="url", url="https://a.example/2.mp4")
    )

    assert [r.number for r in read(text)] == [2, 4]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"type": "url", "url": ', "line 1: not JSON"),
        ("[1, 2]", "line 1: a request is a JSON object, not a list: many requests go in a .jsonl file"),
        ('"https://a.example/a.mp4"', "line 1: a request is a JSON object, not str"),
        (line(type="vod", url="https://a.example/a.mp4"), "line 1: unknown type 'vod'"),
        (line(type="url"), "line 1: url is missing"),
        (line(type="url", url=5), "line 1: url must be a string"),
        (line(type="url", url="ftp://a.example/a.mp4"), "line 1: url scheme 'ftp' is not http or https"),
        (line(type="url", url="a.example/a.mp4"), "line 1: url scheme 'none' is not http or https"),
        (line(type="url", url="https:///a.mp4"), "line 1: url has no host"),
        (line(type="url", url="https://a.example/a b.mp4"), "line 1: url contains spaces"),
        (line(type="live", url="https://a.example/live.mp4"), "line 1: a live request's url must be an HLS manifest"),
        (line(type="url", url="https://a.example/a.mp4", title="t" * 201), "line 1: title is 201 characters"),
        (line(type="url", url="https://a.example/a.mp4", title="a\nb"), "line 1: title contains control characters"),
        (line(type="url", url="https://a.example/a.mp4", service="XYZ"), "line 1: unknown service 'XYZ'"),
        (line(type="url", url="https://a.example/a.mp4", demo="yes"), "line 1: demo must be true or false"),
        (line(type="url", url="https://a.example/a.mp4", max_seconds=60), "line 1: max_seconds is for live"),
        (line(type="live", url="https://a.example/l.m3u8", max_seconds=0), "line 1: max_seconds must be a whole"),
        (
            line(type="live", url="https://a.example/l.m3u8", max_seconds=LIMIT + 1),
            "line 1: max_seconds 604801 is more than",
        ),
        (line(type="url", url="https://a.example/a.mp4", titel="x"), "line 1: unknown field 'titel'"),
    ],
)
def test_a_bad_request_carries_the_problem_named_with_its_line(raw: str, problem: str) -> None:
    (request,) = read(raw)

    assert request.request is None
    assert request.problem.startswith(problem), request.problem


def test_the_title_limit_is_the_documented_one() -> None:
    (request,) = read(line(type="url", url="https://a.example/a.mp4", title="t" * MAX_TITLE_CHARS))

    assert request.problem == ""


def test_not_json_names_the_line_of_a_json_lines_file() -> None:
    text = line(type="url", url="https://a.example/1.mp4") + "\n{oops\n"

    problems = [r.problem for r in read(text)]

    assert problems[0] == ""
    assert problems[1].startswith("line 2: not JSON")


def test_identical_requests_are_distinct_jobs_and_the_same_on_every_read() -> None:
    same = line(type="url", url="https://a.example/1.mp4")
    text = "\n".join([same, line(type="url", url="https://a.example/2.mp4"), same])

    first, again = read(text), read(text)

    ids = [r.job_id("b", "inbox/requests/batch.jsonl") for r in first]
    assert len(set(ids)) == 3
    assert ids == [r.job_id("b", "inbox/requests/batch.jsonl") for r in again]


def test_a_request_is_the_same_job_wherever_it_stands_in_the_file() -> None:
    a, b = line(type="url", url="https://a.example/1.mp4"), line(type="url", url="https://a.example/2.mp4")

    forward = {r.request.url: r.job_id("b", "k") for r in read(f"{a}\n{b}") if r.request}
    backward = {r.request.url: r.job_id("b", "k") for r in read(f"{b}\n{a}") if r.request}

    assert forward == backward


def test_the_same_fields_in_another_order_are_the_same_request() -> None:
    one = read('{"type": "url", "url": "https://a.example/1.mp4"}')[0]
    other = read('{"url": "https://a.example/1.mp4", "type": "url"}')[0]

    assert one.job_id("b", "k") == other.job_id("b", "k")


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        (b"", "inbox/requests/a.jsonl", "holds no request"),
        (b"\n \n", "inbox/requests/a.jsonl", "holds no request"),
        (b'{"type": "url"}', "inbox/requests/a.txt", r"must be \.json \(one request\) or \.jsonl"),
        (b"\xff\xfe{}", "inbox/requests/a.jsonl", "not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_taken_is_refused_as_a_whole(data: bytes, key: str, problem: str) -> None:
    with pytest.raises(RequestFileProblem, match=problem):
        read_request_file(data, key, max_lines=10, max_seconds_limit=LIMIT)


def test_more_lines_than_the_limit_refuse_the_file() -> None:
    text = "\n".join(line(type="url", url=f"https://a.example/{i}.mp4") for i in range(4))

    with pytest.raises(RequestFileProblem, match="4 requests, more than the limit of 3"):
        read(text, max_lines=3)
