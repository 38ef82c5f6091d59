"""Abuse: password guessing, oversized uploads, cross-site WebSocket upgrades, slow-loris and
WebSocket floods. Each test starts its own server with the limits it exercises and records what
it measured (record_figure), quoted in docs/reliability.md. Bounds are generous: the machine may
be loaded; the figures show the real margins."""
import json
import socket
import statistics
import subprocess
import threading
import time
import uuid

import pytest
import requests
import websocket

from conftest import PARLEYD, expect_status, make_user, record_figure, signup, unique_username

MiB = 1 << 20


def rss_kib(srv) -> int:
    for line in open(f"/proc/{srv.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def timed_get(url, timeout=30):
    t0 = time.monotonic()
    r = requests.get(url, timeout=timeout)
    return r.status_code, time.monotonic() - t0


# --- password guessing ---------------------------------------------------------------------------

def test_password_guessing_hits_the_login_limit(start):
    limit = 10
    srv, api = start("--rate-login-per-min", str(limit))
    name, password, _ = signup(api, unique_username("victim"))
    statuses = []
    t0 = time.monotonic()
    for i in range(60):
        statuses.append(api.post("/v1/login", {"username": name,
                                               "password": f"guess-{i:04d}"}).status_code)
    elapsed = time.monotonic() - t0
    first_429 = statuses.index(429)
    checked = statuses.count(401)
    record_figure("password_guessing", limit_per_min=limit, attempts=len(statuses),
                  answered_before_429=first_429, guesses_checked=checked,
                  refused_429=statuses.count(429), seconds=round(elapsed, 1))
    assert set(statuses) == {401, 429}, statuses
    # Tokens refill continuously (limit per minute): at most one more per 60/limit seconds.
    assert checked <= limit + 1 + int(elapsed * limit / 60), statuses
    # The right password is refused too while the budget is spent: guessing gets no oracle.
    assert api.post("/v1/login", {"username": name, "password": password}).status_code == 429


def test_guessing_from_many_addresses_cannot_lock_the_owner_out(start):
    """The per-username bound stops guessing spread over many addresses, but a login naming one
    of the account's own devices (its device_id) is not subject to it."""
    limit = 5
    srv, api = start("--rate-login-per-min", str(limit), "--trusted-proxies", "127.0.0.1")
    name, password, _ = signup(api, unique_username("owner"))
    first = expect_status(api.post("/v1/login", {"username": name, "password": password},
                                   headers={"X-Forwarded-For": "10.9.0.1"}), 200)
    statuses = [api.post("/v1/login", {"username": name, "password": f"guess-{i}"},
                         headers={"X-Forwarded-For": f"10.1.0.{i}"}).status_code
                for i in range(1, 30)]
    assert statuses.count(429) >= 20, statuses          # the account's budget is spent
    owner = {"X-Forwarded-For": "10.9.0.2"}                # the owner, from an address of hers
    assert api.post("/v1/login", {"username": name, "password": password},
                    headers=owner).status_code == 429      # a new device: still bounded
    again = api.post("/v1/login", {"username": name, "password": password,
                                   "device_id": first["device_id"]}, headers=owner)
    assert again.status_code == 200, again.text           # her own device logs in
    # A device_id of another account does not lift the bound.
    other, other_pw, _ = signup(api, unique_username("other"))
    other_dev = expect_status(api.post("/v1/login", {"username": other, "password": other_pw},
                                       headers={"X-Forwarded-For": "10.8.0.1"}), 200)["device_id"]
    assert api.post("/v1/login", {"username": name, "password": "guess-x",
                                  "device_id": other_dev},
                    headers={"X-Forwarded-For": "10.7.0.1"}).status_code == 429


# --- oversized bodies ----------------------------------------------------------------------------

def _raw_upload_head(srv, token, length=None, chunked=False):
    head = (f"POST /v1/upload HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n")
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {length}\r\n"
    return (head + "\r\n").encode()


def _upload_slowly(srv, token, chunk, every_s, give_up_s=15):
    """Sends a 1 MiB upload `chunk` bytes every `every_s` until the server answers (or closes)
    or give_up_s passes: (seconds until then, the answer's status or None)."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(_raw_upload_head(srv, token, length=1 << 20))
    status_box = []
    reader = threading.Thread(target=lambda: status_box.append(_read_status(sock, 30)), daemon=True)
    reader.start()
    t0 = time.monotonic()
    try:
        while reader.is_alive() and time.monotonic() - t0 < give_up_s:
            sock.sendall(b"\1" * chunk)
            time.sleep(every_s)
    except OSError:
        pass
    ended_s = time.monotonic() - t0
    reader.join(10)
    sock.close()
    return ended_s, status_box[0] if status_box else None


def _read_status(sock, timeout):
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, OSError):
        pass
    return int(data.split()[1]) if data.startswith(b"HTTP/") else None


def test_declared_oversize_is_refused_before_the_body(start):
    srv, api = start("--max-upload-bytes", str(MiB))
    u = make_user(api, srv, "big")
    rss0 = rss_kib(srv)
    results = []
    for target, length in (("/v1/upload", 1 << 30), ("/v1/send-message", 100 * MiB)):
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        if target == "/v1/upload":
            head = _raw_upload_head(srv, u.access_token, length=length)
        else:
            head = (f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    f"{u.access_token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {length}\r\n\r\n").encode()
        t0 = time.monotonic()
        sock.sendall(head)                       # the header only: not one byte of the body
        status = _read_status(sock, 10)
        answer_s = time.monotonic() - t0
        # How much would the server still take after answering? It drains (and drops) a
        # bounded amount so the client can read the 413, then closes.
        pushed = 0
        sock.settimeout(5)
        t1 = time.monotonic()
        try:
            while pushed < 256 * MiB and time.monotonic() - t1 < 10:
                pushed += sock.send(b"\0" * (256 * 1024))
        except OSError:
            pass
        sock.close()
        results.append((target, status, answer_s, pushed))
    rss1 = rss_kib(srv)
    record_figure("oversize_declared", upload_status=results[0][1],
                  send_message_status=results[1][1],
                  answer_ms_max=round(max(r[2] for r in results) * 1000, 1),
        body_bytes_sent_before_answer=0,
        bytes_taken_after_answer_max=max(r[3] for r in results),
        rss_growth_kib=rss1 - rss0)
    for target, status, answer_s, pushed in results:
        assert status == 413, (target, status)
        assert answer_s < 5, (target, answer_s)
        # 8 MiB lingering drain + socket buffers, never the declared size.
        assert pushed < 64 * MiB, (target, pushed)
    assert rss1 - rss0 < 64 * 1024, (rss0, rss1)


def test_chunked_upload_stops_at_the_limit(start):
    limit = 2 * MiB
    srv, api = start("--max-upload-bytes", str(limit))
    u = make_user(api, srv, "chunky")
    rss0 = rss_kib(srv)
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(_raw_upload_head(srv, u.access_token, chunked=True))
    status_box = []
    reader = threading.Thread(target=lambda: status_box.append(_read_status(sock, 60)), daemon=True)
    reader.start()
    chunk = b"%x\r\n" % (64 * 1024) + b"\1" * (64 * 1024) + b"\r\n"
    sent = 0
    t0 = time.monotonic()
    try:
        while reader.is_alive() and sent < 512 * MiB and time.monotonic() - t0 < 60:
            sock.sendall(chunk)
            sent += 64 * 1024
    except OSError:
        pass
    reader.join(30)
    sock.close()
    rss1 = rss_kib(srv)
    record_figure("oversize_chunked", limit_bytes=limit, status=status_box[0] if status_box else None,
                  body_bytes_sent_until_answer_or_close=sent, rss_growth_kib=rss1 - rss0)
    assert status_box and status_box[0] == 413, status_box
    # What the client got to send before the answer: the limit plus what sockets buffer.
    assert sent < limit + 32 * MiB, sent
    assert rss1 - rss0 < 64 * 1024
    expect_status(u.get("/v1/devices"), 200)


def test_a_trickling_upload_is_cut_off(start):
    """Each read of a body must make progress within the request timeout, and past that first
    timeout the body must average at least 1 KiB/s: 64 bytes every 0.25 s (256 B/s, always
    within the per-read timeout) no longer holds the connection for as long as the client likes."""
    srv, api = start("--request-timeout-ms", "2000")
    u = make_user(api, srv, "trickle")
    ended_s, status = _upload_slowly(srv, u.access_token, chunk=64, every_s=0.25)
    record_figure("trickling_upload", bytes_per_s=256, request_timeout_ms=2000,
                  answered_after_s=round(ended_s, 1), status=status)
    assert ended_s < 6, f"the server still read the trickle after {ended_s:.1f} s"
    assert status == 400, status
    expect_status(u.get("/v1/devices"), 200)


def test_an_upload_must_end_within_its_deadline(start):
    """However steadily a body comes (here 8 KiB/s, well above the minimum average), it must end
    within --upload-deadline-s of its headers: 2 s here, so the 1 MiB upload is answered 400
    after about 2 s, not read for the two minutes it would take."""
    srv, api = start(env={"PARLEY_UPLOAD_DEADLINE_S": "2"})  # --upload-deadline-s 2
    u = make_user(api, srv, "steady")
    ended_s, status = _upload_slowly(srv, u.access_token, chunk=1024, every_s=0.125)
    record_figure("upload_deadline", bytes_per_s=8192, deadline_s=2,
                  answered_after_s=round(ended_s, 1), status=status)
    assert ended_s < 5, f"the server still read the upload after {ended_s:.1f} s"
    assert status == 400, status
    expect_status(u.get("/v1/devices"), 200)


# --- WebSocket Origin -----------------------------------------------------------------------------

def _upgrade_status(srv, token, origin=None, host=None):
    """Status of a raw upgrade request (101 on success)."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    head = (f"GET /v1/ws HTTP/1.1\r\nHost: {host or f'127.0.0.1:{srv.port}'}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n")
    if origin is not None:
        head += f"Origin: {origin}\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall((head + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        status = int(data.split()[1])
        body = b""
        if status != 101:
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
        return status, data + body


@pytest.mark.parametrize("how", ["flag", "env"])
def test_websocket_origin_allow_list(start, how):
    allowed = "https://app.example,http://localhost:3000"
    if how == "flag":
        srv, api = start("--ws-allowed-origins", allowed)
    else:
        srv, api = start(env={"PARLEY_WS_ALLOWED_ORIGINS": allowed})
    u = make_user(api, srv, "orig")
    cases = {
        None: 101,                                     # native client: no Origin
        f"http://127.0.0.1:{srv.port}": 101,           # same origin as Host
        "https://app.example": 101,                    # listed
        "HTTP://LOCALHOST:3000": 101,                  # listed, other case
        "https://evil.example": 403,
        "https://app.example.evil.example": 403,
        f"http://127.0.0.1:{srv.port + 1}": 403,       # same host, other port
        "null": 403,                                   # sandboxed iframe / file:
    }
    got = {o: _upgrade_status(srv, u.access_token, o) for o in cases}
    refused = got["https://evil.example"][1]
    assert b'"forbidden"' in refused, refused       # the error body, and no handshake
    assert b"Sec-WebSocket-Accept" not in refused
    record_figure(f"ws_origin_{how}", cases=len(cases),
                  as_expected=sum(got[o][0] == s for o, s in cases.items()))
    assert {o: g[0] for o, g in got.items()} == cases


def test_websocket_origin_default_is_same_origin_only(start):
    srv, api = start()
    u = make_user(api, srv, "orig2")
    assert _upgrade_status(srv, u.access_token)[0] == 101
    assert _upgrade_status(srv, u.access_token, f"http://127.0.0.1:{srv.port}")[0] == 101
    assert _upgrade_status(srv, u.access_token, "https://evil.example")[0] == 403
    # The origin check comes first: a foreign page learns nothing about the token either.
    assert _upgrade_status(srv, "garbage", "https://evil.example")[0] == 403
    assert _upgrade_status(srv, "garbage")[0] == 401
    out = subprocess.run([str(PARLEYD), "--help"], capture_output=True, text=True, timeout=10)
    assert "--ws-allowed-origins" in out.stdout and "PARLEY_WS_ALLOWED_ORIGINS" in out.stdout


# --- slow-loris ----------------------------------------------------------------------------------

def test_slow_loris_is_cut_off_and_others_are_served(start):
    timeout_ms, n_slow = 2000, 200
    srv, api = start("--request-timeout-ms", str(timeout_ms))
    u = make_user(api, srv, "loris")
    socks = []
    for _ in range(n_slow):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /v1/devices HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    opened = time.monotonic()
    closed_at = {}
    stop = threading.Event()

    def trickle():
        # One header byte per connection every 200 ms, the way slow-loris keeps requests alive;
        # notes when the server has closed each one.
        while not stop.is_set() and len(closed_at) < n_slow:
            for i, s in enumerate(socks):
                if i in closed_at:
                    continue
                try:
                    s.setblocking(False)
                    try:
                        if s.recv(1024) == b"":
                            closed_at[i] = time.monotonic() - opened
                            continue
                    except BlockingIOError:
                        pass
                    s.sendall(b"X")
                except OSError:
                    closed_at[i] = time.monotonic() - opened
            time.sleep(0.2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    latencies, statuses = [], []
    while time.monotonic() - opened < timeout_ms / 1000 + 1:
        t0 = time.monotonic()
        statuses.append(u.get("/v1/devices").status_code)
        latencies.append(time.monotonic() - t0)
        time.sleep(0.05)
    deadline = time.monotonic() + 15
    while len(closed_at) < n_slow and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    t.join(5)
    for s in socks:
        s.close()
    record_figure("slow_loris", connections=n_slow, request_timeout_ms=timeout_ms,
                  closed_by_server=len(closed_at),
                  close_after_s_max=round(max(closed_at.values(), default=-1), 2),
                  normal_requests=len(statuses), normal_ok=statuses.count(200),
                  normal_latency_ms_p50=round(statistics.median(latencies) * 1000, 1),
                  normal_latency_ms_max=round(max(latencies) * 1000, 1))
    assert len(closed_at) == n_slow, f"{n_slow - len(closed_at)} slow connections still open"
    assert max(closed_at.values()) < timeout_ms / 1000 + 10
    assert statuses and set(statuses) == {200}
    assert max(latencies) < 3, latencies


# --- WebSocket floods ----------------------------------------------------------------------------

def test_websocket_frame_flood(start):
    srv, api = start("--rate-send-per-min", "600")
    flooder, other, peer = (make_user(api, srv, p) for p in ("flood", "calm", "peer"))
    conv = other.send(to=peer, body="hello")["conversation_id"]
    calm = other.ws()
    rss0 = rss_kib(srv)
    stop = threading.Event()
    sent = [0]
    closed = []

    def flood():
        conn = websocket.create_connection(srv.ws_url, timeout=5,
                                           header=[f"Authorization: Bearer {flooder.access_token}"])
        frames = [json.dumps({"type": "ping", "ref": "p"}),
                  json.dumps({"type": "send", "ref": "s", "to_user_id": flooder.user_id,
                              "client_msg_id": "", "body": "x" * 200})]
        try:
            while not stop.is_set():
                for i in range(100):
                    if i % 2:
                        conn.send(frames[0])
                    else:
                        conn.send(frames[1].replace('"client_msg_id": ""',
                                                    f'"client_msg_id": "{uuid.uuid4()}"'))
                sent[0] += 100
        except Exception as e:   # noqa: BLE001 - the server closing the flooder is a pass
            closed.append(repr(e))
        finally:
            conn.close()

    t = threading.Thread(target=flood, daemon=True)
    t0 = time.monotonic()
    t.start()
    rtts, peak_rss = [], rss0
    while time.monotonic() - t0 < 6:
        s = time.monotonic()
        calm.sync(timeout=10)                      # ping/pong round trip of a normal client
        rtts.append(time.monotonic() - s)
        s = time.monotonic()
        expect_status(other.post("/v1/send-message", {"conversation_id": conv,
                                                      "client_msg_id": str(uuid.uuid4()),
                                                      "body": "still here"}), 201)
        rtts.append(time.monotonic() - s)
        peak_rss = max(peak_rss, rss_kib(srv))
        time.sleep(0.1)
    stop.set()
    flood_s = time.monotonic() - t0
    t.join(10)
    time.sleep(1)
    rss1 = rss_kib(srv)
    stored = expect_status(flooder.get("/v1/conversations"), 200)["conversations"]
    stored_n = max((c["last_seq"] for c in stored), default=0)
    record_figure("ws_flood", seconds=round(flood_s, 1), frames_sent=sent[0],
                  frames_per_s=int(sent[0] / flood_s), flooder_messages_stored=stored_n,
                  flooder_cut_off=(closed[0][:60] if closed else "no"),
                  other_client_rtt_ms_p50=round(statistics.median(rtts) * 1000, 1),
                  other_client_rtt_ms_max=round(max(rtts) * 1000, 1),
                  rss_before_kib=rss0, rss_peak_kib=peak_rss, rss_after_kib=rss1)
    assert sent[0] >= 2000, "the flood was too small to mean anything"
    # Rate-limited: 600/min (10/s) after a burst of at most one minute's worth.
    assert stored_n <= 600 + 10 * flood_s + 10, stored_n
    assert max(rtts) < 3, rtts
    assert peak_rss - rss0 < 128 * 1024, (rss0, peak_rss)
    expect_status(other.get("/v1/devices"), 200)
