"""Fixtures and a small client for black-box tests of the real `parleyd` binary.

Every test module gets its own server (module-scoped `server` fixture, fresh --data-dir, free
port); a module may set SERVER_ARGS = [...] for extra command-line flags and SERVER_ENV = {...}
for PARLEY_* settings (rate limits are off by default, see DEFAULT_SERVER_ENV). Tests create fresh users
with the `new_user` factory, so they do not depend on each other. After every test that uses a
server, the autouse `_server_still_alive` fixture checks that the process is still running and
answers /healthz: no input may crash it.
"""
import itertools
import json
import os
import random
import signal
import socket
import string
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

REPO_ROOT = Path(__file__).resolve().parents[2]
PARLEYD = Path(os.environ.get("PARLEYD_BIN", REPO_ROOT / "build" / "parleyd"))
READY_TIMEOUT_S = float(os.environ.get("PARLEYD_READY_TIMEOUT", "20"))
HTTP_TIMEOUT_S = 10
WS_TIMEOUT_S = 5

# The suite creates many users and messages from one address in seconds, so rate limits are off
# unless a module asks for them (SERVER_ENV, or --rate-* flags, which override the environment);
# test_rate_limits.py tests them. Set by environment (PARLEY_<OPTION>) rather than flags, so an
# option the binary does not know is not fatal.
DEFAULT_SERVER_ENV = {f"PARLEY_RATE_{name}_PER_MIN": "0"
                      for name in ("SIGNUP", "LOGIN", "SEND", "UPLOAD", "CLAIM", "TYPING",
                                   "TO_DEVICE", "TO_DEVICE_BYTES")}
# Hermetic too: whether web/dist happens to be built must not change what unknown paths answer
# (test_web_static.py passes --web-root, which overrides this).
DEFAULT_SERVER_ENV["PARLEY_WEB_ROOT"] = "off"

ERROR_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


