"""Many revokers at once, as Lambda runs them: the real WAF engine on one web ACL, one ledger, one DoveRunner."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from atomic_waf import AtomicWaf
from aws_clients import unique_name
from lambda_events import watermark_found
from tables import create_jobs_table, create_ledger_table
from web_acls import WebAcl

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.ledger_table import LedgerTable
from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.notifications import parse_message
from antipiracy.domain.waf_rules import LockContention, url_safe
from antipiracy.services.revoke import Revoker
from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner

MAX_RECEIVE_COUNT = 5  # the stack's default


def test_fifty_concurrent_revocations_block_all_fifty_tokens_and_lose_none(
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    web_acl: WebAcl,
    local_doverunner: LocalDoveRunner,
    make_client: Callable[..., DoveRunnerClient],
    ended_detection: Callable[..., int],
) -> None:
    # given 50 leaking sessions, one web ACL, one ledger, and 50 revokers (one per Lambda instance) started at once
    name = unique_name("c")
    dynamodb = aws_resource("dynamodb")
    ledger_table = create_ledger_table(dynamodb, f"{name}-ledger")
    jobs = JobsTable(create_jobs_table(dynamodb, f"{name}-jobs"))
    raw_waf = aws_client("wafv2")
    waf = AtomicWaf(raw_waf)
    target = web_acl.target
    sessions = [local_doverunner.emulator.add_session(f"{i:016x}", f"session_id=leak-{i}") for i in range(0xC00, 0xC32)]
    detections = [ended_detection(mark=session.forensic_mark) for session in sessions]
    start = threading.Barrier(len(sessions))
    actions: dict[str, str] = {}
    errors: list[BaseException] = []

    def lambda_instance(index: int) -> None:
        client = make_client()
        engine = SessionBlocker(waf, target, rng=random.Random(index), backoff_base=0.002, backoff_cap=0.05)
        revoker = Revoker(
            ledger=LedgerTable(aws_resource("dynamodb").Table(ledger_table.name)),
            client_factory=lambda: client,
            blocker=engine,
            site_id=client.config.site_id,
            jobs=jobs,
            block_seconds=3600,
        )
        session = sessions[index]
        message = watermark_found(detections[index], session.revoke_token, session.forensic_mark)
        start.wait()
        # As the queue does: a message whose handling failed (the lock contended past the engine's attempts) is
        # delivered again, up to maxReceiveCount times.
        for receive in range(1, MAX_RECEIVE_COUNT + 1):
            try:
                actions[session.revoke_token] = revoker.handle(parse_message(message), message).action
                return
            except LockContention as exc:
                if receive == MAX_RECEIVE_COUNT:
                    errors.append(exc)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    # when each handles its notification
    threads = [threading.Thread(target=lambda_instance, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then all 50 are blocked in WAF and in the ledger, after real lock conflicts
    tokens = {url_safe(s.revoke_token) for s in sessions}
    assert errors == []
    assert set(actions.values()) == {"blocked"}
    assert SessionBlocker(raw_waf, target).blocked() == tokens
    ledger = LedgerTable(ledger_table)
    assert {t for t in tokens if (ledger.get(t) or {}).get("state") == "BLOCKED"} == tokens
    assert waf.conflicts > 0
