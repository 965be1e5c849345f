"""The cost check as text a disputes team can read: per period and dimension how the number came
about, then per dimension the computed cost next to the CDR's own breakdown, then the verdict."""

from __future__ import annotations

from typing import Any

from .check import CostVerdict


def _n(value: float | None, places: int = 4) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _period_rows(periods: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for period in periods:
        start = period["local_start"] or period["start_date_time"] + " (UTC)"
        lines = period["lines"] or [None]
        for i, line in enumerate(lines):
            first = i == 0
            cells = [
                str(period["index"]) if first else "",
                start if first else "",
                period["tariff_id"] or "-",
            ]
            if line is None:
                rows.append([*cells, "-", "", "", "", "", "", "no priced volume"])
                continue
            rows.append(
                [
                    *cells,
                    line["dimension"],
                    f"{line['volume']:.6g} {line['unit']}".strip(),
                    "-" if line["element"] is None else f"#{line['element']}",
                    _n(line["price"]),
                    "-" if line["step_size"] is None else str(line["step_size"]),
                    _n(line["cost_excl_vat"]),
                    line["note"],
                ]
            )
    return rows


def render(verdict: CostVerdict, title: str = "") -> str:
    data = verdict.as_dict()
    out = [title] if title else []
    out.append(f"time zone: {data['time_zone'] or 'unknown'}; currency {data['currency']}; amounts excl. VAT")
    if data["periods"]:
        header = [
            "period",
            "start",
            "tariff",
            "dimension",
            "volume",
            "element",
            "price",
            "step",
            "cost",
            "note",
        ]
        out += ["", *_grid(header, _period_rows(data["periods"]))]
    if data["dimensions"]:
        rows = [
            [
                name,
                f"{d['volume']:.6g} {d['unit']}".strip(),
                f"{d['billed_volume']:.6g} {d['unit']}".strip(),
                ", ".join(f"#{c['element']} {c['price']:g}/{c['step_size']}" for c in d["components"]) or "-",
                _n(d["cost_excl_vat"]),
                f"{d['reported_field']} {_n(d['reported_excl_vat'], 2)}",
                d["status"],
            ]
            for name, d in data["dimensions"].items()
        ]
        rows.append(
            [
                "total",
                "",
                "",
                "",
                _n(data["computed_excl_vat"]),
                f"total_cost {_n(data['reported_excl_vat'], 2)}",
                "",
            ]
        )
        header = ["dimension", "volume", "billed", "components (price/step)", "computed", "CDR", "compared"]
        out += ["", *_grid(header, rows)]
    if data["price_bound"]:
        out.append(f"{data['price_bound']['applied']} applied: {data['price_bound']['excl_vat']}")
    out += [f"note: {note}" for note in data["notes"]]
    out += ["", f"verdict: {data['verdict']}: {data['detail']}"]
    return "\n".join(out)
