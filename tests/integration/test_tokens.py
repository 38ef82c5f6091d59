"""Token suite: every way an access or refresh token must fail, in one table, plus the races and
the signing-key rotation. Extends test_auth.py (which checks claims, rotation and a first set of
forgeries) with tokens signed by the server's *own* key — read from DATA_DIR/jwt_ed25519.key, as
an attacker who stole it, or a bug in claim checks, would — so that each claim check is shown to
hold on its own, not only the signature check.
"""
import hashlib
import os
import threading
import time
import uuid

import pytest

from conftest import (PARLEYD, WS, Api, ParleyServer, assert_error, expect_status, login,
                      make_user, record_figure)
from jwtutil import (b64url_encode, decode_jwt, ed25519_public, ed25519_sign,
                     encode_segment, hs256, make_jwt)

REFRESH_TRIALS = int(os.environ.get("PARLEY_REFRESH_RACE_TRIALS", "25"))
REFRESH_THREADS = 8


def whoami(api, token):
    return api.get("/v1/devices", token=token)


def server_seed(server) -> bytes:
    seed = (server.data_dir / "jwt_ed25519.key").read_bytes()
    assert len(seed) == 32
    return seed


def kid_of(seed: bytes) -> str:
    return b64url_encode(hashlib.sha256(ed25519_public(seed)).digest()[:12])


def jwks_kids(api):
    return [k["kid"] for k in expect_status(api.get("/.well-known/jwks.json"), 200)["keys"]]


def signed(seed, claims, **header):
    h = {"alg": "EdDSA", "typ": "JWT", "kid": kid_of(seed), **header}
    return make_jwt(h, claims, lambda m: ed25519_sign(seed, m))


# --- rejected tokens, one table ---------------------------------------------------------------

