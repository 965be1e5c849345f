"""botocore's data trimmed to the authorize function's calls and shipped with it (issue 11,
store/botocore_data.py): written from the installed botocore, the same requests as botocore's full
data, ignored when written for another botocore, and enough for every answer of the function."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from infra import bundling
from roam_emp.handlers import ocpi_authorize
from roam_emp.local.invoker import context_for
from roam_emp.store import aws, botocore_data

from .test_authorize import seeded  # noqa: F401 - the fixture, reused
from .test_authorize_hot_path import AUTHORIZE, INBOUND, _event

CALLS = botocore_data.CALLS["ocpi_authorize"]
BUILTIN = Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)
# What a request carries that changes with the clock or per call.
VOLATILE = {"X-Amz-Date", "Authorization", "amz-sdk-invocation-id", "amz-sdk-request"}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build step, as infra/bundling.py runs it, into a copy of the package's place."""
    [directory] = botocore_data.write_all(tmp_path_factory.mktemp("asset") / "roam_emp")
    return directory


def _structure(shape: Shape | None, seen: tuple[str, ...] = ()) -> Any:
    """A shape as botocore serializes and parses it: type, wire names, constraints, members."""
    if shape is None:
        return None
    if shape.name in seen:
        return shape.name
    seen = (*seen, shape.name)
    out: dict[str, Any] = {
        "name": shape.name,
        "type": shape.type_name,
        "serialization": shape.serialization,
        "metadata": shape.metadata,
    }
    for part in ("member", "key", "value"):
        if hasattr(shape, part):
            out[part] = _structure(getattr(shape, part), seen)
    if hasattr(shape, "members"):
        out["members"] = {name: _structure(member, seen) for name, member in shape.members.items()}
    return out


def test_the_source_tree_ships_no_copy_that_could_go_stale() -> None:
    """Only the build writes the data (into the asset, or the bench's copy), never the tree."""
    assert not botocore_data.SHIPPED.exists()
    assert not botocore_data.directory_for("ocpi_authorize").exists()


def test_the_trimmed_models_are_the_installed_botocores(written: Path) -> None:
    manifest = json.loads((written / botocore_data.MANIFEST).read_text())
    assert manifest["botocore"] == botocore.__version__
    for kind in botocore_data.LISTED:  # the listing the loader answers with: a scan of botocore's
        assert manifest["services"][kind] == BUILTIN.list_available_services(kind)
    for service, operations in CALLS.items():
        version = BUILTIN.determine_latest_version(service, "service-2")
        full = ServiceModel(BUILTIN.load_data(f"{service}/{version}/service-2"), service)
        trimmed = ServiceModel(
            json.loads((written / service / version / "service-2.json").read_text()), service
        )
        assert trimmed.metadata == full.metadata
        discovery = [full.endpoint_discovery_operation.name] if full.endpoint_discovery_operation else []
        assert sorted(trimmed.operation_names) == sorted([*operations, *discovery])
        for name in trimmed.operation_names:
            ours, theirs = trimmed.operation_model(name), full.operation_model(name)
            for part in ("http", "metadata", "endpoint_discovery", "auth_type", "context_parameters"):
                assert getattr(ours, part) == getattr(theirs, part), (service, name, part)
            for shape in ("input_shape", "output_shape"):
                assert _structure(getattr(ours, shape)) == _structure(getattr(theirs, shape)), (name, shape)
            assert [_structure(e) for e in ours.error_shapes] == [_structure(e) for e in theirs.error_shapes]
        rules = json.loads((written / service / version / "endpoint-rule-set-1.json").read_text())
        assert rules == BUILTIN.load_data(f"{service}/{version}/endpoint-rule-set-1")
    endpoints = json.loads((written / "endpoints.json").read_text())
    for ours, theirs in zip(
        endpoints["partitions"], BUILTIN.load_data("endpoints")["partitions"], strict=True
    ):
        assert ours["services"] == {k: v for k, v in theirs["services"].items() if k in CALLS}
        assert {k: v for k, v in ours.items() if k != "services"} == {
            k: v for k, v in theirs.items() if k != "services"
        }


