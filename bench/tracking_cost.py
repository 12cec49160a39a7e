"""What tracking one detection costs (`make bench-tracking`): the state machine as synthesized, walked state by state
for detections of 10 minutes, 2 hours, 24 hours and 7 days, with DoveRunner's notification and without, beside a
fixed 300 s poller (Wait 300 s, Check, Choice) walked the same way.

    .venv/bin/python bench/tracking_cost.py [--context '{"doverunner:maxWaitSeconds": 900}']

1. `python app.py` synthesizes the app with cdk.json's context (and `--context` on top); the tracking state
   machine's definition is read from the template (its ARNs resolved to their logical IDs).
2. A walker enters its states as Step Functions would: Task, Choice (BooleanEquals, IsPresent, And, Or, Not), Wait,
   Pass, Succeed, Fail, Catch of States.Timeout; a waitForTaskToken task ends when its function or a notification
   sends task success, or at its time-out. The Check task runs the real logic (`services/track.check_and_wait`,
   or `services/track.check` for the fixed poller's plain task) against in-memory jobs and a DoveRunner whose
   detection ends at the scenario's time, on a simulated clock from its submission (the execution starting 5 s
   later). A notification arrives 2 s after the detection ends and goes through the real waker
   (`services/wake.Waker`), which ends a kept wait with its result.
3. Counted per detection: state transitions (states entered), Lambda invocations, DynamoDB writes (each write call
   the functions make on the jobs table, counted as they run; the report step's writes included). Dollars per 1,000
   detections at us-east-1 list prices (2026): $0.025 per 1,000 transitions; Lambda $0.20 per million requests
   plus 100 ms of arm64 compute at the function's memory ($0.0000133334 per GB-s); DynamoDB on-demand $0.625 per
   million write units, one unit per KiB of the job item as the Check leaves it.

It measures the design's counts, not AWS's clock: the Retry of a failed task is not walked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the functions' logs are not the table
sys.path[:0] = [str(ROOT / "tests" / "support")]

from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs  # noqa: E402

from antipiracy.config import PipelineConfig  # noqa: E402
from antipiracy.domain.jobs import JobState, dr_title, now_iso  # noqa: E402
from antipiracy.domain.schedule import WOKEN  # noqa: E402
from antipiracy.services.track import check, check_and_wait  # noqa: E402
from antipiracy.services.wake import Waker  # noqa: E402
from doverunner_local.stack import synthesize  # noqa: E402

TRANSITION_USD = 0.025 / 1000
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_GB_SECOND_USD = 0.0000133334
BILLED_SECONDS = 0.1
WRITE_UNIT_USD = 0.625 / 1_000_000
NOTIFICATION_DELAY = 2.0
# The execution starts a moment after DoveRunner took the detection (the submit function's own end): the safety
# net's polls then do not land on the hour a detection ends at, which would hide what the notification does.
TRACKING_STARTS_AFTER = 5.0
DURATIONS = {"10 min": 600, "2 h": 7200, "24 h": 86400, "7 days": 7 * 86400}
WRITES = frozenset({"create", "update", "begin_check", "keep_wake_token", "request_wake"})


class CountingJobs:
    """The in-memory jobs table, counting the calls that write."""

    def __init__(self, jobs: MemoryJobs) -> None:
        self._jobs = jobs
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._jobs, name)
        if name in WRITES:
            self.writes += 1
        return attribute


# ---- the definition ---------------------------------------------------------------------------------------------


def _resolve(part: Any) -> str:
    if isinstance(part, str):
        return part
    if "Fn::GetAtt" in part:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{part['Fn::GetAtt'][0]}"
    if part.get("Ref") == "AWS::Partition":
        return "aws"
    return "<" + json.dumps(part).replace('"', "'") + ">"  # inside a JSON string: no double quotes


def synthesized(context: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int], PipelineConfig]:
    """The tracking state machine's definition, each function's memory (MB) by logical ID, and the settings the
    tracker function reads from its environment as synthesized (a reference to a resource given a stand-in)."""
    with tempfile.TemporaryDirectory(prefix="tracking-cost-") as folder:
        synthesize(Path(folder), context)
        template = json.loads((Path(folder) / "DoveRunnerDetection.template.json").read_text())
    resources = template["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = machine["Properties"]["DefinitionString"]
    text = "".join(_resolve(p) for p in definition["Fn::Join"][1]) if isinstance(definition, dict) else definition
    memory = {
        name: int(r["Properties"].get("MemorySize", 128))
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    (tracker,) = [
        r
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and name.startswith("TrackingTracker")
    ]
    environment = {
        name: value if isinstance(value, str) else "stand-in"
        for name, value in tracker["Properties"]["Environment"]["Variables"].items()
    }
    return json.loads(text), memory, PipelineConfig.from_env(environment)


def fixed_poller(check_resource: str) -> dict[str, Any]:
    """Wait 300 s, Check, Choice: the plain poller the issue compares against."""
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 300, "Next": "CheckDetection"},
            "CheckDetection": {"Type": "Task", "Resource": check_resource, "ResultPath": "$.check", "Next": "Ended"},
            "Ended": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.check.terminal", "BooleanEquals": True, "Next": "Done"},
                    {"Variable": "$.check.timed_out", "BooleanEquals": True, "Next": "Done"},
                ],
                "Default": "Wait",
            },
            "Done": {"Type": "Succeed"},
        },
    }


# ---- the walk ---------------------------------------------------------------------------------------------------


def _get(data: Any, path: str) -> Any:
    if path == "$":
        return data
    for part in path.removeprefix("$.").split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _put(data: dict[str, Any], path: str | None, value: Any) -> dict[str, Any]:
    if path is None:
        return data
    if path == "$":
        return dict(value)
    out: dict[str, Any] = json.loads(json.dumps(data))
    target = out
    parts = path.removeprefix("$.").split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return out


def _choose(rule: dict[str, Any], data: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_choose(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_choose(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _choose(rule["Not"], data)
    if "BooleanEquals" in rule:
        return _get(data, rule["Variable"]) is rule["BooleanEquals"]
    if "IsPresent" in rule:
        return (_get(data, rule["Variable"]) is not None) is rule["IsPresent"]
    raise NotImplementedError(f"a Choice rule the walker does not know: {sorted(rule)}")


@dataclass
class Tally:
    transitions: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    item_bytes: int = 0
    seconds: float = 0.0
    ended: str = ""


@dataclass
class Detection:
    """One job tracked on a simulated clock: its DoveRunner detection ends at `ends_after` seconds."""

    ends_after: float
    notified: bool
    config: PipelineConfig
    memory: dict[str, int]
    clock: float = TRACKING_STARTS_AFTER
    start: datetime = datetime(2026, 12, 1, tzinfo=UTC)
    tally: Tally = field(default_factory=Tally)
    notification_sent: bool = False
    tokens: int = 0

    def __post_init__(self) -> None:
        self.memory_jobs = MemoryJobs()
        self.jobs = CountingJobs(self.memory_jobs)
        self.doverunner = FakeDoveRunner()
        self.executions = MemoryExecutions()
        self.job_id = "job-" + "0" * 40
        self.memory_jobs.create({"job_id": self.job_id, "bucket": "inbox", "key": "inbox/movie.mp4", "size": 2048,
                                 "title": "movie.mp4", "dr_title": dr_title("movie.mp4", self.job_id),
                                 "service": "PD002", "method": "upload", "extension": "mp4"})  # fmt: skip
        self.detection_id = self.doverunner.add(self.memory_jobs.require(self.job_id)["dr_title"], status="FD003")
        tracked = {"state": JobState.TRACKING.value, "uploads": 1, "detection_id": self.detection_id}
        self.memory_jobs.update(self.job_id, {**tracked, "submitted_at": now_iso(self.start)})

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.clock)

    def _settle(self) -> None:
        if self.clock >= self.ends_after:
            self.doverunner.set_status(self.detection_id, "FD004", "FD400", wm_key="0000000000000001")

    def invoke(self, function: str, payload: dict[str, Any]) -> Any:
        self.tally.invocations[function] += 1
        self._settle()
        if "Tracker" in function:
            if "task_token" in payload:
                result = check_and_wait(self.job_id, payload["task_token"], jobs=self.jobs, client=self.doverunner,
                                        executions=self.executions, config=self.config, now=self.now())  # fmt: skip
            else:
                result = check(self.job_id, payload.get("check") or {}, jobs=self.jobs, client=self.doverunner,
                               config=self.config, now=self.now())  # fmt: skip
            self.tally.item_bytes = max(
                self.tally.item_bytes, len(json.dumps(self.memory_jobs.require(self.job_id), default=str))
            )
            return result
        if "Reporter" in function:
            self.jobs.update(self.job_id, {"state": "COMPLETED"})  # the report step's own write of the final state
            return {}
        raise NotImplementedError(function)

    def _notify_within(self, seconds: float) -> bool:
        """Delivers the notification through the waker when it is due within the next `seconds`; True if it was."""
        notify_at = self.ends_after + NOTIFICATION_DELAY
        if not self.notified or self.notification_sent or not self.clock <= notify_at < self.clock + seconds:
            return False
        self.clock = notify_at
        self._settle()
        self.notification_sent = True
        Waker(self.jobs, self.executions).wake(self.job_id)
        return True

    def pass_time(self, seconds: float) -> None:
        """A plain Wait: a notification meanwhile only marks the job (no wait to end)."""
        end = self.clock + seconds
        self._notify_within(seconds)
        self.clock = end

    def wait_for_token(self, token: str, timeout: float) -> dict[str, Any] | None:
        """A waitForTaskToken wait from now: its output when a notification ended it, None at its time-out."""
        end = self.clock + timeout
        if self._notify_within(timeout) and (token, self.job_id) in self.executions.woken:
            return dict(WOKEN)  # what the waker's adapter sends as the task's output
        self.clock = end
        return None


def walk(definition: dict[str, Any], detection: Detection, limit: int = 100_000) -> Tally:
    states = definition["States"]
    name: str | None = definition["StartAt"]
    data: dict[str, Any] = {"job_id": detection.job_id}
    tally = detection.tally
    while name is not None and tally.transitions < limit:
        state = states[name]
        tally.transitions += 1
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            tally.ended = name
            break
        if kind == "Choice":
            name = next((c["Next"] for c in state["Choices"] if _choose(c, data)), state.get("Default"))
            continue
        if kind == "Wait":
            detection.pass_time(float(state.get("Seconds") or _get(data, state.get("SecondsPath", "$.none"))))
            name = state["Next"]
            continue
        if kind == "Pass":
            name = state.get("Next")
            continue
        resource = state["Resource"]
        function = (state.get("Parameters") or {}).get("FunctionName", resource)
        if ":function:" not in function:
            name = state.get("Next")  # SQS, S3: a transition, no function
            continue
        detection.tokens += 1
        token = f"token-{detection.tokens}"
        parameters = (state.get("Parameters") or {}).get("Payload")
        payload = data if parameters is None else {
            key.removesuffix(".$"): (token if value == "$$.Task.Token" else _get(data, value))
            if key.endswith(".$") else value
            for key, value in parameters.items()
        }  # fmt: skip
        result = detection.invoke(function, payload)
        if resource.endswith(".waitForTaskToken"):
            output = detection.executions.completed.get(token) or detection.wait_for_token(
                token, float(state.get("TimeoutSeconds") or _get(data, state.get("TimeoutSecondsPath", "$.none")))
            )
            if output is None:
                catch = next(c for c in state["Catch"] if "States.Timeout" in c["ErrorEquals"])
                data = _put(data, catch.get("ResultPath", "$"), {"Error": "States.Timeout"})
                name = catch["Next"]
                continue
            result = output
        data = _put(data, state.get("ResultPath", "$"), result)
        name = state.get("Next")
    tally.writes = detection.jobs.writes
    tally.seconds = detection.clock
    return tally


def dollars(tally: Tally, memory: dict[str, int]) -> float:
    compute = sum(n * BILLED_SECONDS * _memory_of(f, memory) / 1024 for f, n in tally.invocations.items())
    units = tally.writes * max(1, math.ceil(tally.item_bytes / 1024))
    return (
        tally.transitions * TRANSITION_USD
        + sum(tally.invocations.values()) * LAMBDA_REQUEST_USD
        + compute * LAMBDA_GB_SECOND_USD
        + units * WRITE_UNIT_USD
    )


def _memory_of(function: str, memory: dict[str, int]) -> int:
    name = function.rsplit(":", 1)[-1]
    return memory.get(name, 128)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", default="{}", help="JSON context on top of cdk.json's")
    args = parser.parse_args()
    context = json.loads(args.context)
    machines: dict[str, tuple[dict[str, Any], dict[str, int], PipelineConfig]] = {}
    for registered in (True, False):
        label = "notifications registered" if registered else "not registered"
        machines[label] = synthesized({**context, "doverunner:notificationsRegistered": registered})
    definition, memory, config = machines["not registered"]
    tracker = next(
        function
        for s in definition["States"].values()
        if "Tracker" in (function := (s.get("Parameters") or {}).get("FunctionName", s.get("Resource", "")))
    )
    machines["fixed 300 s poller"] = (fixed_poller(tracker), memory, config)
    print(f"python {sys.version.split()[0]}; waits {config.initial_wait_seconds} s growing x{config.wait_growth} "
          f"to {config.max_wait_seconds} s; with notifications registered the safety net polls a known detection "
          f"every {machines['notifications registered'][2].poll_seconds} s; tracking at most "
          f"{config.max_tracking_seconds} s\n")  # fmt: skip
    print("| machine | detection | notification | transitions | Lambda invocations | DynamoDB writes | "
          "result after s | ended | $ per 1,000 |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    for machine, (walked, memory, config) in machines.items():
        for label, seconds in DURATIONS.items():
            for notified in (True, False):
                if machine == "fixed 300 s poller" and notified:
                    continue  # the fixed poller has no way to be woken
                detection = Detection(seconds, notified, config, memory)
                tally = walk(walked, detection)
                lag = tally.seconds - seconds
                print(
                    f"| {machine} | {label} | {'yes' if notified else 'no'} | {tally.transitions} | "
                    f"{sum(tally.invocations.values())} | {tally.writes} | {lag:+.0f} | {tally.ended} | "
                    f"{dollars(tally, memory) * 1000:.2f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
