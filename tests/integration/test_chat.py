"""Chat over HTTP: direct conversations, sending, idempotency, pending messages, history,
conversation list, receipts, message status, to-device messages."""
import base64
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import (Api, User, assert_error, expect_status, is_uuid, new_client_msg_id, now_ms,
                      to_device_of, wait_past_ms)

MESSAGE_FIELDS = {"message_id", "conversation_id", "seq", "sender_id", "sender_device_id",
                  "created_at", "content_type", "encryption", "body", "media_ids", "reply_to"}


def ids(messages):
    return [m["message_id"] for m in messages]


def seqs(messages):
    return [m["seq"] for m in messages]


def status_of(user, message_id):
    return expect_status(user.get("/v1/message-status", params={"message_id": message_id}), 200)


def receipt_for(status, user_id):
    matches = [r for r in status["receipts"] if r["user_id"] == user_id]
    assert len(matches) <= 1, status
    return matches[0] if matches else {"user_id": user_id, "delivered_at": None, "read_at": None}


def mark(user, kind, conversation_id, up_to_seq):
    r = user.post(f"/v1/mark-{kind}", {"conversation_id": conversation_id, "up_to_seq": up_to_seq})
    assert r.status_code == 204, r.text
    return r


def conversation(user, conversation_id):
    convs = expect_status(user.get("/v1/conversations"), 200)["conversations"]
    match = [c for c in convs if c["conversation_id"] == conversation_id]
    assert len(match) == 1, convs
    return match[0]


# --- sending --------------------------------------------------------------------------------

def test_send_opens_direct_conversation_and_numbers_gapless(new_user):
    a, b, c = new_user(), new_user(), new_user()
    t0 = now_ms()
    first = a.send(to=b, body="hi b")
    assert set(first) >= {"message_id", "conversation_id", "seq", "created_at"}
    assert is_uuid(first["message_id"], version=7), "message ids are UUIDv7"
    assert is_uuid(first["conversation_id"])
    assert first["seq"] == 1
    assert abs(first["created_at"] - t0) < 60_000, "created_at is milliseconds"
    # The direct conversation id is derived from the pair: same from either side.
    reply = b.send(to=a, body="hi a")
    assert reply["conversation_id"] == first["conversation_id"]
    assert reply["seq"] == 2
    third = a.send(conversation_id=first["conversation_id"], body="third")
    assert third["conversation_id"] == first["conversation_id"]
    assert third["seq"] == 3
    assert first["message_id"] < reply["message_id"] < third["message_id"], \
        "UUIDv7 ids are time ordered"
    other = a.send(to=c)
    assert other["conversation_id"] != first["conversation_id"]
    assert other["seq"] == 1


def test_message_object_in_history(new_user):
    a, b = new_user(), new_user()
    sent = a.send(to=b, body="plain text ✓")
    cipher = base64.b64encode(os.urandom(80)).decode()
    sent2 = a.send(conversation_id=sent["conversation_id"], body=cipher, encryption="e2ee-v1",
                   content_type="text", reply_to=sent["message_id"],
                   search_tokens=["ab12", "cd34"])
    msgs = b.history(sent["conversation_id"], after_seq=0)["messages"]
    assert ids(msgs) == [sent["message_id"], sent2["message_id"]]
    m1, m2 = msgs
    for m in msgs:
        assert MESSAGE_FIELDS <= set(m), f"missing {MESSAGE_FIELDS - set(m)}"
        assert m["conversation_id"] == sent["conversation_id"]
        assert m["sender_id"] == a.user_id
        assert m["sender_device_id"] == a.device_id
        assert m["media_ids"] == []
    assert m1["seq"] == 1 and m1["created_at"] == sent["created_at"]
    assert m1["body"] == "plain text ✓" and m1["encryption"] == "none"
    assert m1["content_type"] == "text" and m1["reply_to"] is None
    assert m2["body"] == cipher and m2["encryption"] == "e2ee-v1"
    assert m2["reply_to"] == sent["message_id"]


def test_send_defaults(new_user):
    # Only the required fields: content_type defaults to text, encryption to none (docs/api.md).
    a, b = new_user(), new_user()
    r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": new_client_msg_id(),
                                    "body": "minimal"})
    sent = expect_status(r, 201)
    (m,) = b.history(sent["conversation_id"])["messages"]
    assert m["content_type"] == "text"
    assert m["encryption"] == "none"
    assert m["body"] == "minimal"


