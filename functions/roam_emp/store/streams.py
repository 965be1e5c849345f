"""DynamoDB Streams records as the stream consumer sees them, from Lambda's event source mapping in
AWS or from the local poller (roam_emp.local.streams). Images stay in DynamoDB's attribute-value
form, the form every store module already reads from GetItem."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]


@dataclass(frozen=True)
class Change:
    table: str  # the table's name, from the record's eventSourceARN
    event_name: str  # INSERT | MODIFY | REMOVE
    keys: Item
    old: Item | None
    new: Item | None
    sequence_number: str

    @property
    def image(self) -> Item:
        """The item as it is now (or as it was, for a REMOVE)."""
        return self.new or self.old or self.keys

    def pk(self) -> str:
        return str(self.keys["pk"]["S"])

    def sk(self) -> str:
        return str(self.keys.get("sk", {}).get("S", ""))


def table_of(event_source_arn: str) -> str:
    """``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`` -> NAME."""
    return event_source_arn.split(":table/", 1)[1].split("/", 1)[0]


def change_from_record(record: dict[str, Any]) -> Change:
    body = record["dynamodb"]
    return Change(
        table=table_of(record["eventSourceARN"]),
        event_name=record["eventName"],
        keys=body.get("Keys") or {},
        old=body.get("OldImage"),
        new=body.get("NewImage"),
        sequence_number=str(body["SequenceNumber"]),
    )


def blob(attribute: Item) -> bytes:
    """A B attribute: bytes from boto3, base64 text in a Lambda event's JSON."""
    value = attribute["B"]
    if isinstance(value, str):
        return base64.b64decode(value)
    return bytes(value.value if hasattr(value, "value") else value)


def text(item: Item | None, name: str) -> str | None:
    if not item or name not in item:
        return None
    return str(item[name].get("S", item[name].get("N")))


def number(item: Item | None, name: str) -> int:
    if not item or name not in item:
        return 0
    return int(item[name]["N"])
