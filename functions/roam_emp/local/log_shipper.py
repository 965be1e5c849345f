"""Local mode's stand-in for Lambda's log delivery: the handlers' JSON lines go to moto's CloudWatch
Logs, one log group per function as in AWS, so the support bundle's Logs Insights search
(store/logs.py) runs locally against real log groups.

Lines are shipped at INFO and above whatever the console shows (``log_level`` of the runtime),
as a deployed function's INFO lines reach CloudWatch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import defaultdict
from typing import Any

from ..store import aws


class LogShipper(logging.Handler):
    def __init__(self, log_groups: dict[str, str], flush_every_s: float = 0.5) -> None:
        """``log_groups``: Lambda function name (as in the invocation context) -> log group."""
        super().__init__(level=logging.INFO)
        self.log_groups = log_groups
        self.flush_every_s = flush_every_s
        self._pending: list[tuple[str, int, str]] = []
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self.shipped = 0
        self.restore_levels = (logging.NOTSET, logging.NOTSET)  # the logger's, before shipping began

    def start(self) -> LogShipper:
        logs = aws.client("logs")
        for group in set(self.log_groups.values()):
            logs.create_log_stream(logGroupName=group, logStreamName="local")
        self._thread.start()
        return self

    def emit(self, record: logging.LogRecord) -> None:
        # Formatted now: the logger's keys belong to this moment of this invocation (Powertools
        # keeps the Lambda context keys, function_name among them, in its formatter).
        line = self.format(record)
        try:
            function = json.loads(line).get("function_name")
        except ValueError:
            return
        group = self.log_groups.get(str(function))
        if group:
            with self._pending_lock:
                self._pending.append((group, int(record.created * 1000), line))

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            self.ship()

    def ship(self) -> None:
        """Send what is pending (not ``flush``: logging calls that at interpreter exit, when the
        local AWS is long gone)."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for group, at, line in pending:
            by_group[group].append({"timestamp": at, "message": line})
        logs = aws.client("logs")
        for group, events in by_group.items():
            events.sort(key=lambda e: e["timestamp"])
            for first in range(0, len(events), 1000):
                batch = events[first : first + 1000]
                # Best effort, as Lambda's own delivery: a lost local line must not stop a handler.
                with contextlib.suppress(Exception):
                    logs.put_log_events(logGroupName=group, logStreamName="local", logEvents=batch)
                    self.shipped += len(batch)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.ship()
