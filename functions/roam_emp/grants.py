"""The exact DynamoDB actions (IAM names) each function is granted on each table: what its store
code calls, nothing more (least privilege: CDK's grant_read_write_data would add DeleteItem, Scan,
BatchWriteItem...). Pure data beside topology.py; infra/functions.py grants it, tests/test_infra.py
checks the synthesized template against it."""

from __future__ import annotations

from .topology import (
    AUTHORIZATIONS_TABLE,
    CDRS_TABLE,
    COMMANDS_TABLE,
    LOCATIONS_TABLE,
    SESSIONS_TABLE,
    STATE_TABLE,
    TOKENS_TABLE,
    Access,
    Function,
)

# Transactions need the actions of their parts: TransactWriteItems has no IAM action of its own.
GET_ITEM = "dynamodb:GetItem"
BATCH_GET_ITEM = "dynamodb:BatchGetItem"
QUERY = "dynamodb:Query"
SCAN = "dynamodb:Scan"
PUT_ITEM = "dynamodb:PutItem"
UPDATE_ITEM = "dynamodb:UpdateItem"
DELETE_ITEM = "dynamodb:DeleteItem"
BATCH_WRITE_ITEM = "dynamodb:BatchWriteItem"
READ_ACTIONS = frozenset({GET_ITEM, BATCH_GET_ITEM, QUERY})
# What an Access level grants unless TABLE_ACTIONS names the exact set (below FUNCTIONS).
ACCESS_ACTIONS: dict[Access, frozenset[str]] = {
    Access.READ: READ_ACTIONS,
    Access.WRITE: READ_ACTIONS | {PUT_ITEM, UPDATE_ITEM},
}
# The shared rate limiter's counters in the state table (hub/rate_limit.py), for ``calls_hub``.
RATE_LIMIT_ACTIONS = frozenset({GET_ITEM, UPDATE_ITEM})


# Exact DynamoDB actions by (function, table key), read off each function's store code, where
# its Access level's default (ACCESS_ACTIONS) is not exactly what it calls.
TABLE_ACTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("OcpiVersions", STATE_TABLE.key): frozenset({GET_ITEM}),  # the connection
    ("OcpiCredentials", STATE_TABLE.key): frozenset({GET_ITEM, PUT_ITEM}),  # store/registration.py
    ("AdminRegistration", STATE_TABLE.key): frozenset({GET_ITEM, PUT_ITEM}),
    ("OcpiAuthorize", TOKENS_TABLE.key): frozenset({GET_ITEM}),
    ("OcpiAuthorize", LOCATIONS_TABLE.key): frozenset({GET_ITEM}),  # LocationCache.country_of
    ("OcpiAuthorize", AUTHORIZATIONS_TABLE.key): frozenset({PUT_ITEM}),  # the decision record
    ("OcpiTokens", TOKENS_TABLE.key): frozenset({QUERY, BATCH_GET_ITEM}),  # TokenStore.list_updated
    # conditional, versioned writes; the operator's scans for FAILED and out-of-sync tokens
    ("AdminTokens", TOKENS_TABLE.key): READ_ACTIONS | {UPDATE_ITEM, SCAN},
    ("AdminTokens", AUTHORIZATIONS_TABLE.key): frozenset({QUERY}),
    ("TokenPush", TOKENS_TABLE.key): frozenset({GET_ITEM, UPDATE_ITEM}),
    ("TokenPush", STATE_TABLE.key): frozenset({GET_ITEM}),
    ("OcpiSessions", SESSIONS_TABLE.key): frozenset({GET_ITEM, PUT_ITEM}),
    # The acknowledgement path: the conditional put, and the digest of a resend's first body.
    ("OcpiCdrs", CDRS_TABLE.key): frozenset({GET_ITEM, PUT_ITEM}),
    # The CommandResult: a conditional partial update (store/commands.py), a read on a resend.
    ("OcpiCommands", COMMANDS_TABLE.key): frozenset({GET_ITEM, UPDATE_ITEM}),
    ("AdminCommands", COMMANDS_TABLE.key): frozenset({GET_ITEM, PUT_ITEM, UPDATE_ITEM}),
    ("AdminCommands", TOKENS_TABLE.key): frozenset({GET_ITEM}),
    # START_SESSION checks: LocationCache.get, one Query of the location and its status item
    ("AdminCommands", LOCATIONS_TABLE.key): frozenset({QUERY}),
    ("AdminCommands", STATE_TABLE.key): frozenset({GET_ITEM}),
    # Lease, run and checkpoint (a transaction of Put and Update), seen ids, lease release.
    ("LocationPull", STATE_TABLE.key): READ_ACTIONS | {PUT_ITEM, UPDATE_ITEM, DELETE_ITEM},
    # Changed locations and tariffs in batches, removals, and the scan for cached ids (full pull);
    # a status-only change is one conditional PutItem of the status item (store/locations.py).
    ("LocationPull", LOCATIONS_TABLE.key): READ_ACTIONS | {BATCH_WRITE_ITEM, SCAN, PUT_ITEM},
    # Enrichment after acknowledgement: the facts write-back, a session's CDRs (by_session_id).
    ("OutboxRelay", CDRS_TABLE.key): frozenset({GET_ITEM, QUERY, UPDATE_ITEM}),
    ("OutboxRelay", TOKENS_TABLE.key): READ_ACTIONS,  # token matching: by uid, by contract_id
    ("OutboxRelay", SESSIONS_TABLE.key): frozenset({GET_ITEM}),  # SessionStore.exists
    ("OutboxRelay", LOCATIONS_TABLE.key): frozenset({GET_ITEM}),  # the location's time zone
    ("CommandTimeouts", COMMANDS_TABLE.key): frozenset({QUERY, UPDATE_ITEM}),  # by_due, conditional
    ("AdminCdrs", CDRS_TABLE.key): frozenset({GET_ITEM, PUT_ITEM, QUERY, UPDATE_ITEM}),
    ("AdminCdrs", LOCATIONS_TABLE.key): frozenset({GET_ITEM}),  # LocationCache.time_zone_of
    # GDPR erasure (domain/forget.py, store/privacy.py): tokens found by uid and contract_id and
    # deleted, authorizations by token deleted, the documents holding identifiers scanned and
    # rewritten in place (conditional updates).
    ("AdminPrivacy", TOKENS_TABLE.key): frozenset({GET_ITEM, QUERY, DELETE_ITEM}),
    ("AdminPrivacy", AUTHORIZATIONS_TABLE.key): frozenset({QUERY, DELETE_ITEM}),
    ("AdminPrivacy", SESSIONS_TABLE.key): frozenset({SCAN, UPDATE_ITEM}),
    ("AdminPrivacy", CDRS_TABLE.key): frozenset({SCAN, UPDATE_ITEM}),
    ("AdminPrivacy", COMMANDS_TABLE.key): frozenset({SCAN, UPDATE_ITEM}),
    # GET /admin/status: the connection, the pull run and the sync state (domain/status.py).
    ("AdminSupport", STATE_TABLE.key): frozenset({GET_ITEM}),
}


def table_actions(function: Function) -> dict[str, frozenset[str]]:
    """The DynamoDB actions ``function`` is granted on each table key it uses."""
    granted = {
        key: TABLE_ACTIONS.get((function.name, key), ACCESS_ACTIONS[access])
        for key, access in function.tables.items()
    }
    if function.calls_hub:
        granted[STATE_TABLE.key] = granted.get(STATE_TABLE.key, frozenset()) | RATE_LIMIT_ACTIONS
    return granted
