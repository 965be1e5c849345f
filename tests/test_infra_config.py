"""cdk.json context -> StackConfig: every key checked at synth time, and handed to the Lambdas."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from infra import bundling
from infra.config import StackConfig
from roam_emp.store import botocore_data


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


def test_the_location_document_compression_reaches_the_functions() -> None:
    """zstd by default; "zlib" for the first deploy over a release that reads only zlib
    (docs/operations.md): the pull reads it as LOCATION_DOC_COMPRESSION."""
    assert config().function_environment()["LOCATION_DOC_COMPRESSION"] == "zstd"
    assert (
        config(location_doc_compression="zlib").function_environment()["LOCATION_DOC_COMPRESSION"] == "zlib"
    )


def test_the_session_compression_switch_reaches_the_functions() -> None:
    """On by default (the cost target); off for the first deployment of an upgrade from a release
    that reads only JSON strings (docs/operations.md, "Upgrades")."""
    assert config().function_environment()["COMPRESS_SESSION_DOCUMENTS"] == "true"
    off = config(compress_session_documents=False).function_environment()
    assert off["COMPRESS_SESSION_DOCUMENTS"] == "false"
    with pytest.raises(ValueError, match="compress_session_documents"):
        config(compress_session_documents="no")


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
        # an alpha-2 code outside ocpi/countries.py would silently never match (issue 10)
        ({"supported_countries": ["DE", "BR"]}, "supported_countries: 'BR' is neither"),
        ({"supported_countries": ["DEUT"]}, "give its alpha-3 code"),
        ({"supported_countries": [49]}, "supported_countries: 49"),
        ({"hub_interactive_reserve_per_minute": 2900}, "hub_interactive_reserve_per_minute"),
        ({"hub_interactive_reserve_per_minute": -1}, "hub_interactive_reserve_per_minute"),
        ({"token_push_max_concurrency": 1}, "token_push_max_concurrency"),
        ({"authorize_provisioned_concurrency": -1}, "authorize_provisioned_concurrency"),
        ({"authorize_snapstart": "yes"}, "authorize_snapstart must be true or false"),
        ({"location_doc_compression": "brotli"}, "location_doc_compression must be one of"),
        # SnapStart runs on python3.12 and later only
        ({"authorize_snapstart": True, "lambda_python": "3.11"}, r"needs lambda_python 3\.12 or later"),
        # and Lambda refuses it together with provisioned concurrency
        (
            {"authorize_snapstart": True, "lambda_python": "3.12", "authorize_provisioned_concurrency": 1},
            "cannot both be on",
        ),
    ],
)
def test_bad_settings_are_refused_at_synth(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**context)


def test_supported_countries_in_alpha2_of_the_table_or_alpha3_reach_the_functions() -> None:
    env = config(supported_countries=["de", "NL", "XKX"]).function_environment()
    assert env["SUPPORTED_COUNTRIES"] == "de,NL,XKX"  # translated at run time (roam_emp/config.py)


def test_throttling_and_web_acl_settings_are_checked() -> None:
    assert config().ocpi_throttle_rate_per_second * 60 > 3000  # above Plugsurfing's 3,000/min
    assert config().waf_web_acl_arn == ""
    with pytest.raises(ValueError, match="ocpi_throttle"):
        config(ocpi_throttle_burst=0)
    with pytest.raises(ValueError, match="waf_web_acl_arn"):
        config(waf_web_acl_arn="arn:aws:wafv2:eu-central-1:123456789012:global/webacl/x/y")


# Environments, runtime and retention (docs/operations.md) ------------------------------------------


def in_environment(context: dict[str, Any], environments: dict[str, Any], env: str | None) -> StackConfig:
    app = App(context={"roam_emp": context, "roam_emp_environments": environments})
    return StackConfig.from_context(app.node, env)


def test_an_environment_overlays_its_own_settings_and_names_its_stack() -> None:
    base = {"environment": "prod", "log_retention_days": 30, "retention": {"commands_days": 60}}
    environments = {"stage": {"log_retention_days": 14, "retention": {"authorizations_days": 30}}}
    stage = in_environment(base, environments, "stage")
    assert (stage.environment, stage.stack_name, stage.log_retention_days) == ("stage", "stage-RoamEmp", 14)
    # an object is overlaid key by key: the base's commands_days stays
    assert (stage.retention.authorizations_days, stage.retention.commands_days) == (30, 60)
    prod = in_environment(base, environments, None)  # cdk.json's environment
    assert (prod.stack_name, prod.log_retention_days, prod.retention.authorizations_days) == (
        "prod-RoamEmp",
        30,
        400,
    )
    assert stage.function_environment()["ROAM_EMP_ENVIRONMENT"] == "stage"


def test_dash_c_env_picks_the_environment() -> None:
    app = App(context={"roam_emp": {"environment": "prod"}, "env": "stage"})
    assert StackConfig.from_context(app.node).stack_name == "stage-RoamEmp"


@pytest.mark.parametrize("name", ["Stage", "1stage", "stage_2", "", "averyveryverylongname"])
def test_an_environment_name_must_fit_resource_names(name: str) -> None:
    with pytest.raises(ValueError, match="environment must be"):
        config(environment=name)


def test_account_and_region_are_checked() -> None:
    assert (config(account="123456789012").account, config(region="eu-central-1").region) == (
        "123456789012",
        "eu-central-1",
    )
    with pytest.raises(ValueError, match="account"):
        config(account="12345")
    with pytest.raises(ValueError, match="region"):
        config(region="Frankfurt")


@pytest.mark.parametrize("python", ["3.8", "3.10", "3.14", "3"])
def test_synth_refuses_an_unsupported_lambda_python(python: str) -> None:
    with pytest.raises(ValueError, match=rf"lambda_python '{python}' is not supported.*python3\.11"):
        config(lambda_python=python)


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_snapstart_is_accepted_on_python_3_12_and_later(python: str) -> None:
    assert config(authorize_snapstart=True, lambda_python=python).authorize_snapstart is True
    assert bundling.runtime(python).supports_snap_start
    assert not bundling.runtime("3.11").supports_snap_start


def test_retention_defaults_fit_the_faq_and_accounting() -> None:
    retention = config().retention
    assert retention.cdr_archive_days >= 7 * 365  # accounting law: years, not Plugsurfing's 7 days
    assert retention.cdr_archive_object_lock == ""  # an option, off by default
    env = config(retention={"authorizations_days": 30, "commands_days": 7}).function_environment()
    assert (env["AUTHORIZATIONS_RETENTION_DAYS"], env["COMMANDS_RETENTION_DAYS"]) == ("30", "7")
    assert env["PULL_RUNS_RETENTION_DAYS"] == "3"


@pytest.mark.parametrize(
    ("retention", "message"),
    [
        ({"commands_days": 0}, "commands_days"),
        ({"cdr_archive_days": 3}, "7 days"),
        ({"cdr_archive_cold_after_days": 90, "cdr_archive_deep_archive_after_days": 120}, "at least 90"),
        ({"cdr_archive_days": 60}, "before cdr_archive_days"),
        ({"cdr_archive_object_lock": "WORM"}, "cdr_archive_object_lock"),
        ({"cdr_archive_object_lock": "COMPLIANCE", "cdr_archive_object_lock_days": 4000}, "at least"),
        ({"keep_forever": True}, "unknown roam_emp.retention keys"),
    ],
)
def test_bad_retention_is_refused(retention: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(retention=retention)


def test_shipped_bytecode_matches_the_pinned_runtime_or_none_ships(tmp_path: Path) -> None:
    """A .pyc holds its interpreter's magic number: only that Python version loads it."""
    same, other = tmp_path / "same", tmp_path / "other"
    bundling._CodeBundler(bundling.LOCAL_PYTHON).try_bundle(str(same))
    pycs = list((same / "roam_emp" / "handlers" / "__pycache__").glob("*.pyc"))
    assert pycs and all(p.read_bytes()[:4] == importlib.util.MAGIC_NUMBER for p in pycs)
    assert all(f".cpython-{bundling.LOCAL_PYTHON.replace('.', '')}." in p.name for p in pycs)
    # botocore's data trimmed for the authorize function, from this botocore (test_botocore_data.py)
    shipped = botocore_data.directory_for("ocpi_authorize", same / "roam_emp")
    assert botocore_data.loader(shipped) is not None
    runtime = "3.12" if bundling.LOCAL_PYTHON != "3.12" else "3.13"
    bundling._CodeBundler(runtime).try_bundle(str(other))
    assert (other / "roam_emp" / "handlers" / "ocpi_credentials.py").exists()
    assert not list((other / "roam_emp").rglob("*.pyc"))  # sources only: Lambda compiles them


def test_a_wheelhouse_for_another_python_is_refused(tmp_path: Path) -> None:
    for name in (
        "pydantic_core-2.41.5-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "httpx-0.28.1-py3-none-any.whl",
        "cryptography-44.0.0-cp39-abi3-manylinux_2_28_aarch64.whl",  # stable ABI: any 3.9+
    ):
        (tmp_path / name).touch()
    bundling.check_wheelhouse("3.11", tmp_path)
    with pytest.raises(
        RuntimeError, match=r"built for cp311, but the Lambda runtime is python3\.12.*make wheelhouse"
    ):
        bundling.check_wheelhouse("3.12", tmp_path)
    with pytest.raises(RuntimeError, match="no wheels"):
        bundling.check_wheelhouse("3.11", tmp_path / "empty")
