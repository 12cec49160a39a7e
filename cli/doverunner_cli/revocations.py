"""`doverunner revocations list|block|unblock`: the revocation ledger and the web ACL of a deployed stack (or of
the local one, with AWS_ENDPOINT_URL), found through the stack's outputs."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import boto3

from antipiracy.adapters.ledger_table import LedgerTable
from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.waf_rules import WafTarget
from antipiracy.domain.web_acls import WAF_REGION, parse_arn
from antipiracy.services.revoke import Revoker
from doverunner_cli.stack_outputs import StackError, stack_outputs

log = logging.getLogger("doverunner_cli.revocations")


def _outputs(stack: str) -> dict[str, str]:
    outputs = stack_outputs(stack)
    missing = [name for name in ("RevocationLedgerTableName", "WebAclArn") if name not in outputs]
    if missing:
        raise StackError(f"the stack {stack!r} has no {', '.join(missing)} output: is revocation deployed?")
    return outputs


def _revoker(stack: str, expires_in: int) -> tuple[Revoker, LedgerTable, SessionBlocker]:
    outputs = _outputs(stack)
    acl = parse_arn(outputs["WebAclArn"])
    blocker = SessionBlocker(
        boto3.client("wafv2", region_name=WAF_REGION), WafTarget(web_acl_name=acl.name, web_acl_id=acl.id)
    )
    ledger = LedgerTable(boto3.resource("dynamodb").Table(outputs["RevocationLedgerTableName"]))

    def no_client() -> Any:
        raise RuntimeError("operator blocks are not verified with DoveRunner")

    revoker = Revoker(
        ledger=ledger,
        client_factory=no_client,
        blocker=blocker,
        block_seconds=expires_in,
    )
    return revoker, ledger, blocker


def run(args: argparse.Namespace) -> Any:
    revoker, ledger, blocker = _revoker(args.stack, getattr(args, "expires_in", 0))
    if args.revocations_action == "list":
        items = ledger.all()
        if args.state:
            items = [item for item in items if item.get("state") == args.state]
        return {"total_count": len(items), "blocked_in_waf": len(blocker.blocked()), "revocations": items}
    if args.revocations_action == "block":
        return revoker.block_manually(args.token, args.reason).as_dict()
    return {"unblocked": revoker.unblock([args.token])}
