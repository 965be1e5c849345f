"""The admin API's contract (issue 12): one OpenAPI document generated from the handlers, checked
in, valid, covering every admin route; every call the CLI and the stage test make is in it; local
mode's answers validate against its response schemas; Swagger UI in local mode."""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from roam_emp import cli, topology
from roam_emp.admin_client import AdminClient
from roam_emp.api import openapi
from tests.helpers import register

PACKAGE = Path(cli.__file__).parent
# Every module that calls our admin API: the CLI, its `cdrs check`, and the stage test.
CALLERS = ("cli.py", "cdrs_check_command.py", "stage/runner.py")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
Local = tuple[Any, Any]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.admin_document()


def test_the_checked_in_document_is_what_the_handlers_generate(document: dict[str, Any]) -> None:
    assert openapi.DOCUMENT.read_text() == openapi.render(document), (
        "docs/openapi/admin.json is stale: run `make openapi` (roam-emp openapi)"
    )
    assert cli.main(["openapi", "--check", "--out", str(openapi.DOCUMENT)]) == 0


def test_a_stale_document_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "admin.json"
    stale.write_text(openapi.DOCUMENT.read_text().replace('"/admin/status"', '"/admin/state"'))
    assert cli.main(["openapi", "--check", "--out", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert cli.main(["openapi", "--out", str(stale)]) == 0
    assert stale.read_text() == openapi.DOCUMENT.read_text()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_admin_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    routes = {
        (r.method, _template(r.path))
        for f in topology.FUNCTIONS
        for r in f.routes
        if r.auth is topology.Auth.IAM
    }
    documented = {(m.upper(), _template(p)) for p, item in document["paths"].items() for m in item}
    assert documented == routes


def test_every_operation_says_its_answers_and_validated_inputs(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            ok = [c for c in operation["responses"] if c.startswith("2")]
            assert len(ok) == 1, where
            assert "422" not in operation["responses"], where  # ours is 400 + 2001 (api/http.py)
            # Every path parameter is declared (Powertools takes them from the route).
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{([^}]+)\}", path)), where
    body = document["paths"]["/admin/locations/pull"]["post"]["requestBody"]
    assert body["required"] is True
    estimate = document["paths"]["/admin/locations/{location_id}/estimate"]["get"]["parameters"]
    assert {p["name"] for p in estimate if p.get("required")} == {"location_id", "kwh", "minutes"}


# -- the callers' side: a static reading of every admin call in the code ---------------------


def _strings(node: ast.expr, assignments: dict[str, ast.expr]) -> list[str]:
    """The path templates an argument can take: literals and f-strings (a formatted value is a
    path parameter or the query), through one local assignment and conditional expressions."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.Constant) else "{x}" for v in node.values]
        return ["".join(str(p) for p in parts)]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, assignments) + _strings(node.orelse, assignments)
    if isinstance(node, ast.Name) and node.id in assignments:
        return _strings(assignments[node.id], assignments)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "token_path":
        return ["/admin/tokens/{x}?type=RFID"]  # StageTest.token_path()
    return []


def admin_calls() -> Iterator[tuple[str, str, str]]:
    """(caller, METHOD, path template without query) for every admin call in CALLERS."""
    for name in CALLERS:
        tree = ast.parse((PACKAGE / name).read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.Lambda):
                continue
            assignments = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(function):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("call", "admin", "data")
                    and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in METHODS
                ):
                    continue
                paths = _strings(node.args[1], assignments)
                assert paths, f"{name}:{node.lineno}: an admin call whose path this test cannot read"
                for path in paths:
                    yield name, str(node.args[0].value), path.split("?")[0]


def _matches(document: dict[str, Any], method: str, path: str) -> bool:
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method.lower() in item and re.match(pattern, path.replace("{x}", "X")):
            return True
    return False


def test_every_admin_call_of_the_cli_and_the_stage_test_is_in_the_contract(document: dict[str, Any]) -> None:
    calls = set(admin_calls())
    callers = {c for c, _, _ in calls}
    assert callers == set(CALLERS)  # the reading finds calls in each of them (it cannot pass empty)
    assert ("cli.py", "GET", "/admin/status") in calls and (
        "cli.py",
        "DELETE",
        "/admin/registration",
    ) in calls
    missing = sorted(c for c in calls if not _matches(document, c[1], c[2]))
    assert not missing, f"calls outside the contract: {missing}"


def test_the_reading_notices_a_call_outside_the_contract(document: dict[str, Any]) -> None:
    assert _matches(document, "GET", "/admin/cdrs/{x}")
    assert not _matches(document, "DELETE", "/admin/cdrs/{x}")
    assert not _matches(document, "GET", "/admin/cdrs/{x}/extra")


# -- local mode answers as the contract says ----------------------------------------------------


def _closed(schema: Any) -> Any:
    """The schema with undocumented fields refused (pydantic leaves objects open): an answer
    carrying a field the document does not name is a contract change nobody wrote down."""
    if isinstance(schema, dict):
        closed = {k: _closed(v) for k, v in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def check_answer(document: dict[str, Any], method: str, template: str, answer: httpx.Response) -> None:
    operation = document["paths"][template][method.lower()]
    documented = operation["responses"].get(str(answer.status_code))
    assert documented, f"{method} {template}: HTTP {answer.status_code} is not in the contract"
    schema = documented["content"]["application/json"]["schema"]
    root = {**_closed(schema), "components": _closed(copy.deepcopy(document["components"]))}
    jsonschema.Draft202012Validator(root).validate(answer.json())


def test_local_mode_answers_validate_against_the_contract(local: Local, document: dict[str, Any]) -> None:
    rt, sim = local
    check_answer(document, "GET", "/admin/registration", rt.admin("GET", "/admin/registration"))
    registered = register(rt, sim)
    check_answer(document, "POST", "/admin/registration", registered)
    check_answer(document, "GET", "/admin/status", rt.admin("GET", "/admin/status"))
    check_answer(document, "GET", "/admin/locations/pull", rt.admin("GET", "/admin/locations/pull"))
    token = {
        "country_code": "NL",
        "party_id": "EMP",
        "uid": "OPENAPI0001",
        "type": "RFID",
        "contract_id": "NLEMPC00000001",
        "issuer": "Example EMP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    created = rt.admin("POST", "/admin/tokens", token)
    assert created.status_code == 202, created.text
    check_answer(document, "POST", "/admin/tokens", created)
    check_answer(
        document, "GET", "/admin/tokens/{uid}", rt.admin("GET", "/admin/tokens/OPENAPI0001?type=RFID")
    )
    # Refusals are in the contract too: 400 + 2001 naming the field, never Powertools' 422.
    refused = rt.admin("POST", "/admin/locations/pull", {"mode": "sometimes"})
    assert refused.status_code == 400 and refused.json()["status_code"] == 2001
    assert refused.json()["status_message"].startswith("mode:")
    check_answer(document, "POST", "/admin/locations/pull", refused)
    as_text = httpx.post(
        f"{rt.url}/admin/locations/pull", content='{"mode": "full"}', headers={"Content-Type": "text/plain"}
    )
    assert (as_text.status_code, as_text.json()["status_code"]) == (400, 2001), as_text.text
    assert "content type" in as_text.json()["status_message"]
    unknown = rt.admin("GET", "/admin/tokens/NEVER?type=RFID")
    check_answer(document, "GET", "/admin/tokens/{uid}", unknown)
    bad_type = rt.admin("GET", "/admin/tokens/OPENAPI0001?type=BADGE")
    assert bad_type.status_code == 400 and bad_type.json()["status_message"].startswith("type:")


def test_the_cli_calls_only_what_the_contract_has(
    local: Local,
    document: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI against local mode, every request and answer held to the document."""
    rt, _sim = local
    seen: list[tuple[str, str, httpx.Response]] = []
    original = AdminClient.admin

    def recording(
        self: AdminClient, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> httpx.Response:
        answer = original(self, method, path, body, timeout)
        seen.append((method, path, answer))
        return answer

    monkeypatch.setattr(AdminClient, "admin", recording)
    for argv in (
        ["status"],
        ["token-a"],
        ["support-bundle", "--token-uid", "OPENAPI0001", "--no-logs"],
        ["cdrs", "show", "NO-SUCH-CDR"],
    ):
        cli.main([*argv, "--api", rt.url])
    capsys.readouterr()
    assert len(seen) == 4
    for method, path, answer in seen:
        template = next(
            t
            for t, item in document["paths"].items()
            if method.lower() in item
            and re.match("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$", path.split("?")[0])
        )
        check_answer(document, method, template, answer)


def test_swagger_ui_in_local_mode(local: Local, document: dict[str, Any]) -> None:
    rt, _sim = local
    page = httpx.get(f"{rt.url}/_docs", timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text and "https://" not in page.text.split("<script>")[0]
    served = httpx.get(f"{rt.url}/_docs/openapi.json", timeout=60).json()
    assert served["paths"] == json.loads(json.dumps(document["paths"]))
