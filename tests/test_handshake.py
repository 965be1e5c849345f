"""The credentials handshake both ways, over real HTTP: local mode (moto server, local gateway,
the real handlers) against the bundled simulator playing Plugsurfing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.simulator import RoamSimulator
from tests.helpers import register

CREDENTIALS = "/ocpi/2.2.1/credentials"


def sim_post(sim: RoamSimulator, path: str, body: dict[str, Any] | None = None) -> Any:
    return httpx.post(f"{sim.url}/_sim/{path}", json=body or {}, timeout=30).json()


def call(
    rt: LocalRuntime,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    raw: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {**({"Authorization": encode_token(token)} if token else {}), **(headers or {})}
    if raw is not None:
        all_headers["Content-Type"] = "application/json"
        return httpx.request(method, f"{rt.url}{path}", content=raw, headers=all_headers, timeout=30)
    return httpx.request(method, f"{rt.url}{path}", json=body, headers=all_headers, timeout=30)


def status(rt: LocalRuntime) -> dict[str, Any]:
    return rt.admin("GET", "/admin/registration").json()["data"]  # type: ignore[no-any-return]


@pytest.fixture
def fresh(local: tuple[LocalRuntime, RoamSimulator]) -> tuple[LocalRuntime, RoamSimulator]:
    """Each test starts unregistered on both sides."""
    rt, sim = local
    sim_post(sim, "chaos", {})
    if sim.state.our_token_for_emp and status(rt)["status"] == "REGISTERED":
        sim_post(sim, "unregister")
    with sim.state.lock:
        sim.state.emp_token_for_us = sim.state.our_token_for_emp = None
    assert status(rt)["status"] == "UNREGISTERED"
    return rt, sim


def test_we_register_with_plugsurfings_token_a(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    answer = register(rt, sim)
    assert answer.status_code == 200, answer.text
    connection = answer.json()["data"]
    assert connection["status"] == "REGISTERED"
    assert connection["initiator"] == "EMSP"
    assert connection["version"] == "2.2.1"
    # FAQ: Plugsurfing answers as a single CPO role DE/8PS, business name Plugsurfing.
    assert [
        (r["role"], r["country_code"], r["party_id"], r["business_details"]["name"])
        for r in connection["hub_roles"]
    ] == [("CPO", "DE", "8PS", "Plugsurfing")]
    assert {(e["identifier"], e["role"]) for e in connection["endpoints"]} >= {
        ("credentials", "SENDER"),
        ("locations", "SENDER"),
        ("tokens", "RECEIVER"),
    }
    # The simulator fetched our versions with token B during our POST, and stored our role.
    assert sim.state.emp_versions_url == rt.versions_url
    assert sim.state.emp_roles[0]["role"] == "EMSP"
    # Plugsurfing now calls us with token B; the ids come back on the response.
    ours = call(
        rt,
        "GET",
        CREDENTIALS,
        sim.state.our_token_for_emp,
        headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
    )
    assert ours.status_code == 200
    assert (ours.headers["X-Request-ID"], ours.headers["X-Correlation-ID"]) == ("req-1", "corr-1")
    body = ours.json()
    assert body["status_code"] == 1000 and body["timestamp"].endswith("Z")
    assert body["data"]["url"] == rt.versions_url
    # Registering twice is refused until Plugsurfing unregisters.
    assert register(rt, sim).status_code == 409


def test_versions_endpoints_offer_only_221(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    register(rt, sim)
    token = sim.state.our_token_for_emp
    versions = call(rt, "GET", "/ocpi/versions", token).json()["data"]
    assert versions == [{"version": "2.2.1", "url": f"{rt.url}/ocpi/2.2.1"}]
    details = call(rt, "GET", "/ocpi/2.2.1", token).json()["data"]
    assert details["version"] == "2.2.1"
    assert {"identifier": "credentials", "role": "SENDER", "url": f"{rt.url}{CREDENTIALS}"} in details[
        "endpoints"
    ]


def test_missing_wrong_and_stale_tokens_get_401(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    register(rt, sim)
    token_b = sim.state.our_token_for_emp
    for path in ("/ocpi/versions", "/ocpi/2.2.1", CREDENTIALS):
        assert call(rt, "GET", path).status_code == 401
        assert call(rt, "GET", path, "wrong-token").status_code == 401
        assert call(rt, "GET", path, sim.state.token_a).status_code == 401
    raw = call(rt, "GET", CREDENTIALS, headers={"Authorization": f"Token {token_b}"})
    assert raw.status_code == 200  # the raw OCPI 2.1.1 header form is accepted too
    # Plugsurfing rotates (PUT): the new token works at once, the old one is dead.
    assert sim_post(sim, "rotate")["ok"]
    assert sim.state.our_token_for_emp != token_b
    assert call(rt, "GET", CREDENTIALS, sim.state.our_token_for_emp).status_code == 200
    stale = call(rt, "GET", CREDENTIALS, token_b)
    assert stale.status_code == 401
    assert stale.json()["status_code"] == 2000


def test_we_rotate_our_credentials(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    register(rt, sim)
    old_ours, old_theirs = sim.state.our_token_for_emp, sim.state.emp_token_for_us
    answer = rt.admin("POST", "/admin/registration", {"action": "rotate"})
    assert answer.status_code == 200, answer.text
    assert sim.state.our_token_for_emp not in (None, old_ours)
    assert sim.state.emp_token_for_us not in (None, old_theirs)
    assert call(rt, "GET", CREDENTIALS, sim.state.our_token_for_emp).status_code == 200
    assert call(rt, "GET", CREDENTIALS, old_ours).status_code == 401


def test_unregister_then_every_call_gets_401(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    register(rt, sim)
    token = sim.state.our_token_for_emp
    assert sim_post(sim, "unregister")["ok"]
    assert status(rt)["status"] == "UNREGISTERED"
    for method, path in (("GET", "/ocpi/versions"), ("GET", CREDENTIALS), ("DELETE", CREDENTIALS)):
        assert call(rt, method, path, token).status_code == 401


def test_plugsurfing_registers_with_our_token_a(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    issued = rt.admin("POST", "/admin/registration/token-a").json()["data"]
    assert issued["versions_url"] == rt.versions_url
    token_a = issued["token_a"]
    # Token A opens the versions endpoints (for the hub's discovery), not the rest.
    assert call(rt, "GET", "/ocpi/versions", token_a).status_code == 200
    assert call(rt, "GET", CREDENTIALS, token_a).status_code == 401
    answer = sim_post(sim, "register", {"token_a": token_a, "versions_url": rt.versions_url})
    assert answer["ok"], answer
    assert [r["role"] for r in answer["emp_roles"]] == ["EMSP"]
    connection = status(rt)
    assert (connection["status"], connection["initiator"]) == ("REGISTERED", "HUB")
    assert connection["hub_roles"][0]["party_id"] == "8PS"
    assert call(rt, "GET", CREDENTIALS, sim.state.our_token_for_emp).status_code == 200
    # Token A is thrown away once used (credentials.asciidoc).
    body = {"token": "another", "url": sim.versions_url, "roles": sim.state.emp_roles}
    assert call(rt, "POST", CREDENTIALS, token_a, body).status_code == 401
    # A second POST from the registered hub is 405 (credentials.asciidoc, POST).
    again = call(rt, "POST", CREDENTIALS, sim.state.our_token_for_emp, body)
    assert again.status_code == 405


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("{not json", "not valid JSON"),
        ("", "body is missing"),
        ('{"token": "abc", "roles": []}', "url"),
        ('{"token": "abc", "url": "https://x/versions", "roles": []}', "roles"),
        ('{"token": "a b", "url": "https://x/versions", "roles": [{"role": "CPO"}]}', "token"),
        (
            '{"token": "abc", "url": "https://x/versions", "roles": [{"role": "CPO", "party_id": "8PS"}]}',
            "roles.0.business_details",
        ),
    ],
)
def test_malformed_credentials_get_2001_naming_the_field(
    fresh: tuple[LocalRuntime, RoamSimulator], raw: str, field: str
) -> None:
    rt, _ = fresh
    token_a = rt.admin("POST", "/admin/registration/token-a").json()["data"]["token_a"]
    answer = call(rt, "POST", CREDENTIALS, token_a, raw=raw)
    assert answer.status_code == 400
    body = answer.json()
    assert body["status_code"] == 2001
    assert field in body["status_message"]
    assert status(rt)["status"] == "UNREGISTERED"  # nothing stored


def test_unreachable_versions_url_is_3001(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, _ = fresh
    token_a = rt.admin("POST", "/admin/registration/token-a").json()["data"]["token_a"]
    body = {
        "token": "their-b",
        "url": "http://127.0.0.1:9/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "8PS",
                "country_code": "DE",
                "business_details": {"name": "Plugsurfing"},
            }
        ],
    }
    answer = call(rt, "POST", CREDENTIALS, token_a, body)
    assert answer.json()["status_code"] == 3001
    assert status(rt)["status"] == "UNREGISTERED"
    # Token A still works for a retry: a failed registration stores nothing.
    assert call(rt, "GET", "/ocpi/versions", token_a).status_code == 200


def test_failed_registration_leaves_nothing_half_stored(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, sim = fresh
    sim_post(sim, "chaos", {"route": "POST /ocpi/2.2.1/credentials", "fail_next": [503]})
    failed = register(rt, sim)
    assert failed.status_code == 502
    assert failed.json()["status_code"] == 3001
    assert status(rt)["status"] == "UNREGISTERED"
    # The token B we offered during the failed POST does not open anything.
    assert call(rt, "GET", CREDENTIALS, sim.state.emp_token_for_us or "x").status_code == 401
    assert register(rt, sim).status_code == 200
    assert status(rt)["status"] == "REGISTERED"


def test_unknown_paths_are_404_envelopes(local: tuple[LocalRuntime, RoamSimulator]) -> None:
    rt, _ = local
    answer = call(rt, "GET", "/ocpi/2.2.1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["status_code"] == 2000
    assert call(rt, "PATCH", CREDENTIALS).status_code == 405


def test_a_credentials_endpoint_advertised_as_receiver_is_accepted(
    fresh: tuple[LocalRuntime, RoamSimulator],
) -> None:
    """version_information_endpoint.asciidoc: the credentials endpoint's role is disregarded."""
    rt, sim = fresh
    sim.state.credentials_role = "RECEIVER"  # as in the spec's own version details example
    try:
        answer = register(rt, sim)
    finally:
        sim.state.credentials_role = "SENDER"
    assert answer.status_code == 200, answer.text
    assert status(rt)["status"] == "REGISTERED" and sim.state.registered


