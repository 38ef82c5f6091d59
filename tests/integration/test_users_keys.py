"""Users, devices and the key directory."""
import base64
import os
import uuid

import pytest

from conftest import WS, assert_error, expect_status, now_ms
import websocket


def b64(n=32):
    return base64.b64encode(os.urandom(n)).decode()


def key_bundle(n_prekeys=3, first_id=1):
    return {
        "identity_key": b64(),
        "signing_key": b64(),
        "signed_prekey": {"key_id": 7, "public_key": b64(), "signature": b64(64)},
        "one_time_prekeys": [{"key_id": first_id + i, "public_key": b64()}
                             for i in range(n_prekeys)],
    }


def prekey_count(user):
    body = expect_status(user.get("/v1/keys/count"), 200)
    assert isinstance(body["one_time_prekeys"], int), body
    return body["one_time_prekeys"]


# --- users ----------------------------------------------------------------------------------

def test_get_user_by_id_and_by_name(new_user):
    t0 = now_ms()
    a = new_user("alice", display_name="Alice A.")
    b = new_user()
    body = expect_status(b.get(f"/v1/users/{a.user_id}"), 200)
    assert body["user_id"] == a.user_id
    assert body["username"] == a.username
    assert body["display_name"] == "Alice A."
    assert "profile_pic_url" in body
    assert isinstance(body["created_at"], int) and abs(body["created_at"] - t0) < 60_000, \
        "created_at must be milliseconds since the epoch"
    by_name = expect_status(b.get("/v1/users", params={"username": a.username}), 200)
    assert by_name == body
    # Usernames are case-insensitive (contract is silent on lookups; careful design matches).
    by_upper = expect_status(b.get("/v1/users", params={"username": a.username.upper()}), 200)
    assert by_upper["user_id"] == a.user_id


def test_get_user_not_found(new_user):
    u = new_user()
    assert_error(u.get(f"/v1/users/{uuid.uuid4()}"), 404)
    assert_error(u.get("/v1/users", params={"username": "nobody_" + uuid.uuid4().hex[:8]}), 404)


def test_get_user_bad_id(new_user):
    u = new_user()
    # openapi.yaml: a malformed id in the path is 400; a well-formed one (any case) of nobody 404.
    for bad in ["not-a-uuid", "12345", uuid.uuid4().hex, "%00"]:
        assert_error(u.get(f"/v1/users/{bad}"), 400)
    assert_error(u.get(f"/v1/users/{str(uuid.uuid4()).upper()}"), 404)


def test_users_require_auth(api, new_user):
    u = new_user()
    assert_error(api.get(f"/v1/users/{u.user_id}"), 401)
    assert_error(api.get("/v1/users", params={"username": u.username}), 401)


# --- devices --------------------------------------------------------------------------------

def test_list_devices(new_user):
    t0 = now_ms()
    u = new_user(device_name="phone")
    second = u.new_device("laptop")
    devices = expect_status(u.get("/v1/devices"), 200)["devices"]
    by_id = {d["device_id"]: d for d in devices}
    assert set(by_id) == {u.device_id, second.device_id}
    assert by_id[u.device_id]["device_name"] == "phone"
    assert by_id[second.device_id]["device_name"] == "laptop"
    for d in devices:
        assert isinstance(d["created_at"], int) and abs(d["created_at"] - t0) < 60_000
        assert "last_seen_at" in d
    # Own devices only.
    other = new_user()
    assert [d["device_id"] for d in
            expect_status(other.get("/v1/devices"), 200)["devices"]] == [other.device_id]


def test_delete_own_device_revokes_it(api, server, new_user):
    u = new_user()
    victim = u.new_device("stolen phone")
    expect_status(victim.get("/v1/devices"), 200)
    r = u.delete(f"/v1/devices/{victim.device_id}")
    assert r.status_code == 204, r.text
    ids = [d["device_id"] for d in expect_status(u.get("/v1/devices"), 200)["devices"]]
    assert ids == [u.device_id]
    # Its access token, refresh token and WebSocket access stop working.
    assert_error(victim.get("/v1/devices"), 401)
    assert_error(api.post("/v1/refresh-token", {"refresh_token": victim.refresh_token}), 401)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WS.connect(server.ws_url, victim.access_token)
    assert e.value.status_code == 401
    # It cannot be resumed by login (docs/api.md: a revoked `device_id` gives 401).
    r = api.post("/v1/login", {"username": u.username, "password": u.password,
                               "device_id": victim.device_id})
    assert_error(r, 401)
    # The remaining device is unaffected.
    expect_status(u.get("/v1/devices"), 200)
    assert_error(u.delete(f"/v1/devices/{victim.device_id}"), 404)


