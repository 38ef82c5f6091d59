"""Audit log, admin role, notifications and push delivery to offline devices."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (ParleyServer, assert_error, expect_status, free_port, login, make_user,
                      poll, signup, unique_username)

ADMIN = unique_username("boss")
# The push receivers of these tests listen on 127.0.0.1: allowed here only (refused by default).
SERVER_ARGS = ["--push-retry-base-ms", "50", "--push-max-attempts", "3",
               "--push-allow-networks", "127.0.0.1"]


class PushReceiver:
    """A local HTTP endpoint that records push POSTs and answers with scripted statuses."""

    def __init__(self, statuses=()):
        self.requests = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                receiver.requests.append({"path": self.path, "raw": raw,
                                          "json": json.loads(raw or b"{}")})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/push/{uuid.uuid4()}"

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def receiver():
    r = PushReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def admin(api, server):
    from conftest import User
    _, password, _ = signup(api, ADMIN)
    server.grant_admin(ADMIN)
    return User(api, server, ADMIN, password, login(api, ADMIN, password))


def audit(admin_user, **params):
    return expect_status(admin_user.get("/v1/admin/audit", params=params), 200)["entries"]


def find(entries, action, **match):
    return [e for e in entries
            if e["action"] == action and all(e.get(k) == v for k, v in match.items())]


def test_audit_records_security_actions(admin, new_user, api):
    u = new_user("aud")
    # A failed login and a refresh-token reuse.
    assert_error(api.post("/v1/login", {"username": u.username, "password": "wrong password"}), 401)
    r1 = expect_status(api.post("/v1/refresh-token", {"refresh_token": u.refresh_token}), 200)
    assert_error(api.post("/v1/refresh-token", {"refresh_token": u.refresh_token}), 401)
    # The reuse ended the device's sessions: its owner logs in again (same device).
    from conftest import User
    u = User(api, u.server, u.username, u.password,
             login(api, u.username, u.password, device_id=u.device_id))
    second = u.new_device("tablet")
    expect_status(u.delete(f"/v1/devices/{second.device_id}"), 204)
    assert r1["refresh_token"]

    def recorded():
        entries = audit(admin, limit=200)
        return entries if (find(entries, "signup", actor=u.user_id)
                           and find(entries, "login.failure", target=u.username)
                           and find(entries, "token.reuse", actor=u.user_id)
                           and find(entries, "device.revoked", target=second.device_id)) else None
    entries = poll(recorded, what="audit entries")
    e = find(entries, "login.failure", target=u.username)[0]
    assert e["address"] == "127.0.0.1"
    assert isinstance(e["at"], int) and e["at"] > 0
    assert e["actor"] == ""  # anonymous
    ok = find(entries, "login.success", actor=u.user_id)
    assert u.device_id in [e["actor_device_id"] for e in ok]
    # No secrets in the audit trail.
    text = json.dumps(entries)
    assert u.password not in text and u.refresh_token not in text


def test_audit_is_admin_only_and_denials_are_recorded(admin, new_user):
    u = new_user("nosy")
    assert_error(u.get("/v1/admin/audit"), 403, "forbidden")
    entries = poll(lambda: find(audit(admin, action="authz.denied"), "authz.denied", actor=u.user_id),
                   what="authz.denied entry")
    assert entries[0]["target"] == "GET /v1/admin/audit"


def test_audit_filters_and_pages(admin, new_user):
    u = new_user("pg")
    for _ in range(3):
        u.get("/v1/admin/audit")  # three denials
    rows = poll(lambda: (lambda r: r if len(r) >= 3 else None)(
        audit(admin, action="authz.denied", actor_id=u.user_id)), what="three denials")
    assert all(r["action"] == "authz.denied" and r["actor"] == u.user_id for r in rows)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True), "newest first"
    page = expect_status(admin.get("/v1/admin/audit", params={"limit": 1}), 200)
    assert len(page["entries"]) == 1 and "next_before" in page
    older = audit(admin, limit=1, before=page["next_before"])
    assert older[0]["id"] < page["entries"][0]["id"]
    assert_error(admin.get("/v1/admin/audit", params={"limit": 0}), 400)
    assert_error(admin.get("/v1/admin/audit", params={"before": "x"}), 400)


def test_send_notification_admin_only_stored_and_pushed_live(admin, new_user):
    u = new_user("note")
    other = new_user("other")
    body = {"user_id": u.user_id, "title": "Maintenance", "body": "Tonight 22:00",
            "data": {"k": 1}}
    assert_error(other.post("/v1/send-notification", body), 403, "forbidden")
    ws = u.ws()
    r = expect_status(admin.post("/v1/send-notification", body), 202)
    frame = ws.wait_type("notification")
    assert frame["notification"]["title"] == "Maintenance"
    assert frame["notification"]["notification_id"] == r["notification_id"]
    listed = expect_status(u.get("/v1/notifications"), 200)["notifications"]
    assert listed[0]["title"] == "Maintenance" and listed[0]["data"] == {"k": 1}
    assert expect_status(other.get("/v1/notifications"), 200)["notifications"] == []
    assert_error(admin.post("/v1/send-notification", {**body, "user_id": str(uuid.uuid4())}), 404)
    assert_error(admin.post("/v1/send-notification", {"user_id": u.user_id}), 400)
    assert_error(admin.post("/v1/send-notification", {**body, "data": "x"}), 400)
    assert_error(admin.post("/v1/send-notification", {**body, "title": "t" * 1000}), 400)


def test_offline_device_gets_a_push_without_content(new_user, receiver):
    alice, bob = new_user("pa"), new_user("pb")
    url = receiver.url
    expect_status(bob.post("/v1/register-push", {"endpoint": url}), 204)
    secret = "the launch code is 1234"
    sent = alice.send(to=bob, body=secret)
    req = poll(lambda: receiver.requests[0] if receiver.requests else None, what="push POST")
    assert req["json"]["conversation_id"] == sent["conversation_id"]
    assert req["json"]["unread_count"] == 1
    assert secret.encode() not in req["raw"] and b"launch" not in req["raw"]
    assert req["path"] == url.split(str(receiver.port))[1]


def test_online_device_gets_no_push(new_user, receiver):
    alice, bob = new_user("oa"), new_user("ob")
    expect_status(bob.post("/v1/register-push", {"endpoint": receiver.url}), 204)
    ws = bob.ws()
    alice.send(to=bob, body="live")
    ws.wait_type("message")
    time.sleep(0.5)
    assert receiver.requests == []


def test_push_retries_then_succeeds(new_user):
    r = PushReceiver(statuses=[500, 503])
    try:
        alice, bob = new_user("ra"), new_user("rb")
        expect_status(bob.post("/v1/register-push", {"endpoint": r.url}), 204)
        alice.send(to=bob, body="x")
        poll(lambda: len(r.requests) >= 3, what="three attempts")
        time.sleep(0.3)
        assert len(r.requests) == 3  # 500, 503, then 200: no more
    finally:
        r.close()


def test_gone_endpoint_is_dropped(new_user):
    r = PushReceiver(statuses=[410])
    try:
        alice, bob = new_user("ga"), new_user("gb")
        expect_status(bob.post("/v1/register-push", {"endpoint": r.url}), 204)
        alice.send(to=bob, body="1")
        poll(lambda: len(r.requests) == 1, what="first push")
        time.sleep(0.3)
        alice.send(to=bob, body="2")
        time.sleep(0.5)
        assert len(r.requests) == 1, "a 410 endpoint must not be used again"
    finally:
        r.close()


def test_a_revoked_device_gets_no_more_pushes(new_user, receiver):
    alice, bob = new_user("rva"), new_user("rvb")
    phone = bob.new_device("lost phone")
    expect_status(phone.post("/v1/register-push", {"endpoint": receiver.url}), 204)
    expect_status(bob.delete(f"/v1/devices/{phone.device_id}"), 204)
    alice.send(to=bob, body="after the phone was removed")
    time.sleep(0.8)
    assert receiver.requests == [], "a push went to a removed device's endpoint"


def test_register_push_validates_and_unregisters(new_user, receiver):
    u, alice = new_user("rp"), new_user("ra2")
    for bad in ["ftp://x/y", "not a url", "http://", "javascript:alert(1)", 5, "h" * 3000]:
        assert_error(u.post("/v1/register-push", {"endpoint": bad}), 400)
    expect_status(u.post("/v1/register-push", {"endpoint": receiver.url}), 204)
    expect_status(u.post("/v1/register-push", {"endpoint": ""}), 204)
    alice.send(to=u, body="after unregister")
    time.sleep(0.5)
    assert receiver.requests == []


def test_push_endpoints_cannot_reach_internal_addresses(tmp_path):
    """Issue: the server POSTed to any endpoint, its own engines and cloud metadata included.
    By default an endpoint written as a non-public address is refused at registration (400),
    and a name resolving only to such addresses gets no push (counted as refused); only an
    operator's --push-allow-networks opens a network."""
    r = PushReceiver()
    srv = ParleyServer(tmp_path / "data", ["--push-retry-base-ms", "50"]).start()
    try:
        from conftest import Api
        api = Api(srv)
        alice, bob = make_user(api, srv, "sa"), make_user(api, srv, "sb")
        for bad in [r.url, f"http://127.0.0.2:{r.port}/x", "http://169.254.169.254/latest/meta-data",
                    f"http://[::1]:{r.port}/x", "http://10.0.0.5/push", "http://192.168.1.1/",
                    f"http://[::ffff:127.0.0.1]:{r.port}/x", "http://0.0.0.0/", "https://100.64.0.1/"]:
            assert_error(bob.post("/v1/register-push", {"endpoint": bad}), 400)
        # A name is judged at each push on what it resolves to: localhost is loopback.
        expect_status(bob.post("/v1/register-push",
                               {"endpoint": f"http://localhost:{r.port}/push/x"}), 204)
        alice.send(to=bob, body="to an offline device")
        poll(lambda: metric(srv, "parley_push_refused_total") >= 1, what="the push refused")
        time.sleep(0.3)
        assert r.requests == [], "a push reached a loopback address"
    finally:
        srv.stop()
        r.close()


