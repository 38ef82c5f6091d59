"""Auth: signup, login, refresh-token rotation and reuse detection, logout, JWKS, access tokens."""
import json
import os
import random
import string
import time
import uuid

import pytest

from conftest import (ParleyServer, Api, assert_error, expect_status, is_uuid, login,
                      make_user, poll, signup, unique_username)
from jwtutil import (b64url_decode, b64url_encode, decode_jwt, ed25519_public, ed25519_sign,
                     ed25519_verify, encode_segment, hs256, make_jwt)


def jwks(api):
    r = api.get("/.well-known/jwks.json")
    body = expect_status(r, 200)
    assert isinstance(body.get("keys"), list) and body["keys"], body
    return body["keys"]


def whoami_status(api, token):
    """Status of an authenticated request made with `token`."""
    return api.get("/v1/devices", token=token)


# --- signup ---------------------------------------------------------------------------------

def test_signup_returns_user(api):
    name = unique_username("alice")
    r = api.post("/v1/signup", {"username": name, "password": "s3cret-pass",
                                "display_name": "Alice Ä 🐱"})
    body = expect_status(r, 201)
    assert is_uuid(body["user_id"]), body
    assert body["username"] == name
    assert body["display_name"] == "Alice Ä 🐱"


def test_username_is_stored_lowercase_and_unique_case_insensitively(api):
    mixed = unique_username("MiXeD")
    assert mixed != mixed.lower()
    _, _, body = signup(api, mixed)
    assert body["username"] == mixed.lower()
    r = api.post("/v1/signup", {"username": mixed.lower(), "password": "another-pass"})
    assert_error(r, 409)
    r = api.post("/v1/signup", {"username": mixed.upper(), "password": "another-pass"})
    assert_error(r, 409)


def test_login_with_other_case_of_username(api):
    # Contract is silent; usernames are case-insensitive, so a careful design logs in either way.
    name = unique_username("case")
    signup(api, name, "password-123")
    body = login(api, name.upper(), "password-123")
    assert is_uuid(body["user_id"])


def test_duplicate_username_conflict(api):
    name, _, _ = signup(api)
    assert_error(api.post("/v1/signup", {"username": name, "password": "whatever-1"}), 409)


@pytest.mark.parametrize("length", [3, 32])
def test_username_length_bounds_accepted(api, length):
    alphabet = string.ascii_lowercase + string.digits
    name = "".join(random.choices(alphabet, k=length))
    r = api.post("/v1/signup", {"username": name, "password": "password-ok"})
    expect_status(r, 201)


@pytest.mark.parametrize("name", [
    "ab", "x" * 33, "", "bad-name", "with space", "ünïcode", "semi;colon", "slash/name",
    "tab\tname", "nul\x00name", "emoji😀x", "at@sign",
])
def test_invalid_username_rejected(api, name):
    assert_error(api.post("/v1/signup", {"username": name, "password": "password-ok"}), 400)


def test_username_with_allowed_punctuation(api):
    name = unique_username("a.b_c")
    assert expect_status(api.post("/v1/signup", {"username": name, "password": "password-ok"}),
                         201)["username"] == name


@pytest.mark.parametrize("password,ok", [
    ("1234567", False),
    ("12345678", True),
    ("ééé" + "ab", True),             # 5 characters, 8 bytes: the limit is in bytes
    ("ééé" + "a", False),             # 4 characters, 7 bytes
    ("p" * 1024, True),
    ("p" * 1025, False),
    ("é" * 512, True),                # 1024 bytes
    ("é" * 512 + "x", False),         # 513 characters, 1025 bytes
])
def test_password_length_in_bytes(api, password, ok):
    r = api.post("/v1/signup", {"username": unique_username("pw"), "password": password})
    if ok:
        expect_status(r, 201)
    else:
        assert_error(r, 400)


# --- login ----------------------------------------------------------------------------------

def test_login_returns_tokens(api):
    name, pw, su = signup(api)
    body = login(api, name, pw, device_name="laptop")
    assert body["user_id"] == su["user_id"]
    assert is_uuid(body["device_id"])
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 900


def test_wrong_user_and_wrong_password_give_same_401(api):
    name, pw, _ = signup(api)
    wrong_pw = api.post("/v1/login", {"username": name, "password": pw + "x"})
    no_user = api.post("/v1/login", {"username": unique_username("ghost"), "password": pw})
    b1 = assert_error(wrong_pw, 401)
    b2 = assert_error(no_user, 401)
    assert b1 == b2, "wrong username and wrong password must be indistinguishable"


def test_login_with_device_id_resumes_device_and_without_registers_new(api, new_user):
    u = new_user()
    devices = lambda: expect_status(u.get("/v1/devices"), 200)["devices"]
    assert [d["device_id"] for d in devices()] == [u.device_id]
    again = login(api, u.username, u.password, device_id=u.device_id)
    assert again["device_id"] == u.device_id
    assert again["user_id"] == u.user_id
    assert len(devices()) == 1
    other = login(api, u.username, u.password)
    assert other["device_id"] != u.device_id
    assert sorted(d["device_id"] for d in devices()) == sorted([u.device_id, other["device_id"]])


