"""Stack configuration from `cdk.json` context (README "Configuration reference").

Every key lives under the ``roam_emp`` context object; anything left out takes the default below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from constructs import Node

_CODE = re.compile(r"^[A-Z]{2}$")
_PARTY = re.compile(r"^[A-Z0-9]{3}$")
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
class StackConfig:
    country_code: str = "NL"  # our OCPI country_code (eMSP)
    party_id: str = "EMP"  # our OCPI party_id (eMSP)
    business_name: str = "Example EMP"
    business_website: str = ""
    environment: str = "prod"  # a label carried by every log line (Plugsurfing support asks for it)
    hub_versions_url: str = ""  # Plugsurfing's versions URL (documentation; register takes it too)
    public_base_url: str = ""  # custom domain in front of the API; empty = the API Gateway URL
    hub_requests_per_minute: int = 2900  # FAQ limit 3,000 per clock minute, minus clock-skew headroom
    hub_requests_per_day: int = 990000  # FAQ limit 1,000,000 per UTC day
    hub_timeout_seconds: float = 10.0
    secret_cache_seconds: int = 30
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
    alarm_email: str = ""  # subscribed to the alarm topic when set
    log_retention_days: int = 30
    log_level: str = "INFO"  # DEBUG adds request bodies (never credentials) to the logs
    cdr_cost_tolerance: str = "0.01"  # difference (currency units, excl. VAT) still counted as OK
    location_max_removal_fraction: float = 0.5  # a full pull never removes more of the cache at once
    support_log_hours: int = 48  # default window of the support bundle's log search
    retain_data: bool = True  # tables and secret survive `cdk destroy`
    # API Gateway throttling of every OCPI route (stage method settings; admin routes are IAM):
    # steady requests per second and burst, well above Plugsurfing's own 3,000 per minute (50/s).
    ocpi_throttle_rate_per_second: float = 200.0
    ocpi_throttle_burst: int = 400
    waf_web_acl_arn: str = ""  # an existing WAFv2 web ACL (REGIONAL) to attach to the stage; "" = none

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        raw = node.try_get_context("roam_emp") or {}
        if not isinstance(raw, dict):
            raise ValueError("context 'roam_emp' must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown roam_emp context keys: {unknown}")
        values: dict[str, Any] = dict(raw)
        if "authorization" in values:
            values["authorization"] = AuthorizationPolicy(**values["authorization"])
        for name in ("supported_countries", "contract_id_prefixes"):
            if name in values:
                values[name] = tuple(values[name])
        if "cdr_cost_tolerance" in values:  # a JSON number or string: kept exact as text
            values["cdr_cost_tolerance"] = str(values["cdr_cost_tolerance"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not _CODE.match(self.country_code):
            raise ValueError(f"country_code must be ISO 3166 alpha-2, got {self.country_code!r}")
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
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        try:
            tolerance = Decimal(self.cdr_cost_tolerance)
        except ArithmeticError as error:
            raise ValueError(f"cdr_cost_tolerance must be an amount: {self.cdr_cost_tolerance!r}") from error
        if not tolerance >= 0:
            raise ValueError("cdr_cost_tolerance must be a non-negative amount")
        if not 0 < self.location_max_removal_fraction <= 1:
            raise ValueError("location_max_removal_fraction must be in (0, 1]")
        if not 1 <= self.support_log_hours <= 744:
            raise ValueError("support_log_hours must be 1..744 (a month)")
        if not (self.ocpi_throttle_rate_per_second > 0 and self.ocpi_throttle_burst >= 1):
            raise ValueError("ocpi_throttle_rate_per_second must be > 0 and ocpi_throttle_burst >= 1")
        if self.waf_web_acl_arn and not _WEB_ACL.match(self.waf_web_acl_arn):
            raise ValueError(
                f"waf_web_acl_arn must be a regional WAFv2 web ACL ARN, got {self.waf_web_acl_arn!r}"
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
            "HUB_TIMEOUT_S": str(self.hub_timeout_seconds),
            "SECRET_CACHE_S": str(self.secret_cache_seconds),
            "POWERTOOLS_SERVICE_NAME": "roam-emp",
            "POWERTOOLS_METRICS_NAMESPACE": "RoamEmp",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            "CDR_COST_TOLERANCE": self.cdr_cost_tolerance,
            "LOCATION_MAX_REMOVAL_FRACTION": str(self.location_max_removal_fraction),
            "SUPPORT_LOG_HOURS": str(self.support_log_hours),
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
        return env