def test_push_reaches_an_allowed_ipv6_literal_endpoint(tmp_path):
    """An endpoint written as an IPv6 literal (http://[::1]:port/…) is resolved without its
    brackets: it used to fail at every attempt."""
    import socket as _socket

    class V6Server(ThreadingHTTPServer):
        address_family = _socket.AF_INET6

    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = V6Server(("::1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    srv = ParleyServer(tmp_path / "data", ["--push-allow-networks", "::1"]).start()
    try:
        from conftest import Api
        api = Api(srv)
        alice, bob = make_user(api, srv, "v6a"), make_user(api, srv, "v6b")
        url = f"http://[::1]:{httpd.server_address[1]}/push"
        expect_status(bob.post("/v1/register-push", {"endpoint": url}), 204)
        alice.send(to=bob, body="to an offline device")
        poll(lambda: got or None, what="a push on the IPv6 endpoint")
    finally:
        srv.stop()
        httpd.shutdown()


def metric(srv, name):
    import requests
    for line in requests.get(srv.base + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_admin_create_user_command(tmp_path):
    import subprocess
    from conftest import PARLEYD
    data = tmp_path / "data"
    name = unique_username("cli")
    out = subprocess.run([str(PARLEYD), "admin", "create-user", "--username", name,
                          "--password", "long enough pw", "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    again = subprocess.run([str(PARLEYD), "admin", "create-user", "--username", name,
                            "--password", "long enough pw", "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=30)
    assert again.returncode != 0 and "taken" in again.stderr
    srv = ParleyServer(data).start()
    try:
        from conftest import Api, User
        api = Api(srv)
        admin = User(api, srv, name, "long enough pw", login(api, name, "long enough pw"))
        expect_status(admin.get("/v1/admin/audit"), 200)
    finally:
        srv.stop()


def test_the_admin_role_cannot_be_claimed_by_signing_up(tmp_path):
    """Issue: a name listed in --admin became an admin for whoever signed it up first. --admin and
    admin_usernames are refused at start with what to do instead; a signup is never an admin; an
    operator grants the role to an existing account."""
    import subprocess
    from conftest import PARLEYD, Api, User
    for extra in (["--admin", "boss"], ["--config", str(tmp_path / "p.toml")]):
        (tmp_path / "p.toml").write_text('admin_usernames = ["boss"]\n')
        out = subprocess.run([str(PARLEYD), "--listen", "127.0.0.1:0", "--data-dir",
                              str(tmp_path / "d"), *extra], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode != 0, extra
        assert "parleyd admin grant" in out.stderr, out.stderr
    srv = ParleyServer(tmp_path / "data").start()
    try:
        api = Api(srv)
        name = unique_username("claim")
        _, pw, _ = signup(api, name)
        u = User(api, srv, name, pw, login(api, name, pw))
        expect_status(u.get("/v1/admin/audit"), 403)
        srv.grant_admin(name)
        expect_status(u.get("/v1/admin/audit"), 200)   # the operator's grant, at once
        missing = subprocess.run([str(PARLEYD), "admin", "grant", "nobody_here", "--data-dir",
                                  str(srv.data_dir)], capture_output=True, text=True, timeout=30)
        assert missing.returncode != 0 and "no user" in missing.stderr
    finally:
        srv.stop()


def test_admin_log_search_needs_an_admin_and_log_shipping(admin, new_user):
    """GET /v1/admin/logs: admins only (403), its parameters are checked (400), and on a server
    without log shipping it says so (404). The search itself runs on OpenSearch: see
    tests/scaleout (test_logs_of_every_node_are_searchable_by_an_admin)."""
    u = new_user("logs")
    assert_error(u.get("/v1/admin/logs"), 403, "forbidden")
    for params in ({"limit": 0}, {"limit": 201}, {"level": "loud"}, {"since": "x"},
                   {"until": 0}, {"q": "w" * 257}, {"node": "n" * 65}):
        assert_error(admin.get("/v1/admin/logs", params=params), 400, "invalid_argument")
    r = admin.get("/v1/admin/logs", params={"q": "login"})
    assert_error(r, 404, "not_found")
    assert "--ship-logs" in r.json()["error"]["message"]
