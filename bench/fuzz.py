"""The long fuzz run (`make fuzz`, issue 13): the suite's hypothesis fuzzing of every inbound OCPI
route (tests/fuzzing.py: the same strategies and the same verdicts) with many more examples, over
real HTTP into local mode with the simulator. Reports per route: requests, 5xx answers, wrongly
accepted bodies (2xx + 1000 for a body the spec refuses), answers without an OCPI envelope or
without the request ids, with one example of each; and whether the canaries stayed unchanged.
Written to bench/results/fuzz.json as well.

``FUZZ_EXAMPLES`` (default 400) sets the examples per route, ``FUZZ_SEED`` the seed (default:
random, printed in the report so a run can be repeated)."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

KINDS = ("5xx", "wrongly_accepted", "not_an_envelope", "request_ids")


def run() -> dict[str, Any]:
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator
    from tests.fuzzing import ROUTES, canaries_changed, make_target

    examples = int(os.environ.get("FUZZ_EXAMPLES", "400"))
    run_seed = int(os.environ.get("FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
    routes: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    with (
        LocalRuntime(log_level="CRITICAL", schedules=False, ship_logs=False) as runtime,
        RoamSimulator() as simulator,
    ):
        target = make_target(runtime, simulator)
        for name, strategy in ROUTES.items():
            routes[name] = _fuzz_route(target, strategy, examples, run_seed)
            print(f"fuzz {name}: {json.dumps({k: v for k, v in routes[name].items() if k != 'examples'})}")
        changed = canaries_changed(target)
    totals = {kind: sum(r[kind] for r in routes.values()) for kind in ("requests", *KINDS)}
    report = {
        "seed": run_seed,
        "examples_per_route": examples,
        "seconds": round(time.monotonic() - started, 1),
        "totals": totals,
        "canaries_changed": changed,
        "routes": routes,
    }
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _fuzz_route(target: Any, strategy: Any, examples: int, run_seed: int) -> dict[str, Any]:
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    from tests.fuzzing import FuzzRequest, problems

    counts: dict[str, Any] = {"requests": 0, **dict.fromkeys(KINDS, 0), "examples": {}}
    started = time.monotonic()

    @seed(run_seed)
    @settings(max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        request: FuzzRequest = data.draw(strategy(target))
        counts["requests"] += 1
        for kind, detail in problems(request.send(target), request).items():
            counts[kind] += 1
            counts["examples"].setdefault(kind, detail[:600])

    probe()
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts
