"""`make bench`: run every benchmark, print JSON, keep a copy in bench/results/."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from . import cdrs, foundation, locations, tokens


def main() -> int:
    results = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "foundation": foundation.run(),
        "locations": locations.run(),
        "tokens": tokens.run(),
        "cdrs": cdrs.run(),
    }
    text = json.dumps(results, indent=2)
    print(text)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
