"""cdk.json context -> StackConfig: every key checked at synth time, and handed to the Lambdas."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from infra.config import StackConfig


def config(**context: Any) -> StackConfig:
    return StackConfig.from_context(App(context={"roam_emp": context}).node)


def test_defaults_reach_every_function() -> None:
    env = config().function_environment()
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["CDR_COST_TOLERANCE"] == "0.01"
    assert env["LOCATION_MAX_REMOVAL_FRACTION"] == "0.5"
    assert env["SUPPORT_LOG_HOURS"] == "48"
    assert env["HUB_REQUESTS_PER_MINUTE"] == "2900"
    # Plugsurfing's organisation defaults (FAQ "Tokens"): one token per contract_id, no change
    assert (env["MAX_TOKENS_PER_CONTRACT_ID"], env["ALLOW_CONTRACT_ID_CHANGE"]) == ("1", "false")


def test_token_organisation_settings_reach_the_functions() -> None:
    env = config(max_tokens_per_contract_id=25, allow_contract_id_change=True).function_environment()
    assert (env["MAX_TOKENS_PER_CONTRACT_ID"], env["ALLOW_CONTRACT_ID_CHANGE"]) == ("25", "true")


def test_operator_settings_are_passed_exactly() -> None:
    env = config(cdr_cost_tolerance=0.05, log_level="DEBUG", support_log_hours=72).function_environment()
    assert (env["CDR_COST_TOLERANCE"], env["POWERTOOLS_LOG_LEVEL"], env["SUPPORT_LOG_HOURS"]) == (
        "0.05",
        "DEBUG",
        "72",
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"no_such_key": 1}, "unknown roam_emp context keys"),
        ({"log_level": "TRACE"}, "log_level"),
        ({"cdr_cost_tolerance": "a lot"}, "cdr_cost_tolerance must be an amount"),
        ({"cdr_cost_tolerance": "-1"}, "non-negative"),
        ({"location_max_removal_fraction": 0}, "location_max_removal_fraction"),
        ({"support_log_hours": 0}, "support_log_hours"),
        ({"hub_requests_per_minute": 3001}, "3"),
        ({"country_code": "NLD"}, "country_code"),
        ({"max_tokens_per_contract_id": 26}, "max_tokens_per_contract_id"),
        ({"max_tokens_per_contract_id": 0}, "max_tokens_per_contract_id"),
        ({"allow_contract_id_change": "yes"}, "allow_contract_id_change"),
        ({"authorize_provisioned_concurrency": -1}, "authorize_provisioned_concurrency"),
    ],
)
def test_bad_settings_are_refused_at_synth(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**context)


def test_throttling_and_web_acl_settings_are_checked() -> None:
    assert config().ocpi_throttle_rate_per_second * 60 > 3000  # above Plugsurfing's 3,000/min
    assert config().waf_web_acl_arn == ""
    with pytest.raises(ValueError, match="ocpi_throttle"):
        config(ocpi_throttle_burst=0)
    with pytest.raises(ValueError, match="waf_web_acl_arn"):
        config(waf_web_acl_arn="arn:aws:wafv2:eu-central-1:123456789012:global/webacl/x/y")
