"""The Roam OCPI client against the simulator over real HTTP: retries, typed errors, headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roam_emp.hub.client import HubClient, RetryPolicy, parse_next_link
from roam_emp.hub.errors import (
    HubProtocolError,
    HubRateLimited,
    HubRejected,
    HubUnauthorized,
    HubUnavailable,
)
from roam_emp.ocpi.versions import Version
from roam_emp.simulator import RoamSimulator


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> None:
        self.acquired += 1


@pytest.fixture(scope="module")
def simulator() -> Iterator[RoamSimulator]:
    with RoamSimulator() as sim:
        yield sim


@pytest.fixture
def sim(simulator: RoamSimulator) -> RoamSimulator:
    chaos(simulator, {})
    return simulator


def chaos(sim: RoamSimulator, body: dict[str, Any]) -> None:
    httpx.post(f"{sim.url}/_sim/chaos", json=body).raise_for_status()


def requests_to(sim: RoamSimulator, path: str) -> list[dict[str, Any]]:
    return [r for r in httpx.get(f"{sim.url}/_sim/requests").json() if r["path"] == path]


def client(sim: RoamSimulator, token: str | None = None) -> tuple[HubClient, list[float], CountingLimiter]:
    slept: list[float] = []
    limiter = CountingLimiter()
    hub = HubClient(
        token=token or sim.state.token_a,
        limiter=limiter,
        sleep=slept.append,
        retry=RetryPolicy(max_attempts=4, base_s=0.5, cap_s=4),
    )
    return hub, slept, limiter


def test_429_without_retry_after_is_backed_off_and_retried(sim: RoamSimulator) -> None:
    before = len(requests_to(sim, "/ocpi/versions"))
    chaos(sim, {"fail_next": [429, 429]})
    hub, slept, limiter = client(sim)
    versions, _ = hub.fetch_list(Version, sim.versions_url)
    assert "2.2.1" in [v.version for v in versions]
    assert len(requests_to(sim, "/ocpi/versions")) - before == 3
    assert len(slept) == 2 and all(0 <= s <= 4 for s in slept)  # jittered, capped
    assert limiter.acquired == 3  # every attempt is budgeted


def test_a_429_storm_surfaces_as_rate_limited(sim: RoamSimulator) -> None:
    chaos(sim, {"fail_next": [429] * 4})
    hub, slept, _ = client(sim)
    with pytest.raises(HubRateLimited) as caught:
        hub.get(sim.versions_url)
    assert caught.value.http_status == 429
    assert len(slept) == 3


def test_5xx_is_retried_for_idempotent_calls_only(sim: RoamSimulator) -> None:
    chaos(sim, {"fail_next": [503]})
    hub, _, _ = client(sim)
    assert hub.get(sim.versions_url).http_status == 200
    chaos(sim, {"fail_next": [503, 503]})
    before = len(requests_to(sim, "/ocpi/2.2.1/credentials"))
    with pytest.raises(HubUnavailable) as caught:
        hub.request("POST", f"{sim.url}/ocpi/2.2.1/credentials", json_body={})
    assert caught.value.http_status == 503
    assert caught.value.ocpi_status == 3000
    assert len(requests_to(sim, "/ocpi/2.2.1/credentials")) - before == 1  # never sent twice


def test_timeouts_and_refused_connections_are_unavailable() -> None:
    hub = HubClient(
        token="t", limiter=CountingLimiter(), sleep=lambda _: None, retry=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(HubUnavailable, match="ConnectError"):
        hub.get("http://127.0.0.1:9/ocpi/versions")


def test_wrong_token_is_unauthorized(sim: RoamSimulator) -> None:
    hub, _, _ = client(sim, token="not-a-token")
    with pytest.raises(HubUnauthorized) as caught:
        hub.get(sim.versions_url)
    assert caught.value.http_status == 401


def test_a_401_rereads_the_token_once_and_retries(sim: RoamSimulator) -> None:
    """Plugsurfing rotated our credentials; this process still holds the old token (cached)."""
    rereads: list[str] = []

    def fresh() -> str:
        rereads.append("read")
        return sim.state.token_a

    hub, _, _ = client(sim)
    hub.token, hub.refresh_token = (lambda: "rotated-away"), fresh
    before = len(requests_to(sim, "/ocpi/versions"))
    assert hub.get(sim.versions_url).http_status == 200
    assert len(rereads) == 1 and len(requests_to(sim, "/ocpi/versions")) == before + 2
    assert hub.get(sim.versions_url).http_status == 200 and len(rereads) == 1  # the new token stays
    # the re-read gives the very token that was refused: no pointless second call
    stale, _, _ = client(sim, token="not-a-token")
    stale.refresh_token = lambda: "not-a-token"
    with pytest.raises(HubUnauthorized):
        stale.get(sim.versions_url)
    assert len(requests_to(sim, "/ocpi/versions")) == before + 4  # 2, 1, then 1 refused


def test_a_long_lived_client_follows_every_later_rotation(sim: RoamSimulator) -> None:
    """One client per container (token pushes): a second rotation must be re-read as well."""
    original = sim.state.token_a
    current = {"token": original}
    hub, _, _ = client(sim)
    hub.token, hub.refresh_token = (lambda: "cached-before-any-rotation"), (lambda: current["token"])
    assert hub.get(sim.versions_url).http_status == 200  # first rotation: re-read once
    try:
        sim.state.token_a = current["token"] = "rotated-again"
        assert hub.get(sim.versions_url).http_status == 200  # second rotation: re-read again
    finally:
        sim.state.token_a = original


def test_ocpi_error_envelope_is_a_typed_rejection(sim: RoamSimulator) -> None:
    hub, _, _ = client(sim)
    with pytest.raises(HubRejected) as caught:
        hub.request("POST", f"{sim.url}/ocpi/2.2.1/credentials", json_body={"token": "x"})
    assert (caught.value.http_status, caught.value.ocpi_status) == (400, 2001)
    assert "token, url and roles" in str(caught.value)


def test_request_and_correlation_ids_are_sent(sim: RoamSimulator) -> None:
    hub, _, _ = client(sim)
    hub.get(sim.versions_url, correlation_id="corr-42")
    last = requests_to(sim, "/ocpi/versions")[-1]
    assert last["x_correlation_id"] == "corr-42"
    assert last["x_request_id"] and last["x_request_id"] != "corr-42"


def test_link_header_parsing() -> None:
    nxt = "https://hub/ocpi/cpo/2.2.1/locations?smart_paging=eyJhIjoxfQ%3D%3D&limit=250"
    assert parse_next_link(f'<{nxt}>; rel="next"') == nxt
    assert parse_next_link(f'<https://hub/prev?a=1,2>; rel="prev", <{nxt}>; rel=next') == nxt
    assert parse_next_link('<https://hub/x>; rel="last"') is None


def test_pages_follow_the_link_exactly_as_given() -> None:
    cursor_urls = [
        "https://hub.test/locations?date_from=2026-01-01T00:00:00Z&smart_paging=A%2B%2F%3D",
        "https://hub.test/locations?smart_paging=B%2B%2F%3D",
    ]
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        index = len(seen)
        headers = {"Link": f'<{cursor_urls[index - 1]}>; rel="next"'} if index <= 2 else {}
        body = {"data": [{"page": index}], "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
        return httpx.Response(200, json=body, headers=headers)

    hub = HubClient(
        token="t", limiter=CountingLimiter(), http=httpx.Client(transport=httpx.MockTransport(serve))
    )
    pages = list(hub.pages("https://hub.test/locations", {"date_from": "2026-01-01T00:00:00Z"}))
    assert [p.data[0]["page"] for p in pages] == [1, 2, 3]
    assert seen[1:] == cursor_urls  # no offsets computed, the cursor untouched
    assert len({p.correlation_id for p in pages}) == 1


@pytest.mark.parametrize(
    ("number", "non_finite"),
    [
        ("1.5", False),
        ("null", False),
        ('"DE*8PS*E123456"', False),  # an EVSE id is no exponent
        ("NaN", True),
        ("-Infinity", True),
        ("1e400", True),  # beyond a float: parsed as infinity even without allow_inf_nan
        ("-2.5E+308", True),
    ],
)
def test_a_body_with_nan_or_infinity_is_accepted_and_flagged(number: str, non_finite: bool) -> None:
    """Not JSON (RFC 8259 6), yet accepted (lenient), and said: the location pull's change hashes
    must tell NaN from null (store/locations.py finite_numbers)."""
    body = (
        f'{{"data": [{{"id": "L1", "power": {number}}}], "status_code": 1000,'
        ' "timestamp": "2026-01-01T00:00:00Z"}'
    )

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "application/json"})

    hub = HubClient(
        token="t", limiter=CountingLimiter(), http=httpx.Client(transport=httpx.MockTransport(serve))
    )
    page = hub.get("https://hub.test/locations")
    assert page.non_finite_numbers is non_finite
    assert page.data[0]["id"] == "L1"


def test_unreadable_answers_are_quoted_in_errors_except_from_credentials() -> None:
    """An error message reaches the logs: a credentials answer carries tokens, so it is never quoted."""

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text='token "SECRET-C-TOKEN" but no envelope')

    hub = HubClient(
        token="t", limiter=CountingLimiter(), http=httpx.Client(transport=httpx.MockTransport(serve))
    )
    with pytest.raises(HubProtocolError) as quoted:
        hub.get("https://hub.test/locations")
    assert "SECRET-C-TOKEN" in str(quoted.value)
    with pytest.raises(HubProtocolError) as hidden:
        hub.request("POST", "https://hub.test/ocpi/2.2.1/credentials", json_body={})
    assert "SECRET-C-TOKEN" not in str(hidden.value) and "not shown: credentials" in str(hidden.value)


def test_clients_built_from_settings_reread_a_rotated_secret(
    sim: RoamSimulator, aws_mock: dict[str, str]
) -> None:
    from roam_emp import config, topology
    from roam_emp.hub.factory import hub_client
    from roam_emp.store import aws
    from roam_emp.store.credentials import CredentialsVault, HubTokens

    vault = CredentialsVault(aws_mock[topology.HUB_CREDENTIALS.env_var], cache_seconds=30)
    vault.put(HubTokens(outbound="before-rotation"))
    assert vault.get().outbound == "before-rotation"  # cached in this process for 30 s
    # Plugsurfing's PUT /credentials was handled by another Lambda: only the secret changed
    aws.secretsmanager().put_secret_value(
        SecretId=vault.secret_name, SecretString=json.dumps({"outbound": sim.state.token_a})
    )
    hub = hub_client(config.settings(), lambda: vault.get().outbound)
    assert hub.get(sim.versions_url).http_status == 200
    assert vault.get().outbound == sim.state.token_a  # the process cache is fresh again
    fixed = hub_client(config.settings(), "a-token-given-by-plugsurfing")  # nothing to re-read
    with pytest.raises(HubUnauthorized):
        fixed.get(sim.versions_url)