def test_idempotent_send(new_user):
    a, b = new_user(), new_user()
    cid = new_client_msg_id()
    first_r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": cid,
                                          "body": "once"})
    first = expect_status(first_r, 201)
    again_r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": cid,
                                          "body": "once"})
    assert again_r.status_code == 200, again_r.text
    assert again_r.json() == first
    # Even with another body (or by conversation_id), the first answer comes back.
    changed = a.post("/v1/send-message", {"conversation_id": first["conversation_id"],
                                          "client_msg_id": cid, "body": "twice?"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == first
    msgs = b.history(first["conversation_id"])["messages"]
    assert ids(msgs) == [first["message_id"]]
    assert msgs[0]["body"] == "once"
    pending = b.pending()["messages"]
    assert ids(pending) == [first["message_id"]], "delivered exactly once"
    assert a.send(to=b)["seq"] == 2, "a duplicate must not consume a seq"


def test_idempotency_key_is_per_device(new_user):
    a, b = new_user(), new_user()
    a2 = a.new_device()
    cid = new_client_msg_id()
    m1 = a.send(to=b, client_msg_id=cid, body="from device 1")
    m2 = a2.send(to=b, client_msg_id=cid, body="from device 2")
    assert m1["message_id"] != m2["message_id"] and m2["seq"] == 2
    # Another user reusing the id is also a different message.
    m3 = b.send(to=a, client_msg_id=cid, body="from b")
    assert m3["seq"] == 3


def test_send_to_conversation_of_others_is_404(new_user):
    a, b, c = new_user(), new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    r = c.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": new_client_msg_id(),
                                    "body": "intruder"})
    assert_error(r, 404)  # never a member: as if absent
    assert seqs(a.history(conv)["messages"]) == [1]


def test_send_to_unknown_conversation_is_404(new_user):
    a = new_user()
    r = a.post("/v1/send-message", {"conversation_id": str(uuid.uuid4()),
                                    "client_msg_id": new_client_msg_id(), "body": "void"})
    assert_error(r, 404)


def test_send_to_unknown_user_is_404(new_user):
    # docs/api.md: `to_user_id` of an unknown user: 404.
    a = new_user()
    r = a.post("/v1/send-message", {"to_user_id": str(uuid.uuid4()),
                                    "client_msg_id": new_client_msg_id(), "body": "void"})
    assert_error(r, 404)


def test_send_needs_a_target(new_user):
    a = new_user()
    r = a.post("/v1/send-message", {"client_msg_id": new_client_msg_id(), "body": "nowhere"})
    assert_error(r, 400)


def test_body_size_limit(new_user):
    a, b = new_user(), new_user()
    ok = a.send(to=b, body="x" * 65536)
    (m,) = b.history(ok["conversation_id"])["messages"]
    assert len(m["body"]) == 65536
    r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": new_client_msg_id(),
                                    "body": "x" * 65537})
    assert_error(r, 413)   # docs/api.md: `body` larger than 64 KiB: 413 payload_too_large
    r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": new_client_msg_id(),
                                    "body": "x" * (1 << 20)})
    assert_error(r, 413)   # and the request is above max_request_body_bytes (1 MiB) too
    assert seqs(b.history(ok["conversation_id"])["messages"]) == [1], "nothing oversized stored"


def test_concurrent_sends_get_gapless_seqs(server, new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    devices = [a, b, a.new_device(), b.new_device()]

    def send(i):
        d = devices[i % len(devices)]
        # requests.Session is not thread safe: one client per call.
        u = User(Api(server), server, d.username, d.password,
                 {"user_id": d.user_id, "device_id": d.device_id,
                  "access_token": d.access_token, "refresh_token": d.refresh_token})
        return u.send(conversation_id=conv, body=f"m{i}")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(40)))
    assert sorted(x["seq"] for x in answers) == list(range(2, 42))
    hist = a.full_history(conv)
    assert seqs(hist) == list(range(1, 42))
    by_id = {m["message_id"]: m["seq"] for m in hist}
    assert all(by_id[x["message_id"]] == x["seq"] for x in answers)


# --- get-messages -----------------------------------------------------------------------------

