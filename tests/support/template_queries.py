"""Reading resources, functions and their roles' permissions out of a synthesized template."""

from __future__ import annotations

from typing import Any


def resources(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == kind}


def function_id(template_json: dict[str, Any], handler_folder: str) -> str:
    (found,) = [
        k
        for k, v in resources(template_json, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == f"{handler_folder}.handler.lambda_handler"
    ]
    return found


def role_statements(template_json: dict[str, Any], handler_folder: str) -> list[dict[str, Any]]:
    role = template_json["Resources"][function_id(template_json, handler_folder)]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in resources(template_json, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        out.update(action if isinstance(action, list) else [action])
    return out
