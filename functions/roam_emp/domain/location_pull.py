"""Location pulls from Plugsurfing (FAQ "Retrieving locations").

Plugsurfing never pushes Locations. A *full* pull walks the whole network and reconciles the cache
(locations absent from a completed full pull are removed); a *delta* pull asks for what changed
since the last completed pull began (minus an overlap), which includes locations whose inlined
tariff changed. Either way:

- one pull at a time, guarded by a DynamoDB lease that a crashed holder loses when it expires;
- pages of at most 250, the next one only via the Link header's URL, untouched (smart_paging);
- a checkpoint after every page (next URL, counters, and for a full pull the page's ids), so a
  pull that hits a 429 storm, crashes or runs out of Lambda time resumes where it stopped;
- a new pull (not a next page) at most once a minute (the FAQ's soft limit);
- one malformed location is logged with its id and counted; the rest of the page is stored;
- a full pull that cannot start (too soon after another pull, the lease held, a delta run in
  progress) is remembered and run by the next pull that can start (issue 10: the nightly full
  pull must never be dropped silently);
- a checkpointed ``smart_paging`` URL that Plugsurfing refuses (a 4xx), or that fails
  ``MAX_FAILED_RESUMPTIONS`` times in a row, closes the run as FAILED: the next pull starts afresh
  (a failed full pull is owed again), instead of resuming a dead cursor forever.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import Settings
from ..hub.client import HubClient
from ..hub.errors import HubError, HubRateLimited, HubRejected, HubUnauthorized, RateBudgetExhausted
from ..hub.factory import hub_client
from ..ocpi.common import DateTime, ci_key
from ..ocpi.enums import OpenStatus
from ..ocpi.leniency import DeviationLog, check_inbound, parse_inbound, shared_parts
from ..ocpi.locations import Location
from ..ocpi.tariffs import Tariff
from ..ocpi.timestamps import format_timestamp, utcnow
from ..store.credentials import CredentialsVault
from ..store.locations import (
    IncomingLocation,
    LocationCache,
    StatusChange,
    UpsertResult,
    encode,
    finite_numbers,
)
from ..store.pull_state import PullMode, PullRun, PullStateStore, RunStatus, SyncState
from ..store.registration import ConnectionStore

logger = Logger(child=True)

PAGE_LIMIT = 250  # Roam OCPI's maximum page size (FAQ)
LEASE_TTL_S = 120.0
# Stop taking new pages when less than this is left of the invocation (a page with retries).
SAFETY_MARGIN_S = 45.0
# Consecutive failures of one next-page URL before the run is given up (each already retried).
MAX_FAILED_RESUMPTIONS = 5


@dataclass
class PullOutcome:
    # completed | paused | interrupted | failed | busy | too_soon | not_registered | refused
    status: str
    run: PullRun | None = None
    detail: str = ""
    deviations: DeviationLog = field(default_factory=DeviationLog)
    pages_this_invocation: int = 0
    changed_tariffs: int = 0  # this invocation's new versions of known tariff ids
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "pages_this_invocation": self.pages_this_invocation,
            "seconds": round(self.seconds, 3),
            "run": self.run.model_dump(mode="json") if self.run else None,
        }


class _EvseStatus(BaseModel):
    """An EVSE's part of a status-only change, validated as Location.EVSE validates it."""

    model_config = ConfigDict(extra="ignore", title="EVSE", defer_build=True)
    status: OpenStatus
    last_updated: DateTime


class _StatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore", title="Location", defer_build=True)
    last_updated: DateTime
    evses: list[_EvseStatus] | None = None


def page_validation(known_finite: bool = False) -> AbstractContextManager[None]:
    """Where a page's locations are validated: they inline the same few tariffs again and again,
    and each tariff content is validated once and shared (issue 11; ocpi/leniency.py). The
    Locations built here are read by the store, never changed. ``known_finite``: the page held
    no NaN or infinity, so a tariff holding ``null`` is shared too."""
    return shared_parts(Tariff, finite_numbers=known_finite)


def _has_id(raw: dict[str, Any]) -> bool:
    return isinstance(raw.get("id"), str) and bool(raw["id"])


