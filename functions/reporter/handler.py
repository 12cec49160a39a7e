"""The state machine's last step: the report next to the input, the job's final state, the result event; and the
fallback report when that step failed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.events import step_input
from antipiracy.observability import logger, metrics, tracer
from antipiracy.services.report import finish, finish_after_failure


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id, check = step_input(event, "Report")
    logger.append_keys(job_id=job_id)
    jobs, reports, results = wiring.jobs(), wiring.reports(), wiring.results_topic()
    report_error = event.get("report_error")
    if isinstance(report_error, dict):
        # The report step itself failed: the fallback report.
        return finish_after_failure(job_id, report_error, jobs=jobs, reports=reports, results=results)
    error = event.get("error") if isinstance(event.get("error"), dict) else None
    outcome = "error" if error else ("timed_out" if check.get("timed_out") else "terminal")
    reason = str(check.get("reason") or "")
    return finish(job_id, outcome, jobs=jobs, reports=reports, results=results, reason=reason, error=error)
