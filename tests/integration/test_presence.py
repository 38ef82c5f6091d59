"""Presence: online while connected, update-status, visibility to users who share a conversation,
real-time `presence` frames, offline after the grace period with last_seen_at."""
import time
import uuid

import pytest

from conftest import assert_error, expect_status, now_ms, poll, presence_of

GRACE_MS = 500
SERVER_ARGS = ["--presence-offline-after-ms", str(GRACE_MS)]


def statuses(caller, *users):
    ids = ",".join(u if isinstance(u, str) else u.user_id for u in users)
    body = expect_status(caller.get("/v1/get-status", params={"user_ids": ids}), 200)
    out = {}
    for s in body["statuses"]:
        assert set(s) >= {"user_id", "status", "text", "last_seen_at"}, s
        out[s["user_id"]] = s
    return out


def status_is(caller, user, status):
    return lambda: statuses(caller, user).get(user.user_id, {}).get("status") == status


def is_presence(user, status=None):
    def pred(f):
        if f.get("type") != "presence":
            return False
        p = presence_of(f)
        return p.get("user_id") == user.user_id and (status is None or p.get("status") == status)
    return pred


def test_online_while_connected_and_visibility(new_user):
    a, b, stranger = new_user(), new_user(), new_user()
    a.send(to=b)
    before = statuses(a, b)
    assert before[b.user_id]["status"] == "offline", "never connected"
    ws = b.ws()
    poll(status_is(a, b, "online"), what="b online for a")
    # Users who share no conversation are left out, whatever their state.
    assert statuses(stranger, a, b) == {}
    assert statuses(b, stranger) == {}
    assert statuses(a, str(uuid.uuid4())) == {}
    ws.close()


def test_update_status_values(new_user):
    a, b = new_user(), new_user()
    a.send(to=b)
    wb = b.ws()
    for status, text in [("away", "lunch"), ("busy", "in a meeting ✈"), ("online", "here"),
                         ("offline", None)]:
        body = {"status": status} if text is None else {"status": status, "text": text}
        r = b.post("/v1/update-status", body)
        assert r.status_code == 204, r.text
        s = poll(lambda: (lambda x: x if x.get("status") == status else None)(
            statuses(a, b).get(b.user_id, {})), what=f"status {status}")
        if text is not None:
            assert s["text"] == text
    # text is optional.
    assert b.post("/v1/update-status", {"status": "away"}).status_code == 204
    poll(status_is(a, b, "away"), what="away without text")
    wb.close()


@pytest.mark.parametrize("body", [
    {}, {"status": "sleeping"}, {"status": "ONLINE"}, {"status": 1}, {"status": None},
    {"status": "away", "text": 5}, {"status": ["away"]},
])
def test_update_status_bad_input(new_user, body):
    u = new_user()
    assert_error(u.post("/v1/update-status", body), 400)


def test_presence_frames_pushed_to_peers_only(new_user):
    a, b, stranger = new_user(), new_user(), new_user()
    a.send(to=b)
    wa, ws_stranger = a.ws(), stranger.ws()
    wb = b.ws()
    f = wa.wait_for(is_presence(b, "online"), what="presence online frame")
    assert presence_of(f)["status"] == "online"
    assert b.post("/v1/update-status", {"status": "busy", "text": "coding"}).status_code == 204
    f = wa.wait_for(is_presence(b, "busy"), what="presence busy frame")
    assert presence_of(f).get("text") == "coding"
    ws_stranger.sync()
    leaked = [f for f in ws_stranger.drain(0.3) if is_presence(b)(f) or is_presence(a)(f)]
    assert leaked == [], "presence leaked to a user who shares no conversation"
    wb.close()


def test_offline_after_grace_period_with_last_seen(new_user):
    a, b = new_user(), new_user()
    a.send(to=b)
    wa = a.ws()
    wb = b.ws()
    poll(status_is(a, b, "online"), what="b online")
    wa.wait_for(is_presence(b, "online"))
    wb.close()
    closed_ms = now_ms()
    t_closed = time.monotonic()
    poll(status_is(a, b, "offline"), timeout=GRACE_MS / 1000 + 5, what="b offline")
    elapsed = time.monotonic() - t_closed
    assert elapsed >= (GRACE_MS - 150) / 1000, \
        f"offline after {elapsed:.3f}s: the grace period ({GRACE_MS} ms) was not applied"
    s = statuses(a, b)[b.user_id]
    assert isinstance(s["last_seen_at"], int)
    assert closed_ms - 5_000 <= s["last_seen_at"] <= now_ms(), s
    f = wa.wait_for(is_presence(b, "offline"), what="presence offline frame")
    # docs/api.md: presence frames carry last_seen_at, set once the user is offline.
    assert presence_of(f)["last_seen_at"] == s["last_seen_at"]


def test_online_until_last_device_disconnects(new_user):
    a, b = new_user(), new_user()
    b2 = b.new_device()
    a.send(to=b)
    w1, w2 = b.ws(), b2.ws()
    poll(status_is(a, b, "online"), what="b online")
    w1.close()
    # Negative check: needs real time to pass (well beyond the grace period).
    time.sleep(GRACE_MS / 1000 * 2.5)
    assert statuses(a, b)[b.user_id]["status"] == "online", "one device is still connected"
    w2.close()
    poll(status_is(a, b, "offline"), timeout=GRACE_MS / 1000 + 5, what="b offline")


def test_reconnect_within_grace_stays_online(new_user):
    a, b = new_user(), new_user()
    a.send(to=b)
    wa = a.ws()
    wb = b.ws()
    wa.wait_for(is_presence(b, "online"))
    wb.close()
    wb = b.ws()
    time.sleep(GRACE_MS / 1000 * 2.5)   # negative check: wait past the grace period
    assert statuses(a, b)[b.user_id]["status"] == "online"
    frames = wa.drain(0.05)
    assert not [f for f in frames if is_presence(b, "offline")(f)], \
        "a reconnect within the grace period must not flap to offline"


def test_presence_requires_auth(api, new_user):
    u = new_user()
    assert_error(api.get("/v1/get-status", params={"user_ids": u.user_id}), 401)
    assert_error(api.post("/v1/update-status", {"status": "away"}), 401)


def test_get_status_bad_ids(new_user):
    u = new_user()
    assert_error(u.get("/v1/get-status", params={"user_ids": "not-a-uuid"}), 400)
