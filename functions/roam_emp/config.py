"""Runtime configuration of a Lambda (or of local mode), read once from the environment.

CDK sets these variables from `cdk.json` context (see infra/config.py for the defaults and
docs/configuration.md); local mode sets them for its in-process handlers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

from . import env_names
from .ocpi.countries import to_alpha3


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def _names(name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get(name, "").split(",") if p.strip())


def _list(name: str) -> tuple[str, ...]:
    """Codes (prefixes, countries): compared upper-case."""
    return tuple(p.upper() for p in _names(name))


@dataclass(frozen=True)
class Settings:
    country_code: str
    party_id: str
    business_name: str
    business_website: str | None
    state_table: str
    locations_table: str
    tokens_table: str
    authorizations_table: str
    token_push_queue_url: str
    sessions_table: str
    # Write session documents zlib-compressed (cdk.json compress_session_documents); off, as a
    # JSON string. Both forms are read either way (store/sessions.py; docs/operations.md).
    compress_session_documents: bool
    commands_table: str
    cdrs_table: str
    cdr_archive_bucket: str
    cdr_cost_tolerance: Decimal  # currency units; a larger recomputed difference is a discrepancy
    # contract_id prefixes registered with Plugsurfing (FAQ); empty = not checked.
    contract_id_prefixes: tuple[str, ...]
    # Plugsurfing's organisation settings for tokens (FAQ "Can multiple tokens share one
    # contract_id?": default 1, at most 25; "Can contract_id be changed after a token has been
    # pushed?": default off). They must equal what Plugsurfing configured for us.
    max_tokens_per_contract_id: int
    allow_contract_id_change: bool
    # Real-time authorization policy (FAQ "Tokens and authorization").
    supported_countries: tuple[str, ...]  # ISO alpha-3 as in Location.country; empty = any
    auth_unknown_location: str  # ALLOW | DENY, also when the reference is missing
    auth_hook_target: str | None  # a Lambda ARN, or an http(s) URL (local mode, tests)
    auth_hook_budget_ms: int
    auth_hook_fallback: str  # the AllowedType answered when the hook is slow or fails
    credentials_secret: str
    event_bus_name: str
    public_base_url: str | None
    # Plugsurfing allows 3,000 requests per clock minute and 1,000,000 per UTC day (FAQ "Rate
    # limiting / fair usage"); the defaults leave headroom for clock skew between us and them.
    hub_requests_per_minute: int
    hub_requests_per_day: int
    # Units of every minute only interactive calls (remote start/stop, credentials) may take, so a
    # bulk token load cannot starve them (hub/rate_limit.py; issue 12 "Bulk initial load").
    hub_interactive_reserve_per_minute: int
    hub_timeout_s: float
    secret_cache_s: int
    environment: str
    # Locations pulls (FAQ "Retrieving locations"): a new pull at most once a minute; a delta
    # starts a little before the last completed pull began (clock skew between us and the hub);
    # a full pull refuses to remove more than this fraction of the cache at once.
    location_pull_min_interval_s: float
    location_delta_overlap_s: float
    location_max_removal_fraction: float
    # How the pull compresses the location documents it writes, "zstd" or "zlib": "zlib" while a
    # rollback to a release that reads only zlib must stay possible (docs/operations.md).
    location_doc_compression: str
    # The support bundle searches these log groups (every function's; infra/functions.py) over
    # the last N hours when the session or CDR gives no better window.
    support_log_groups: tuple[str, ...]
    support_log_hours: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            country_code=_env("ROAM_EMP_COUNTRY_CODE", "NL"),
            party_id=_env("ROAM_EMP_PARTY_ID", "EMP"),
            business_name=_env("ROAM_EMP_BUSINESS_NAME", "Example EMP"),
            business_website=os.environ.get("ROAM_EMP_BUSINESS_WEBSITE") or None,
            state_table=_env(env_names.STATE_TABLE, "roam-emp-state"),
            locations_table=_env(env_names.LOCATIONS_TABLE, "roam-emp-locations"),
            tokens_table=_env(env_names.TOKENS_TABLE, "roam-emp-tokens"),
            authorizations_table=_env(env_names.AUTHORIZATIONS_TABLE, "roam-emp-authorizations"),
            token_push_queue_url=_env(env_names.TOKEN_PUSH_QUEUE_URL, ""),
            sessions_table=_env(env_names.SESSIONS_TABLE, "roam-emp-sessions"),
            compress_session_documents=_env("COMPRESS_SESSION_DOCUMENTS", "true").lower() == "true",
            commands_table=_env(env_names.COMMANDS_TABLE, "roam-emp-commands"),
            cdrs_table=_env(env_names.CDRS_TABLE, "roam-emp-cdrs"),
            cdr_archive_bucket=_env(env_names.CDR_ARCHIVE_BUCKET, "roam-emp-cdr-archive"),
            cdr_cost_tolerance=Decimal(_env("CDR_COST_TOLERANCE", "0.01")),
            contract_id_prefixes=_list("CONTRACT_ID_PREFIXES"),
            max_tokens_per_contract_id=int(_env("MAX_TOKENS_PER_CONTRACT_ID", "1")),
            allow_contract_id_change=_env("ALLOW_CONTRACT_ID_CHANGE", "false").lower() == "true",
            supported_countries=tuple(to_alpha3(c) or c for c in _list("SUPPORTED_COUNTRIES")),
            auth_unknown_location=_env("AUTH_UNKNOWN_LOCATION", "ALLOW").upper(),
            auth_hook_target=os.environ.get("AUTH_HOOK_TARGET") or None,
            auth_hook_budget_ms=int(_env("AUTH_HOOK_BUDGET_MS", "600")),
            auth_hook_fallback=_env("AUTH_HOOK_FALLBACK", "ALLOWED").upper(),
            credentials_secret=_env(env_names.HUB_CREDENTIALS_SECRET, "roam-emp/hub-credentials"),
            event_bus_name=_env(env_names.EVENT_BUS_NAME, "roam-emp"),
            public_base_url=(os.environ.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            hub_requests_per_minute=int(_env("HUB_REQUESTS_PER_MINUTE", "2900")),
            hub_requests_per_day=int(_env("HUB_REQUESTS_PER_DAY", "990000")),
            hub_interactive_reserve_per_minute=int(_env("HUB_INTERACTIVE_RESERVE_PER_MINUTE", "200")),
            hub_timeout_s=float(_env("HUB_TIMEOUT_S", "10")),
            secret_cache_s=int(_env("SECRET_CACHE_S", "30")),
            environment=_env("ROAM_EMP_ENVIRONMENT", "local"),
            location_pull_min_interval_s=float(_env("LOCATION_PULL_MIN_INTERVAL_S", "60")),
            location_delta_overlap_s=float(_env("LOCATION_DELTA_OVERLAP_S", "120")),
            location_max_removal_fraction=float(_env("LOCATION_MAX_REMOVAL_FRACTION", "0.5")),
            location_doc_compression=_env("LOCATION_DOC_COMPRESSION", "zstd").lower(),
            support_log_groups=_names(env_names.SUPPORT_LOG_GROUPS),
            support_log_hours=int(_env("SUPPORT_LOG_HOURS", "48")),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def reset() -> None:
    """Forget the cached settings (tests and local mode change the environment)."""
    settings.cache_clear()


T = TypeVar("T")


def per_settings(factory: Callable[[Settings], T]) -> Callable[[], T]:
    """A lazily built, cached object for the current settings: warm Lambdas build it once, and
    it is rebuilt when the settings are reset (local mode and tests change the environment)."""
    cached = lru_cache(maxsize=1)(factory)

    def get() -> T:
        return cached(settings())

    return get
