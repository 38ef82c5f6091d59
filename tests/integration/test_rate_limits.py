"""Rate limits: password guessing, signup floods and send floods get 429 with Retry-After.
Each test starts its own server, so budgets spent by one test do not leak into another."""
import pytest

from conftest import Api, ParleyServer, User, assert_error, expect_status, login, signup, unique_username


@pytest.fixture
def limited(tmp_path):
    servers = []

    def start(*args):
        srv = ParleyServer(tmp_path / f"data{len(servers)}", list(args)).start()
        servers.append(srv)
        return srv, Api(srv)
    yield start
    for s in servers:
        s.stop()


def retry_after(resp):
    assert resp.status_code == 429, (resp.status_code, resp.text)
    assert resp.json()["error"]["code"] == "rate_limited"
    value = int(resp.headers["Retry-After"])
    assert 1 <= value <= 60
    return value


def test_password_guessing_is_limited(limited):
    _, api = limited("--rate-login-per-min", "3")
    name, password, _ = signup(api, unique_username("victim"))
    for _ in range(3):
        assert_error(api.post("/v1/login", {"username": name, "password": "guess guess"}), 401)
    retry_after(api.post("/v1/login", {"username": name, "password": "guess guess"}))
    # The right password is limited too while the budget is spent: no oracle for a guesser.
    retry_after(api.post("/v1/login", {"username": name, "password": password}))


def test_signups_are_limited_per_address(limited):
    _, api = limited("--rate-signup-per-min", "2")
    statuses = [api.post("/v1/signup", {"username": unique_username("flood"),
                                         "password": "long enough pw"}).status_code
                for _ in range(4)]
    assert statuses == [201, 201, 429, 429], statuses


def _signup_from(api, forwarded_for):
    return api.post("/v1/signup", {"username": unique_username("fwd"), "password": "long enough pw"},
                    headers={"X-Forwarded-For": forwarded_for}).status_code


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(limited):
    # Untrusted peer: a client cannot pick a fresh bucket by sending X-Forwarded-For.
    _, api = limited("--rate-signup-per-min", "2")
    assert [_signup_from(api, f"10.0.0.{i}") for i in range(1, 5)] == [201, 201, 429, 429]


def test_trusted_proxy_forwarded_for_names_the_client(limited):
    # Behind a load balancer every peer is the balancer: its X-Forwarded-For (the last address,
    # the one it appended) gives each client its own bucket.
    _, api = limited("--rate-signup-per-min", "2", "--trusted-proxies", "127.0.0.1")
    assert [_signup_from(api, "203.0.113.9, 10.0.0.1") for _ in range(3)] == [201, 201, 429]
    assert _signup_from(api, "10.0.0.2") == 201  # another client behind the same proxy
    assert _signup_from(api, "not an address") == 201  # malformed: the peer's own bucket
    assert _signup_from(api, "also bad") == 201
    assert _signup_from(api, "bad again") == 429


def test_sends_are_limited_per_user(limited):
    srv, api = limited("--rate-send-per-min", "5")
    name, password, _ = signup(api, unique_username("chatty"))
    u = User(api, srv, name, password, login(api, name, password))
    statuses = [u.post("/v1/send-message", {"to_user_id": u.user_id, "client_msg_id": f"c{i}",
                                            "body": "x"}).status_code for i in range(7)]
    assert statuses == [201] * 5 + [429, 429], statuses
    retry_after(u.post("/v1/send-message", {"to_user_id": u.user_id, "client_msg_id": "late",
                                            "body": "x"}))
    # Over the WebSocket the same budget answers with an error frame.
    ws = u.ws()
    ws.send({"type": "send", "ref": "r1", "to_user_id": u.user_id, "client_msg_id": "ws1",
             "body": "x"})
    frame = ws.wait_type("error", lambda f: f.get("ref") == "r1")
    assert frame["error"]["code"] == "rate_limited"


def test_rate_limits_can_be_disabled(limited):
    _, api = limited("--rate-signup-per-min", "0")
    for _ in range(15):
        expect_status(api.post("/v1/signup", {"username": unique_username("ok"),
                                               "password": "long enough pw"}), 201)