# --- the server process -----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ParleyServer:
    """One parleyd process; start() waits until GET /readyz answers 200."""

    def __init__(self, data_dir: Path, extra_args=(), log_path: Path = None, env=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        # Hermetic: no PARLEY_* settings leak in from the caller's environment.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        self.env.update(DEFAULT_SERVER_ENV)
        self.env.update(env or {})
        self.log_path = Path(log_path or self.data_dir.parent / f"{self.data_dir.name}.parleyd.log")
        self.proc = None
        self.port = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self, port: int = None):
        if not PARLEYD.exists():
            pytest.fail(f"server binary not found at {PARLEYD} (build it, or set PARLEYD_BIN)")
        self.port = port or free_port()
        cmd = [str(PARLEYD), "--listen", f"127.0.0.1:{self.port}", "--data-dir",
               str(self.data_dir), *self.extra_args]
        log = open(self.log_path, "ab")
        log.write(f"\n=== {' '.join(cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"parleyd exited with {self.proc.returncode} before it was ready:\n"
                            f"{self.log_tail()}")
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"parleyd not ready within {READY_TIMEOUT_S}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def grant_admin(self, username: str):
        """The operator's way to make an admin: `parleyd admin grant` on this server's data
        directory (while it runs; the grant applies to its next request)."""
        p = subprocess.run([str(PARLEYD), "admin", "grant", username, "--data-dir",
                            str(self.data_dir)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"admin grant {username}: {p.returncode}\n{p.stdout}{p.stderr}"

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout=10) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        return None if self.proc is None else self.proc.returncode

    def log_tail(self, n=6000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return "(no log)"


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    extra = getattr(request.module, "SERVER_ARGS", [])
    env = getattr(request.module, "SERVER_ENV", {})
    name = request.module.__name__.rsplit(".", 1)[-1]
    srv = ParleyServer(tmp_path_factory.mktemp(name) / "data", extra, env=env).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if not srv.alive():
            # An earlier test crashed it (and failed for it): restart on the same --data-dir
            # so that one crash does not fail the rest of the module.
            srv.start()
    yield
    if "server" not in request.fixturenames:
        return
    srv = request.getfixturevalue("server")
    assert srv.alive(), (f"parleyd died during this test (exit {srv.proc.returncode}):\n"
                         f"{srv.log_tail()}")
    r = requests.get(srv.base + "/healthz", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, f"/healthz answered {r.status_code} after this test"


# --- HTTP client ------------------------------------------------------------------------------

_NO_BODY = object()


class Api:
    """Thin wrapper over requests; returns the Response, never raises on HTTP status."""

    def __init__(self, base):
        """base: a URL, or an object with a .base URL (a server, which may move port when it
        is restarted)."""
        self._base = base
        self.session = requests.Session()

    @property
    def base(self) -> str:
        return self._base if isinstance(self._base, str) else self._base.base

    def request(self, method, path, token=None, json_body=_NO_BODY, data=None, headers=None,
                params=None, timeout=HTTP_TIMEOUT_S):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        kw = {}
        if json_body is not _NO_BODY:
            kw["data"] = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        elif data is not None:
            kw["data"] = data
        return self.session.request(method, self.base + path, headers=h, params=params,
                                    timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=_NO_BODY, **kw):
        return self.request("POST", path, json_body=body, **kw)

    def put(self, path, body=_NO_BODY, **kw):
        return self.request("PUT", path, json_body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def assert_error(resp, status, code=None):
    """Asserts a contract error: status (an int, or a dict {status: code} of accepted answers)
    and the body {"error": {"code", "message"}}."""
    accepted = status if isinstance(status, dict) else {status: code or ERROR_CODES[status]}
    assert resp.status_code in accepted, (
        f"expected HTTP {sorted(accepted)}, got {resp.status_code}: {resp.text[:500]}")
    try:
        body = resp.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {resp.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert body["error"].get("code") == accepted[resp.status_code], body
    assert isinstance(body["error"].get("message"), str), body
    return body


def expect_status(resp, status):
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.path_url}: expected {status}, "
        f"got {resp.status_code}: {resp.text[:500]}")
    return resp.json() if resp.content else None


_counter = itertools.count()


def unique_username(prefix="u") -> str:
    rnd = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
    return f"{prefix}_{next(_counter)}_{rnd}"[:32]


def new_client_msg_id() -> str:
    return str(uuid.uuid4())


class User:
    """A logged-in device of a user."""

    def __init__(self, api: Api, server, username, password, login: dict):
        self.api = api
        self.server = server
        self.username = username
        self.password = password
        self.user_id = login["user_id"]
        self.device_id = login["device_id"]
        self.access_token = login["access_token"]
        self.refresh_token = login["refresh_token"]
        self.login_answer = login

    def __repr__(self):
        return f"User({self.username}, device={self.device_id})"

    def get(self, path, **kw):
        return self.api.get(path, token=self.access_token, **kw)

    def post(self, path, body=_NO_BODY, **kw):
        return self.api.post(path, body, token=self.access_token, **kw)

    def put(self, path, body=_NO_BODY, **kw):
        return self.api.put(path, body, token=self.access_token, **kw)

    def delete(self, path, **kw):
        return self.api.delete(path, token=self.access_token, **kw)

    def new_device(self, device_name="second") -> "User":
        """Logs in again without device_id: a new device of the same user."""
        r = self.api.post("/v1/login", {"username": self.username, "password": self.password,
                                        "device_name": device_name})
        return User(self.api, self.server, self.username, self.password, expect_status(r, 200))

    def send(self, *, to=None, conversation_id=None, body="hello", client_msg_id=None,
             expect=201, **extra) -> dict:
        payload = {"client_msg_id": client_msg_id or new_client_msg_id(), "body": body,
                   "content_type": "text", "encryption": "none"}
        if to is not None:
            payload["to_user_id"] = to.user_id if isinstance(to, User) else to
        if conversation_id is not None:
            payload["conversation_id"] = conversation_id
        payload.update(extra)
        return expect_status(self.post("/v1/send-message", payload), expect)

    def history(self, conversation_id, **params) -> dict:
        return expect_status(self.get("/v1/get-chat-history",
                                      params={"conversation_id": conversation_id, **params}), 200)

    def full_history(self, conversation_id) -> list:
        """All messages of a conversation, oldest first, paging with after_seq."""
        out, after = [], 0
        while True:
            page = self.history(conversation_id, after_seq=after, limit=200)
            out.extend(page["messages"])
            if not page["has_more"]:
                return out
            assert page["messages"], "has_more with an empty page"
            after = page["messages"][-1]["seq"]

    def pending(self, **params) -> dict:
        return expect_status(self.get("/v1/get-messages", params=params), 200)

    def ws(self, via_query=False) -> "WS":
        return WS.connect(self.server.ws_url, self.access_token, via_query=via_query)


def signup(api: Api, username=None, password=None, display_name=None, expect=201):
    username = username or unique_username()
    password = password or "correct horse battery"
    body = {"username": username, "password": password}
    if display_name is not None:
        body["display_name"] = display_name
    r = api.post("/v1/signup", body)
    return username, password, expect_status(r, expect)


def login(api: Api, username, password, **extra) -> dict:
    return expect_status(api.post("/v1/login", {"username": username, "password": password,
                                                **extra}), 200)


def make_user(api: Api, server, prefix="u", display_name=None, device_name="test") -> User:
    username, password, _ = signup(api, unique_username(prefix), display_name=display_name)
    return User(api, server, username, password,
                login(api, username, password, device_name=device_name))


@pytest.fixture
def start(tmp_path):
    """A server of the test's own: start(*parleyd_args, env={...}) -> (server, Api). Each is
    checked alive and stopped after the test."""
    servers = []

    def go(*args, env=None):
        srv = ParleyServer(tmp_path / f"data{len(servers)}", list(args), env=env).start()
        servers.append(srv)
        return srv, Api(srv)
    yield go
    for s in servers:
        assert s.alive(), f"parleyd died:\n{s.log_tail()}"
        s.stop()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


@pytest.fixture
def new_user(api, server):
    """Factory: new_user(prefix='u') signs up and logs in a fresh user (one device)."""
    return lambda prefix="u", **kw: make_user(api, server, prefix, **kw)


# --- WebSocket client -------------------------------------------------------------------------

class WSClosed(AssertionError):
    pass


class WS:
    """A WebSocket session. Frames not consumed by one wait stay buffered for the next."""

    _open = []

    def __init__(self, conn):
        self.conn = conn
        self.buffer = []
        self.seen = []
        self.ready = None

    @classmethod
    def connect(cls, url, token, via_query=False, expect_ready=True):
        if via_query:
            conn = websocket.create_connection(f"{url}?access_token={token}",
                                               timeout=WS_TIMEOUT_S)
        else:
            conn = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"],
                                               timeout=WS_TIMEOUT_S)
        ws = cls(conn)
        cls._open.append(ws)
        if expect_ready:
            ws.ready = ws._recv_raw(WS_TIMEOUT_S)
            assert ws.ready is not None, "no first frame within timeout"
            assert ws.ready.get("type") == "ready", f"first frame is not ready: {ws.ready}"
        return ws

    def send(self, obj):
        self.conn.send(json.dumps(obj))

    def close_code(self, timeout=WS_TIMEOUT_S):
        """Reads until the server's close frame (other frames are skipped); returns its code,
        None for a close frame without one, 'no close frame' if the TCP connection ended without
        one, or 'timeout' if the socket stayed open."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.conn.settimeout(left)
            try:
                opcode, data = self.conn.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                break
            except (websocket.WebSocketConnectionClosedException, OSError):
                return "no close frame"
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        return "timeout"

    def _recv_raw(self, timeout):
        """One frame as JSON, or None on timeout."""
        self.conn.settimeout(max(timeout, 0.001))
        try:
            data = self.conn.recv()
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException as e:
            raise WSClosed(f"WebSocket closed: {e}")
        if data in ("", b""):
            raise WSClosed("WebSocket closed by the server")
        try:
            frame = json.loads(data)
        except ValueError:
            pytest.fail(f"server sent a frame that is not JSON: {data!r:.300}")
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
        self.seen.append(frame)
        return frame

    def wait_for(self, pred, timeout=WS_TIMEOUT_S, what="frame"):
        """Returns (and consumes) the first frame satisfying pred; fails after timeout."""
        for i, f in enumerate(self.buffer):
            if pred(f):
                return self.buffer.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            f = self._recv_raw(left)
            if f is None:
                break
            if pred(f):
                return f
            self.buffer.append(f)
        pytest.fail(f"no {what} within {timeout}s; frames meanwhile: "
                    f"{json.dumps(self.buffer)[:1500]}")

    def wait_type(self, type_, pred=lambda f: True, timeout=WS_TIMEOUT_S):
        return self.wait_for(lambda f: f.get("type") == type_ and pred(f), timeout,
                             what=f"'{type_}' frame")

    def drain(self, seconds):
        """Collects whatever arrives in `seconds` (for assertions that something does NOT come);
        returns buffered + new frames and empties the buffer."""
        out, self.buffer = self.buffer, []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            f = self._recv_raw(left)
            if f is None:
                break
            out.append(f)
        return out

    def sync(self, timeout=WS_TIMEOUT_S):
        """Round trip with ping/pong so frames the server sent before are in the buffer."""
        ref = f"sync-{uuid.uuid4()}"
        self.send({"type": "ping", "ref": ref})
        self.wait_type("pong", timeout=timeout)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


@pytest.fixture(autouse=True)
def _close_websockets():
    yield
    while WS._open:
        WS._open.pop().close()


def msg_of(frame: dict) -> dict:
    """The message object of a `message` frame: `{type:"message", message:{…}}` (openapi.yaml,
    /v1/ws)."""
    assert frame.get("type") == "message" and isinstance(frame.get("message"), dict), frame
    return frame["message"]


def to_device_of(frame: dict) -> dict:
    """A `to_device` frame carries its fields inline: `{type:"to_device", id, to_device_id,
    sender_id, sender_device_id, body, created_at}` (openapi.yaml, /v1/ws)."""
    assert frame.get("type") == "to_device" and "body" in frame and "id" in frame, frame
    return frame


def presence_of(frame: dict) -> dict:
    """A `presence` frame carries its fields inline: `{type:"presence", user_id, status, text,
    last_seen_at}` (docs/api.md, Presence)."""
    assert frame.get("type") == "presence" and "status" in frame and "user_id" in frame, frame
    return frame


def frame_error_code(frame: dict):
    """The error code of an `error` frame, `{type:"error", ref?, error:{code, message}}` as in
    HTTP errors (docs/api.md, WebSocket)."""
    err = frame.get("error")
    assert isinstance(err, dict) and isinstance(err.get("message"), str), frame
    return err.get("code")


# --- misc helpers -----------------------------------------------------------------------------

def poll(fn, timeout=5.0, interval=0.05, what="condition"):
    """Calls fn() until it returns a truthy value; returns it, or fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} not reached within {timeout}s (last: {last!r})")
        time.sleep(interval)


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_past_ms(t_ms: int):
    """Busy-waits (at most a few ms) until the wall clock is past t_ms, so that the next
    server timestamp differs from t_ms."""
    while now_ms() <= t_ms + 1:
        time.sleep(0.001)


def is_uuid(s, version=None) -> bool:
    if not isinstance(s, str):
        return False
    try:
        u = uuid.UUID(s)
    except ValueError:
        return False
    return str(u) == s and (version is None or u.version == version)


def raw_http(port, request_head: bytes, body_chunks=(), timeout=10.0):
    """Sends a raw HTTP request; reads the answer concurrently so an early answer (e.g. 413 before
    the whole body is sent) is not lost. Returns (status or None, headers dict, body bytes)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    done = threading.Event()

    def reader():
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received.extend(chunk)
                if _complete_response(received):
                    break
        except OSError:
            pass
        finally:
            done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        sock.sendall(request_head)
        for chunk in body_chunks:
            if done.is_set():
                break
            sock.sendall(chunk)
    except OSError:
        pass
    done.wait(timeout)
    try:
        sock.close()
    except OSError:
        pass
    return _parse_response(bytes(received))


def _complete_response(buf: bytes) -> bool:
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    status, headers, _ = _parse_response(bytes(buf[:head_end + 4]))
    length = int(headers.get("content-length", "0") or 0)
    return len(buf) - head_end - 4 >= length


def _parse_response(buf: bytes):
    head_end = buf.find(b"\r\n\r\n")
    if not buf.startswith(b"HTTP/") or head_end < 0:
        return None, {}, buf
    lines = buf[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, buf[head_end + 4:]


# --- figures ----------------------------------------------------------------------------------
# Tests that measure something (cells denied, trials, bytes, milliseconds) record it here; the
# figures are printed at the end of the run (docs/reliability.md quotes them) and, when
# PARLEY_FIGURES_FILE is set, appended to that file as JSON lines.

_FIGURES = []


def record_figure(name: str, **values):
    _FIGURES.append((name, values))
    path = os.environ.get("PARLEY_FIGURES_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"figure": name, **values}) + "\n")


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("figures")
    for name, values in _FIGURES:
        terminalreporter.write_line(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
