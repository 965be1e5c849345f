"""Plugsurfing pushing Sessions and CDRs to the EMP (FAQ "Sessions", "CDRs"): a PUT at start, kWh
PATCHes while charging, a PUT at stop, then the CDR with its cost breakdown populated; CDRs that
did not get HTTP 200 are resent (Plugsurfing does so nightly for 7 days)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from ..ocpi.contract_id import normalize
from ..ocpi.timestamps import format_timestamp, utcnow
from .app_support import EmpCaller, json_response
from .state import SimulatorState


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001")))


class SessionRunner:
    def __init__(self, state: SimulatorState, emp: EmpCaller) -> None:
        self.state = state
        self.emp = emp

    def _send(self, method: str, url: str, body: Any, protocol: str | None) -> int:
        headers = {"X-Original-Protocol": protocol} if protocol else None
        answer = self.emp.call(method, url, self.state.our_token_for_emp or "", body, headers)
        return answer.status_code

    def _token(self, uid: str, token_type: str) -> dict[str, Any]:
        found = next((t for k, t in self.state.tokens.items() if k.endswith(f"/{token_type}/{uid}")), None)
        if found is None:
            raise KeyError(f"token {token_type} {uid} was never pushed to Plugsurfing")
        return found

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """A whole session at once: start, kWh PATCHes, stop, CDR (a local start)."""
        started = self.start(body)
        return {**started, **self.stop(started["session_id"])}

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        sessions_url = self.state.endpoint("sessions", "RECEIVER")
        if not sessions_url or not self.state.endpoint("cdrs", "RECEIVER"):
            raise KeyError("the EMP offers no sessions/cdrs RECEIVER endpoints")
        token = self._token(body["token_uid"], body.get("token_type", "RFID"))
        network = self.state.network
        location = network.locations[body.get("location_id") or sorted(network.locations)[0]]
        evse = next((e for e in location["evses"] if e["uid"] == body.get("evse_uid")), location["evses"][0])
        connector = evse["connectors"][0]
        protocol = body.get("original_protocol")
        session_id = body.get("session_id") or f"SIM{secrets.token_hex(6).upper()}"
        start = utcnow().replace(microsecond=0) - timedelta(hours=1)
        cdr_token = {
            "country_code": token["country_code"],
            "party_id": token["party_id"],
            "uid": token["uid"],
            "type": token["type"],
            "contract_id": normalize(token["contract_id"]),
        }
        session: dict[str, Any] = {
            "country_code": location["country_code"],
            "party_id": location["party_id"],
            "id": session_id,
            "start_date_time": format_timestamp(start),
            "kwh": 0,
            "cdr_token": cdr_token,
            "auth_method": body.get("auth_method", "WHITELIST"),
            "location_id": location["id"],
            "evse_uid": evse["uid"],
            "connector_id": connector["id"],
            "currency": connector["tariffs"][0]["currency"],
            "status": "ACTIVE",
            "last_updated": format_timestamp(start),
        }
        if body.get("authorization_reference"):
            session["authorization_reference"] = body["authorization_reference"]
        url = f"{sessions_url}/{location['country_code']}/{location['party_id']}/{session_id}"
        statuses = [self._send("PUT", url, session, protocol)]
        kwh = Decimal(0)
        for n in range(int(body.get("patches", 3))):
            kwh += Decimal("2.5")
            stamp = format_timestamp(start + timedelta(minutes=10 * (n + 1)))
            statuses.append(self._send("PATCH", url, {"kwh": float(kwh), "last_updated": stamp}, protocol))
        with self.state.lock:
            self.state.active_sessions[session_id] = {
                "session": session,
                "url": url,
                "kwh": kwh,
                "start": start,
                "protocol": protocol,
                "location": location,
                "evse": evse,
                "connector": connector,
                "statuses": statuses,
            }
        return {"session_id": session_id, "session_statuses": statuses}

    def stop(self, session_id: str) -> dict[str, Any]:
        with self.state.lock:
            active = self.state.active_sessions.pop(session_id)
        session, url, kwh, start = active["session"], active["url"], active["kwh"], active["start"]
        location, evse, connector, protocol = (
            active["location"],
            active["evse"],
            active["connector"],
            active["protocol"],
        )
        tariff = connector["tariffs"][0]
        end = start + timedelta(hours=1)
        hours = Decimal(1)
        energy_price = Decimal(str(tariff["elements"][0]["price_components"][0]["price"]))
        energy_cost = kwh * energy_price
        period = {
            "start_date_time": format_timestamp(start),
            "tariff_id": tariff["id"],
            "dimensions": [
                {"type": "ENERGY", "volume": float(kwh)},
                {"type": "TIME", "volume": float(hours)},
            ],
        }
        session.update(
            kwh=float(kwh),
            end_date_time=format_timestamp(end),
            status="COMPLETED",
            charging_periods=[period],
            last_updated=format_timestamp(end),
            total_cost={"excl_vat": _money(energy_cost), "incl_vat": _money(energy_cost * Decimal("1.19"))},
        )
        statuses = [*active["statuses"], self._send("PUT", url, session, protocol)]
        cdr = {
            "country_code": location["country_code"],
            "party_id": location["party_id"],
            "id": session_id,
            "start_date_time": format_timestamp(start),
            "end_date_time": format_timestamp(end),
            "session_id": session_id,
            "cdr_token": session["cdr_token"],
            "auth_method": session["auth_method"],
            "cdr_location": {
                "id": location["id"],
                "name": location.get("name"),
                "address": location["address"],
                "city": location["city"],
                "postal_code": location.get("postal_code"),
                "country": location["country"],
                "coordinates": location["coordinates"],
                "evse_uid": evse["uid"],
                "evse_id": evse["evse_id"],
                "connector_id": connector["id"],
                "connector_standard": connector["standard"],
                "connector_format": connector["format"],
                "connector_power_type": connector["power_type"],
            },
            "currency": tariff["currency"],
            "tariffs": [tariff],
            "charging_periods": [period],
            "total_cost": session["total_cost"],
            "total_energy": float(kwh),
            # Plugsurfing always populates the cost breakdown (FAQ "Is cost breakdown always populated?")
            "total_energy_cost": session["total_cost"],
            "total_time": float(hours),
            "total_fixed_cost": {"excl_vat": 0, "incl_vat": 0},
            "total_time_cost": {"excl_vat": 0, "incl_vat": 0},
            "last_updated": format_timestamp(end),
        }
        if session.get("authorization_reference"):
            cdr["authorization_reference"] = session["authorization_reference"]
        cdr_status = self.post_cdr(cdr, protocol)
        return {
            "session_id": session_id,
            "cdr_id": session_id,
            "session_statuses": statuses,
            "cdr_status": cdr_status,
            "kwh": float(kwh),
        }

    def post_cdr(self, cdr: dict[str, Any], protocol: str | None) -> int:
        cdrs_url = self.state.endpoint("cdrs", "RECEIVER")
        assert cdrs_url
        status = self._send("POST", cdrs_url, cdr, protocol)
        with self.state.lock:
            if status != 200:
                self.state.unacknowledged_cdrs[cdr["id"]] = (cdr, protocol)
            else:
                self.state.unacknowledged_cdrs.pop(cdr["id"], None)
                self.state.acknowledged_cdrs += 1
        return status


def register_sessions(app: Flask, state: SimulatorState, emp: EmpCaller) -> SessionRunner:
    runner = SessionRunner(state, emp)

    @app.post("/_sim/sessions/run")
    def run_session() -> Response:
        try:
            return json_response(runner.run(request.get_json(silent=True) or {}))
        except KeyError as error:
            return json_response({"error": str(error)}, 409)

    @app.post("/_sim/cdrs/post")
    def post_cdr() -> Response:
        body = request.get_json(silent=True) or {}
        return json_response({"status": runner.post_cdr(body["cdr"], body.get("original_protocol"))})

    @app.post("/_sim/cdrs/resend")
    def resend() -> Response:
        """The nightly resend of every CDR that did not get HTTP 200."""
        with state.lock:
            pending = list(state.unacknowledged_cdrs.values())
        results = {cdr["id"]: runner.post_cdr(cdr, protocol) for cdr, protocol in pending}
        return json_response({"resent": results, "still_unacknowledged": len(state.unacknowledged_cdrs)})

    return runner
