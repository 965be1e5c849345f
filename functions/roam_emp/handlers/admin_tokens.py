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

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.tokens import TokenService
from ..ocpi.enums import TokenType
from ..ocpi.status import OcpiError, StatusCode
from ..store.authorizations import AuthorizationStore
from ..store.tokens import Selection, StoredToken
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["tokens"]
# An OCPI 2.2.1 Token (mod_tokens), checked against Roam OCPI's rules by domain/tokens.py.
TokenBody = Annotated[dict[str, Any], Body(description="an OCPI 2.2.1 Token object (or its changed fields)")]
Type = Annotated[TokenType, Query(description="token type")]


class TokenWithDecisions(StoredToken):
    recent_authorizations: list[dict[str, Any]]


DEAD_LETTERS_PER_CALL = 100  # moved per admin call (send + delete each: well inside 29 s)
Cursor = Field(default=None, description="from the previous page's answer; absent on the first call")
Limit = Field(default=100, ge=1, le=1000, description="tokens per page")


class FailedToken(BaseModel):
    uid: str
    type: str
    contract_id: str | None
    version: int
    push_error: str | None
    failed_at: str | None
    refused: dict[str, Any] | None


class FailedPage(BaseModel):
    tokens: list[FailedToken]
    cursor: str | None


class PageRequest(BaseModel):
    cursor: str | None = Cursor
    limit: int = Limit


class RedriveRequest(PageRequest):
    dead_letters_only: bool = Field(
        default=False, description="only move the dead-letter queue's next messages (the CLI's follow-ups)"
    )


class ImportLine(BaseModel):
    line: int = Field(description="the line number in the operator's file (named when refused)")
    token: Any = Field(default=None, description="an OCPI 2.2.1 Token, checked as POST /admin/tokens does")


class ImportRequest(BaseModel):
    lines: list[ImportLine] = Field(min_length=1, max_length=500)


service = per_settings(TokenService.from_settings)
decisions = per_settings(lambda config: AuthorizationStore(config.authorizations_table))


@app.get(
    "/admin/tokens",
    summary="FAILED tokens with Plugsurfing's error, a page at a time (roam-emp tokens failed)",
    tags=TAGS,
    responses=answers(FailedPage, "a page of FAILED tokens"),
)
def list_tokens(
    push_state: Annotated[str, Query(pattern="^FAILED$", description="only FAILED is listed")] = "FAILED",
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response[str]:
    found, next_cursor = service().store.scan_page(Selection.FAILED, cursor or None, limit)
    tokens = [
        FailedToken(
            uid=t.token["uid"],
            type=t.token["type"],
            contract_id=t.token.get("contract_id"),
            version=t.version,
            push_error=t.push_error,
            failed_at=t.pushed_at,
            refused=t.refused,
        ).model_dump()
        for t in found
    ]
    return respond(app, {"tokens": tokens, "cursor": next_cursor})


@app.post(
    "/admin/tokens/redrive",
    summary="Queue FAILED tokens again and move the dead-letter queue's messages back (tokens redrive)",
    tags=TAGS,
    responses=answers(dict[str, Any], "what was queued and moved", status=202),
)
def redrive_tokens(options: Annotated[RedriveRequest | None, Body()] = None) -> Response[str]:
    options = options or RedriveRequest()
    if options.dead_letters_only:  # the CLI's follow-up calls while the DLQ has more
        page: dict[str, Any] = {"queued": [], "refused": [], "cursor": None}
    else:
        page = service().sweep(Selection.FAILED, options.cursor or None, options.limit)
    # The dead-letter queue is drained with the first page (its messages name their tokens).
    moved = 0 if options.cursor else service().redrive_dead_letters(DEAD_LETTERS_PER_CALL)
    return respond(
        app,
        {**page, "dead_letters_moved": moved, "dead_letters_more": moved >= DEAD_LETTERS_PER_CALL},
        http_status=202,
    )


@app.post(
    "/admin/tokens/resync",
    summary="Queue every token whose version Plugsurfing accepted last is not ours (tokens resync)",
    tags=TAGS,
    responses=answers(dict[str, Any], "what was queued", status=202),
)
def resync_tokens(options: Annotated[PageRequest | None, Body()] = None) -> Response[str]:
    options = options or PageRequest()
    page = service().sweep(Selection.OUT_OF_SYNC, options.cursor or None, options.limit)
    return respond(app, page, http_status=202)


@app.post(
    "/admin/tokens/import",
    summary="A chunk of a bulk load: each line through POST /admin/tokens' rules (tokens import)",
    tags=TAGS,
    responses=answers(dict[str, Any], "queued lines, and refused ones with their reason", status=202),
)
def import_tokens(request: Annotated[ImportRequest, Body()]) -> Response[str]:
    config = service().config
    result = service().import_lines([(entry.line, entry.token) for entry in request.lines])
    # What the pushes of a bulk load may take per minute: the CLI's ETA is against it.
    bulk = config.hub_requests_per_minute - config.hub_interactive_reserve_per_minute
    return respond(app, {**result, "bulk_requests_per_minute": bulk}, http_status=202)


@app.post(
    "/admin/tokens",
    summary="Create or replace a token; queued for Plugsurfing (202)",
    tags=TAGS,
    responses=answers(StoredToken, "queued", status=202),
)
def create_token(token: TokenBody) -> Response[str]:
    stored = service().submit(token)
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.patch(
    "/admin/tokens/<uid>",
    summary='Change a token (e.g. {"valid": false} to disable); queued for Plugsurfing (202)',
    tags=TAGS,
    responses=answers(StoredToken, "queued", status=202, errors=(400, 404)),
)
def patch_token(uid: str, changes: TokenBody, type: Type = TokenType.RFID) -> Response[str]:
    stored = service().patch(type.value, uid, changes)
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.get(
    "/admin/tokens/<uid>",
    summary="A token with its push state and recent authorization decisions",
    tags=TAGS,
    responses=answers(TokenWithDecisions, "the token", errors=(400, 404)),
)
def get_token(uid: str, type: Type = TokenType.RFID) -> Response[str]:
    stored = service().store.get(type.value, uid)
    if stored is None:
        raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"token {type.value} {uid} is unknown")
    return respond(
        app,
        {**stored.model_dump(mode="json"), "recent_authorizations": decisions().for_token(type.value, uid)},
    )


handler = http_entry(app)
