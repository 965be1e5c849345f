"""botocore's data, trimmed to what one function calls, written at bundling and shipped with it.

Creating the authorize function's two clients read 1.25 MB of ``endpoints.json`` (about 20 ms to
parse), two gzipped service models (DynamoDB's alone about 9 ms), and listed the ~450 service
directories of botocore's data twice (about 13 ms): most of the first call of a cold start, which
Plugsurfing's 1-10 s authorize timeout waits for (issue 11, docs/performance.md).

The build (``write_all``, called by infra/bundling.py for the code asset and by bench/coldstart.py
for the tree it measures) writes, from the botocore it runs with, beside the handler's package:

- ``endpoints.json`` with every partition, region and default, but only the services we call;
- each service's ``service-2.json`` reduced to the operations we call (plus the endpoint-discovery
  operation botocore looks for) and the shapes they reach, without documentation, uncompressed;
- each service's ``endpoint-rule-set-1.json``, uncompressed;
- a manifest: the botocore version, and the services botocore's own data lists per kind of file.

At run time botocore's loader looks in that directory first and finds everything else (retry
rules, SDK defaults) in its own data. The directory is botocore's own data, trimmed, so endpoints
are resolved as from the bundled ``endpoints.json`` (``is_builtin_path``): the same for the services
it was written for, but not for the others (a global service such as IAM, or S3 in ``aws-global``,
needs its own entry), so store/aws.py builds any other service's client from botocore's full data.
A manifest written for another botocore version (a layer upgraded without a new build) is ignored:
botocore's full data is used, slower, never wrong; so is the directory when ``AWS_DATA_PATH`` is set.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

MANIFEST = "roam-emp-manifest.json"
PACKAGE = Path(__file__).resolve().parents[1]
# Beside the handler modules in the code asset; absent from the source tree (tests and local mode
# use botocore's full data unless a test builds a shipped tree).
SHIPPED = PACKAGE / "botocore_data"
# The operations each function's own clients call, by botocore service name. Only the authorize
# function has one: other functions call operations no grant names (TransactWriteItems), and their
# cold start is not inside Plugsurfing's timeout. tests/test_botocore_data.py runs the authorize
# path on moto with exactly these.
CALLS: dict[str, dict[str, tuple[str, ...]]] = {
    "ocpi_authorize": {
        "secretsmanager": ("GetSecretValue",),  # store/credentials.py
        "dynamodb": ("GetItem", "PutItem"),  # store/lookups.py, store/authorizations.py
    },
}
# The kinds of file botocore lists services for while creating a client.
LISTED = ("service-2", "endpoint-rule-set-1")

_log = logging.getLogger(__name__)


def directory_for(function: str, package: Path = PACKAGE) -> Path:
    return package / SHIPPED.name / function


class ShippedFirstLoader(Loader):
    """botocore's loader, looking in the shipped directory before its own data, and listing
    services from the manifest instead of scanning botocore's data directory."""

    def __init__(self, directory: str, services: Mapping[str, list[str]], calls: Mapping[str, Any]) -> None:
        super().__init__(extra_search_paths=[directory])
        self._shipped = directory + os.sep
        self._services = services
        # What the data was written for: store/aws.py builds any other service's client from
        # botocore's full data.
        self.services = frozenset(calls)

    def list_available_services(self, type_name: str) -> list[str]:
        listed = self._services.get(type_name)
        if listed is None or Path(self.CUSTOMER_DATA_PATH).is_dir():  # ~/.aws/models: scan it
            return super().list_available_services(type_name)
        return listed

    def is_builtin_path(self, path: str) -> bool:
        return path.startswith(self._shipped) or bool(super().is_builtin_path(path))


