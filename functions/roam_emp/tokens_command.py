"""`roam-emp tokens failed|redrive|resync|import` (issue 12 "Redrive and reset", "Bulk initial load";
docs/tokens.md). Every rule lives behind the admin API (handlers/admin_tokens.py): this module
reads files, follows cursors and shows progress, nothing more."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from .admin_client import AdminClient

# Lines per admin call: well inside API Gateway's 29 s with five AWS calls per token.
IMPORT_CHUNK = 100
_BOOLEAN_COLUMNS = ("valid",)


def read_tokens(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, token, why it cannot be read) for every token line of a .csv or .jsonl file.
    CSV: a header of OCPI Token field names; empty cells are left out; ``valid`` true/false."""
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if suffix == ".csv":
            yield from _csv_lines(handle)
        elif suffix in (".jsonl", ".ndjson"):
            yield from _json_lines(handle)
        else:
            raise ValueError(f"{path}: expected a .csv or .jsonl file")


def _csv_lines(handle: TextIO) -> Iterator[tuple[int, Any, str | None]]:
    reader = csv.DictReader(handle)
    for row in reader:
        extra = row.pop(None, None)
        if extra:
            yield reader.line_num, None, f"{len(extra)} more cell(s) than the header has columns"
            continue
        token: dict[str, Any] = {k: v.strip() for k, v in row.items() if k and v is not None and v.strip()}
        if not token:
            continue  # a blank line
        for column in _BOOLEAN_COLUMNS:
            if isinstance(token.get(column), str) and token[column].lower() in ("true", "false"):
                token[column] = token[column].lower() == "true"
        yield reader.line_num, token, None


def _json_lines(handle: TextIO) -> Iterator[tuple[int, Any, str | None]]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            yield number, json.loads(text), None
        except ValueError as error:
            yield number, None, f"not JSON: {error}"


class Progress:
    """One stderr line: a bar, tokens queued, the rate, the ETA of queueing, and the earliest
    time Plugsurfing can hold them all at the bulk share of its 3,000/min budget."""

    def __init__(self, total: int, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.out = out
        self.clock = clock
        self.started = clock()
        self.bulk_per_minute: int | None = None
        self.tty = out.isatty()

    def show(self, done: int, refused: int) -> None:
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = done / elapsed * 60
        width = 30
        filled = width * done // self.total if self.total else width
        left = self.total - done
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} lines "
            f"({refused:,} refused) {rate:,.0f}/min ETA {_duration(left / rate * 60 if rate else 0)}"
        )
        if self.bulk_per_minute:
            # Queued faster than the budget lets them out: the pushes end no sooner than this.
            pushes_end = max(0.0, self.total / self.bulk_per_minute * 60 - elapsed)
            line += f"; pushes at {self.bulk_per_minute:,}/min done in >= {_duration(pushes_end)}"
        self.out.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _pages(client: AdminClient, method: str, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        if method == "GET":
            suffix = f"&cursor={quote(cursor, safe='')}" if cursor else ""
            page = client.call("GET", f"{path}{suffix}")
        else:
            page = client.call(method, path, {**body, **({"cursor": cursor} if cursor else {})})
        yield page
        cursor = page.get("cursor")
        if not cursor:
            return


def cmd_failed(args: Any) -> int:
    client = AdminClient(args.api, args.region)
    tokens = [
        t for page in _pages(client, "GET", "/admin/tokens?push_state=FAILED", {}) for t in page["tokens"]
    ]
    if args.json:
        print(json.dumps(tokens, indent=2))
        return 0
    for t in tokens:
        print(f"{t['type']:<10} {t['uid']:<24} {t.get('contract_id') or '':<20} {t.get('failed_at') or ''}")
        print(f"    {t.get('push_error') or '(no error recorded)'}")
    print(f"{len(tokens)} FAILED token(s)", file=sys.stderr)
    return 0


def _sweep(args: Any, path: str, what: str) -> int:
    client = AdminClient(args.api, args.region)
    queued = moved = 0
    refused: list[dict[str, Any]] = []
    more = False
    for page in _pages(client, "POST", path, {}):
        queued += len(page["queued"])
        moved += page.get("dead_letters_moved", 0)
        more = more or page.get("dead_letters_more", False)
        refused.extend(page["refused"])
    while more:  # a dead-letter queue longer than one call moves
        page = client.call("POST", path, {"dead_letters_only": True})
        moved += page["dead_letters_moved"]
        more = page["dead_letters_more"]
    for r in refused:
        print(f"not queued: {r['type']} {r['uid']}: {r['reason']}")
    summary = f"{queued} token(s) queued {what}"
    if path.endswith("redrive"):
        summary += f"; {moved} dead-letter message(s) moved back onto the queue"
    print(summary + (f"; {len(refused)} not queued" if refused else ""))
    return 1 if refused else 0


def cmd_redrive(args: Any) -> int:
    return _sweep(args, "/admin/tokens/redrive", "again")


def cmd_resync(args: Any) -> int:
    return _sweep(args, "/admin/tokens/resync", "for a push (Plugsurfing held another version)")


def cmd_import(args: Any) -> int:
    path = Path(args.file)
    try:
        lines = list(read_tokens(path))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    client = AdminClient(args.api, args.region)
    refused: list[dict[str, Any]] = [{"line": n, "reason": why} for n, _, why in lines if why]
    readable = [(n, token) for n, token, why in lines if not why]
    progress = Progress(len(lines), sys.stderr)
    queued = 0
    for start in range(0, len(readable), args.chunk):
        chunk = readable[start : start + args.chunk]
        answer = client.call(
            "POST", "/admin/tokens/import", {"lines": [{"line": n, "token": t} for n, t in chunk]}
        )
        queued += answer["queued"]
        refused.extend(answer["refused"])
        progress.bulk_per_minute = answer.get("bulk_requests_per_minute")
        progress.show(queued + len(refused), len(refused))
    progress.finish()
    for r in sorted(refused, key=lambda r: r["line"]):
        print(f"{path.name}:{r['line']}: refused: {r['reason']}")
    print(f"{queued} token(s) queued, {len(refused)} line(s) refused")
    return 1 if refused else 0


def add_parser(sub: Any, admin: Callable[..., Any]) -> None:
    """Register the `tokens` group; ``admin`` adds a command with --api/--region (cli.py)."""
    group = sub.add_parser("tokens", help="token pushes: failures, redrive, re-sync, bulk import")
    tokens = group.add_subparsers(dest="tokens_command", required=True)
    failed = admin("failed", "list FAILED tokens with Plugsurfing's error", tokens)
    failed.add_argument("--json", action="store_true", help="print them as JSON")
    failed.set_defaults(func=cmd_failed)
    admin(
        "redrive", "queue FAILED tokens again and move the dead-letter queue's messages back", tokens
    ).set_defaults(func=cmd_redrive)
    admin(
        "resync", "push every token whose version Plugsurfing accepted last is not ours", tokens
    ).set_defaults(func=cmd_resync)
    load = admin("import", "queue tokens from a .csv or .jsonl file with the admin API's rules", tokens)
    load.add_argument("file", help="FILE.csv (header of OCPI Token fields) or FILE.jsonl (one Token a line)")
    load.add_argument("--chunk", type=int, default=IMPORT_CHUNK, help="lines per admin API call (<= 500)")
    load.set_defaults(func=cmd_import)
