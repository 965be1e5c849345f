"""Remote commands we sent to Plugsurfing, with what came back (synchronously and later).

Three writers touch a command and none may undo another (mod_commands.asciidoc: the CommandResult
can arrive before the sender has even stored the CPO's CommandResponse):

- the sender creates it, then stores the CommandResponse (``sender_state``, ``response``) with a
  partial update that never touches the result;
- the CPO's CommandResult (our response_url) sets ``result`` unless a CPO result is already there;
  it replaces only a TIMEOUT of our timer (a late result is still the truth);
- the timer (CommandTimeouts) sets a TIMEOUT ``result`` only while there is no result and the due
  time has passed, both checked in the same conditional write.

The state a reader sees is the result's when there is one, else the sender's. While a command waits
for its result it sits in the sparse ``by_due`` index (``due_pk``/``due_key``, fixed-width epoch ms:
ordered as numbers, never as timestamp strings).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..ocpi.timestamps import format_timestamp, utcnow
from . import aws, retention
from .dynamo import is_conditional_failure

PENDING = "PENDING"
CPO, TIMER = "cpo", "timer"


def _key(command_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CMD#{command_id}"}, "sk": {"S": "C"}}


def due_key(epoch_ms: int) -> str:
    return f"{epoch_ms:015d}"


def _json(value: Any) -> dict[str, str]:
    return {"S": json.dumps(value, separators=(",", ":"))}


class CommandStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def create(self, record: dict[str, Any], sender_state: str) -> None:
        aws.dynamodb().put_item(
            TableName=self.table,
            Item={
                **_key(record["command_id"]),
                "doc": _json(record),
                "command": {"S": record["command"]},
                "sender_state": {"S": sender_state},
                retention.TTL_ATTRIBUTE: retention.COMMANDS.expires_at(),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def save_response(
        self,
        command_id: str,
        sender_state: str,
        *,
        response: dict[str, Any] | None = None,
        error: str | None = None,
        due_epoch_ms: int | None = None,
    ) -> None:
        """The sender's part only: a result stored meanwhile stays as it is."""
        names = {"#s": "sender_state"}  # response, like result, is a DynamoDB reserved word
        values: dict[str, Any] = {":s": {"S": sender_state}}
        sets = ["#s = :s"]
        if response is not None:
            sets.append("#resp = :r")
            names["#resp"] = "response"
            values[":r"] = _json(response)
        if error is not None:
            sets.append("sender_error = :e")
            values[":e"] = {"S": error[:1000]}
        if due_epoch_ms is not None:
            # Harmless if the result is already there: the timer's write requires no result, and
            # the timer takes the command out of the index then.
            sets += ["due_pk = :p", "due_key = :d", "result_due_by = :due"]
            values.update(
                {
                    ":p": {"S": PENDING},
                    ":d": {"S": due_key(due_epoch_ms)},
                    ":due": {"S": format_timestamp(_from_ms(due_epoch_ms))},
                }
            )
        aws.dynamodb().update_item(
            TableName=self.table,
            Key=_key(command_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def save_result(self, command_id: str, command: str, result: dict[str, Any]) -> bool | None:
        """The CPO's CommandResult. True: stored; False: a CPO result was already there (a resend:
        nothing changes); None: no such command."""
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=_key(command_id),
                UpdateExpression="SET #r = :r, result_source = :cpo, result_at = :now REMOVE due_pk, due_key",
                ConditionExpression="attribute_exists(pk) AND #c = :c "
                "AND (attribute_not_exists(#r) OR result_source = :timer)",
                ExpressionAttributeNames={"#r": "result", "#c": "command"},
                ExpressionAttributeValues={
                    ":r": _json(result),
                    ":cpo": {"S": CPO},
                    ":timer": {"S": TIMER},
                    ":c": {"S": command},
                    ":now": {"S": format_timestamp(utcnow())},
                },
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            stored = self.get(command_id)
            if stored is None or stored["command"] != command:
                return None
            return False
        return True

    def time_out(self, command_id: str, now_epoch_ms: int) -> bool:
        """The timer: TIMEOUT only if still no result and the due time has passed."""
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=_key(command_id),
                UpdateExpression="SET #r = :r, result_source = :timer, result_at = :now "
                "REMOVE due_pk, due_key",
                ConditionExpression="attribute_not_exists(#r) AND due_key <= :due",
                ExpressionAttributeNames={"#r": "result"},
                ExpressionAttributeValues={
                    ":r": _json({"result": "TIMEOUT"}),
                    ":timer": {"S": TIMER},
                    ":due": {"S": due_key(now_epoch_ms)},
                    ":now": {"S": format_timestamp(utcnow())},
                },
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            self._leave_index(command_id)
            return False
        return True

    def _leave_index(self, command_id: str) -> None:
        """A command that has its result but still sits in the index (the sender's write came
        after the result): take it out."""
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=_key(command_id),
                UpdateExpression="REMOVE due_pk, due_key",
                ConditionExpression="attribute_exists(#r)",
                ExpressionAttributeNames={"#r": "result"},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise

    def overdue(self, now_epoch_ms: int, limit: int = 100) -> list[str]:
        """Commands waiting for a result whose due time has passed (eventually consistent index:
        ``time_out`` checks again on the item itself)."""
        page = aws.dynamodb().query(
            TableName=self.table,
            IndexName="by_due",
            KeyConditionExpression="due_pk = :p AND due_key <= :now",
            ExpressionAttributeValues={":p": {"S": PENDING}, ":now": {"S": due_key(now_epoch_ms)}},
            Limit=limit,
        )
        return [i["pk"]["S"].removeprefix("CMD#") for i in page.get("Items", [])]

    def get(self, command_id: str) -> dict[str, Any] | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(command_id), ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return None
        record: dict[str, Any] = json.loads(item["doc"]["S"])
        record["command"] = item["command"]["S"]
        sender_state = item["sender_state"]["S"]
        record["sender_state"] = sender_state
        for name in ("response", "result"):
            if name in item:
                record[name] = json.loads(item[name]["S"])
        for name in ("sender_error", "result_source", "result_at", "result_due_by"):
            if name in item:
                record[name] = item[name]["S"]
        if "sender_error" in record:
            record["error"] = record["sender_error"]
        record["state"] = record["result"]["result"] if "result" in record else sender_state
        return record


def _from_ms(epoch_ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
