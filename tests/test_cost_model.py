"""The cost model (issue 11): its call table is what the bench counts today, its workload follows
from the three numbers as documented, its levers move the total the way the stack's switches do,
and `roam-emp cost-estimate` prints it."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from roam_emp import cost_model, topology
from roam_emp.cli import main
from roam_emp.cost_model import Assumptions, StackShape, Workload, estimate

ROOT = Path(__file__).resolve().parents[1]
MID_SIZE = Workload(locations=300_000, tokens=50_000, sessions=100_000)


def _line(result: cost_model.Estimate, service: str, item: str) -> cost_model.Line:
    (line,) = [x for x in result.lines if x.service == service and x.item == item]
    return line


def test_the_checked_in_call_table_is_a_fresh_count(restore_env: None) -> None:
    """Recount every operation on moto (bench/calls.py, as many repeats) and compare: a change in
    what an operation calls must update CALLS_PER_OPERATION (copy `python -m bench calls`)."""
    sys.path.insert(0, str(ROOT))
    from bench import calls

    fresh = calls.count_operations(repeat=cost_model.CALLS_REPEAT)
    assert set(fresh) == set(cost_model.CALLS_PER_OPERATION)
    differences = []
    for operation, counted in fresh.items():
        kept = cost_model.CALLS_PER_OPERATION[operation]
        records = (counted["stream_records"], kept["stream_records"])
        if records[0] != pytest.approx(records[1], abs=0.01):
            differences.append((operation, "stream_records", *records))
        for part in ("request", "relay"):
            for name in sorted(set(counted[part]) | set(kept[part])):
                now, then = counted[part].get(name, 0.0), kept[part].get(name, 0.0)
                if name == "events:PutEvents":
                    # How many entries share a PutEvents call (1 to 10) depends on how the stream's
                    # records were batched; the entries are what EventBridge bills.
                    entries = counted[part].get("events_entries", 0.0)
                    same = entries / 10 - 0.01 <= now <= entries + 0.01
                elif name == "events_entries" and operation in cost_model.AGGREGATED_RELAY:
                    # One entry per relay invocation: the table's figure is at the model's
                    # records per invocation; the bench's poller hands over fewer records at a
                    # time, so it counts more, at most one per record.
                    same = then - 0.01 <= now <= counted["stream_records"] + 0.01
                elif name.startswith("dynamodb_"):  # estimated from sizes: ids and clocks vary a little
                    same = now == pytest.approx(then, rel=0.05, abs=0.1)
                else:
                    same = now == pytest.approx(then, abs=0.01)
                if not same:
                    differences.append((operation, f"{part} {name}", now, then))
    assert not differences, f"counted now vs cost_model.CALLS_PER_OPERATION: {differences}"


def test_busy_routes_are_routes() -> None:
    routes = {(r.method, r.path) for f in topology.FUNCTIONS for r in f.routes}
    assert set(cost_model.BUSY_ROUTES) <= routes
    assert len(set(cost_model.BUSY_ROUTES)) == len(cost_model.BUSY_ROUTES)


def test_every_modelled_operation_has_counted_calls() -> None:
    runs = cost_model.operations_per_month(MID_SIZE, Assumptions())
    assert set(runs) - {"command_timeout_sweep"} <= set(cost_model.CALLS_PER_OPERATION)
    for calls in cost_model.CALLS_PER_OPERATION.values():
        assert set(calls) == {"request", "relay", "stream_records"}


def test_the_workload_follows_from_the_three_numbers() -> None:
    a = Assumptions()
    runs = cost_model.operations_per_month(MID_SIZE, a)
    assert runs["location_full_pull_page_unchanged"] == 1200 * 30  # 300,000 / 250 pages, nightly
    assert runs["location_delta_pull_no_change"] == 30 * 24 * 30  # every 2 minutes
    assert runs["location_delta_pull_changed_location"] == 300_000 * a.location_changes_per_day * 30
    assert runs["session_patch"] == 100_000 * a.session_patches_per_session
    assert runs["cdr_acknowledgement"] == runs["authorize"] == runs["session_put"] == 100_000
    assert runs["token_push"] == 50_000 * a.token_pushes_per_token
    assert runs["command_timeout_sweep"] == 30 * 24 * 60


def test_lines_are_quantity_times_list_price() -> None:
    prices = cost_model.Prices()
    result = estimate(MID_SIZE)
    table = cost_model.CALLS_PER_OPERATION
    runs = cost_model.operations_per_month(MID_SIZE, Assumptions())
    wru = sum(
        count * table[op][part].get("dynamodb_write_units", 0.0)
        for op, count in runs.items()
        if op in table
        for part in ("request", "relay")
    )
    line = _line(result, "DynamoDB", "write request units")
    assert line.quantity == pytest.approx(wru)
    assert line.usd == pytest.approx(wru / 1e6 * prices.dynamodb_write_units_per_million)
    cdrs = _line(result, "S3", "PUT requests (CDR archive)")
    assert cdrs.quantity == pytest.approx(100_000 * table["cdr_acknowledgement"]["request"]["s3:PutObject"])
    api = _line(result, "API Gateway", "REST API requests")
    # authorize + PUT + 6 PATCH + CDR per session, and the admin call behind each token push
    assert api.quantity == pytest.approx(100_000 * 9 + 5_000)
    assert api.usd == pytest.approx(api.quantity / 1e6 * prices.rest_api_per_million)
    assert result.total == pytest.approx(sum(x.usd for x in result.lines))


def test_mid_size_emp_target_is_a_question_of_location_churn() -> None:
    """Issue 11's mid-size EMP: with the cdk.json defaults, everything but the churn of
    Plugsurfing's network fits well under US$40, and so does the assumed churn of one change per
    location per day; the churn at which the total reaches US$40 is what `cost-estimate` prints,
    and what docs/cost.md discusses."""
    still = estimate(MID_SIZE, assumptions=Assumptions(location_changes_per_day=0.0))
    assert still.total < 40
    assert estimate(MID_SIZE).total < 40
    limit = cost_model.break_even_churn(MID_SIZE, 40.0)
    assert limit is not None and Assumptions().location_changes_per_day < limit < 2
    at_limit = estimate(MID_SIZE, assumptions=Assumptions(location_changes_per_day=limit))
    assert at_limit.total == pytest.approx(40.0)
    assert cost_model.break_even_churn(MID_SIZE, still.total - 1) is None


def test_the_levers_take_off_what_the_issue_measured() -> None:
    """Before the levers (per-method API metrics, X-Ray, two alarms per function, a metric per
    deviation kind) the same EMP costs what the issue measured, give or take."""
    before = estimate(
        MID_SIZE, StackShape(api_detailed_metrics=True, xray_tracing=True, consolidated_alarms=False)
    )
    after = estimate(MID_SIZE)
    saved = before.by_service()["CloudWatch"] - after.by_service()["CloudWatch"]
    assert saved >= 0.30 * 5 * len(cost_model.BUSY_ROUTES) + 0.10 * (2 * len(topology.FUNCTIONS) - 2)
    assert after.by_service()["X-Ray"] == 0 < before.by_service()["X-Ray"]
    assert cost_model.custom_metric_count(StackShape()) == len(cost_model.STEADY_METRICS)


def test_docs_quote_the_models_current_output() -> None:
    text = (ROOT / "docs" / "cost.md").read_text()
    rendered = "\n".join(cost_model.render(estimate(MID_SIZE)))
    assert rendered in text, "docs/cost.md: paste the output of the command it shows"
    assert "roam-emp cost-estimate --locations 300000 --tokens 50000 --sessions 100000" in text


def test_each_lever_moves_its_own_line() -> None:
    base = estimate(MID_SIZE)
    prices = cost_model.Prices()
    detailed = estimate(MID_SIZE, StackShape(api_detailed_metrics=True))
    added = detailed.total - base.total
    assert added == pytest.approx(5 * len(cost_model.BUSY_ROUTES) * prices.cloudwatch_metric_month)
    traced = estimate(MID_SIZE, StackShape(xray_tracing=True))
    assert _line(base, "X-Ray", "traces recorded").usd == 0
    assert _line(traced, "X-Ray", "traces recorded").quantity == _line(base, "Lambda", "requests").quantity
    per_function = estimate(MID_SIZE, StackShape(consolidated_alarms=False))
    assert per_function.total - base.total == pytest.approx(
        (2 * len(topology.FUNCTIONS) - 2) * prices.cloudwatch_alarm_metric_month
    )
    uncompressed = estimate(MID_SIZE, StackShape(compress_session_documents=False))
    a = Assumptions()
    extra_gb = MID_SIZE.sessions * 12 * (a.session_json_item_bytes - a.session_item_bytes) / 1e9
    assert uncompressed.total - base.total == pytest.approx(
        extra_gb * (prices.dynamodb_storage_gb_month + prices.dynamodb_pitr_gb_month)
    )
    assert uncompressed.total > 40 > base.total  # why the switch is on by default
    http = estimate(MID_SIZE, StackShape(http_api=True))
    requests = _line(base, "API Gateway", "REST API requests").quantity
    assert base.total - http.total == pytest.approx(
        requests / 1e6 * (prices.rest_api_per_million - prices.http_api_per_million)
    )


def test_costs_grow_with_the_workload() -> None:
    small = estimate(Workload(locations=10_000, tokens=1_000, sessions=5_000))
    large = estimate(Workload(locations=600_000, tokens=100_000, sessions=200_000))
    assert small.total < estimate(MID_SIZE).total < large.total
    empty = estimate(Workload(0, 0, 0))
    fixed = sum(x.usd for x in empty.lines if x.service in ("CloudWatch", "KMS", "Secrets Manager"))
    assert empty.total >= fixed > 0  # alarms, metrics, dashboard, key and secret cost anyway
    sessions = _line(large, "API Gateway", "REST API requests").quantity
    assert sessions == pytest.approx(
        2 * _line(estimate(MID_SIZE), "API Gateway", "REST API requests").quantity
    )


def test_stack_shape_defaults_are_the_cdk_json_defaults() -> None:
    from infra.config import StackConfig

    context = json.loads((ROOT / "cdk.json").read_text())["context"]["roam_emp"]
    shape = StackShape()
    for switch in (
        "api_detailed_metrics",
        "xray_tracing",
        "consolidated_alarms",
        "compress_session_documents",
    ):
        assert getattr(shape, switch) == context[switch] == getattr(StackConfig(), switch), switch
    assert Assumptions().delta_pull_minutes == context["location_delta_pull_minutes"]
    assert Assumptions().secret_cache_seconds == context.get(
        "secret_cache_seconds", StackConfig().secret_cache_seconds
    )
    assert {f.name for f in fields(StackShape)} >= {
        "api_detailed_metrics",
        "xray_tracing",
        "consolidated_alarms",
    }


def test_cli_prints_the_total_and_its_top_lines(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cost-estimate", "--locations", "300000", "--tokens", "50000", "--sessions", "100000"]
    assert main(args) == 0
    text = capsys.readouterr().out
    total = estimate(MID_SIZE).total
    assert f"TOTAL  US$ {total:8.2f} / month" in text
    assert "eu-central-1" in text and "top 8 lines:" in text
    assert main([*args, "--json", "--api-detailed-metrics"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert data["stack"]["api_detailed_metrics"] is True
    assert data["monthly_usd"] == round(estimate(MID_SIZE, StackShape(api_detailed_metrics=True)).total, 2)
    assert main([*args, "--json", "--uncompressed-sessions"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stack"]["compress_session_documents"] is False
    shape = StackShape(compress_session_documents=False)
    assert data["monthly_usd"] == round(estimate(MID_SIZE, shape).total, 2)
    assert math.isclose(sum(x["usd"] for x in data["lines"]), data["monthly_usd"], abs_tol=0.05)
    assert data["prices"] == {"region": "eu-central-1", "as_of": cost_model.PRICES_AS_OF}


def test_cli_refuses_a_negative_size() -> None:
    with pytest.raises(SystemExit):
        main(["cost-estimate", "--locations", "-1", "--tokens", "0", "--sessions", "0"])


def test_the_secret_is_read_once_per_cache_age_per_function() -> None:
    """One warm container per function re-reads the secret once per `secret_cache_seconds`, at
    most once per invocation (docs/cost.md, "Assumptions")."""
    a = Assumptions()
    readers = {f.name for f in topology.FUNCTIONS if f.secrets}
    invocations = cost_model.usage(MID_SIZE, a).invocations
    per_function = a.days * 86_400 / a.secret_cache_seconds
    expected = sum(min(n, per_function) for f, n in invocations.items() if f in readers)
    line = _line(estimate(MID_SIZE), "Secrets Manager", "GetSecretValue (cache refreshes)")
    assert line.quantity == pytest.approx(expected)
    thirty = _line(
        estimate(MID_SIZE, assumptions=Assumptions(secret_cache_seconds=30)),
        "Secrets Manager",
        "GetSecretValue (cache refreshes)",
    )
    assert thirty.quantity > 5 * line.quantity


def _dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules, for the attribute kinds a session item has."""
    size = 0
    for name, value in item.items():
        ((kind, inner),) = value.items()
        size += len(name.encode())
        if kind == "B":
            size += len(inner)
        else:  # S, and N as ~1 byte per 2 digits + 1
            size += len(str(inner).encode()) if kind == "S" else len(inner) // 2 + 1
    return size