def test_cannot_delete_other_users_device(new_user):
    a, b = new_user(), new_user()
    # openapi.yaml: not an active device of the caller (here another user's) is 404.
    assert_error(a.delete(f"/v1/devices/{b.device_id}"), 404)
    expect_status(b.get("/v1/devices"), 200)
    assert [d["device_id"] for d in
            expect_status(b.get("/v1/devices"), 200)["devices"]] == [b.device_id]


def test_delete_unknown_device(new_user):
    u = new_user()
    assert_error(u.delete(f"/v1/devices/{uuid.uuid4()}"), 404)
    assert_error(u.delete("/v1/devices/xyz"), 400)


# --- keys -----------------------------------------------------------------------------------

def test_upload_keys_and_count(new_user):
    u = new_user()
    assert prekey_count(u) == 0
    r = u.put("/v1/keys", key_bundle(5))
    assert r.status_code == 204, r.text
    assert prekey_count(u) == 5


def test_claim_one_time_prekeys_until_exhausted(new_user):
    owner, peer = new_user(), new_user()
    bundle = key_bundle(2, first_id=100)
    assert owner.put("/v1/keys", bundle).status_code == 204
    served = {k["key_id"]: k["public_key"] for k in bundle["one_time_prekeys"]}

    claimed = []
    for _ in range(2):
        body = expect_status(peer.get(f"/v1/keys/{owner.user_id}"), 200)
        assert len(body["devices"]) == 1, body
        d = body["devices"][0]
        assert d["device_id"] == owner.device_id
        assert d["identity_key"] == bundle["identity_key"]
        assert d["signing_key"] == bundle["signing_key"]
        assert d["signed_prekey"] == bundle["signed_prekey"]
        otk = d.get("one_time_prekey")
        assert otk is not None, "a one-time prekey should still be available"
        assert served.get(otk["key_id"]) == otk["public_key"], otk
        claimed.append(otk["key_id"])
    assert len(set(claimed)) == 2, "two claims must hand out two different prekeys"
    assert prekey_count(owner) == 0

    body = expect_status(peer.get(f"/v1/keys/{owner.user_id}"), 200)
    d = body["devices"][0]
    # The contract marks it optional (`one_time_prekey?`): absent once they run out
    # (a null is tolerated too).
    assert d.get("one_time_prekey") is None, d
    assert d["signed_prekey"] == bundle["signed_prekey"]


def test_a_stranger_cannot_drain_one_time_prekeys(tmp_path):
    """Issue: GET /v1/keys/{user} handed out one-time prekeys to anyone without limit. Past
    --rate-claim-per-min claims per (claimer, target), bundles come without one; other claimers
    are unaffected."""
    from conftest import Api, ParleyServer, make_user
    srv = ParleyServer(tmp_path / "data", ["--rate-claim-per-min", "3"]).start()
    try:
        api = Api(srv)
        owner, stranger, friend = (make_user(api, srv, p) for p in ("own", "str", "fri"))
        assert owner.put("/v1/keys", key_bundle(20)).status_code == 204
        got = []
        for _ in range(10):
            d = expect_status(stranger.get(f"/v1/keys/{owner.user_id}"), 200)["devices"][0]
            got.append(d.get("one_time_prekey") is not None)
            assert d["signed_prekey"]["key_id"] == 7   # a session can still start
        assert got == [True] * 3 + [False] * 7, got
        assert prekey_count(owner) == 17
        d = expect_status(friend.get(f"/v1/keys/{owner.user_id}"), 200)["devices"][0]
        assert d.get("one_time_prekey") is not None
        assert prekey_count(owner) == 16
    finally:
        srv.stop()


def test_keys_for_every_device(new_user):
    owner, peer = new_user(), new_user()
    second = owner.new_device()
    b1, b2 = key_bundle(1, 1), key_bundle(1, 50)
    assert owner.put("/v1/keys", b1).status_code == 204
    assert second.put("/v1/keys", b2).status_code == 204
    body = expect_status(peer.get(f"/v1/keys/{owner.user_id}"), 200)
    by_dev = {d["device_id"]: d for d in body["devices"]}
    assert set(by_dev) == {owner.device_id, second.device_id}
    assert by_dev[owner.device_id]["identity_key"] == b1["identity_key"]
    assert by_dev[second.device_id]["identity_key"] == b2["identity_key"]
    assert by_dev[owner.device_id]["one_time_prekey"] == b1["one_time_prekeys"][0]
    assert by_dev[second.device_id]["one_time_prekey"] == b2["one_time_prekeys"][0]
    assert prekey_count(owner) == 0 and prekey_count(second) == 0


