"""Stack configuration from `cdk.json` context (docs/configuration.md).

Every key lives under the ``roam_emp`` context object; anything left out takes the default below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from aws_cdk import Aws
from constructs import Node

from roam_emp import environments
from roam_emp.ocpi.countries import ALPHA2_TO_ALPHA3
from roam_emp.store import retention as ttl
from roam_emp.store.compression import CODECS

_CODE = re.compile(r"^[A-Z]{2}$")
_PARTY = re.compile(r"^[A-Z0-9]{3}$")
_ALPHA3 = re.compile(r"^[A-Za-z]{3}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_LOCK_MODES = ("", "GOVERNANCE", "COMPLIANCE")
# Python versions Lambda runs (and our code supports: 3.11 at least, pyproject requires-python).
SUPPORTED_PYTHON = ("3.11", "3.12", "3.13")
_WEB_ACL = re.compile(r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[^/]+/[^/]+$")


@dataclass(frozen=True)
class AuthorizationPolicy:
    """Real-time authorization policy (FAQ "Tokens and authorization"); used by the tokens module."""

    # What to answer when the authorize request has no, or an unknown, location reference. The
    # FAQ's "full control" recipe is deny (with whitelist NEVER).
    unknown_location: str = "ALLOW"
    # Answer given when the EMP's hook is slow or fails (must stay well inside Plugsurfing's 1-10 s).
    hook_fallback: str = "ALLOWED"
    hook_function_arn: str = ""
    hook_budget_ms: int = 600  # well under Plugsurfing's shortest timeout (1 s)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long data is kept (docs/operations.md "Retention"). Days; 0 = never expires."""

    # DynamoDB TTL (``expires_at``), written by the store code (store/retention.py).
    authorizations_days: int = ttl.AUTHORIZATIONS.default_days
    commands_days: int = ttl.COMMANDS.default_days
    pull_runs_days: int = ttl.PULL_RUNS.default_days
    # The CDR archive (S3): billing evidence. Accounting law keeps invoices' records for years
    # (e.g. 7 in NL, up to 10 in DE); Plugsurfing resends a CDR for only 7 days (FAQ "What is the
    # retry behavior of CDRs?"), so the archive, not Plugsurfing, is the long-term record.
    cdr_archive_days: int = 3653
    # Glacier Instant Retrieval: cheaper, still read in milliseconds (`roam-emp cdrs reprocess`).
    cdr_archive_cold_after_days: int = 90
    # Deep Archive: cheapest, but hours to read back (reprocess of such a CDR then fails). 0 = off.
    cdr_archive_deep_archive_after_days: int = 0
    # Object Lock (WORM) on the archive: "" (off), GOVERNANCE or COMPLIANCE. Only on a new bucket:
    # decide before the first deploy. Locked versions cannot be deleted before the lock ends.
    cdr_archive_object_lock: str = ""
    cdr_archive_object_lock_days: int = 3653

    def validate(self) -> None:
        for name in ("authorizations_days", "commands_days", "pull_runs_days"):
            if not 1 <= getattr(self, name) <= 3653:
                raise ValueError(f"retention.{name} must be 1..3653 days")
        if self.cdr_archive_days and self.cdr_archive_days < 7:
            raise ValueError(
                "retention.cdr_archive_days must be 0 (forever) or at least 7: Plugsurfing resends "
                "a CDR for 7 days (FAQ), and the archive is the billing evidence"
            )
        cold, deep = self.cdr_archive_cold_after_days, self.cdr_archive_deep_archive_after_days
        if cold < 0 or deep < 0 or (cold and deep and deep < cold + 90):
            raise ValueError(
                "retention.cdr_archive_deep_archive_after_days must be 0 or at least 90 days after "
                "cdr_archive_cold_after_days (Glacier Instant Retrieval's minimum storage duration)"
            )
        for after in (cold, deep):
            if self.cdr_archive_days and after and after >= self.cdr_archive_days:
                raise ValueError("retention: an archive transition must come before cdr_archive_days")
        if self.cdr_archive_object_lock not in _LOCK_MODES:
            raise ValueError(f"retention.cdr_archive_object_lock must be one of {_LOCK_MODES}")
        if self.cdr_archive_object_lock and not 1 <= self.cdr_archive_object_lock_days <= 36500:
            raise ValueError("retention.cdr_archive_object_lock_days must be 1..36500")
        if (
            self.cdr_archive_object_lock
            and self.cdr_archive_days
            and self.cdr_archive_days < self.cdr_archive_object_lock_days
        ):
            raise ValueError("retention.cdr_archive_days must be at least cdr_archive_object_lock_days")

    def function_environment(self) -> dict[str, str]:
        return {
            ttl.AUTHORIZATIONS.env_var: str(self.authorizations_days),
            ttl.COMMANDS.env_var: str(self.commands_days),
            ttl.PULL_RUNS.env_var: str(self.pull_runs_days),
        }


