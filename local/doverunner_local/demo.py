"""The main job on the local default: the CDK app deployed into a local AWS with the local DoveRunner behind it,
sample videos dropped into the inbox beside a crawler's requests (a pirate site's video URL and a live stream, served
by a local "pirate site"), each job followed live, and the reports printed at the end.

    python -m doverunner_local.demo [--step-seconds S] [--timeout S]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from doverunner_local.samples import COMPLIANT_SIZE, write_sample
from doverunner_local.stack import MIB, LocalPipelineStack

FINAL = {"REJECTED", "COMPLETED", "CANCELED", "FAILED", "TIMED_OUT"}
REQUESTS_KEY = "inbox/requests/crawler.jsonl"
LIVE_SECONDS = 6  # the live request's time box


@dataclass(frozen=True)
class Drop:
    key: str
    kind: str
    size: int = COMPLIANT_SIZE  # a 5-minute 480p H.264 video above 1 Mbps, as DoveRunner needs (samples.py)
    mark: str | None = None
    fail: str | None = None
    short: bool = False  # the 2-second 320x240 clip instead
    title: str | None = None  # metadata; percent-encoded when not ASCII
    note: str = ""


DROPS = (
    Drop("inbox/pirated-copy.mp4", "mp4", mark="0000000000000001", note="carries a known session's mark"),
    Drop(
        "inbox/드라마 1화 (유출본).mkv",
        "mkv",
        50 * MIB,
        mark="00000000000000ff",
        note="larger than the local URL-detection threshold: URL detection with a presigned S3 URL",
    ),
    Drop("inbox/dwm/clean rip.mov", "mov", title="Clean rip", note="DWM service from the key; no mark"),
    Drop("inbox/shaky-cam.mp4", "mp4", fail="D007", note="a camcorder recording DoveRunner cannot read"),
    Drop(
        "inbox/short-clip.mp4",
        "mp4",
        256 * 1024,
        short=True,
        note="a 2-second 320x240 clip: its metadata read from S3, and not sent",
    ),
    Drop("inbox/trailer.avi", "avi", 4096, note="unsupported file type"),
    Drop("inbox/empty.mp4", "mp4", 0, note="0 bytes"),
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def pirate_site() -> Iterator[str]:
    """A local web server standing for a pirate site: a leaked episode and a live stream (a clean HLS playlist, so
    DoveRunner's live detection runs until the pipeline stops it at its time box). Its base URL."""
    with tempfile.TemporaryDirectory(prefix="pirate-site-") as folder:
        root = Path(folder)
        (root / "v").mkdir()
        with (root / "v" / "episode-3-leak.mp4").open("wb") as out:
            write_sample(out, "mp4", mark="0000000000000002")
        (root / "live").mkdir()
        (root / "live" / "segment-0.ts").write_bytes((b"\x47" + b"\x00" * 187) * 256)
        (root / "live" / "final.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nsegment-0.ts\n")
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def crawler_requests(site: str) -> list[dict[str, Any]]:
    return [
        {"type": "url", "url": f"{site}/v/episode-3-leak.mp4", "title": "Episode 3 (pirate site)"},
        {"type": "live", "url": f"{site}/live/final.m3u8", "title": "Cup final (live)", "max_seconds": LIVE_SECONDS},
    ]


def _label(job: dict[str, Any]) -> str:
    """A video's key, or a request's file key and line."""
    return f"{job['key']} line {job['line']}" if job.get("line") else str(job["key"])


def _body(drop: Drop) -> bytes:
    if drop.size == 0:
        return b""
    if drop.kind == "avi":
        return b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * (drop.size - 16)
    buffer = io.BytesIO()
    write_sample(buffer, drop.kind, drop.size, mark=drop.mark, fail=drop.fail, short=drop.short)
    return buffer.getvalue()


def _line(job: dict[str, Any]) -> str:
    state = job.get("state", "")
    status = job.get("detect_status", "")
    progress = job.get("progress_status", "")
    meaning = job.get("progress_description") or job.get("status_description") or ""
    detail = f"{status} {progress} {meaning}".strip() if status else (job.get("reason") or job.get("method") or "")
    return f"{state:<10} {detail}"


def _jobs(local: LocalPipelineStack, table: str) -> dict[str, dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    items = local.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    jobs = [{k: plain.deserialize(v) for k, v in item.items()} for item in items]
    return {_label(job): job for job in jobs if str(job.get("job_id", "")).startswith("job-")}


def run(step_seconds: float, timeout: float) -> int:
    started = time.monotonic()

    def stamp() -> str:
        return f"[{time.monotonic() - started:6.1f}s]"

    print("Synthesizing the CDK app and deploying it into the local AWS, with the local DoveRunner behind it...")
    with LocalPipelineStack(step_seconds=step_seconds) as local, pirate_site() as site:
        info = local.info()
        timings = info["timings_seconds"]
        print(f"{stamp()} deployed stack {info['stack_name']}: synth {timings['synth']}s, deploy {timings['deploy']}s")
        print(f"         local AWS {info['aws_endpoint_url']}, local DoveRunner {info['doverunner_url']}")
        s3 = local.client("s3")
        bucket = info["inbox_bucket"]
        for drop in DROPS:
            metadata = {"title": drop.title} if drop.title else {}
            s3.put_object(Bucket=bucket, Key=drop.key, Body=_body(drop), Metadata=metadata)
            print(f"{stamp()} dropped s3://{bucket}/{drop.key} ({drop.size:,} bytes): {drop.note}")
        requests = crawler_requests(site)
        body = "\n".join(json.dumps(request) for request in requests)
        s3.put_object(Bucket=bucket, Key=REQUESTS_KEY, Body=body.encode())
        print(f"{stamp()} dropped s3://{bucket}/{REQUESTS_KEY}: a crawler's requests, one per line:")
        for request in requests:
            print(f"         {json.dumps(request)}")
        expected = len(DROPS) + len(requests)

        seen: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = _jobs(local, info["jobs_table"])
            for key, job in sorted(jobs.items()):
                line = _line(job)
                if seen.get(key) != line:
                    seen[key] = line
                    print(f"{stamp()} {key:<34} {line}")
            if len(jobs) == expected and all(job["state"] in FINAL for job in jobs.values()):
                break
            time.sleep(0.3)
        else:
            print(f"{stamp()} not every job finished within {timeout:.0f}s", file=sys.stderr)
            return 1

        requested = sorted((job for job in jobs.values() if job.get("line")), key=lambda job: int(job["line"]))
        reports = _reports(local, info, deadline, requested)
        print("\nReports:")
        for drop in DROPS:
            print(f"  s3://{bucket}/{info['results_prefix']}{drop.key}.json")
            print(f"    {_verdict(reports[drop.key])}")
            print(f"    this version's own report: {reports[drop.key].get('report_key')}")
        print(f"  the requests of {REQUESTS_KEY} (summary: {info['results_prefix']}{REQUESTS_KEY}.json):")
        for job in requested:
            print(f"  s3://{bucket}/{job['report_key']}")
            print(f"    line {job['line']}: {_verdict(reports[job['report_key']])}")
        print("\nThe pirated copy's report in full:")
        print(json.dumps(reports[DROPS[0].key], ensure_ascii=False, indent=2))
        blocked = _show_blocks(local, info, reports)
        print(
            f"\n{stamp()} done: {len(DROPS)} videos, {len(requested)} requests, {len(reports)} reports, "
            f"{blocked} pirate sessions blocked"
        )
    return 0


def _reports(
    local: LocalPipelineStack, info: dict[str, Any], deadline: float, requested: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every drop's report (by its key) and every request's (by its report's address); a watermark's report once
    the revoker has written the block into it."""
    s3 = local.client("s3")
    addresses = {drop.key: f"{info['results_prefix']}{drop.key}.json" for drop in DROPS}
    addresses.update({job["report_key"]: job["report_key"] for job in requested})
    while True:
        reports = {}
        for name, key in addresses.items():
            reports[name] = json.loads(s3.get_object(Bucket=info["inbox_bucket"], Key=key)["Body"].read())
        waiting = [r for r in reports.values() if r.get("watermark_found") and not r.get("revocation")]
        if not waiting or time.monotonic() > deadline:
            return reports
        time.sleep(0.3)


def _show_blocks(local: LocalPipelineStack, info: dict[str, Any], reports: dict[str, dict[str, Any]]) -> int:
    """The sessions the notifications blocked: the ledger, the web ACL's rule, and what it does to requests."""
    from antipiracy.domain.waf_rules import read_rule
    from antipiracy.domain.web_acls import parse_arn
    from doverunner_local.waf_evaluator import matches

    acl = parse_arn(str(info["web_acl_arn"]))
    rules = local.waf_client().get_web_acl(Name=acl.name, Id=acl.id, Scope="CLOUDFRONT")["WebACL"]["Rules"]
    ledger = local.client("dynamodb")
    print(f"\nSessions blocked at the CDN (web ACL {acl.name}):")
    blocked = 0
    for key, report in reports.items():
        revocation = report.get("revocation")
        if not revocation:
            continue
        token = revocation["token"]
        item = ledger.get_item(
            TableName=info["revocation_ledger_table"], Key={"token": {"S": token}}, ConsistentRead=True
        ).get("Item", {})
        in_rules = [r["Name"] for r in rules for _, tokens in read_rule(r) if token in tokens]
        blocked += revocation["state"] == "BLOCKED"
        source = (report.get("request") or {}).get("url") or key
        print(f"  {source}: session {report['forensic_mark']['wm_data']}")
        print(f"    token {token} {revocation['state']} by rule {', '.join(in_rules) or '-'}", end="")
        print(f", until {item.get('expires_at', {}).get('S', 'never')}")
        request = f"/drm/{token}.c2Vzc2lvbg/video/segment-1.m4s"
        print(f"    GET {request} -> {'BLOCKED' if matches(rules, {}, request) else 'allowed'}")
    other = "/drm/AAAAAAAAAAAAAAAAAAAAAAAAAAA.c2Vzc2lvbg/video/segment-1.m4s"
    print(f"  any other session: GET {other} -> {'BLOCKED' if matches(rules, {}, other) else 'allowed'}")
    return blocked


def _verdict(report: dict[str, Any]) -> str:
    if report["state"] == "REJECTED":
        return f"REJECTED without a DoveRunner call: {report['reason']}"
    if report["state"] == "CANCELED":
        return f"CANCELED ({report['method']} detection {report['detection_id']}): {report['reason']}"
    status = report["final_status"]
    head = f"{report['state']} ({report['method']} detection {report['detection_id']}, {report['service']})"
    if report["watermark_found"]:
        mark = report["forensic_mark"]
        return f"{head}: watermark found, mark {mark['wm_key']}, session {mark['wm_data']}"
    if report.get("error"):
        error = report["error"]
        return f"{head}: {status['detect_status']} {error['error_code']} {error['description']} {error['solution']}"
    return f"{head}: {status['detect_status']} {status['description']}, no watermark"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step-seconds", type=float, default=0.3, help="local DoveRunner speed per status step")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every job")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("moto").setLevel(logging.ERROR)  # "no CloudFormation support for ...Policy": expected here
    return run(args.step_seconds, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
