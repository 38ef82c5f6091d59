"""Per-user limits and quotas (issue 15 item 7): typing per user and conversation, typing fan-out,
the send-to-device budget per sender, the cap on what waits for one device, and the media
storage quota. Each test starts its own server with the limit it exercises set through the
environment (PARLEY_*), the others as in DEFAULT_SERVER_ENV (off)."""
import os

from conftest import assert_error, expect_status, make_user, poll

KiB = 1024


def typing_frames(ws, conversation_id, seconds=0.5):
    return [f for f in ws.drain(seconds)
            if f.get("type") == "typing" and f.get("conversation_id") == conversation_id]


def to_device(sender, targets):
    """targets: {user: {device_id: body}} → the response of send-to-device."""
    return sender.post("/v1/send-to-device",
                       {"messages": {u.user_id: devices for u, devices in targets.items()}})


def assert_rate_limited(resp, *words):
    body = assert_error(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1, resp.headers
    for w in words:
        assert w in body["error"]["message"], body
    return body


# --- typing --------------------------------------------------------------------------------------

def test_typing_is_limited_per_user_and_conversation_across_devices(start):
    """Each connection may relay 5 typing frames a second, but a user's devices together get
    --rate-typing-per-min into one conversation (burst 3): two devices cannot double it."""
    srv, api = start(env={"PARLEY_RATE_TYPING_PER_MIN": "6"})  # burst 3, then one per 10 s
    a, b, c = (make_user(api, srv, p) for p in ("typa", "typb", "typc"))
    b2 = b.new_device()
    conv = a.send(to=b)["conversation_id"]
    other = c.send(to=b)["conversation_id"]
    wa, wc, wb, wb2 = a.ws(), c.ws(), b.ws(), b2.ws()
    for ws in (wb, wb2):
        for _ in range(3):
            ws.send({"type": "typing", "conversation_id": conv})
        ws.sync()
    got = typing_frames(wa, conv)
    assert len(got) == 3, got
    assert all(f["user_id"] == b.user_id for f in got)
    # Another conversation has its own budget.
    wb.send({"type": "typing", "conversation_id": other})
    assert wc.wait_type("typing")["conversation_id"] == other
    # Dropped silently: no error frame, the connection still serves.
    wb.sync()
    assert [f for f in wb.drain(0.2) if f.get("type") == "error"] == []


def test_typing_is_not_relayed_in_conversations_above_the_member_bound(start):
    srv, api = start(env={"PARLEY_TYPING_MAX_MEMBERS": "2"})
    a, b, c = (make_user(api, srv, p) for p in ("tyma", "tymb", "tymc"))
    group = expect_status(a.post("/v1/create-group", {"name": "three",
                                                      "member_ids": [b.user_id, c.user_id]}), 201)
    group_conv = group["conversation_id"]
    direct = a.send(to=b)["conversation_id"]
    wa, wb = a.ws(), b.ws()
    wb.send({"type": "typing", "conversation_id": group_conv})
    wb.send({"type": "typing", "conversation_id": direct})
    # The direct conversation (2 members) still gets it …
    assert wa.wait_type("typing", lambda f: f["conversation_id"] == direct)["user_id"] == b.user_id
    # … the group of 3 does not.
    assert typing_frames(wa, group_conv) == []
    assert [f for f in wa.seen if f.get("type") == "typing"
            and f.get("conversation_id") == group_conv] == []


# --- send-to-device ------------------------------------------------------------------------------

def test_send_to_device_has_a_budget_per_sender(start):
    srv, api = start(env={"PARLEY_RATE_TO_DEVICE_PER_MIN": "5",
                      "PARLEY_RATE_TO_DEVICE_BYTES_PER_MIN": str(2 * KiB)})
    a, b, c, d = (make_user(api, srv, p) for p in ("tda", "tdb", "tdc", "tdd"))
    # Messages: one per target device; 5 a minute (burst 5).
    b2 = b.new_device()
    assert to_device(a, {b: {b.device_id: "1", b2.device_id: "2"}}).status_code == 202
    for i in range(3):
        assert to_device(a, {b: {b.device_id: f"m{i}"}}).status_code == 202
    r = to_device(a, {b: {b.device_id: "one too many"}})
    assert_rate_limited(r, "send-to-device", "messages")
    # Nothing of the refused request was queued.
    assert [t["body"] for t in b.pending()["to_device"]] == ["1", "m0", "m1", "m2"]
    # Per sender: another user still sends.
    assert to_device(c, {b: {b.device_id: "from c"}}).status_code == 202
    # Bytes: 2 KiB of bodies a minute.
    assert to_device(d, {b: {b2.device_id: "x" * 1500}}).status_code == 202
    r = to_device(d, {b: {b2.device_id: "y" * 1000}})
    assert_rate_limited(r, "send-to-device", "bytes")
    assert srv.alive()


def test_what_waits_for_one_device_is_capped(start):
    srv, api = start(env={"PARLEY_MAX_PENDING_TO_DEVICE": "3",
                      "PARLEY_MAX_PENDING_TO_DEVICE_BYTES": str(4 * KiB)})
    a, b = make_user(api, srv, "capa"), make_user(api, srv, "capb")
    b2 = b.new_device()
    for i in range(3):
        assert to_device(a, {b: {b.device_id: f"k{i}"}}).status_code == 202
    # Full: refused (429, Retry-After), and the whole request is refused, the other device too.
    r = to_device(a, {b: {b.device_id: "k3", b2.device_id: "for b2"}})
    assert_rate_limited(r, b.device_id, "to-device messages waiting", "nothing was queued")
    assert b2.pending()["to_device"] == []
    p = b.pending()
    assert [t["body"] for t in p["to_device"]] == ["k0", "k1", "k2"]
    # Once the device has them (cursor passed back), there is room again.
    b.pending(after=p["cursor"])
    assert to_device(a, {b: {b.device_id: "k3"}}).status_code == 202
    # Bytes: 4 KiB may wait for b2.
    assert to_device(a, {b: {b2.device_id: "z" * 3000}}).status_code == 202
    assert_rate_limited(to_device(a, {b: {b2.device_id: "z" * 1200}}), b2.device_id)
    assert [len(t["body"]) for t in b2.pending()["to_device"]] == [3000]
    assert srv.alive()


# --- media storage quota -------------------------------------------------------------------------

def upload(user, data, expect):
    r = user.api.request("POST", "/v1/upload", token=user.access_token, data=data,
                         headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == expect, r.text
    return r


def blob_files(srv):
    out = []
    for _, _, files in os.walk(srv.data_dir / "media"):
        out.extend(files)
    return sorted(out)


def test_media_storage_quota_per_user(start):
    quota = 100 * KiB
    srv, api = start(env={"PARLEY_MEDIA_QUOTA_BYTES": str(quota)})
    u, other = make_user(api, srv, "quota"), make_user(api, srv, "quotb")
    upload(u, os.urandom(60 * KiB), 201)
    before = blob_files(srv)
    # Declared too large: refused before the body, with what is used.
    r = upload(u, os.urandom(50 * KiB), 413)
    assert_error(r, 413, "payload_too_large")
    assert r.json()["error"]["message"] == (
        f"storage quota exceeded: {60 * KiB} of {quota} bytes used "
        f"(this upload: {50 * KiB} bytes)")
    # Chunked (no declared size): cut off once more than fits has arrived.
    r = upload(u, iter([os.urandom(16 * KiB) for _ in range(4)]), 413)
    assert r.json()["error"]["message"].startswith(
        f"storage quota exceeded: {60 * KiB} of {quota} bytes used")
    poll(lambda: blob_files(srv) == before, what="nothing of the refused uploads kept")
    # What fits is taken, up to the quota exactly; then nothing more.
    upload(u, os.urandom(40 * KiB), 201)
    r = upload(u, b"x", 413)
    assert "storage quota exceeded: 102400 of 102400 bytes used" in r.json()["error"]["message"]
    # Per user.
    upload(other, os.urandom(90 * KiB), 201)
    assert srv.alive()