def bad_tokens(api, server, u, revoked):
    """(name, token) pairs every authenticated endpoint must answer with 401."""
    seed = server_seed(server)
    header, claims, sig, _ = decode_jwt(u.access_token)
    head_b64, body_b64, sig_b64 = u.access_token.split(".")
    now = int(time.time())
    pub = ed25519_public(seed)
    foreign = os.urandom(32)
    # Signature and algorithm.
    flipped = bytearray(sig)
    flipped[0] ^= 1
    yield "forged signature (bit flipped)", f"{head_b64}.{body_b64}.{b64url_encode(bytes(flipped))}"
    yield "signed by a foreign key", signed(foreign, claims, kid=header["kid"])
    yield "alg none, no signature", make_jwt({"alg": "none", "typ": "JWT"}, claims)
    yield "alg none, original signature", \
        f"{encode_segment({'alg': 'none', 'kid': header['kid']})}.{body_b64}.{sig_b64}"
    yield "alg NONE", make_jwt({"alg": "NONE", "kid": header["kid"]}, claims)
    yield "alg missing", make_jwt({"typ": "JWT", "kid": header["kid"]}, claims,
                                  lambda m: ed25519_sign(seed, m))
    yield "HS256 keyed with the public key", make_jwt(
        {"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, claims, hs256(pub))
    yield "HS256 keyed with the public key (base64url)", make_jwt(
        {"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, claims, hs256(b64url_encode(pub).encode()))
    yield "ES256 header over an EdDSA signature", \
        f"{encode_segment({'alg': 'ES256', 'kid': header['kid']})}.{body_b64}.{sig_b64}"
    # kid.
    yield "unknown kid, server key", signed(seed, claims, kid="no-such-kid")
    yield "kid missing, server key", make_jwt({"alg": "EdDSA", "typ": "JWT"}, claims,
                                              lambda m: ed25519_sign(seed, m))
    yield "kid of a foreign key", signed(foreign, claims, kid=kid_of(foreign))
    yield "kid not a string", signed(seed, claims, kid=123)
    # Claims, each on its own, under a valid signature by the server's own key.
    for name in ("sub", "did", "jti", "iat", "exp", "iss"):
        yield f"claim {name} missing (server key)", signed(seed, {k: v for k, v in claims.items()
                                                                   if k != name})
    yield "expired (server key)", signed(seed, dict(claims, iat=now - 1000, exp=now - 1))
    yield "expired at this second (server key)", signed(seed, dict(claims, exp=now))
    yield "issued an hour ahead (server key)", signed(seed, dict(claims, iat=now + 3600,
                                                                exp=now + 3900))
    yield "exp as a string (server key)", signed(seed, dict(claims, exp=str(now + 600)))
    yield "exp as a float (server key)", signed(seed, dict(claims, exp=now + 600.5))
    yield "another issuer (server key)", signed(seed, dict(claims, iss="elsewhere"))
    yield "sub not a uuid (server key)", signed(seed, dict(claims, sub="admin"))
    yield "did not a uuid (server key)", signed(seed, dict(claims, did="*"))
    yield "typ not JWT (server key)", signed(seed, claims, typ="at+jwt+evil")
    # Revocation.
    _, rclaims, _, _ = decode_jwt(revoked.access_token)
    yield "token of a revoked device", revoked.access_token
    yield "fresh token of a revoked device (server key)", signed(
        seed, dict(rclaims, jti=str(uuid.uuid4()), iat=now, exp=now + 600))
    # Shape.
    yield "four segments", u.access_token + ".x"
    yield "two segments", f"{head_b64}.{body_b64}"
    yield "oversized", u.access_token + "A" * 5000


def test_bad_tokens_are_401_everywhere(server, api, new_user):
    u = new_user("tok")
    victim_device = u.new_device("stolen")
    expect_status(u.delete(f"/v1/devices/{victim_device.device_id}"), 204)
    # Control: a token the suite signs with the server's key and complete claims is accepted,
    # so the 401s below are each about the one thing that is wrong.
    seed = server_seed(server)
    _, claims, _, _ = decode_jwt(u.access_token)
    good = signed(seed, dict(claims, jti=str(uuid.uuid4())))
    expect_status(whoami(api, good), 200)

    endpoints = [("GET", "/v1/devices"), ("GET", "/v1/conversations"),
                 ("GET", "/v1/get-messages"), ("POST", "/v1/logout")]
    failures, cells = [], 0
    for name, token in bad_tokens(api, server, u, victim_device):
        for method, path in endpoints:
            cells += 1
            r = api.request(method, path, token=token)
            if r.status_code != 401 or r.json().get("error", {}).get("code") != "unauthenticated":
                failures.append(f"{name} on {method} {path}: {r.status_code} {r.text[:150]}")
    # The genuine token still works: nothing above (logout with a bad token included) hurt it.
    expect_status(whoami(api, u.access_token), 200)
    record_figure("bad_tokens", cells=cells, rejected_401=cells - len(failures))
    assert not failures, "\n".join(failures)


def test_bad_tokens_are_refused_at_the_websocket(server, api, new_user):
    import websocket
    u = new_user("tokws")
    revoked = u.new_device("gone")
    expect_status(u.delete(f"/v1/devices/{revoked.device_id}"), 204)
    failures = []
    for name, token in bad_tokens(api, server, u, revoked):
        if name == "oversized":
            continue     # a 5 kB header is refused as a whole request (431/400), tested elsewhere
        try:
            conn = websocket.create_connection(server.ws_url, timeout=5,
                                               header=[f"Authorization: Bearer {token}"])
            conn.close()
            failures.append(f"{name}: upgraded")
        except websocket.WebSocketBadStatusException as e:
            if e.status_code != 401:
                failures.append(f"{name}: {e.status_code}")
    assert not failures, "\n".join(failures)


# --- logout, refresh reuse ------------------------------------------------------------------------

def refresh(api, token):
    return api.post("/v1/refresh-token", {"refresh_token": token})


def test_logout_revokes_the_access_token_and_only_it(api, new_user):
    u = new_user("out")
    other = login(api, u.username, u.password, device_id=u.device_id)   # same device, 2nd token
    expect_status(u.post("/v1/logout"), 204)
    assert_error(whoami(api, u.access_token), 401)
    assert_error(refresh(api, u.refresh_token), 401)
    assert_error(refresh(api, other["refresh_token"]), 401)   # every refresh token of the device
    # Contract silent on other access tokens of the device: they expire on their own (≤ 15 min).


def test_refresh_reuse_revokes_every_refresh_token_of_the_device(api, new_user):
    u = new_user("reuse")
    second = login(api, u.username, u.password, device_id=u.device_id)["refresh_token"]
    other_device = u.new_device("other")
    rotated = expect_status(refresh(api, u.refresh_token), 200)["refresh_token"]
    assert_error(refresh(api, u.refresh_token), 401)       # reuse
    assert_error(refresh(api, rotated), 401)               # its successor
    assert_error(refresh(api, second), 401)                # a sibling from another login
    expect_status(refresh(api, other_device.refresh_token), 200)   # other devices untouched


# --- a WebSocket ends with its credentials ------------------------------------------------------

def test_logout_closes_the_websockets_opened_with_that_token(api, new_user):
    u, peer = new_user("wsout"), new_user("wspeer")
    second = login(api, u.username, u.password, device_id=u.device_id)   # same device
    ws1 = u.ws()
    ws2 = WS.connect(u.server.ws_url, second["access_token"])
    expect_status(u.post("/v1/logout"), 204)
    assert ws1.close_code() == 4003                      # logged out
    peer.send(to=u, body="after logout")
    ws2.wait_type("message", lambda f: f["message"]["body"] == "after logout")   # still served


def test_a_websocket_is_not_served_past_its_token_expiry(tmp_path):
    srv = ParleyServer(tmp_path / "data", ["--access-token-ttl", "2"]).start()
    try:
        api = Api(srv)
        u, peer = make_user(api, srv, "wsexp"), make_user(api, srv, "wspeer")
        ws = u.ws()
        time.sleep(2.5)
        peer = peer.__class__(api, srv, peer.username, peer.password,
                              login(api, peer.username, peer.password, device_id=peer.device_id))
        sent = peer.send(to=u, body="after expiry")
        assert ws.close_code() == 4002                   # token expired; the message not on it
        u2 = u.__class__(api, srv, u.username, u.password,
                         login(api, u.username, u.password, device_id=u.device_id))
        fresh = u2.ws()                                 # a fresh token gets it
        got = fresh.wait_type("message", lambda f: f["message"]["body"] == "after expiry")
        assert got["message"]["message_id"] == sent["message_id"]
    finally:
        srv.stop()


def test_refresh_reuse_ends_the_devices_sessions(api, new_user):
    u, other = new_user("wsreuse"), new_user("wsother")
    ws = u.ws()
    other_ws = other.ws()
    rotated = expect_status(refresh(api, u.refresh_token), 200)
    assert_error(refresh(api, u.refresh_token), 401)   # reuse: a thief and the owner both hold it
    assert ws.close_code() == 4001                      # sessions revoked
    assert_error(whoami(api, u.access_token), 401)     # access tokens issued before: refused
    assert_error(whoami(api, rotated["access_token"]), 401)
    assert other_ws.close_code(timeout=0.5) == "timeout"   # another user's session untouched
    again = login(api, u.username, u.password, device_id=u.device_id)   # the owner logs in again
    expect_status(whoami(api, again["access_token"]), 200)


def test_concurrent_refreshes_exactly_one_wins(server, new_user):
    # Many trials: each presents one fresh refresh token from REFRESH_THREADS threads at once
    # (a barrier releases them together, connections already open).
    outcomes = []
    for trial in range(REFRESH_TRIALS):
        u = new_user("race")
        sessions = [Api(server) for _ in range(REFRESH_THREADS)]
        for s in sessions:
            s.get("/healthz")
        barrier = threading.Barrier(REFRESH_THREADS)
        answers = [None] * REFRESH_THREADS

        def go(i):
            barrier.wait()
            answers[i] = refresh(sessions[i], u.refresh_token)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(REFRESH_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(r.status_code for r in answers)
        outcomes.append(codes)
        # The loser's presentation is a reuse: the winner's new refresh token is revoked too.
        for r in answers:
            if r.status_code == 200:
                assert_error(refresh(sessions[0], r.json()["refresh_token"]), 401)
    wins = [c.count(200) for c in outcomes]
    record_figure("refresh_race", trials=len(outcomes), threads=REFRESH_THREADS,
                  trials_with_one_winner=wins.count(1), total_wins=sum(wins))
    assert all(set(c) <= {200, 401} for c in outcomes), outcomes
    assert wins == [1] * len(outcomes), f"winners per trial: {wins}"


# --- signing key rotation -------------------------------------------------------------------------

@pytest.fixture
def own_server(tmp_path):
    servers = []

    def start(data_dir=None):
        srv = ParleyServer(data_dir or tmp_path / "data").start()
        servers.append(srv)
        return srv
    yield start
    for s in servers:
        s.stop()


def admin_rotate(data_dir):
    import subprocess
    out = subprocess.run([str(PARLEYD), "admin", "rotate-signing-key", "--data-dir",
                          str(data_dir)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_signing_key_rotation_keeps_old_tokens_until_they_expire(own_server):
    srv = own_server()
    api = Api(srv.base)
    u = make_user(api, srv, "rot")
    old_kid = decode_jwt(u.access_token)[0]["kid"]
    assert jwks_kids(api) == [old_kid]
    assert srv.stop() == 0
    admin_rotate(srv.data_dir)
    assert (srv.data_dir / "jwt_ed25519.key.previous").exists()
    srv2 = own_server(srv.data_dir)
    api2 = Api(srv2.base)
    kids = jwks_kids(api2)
    assert len(kids) == 2 and kids[1] == old_kid, kids       # new key first, then the previous
    new_kid = kids[0]
    # A token of the previous key still works; new tokens are signed with the new key.
    expect_status(whoami(api2, u.access_token), 200)
    fresh = expect_status(refresh(api2, u.refresh_token), 200)
    assert decode_jwt(fresh["access_token"])[0]["kid"] == new_kid
    expect_status(whoami(api2, fresh["access_token"]), 200)
    # Revoking the old key at once (it leaked): remove .previous and restart. Old tokens are 401,
    # refresh tokens (opaque, not signed) still work, so clients recover without logging in.
    assert srv2.stop() == 0
    (srv.data_dir / "jwt_ed25519.key.previous").unlink()
    srv3 = own_server(srv.data_dir)
    api3 = Api(srv3.base)
    assert jwks_kids(api3) == [new_kid]
    assert_error(whoami(api3, u.access_token), 401)
    again = expect_status(refresh(api3, fresh["refresh_token"]), 200)
    expect_status(whoami(api3, again["access_token"]), 200)


def test_key_files_others_may_read_are_refused_and_the_secrets_dir_is_private(own_server,
                                                                               tmp_path):
    import subprocess
    secrets = tmp_path / "new" / "secrets"
    srv = own_server()
    srv.stop()
    key = srv.data_dir / "jwt_ed25519.key"
    key.chmod(0o644)
    out = subprocess.run([str(PARLEYD), "--listen", "127.0.0.1:0", "--data-dir",
                          str(srv.data_dir)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert f"chmod 600 {key}" in out.stderr, out.stderr
    key.chmod(0o600)
    srv2 = own_server(srv.data_dir)   # starts again once fixed
    expect_status(Api(srv2.base).get("/healthz"), 200)
    srv3 = ParleyServer(tmp_path / "d3", ["--secrets-dir", str(secrets)]).start()
    try:
        assert (secrets.stat().st_mode & 0o777) == 0o700
        assert (secrets / "jwt_ed25519.key").stat().st_mode & 0o777 == 0o600
        assert (secrets / "media_url.key").stat().st_mode & 0o777 == 0o600
    finally:
        srv3.stop()


def test_replaced_key_file_invalidates_old_tokens(own_server):
    srv = own_server()
    api = Api(srv.base)
    u = make_user(api, srv, "swap")
    old_kid = decode_jwt(u.access_token)[0]["kid"]
    assert srv.stop() == 0
    key = srv.data_dir / "jwt_ed25519.key"
    key.write_bytes(os.urandom(32))
    srv2 = own_server(srv.data_dir)
    api2 = Api(srv2.base)
    kids = jwks_kids(api2)
    assert kids == [kid_of(key.read_bytes())] and old_kid not in kids
    assert_error(whoami(api2, u.access_token), 401)
    expect_status(whoami(api2, expect_status(refresh(api2, u.refresh_token), 200)["access_token"]),
                  200)