def test_get_messages_pending_and_cursor_marks_delivered(new_user):
    a, b, c = new_user(), new_user(), new_user()
    sent_a = [a.send(to=b, body=f"a{i}") for i in range(3)]
    sent_c = [c.send(to=b, body=f"c{i}") for i in range(2)]
    page = b.pending()
    assert set(page) >= {"messages", "to_device", "cursor", "has_more"}
    assert page["has_more"] is False
    got = page["messages"]
    assert sorted(ids(got)) == sorted(ids(sent_a + sent_c))
    for sent in (sent_a, sent_c):
        conv = sent[0]["conversation_id"]
        per_conv = [m for m in got if m["conversation_id"] == conv]
        assert seqs(per_conv) == [1, 2, 3][:len(sent)], "oldest first per conversation"
    # Not passing the cursor back marks nothing: still pending.
    assert sorted(ids(b.pending()["messages"])) == sorted(ids(got))
    assert status_of(a, sent_a[0]["message_id"])["status"] == "sent"
    # Passing it back marks everything returned as delivered.
    after = b.pending(after=page["cursor"])
    assert after["messages"] == [] and after["has_more"] is False
    assert b.pending()["messages"] == []
    for m in sent_a:
        assert status_of(a, m["message_id"])["status"] == "delivered"
    # New messages after that are pending again.
    later = a.send(to=b, body="later")
    assert ids(b.pending()["messages"]) == [later["message_id"]]


def test_get_messages_limit_and_has_more(new_user):
    a, b = new_user(), new_user()
    sent = [a.send(to=b, body=f"m{i}") for i in range(5)]
    p1 = b.pending(limit=2)
    assert ids(p1["messages"]) == ids(sent[:2]) and p1["has_more"] is True
    p2 = b.pending(limit=2, after=p1["cursor"])
    assert ids(p2["messages"]) == ids(sent[2:4]) and p2["has_more"] is True
    p3 = b.pending(limit=2, after=p2["cursor"])
    assert ids(p3["messages"]) == ids(sent[4:]) and p3["has_more"] is False
    assert status_of(a, sent[3]["message_id"])["status"] == "delivered"
    assert status_of(a, sent[4]["message_id"])["status"] == "sent"
    p4 = b.pending(limit=2, after=p3["cursor"])
    assert p4["messages"] == [] and p4["has_more"] is False
    assert status_of(a, sent[4]["message_id"])["status"] == "delivered"


def test_get_messages_is_per_device(new_user):
    a, b = new_user(), new_user()
    b2 = b.new_device()
    a2 = a.new_device()
    sent = a.send(to=b, body="to every device")
    p = b.pending()
    assert ids(p["messages"]) == [sent["message_id"]]
    b.pending(after=p["cursor"])
    assert b.pending()["messages"] == []
    assert ids(b2.pending()["messages"]) == [sent["message_id"]], \
        "one device marking delivered does not mark the others"
    # The sender's other device gets the message too.
    assert ids(a2.pending()["messages"]) == [sent["message_id"]]


# --- history --------------------------------------------------------------------------------

def test_history_paging_both_directions(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b, body="1")["conversation_id"]
    for i in range(2, 8):
        (a if i % 2 else b).send(conversation_id=conv, body=str(i))
    for reader in (a, b):
        page = reader.history(conv, limit=3)
        assert seqs(page["messages"]) == [7, 6, 5] and page["has_more"] is True
        page = reader.history(conv, before_seq=5, limit=3)
        assert seqs(page["messages"]) == [4, 3, 2] and page["has_more"] is True
        page = reader.history(conv, before_seq=2, limit=3)
        assert seqs(page["messages"]) == [1] and page["has_more"] is False
        page = reader.history(conv, before_seq=1)
        assert page["messages"] == [] and page["has_more"] is False
        page = reader.history(conv, after_seq=0, limit=3)
        assert seqs(page["messages"]) == [1, 2, 3] and page["has_more"] is True
        page = reader.history(conv, after_seq=3, limit=3)
        assert seqs(page["messages"]) == [4, 5, 6] and page["has_more"] is True
        page = reader.history(conv, after_seq=6, limit=3)
        assert seqs(page["messages"]) == [7] and page["has_more"] is False
        page = reader.history(conv, after_seq=7)
        assert page["messages"] == [] and page["has_more"] is False
        page = reader.history(conv)
        assert seqs(page["messages"]) == [7, 6, 5, 4, 3, 2, 1] and page["has_more"] is False
        assert [m["body"] for m in page["messages"]] == [str(i) for i in range(7, 0, -1)]


