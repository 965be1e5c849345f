"""Wrong credentials tokens cost no Secrets Manager reads beyond a bound, and a rotated token is
still accepted within that bound (issue 13): moto in-process, calls counted by botocore's events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.api import auth
from roam_emp.api.http import Unauthorized
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.store import aws, credentials
from roam_emp.store.credentials import FRESH_READ_INTERVAL_S, CredentialsVault, HubTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vault(
    aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[CredentialsVault, Clock, list[str]]:
    clock = Clock()
    monkeypatch.setattr(credentials, "_now", clock)
    monkeypatch.setattr(credentials, "_fresh_reads", {})
    store = CredentialsVault(aws_mock[topology.HUB_CREDENTIALS.env_var])
    store.put(HubTokens(inbound="good-token", outbound="theirs"))
    reads: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        reads.append(params["SecretId"])

    aws.secretsmanager().meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", count)
    return store, clock, reads


def _rotate_elsewhere(store: CredentialsVault, inbound: str) -> None:
    """Another Lambda (OcpiCredentials) stores new tokens: this process's cache knows nothing."""
    aws.secretsmanager().put_secret_value(
        SecretId=store.secret_name, SecretString=json.dumps({"inbound": inbound, "outbound": "theirs"})
    )


def test_a_flood_of_wrong_tokens_reads_the_secret_a_handful_of_times(
    vault: tuple[CredentialsVault, Clock, list[str]],
) -> None:
    _, clock, reads = vault
    auth.authenticate(encode_token("good-token"), auth.Scope.CONNECTED)  # warms the cache
    before = len(reads)
    for i in range(100):
        clock.now += 0.05  # 100 requests in 5 s
        with pytest.raises(Unauthorized):
            auth.authenticate(encode_token(f"wrong-{i}"), auth.Scope.CONNECTED)
    assert len(reads) - before <= 2, reads
    auth.authenticate(encode_token("good-token"), auth.Scope.CONNECTED)  # still served from cache


def test_a_rotated_token_is_accepted_within_the_bound(
    vault: tuple[CredentialsVault, Clock, list[str]],
) -> None:
    store, clock, reads = vault
    auth.authenticate(encode_token("good-token"), auth.Scope.CONNECTED)
    with pytest.raises(Unauthorized):  # an attacker's request just used this second's fresh read
        auth.authenticate(encode_token("wrong"), auth.Scope.CONNECTED)
    _rotate_elsewhere(store, "rotated-token")
    clock.now += FRESH_READ_INTERVAL_S / 2
    with pytest.raises(Unauthorized):  # within the bound: may wait
        auth.authenticate(encode_token("rotated-token"), auth.Scope.CONNECTED)
    clock.now += FRESH_READ_INTERVAL_S / 2
    auth.authenticate(encode_token("rotated-token"), auth.Scope.CONNECTED)  # never later than the bound
    with pytest.raises(Unauthorized):
        auth.authenticate(encode_token("good-token"), auth.Scope.CONNECTED)  # the old one is gone
    assert len(reads) <= 4, reads


def test_a_rotation_with_no_recent_fresh_read_is_accepted_at_once(
    vault: tuple[CredentialsVault, Clock, list[str]],
) -> None:
    store, clock, _ = vault
    auth.authenticate(encode_token("good-token"), auth.Scope.CONNECTED)
    clock.now += FRESH_READ_INTERVAL_S
    _rotate_elsewhere(store, "rotated-token")
    auth.authenticate(encode_token("rotated-token"), auth.Scope.CONNECTED)


def test_at_the_stacks_cache_age_a_new_token_works_at_once_and_an_old_one_lasts_the_age(
    vault: tuple[CredentialsVault, Clock, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window docs/security.md states for the stack's default (infra/config.py, 300 s): in a
    Lambda that has not seen the new token, the rotated-away one is accepted until the cached copy
    is `secret_cache_seconds` old, and no longer; the new one is accepted at once (the mismatch
    re-read); one GetSecretValue per cache age otherwise (docs/cost.md)."""
    from types import SimpleNamespace

    from infra.config import StackConfig

    store, clock, reads = vault
    age = StackConfig().secret_cache_seconds
    assert age == 300
    monkeypatch.setattr(credentials, "time", SimpleNamespace(monotonic=clock))
    credentials.clear_cache()
    lambda_vault = CredentialsVault(store.secret_name, cache_seconds=age)
    assert lambda_vault.get().inbound == "good-token"
    _rotate_elsewhere(store, "rotated-token")
    clock.now += age - 1
    assert lambda_vault.get().inbound == "good-token"  # the stated window: still accepted
    assert len(reads) == 1
    clock.now += 1
    assert lambda_vault.get().inbound == "rotated-token"  # and not a second longer
    assert len(reads) == 2
    _rotate_elsewhere(store, "rotated-again")
    clock.now += FRESH_READ_INTERVAL_S
    assert lambda_vault.recheck().inbound == "rotated-again"  # a new token: at once