@dataclass(frozen=True)
class StackConfig:
    country_code: str = "NL"  # our OCPI country_code (eMSP)
    party_id: str = "EMP"  # our OCPI party_id (eMSP)
    business_name: str = "Example EMP"
    business_website: str = ""
    # The deployment environment (docs/operations.md): prefixes the stack name, and with it every
    # generated resource name; a label on every log line (Plugsurfing support asks for it).
    # `-c env=stage` overrides it; `roam_emp_environments.<name>` in cdk.json holds its settings.
    environment: str = "prod"
    account: str = ""  # "" = `-c account=` or CDK_DEFAULT_ACCOUNT (the CLI's credentials)
    region: str = ""  # "" = `-c region=` or CDK_DEFAULT_REGION
    # The Lambda runtime, pinned: never the interpreter that happens to run `cdk synth`.
    lambda_python: str = "3.11"
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    hub_versions_url: str = ""  # Plugsurfing's versions URL (documentation; register takes it too)
    public_base_url: str = ""  # custom domain in front of the API; empty = the API Gateway URL
    hub_requests_per_minute: int = 2900  # FAQ limit 3,000 per clock minute, minus clock-skew headroom
    hub_requests_per_day: int = 990000  # FAQ limit 1,000,000 per UTC day
    # Units of each minute's budget kept for interactive calls (remote start/stop, credentials):
    # token pushes never take them, so a bulk load cannot starve a driver (docs/tokens.md).
    hub_interactive_reserve_per_minute: int = 200
    # Lambda instances the token queue may drive at once (SQS event source maximum concurrency,
    # at least 2): enough to fill the bulk share of the budget, few enough not to queue up on it.
    token_push_max_concurrency: int = 3
    hub_timeout_seconds: float = 10.0
    # How long a warm Lambda keeps the credentials tokens before re-reading the secret. A new
    # token works at once (a mismatch forces a re-read, at most one per 5 s per Lambda); a token
    # rotated away or unregistered stays accepted by other warm Lambdas for up to this long.
    # 300 s: a rotation is a rare, planned handshake (docs/security.md); 30 s re-reads the secret
    # ten times as often (US$1.23 a month more for a mid-size EMP: docs/cost.md).
    secret_cache_seconds: int = 300
    location_delta_pull_minutes: int = 2  # FAQ recommends every 1-5 minutes
    location_full_pull_cron: str = "cron(30 2 * * ? *)"  # nightly full pull (UTC)
    command_timeout_sweep_minutes: int = 1  # the timer marking commands without a result TIMEOUT
    supported_countries: tuple[str, ...] = ()  # empty = whatever Plugsurfing delivers
    contract_id_prefixes: tuple[str, ...] = ()  # registered with Plugsurfing before token pushes
    # Plugsurfing's organisation settings (FAQ "Tokens"): tokens per contract_id (default 1, at
    # most 25) and whether a pushed token's contract_id may change (default off).
    max_tokens_per_contract_id: int = 1
    allow_contract_id_change: bool = False
    authorization: AuthorizationPolicy = field(default_factory=AuthorizationPolicy)
    location_cache_max_age_minutes: int = 15  # alarm when no pull completed for this long
    authorize_p99_alarm_ms: int = 800  # alarm when authorize p99 nears Plugsurfing's timeout (>= 1 s)
    # Pre-initialised authorize instances (no cold start inside Plugsurfing's 1-10 s timeout); each
    # costs about US$8.76/month at the function's 1,024 MB on arm64 (docs/performance.md). 0 = off.
    authorize_provisioned_concurrency: int = 0
    # Lambda SnapStart for the authorize function (python3.12 and later only; not together with
    # provisioned concurrency): new environments resume from a snapshot taken after the imports,
    # so a cold start skips them. Billed per cached GB-second and per GB restored
    # (docs/performance.md). API Gateway then invokes a published version through an alias.
    authorize_snapstart: bool = False
    alarm_email: str = ""  # subscribed to the alarm topic when set
    log_retention_days: int = 30
    log_level: str = "INFO"  # DEBUG adds request bodies (never credentials) to the logs
    cdr_cost_tolerance: str = "0.01"  # difference (currency units, excl. VAT) still counted as OK
    location_max_removal_fraction: float = 0.5  # a full pull never removes more of the cache at once
    # How the pull compresses the location documents it writes (store/compression.py): "zstd" (a
    # fully changed page's compression in about a third of zlib's time, issue 11) or "zlib" (what
    # releases before zstd wrote and read). Every reader reads both; a release before zstd reads
    # only zlib, so upgrading a live stack deploys "zlib" first (docs/operations.md).
    location_doc_compression: str = "zstd"
    support_log_hours: int = 48  # default window of the support bundle's log search
    retain_data: bool = True  # tables and secret survive `cdk destroy`
    # API Gateway throttling of every OCPI route (stage method settings; admin routes are IAM):
    # steady requests per second and burst, well above Plugsurfing's own 3,000 per minute (50/s).
    ocpi_throttle_rate_per_second: float = 200.0
    ocpi_throttle_burst: int = 400
    waf_web_acl_arn: str = ""  # an existing WAFv2 web ACL (REGIONAL) to attach to the stage; "" = none
    # Cost levers (docs/cost.md): API Gateway's per-method metrics are billed as custom metrics
    # (5 per method with traffic: 45 for a typical EMP); the API-level ones stay, free.
    api_detailed_metrics: bool = False
    # X-Ray on API Gateway and every function (Powertools Tracer follows through
    # POWERTOOLS_TRACE_DISABLED): Lambda samples 1 request/s + 5 %, i.e. nearly every invocation
    # at an EMP's rates; turn on while investigating.
    xray_tracing: bool = False
    # One alarm for all functions' errors and one for throttles (AWS/Lambda account-level
    # metrics), instead of two per function: a metric math alarm can sum at most 10 metrics and
    # is billed per metric it reads, so it would save nothing.
    consolidated_alarms: bool = True
    # Session documents stored zlib-compressed (store/sessions.py): a third of the storage and
    # write units of a long session (docs/cost.md). Readers take both forms; a release before
    # this switch reads only JSON strings, so a live stack upgrades in two deployments, off then
    # on (docs/operations.md, "Upgrades"): then a failed update's automatic rollback can still
    # read every session. On by default: off costs a mid-size EMP US$1.32 a month more.
    compress_session_documents: bool = True

    @classmethod
    def from_context(cls, node: Node, environment: str | None = None) -> StackConfig:
        """``roam_emp``, overlaid with ``roam_emp_environments.<environment>``; the environment is
        the argument, else ``-c env=...``, else ``roam_emp.environment``."""
        raw = node.try_get_context("roam_emp") or {}
        if not isinstance(raw, dict):
            raise ValueError("context 'roam_emp' must be an object")
        name = next(
            (n for n in (environment, node.try_get_context("env"), raw.get("environment")) if n is not None),
            cls.environment,
        )
        per_environment = node.try_get_context("roam_emp_environments") or {}
        if not isinstance(per_environment, dict) or not all(
            isinstance(v, dict) for v in per_environment.values()
        ):
            raise ValueError("context 'roam_emp_environments' must map environment names to objects")
        raw = _overlay(raw, per_environment.get(name, {}))
        raw["environment"] = environments.check_name(str(name))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown roam_emp context keys: {unknown}")
        values: dict[str, Any] = dict(raw)
        if "authorization" in values:
            values["authorization"] = AuthorizationPolicy(**values["authorization"])
        if "retention" in values:
            retention_keys = {f.name for f in fields(RetentionPolicy)}
            if unknown := sorted(set(values["retention"]) - retention_keys):
                raise ValueError(f"unknown roam_emp.retention keys: {unknown}")
            values["retention"] = RetentionPolicy(**values["retention"])
        for name in ("supported_countries", "contract_id_prefixes"):
            if name in values:
                values[name] = tuple(values[name])
        if "cdr_cost_tolerance" in values:  # a JSON number or string: kept exact as text
            values["cdr_cost_tolerance"] = str(values["cdr_cost_tolerance"])
        config = cls(**values)
        config.validate()
        return config

    def _validate_snapstart(self) -> None:
        if not isinstance(self.authorize_snapstart, bool):
            raise ValueError("authorize_snapstart must be true or false")
        if not self.authorize_snapstart:
            return
        if self.lambda_python == "3.11":
            raise ValueError(
                "authorize_snapstart needs lambda_python 3.12 or later: Lambda SnapStart supports the "
                "python3.12 and later runtimes only (docs/performance.md)"
            )
        if self.authorize_provisioned_concurrency > 0:
            raise ValueError(
                "authorize_snapstart and authorize_provisioned_concurrency cannot both be on: Lambda "
                "does not support SnapStart together with provisioned concurrency; choose one "
                "(docs/performance.md compares them)"
            )

    @property
    def stack_name(self) -> str:
        return environments.stack_name(self.environment)

    def validate(self) -> None:
        environments.check_name(self.environment)
        if self.account and not _ACCOUNT.match(self.account):
            raise ValueError(f"account must be a 12-digit AWS account id, got {self.account!r}")
        if self.region and not _REGION.match(self.region):
            raise ValueError(f"region must be an AWS region such as eu-central-1, got {self.region!r}")
        if self.lambda_python not in SUPPORTED_PYTHON:
            raise ValueError(
                f"lambda_python {self.lambda_python!r} is not supported: roam-emp runs on the Lambda "
                f'runtimes python{" / python".join(SUPPORTED_PYTHON)} (docs/operations.md "Runtime")'
            )
        self.retention.validate()
        if not _CODE.match(self.country_code):
            raise ValueError(f"country_code must be ISO 3166 alpha-2, got {self.country_code!r}")
        self._validate_supported_countries()
        if not _PARTY.match(self.party_id):
            raise ValueError(f"party_id must be 3 characters [A-Z0-9], got {self.party_id!r}")
        if not 1 <= self.location_delta_pull_minutes <= 60:
            raise ValueError("location_delta_pull_minutes must be 1..60 (FAQ: delta at most once a minute)")
        if not 1 <= self.command_timeout_sweep_minutes <= 15:
            raise ValueError("command_timeout_sweep_minutes must be 1..15 (a command's TIMEOUT waits for it)")
        if self.hub_requests_per_minute > 3000 or self.hub_requests_per_day > 1_000_000:
            raise ValueError(
                "hub request budgets may not exceed Plugsurfing's limits (3,000/min, 1,000,000/day)"
            )
        if not 0 <= self.hub_interactive_reserve_per_minute < self.hub_requests_per_minute:
            raise ValueError("hub_interactive_reserve_per_minute must be 0..hub_requests_per_minute-1")
        if not 2 <= self.token_push_max_concurrency <= 1000:
            raise ValueError("token_push_max_concurrency must be 2..1000 (SQS event source limits)")
        if not 1 <= self.max_tokens_per_contract_id <= 25:
            raise ValueError("max_tokens_per_contract_id must be 1..25 (FAQ: default 1, at most 25)")
        if not isinstance(self.allow_contract_id_change, bool):
            raise ValueError("allow_contract_id_change must be true or false")
        if self.authorization.unknown_location not in ("ALLOW", "DENY"):
            raise ValueError("authorization.unknown_location must be ALLOW or DENY")
        allowed = ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")
        if self.authorization.hook_fallback not in allowed:
            raise ValueError(f"authorization.hook_fallback must be one of {allowed}")
        if not 50 <= self.authorization.hook_budget_ms <= 5000:
            raise ValueError("authorization.hook_budget_ms must be 50..5000 (Plugsurfing waits 1-10 s)")
        if not 0 <= self.authorize_provisioned_concurrency <= 50:
            raise ValueError("authorize_provisioned_concurrency must be 0..50 (0 = off)")
        self._validate_snapstart()
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        try:
            tolerance = Decimal(self.cdr_cost_tolerance)
        except ArithmeticError as error:
            raise ValueError(f"cdr_cost_tolerance must be an amount: {self.cdr_cost_tolerance!r}") from error
        if not tolerance >= 0:
            raise ValueError("cdr_cost_tolerance must be a non-negative amount")
        if self.location_doc_compression not in CODECS:
            raise ValueError(
                f"location_doc_compression must be one of {CODECS}, got {self.location_doc_compression!r}"
            )
        if not 0 < self.location_max_removal_fraction <= 1:
            raise ValueError("location_max_removal_fraction must be in (0, 1]")
        if not 1 <= self.support_log_hours <= 744:
            raise ValueError("support_log_hours must be 1..744 (a month)")
        if not (self.ocpi_throttle_rate_per_second > 0 and self.ocpi_throttle_burst >= 1):
            raise ValueError("ocpi_throttle_rate_per_second must be > 0 and ocpi_throttle_burst >= 1")
        for switch in (
            "api_detailed_metrics",
            "xray_tracing",
            "consolidated_alarms",
            "compress_session_documents",
        ):
            if not isinstance(getattr(self, switch), bool):
                raise ValueError(f"{switch} must be true or false")
        if self.waf_web_acl_arn and not _WEB_ACL.match(self.waf_web_acl_arn):
            raise ValueError(
                f"waf_web_acl_arn must be a regional WAFv2 web ACL ARN, got {self.waf_web_acl_arn!r}"
            )

    def _validate_supported_countries(self) -> None:
        """Location.country is alpha-3 (mod_locations.asciidoc); an alpha-2 code is translated by
        the built-in table (ocpi/countries.py). One outside it would silently never match any
        location (issue 10), so synth refuses it and names the alpha-3 way out."""
        for country in self.supported_countries:
            code = country.strip().upper() if isinstance(country, str) else None
            if code is not None and (code in ALPHA2_TO_ALPHA3 or _ALPHA3.match(code)):
                continue
            raise ValueError(
                f"supported_countries: {country!r} is neither an ISO 3166 alpha-2 code of the built-in "
                "table (functions/roam_emp/ocpi/countries.py) nor an alpha-3 code; give its alpha-3 "
                "code (as in Location.country), e.g. 'DEU'"
            )

    def schedule_expression(self, setting: str) -> str:
        """A topology Schedule's expression: an int setting is a rate in minutes."""
        value = getattr(self, setting)
        if isinstance(value, int):
            return f"rate({value} minute{'s' if value != 1 else ''})"
        return str(value)

    def function_environment(self) -> dict[str, str]:
        """What every Lambda reads through roam_emp.config.Settings."""
        env = {
            "ROAM_EMP_COUNTRY_CODE": self.country_code,
            "ROAM_EMP_PARTY_ID": self.party_id,
            "ROAM_EMP_BUSINESS_NAME": self.business_name,
            "ROAM_EMP_ENVIRONMENT": self.environment,
            "HUB_REQUESTS_PER_MINUTE": str(self.hub_requests_per_minute),
            "HUB_REQUESTS_PER_DAY": str(self.hub_requests_per_day),
            "HUB_INTERACTIVE_RESERVE_PER_MINUTE": str(self.hub_interactive_reserve_per_minute),
            "HUB_TIMEOUT_S": str(self.hub_timeout_seconds),
            "SECRET_CACHE_S": str(self.secret_cache_seconds),
            "COMPRESS_SESSION_DOCUMENTS": "true" if self.compress_session_documents else "false",
            # The stack's name, so the metrics of two environments in one account stay apart
            # (Powertools' service dimension; infra/observability.py alarms on the same).
            "POWERTOOLS_SERVICE_NAME": Aws.STACK_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": "RoamEmp",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            "CDR_COST_TOLERANCE": self.cdr_cost_tolerance,
            "LOCATION_MAX_REMOVAL_FRACTION": str(self.location_max_removal_fraction),
            "LOCATION_DOC_COMPRESSION": self.location_doc_compression,
            "SUPPORT_LOG_HOURS": str(self.support_log_hours),
            "POWERTOOLS_TRACE_DISABLED": "false" if self.xray_tracing else "true",
        }
        if self.business_website:
            env["ROAM_EMP_BUSINESS_WEBSITE"] = self.business_website
        env["SUPPORTED_COUNTRIES"] = ",".join(self.supported_countries)
        env["CONTRACT_ID_PREFIXES"] = ",".join(self.contract_id_prefixes)
        env["MAX_TOKENS_PER_CONTRACT_ID"] = str(self.max_tokens_per_contract_id)
        env["ALLOW_CONTRACT_ID_CHANGE"] = "true" if self.allow_contract_id_change else "false"
        env["AUTH_UNKNOWN_LOCATION"] = self.authorization.unknown_location
        env["AUTH_HOOK_FALLBACK"] = self.authorization.hook_fallback
        env["AUTH_HOOK_BUDGET_MS"] = str(self.authorization.hook_budget_ms)
        if self.authorization.hook_function_arn:
            env["AUTH_HOOK_TARGET"] = self.authorization.hook_function_arn
        if self.public_base_url:
            env["PUBLIC_BASE_URL"] = self.public_base_url
        env.update(self.retention.function_environment())
        return env


def _overlay(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` over ``base``; an object (authorization, retention) is overlaid key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
