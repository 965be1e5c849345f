"""Property-based fuzzing of every inbound OCPI route (issue 13), over real HTTP into local mode,
with a valid token: mutated bodies, headers, path segments and query strings (tests/fuzzing.py
says what is sent and how an answer is judged; `make fuzz` runs the same with many more).

For every request: never a 5xx, always an OCPI envelope carrying the request ids, and never
2xx + 1000 for a body the spec refuses. Afterwards the canary objects (a session, a CDR, a command,
our credentials) are unchanged. Seeded (``derandomize``) and bounded (``max_examples``), so CI runs
the same few hundred requests every time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roam_emp.local.runtime import LocalRuntime
from roam_emp.simulator import RoamSimulator

from .fuzzing import ROUTES, FuzzRequest, Headers, Target, canaries_changed, make_target, problems
from .test_sessions_cdrs import spec_cdr, unique

Local = tuple[LocalRuntime, RoamSimulator]

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# max_examples per route: CDRs matter most, credentials calls out (slowest)
EXAMPLES = {"credentials": 25, "cdr POST": 50}


@pytest.fixture(scope="module")
def target(local: Local) -> Iterator[Target]:
    yield make_target(*local)


def check(target: Target, request: FuzzRequest) -> None:
    response = request.send(target)
    assert not problems(response, request), problems(response, request)


@pytest.mark.parametrize("route", list(ROUTES))
def test_route(target: Target, route: str) -> None:
    @settings(FUZZ, max_examples=EXAMPLES.get(route, 40))
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        check(target, data.draw(ROUTES[route](target)))

    fuzz()


def test_cdr_with_a_lone_surrogate_is_stored(target: Target) -> None:
    cdr = spec_cdr(unique("SURCDR"))
    cdr["cdr_location"]["name"] = "MARK"
    text = json.dumps(cdr).replace('"MARK"', '"\\ud800"')
    answer = target.call("POST", f"{target.base}/cdrs", Headers(None, None, None, None), text)
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text


# An id over S3's 1,024-byte key limit alone passes here: moto does not enforce that limit
# (tests/test_store_dynamodb_local.py checks the keys' length).
@pytest.mark.parametrize("cdr_id", ["C" * 2100, "CDR\r\nWITH-LINES"])
def test_cdr_with_an_id_that_is_no_storage_key_is_stored(target: Target, cdr_id: str) -> None:
    answer = target.call(
        "POST", f"{target.base}/cdrs", Headers(None, None, None, None), json.dumps(spec_cdr(cdr_id))
    )
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text


def test_canaries_unchanged_after_the_fuzzing(target: Target) -> None:
    """Runs last (file order): nothing above reached the canaries, whatever ids and paths it sent."""
    assert canaries_changed(target) == []