def test_login_with_device_id_of_another_user_does_not_resume_it(api, new_user):
    # docs/api.md: a `device_id` that is unknown, revoked or another user's gives 401 (no hint
    # which); the device is not taken over.
    a, b = new_user(), new_user()
    r = api.post("/v1/login", {"username": b.username, "password": b.password,
                               "device_id": a.device_id})
    assert_error(r, 401)
    r = api.post("/v1/login", {"username": b.username, "password": b.password,
                               "device_id": str(uuid.uuid4())})
    assert_error(r, 401)


# --- access token -----------------------------------------------------------------------------

def test_jwks_and_access_token_claims(api, new_user):
    u = new_user()
    keys = jwks(api)
    for k in keys:
        assert isinstance(k.get("kid"), str) and k["kid"], k
        assert k.get("kty") == "OKP" and k.get("crv") == "Ed25519", k
        assert len(b64url_decode(k["x"])) == 32, k
        assert "d" not in k, "the JWKS must never contain a private key"
        if "alg" in k:
            assert k["alg"] == "EdDSA", k
    header, claims, sig, signing_input = decode_jwt(u.access_token)
    assert header["alg"] == "EdDSA", header
    by_kid = {k["kid"]: k for k in keys}
    assert header.get("kid") in by_kid, (header, list(by_kid))
    assert ed25519_verify(b64url_decode(by_kid[header["kid"]]["x"]), signing_input, sig), \
        "access token signature does not verify with the JWKS key named by its kid"
    assert claims["sub"] == u.user_id
    assert claims["did"] == u.device_id
    assert isinstance(claims["iss"], str) and claims["iss"]
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert abs(claims["iat"] - time.time()) < 300, "iat must be in seconds, near now"
    assert 0 < claims["exp"] - claims["iat"] <= 900
    assert abs(u.login_answer["expires_in"] - (claims["exp"] - claims["iat"])) <= 1


def test_each_token_has_its_own_jti(api, new_user):
    u = new_user()
    second = login(api, u.username, u.password, device_id=u.device_id)
    assert decode_jwt(u.access_token)[1]["jti"] != decode_jwt(second["access_token"])[1]["jti"]