class _Raw:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


def _sent(session: botocore.session.Session, region: str, config: Config) -> list[Any]:
    """What each of CALLS sends (method, URL, headers, body), answered with {} unsent."""
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        headers = {k: v for k, v in request.headers.items() if k not in VOLATILE}
        sent.append((request.method, request.url, headers, request.body))
        return AWSResponse(request.url, 200, {}, _Raw())

    arguments = {
        "GetSecretValue": {"SecretId": "roam-emp/hub-credentials"},
        "GetItem": {
            "TableName": "t",
            "Key": {"pk": {"S": "TOK#RFID#X"}, "sk": {"S": "T"}},
            "ConsistentRead": True,
        },
        "PutItem": {
            "TableName": "t",
            "Item": {"pk": {"S": "A"}, "n": {"N": "1"}, "l": {"L": [{"BOOL": True}]}},
        },
    }
    for service, operations in CALLS.items():
        client = session.create_client(service, region_name=region, config=config)
        client.meta.events.register("before-send", capture)
        sent.append(client.meta.endpoint_url)
        for operation in operations:
            client._make_api_call(operation, arguments[operation])
    return sent


@pytest.mark.parametrize(
    ("region", "config"),
    [
        ("eu-central-1", Config()),
        ("us-east-1", Config(use_fips_endpoint=True)),
        ("eu-west-1", Config(use_dualstack_endpoint=True)),
        ("us-gov-west-1", Config()),
        ("cn-north-1", Config()),
    ],
)
def test_a_client_built_from_them_sends_the_same_requests(
    written: Path, region: str, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    sessions = [botocore.session.Session(), botocore.session.Session()]
    shipped = botocore_data.loader(written)
    assert isinstance(shipped, botocore_data.ShippedFirstLoader)
    sessions[1].register_component("data_loader", shipped)
    for session in sessions:
        session.set_credentials("AKIDEXAMPLE", "secret")
    full, trimmed = (_sent(session, region, config) for session in sessions)
    assert trimmed == full
    assert len(full) == len(CALLS) + sum(len(ops) for ops in CALLS.values())


def test_data_written_for_another_botocore_is_ignored(written: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(written, other)
    manifest = json.loads((other / botocore_data.MANIFEST).read_text())
    (other / botocore_data.MANIFEST).write_text(json.dumps({**manifest, "botocore": "1.0.0"}))
    assert botocore_data.loader(other) is None  # botocore's own data instead: slower, never wrong
    assert botocore_data.loader(tmp_path / "absent") is None  # the source tree: nothing shipped


def test_an_operators_own_data_path_wins(written: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(written.parent))
    assert botocore_data.loader(written) is None  # botocore's loader, with AWS_DATA_PATH


@contextmanager
def shipped_clients(directory: Path) -> Iterator[list[str]]:
    """Our clients built from ``directory`` from now on; yields the operations they call."""
    before = aws._shipped_data
    called: list[str] = []

    def record(client: Any, _service: str) -> None:
        client.meta.events.register("before-call", lambda model, **_: called.append(model.name))

    aws.use_shipped_data(directory)
    aws.add_client_hook("test_botocore_data", record)  # drops the cached clients
    try:
        yield called
    finally:
        aws.remove_client_hook("test_botocore_data")
        aws.use_shipped_data(before)
        aws.reset()


@pytest.mark.parametrize(
    ("service", "region", "fips"),
    [("s3", "us-east-1", "true"), ("s3", "aws-global", "false"), ("iam", "eu-central-1", "false")],
)
def test_a_service_the_data_was_not_written_for_gets_botocores_full_data(
    written: Path, monkeypatch: pytest.MonkeyPatch, service: str, region: str, fips: str
) -> None:
    """The trimmed endpoints.json lists only the shipped services: a global service's client (or
    S3 with FIPS) built from it fails or resolves elsewhere, so it comes from the full data."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", fips)
    full = botocore.session.get_session().create_client(service, region_name=region)
    with shipped_clients(written):
        shipped = aws.client(service)
        assert isinstance(
            aws._session_for("dynamodb").get_component("data_loader"), botocore_data.ShippedFirstLoader
        )
    assert (shipped.meta.endpoint_url, shipped.meta.region_name) == (
        full.meta.endpoint_url,
        full.meta.region_name,
    )


def test_the_authorize_function_answers_everything_with_only_the_shipped_operations(
    seeded: dict[str, str],  # noqa: F811 - the imported fixture
    written: Path,
) -> None:
    from roam_emp.config import settings
    from roam_emp.ocpi.auth_header import encode_token
    from roam_emp.store.credentials import CredentialsVault, HubTokens, clear_cache

    CredentialsVault(settings().credentials_secret).put(HubTokens(inbound=INBOUND))  # the full model
    clear_cache()
    good = {"Authorization": encode_token(INBOUND), "X-Request-ID": "req-1"}
    path = "/ocpi/2.2.1/tokens/{}/authorize"
    cases = [
        (path.format("VALID"), '{"location_id": "LOC1"}', good, 200, "ALLOWED"),
        (path.format("VALID"), '{"location_id": "NOWHERE"}', good, 200, "ALLOWED"),
        (path.format("VALID"), None, good, 200, "ALLOWED"),
        (path.format("DISABLED"), None, good, 200, "BLOCKED"),
        (path.format("NOPE"), None, good, 404, None),  # 2004: unknown token
        (path.format("VALID"), None, {"authorization": "Token d3Jvbmc=", "X-Request-ID": "r"}, 401, None),
    ]
    with shipped_clients(written) as called:
        for where, body, headers, status, allowed in cases:
            answer = ocpi_authorize.handler(_event("POST", where, body, headers), context_for(AUTHORIZE))
            assert answer["statusCode"] == status, (where, body, answer["body"])
            if allowed:
                assert json.loads(answer["body"])["data"]["allowed"] == allowed
        assert aws._session is not None
        assert isinstance(aws._session.get_component("data_loader"), botocore_data.ShippedFirstLoader)
        names = sorted(aws.dynamodb().meta.service_model.operation_names)
        assert names == ["DescribeEndpoints", "GetItem", "PutItem"]
    shipped_operations = {op for ops in CALLS.values() for op in ops}
    assert set(called) == shipped_operations  # every shipped one is used, nothing else is called
    assert called.count("PutItem") == 5  # a decision record for each request past the credentials


def _wheel_of_another_version(wheelhouse: Path, version: str) -> None:
    """The layer's botocore wheel, as if it were ``version`` (its ``__version__`` rewritten)."""
    [real] = [w for w in bundling.WHEELHOUSE.glob("botocore-*.whl") if bundling._BOTOCORE_WHEEL.match(w.name)]
    wheelhouse.mkdir()
    with (
        zipfile.ZipFile(real) as source,
        zipfile.ZipFile(wheelhouse / f"botocore-{version}-py3-none-any.whl", "w") as out,
    ):
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "botocore/__init__.py":
                data = re.sub(rb"__version__ = '[^']+'", f"__version__ = '{version}'".encode(), data)
            out.writestr(entry, data)


def test_the_data_is_written_from_the_layers_botocore(tmp_path: Path) -> None:
    """Lambda imports the layer's botocore: data written from the synth's own (another version
    after a later `make wheelhouse`) would be ignored, and the cold start lose its gain unseen."""
    if bundling.layer_botocore() is None:
        pytest.skip("no wheelhouse: `make wheelhouse` (make test builds it)")
    _wheel_of_another_version(tmp_path / "wheelhouse", "1.0.1")
    assert bundling.botocore_version(tmp_path / "wheelhouse") == "1.0.1"
    package = tmp_path / "asset" / "roam_emp"
    assert bundling.write_botocore_data(package, tmp_path / "wheelhouse") == "1.0.1"
    manifest = json.loads(
        (botocore_data.directory_for("ocpi_authorize", package) / botocore_data.MANIFEST).read_text()
    )
    assert manifest["botocore"] == "1.0.1" != botocore.__version__
    # The same wheelhouse as ours: written in this interpreter.
    assert bundling.write_botocore_data(package) == botocore.__version__ == bundling.botocore_version()