def test_a_sessions_stored_item_is_what_the_model_assumes(aws_mock: dict[str, str]) -> None:
    """A long session (~3 KB of JSON: the example's charging periods, one every 10 minutes) is
    stored compressed (store/sessions.py): its item, keys and index attributes included, is
    within ``Assumptions.session_item_bytes``, a third of its JSON."""
    import copy
    import json as json_module

    from roam_emp.ocpi.timestamps import parse_timestamp
    from roam_emp.store import aws
    from roam_emp.store.sessions import SessionStore, _key

    from .helpers import example

    session = copy.deepcopy(example("session_example_2_short_finished.json"))
    periods = session["charging_periods"]
    while len(json_module.dumps(session, separators=(",", ":"))) < 3000:
        period = copy.deepcopy(periods[len(periods) % 3])
        minutes = 10 * len(periods)
        period["start_date_time"] = f"2015-06-29T{21 + minutes // 60:02d}:{minutes % 60:02d}:09Z"
        for dimension in period["dimensions"]:
            dimension["volume"] = round(dimension["volume"] * (1 + 0.137 * len(periods)), 3)
        periods.append(period)
    table = aws_mock[topology.SESSIONS_TABLE.env_var]
    assert SessionStore(table).save(session, parse_timestamp(session["last_updated"]), "OCPI-2.2.1")
    item = aws.dynamodb().get_item(
        TableName=table, Key=_key(session["country_code"], session["party_id"], session["id"])
    )["Item"]
    assert "B" in item["doc"]
    size = _dynamodb_item_bytes(item)
    assert size <= Assumptions().session_item_bytes < 3000
