"""The web client route (src/services/web): static files at `/` with a strict CSP on HTML,
SPA fallback for unknown non-API paths, no directory traversal, and the API left as it was."""
import http.client
import tempfile
from pathlib import Path

import requests

from conftest import ParleyServer, assert_error

CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
       "img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")

# A fake build: web/ holds the served files; secret.txt sits next to it and must never be served.
_TOP = Path(tempfile.mkdtemp(prefix="parley-web-static-"))
WEB_ROOT = _TOP / "web"
(WEB_ROOT / "assets").mkdir(parents=True)
INDEX = "<!doctype html><title>Parley</title><div id=app></div>"
(WEB_ROOT / "index.html").write_text(INDEX)
(WEB_ROOT / "assets" / "app-1234.js").write_text("console.log('app')")
(WEB_ROOT / "assets" / "style-1234.css").write_text("body{}")
(WEB_ROOT / "assets" / "sodium.wasm").write_bytes(b"\0asm\1\0\0\0")
(WEB_ROOT / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
SECRET = "TOP SECRET - outside the web root"
(_TOP / "secret.txt").write_text(SECRET)

SERVER_ARGS = ["--web-root", str(WEB_ROOT)]


def raw_get(server, target, method="GET"):
    """A request with the target exactly as given (no client-side normalization)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest(method, target, skip_accept_encoding=True)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), body


def test_index_has_the_csp(server):
    r = requests.get(server.base + "/", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.text == INDEX
    r2 = requests.get(server.base + "/index.html", timeout=10)
    assert r2.headers["Content-Security-Policy"] == CSP


def test_assets_have_their_content_types(server):
    cases = {
        "/assets/app-1234.js": "text/javascript",
        "/assets/style-1234.css": "text/css",
        "/assets/sodium.wasm": "application/wasm",
        "/favicon.svg": "image/svg+xml",
    }
    for path, ctype in cases.items():
        r = requests.get(server.base + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype), (path, r.headers["Content-Type"])
    assert requests.get(server.base + "/assets/app-1234.js", timeout=10).text == "console.log('app')"
    assert "immutable" in requests.get(server.base + "/assets/app-1234.js", timeout=10).headers["Cache-Control"]
    # A missing asset is a 404, not the app page.
    assert_error(requests.get(server.base + "/assets/missing-999.js", timeout=10), 404, "not_found")


def test_spa_fallback_for_unknown_paths(server):
    for path in ("/chat/123", "/settings", "/some/deep/client/route?x=1"):
        r = requests.get(server.base + path, timeout=10)
        assert r.status_code == 200, path
        assert r.text == INDEX, path
        assert r.headers["Content-Security-Policy"] == CSP, path


def test_traversal_is_refused(server):
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt",
                   "/assets/..%2f..%2fsecret.txt", "/a/%2E%2E/%2e%2e/secret.txt",
                   "/..%5csecret.txt", "/./index.html", "/%2e/index.html"):
        status, _, body = raw_get(server, target)
        assert SECRET.encode() not in body, target
        assert status == 400, (target, status, body[:200])


def test_only_get(server):
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = raw_get(server, "/", method)
        assert status == 405, method
        assert headers.get("allow") == "GET"


def test_api_paths_are_unaffected(server):
    # Unknown API paths keep the JSON 404, whatever the method.
    for method in ("GET", "POST", "DELETE"):
        r = requests.request(method, server.base + "/v1/no-such-endpoint", timeout=10)
        assert_error(r, 404, "not_found")
        assert "Content-Security-Policy" not in r.headers
    assert_error(requests.get(server.base + "/.well-known/nothing", timeout=10), 404, "not_found")
    # Known paths answer as before: 200, 401 without a token, 405 for another method.
    assert requests.get(server.base + "/healthz", timeout=10).json()["status"] == "ok"
    assert requests.get(server.base + "/.well-known/jwks.json", timeout=10).status_code == 200
    assert_error(requests.get(server.base + "/v1/conversations", timeout=10), 401, "unauthenticated")
    r = requests.delete(server.base + "/v1/signup", timeout=10)
    assert r.status_code == 405
    assert r.headers["Content-Type"].startswith("application/json")


def test_web_root_off(tmp_path):
    srv = ParleyServer(tmp_path / "data", ["--web-root", "off"]).start()
    try:
        assert_error(requests.get(srv.base + "/", timeout=10), 404, "not_found")
        assert_error(requests.get(srv.base + "/chat/1", timeout=10), 404, "not_found")
        assert requests.get(srv.base + "/healthz", timeout=10).status_code == 200
    finally:
        srv.stop()
