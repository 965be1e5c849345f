"""The operator's scans over the tokens table (tokens failed/redrive/resync): every match exactly
once across pages, whatever the page size."""

from __future__ import annotations

import pytest

from roam_emp import topology
from roam_emp.store.tokens import PushState, Selection, TokenStore


def token(uid: str) -> dict[str, object]:
    return {
        "country_code": "NL",
        "party_id": "EMP",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NLEMPC{uid[-8:]:0>8}",
        "issuer": "x",
        "valid": True,
        "whitelist": "ALLOWED_OFFLINE",
        "last_updated": "2026-01-01T00:00:00Z",
    }


@pytest.mark.parametrize("page_size", [3, 7, None])
def test_pages_of_failed_and_out_of_sync_tokens_cover_each_once(
    aws_mock: dict[str, str], page_size: int | None
) -> None:
    store = TokenStore(aws_mock[topology.TOKENS_TABLE.env_var])
    failed, pushed, changed = [], [], []
    for i in range(24):
        uid = f"S{i:08d}"
        version = store.save_queued(token(uid))
        if i % 3 == 0:
            store.mark("RFID", uid, version, PushState.FAILED, "HTTP 400")
            failed.append(uid)
        else:
            store.mark("RFID", uid, version, PushState.PUSHED)
            pushed.append(uid)
            if i % 3 == 1:  # a later change stored: Plugsurfing holds another version
                store.save_queued({**token(uid), "visual_number": "NEW"})
                changed.append(uid)

    def every(which: Selection) -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page, cursor = store.scan_page(which, cursor, min_items=2, page_size=page_size)
            seen.extend(t.token["uid"] for t in page)
            if cursor is None:
                return seen

    assert sorted(every(Selection.FAILED)) == failed  # each once: no duplicates across pages
    # never accepted (the FAILED ones) or accepted another version than ours
    assert sorted(every(Selection.OUT_OF_SYNC)) == sorted(failed + changed)