def loader(directory: Path) -> ShippedFirstLoader | None:
    """The loader for a shipped directory, or None: not shipped, written for another botocore,
    or an ``AWS_DATA_PATH`` set (an operator's own botocore data: botocore's loader honours it)."""
    if os.environ.get("AWS_DATA_PATH"):
        return None
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes())
    except FileNotFoundError:
        return None
    if manifest["botocore"] != botocore.__version__:
        _log.warning(
            "botocore data in %s was written for botocore %s, this is %s: using botocore's own",
            directory,
            manifest["botocore"],
            botocore.__version__,
        )
        return None
    return ShippedFirstLoader(str(directory), manifest["services"], manifest["calls"])


# The build. ------------------------------------------------------------------------------------


def _builtin() -> Loader:
    return Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


def _without_documentation(ref: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ref.items() if k not in ("documentation", "documentationUrl")}


def _referenced(shape: Mapping[str, Any]) -> Iterator[str]:
    parts = (shape.get("member"), shape.get("key"), shape.get("value"), *shape.get("members", {}).values())
    for ref in parts:
        if ref is not None:
            yield ref["shape"]


def trim(model: Mapping[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """``model`` (a service-2 file) with only ``operations``, the endpoint-discovery operation
    and the shapes they reach; documentation left out (botocore only makes docstrings of it)."""
    missing = set(operations) - set(model["operations"])
    if missing:
        raise ValueError(f"{model['metadata']['serviceId']} has no operation {sorted(missing)}")
    kept = {
        name: operation
        for name, operation in model["operations"].items()
        if name in operations or operation.get("endpointoperation")
    }
    shapes = model["shapes"]
    pending = [
        ref["shape"]
        for operation in kept.values()
        for ref in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if ref is not None
    ]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(_referenced(shapes[name]))

    def shape(definition: Mapping[str, Any]) -> dict[str, Any]:
        trimmed = _without_documentation(definition)
        for part in ("member", "key", "value"):
            if part in trimmed:
                trimmed[part] = _without_documentation(trimmed[part])
        if "members" in trimmed:
            trimmed["members"] = {m: _without_documentation(r) for m, r in trimmed["members"].items()}
        return trimmed

    def operation(definition: Mapping[str, Any]) -> dict[str, Any]:
        trimmed = _without_documentation(definition)
        for part in ("input", "output"):
            if part in trimmed:
                trimmed[part] = _without_documentation(trimmed[part])
        if "errors" in trimmed:
            trimmed["errors"] = [_without_documentation(e) for e in trimmed["errors"]]
        return trimmed

    return {
        **_without_documentation(model),
        "operations": {name: operation(kept[name]) for name in sorted(kept)},
        "shapes": {name: shape(shapes[name]) for name in sorted(reached)},
    }


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def write(directory: Path, calls: Mapping[str, tuple[str, ...]]) -> None:
    """Write the trimmed data for ``calls`` into ``directory``, from the botocore installed here."""
    builtin = _builtin()
    if directory.exists():
        shutil.rmtree(directory)
    endpoints = builtin.load_data("endpoints")
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in calls}
    _dump(directory / "endpoints.json", endpoints)
    for service, operations in calls.items():
        version = builtin.determine_latest_version(service, "service-2")
        model = builtin.load_data(f"{service}/{version}/service-2")  # the file, without sdk-extras
        _dump(directory / service / version / "service-2.json", trim(model, operations))
        rules = builtin.load_data(f"{service}/{version}/endpoint-rule-set-1")
        _dump(directory / service / version / "endpoint-rule-set-1.json", rules)
    services = {kind: builtin.list_available_services(kind) for kind in LISTED}
    _dump(directory / MANIFEST, {"botocore": botocore.__version__, "services": services, "calls": calls})


def write_all(package: Path) -> list[Path]:
    """Every function's trimmed data into ``package`` (a copy of roam_emp being shipped)."""
    written = []
    for function, calls in CALLS.items():
        written.append(directory_for(function, package))
        write(written[-1], calls)
    return written


if __name__ == "__main__":
    import sys

    for path in write_all(Path(sys.argv[1])):
        print(path)
