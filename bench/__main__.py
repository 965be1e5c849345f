"""`make bench`: run every benchmark, print JSON, keep a copy in bench/results/.

`python -m bench tokens` (or any section names) runs only those sections and updates their
entries in bench/results/latest.json, keeping the other sections' last numbers. The fuzz section
(`make fuzz`, bench/fuzz.py) runs only when named."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from . import calls, cdrs, coldstart, foundation, fuzz, locations, tokens

SECTIONS = {
    "foundation": foundation,
    "coldstart": coldstart,
    "locations": locations,
    "cdrs": cdrs,
    "tokens": tokens,
    "calls": calls,
    "fuzz": fuzz,
}
# Run only when named (`make fuzz`): minutes, not seconds.
DEFAULT = [name for name in SECTIONS if name != "fuzz"]


def main(argv: list[str]) -> int:
    wanted = argv or DEFAULT
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
        return 2
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    latest = out / "latest.json"
    results: dict[str, object] = json.loads(latest.read_text()) if argv and latest.exists() else {}
    results |= {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # Each section is written as soon as it is done: a late failure keeps the earlier numbers.
    for name in wanted:
        results[name] = {
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **SECTIONS[name].run(),
        }
        latest.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