def _status_change(raw: Any, deviations: DeviationLog) -> StatusChange | None:
    """The statuses and stamps of a location whose shape is what we stored (validated then), or
    None when they do not validate (the whole location is then validated, and refused)."""
    try:
        change, found = parse_inbound(_StatusChange, raw)
    except ValidationError:
        return None
    deviations.items.extend(found.items)
    return StatusChange(change.last_updated, [e.status for e in change.evses or []])


@dataclass
class PageResult:
    ids: list[str]
    upsert: UpsertResult
    rejected: int


@dataclass
class LocationPuller:
    config: Settings
    cache: LocationCache
    state: PullStateStore
    connections: ConnectionStore
    vault: CredentialsVault
    client_factory: Callable[[Settings, Callable[[], str | None]], HubClient] = hub_client
    clock: Callable[[], datetime] = utcnow
    lease_ttl_s: float = LEASE_TTL_S

    @classmethod
    def from_settings(cls, config: Settings) -> LocationPuller:
        return cls(
            config=config,
            cache=LocationCache(config.locations_table, config.location_doc_compression),
            state=PullStateStore(config.state_table),
            connections=ConnectionStore(config.state_table),
            vault=CredentialsVault(config.credentials_secret, config.secret_cache_s),
        )

    def run(self, requested: PullMode, *, time_left_s: Callable[[], float]) -> PullOutcome:
        started = time.monotonic()
        holder = str(uuid.uuid4())
        if not self.state.acquire(holder, self.lease_ttl_s):
            if requested is PullMode.FULL:
                self.state.request_full("busy: another pull held the lease")
            return PullOutcome("busy", self.state.run(), "another pull holds the lease")
        try:
            outcome = self._run_locked(requested, holder, time_left_s)
        finally:
            self.state.release(holder)
        outcome.seconds = time.monotonic() - started
        return outcome

    def _run_locked(self, requested: PullMode, holder: str, time_left_s: Callable[[], float]) -> PullOutcome:
        locations_url = self.connections.get().endpoint_url("locations", "SENDER")
        if not locations_url:
            return PullOutcome("not_registered", None, "no Locations SENDER endpoint: register first")
        run = self.state.run()
        if run is not None and run.status is RunStatus.RUNNING:
            run.invocations += 1  # resume at the checkpoint, whatever was requested
            if requested is PullMode.FULL and run.mode is PullMode.DELTA:
                self.state.request_full(f"a delta run was in progress: {run.run_id}")
        else:
            sync = self.state.sync()
            since_last = time.time() - sync.last_pull_started_epoch
            if since_last < self.config.location_pull_min_interval_s:
                if requested is PullMode.FULL:
                    self.state.request_full("too soon after the previous pull (soft limit)")
                return PullOutcome(
                    "too_soon",
                    run,
                    f"last pull started {since_last:.0f} s ago "
                    f"(at most one new pull per {self.config.location_pull_min_interval_s:.0f} s)",
                )
            pending = self.state.full_pending()
            run = self._new_run(PullMode.FULL if pending else requested, sync)
            sync.last_pull_started_epoch = time.time()
            self.state.save_sync(sync)
            self.state.save_run(run, holder, self.lease_ttl_s)
            if pending and run.mode is PullMode.FULL:
                self.state.clear_full_pending()  # the run is checkpointed: it resumes if we crash
            logger.info(
                "location pull started",
                extra={"run_id": run.run_id, "mode": run.mode, "date_from": run.date_from},
            )
        outcome = PullOutcome("paused", run)
        client = self.client_factory(self.config, lambda: self.vault.get().outbound)
        try:
            while True:
                if time_left_s() < SAFETY_MARGIN_S:
                    outcome.detail = "invocation time nearly spent; the next invocation resumes"
                    return outcome
                url, params = (run.next_url, None) if run.next_url else (locations_url, self._params(run))
                try:
                    page = client.get(url, params=params, correlation_id=run.run_id)
                except HubError as error:
                    run.interruptions += 1
                    run.last_error = str(error)
                    if run.next_url and self._cursor_is_dead(run, error):
                        self._fail(run, holder, f"smart_paging URL given up: {error}")
                        outcome.status, outcome.detail = "failed", run.last_error or ""
                        return outcome
                    self.state.save_run(run, holder, self.lease_ttl_s)
                    logger.warning(
                        "location pull interrupted; it resumes at the checkpoint",
                        extra={"run_id": run.run_id, "page": run.pages + 1, "error": str(error)},
                    )
                    outcome.status, outcome.detail = "interrupted", str(error)
                    return outcome
                known_finite = not page.non_finite_numbers
                with page_validation(known_finite), finite_numbers(known_finite):
                    result = self._process(
                        page.data if isinstance(page.data, list) else [], outcome.deviations
                    )
                run.pages += 1
                outcome.pages_this_invocation += 1
                run.locations += len(result.ids)
                run.created += len(result.upsert.created)
                run.updated += len(result.upsert.updated)
                run.unchanged += result.upsert.unchanged
                run.rejected += result.rejected
                run.new_tariffs += len(result.upsert.new_tariffs)
                run.changed_tariffs += len(result.upsert.changed_tariffs)
                outcome.changed_tariffs += len(result.upsert.changed_tariffs)
                run.next_url = page.next_url
                run.last_error = None
                run.failed_resumptions = 0
                seen = result.ids if run.mode is PullMode.FULL else None
                self.state.save_run(run, holder, self.lease_ttl_s, seen=seen)
                if run.next_url:
                    continue
                self._complete(run, holder)
                outcome.status = "completed"
                return outcome
        finally:
            client.close()

    @staticmethod
    def _cursor_is_dead(run: PullRun, error: HubError) -> bool:
        """A next-page URL Plugsurfing refuses (4xx, or an OCPI error) will never work again; one
        that keeps failing is given up after a few tries. Rate limits and our credentials are not
        the cursor's fault and never count (FAQ: 429 without Retry-After; issue 10)."""
        if isinstance(error, HubRateLimited | RateBudgetExhausted | HubUnauthorized):
            return False
        if isinstance(error, HubRejected):
            return True
        run.failed_resumptions += 1
        return run.failed_resumptions >= MAX_FAILED_RESUMPTIONS

    def _fail(self, run: PullRun, holder: str | None, reason: str) -> None:
        run.status, run.finished_at, run.last_error = RunStatus.FAILED, self.clock(), reason
        if holder is None:
            self.state.close_run(run)
        else:
            self.state.save_run(run, holder, self.lease_ttl_s)
        if run.mode is PullMode.FULL:
            self.state.request_full(f"full pull {run.run_id} failed")  # still owed
        sync = self.state.sync()
        sync.completed_runs = [run.model_dump(mode="json"), *sync.completed_runs][:10]
        self.state.save_sync(sync)
        logger.error(
            "location pull failed; the next pull starts afresh",
            extra={"run_id": run.run_id, "reason": reason},
        )

    def reset(self, reason: str = "reset by an operator") -> PullRun | None:
        """Close the current run as FAILED (an operator's way out of a wedged pull): the next pull
        starts a fresh run. Returns the closed run, or None when no run was in progress."""
        run = self.state.run()
        if run is None or run.status is not RunStatus.RUNNING:
            return None
        self._fail(run, None, reason)
        return run

    def _new_run(self, requested: PullMode, sync: SyncState) -> PullRun:
        now = self.clock()
        mode = requested
        date_from = None
        if requested is PullMode.DELTA:
            if sync.synced_since is None:
                mode = PullMode.FULL  # nothing to take a delta from: build the cache first
            else:
                date_from = sync.synced_since - timedelta(seconds=self.config.location_delta_overlap_s)
        return PullRun(
            run_id=f"{mode.value}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
            mode=mode,
            started_at=now,
            date_from=date_from,
        )

    @staticmethod
    def _params(run: PullRun) -> dict[str, str]:
        params = {"limit": str(PAGE_LIMIT)}
        if run.date_from is not None:
            params["date_from"] = format_timestamp(run.date_from)
        return params

    def _process(self, items: list[Any], deviations: DeviationLog) -> PageResult:
        """Change detection first, validation only for what changed (issue 11): each location's
        canonical bytes are computed once (hashed now; stored if it changed), the stored hashes
        read in one go, and an unchanged location (byte for byte what was validated and stored
        before) is not validated again. A status-only change validates its statuses and stamps;
        anything else, the whole location."""
        ids: list[str] = []
        incoming: list[IncomingLocation] = []
        rejected = unchanged = 0
        encoded = [encode(raw) if isinstance(raw, dict) and _has_id(raw) else None for raw in items]
        stored = self.cache.stored_hashes([e.location_id for e in encoded if e is not None])
        for raw, this in zip(items, encoded, strict=True):
            previous = stored.get(ci_key(this.location_id)) if this is not None else None
            if this is not None and previous is not None:
                if previous.content_hash == this.content_hash:
                    unchanged += 1
                    ids.append(this.location_id)
                    continue
                if previous.shape_hash == this.shape_hash:
                    change = _status_change(raw, deviations)
                    if change is not None:
                        ids.append(this.location_id)
                        incoming.append(IncomingLocation(None, raw, this, change))
                        continue
            location_id = raw.get("id") if isinstance(raw, dict) else None
            try:
                # the verdict, deviations and the fields the store reads: no model built (issue 11)
                location, found = check_inbound(Location, raw)
            except ValidationError as error:
                rejected += 1
                if isinstance(location_id, str):
                    ids.append(location_id)  # present in the feed: never removed for being malformed
                logger.error(
                    "malformed location skipped",
                    extra={
                        "location_id": location_id,
                        "errors": [
                            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5]
                        ],
                    },
                )
                continue
            deviations.items.extend(found.items)
            ids.append(location["id"])
            incoming.append(IncomingLocation(location, raw, this))
        # LocationUpserted / TariffAdded come from the locations table's stream (domain/outbox.py).
        upserted = self.cache.upsert(incoming, stored=stored, unchanged=unchanged)
        return PageResult(ids, upserted, rejected)

    def _complete(self, run: PullRun, holder: str) -> None:
        now = self.clock()
        if run.mode is PullMode.FULL:
            run.removed = self._reconcile(run)
        run.status = RunStatus.COMPLETED
        run.finished_at = now
        self.state.save_run(run, holder, self.lease_ttl_s)
        sync = self.state.sync()
        if sync.synced_since is None or run.started_at > sync.synced_since:
            sync.synced_since = run.started_at
        if run.mode is PullMode.FULL:
            sync.last_full_started_at, sync.last_full_completed_at = run.started_at, now
        sync.completed_runs = [run.model_dump(mode="json"), *sync.completed_runs][:10]
        self.state.save_sync(sync)
        logger.info("location pull completed", extra={"run": run.model_dump(mode="json")})

    def _reconcile(self, run: PullRun) -> int:
        """Remove what a *completed* full pull did not see (FAQ "How are removed Locations
        handled?"). An interrupted full pull never gets here, so it removes nothing."""
        # Location ids are CiString (types.asciidoc): a location seen as ``loc1`` is the cached ``LOC1``.
        seen = {ci_key(i) for i in self.state.seen(run.run_id)}
        cached = {ci_key(i) for i in self.cache.all_ids()}
        absent = sorted(cached - seen)
        if not absent:
            return 0
        if cached and len(absent) > self.config.location_max_removal_fraction * len(cached):
            run.last_error = (
                f"removal refused: {len(absent)} of {len(cached)} cached locations absent "
                f"(limit {self.config.location_max_removal_fraction:.0%})"
            )
            logger.error(
                "full pull would remove too much of the cache; nothing removed",
                extra={
                    "run_id": run.run_id,
                    "absent": len(absent),
                    "cached": len(cached),
                    "max_fraction": self.config.location_max_removal_fraction,
                },
            )
            return 0
        self.cache.remove(absent)  # LocationRemoved comes from the stream
        return len(absent)

    def status(self) -> dict[str, Any]:
        sync = self.state.sync()
        run = self.state.run()
        age = (self.clock() - sync.synced_since).total_seconds() if sync.synced_since else None
        full_age = (
            (self.clock() - sync.last_full_completed_at).total_seconds()
            if sync.last_full_completed_at
            else None
        )
        return {
            "current_run": run.model_dump(mode="json") if run else None,
            "sync": sync.model_dump(mode="json"),
            "cache_age_s": age,
            "full_pull_age_s": full_age,
            "full_pull_pending": self.state.full_pending(),
        }
