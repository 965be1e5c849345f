"""The token load of the push benchmarks (bench/tokens.py, bench/token_fleet.py)."""

from __future__ import annotations

import json
from typing import Any


def store_tokens(pusher: Any, prefix: str, count: int) -> list[str]:
    """Tokens stored QUEUED as the admin API stores them (without a queue message): the messages
    the consumers are handed. Stored in parallel: this is set-up, not measured."""
    from concurrent.futures import ThreadPoolExecutor

    service = pusher.service

    def store(i: int) -> str:
        token = service.complete(
            {"uid": f"{prefix}{i:07d}", "type": "RFID", "contract_id": f"NLEMP{prefix}{i:08d}"}
        )
        version = service.store.save_queued(token)
        return json.dumps({"type": "RFID", "uid": token["uid"], "version": version})

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(store, range(count)))
