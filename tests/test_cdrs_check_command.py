"""`roam-emp cdrs check FILE.json [--time-zone TZ] [--json]`, run in-process on temp files: offline,
no stack, no local mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from roam_emp.cli import main

from .helpers import example
from .pricing_cases import local, sequence, spec_tariff


def write(tmp_path: Path, data: Any, name: str = "cdr.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def complex_monday(total: float) -> dict[str, Any]:
    """The spec's complex tariff example as a CDR (mod_tariffs: 9.00 excl. VAT)."""
    raw = example("cdr_example.json")
    periods = sequence(
        local("2026-03-02 09:30"), (165, {"TIME": True, "MAX_CURRENT": 16}), (42, {"PARKING_TIME": True})
    )
    raw.pop("total_time_cost")
    raw.update(
        start_date_time=periods[0]["start_date_time"],
        end_date_time="2026-03-02T12:00:00Z",
        tariffs=[spec_tariff("tariff_4_complex.json")],
        charging_periods=periods,
        total_cost={"excl_vat": total},
        total_parking_cost={"excl_vat": 3.75},
    )
    return raw


def test_the_text_report_shows_periods_dimensions_and_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cdrs", "check", write(tmp_path, complex_monday(9.00)), "--time-zone", "Europe/Berlin"]) == 0
    out = capsys.readouterr().out
    assert "time zone: Europe/Berlin" in out
    assert "2026-03-02T12:15:00+01:00" in out  # the parking period, in local time
    assert "step_size 300: 0.7 h billed as 0.75" in out
    parking = next(line for line in out.splitlines() if line.startswith("parking "))
    assert "3.7500" in parking and "total_parking_cost 3.75" in parking and parking.rstrip().endswith("OK")
    assert out.rstrip().endswith("verdict: OK: recomputed total matches")


def test_without_a_time_zone_it_says_uncheckable_where_time_matters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cdrs", "check", write(tmp_path, complex_monday(9.00))]) == 0
    out = capsys.readouterr().out
    assert "time zone: unknown" in out and "verdict: UNCHECKABLE: no time zone for the location" in out


def test_json_prints_the_whole_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, complex_monday(9.50))
    assert main(["cdrs", "check", path, "--time-zone", "Europe/Berlin", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (
        data["verdict"] == "DISCREPANCY" and data["computed_excl_vat"] == 9.0 and data["difference"] == -0.5
    )
    assert set(data["dimensions"]) == {"energy", "time", "parking", "flat", "reservation"}
    assert len(data["periods"]) == 2


def test_the_spec_cdr_example_and_an_ocpi_envelope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = {"data": example("cdr_example.json"), "status_code": 1000, "timestamp": "2015-06-30T21:59:59Z"}
    assert main(["cdrs", "check", write(tmp_path, envelope), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "OK" and data["computed_excl_vat"] == 4.0


def test_a_file_that_is_not_a_cdr_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cdrs", "check", write(tmp_path, {"id": "x"})]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["cdrs", "check", str(tmp_path / "missing.json")]) == 2