def test_history_default_and_max_limit(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    for _ in range(54):
        a.send(conversation_id=conv)
    page = a.history(conv)
    assert len(page["messages"]) == 50 and page["has_more"] is True, "default limit is 50"
    assert page["messages"][0]["seq"] == 55
    r = a.get("/v1/get-chat-history", params={"conversation_id": conv, "limit": 1000})
    # openapi.yaml: lists take `limit` 1–200; anything else is 400.
    assert_error(r, 400)
    assert len(expect_status(a.get("/v1/get-chat-history", params={
        "conversation_id": conv, "limit": 200}), 200)["messages"]) == 55


def test_a_stranger_cannot_tell_whether_two_users_ever_talked(new_user):
    # A direct conversation's id is computable from its two users: a caller who never belonged
    # to it gets exactly the answer of a conversation that does not exist (history, marks,
    # sends, search), not a 403 that would confirm it exists.
    a, b, c = new_user(), new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    absent = str(uuid.uuid4())
    asks = [
        lambda cid: c.get("/v1/get-chat-history", params={"conversation_id": cid}),
        lambda cid: c.post("/v1/mark-read", {"conversation_id": cid, "up_to_seq": 1}),
        lambda cid: c.post("/v1/mark-delivered", {"conversation_id": cid, "up_to_seq": 1}),
        lambda cid: c.post("/v1/send-message", {"conversation_id": cid, "body": "x",
                                                "client_msg_id": str(uuid.uuid4())}),
        lambda cid: c.get("/v1/search-messages", params={"q": "x", "conversation_id": cid}),
    ]
    for ask in asks:
        there, not_there = ask(conv), ask(absent)
        assert_error(there, 404)
        assert_error(not_there, 404)
        assert there.json() == not_there.json()
    assert conversation(b, conv)["read_seq"] == 0
    assert len(a.history(conv)["messages"]) == 1


def test_a_former_member_is_refused_not_deceived(new_user):
    a, b = new_user(), new_user()
    g = expect_status(a.post("/v1/create-group", {"name": "x", "member_ids": [b.user_id]}), 201)
    expect_status(a.post("/v1/remove-member", {"group_id": g["group_id"],
                                               "user_id": b.user_id}), 200)
    conv = g["conversation_id"]
    assert_error(b.post("/v1/send-message", {"conversation_id": conv, "body": "x",
                                             "client_msg_id": str(uuid.uuid4())}), 403)


# --- conversations --------------------------------------------------------------------------

def test_conversation_list(new_user):
    a, b, c = new_user(), new_user(), new_user()
    conv_b = a.send(to=b, body="b1")["conversation_id"]
    a.send(conversation_id=conv_b, body="b2")
    last_b = a.send(conversation_id=conv_b, body="b3")
    wait_past_ms(last_b["created_at"])
    last_c = a.send(to=c, body="c1")
    conv_c = last_c["conversation_id"]

    convs = expect_status(a.get("/v1/conversations"), 200)["conversations"]
    assert [x["conversation_id"] for x in convs] == [conv_c, conv_b], "newest activity first"
    cb = convs[1]
    assert cb["type"] == "direct"
    assert cb["peer_user_id"] == b.user_id
    assert "title" in cb
    assert cb["last_seq"] == 3
    assert cb["last_message"]["message_id"] == last_b["message_id"]
    assert cb["last_message"]["body"] == "b3"
    # The sender's own messages are not unread for the sender (contract silent).
    assert cb["unread_count"] == 0

    bc = conversation(b, conv_b)
    assert bc["peer_user_id"] == a.user_id and bc["type"] == "direct"
    assert bc["last_seq"] == 3 and bc["read_seq"] == 0 and bc["unread_count"] == 3
    mark(b, "read", conv_b, 2)
    bc = conversation(b, conv_b)
    assert bc["read_seq"] == 2 and bc["unread_count"] == 1

    wait_past_ms(last_c["created_at"])
    b.send(conversation_id=conv_b, body="back to b")
    convs = expect_status(a.get("/v1/conversations"), 200)["conversations"]
    assert [x["conversation_id"] for x in convs] == [conv_b, conv_c]
    assert convs[0]["last_seq"] == 4 and convs[0]["unread_count"] == 1
    # C sees only its own conversation.
    assert [x["conversation_id"] for x in
            expect_status(c.get("/v1/conversations"), 200)["conversations"]] == [conv_c]


# --- receipts and status ------------------------------------------------------------------------

def test_receipts_and_message_status(new_user):
    a, b = new_user(), new_user()
    sent = [a.send(to=b, body=f"m{i}") for i in range(3)]
    conv = sent[0]["conversation_id"]
    st = status_of(a, sent[0]["message_id"])
    assert st["message_id"] == sent[0]["message_id"] and st["status"] == "sent"
    assert receipt_for(st, b.user_id)["delivered_at"] is None

    t0 = now_ms()
    mark(b, "delivered", conv, 2)
    for m in sent[:2]:
        st = status_of(a, m["message_id"])
        assert st["status"] == "delivered"
        r = receipt_for(st, b.user_id)
        assert isinstance(r["delivered_at"], int) and abs(r["delivered_at"] - t0) < 60_000
        assert r["read_at"] is None
    assert status_of(a, sent[2]["message_id"])["status"] == "sent"

    mark(b, "read", conv, 1)
    st1 = status_of(a, sent[0]["message_id"])
    assert st1["status"] == "read"
    r1 = receipt_for(st1, b.user_id)
    assert isinstance(r1["read_at"], int) and r1["read_at"] >= r1["delivered_at"]
    assert status_of(a, sent[1]["message_id"])["status"] == "delivered"

    # Read implies delivered.
    mark(b, "read", conv, 3)
    st3 = status_of(a, sent[2]["message_id"])
    assert st3["status"] == "read"
    r3 = receipt_for(st3, b.user_id)
    assert isinstance(r3["delivered_at"], int) and isinstance(r3["read_at"], int)

    # Monotonic: lower marks change nothing (not even timestamps).
    before = [status_of(a, m["message_id"]) for m in sent]
    mark(b, "read", conv, 1)
    mark(b, "delivered", conv, 1)
    assert [status_of(a, m["message_id"]) for m in sent] == before
    assert conversation(b, conv)["read_seq"] == 3
    # The recipient may ask too (a member of the conversation).
    assert status_of(b, sent[0]["message_id"])["status"] == "read"


def test_mark_read_lower_seq_keeps_read_seq(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    for _ in range(4):
        a.send(conversation_id=conv)
    mark(b, "read", conv, 4)
    mark(b, "read", conv, 2)
    c = conversation(b, conv)
    assert c["read_seq"] == 4 and c["unread_count"] == 1
    # Marked messages are no longer pending for the device (read implies delivered).
    assert seqs(b.pending()["messages"]) == [5]


def test_mark_access(new_user):
    a, b, c = new_user(), new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    for kind in ("delivered", "read"):
        assert_error(c.post(f"/v1/mark-{kind}", {"conversation_id": conv, "up_to_seq": 1}), 404)
        assert_error(c.post(f"/v1/mark-{kind}", {"conversation_id": str(uuid.uuid4()),
                                                 "up_to_seq": 1}), 404)
    assert conversation(b, conv)["read_seq"] == 0


def test_message_status_access(new_user):
    a, b, c = new_user(), new_user(), new_user()
    m = a.send(to=b)
    # docs/api.md: 404 for a message the caller cannot see (its existence is not revealed).
    assert_error(c.get("/v1/message-status", params={"message_id": m["message_id"]}), 404)
    assert_error(a.get("/v1/message-status", params={"message_id": str(uuid.uuid4())}), 404)


# --- to-device ------------------------------------------------------------------------------

def test_send_to_device_delivered_then_deleted(new_user):
    a, b = new_user(), new_user()   # no conversation needed: this is for key exchange
    b2 = b.new_device()
    t0 = now_ms()
    r = a.post("/v1/send-to-device", {"messages": {b.user_id: {b.device_id: "ct-for-b1",
                                                                b2.device_id: "ct-for-b2"}}})
    assert r.status_code == 202, r.text
    p = b.pending()
    assert p["messages"] == []
    (td,) = p["to_device"]
    assert td["to_device_id"] == b.device_id
    assert td["sender_id"] == a.user_id and td["sender_device_id"] == a.device_id
    assert td["body"] == "ct-for-b1"
    assert isinstance(td["created_at"], int) and abs(td["created_at"] - t0) < 60_000
    # Still there until the cursor is passed back, then deleted.
    assert [x["body"] for x in b.pending()["to_device"]] == ["ct-for-b1"]
    b.pending(after=p["cursor"])
    assert b.pending()["to_device"] == []
    # The other device has its own queue.
    assert [x["body"] for x in b2.pending()["to_device"]] == ["ct-for-b2"]
    # The sender's devices get nothing.
    assert a.pending()["to_device"] == []


def test_send_to_device_over_websocket(new_user):
    a, b = new_user(), new_user()
    r = a.post("/v1/send-to-device", {"messages": {b.user_id: {b.device_id: "hello-ws"}}})
    assert r.status_code == 202, r.text
    ws = b.ws()
    f = ws.wait_type("to_device")
    td = to_device_of(f)
    assert td["body"] == "hello-ws" and td["sender_id"] == a.user_id
    assert td["to_device_id"] == b.device_id and td["sender_device_id"] == a.device_id
    # Live: sent while connected.
    r = a.post("/v1/send-to-device", {"messages": {b.user_id: {b.device_id: "live"}}})
    assert r.status_code == 202
    assert to_device_of(ws.wait_type("to_device"))["body"] == "live"


def test_chat_endpoints_require_auth(api):
    for method, path in [("POST", "/v1/send-message"), ("GET", "/v1/get-messages"),
                         ("GET", "/v1/get-chat-history"), ("GET", "/v1/conversations"),
                         ("POST", "/v1/mark-delivered"), ("POST", "/v1/mark-read"),
                         ("GET", "/v1/message-status"), ("POST", "/v1/send-to-device")]:
        assert_error(api.request(method, path, json_body={}), 401)


# --- edge cases -----------------------------------------------------------------------------

def test_idempotent_send_racing_duplicates(server, new_user):
    # The same (device, client_msg_id) sent 8 times at once: one message, one 201, same answer.
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    cid = new_client_msg_id()

    def send(_):
        u = User(Api(server), server, a.username, a.password, a.login_answer)
        return u.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                           "body": "race"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 7 + [201], codes
    assert len({r.json()["message_id"] for r in answers}) == 1
    assert seqs(a.history(conv)["messages"]) == [2, 1]


def test_idempotent_send_to_another_target_returns_first_answer(new_user):
    a, b, c = new_user(), new_user(), new_user()
    cid = new_client_msg_id()
    first = a.send(to=b, client_msg_id=cid, body="for b")
    r = a.post("/v1/send-message", {"to_user_id": c.user_id, "client_msg_id": cid,
                                    "body": "for c"})
    assert r.status_code == 200 and r.json() == first, r.text
    # Nothing was stored for c.
    assert expect_status(c.get("/v1/conversations"), 200)["conversations"] == []
    assert c.pending()["messages"] == []


def test_body_limit_counts_bytes(new_user):
    a, b = new_user(), new_user()
    ok = a.send(to=b, body="é" * 32768)       # 32768 characters, 65536 bytes
    assert b.history(ok["conversation_id"])["messages"][0]["body"] == "é" * 32768
    r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": new_client_msg_id(),
                                    "body": "é" * 32769})   # 65538 bytes
    assert_error(r, 413)