def test_we_unregister_from_our_side(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    from roam_emp.cli import main

    rt, sim = fresh
    register(rt, sim)
    token = sim.state.our_token_for_emp
    assert main(["unregister", "--api", rt.url]) == 0  # DELETE /admin/registration
    deletes = [r for r in httpx.get(f"{sim.url}/_sim/requests").json() if r["method"] == "DELETE"]
    assert deletes and deletes[-1]["path"] == CREDENTIALS
    assert not sim.state.registered  # Plugsurfing was told
    assert status(rt)["status"] == "UNREGISTERED"  # and we forgot ours
    assert call(rt, "GET", CREDENTIALS, token).status_code == 401
    again = rt.admin("DELETE", "/admin/registration")
    assert (again.status_code, again.json()["status_code"]) == (409, 2000)
    assert register(rt, sim).status_code == 200  # a new registration is possible


def test_unregister_keeps_the_registration_when_plugsurfing_cannot_be_told(
    fresh: tuple[LocalRuntime, RoamSimulator],
) -> None:
    rt, sim = fresh
    register(rt, sim)
    sim_post(sim, "chaos", {"route": f"DELETE {CREDENTIALS}", "fail_next": [503] * 10})
    failed = rt.admin("DELETE", "/admin/registration")
    assert (failed.status_code, failed.json()["status_code"]) == (502, 3001)
    assert "--force" in failed.json()["status_message"]
    assert status(rt)["status"] == "REGISTERED"
    forced = rt.admin("DELETE", "/admin/registration?force=true")
    assert forced.status_code == 200 and status(rt)["status"] == "UNREGISTERED"
    sim_post(sim, "chaos", {})


def test_put_and_delete_credentials_before_registration(fresh: tuple[LocalRuntime, RoamSimulator]) -> None:
    """credentials.asciidoc: 405 to a client not registered yet (it holds our token A); 401 to
    an unknown caller; once registered, token A opens neither."""
    rt, sim = fresh
    token_a = rt.admin("POST", "/admin/registration/token-a").json()["data"]["token_a"]
    body = {"token": "x", "url": sim.versions_url, "roles": []}
    for method in ("PUT", "DELETE"):
        answer = call(rt, method, CREDENTIALS, token_a, body=body if method == "PUT" else None)
        assert (answer.status_code, answer.json()["status_code"]) == (405, 2000), answer.text
        assert call(rt, method, CREDENTIALS, "unknown-token").status_code == 401
    register(rt, sim)
    token_a = rt.admin("POST", "/admin/registration/token-a").json()["data"]["token_a"]
    for method in ("PUT", "DELETE"):
        assert (
            call(rt, method, CREDENTIALS, token_a, body=body if method == "PUT" else None).status_code == 401
        )
    assert status(rt)["status"] == "REGISTERED"