def _forgeries(api, u, victim):
    """(name, token) pairs that must all be rejected."""
    header, claims, sig, signing_input = decode_jwt(u.access_token)
    head_b64, body_b64, sig_b64 = u.access_token.split(".")
    key = jwks(api)[0]
    pub = b64url_decode(key["x"])
    other_claims = dict(claims, sub=victim.user_id, did=victim.device_id)
    long_claims = dict(claims, exp=claims["exp"] + 86400)
    flipped = bytearray(sig)
    flipped[5] ^= 0x01
    own_secret = os.urandom(32)
    own_pub = ed25519_public(own_secret)
    own_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(own_pub)}
    yield "payload swapped to another user", f"{head_b64}.{encode_segment(other_claims)}.{sig_b64}"
    yield "exp extended", f"{head_b64}.{encode_segment(long_claims)}.{sig_b64}"
    yield "signature bit flipped", f"{head_b64}.{body_b64}.{b64url_encode(bytes(flipped))}"
    yield "signature removed", f"{head_b64}.{body_b64}."
    yield "alg none", make_jwt({"alg": "none", "typ": "JWT", "kid": header["kid"]}, claims)
    yield "alg None", make_jwt({"alg": "None", "typ": "JWT"}, other_claims)
    yield "alg none with original signature", \
        f"{encode_segment({'alg': 'none', 'kid': header['kid']})}.{body_b64}.{sig_b64}"
    for label, secret in [("raw public key", pub), ("base64url x", key["x"].encode()),
                          ("JWK json", json.dumps(key).encode())]:
        yield f"HS256 keyed with {label}", make_jwt(
            {"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, other_claims, hs256(secret))
    yield "EdDSA signed by a foreign key, server kid", make_jwt(
        {"alg": "EdDSA", "typ": "JWT", "kid": header["kid"]}, other_claims,
        lambda m: ed25519_sign(own_secret, m))
    yield "EdDSA signed by a foreign key embedded as jwk", make_jwt(
        {"alg": "EdDSA", "typ": "JWT", "jwk": own_jwk}, other_claims,
        lambda m: ed25519_sign(own_secret, m))
    yield "unknown kid", make_jwt(
        {"alg": "EdDSA", "typ": "JWT", "kid": "no-such-kid"}, other_claims,
        lambda m: ed25519_sign(own_secret, m))


def test_forged_tokens_rejected(api, new_user):
    u, victim = new_user(), new_user()
    failures = []
    for name, token in _forgeries(api, u, victim):
        r = whoami_status(api, token)
        if r.status_code != 401:
            failures.append(f"{name}: {r.status_code} {r.text[:200]}")
        else:
            assert_error(r, 401)
    assert not failures, "forged tokens accepted or wrongly answered:\n" + "\n".join(failures)
    # The genuine token still works, so the 401s above are not an accident.
    expect_status(whoami_status(api, u.access_token), 200)


@pytest.mark.parametrize("auth", [
    None, "", "Bearer", "Bearer ", "Bearer garbage", "Bearer a.b.c", "Bearer ...",
    "Bearer eyJhbGciOiJFZERTQSJ9.eyJ9.sig", "Basic dXNlcjpwYXNz", "bearer", "Token abc",
])
def test_garbage_authorization_is_401(api, auth):
    headers = {} if auth is None else {"Authorization": auth}
    assert_error(api.get("/v1/devices", headers=headers), 401)


def test_access_token_in_other_header_forms(api, new_user):
    u = new_user()
    # A token in the query string is only for the WebSocket endpoint (browsers); careful
    # design does not accept it on plain HTTP endpoints.
    r = api.get("/v1/devices", params={"access_token": u.access_token})
    assert_error(r, 401)


@pytest.fixture(scope="module")
def short_ttl_server(tmp_path_factory):
    srv = ParleyServer(tmp_path_factory.mktemp("ttl") / "data",
                       ["--access-token-ttl", "1"]).start()
    yield srv
    assert srv.alive(), srv.log_tail()
    srv.stop()


def test_expired_access_token_rejected(short_ttl_server):
    api = Api(short_ttl_server.base)
    u = make_user(api, short_ttl_server)
    _, claims, _, _ = decode_jwt(u.access_token)
    assert claims["exp"] - claims["iat"] == 1
    assert u.login_answer["expires_in"] == 1
    # Poll rather than sleep: the token must stop working soon after exp (small leeway allowed).
    # (A Response is falsy for 4xx, hence the list.)
    (r,) = poll(lambda: (lambda r: [r] if r.status_code == 401 else None)(
        whoami_status(api, u.access_token)), timeout=8, interval=0.2,
        what="expired token rejected")
    assert_error(r, 401)
    assert time.time() >= claims["exp"], "token rejected before its exp"
    # A fresh token from refresh works again.
    fresh = expect_status(api.post("/v1/refresh-token", {"refresh_token": u.refresh_token}), 200)
    expect_status(whoami_status(api, fresh["access_token"]), 200)


# --- refresh and logout -----------------------------------------------------------------------

def refresh(api, token):
    return api.post("/v1/refresh-token", {"refresh_token": token})


def test_refresh_rotates(api, new_user):
    u = new_user()
    body = expect_status(refresh(api, u.refresh_token), 200)
    assert set(body) >= {"access_token", "refresh_token", "expires_in"}
    assert body["refresh_token"] != u.refresh_token
    assert 0 < body["expires_in"] <= 900
    _, claims, _, _ = decode_jwt(body["access_token"])
    assert claims["sub"] == u.user_id and claims["did"] == u.device_id
    assert claims["jti"] != decode_jwt(u.access_token)[1]["jti"]
    expect_status(whoami_status(api, body["access_token"]), 200)
    # The new refresh token is usable once.
    expect_status(refresh(api, body["refresh_token"]), 200)


def test_refresh_token_reuse_revokes_the_device_family(api, new_user):
    u = new_user()
    other_device = u.new_device("other")
    r1 = expect_status(refresh(api, u.refresh_token), 200)["refresh_token"]
    assert_error(refresh(api, u.refresh_token), 401)       # reuse detected
    assert_error(refresh(api, r1), 401)                    # newest token revoked too
    # Reuse detection is per device: the user's other device keeps working.
    expect_status(refresh(api, other_device.refresh_token), 200)


def test_refresh_with_garbage(api):
    assert_error(refresh(api, "not-a-real-token"), 401)
    # openapi.yaml: any string is a refresh token to look up; an unknown one is 401.
    assert_error(refresh(api, ""), 401)


def test_logout(api, new_user):
    u = new_user()
    r = u.post("/v1/logout")
    assert r.status_code == 204, r.text
    assert not r.content
    assert_error(refresh(api, u.refresh_token), 401)
    # docs/api.md: the presented access token stops working at once, not at expiry.
    assert_error(u.get("/v1/devices"), 401)
    # The device stays registered: logging in again with its id resumes it.
    again = login(api, u.username, u.password, device_id=u.device_id)
    assert again["device_id"] == u.device_id


def test_logout_requires_auth(api):
    assert_error(api.post("/v1/logout"), 401)


# --- races ----------------------------------------------------------------------------------

def test_concurrent_refresh_with_one_token(server, new_user):
    # Single use under a race: at most one of 6 simultaneous refreshes succeeds.
    from concurrent.futures import ThreadPoolExecutor
    u = new_user()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: Api(server).post(
            "/v1/refresh-token", {"refresh_token": u.refresh_token}), range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) <= 1, codes
    assert set(codes) <= {200, 401}, codes
    # Reuse was detected (more than one presentation): nothing issued from it works.
    for r in answers:
        if r.status_code == 200:
            assert_error(refresh(Api(server), r.json()["refresh_token"]), 401)


def test_concurrent_signup_same_username(server):
    from concurrent.futures import ThreadPoolExecutor
    name = unique_username("race")
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: Api(server).post(
            "/v1/signup", {"username": name if i % 2 else name.upper(),
                           "password": "password-ok"}), range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 5, codes
