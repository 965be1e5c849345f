"""Admin API for tokens: POST /admin/tokens (create or replace), PATCH /admin/tokens/{uid}?type=
(partial update, e.g. {"valid": false} to disable), GET /admin/tokens/{uid}?type= (with push state
and recent authorization decisions). Changes answer 202 once durably queued.

Operations (issue 12, docs/tokens.md), each one page per call so it fits API Gateway's 29 s; the
CLI follows ``cursor`` until it is null:
- GET /admin/tokens?push_state=FAILED: FAILED tokens with Plugsurfing's error (``tokens failed``);
- POST /admin/tokens/redrive: FAILED tokens queued again, and the dead-letter queue's messages
  moved back onto the queue (``tokens redrive``);
- POST /admin/tokens/resync: every token whose version Plugsurfing accepted last is not ours,
  queued (``tokens resync``);
- POST /admin/tokens/import: a chunk of a bulk load, each line through the same rules as POST
  /admin/tokens; refused lines come back with their number and reason (``tokens import``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.tokens import TokenService
from ..ocpi.status import OcpiError, StatusCode
from ..store.authorizations import AuthorizationStore
from ..store.tokens import Selection
from ._runtime import http_entry

app = create_resolver()
DEAD_LETTERS_PER_CALL = 100  # moved per admin call (send + delete each: well inside 29 s)
service = per_settings(TokenService.from_settings)
decisions = per_settings(lambda config: AuthorizationStore(config.authorizations_table))


def _object() -> dict[str, Any]:
    body = json_body(app)
    if not isinstance(body, dict):
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a JSON object")
    return body


def _type() -> str:
    return (app.current_event.query_string_parameters or {}).get("type", "RFID")


def _page_size(raw: Any, default: int = 100) -> int:
    try:
        size = int(raw if raw is not None else default)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= 1000:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "limit must be 1..1000")
    return size


def _options() -> dict[str, Any]:
    """An optional JSON object body (the operations take ``cursor`` and ``limit``)."""
    return _object() if (app.current_event.body or "").strip() else {}


def _cursor(raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "cursor must be a string")
    return raw or None


@app.get("/admin/tokens")
def list_tokens() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    if query.get("push_state", "FAILED") != "FAILED":
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "push_state: only FAILED is listed")
    found, cursor = service().store.scan_page(
        Selection.FAILED, _cursor(query.get("cursor")), _page_size(query.get("limit"))
    )
    tokens = [
        {
            "uid": t.token["uid"],
            "type": t.token["type"],
            "contract_id": t.token.get("contract_id"),
            "version": t.version,
            "push_error": t.push_error,
            "failed_at": t.pushed_at,
            "refused": t.refused,
        }
        for t in found
    ]
    return respond(app, {"tokens": tokens, "cursor": cursor})


@app.post("/admin/tokens/redrive")
def redrive_tokens() -> Response[str]:
    options = _options()
    if options.get("dead_letters_only"):  # the CLI's follow-up calls while the DLQ has more
        page: dict[str, Any] = {"queued": [], "refused": [], "cursor": None}
    else:
        page = service().sweep(
            Selection.FAILED, _cursor(options.get("cursor")), _page_size(options.get("limit"))
        )
    # The dead-letter queue is drained with the first page (its messages name their tokens).
    moved = 0 if options.get("cursor") else service().redrive_dead_letters(DEAD_LETTERS_PER_CALL)
    return respond(
        app,
        {**page, "dead_letters_moved": moved, "dead_letters_more": moved >= DEAD_LETTERS_PER_CALL},
        http_status=202,
    )


@app.post("/admin/tokens/resync")
def resync_tokens() -> Response[str]:
    options = _options()
    page = service().sweep(
        Selection.OUT_OF_SYNC, _cursor(options.get("cursor")), _page_size(options.get("limit"))
    )
    return respond(app, page, http_status=202)


@app.post("/admin/tokens/import")
def import_tokens() -> Response[str]:
    body = _object()
    lines = body.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= 500:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "lines must be a list of 1..500 {line, token} objects"
        )
    chunk: list[tuple[int, Any]] = []
    for entry in lines:
        if not isinstance(entry, dict) or not isinstance(entry.get("line"), int):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "each of lines needs a line number")
        chunk.append((entry["line"], entry.get("token")))
    config = service().config
    result = service().import_lines(chunk)
    # What the pushes of a bulk load may take per minute: the CLI's ETA is against it.
    bulk = config.hub_requests_per_minute - config.hub_interactive_reserve_per_minute
    return respond(app, {**result, "bulk_requests_per_minute": bulk}, http_status=202)


@app.post("/admin/tokens")
def create_token() -> Response[str]:
    stored = service().submit(_object())
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.patch("/admin/tokens/<uid>")
def patch_token(uid: str) -> Response[str]:
    stored = service().patch(_type(), uid, _object())
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.get("/admin/tokens/<uid>")
def get_token(uid: str) -> Response[str]:
    stored = service().store.get(_type(), uid)
    if stored is None:
        raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"token {_type()} {uid} is unknown")
    return respond(
        app, {**stored.model_dump(mode="json"), "recent_authorizations": decisions().for_token(_type(), uid)}
    )


handler = http_entry(app)
