"""`make bench`: run every benchmark, print JSON, keep a copy in bench/results/."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from . import cdrs, foundation, locations, tokens


def main() -> int:
    results: dict[str, object] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    # Each section is written as soon as it is done: a late failure keeps the earlier numbers.
    for name, section in (
        ("foundation", foundation),
        ("locations", locations),
        ("cdrs", cdrs),
        ("tokens", tokens),
    ):
        results[name] = section.run()
        (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
