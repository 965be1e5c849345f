"""A support bundle: exactly the fields Plugsurfing's support asks for (FAQ "What information should
partners include when raising support issues?"), gathered from our own store and our CloudWatch
logs (the calls: URL, method, HTTP and OCPI status, request and correlation ids), ready to paste."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..ocpi.timestamps import format_timestamp, parse_timestamp, utcnow
from ..store.authorizations import AuthorizationStore
from ..store.cdrs import CdrStore
from ..store.locations import LocationCache
from ..store.logs import LogSearch
from ..store.sessions import SessionStore
from ..store.tokens import TokenStore


@dataclass
class SupportBundle:
    config: Settings
    sessions: SessionStore
    cdrs: CdrStore
    tokens: TokenStore
    authorizations: AuthorizationStore
    locations: LocationCache
    logs: LogSearch

    @classmethod
    def from_settings(cls, config: Settings) -> SupportBundle:
        return cls(
            config,
            SessionStore(config.sessions_table),
            CdrStore(config.cdrs_table, config.cdr_archive_bucket),
            TokenStore(config.tokens_table),
            AuthorizationStore(config.authorizations_table),
            LocationCache(config.locations_table),
            LogSearch(config.support_log_groups),
        )

    def collect(
        self,
        *,
        session_id: str | None = None,
        cdr_id: str | None = None,
        token_uid: str | None = None,
        token_type: str = "RFID",  # noqa: S107 - an OCPI TokenType, not a secret
        logs: bool = True,
        hours: int | None = None,
    ) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "environment": self.config.environment,
            "timestamp": format_timestamp(utcnow()),
            "emsp": f"{self.config.country_code}*{self.config.party_id}",
        }
        cdr = self.cdrs.get(cdr_id) if cdr_id else None
        if cdr is None and session_id:
            cdr = self.cdrs.for_session(session_id) or self.cdrs.get(session_id)
        session_id = session_id or (cdr["cdr"].get("session_id") if cdr else None) or cdr_id
        found_session = self.sessions.find(session_id) if session_id else None
        source: dict[str, Any] | None = None
        if found_session:
            source = found_session["session"]
            facts["x_original_protocol"] = found_session["x_original_protocol"]
            facts.update(
                session_id=source["id"],
                session_status=source.get("status"),
                kwh=source.get("kwh"),
                start_date_time=source.get("start_date_time"),
                end_date_time=source.get("end_date_time"),
                authorization_reference=source.get("authorization_reference"),
            )
        if cdr:
            record = cdr["cdr"]
            # None until the enrichment after acknowledgement has run (seconds, normally)
            enriched = cdr["facts"] or {}
            facts.update(
                cdr_id=record["id"],
                cdr_received_at=cdr["received_at"],
                cdr_total_cost=record.get("total_cost"),
                cdr_enrichment="done" if cdr["facts"] is not None else "pending",
                cdr_cost_check=enriched.get("cost_check"),
                cdr_token_match=enriched.get("token_match"),
                cdr_archive_key=cdr["archive_key"],
            )
            facts.setdefault("x_original_protocol", cdr["x_original_protocol"])
            source = source or {
                **record,
                "location_id": record["cdr_location"]["id"],
                "evse_uid": record["cdr_location"]["evse_uid"],
            }
            facts["evse_id"] = record["cdr_location"].get("evse_id")
        if source:
            token = source.get("cdr_token", {})
            token_uid, token_type = token_uid or token.get("uid"), token.get("type", token_type)
            facts.update(
                cpo=f"{source.get('country_code')}*{source.get('party_id')}",
                location_id=source.get("location_id"),
                evse_uid=source.get("evse_uid"),
                connector_id=source.get("connector_id"),
                contract_id=token.get("contract_id"),
            )
            location = self.locations.get(source["location_id"]) if source.get("location_id") else None
            if location:
                facts["operator"] = (location.get("operator") or {}).get("name")
                evse: dict[str, Any] = next(
                    (e for e in location.get("evses", []) if e.get("uid") == source.get("evse_uid")), {}
                )
                facts.setdefault("evse_id", evse.get("evse_id"))
        if token_uid:
            stored = self.tokens.get(token_type, token_uid, consistent=False)
            facts.update(token_uid=token_uid, token_type=token_type)
            if stored:
                facts.update(
                    contract_id=facts.get("contract_id") or stored.token.get("contract_id"),
                    token_push_state=stored.push_state.value,
                    token_push_error=stored.push_error,
                    token_valid=stored.token.get("valid"),
                    token_whitelist=stored.token.get("whitelist"),
                )
            facts["recent_authorizations"] = self.authorizations.for_token(token_type, token_uid, limit=5)
            facts["recent_sessions"] = self.sessions.for_token(token_type, token_uid, limit=5)
        if logs:
            self._add_calls(facts, asked_for_token=not (session_id or cdr_id), hours=hours)
        return {k: v for k, v in facts.items() if v not in (None, [], {})}

    def _add_calls(self, facts: dict[str, Any], *, asked_for_token: bool, hours: int | None) -> None:
        """The calls about this session/CDR (or token) from our logs, newest first."""
        keys = ("token_uid",) if asked_for_token else ("session_id", "cdr_id")
        identifiers = {k: str(facts[k]) for k in keys if facts.get(k)}
        if not identifiers:
            return
        until = utcnow()
        since = until - timedelta(hours=hours or self.config.support_log_hours)
        started = _earliest(facts.get("start_date_time"), facts.get("cdr_received_at"))
        if hours is None and started is not None:
            since = min(since, started - timedelta(hours=1))  # the whole session, however old
        findings = self.logs.find(identifiers, since, until)
        facts["calls"] = findings.lines
        facts["log_search"] = {
            "status": findings.status,
            "query_id": findings.query_id,
            "from": format_timestamp(since),
            "to": format_timestamp(until),
            "log_groups": len(self.logs.log_groups),
        }


def _earliest(*stamps: Any) -> datetime | None:
    parsed = []
    for stamp in stamps:
        try:
            parsed.append(parse_timestamp(str(stamp)))
        except ValueError:
            continue
    return min(parsed, default=None)


FIELD_ORDER = (
    "environment",
    "timestamp",
    "emsp",
    "token_uid",
    "token_type",
    "contract_id",
    "cpo",
    "operator",
    "location_id",
    "evse_uid",
    "evse_id",
    "connector_id",
    "session_id",
    "session_status",
    "kwh",
    "start_date_time",
    "end_date_time",
    "authorization_reference",
    "x_original_protocol",
    "cdr_id",
    "cdr_received_at",
    "cdr_total_cost",
    "cdr_cost_check",
    "cdr_token_match",
    "token_push_state",
    "token_push_error",
    "token_valid",
    "token_whitelist",
)


def render_text(bundle: dict[str, Any]) -> str:
    """The text to paste into a Plugsurfing support ticket."""
    lines = ["Roam OCPI support request (generated by roam-emp support-bundle)"]
    for key in FIELD_ORDER:
        if key in bundle:
            lines.append(f"{key.replace('_', ' ').capitalize()}: {bundle[key]}")
    for decision in bundle.get("recent_authorizations", []):
        lines.append(
            f"Authorization {decision['decided_at']}: {decision['allowed']} at "
            f"{decision.get('location_id')} ({decision['reason']}), reference "
            f"{decision['authorization_reference']}"
        )
    for session in bundle.get("recent_sessions", []):
        lines.append(
            f"Session {session['session_id']}: {session['status']} (last updated {session['last_updated']})"
        )
    calls = bundle.get("calls", [])
    search = bundle.get("log_search")
    if search:
        lines.append(
            f"Calls from our logs ({search['from']} to {search['to']}, {len(calls)} line(s), "
            f"search {search['status']}):"
        )
    for call in calls[:CALLS_IN_TEXT]:
        lines.append("  " + describe_call(call))
    if len(calls) > CALLS_IN_TEXT:
        lines.append(f"  ... {len(calls) - CALLS_IN_TEXT} more in the JSON bundle")
    return "\n".join(lines)


CALLS_IN_TEXT = 25


def describe_call(line: dict[str, Any]) -> str:
    """One log line as a support ticket wants it: when, which call, what status, which ids."""
    if line.get("url"):  # our call to Plugsurfing
        what = f"we called {line.get('method')} {line['url']}"
        ids = (line.get("outbound_x_request_id"), line.get("outbound_x_correlation_id"))
    elif line.get("request_path"):  # Plugsurfing's (or the admin API's) call to us
        what = f"{line.get('request_method')} {line['request_path']} to us"
        ids = (line.get("x_request_id"), line.get("x_correlation_id"))
    else:
        what, ids = line.get("message", ""), (None, None)
    status = ", ".join(
        part
        for part in (
            f"HTTP {line['http_status']}" if line.get("http_status") else "",
            f"OCPI {line['status_code']}" if line.get("status_code") else "",
            str(line.get("status_message") or line.get("error") or ""),
        )
        if part
    )
    id_text = f" [X-Request-ID {ids[0]}, X-Correlation-ID {ids[1]}]" if ids[0] else ""
    return f"{line.get('timestamp', '')} {what}" + (f" -> {status}" if status else "") + id_text
