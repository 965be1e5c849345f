"""The names of the Lambda environment variables that carry our resources' names (tables, queues,
the bucket, the secret, the event bus). topology.py gives each to its resource; config.py reads them.

Apart from topology.py so that config.py, which every function imports, need not build topology's
dataclasses: about 12 ms of the authorize function's cold start (issue 11, docs/performance.md).
Plain strings, no imports.
"""

from __future__ import annotations

STATE_TABLE = "STATE_TABLE"
LOCATIONS_TABLE = "LOCATIONS_TABLE"
TOKENS_TABLE = "TOKENS_TABLE"
AUTHORIZATIONS_TABLE = "AUTHORIZATIONS_TABLE"
SESSIONS_TABLE = "SESSIONS_TABLE"
CDRS_TABLE = "CDRS_TABLE"
COMMANDS_TABLE = "COMMANDS_TABLE"
CDR_ARCHIVE_BUCKET = "CDR_ARCHIVE_BUCKET"
HUB_CREDENTIALS_SECRET = "HUB_CREDENTIALS_SECRET"
TOKEN_PUSH_QUEUE_URL = "TOKEN_PUSH_QUEUE_URL"
OUTBOX_FAILURES_QUEUE_URL = "OUTBOX_FAILURES_QUEUE_URL"
EVENT_BUS_NAME = "EVENT_BUS_NAME"
# Comma-separated log group names of every function, for the functions that ``reads_logs``.
SUPPORT_LOG_GROUPS = "SUPPORT_LOG_GROUPS"
# The stack's alarms are named by CloudFormation "<stack name>-<logical id>-<suffix>": GET
# /admin/status lists the open ones under this prefix.
ALARM_NAME_PREFIX = "ALARM_NAME_PREFIX"
# Not a resource's name but a switch the sessions' writer reads (cdk.json
# compress_session_documents, infra/config.py): "true" writes session documents compressed.
COMPRESS_SESSION_DOCUMENTS = "COMPRESS_SESSION_DOCUMENTS"