def test_list_keys_without_claiming_and_claim_one_device(new_user):
    owner, peer = new_user(), new_user()
    second = owner.new_device()
    b1, b2 = key_bundle(2, 1), key_bundle(2, 50)
    assert owner.put("/v1/keys", b1).status_code == 204
    assert second.put("/v1/keys", b2).status_code == 204
    for _ in range(3):
        body = expect_status(peer.get(f"/v1/keys/{owner.user_id}?claim=false"), 200)
        assert {d["device_id"] for d in body["devices"]} == {owner.device_id, second.device_id}
        assert all("one_time_prekey" not in d for d in body["devices"]), body
    assert prekey_count(owner) == 2 and prekey_count(second) == 2

    body = expect_status(peer.get(f"/v1/keys/{owner.user_id}?device_id={second.device_id}"), 200)
    assert [d["device_id"] for d in body["devices"]] == [second.device_id]
    assert body["devices"][0]["one_time_prekey"] == b2["one_time_prekeys"][0]
    assert prekey_count(owner) == 2 and prekey_count(second) == 1

    assert_error(peer.get(f"/v1/keys/{owner.user_id}?device_id={uuid.uuid4()}"), 404)
    assert_error(peer.get(f"/v1/keys/{owner.user_id}?device_id=nope"), 400)
    assert_error(peer.get(f"/v1/keys/{owner.user_id}?claim=maybe"), 400)


def test_keys_of_revoked_device_not_served(new_user):
    # Contract: DELETE revokes the device; a careful design stops serving its keys.
    owner, peer = new_user(), new_user()
    second = owner.new_device()
    assert owner.put("/v1/keys", key_bundle(1)).status_code == 204
    assert second.put("/v1/keys", key_bundle(1)).status_code == 204
    assert owner.delete(f"/v1/devices/{second.device_id}").status_code == 204
    body = expect_status(peer.get(f"/v1/keys/{owner.user_id}"), 200)
    assert [d["device_id"] for d in body["devices"]] == [owner.device_id]


def test_keys_of_unknown_user(new_user):
    u = new_user()
    # openapi.yaml: an unknown user is 404; a malformed id is 400.
    assert_error(u.get(f"/v1/keys/{uuid.uuid4()}"), 404)
    assert_error(u.get("/v1/keys/not-a-uuid"), 400)


@pytest.mark.parametrize("mutate", [
    lambda b: b.pop("identity_key"),
    lambda b: b.pop("signing_key"),
    lambda b: b.pop("signed_prekey"),
    lambda b: b.update(identity_key=5),
    lambda b: b.update(signed_prekey="x"),
    lambda b: b["signed_prekey"].pop("signature"),
    lambda b: b["signed_prekey"].update(key_id="seven"),
    lambda b: b.update(one_time_prekeys="x"),
    lambda b: b.update(one_time_prekeys=[{"key_id": 1}]),
    lambda b: b.update(one_time_prekeys=[{"key_id": "1", "public_key": "x"}]),
    lambda b: b.update(one_time_prekeys=[5]),
], ids=["no-identity", "no-signing", "no-spk", "identity-int", "spk-string", "spk-no-sig",
        "spk-keyid-string", "otks-string", "otk-no-pub", "otk-keyid-string", "otk-int"])
def test_bad_key_bundle(new_user, mutate):
    u = new_user()
    bundle = key_bundle(2)
    mutate(bundle)
    assert_error(u.put("/v1/keys", bundle), 400)
    assert prekey_count(u) == 0, "a rejected bundle must store nothing"


def test_keys_require_auth(api, new_user):
    u = new_user()
    assert_error(api.put("/v1/keys", key_bundle()), 401)
    assert_error(api.get(f"/v1/keys/{u.user_id}"), 401)
    assert_error(api.get("/v1/keys/count"), 401)


def test_concurrent_prekey_claims_are_distinct(server, new_user):
    from concurrent.futures import ThreadPoolExecutor
    from conftest import Api
    owner = new_user()
    claimers = [new_user() for _ in range(3)]
    assert owner.put("/v1/keys", key_bundle(6)).status_code == 204

    def claim(i):
        c = claimers[i % len(claimers)]
        r = Api(server).get(f"/v1/keys/{owner.user_id}", token=c.access_token)
        return expect_status(r, 200)["devices"][0].get("one_time_prekey")

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(claim, range(8)))
    handed = [k["key_id"] for k in got if k is not None]
    assert len(handed) == 6 and len(set(handed)) == 6, got
    assert prekey_count(owner) == 0
