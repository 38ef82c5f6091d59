"""docs/openapi.yaml is a valid OpenAPI 3.1 document and describes exactly the routes parleyd serves.

The routes are read from the C++ sources (every `.Add("METHOD", "/path", Auth::…` and
`AddStreaming("METHOD", "/path", Auth::…` under src/, unit tests excluded, plus the WebSocket
upgrade path as a GET), so adding, removing or renaming an endpoint without updating the spec
fails here. No server is started: no test in this module uses the `server` fixture.
"""
import re
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "docs" / "openapi.yaml"
SRC = REPO_ROOT / "src"

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# r.Add("GET", "/v1/users/{user_id}", Auth::kRequired, …) and
# r.AddStreaming("POST", "/v1/upload", Auth::kRequired, limit, …); arguments may span lines.
ROUTE_RE = re.compile(
    r'(?:\.Add|\bAddStreaming)\(\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"\s*,\s*(?:\w+::)*Auth::(k\w+)')
# server.SetUpgradeHandler("/v1/ws", …): the WebSocket endpoint, a GET with Upgrade.
UPGRADE_RE = re.compile(r'\bSetUpgradeHandler\(\s*"(/[^"]*)"')


def normalize(path: str) -> str:
    """`/v1/users/{user_id}` and `/v1/users/{id}` are the same route."""
    return re.sub(r"\{[^/{}]+\}", "{}", path)


def source_files():
    for p in sorted(SRC.rglob("*")):
        if p.suffix not in (".cc", ".h") or p.stem.endswith("_test"):
            continue  # unit tests register throwaway routes (/stream, /whole, …)
        yield p


def code_routes():
    """{(METHOD, normalized path): auth}, auth one of kNone, kOptional, kRequired."""
    routes = {}
    for p in source_files():
        text = p.read_text(encoding="utf-8", errors="replace")
        for method, path, auth in ROUTE_RE.findall(text):
            key = (method, normalize(path))
            assert key not in routes, f"route {key} registered twice (again in {p})"
            routes[key] = auth
        for path in UPGRADE_RE.findall(text):
            # The gateway authenticates the upgrade itself: a token is required.
            routes[("GET", normalize(path))] = "kRequired"
    return routes


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def spec_operations(spec):
    """{(METHOD, normalized path): operation}."""
    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                key = (method.upper(), normalize(path))
                assert key not in ops, f"{key} described twice"
                ops[key] = op
    return ops


def test_spec_is_valid_openapi_3_1(spec):
    assert str(spec.get("openapi", "")).startswith("3.1"), "the spec must be OpenAPI 3.1"
    validate(spec)  # raises OpenAPIValidationError on any problem


def test_route_extraction_finds_the_server():
    routes = code_routes()
    # A sanity floor, so that a regex broken by a code-style change cannot pass vacuously.
    assert len(routes) >= 35, f"only {len(routes)} routes found under src/: is ROUTE_RE stale?"
    for must in [("POST", "/v1/signup"), ("POST", "/v1/upload"),
                 ("GET", "/v1/download/{}"), ("GET", "/v1/ws"), ("GET", "/healthz")]:
        assert must in routes, f"{must} not found in src/"


def test_spec_paths_equal_server_routes(spec):
    in_code = set(code_routes())
    in_spec = set(spec_operations(spec))
    missing = sorted(in_code - in_spec)
    extra = sorted(in_spec - in_code)
    assert not missing and not extra, (
        f"docs/openapi.yaml is out of step with src/:\n"
        f"  served but not described: {missing}\n"
        f"  described but not served: {extra}")


def test_spec_security_matches_route_auth(spec):
    """Auth::kNone ⇔ `security: []`; kRequired ⇔ a credential always needed (bearer among
    them); kOptional (the download route) ⇔ bearer or another credential (the signed link)."""
    ops = spec_operations(spec)
    default = spec.get("security", [])
    problems = []
    for key, auth in sorted(code_routes().items()):
        if key not in ops:
            continue  # reported by test_spec_paths_equal_server_routes
        security = ops[key].get("security", default)
        names = [set(req) for req in security]
        if auth == "kNone":
            ok = security == []
        elif auth == "kRequired":
            ok = bool(names) and all(names) and any("bearerAuth" in n for n in names)
        elif auth == "kOptional":
            ok = any(n == {"bearerAuth"} for n in names) and len(names) > 1 and all(names)
        else:
            ok = False
        if not ok:
            problems.append(f"{key[0]} {key[1]}: Auth::{auth} in src/, security {security} in spec")
    assert not problems, "\n".join(problems)


def test_error_responses_use_the_common_error_body(spec):
    """Every JSON 4xx/5xx response's schema resolves to the common Error body, and every 429
    carries Retry-After."""
    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = spec
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def is_error_schema(schema):
        if schema == {"$ref": "#/components/schemas/Error"}:
            return True
        schema = resolve(schema)
        return any(is_error_schema(s) for s in schema.get("allOf", []))

    problems = []
    for (method, path), op in spec_operations(spec).items():
        for status, response in op["responses"].items():
            if not str(status).startswith(("4", "5")):
                continue
            response = resolve(response)
            json_body = response.get("content", {}).get("application/json")
            if json_body is not None and not is_error_schema(json_body["schema"]):
                problems.append(f"{method} {path} {status}: not the common error body")
            if str(status) == "429" and "Retry-After" not in response.get("headers", {}):
                problems.append(f"{method} {path} 429: no Retry-After header")
    assert not problems, "\n".join(problems)