def test_has_more_false_at_exact_boundary(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    a.send(conversation_id=conv)
    a.send(conversation_id=conv)
    page = b.history(conv, after_seq=0, limit=3)
    assert seqs(page["messages"]) == [1, 2, 3] and page["has_more"] is False
    page = b.history(conv, limit=3)
    assert seqs(page["messages"]) == [3, 2, 1] and page["has_more"] is False
    page = b.history(conv, before_seq=4, limit=3)
    assert seqs(page["messages"]) == [3, 2, 1] and page["has_more"] is False
    pend = b.pending(limit=3)
    assert seqs(pend["messages"]) == [1, 2, 3] and pend["has_more"] is False


def test_history_before_seq_beyond_newest(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    a.send(conversation_id=conv)
    page = b.history(conv, before_seq=1000)
    assert seqs(page["messages"]) == [2, 1] and page["has_more"] is False


def test_senders_own_marks_are_not_receipts(new_user):
    # Contract: status counts recipients only; the sender marking its own conversation must
    # not turn its message "delivered" or "read".
    a, b = new_user(), new_user()
    m = a.send(to=b)
    mark(a, "read", m["conversation_id"], 1)
    st = status_of(a, m["message_id"])
    assert st["status"] == "sent", st
    assert receipt_for(st, b.user_id)["delivered_at"] is None


def test_recipient_with_two_devices_one_marks(new_user):
    # Receipts are per user: one of b's devices marking is b having it delivered.
    a, b = new_user(), new_user()
    b2 = b.new_device()
    m = a.send(to=b)
    mark(b2, "delivered", m["conversation_id"], 1)
    assert status_of(a, m["message_id"])["status"] == "delivered"
    # ...but the other device still has it pending (delivery is per device).
    assert ids(b.pending()["messages"]) == [m["message_id"]]
    assert b2.pending()["messages"] == []


def test_marks_beyond_the_newest_seq_do_not_swallow_future_messages(new_user):
    # docs/api.md: `up_to_seq` above the newest visible message is clamped to it (204); it must
    # never pre-mark messages that do not exist yet.
    a, b = new_user(), new_user()
    m1 = a.send(to=b)
    conv = m1["conversation_id"]
    for kind in ("delivered", "read"):
        r = b.post(f"/v1/mark-{kind}", {"conversation_id": conv, "up_to_seq": 1000})
        assert r.status_code == 204, r.text
    m2 = a.send(conversation_id=conv, body="later")
    assert m2["seq"] == 2
    assert ids(b.pending()["messages"]) == [m2["message_id"]], "future message pre-marked"
    assert status_of(a, m2["message_id"])["status"] == "sent"
    c = conversation(b, conv)
    assert c["unread_count"] == 1 and c["read_seq"] <= 1, c


def test_get_messages_limit_above_max(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    for _ in range(204):
        a.send(conversation_id=conv)
    # openapi.yaml: lists take `limit` 1–200; anything else is 400.
    assert_error(b.get("/v1/get-messages", params={"limit": 1000}), 400)
    body = expect_status(b.get("/v1/get-messages", params={"limit": 200}), 200)
    assert len(body["messages"]) == 200 and body["has_more"] is True
    page = b.pending()
    assert len(page["messages"]) == 50 and page["has_more"] is True, "default limit is 50"


def test_other_content_type_word_accepted(new_user):
    a, b = new_user(), new_user()
    m = a.send(to=b, content_type="sticker")
    assert b.history(m["conversation_id"])["messages"][0]["content_type"] == "sticker"


def test_send_to_device_misaddressed(new_user):
    # A device id under the wrong user, and ids that do not exist: 404, nothing queued, and
    # never queued for the device of a user who was not named.
    a, b, c = new_user(), new_user(), new_user()
    r = a.post("/v1/send-to-device", {"messages": {b.user_id: {c.device_id: "misrouted"}}})
    # docs/api.md: every device must be an active device of the named user, else 404.
    assert_error(r, 404)
    r = a.post("/v1/send-to-device", {"messages": {str(uuid.uuid4()): {str(uuid.uuid4()): "x"}}})
    assert_error(r, 404)
    assert c.pending()["to_device"] == []
    assert b.pending()["to_device"] == []


def test_conversation_list_takes_limit(new_user):
    # "Lists take limit": the newest ones first.
    a = new_user()
    peers = [new_user() for _ in range(3)]
    last = None
    for p in peers:
        if last:
            wait_past_ms(last["created_at"])
        last = a.send(to=p)
    convs = expect_status(a.get("/v1/conversations", params={"limit": 2}), 200)["conversations"]
    assert [c["peer_user_id"] for c in convs] == [peers[2].user_id, peers[1].user_id]
    assert_error(a.get("/v1/conversations", params={"limit": "abc"}), 400)


def test_sender_device_does_not_get_its_own_message_pending(new_user):
    # docs/api.md: the sending device never gets its own message as pending (it got the answer).
    a, b = new_user(), new_user()
    a.send(to=b)
    assert a.pending()["messages"] == []


def test_history_with_both_bounds_is_oldest_first_between_them(new_user):
    # docs/api.md: with before_seq and after_seq, oldest first strictly between them.
    a, b = new_user("hb"), new_user("hb")
    conv = a.send(to=b, body="0")["conversation_id"]
    for i in range(1, 6):
        a.send(conversation_id=conv, body=str(i))
    page = a.history(conv, after_seq=1, before_seq=5)
    assert [m["seq"] for m in page["messages"]] == [2, 3, 4]
    assert page["has_more"] is False
    page = a.history(conv, after_seq=1, before_seq=6, limit=2)
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"] is True
