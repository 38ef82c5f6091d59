"""Real time over GET /v1/ws: ready frame, replay, live delivery, send/ack, receipts, typing,
ping, at-least-once delivery, and malformed frames."""
import json
import os
import struct
import time
import uuid

import pytest
import websocket

from conftest import (WS, WS_TIMEOUT_S, assert_error, expect_status, frame_error_code,
                      make_user, msg_of, new_client_msg_id, poll, raw_http, to_device_of)
from jwtutil import decode_jwt, make_jwt


def message_frames(frames):
    return [msg_of(f) for f in frames if f.get("type") == "message"]


def is_message(message_id):
    return lambda f: f.get("type") == "message" and msg_of(f).get("message_id") == message_id


def test_ready_frame_with_header_and_query_token(new_user):
    u = new_user()
    ws = u.ws()
    assert ws.ready == {**ws.ready, "type": "ready", "user_id": u.user_id,
                        "device_id": u.device_id}
    wq = u.ws(via_query=True)
    assert wq.ready["user_id"] == u.user_id and wq.ready["device_id"] == u.device_id


@pytest.mark.parametrize("how", ["none", "garbage", "alg-none", "garbage-query"])
def test_ws_rejects_bad_auth(server, new_user, how):
    url = server.ws_url
    header = []
    if how == "garbage":
        header = ["Authorization: Bearer not.a.token"]
    elif how == "alg-none":
        u = new_user()
        h, claims, _, _ = decode_jwt(u.access_token)
        header = [f"Authorization: Bearer {make_jwt({'alg': 'none', 'kid': h['kid']}, claims)}"]
    elif how == "garbage-query":
        url += "?access_token=garbage"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, header=header, timeout=WS_TIMEOUT_S)
    assert e.value.status_code == 401


def test_pending_messages_replayed_after_ready(new_user):
    a, b = new_user(), new_user()
    sent = [a.send(to=b, body=f"offline {i}") for i in range(3)]
    ws = b.ws()
    got = [msg_of(ws.wait_type("message")) for _ in sent]
    assert [m["message_id"] for m in got] == [s["message_id"] for s in sent]
    assert [m["seq"] for m in got] == [1, 2, 3]
    for m, i in zip(got, range(3)):
        assert m["body"] == f"offline {i}"
        assert m["sender_id"] == a.user_id and m["sender_device_id"] == a.device_id
        assert m["conversation_id"] == sent[0]["conversation_id"]


def test_live_message_to_recipient_and_senders_other_devices(new_user):
    a, b, c = new_user(), new_user(), new_user()
    a2 = a.new_device()
    wb, wa2, wc = b.ws(), a2.ws(), c.ws()
    sent = a.send(to=b, body="live!")
    for ws in (wb, wa2):
        m = msg_of(ws.wait_for(is_message(sent["message_id"]), what="live message frame"))
        assert m["body"] == "live!" and m["seq"] == sent["seq"]
    # Nobody else gets it.
    wc.sync()
    assert message_frames(wc.drain(0.3)) == []


def test_send_frame_is_acked_and_delivered(new_user):
    a, b = new_user(), new_user()
    wa, wb = a.ws(), b.ws()
    cid = new_client_msg_id()
    wa.send({"type": "send", "ref": "r1", "to_user_id": b.user_id, "client_msg_id": cid,
             "body": "via ws", "content_type": "text", "encryption": "none"})
    ack_body = wa.wait_for(lambda f: f.get("ref") == "r1", what="answer to ref r1")
    # docs/api.md: the ack carries message_id, conversation_id, seq, created_at, duplicate.
    assert ack_body["type"] == "ack", ack_body
    for key in ("message_id", "conversation_id", "seq", "created_at", "duplicate"):
        assert key in ack_body, ack_body
    assert ack_body["seq"] == 1 and ack_body["duplicate"] is False
    m = msg_of(wb.wait_for(is_message(ack_body["message_id"])))
    assert m["body"] == "via ws"
    # Same client_msg_id again: the same answer, nothing delivered twice.
    wa.send({"type": "send", "ref": "r2", "to_user_id": b.user_id, "client_msg_id": cid,
             "body": "via ws"})
    ack2 = wa.wait_for(lambda f: f.get("ref") == "r2", what="answer to ref r2")
    assert ack2["type"] == "ack" and ack2["duplicate"] is True, ack2
    assert ack2["message_id"] == ack_body["message_id"]
    wb.sync()
    assert message_frames(wb.drain(0.3)) == []
    hist = b.history(ack_body["conversation_id"])["messages"]
    assert [x["message_id"] for x in hist] == [ack_body["message_id"]]
    # The HTTP idempotency key is shared with the WebSocket one (same device).
    r = a.post("/v1/send-message", {"to_user_id": b.user_id, "client_msg_id": cid, "body": "x"})
    assert r.status_code == 200 and r.json()["message_id"] == ack_body["message_id"], r.text


def test_send_frame_errors_keep_the_connection(new_user):
    a, b, c = new_user(), new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    wc = c.ws()
    cases = [
        ("e1", {"conversation_id": str(uuid.uuid4()), "body": "x"}, "not_found"),
        ("e2", {"conversation_id": conv, "body": "x"}, "not_found"),  # never a member: 404
        ("e3", {"to_user_id": a.user_id}, "invalid_argument"),            # no body
        ("e4", {"to_user_id": "not-a-uuid", "body": "x"}, "invalid_argument"),
        ("e5", {"to_user_id": a.user_id, "body": 42}, "invalid_argument"),
        # A body above 64 KiB, in a frame below max_request_body_bytes: as over HTTP, 413.
        ("e6", {"to_user_id": a.user_id, "body": "x" * 70000}, "payload_too_large"),
    ]
    for ref, fields, code in cases:
        frame = {"type": "send", "ref": ref, "client_msg_id": new_client_msg_id(), **fields}
        wc.send(frame)
        err = wc.wait_for(lambda f, ref=ref: f.get("ref") == ref, what=f"answer to {ref}")
        assert err["type"] == "error", err
        assert frame_error_code(err) == code, err
    wc.sync()
    assert [m["seq"] for m in a.history(conv)["messages"]] == [1]


def test_receipt_frames(new_user):
    a, b = new_user(), new_user()
    s1 = a.send(to=b)
    conv = s1["conversation_id"]
    a.send(conversation_id=conv)
    wa, wb = a.ws(), b.ws()
    wb.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": 2, "ref": "md"})
    # docs/api.md: a mark frame with a ref is acknowledged.
    assert wb.wait_for(lambda f: f.get("ref") == "md", what="answer to md")["type"] == "ack"
    r = wa.wait_type("receipt", lambda f: f.get("kind") == "delivered")
    assert r["conversation_id"] == conv and r["user_id"] == b.user_id
    assert r["up_to_seq"] == 2 and isinstance(r["at"], int)
    wb.send({"type": "mark_read", "conversation_id": conv, "up_to_seq": 1})
    r = wa.wait_type("receipt", lambda f: f.get("kind") == "read")
    assert r["conversation_id"] == conv and r["user_id"] == b.user_id
    assert r["up_to_seq"] == 1 and isinstance(r["at"], int)
    st = expect_status(a.get("/v1/message-status", params={"message_id": s1["message_id"]}), 200)
    assert st["status"] == "read"
    # Marks over HTTP notify the other party the same way (contract silent; consistent design).
    r = b.post("/v1/mark-read", {"conversation_id": conv, "up_to_seq": 2})
    assert r.status_code == 204
    r = wa.wait_type("receipt", lambda f: f.get("kind") == "read" and f.get("up_to_seq") == 2)
    assert r["user_id"] == b.user_id


def test_typing_relayed_to_other_member_only(new_user):
    a, b, c = new_user(), new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    wa, wb, wc = a.ws(), b.ws(), c.ws()
    wb.send({"type": "typing", "conversation_id": conv})
    t = wa.wait_type("typing")
    assert t["conversation_id"] == conv and t["user_id"] == b.user_id
    # A non-member cannot inject typing into the conversation.
    wc.send({"type": "typing", "conversation_id": conv})
    wc.sync()
    wa.sync()
    assert [f for f in wa.drain(0.3) if f.get("type") == "typing"] == []
    wc.sync()   # still connected


def test_typing_is_relayed_at_most_five_times_a_second_per_connection(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    wa, wb = a.ws(), b.ws()
    for _ in range(20):
        wb.send({"type": "typing", "conversation_id": conv})
    wb.sync()
    got = [f for f in wa.drain(0.5) if f.get("type") == "typing"]
    assert len(got) == 5, got
    # A second later the connection may relay again.
    time.sleep(1.0)
    wb.send({"type": "typing", "conversation_id": conv})
    assert wa.wait_type("typing")["user_id"] == b.user_id


def test_ping_pong(new_user):
    ws = new_user().ws()
    ws.send({"type": "ping"})
    assert ws.wait_type("pong")["type"] == "pong"
    ws.send({"type": "ping", "ref": "p-7"})
    pong = ws.wait_type("pong")
    assert pong.get("ref", "p-7") == "p-7"


def test_at_least_once_delivery(new_user):
    a, b = new_user(), new_user()
    sent = a.send(to=b, body="deliver me")
    first = b.ws()
    first.wait_for(is_message(sent["message_id"]))
    first.close()
    # Not marked delivered: sent again on the next connection.
    second = b.ws()
    second.wait_for(is_message(sent["message_id"]), what="re-delivery after reconnect")
    second.send({"type": "mark_delivered", "conversation_id": sent["conversation_id"],
                 "up_to_seq": sent["seq"]})
    poll(lambda: expect_status(a.get("/v1/message-status",
                                     params={"message_id": sent["message_id"]}),
                               200)["status"] == "delivered", what="status delivered")
    second.close()
    third = b.ws()
    third.sync()
    assert message_frames(third.drain(0.3)) == [], "delivered message sent again"
    assert b.pending()["messages"] == []
    # Live messages still flow on the new connection.
    later = a.send(to=b, body="after")
    third.wait_for(is_message(later["message_id"]))


def test_live_messages_not_marked_delivered_are_replayed(new_user):
    # A message received live but never marked is still pending (at least once).
    a, b = new_user(), new_user()
    wb = b.ws()
    sent = a.send(to=b, body="live but unmarked")
    wb.wait_for(is_message(sent["message_id"]))
    wb.close()
    assert [m["message_id"] for m in b.pending()["messages"]] == [sent["message_id"]]
    b.ws().wait_for(is_message(sent["message_id"]), what="replay of unmarked live message")


@pytest.mark.parametrize("raw", [
    "not json", "[]", "42", "null", '{"no_type": 1}', '{"type": 5}', '{"type": "nope"}',
    '{"type": "send"}', '{"type": "mark_read", "conversation_id": "x", "up_to_seq": "y"}',
    '{"type": "typing"}', '{"type": "mark_delivered"}', "{" * 5000,
])
def test_malformed_frames_do_not_break_the_connection(new_user, raw):
    # docs/api.md: malformed JSON gets an `error` frame; a frame that is not an object with a
    # known string `type` and its fields is an `invalid_argument` error (errors always get an
    # `error` frame); the connection stays open.
    ws = new_user().ws()
    ws.conn.send(raw)
    ws.sync()
    errors = [f for f in ws.drain(0.1) if f.get("type") == "error"]
    assert len(errors) == 1 and frame_error_code(errors[0]) == "invalid_argument", errors


def test_unknown_frame_type_with_ref_gets_error(new_user):
    ws = new_user().ws()
    ws.send({"type": "no_such_type", "ref": "u1"})
    err = ws.wait_for(lambda f: f.get("ref") == "u1", what="answer to u1")
    assert err["type"] == "error" and frame_error_code(err) == "invalid_argument", err


def test_binary_frame_gets_error_frame(new_user):
    # docs/api.md: binary frames get an `error` frame; the connection stays open.
    ws = new_user().ws()
    ws.conn.send_binary(b"\x00\xff\xfe binary")
    err = ws.wait_type("error")
    assert frame_error_code(err) == "invalid_argument", err
    ws.sync()


def test_non_json_frame_gets_error_frame(new_user):
    # docs/api.md: malformed JSON gets an `error` frame without `ref`; the connection stays open.
    ws = new_user().ws()
    ws.conn.send("{not json")
    err = ws.wait_type("error")
    assert frame_error_code(err) == "invalid_argument" and "ref" not in err, err
    ws.sync()


def to_device_frames(frames):
    return [to_device_of(f) for f in frames if f.get("type") == "to_device"]


def test_to_device_replayed_on_reconnect_until_acked(new_user):
    # docs/api.md: a to-device message stays queued until the device sends `ack_to_device`;
    # each connection sends it once, the next connection again.
    a, b = new_user(), new_user()
    assert a.post("/v1/send-to-device",
                  {"messages": {b.user_id: {b.device_id: "keep me"}}}).status_code == 202
    first = b.ws()
    td = to_device_of(first.wait_type("to_device"))
    assert td["body"] == "keep me" and isinstance(td["id"], int) and td["id"] > 0, td
    first.sync()
    assert to_device_frames(first.drain(0.3)) == [], "sent twice on one connection"
    first.close()  # "crashed" before processing it: no ack
    assert [x["body"] for x in b.pending()["to_device"]] == ["keep me"]

    second = b.ws()
    again = to_device_of(second.wait_type("to_device"))
    assert again["id"] == td["id"] and again["body"] == "keep me"
    second.send({"type": "ack_to_device", "up_to_id": td["id"], "ref": "td-1"})
    ack = second.wait_for(lambda f: f.get("ref") == "td-1", what="answer to td-1")
    assert ack["type"] == "ack", ack
    assert b.pending()["to_device"] == []
    second.close()

    third = b.ws()
    third.sync()
    assert to_device_frames(third.drain(0.3)) == [], "an acknowledged to-device came back"
    # Live ones still flow, and the ack without ref gets no answer but still deletes.
    assert a.post("/v1/send-to-device",
                  {"messages": {b.user_id: {b.device_id: "live"}}}).status_code == 202
    live = to_device_of(third.wait_type("to_device"))
    assert live["body"] == "live" and live["id"] > td["id"]
    third.send({"type": "ack_to_device", "up_to_id": live["id"]})
    third.sync()
    assert [f for f in third.drain(0.2) if f.get("type") in ("ack", "error")] == []
    poll(lambda: b.pending()["to_device"] == [], timeout=3, what="to-device deleted by ack")


def test_ack_to_device_is_cumulative_and_per_device(new_user):
    a, b = new_user(), new_user()
    b2 = b.new_device()
    for body in ("k1", "k2", "k3"):
        r = a.post("/v1/send-to-device",
                   {"messages": {b.user_id: {b.device_id: body, b2.device_id: body + "-b2"}}})
        assert r.status_code == 202
    ws = b.ws()
    got = [to_device_of(ws.wait_type("to_device")) for _ in range(3)]
    assert [t["body"] for t in got] == ["k1", "k2", "k3"]
    assert got[0]["id"] < got[1]["id"] < got[2]["id"]
    ws.send({"type": "ack_to_device", "up_to_id": got[1]["id"], "ref": 1})
    assert ws.wait_for(lambda f: f.get("ref") == 1)["type"] == "ack"
    assert [x["body"] for x in b.pending()["to_device"]] == ["k3"]
    # Another device's queue is out of reach, whatever the id.
    assert [x["body"] for x in b2.pending()["to_device"]] == ["k1-b2", "k2-b2", "k3-b2"]
    ws.send({"type": "ack_to_device", "up_to_id": 2**53 - 1, "ref": 2})
    assert ws.wait_for(lambda f: f.get("ref") == 2)["type"] == "ack"
    assert b.pending()["to_device"] == []
    assert len(b2.pending()["to_device"]) == 3


@pytest.mark.parametrize("up_to_id", [0, -1, "1", 1.5, None, "absent", 2**53, 2**64, [1], {}])
def test_ack_to_device_with_bad_up_to_id_gets_error(new_user, up_to_id):
    a, b = new_user(), new_user()
    assert a.post("/v1/send-to-device",
                  {"messages": {b.user_id: {b.device_id: "stays"}}}).status_code == 202
    ws = b.ws()
    ws.wait_type("to_device")
    frame = {"type": "ack_to_device", "ref": "bad"}
    if up_to_id != "absent":
        frame["up_to_id"] = up_to_id
    ws.send(frame)
    err = ws.wait_for(lambda f: f.get("ref") == "bad", what="answer to the bad ack")
    assert err["type"] == "error" and frame_error_code(err) == "invalid_argument", err
    ws.sync()  # the connection stays open
    assert [x["body"] for x in b.pending()["to_device"]] == ["stays"]


def test_send_frame_with_conversation_id_interleaves_with_http(new_user):
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    wa = a.ws()
    got = []
    for i in range(3):
        ref = f"s{i}"
        wa.send({"type": "send", "ref": ref, "conversation_id": conv,
                 "client_msg_id": new_client_msg_id(), "body": f"ws{i}"})
        ack = wa.wait_for(lambda f, ref=ref: f.get("ref") == ref, what=f"answer to {ref}")
        assert ack["type"] == "ack", ack
        got.append(ack["seq"])
        got.append(b.send(conversation_id=conv, body=f"http{i}")["seq"])
    assert got == list(range(2, 8))
    hist = a.history(conv, after_seq=0)["messages"]
    assert [m["body"] for m in hist][1:] == ["ws0", "http0", "ws1", "http1", "ws2", "http2"]


def test_replay_of_many_pending_messages_in_order(new_user):
    # More than one page (max limit 200) pending: all replayed, in seq order, after ready.
    a, b = new_user(), new_user()
    conv = a.send(to=b, body="0")["conversation_id"]
    for i in range(1, 230):
        a.send(conversation_id=conv, body=str(i))
    ws = b.ws()
    seen = []
    while len(seen) < 230:
        f = ws.wait_type("message", timeout=10)
        seen.append(msg_of(f)["seq"])
    assert seen == list(range(1, 231))


def test_revoked_device_websocket_is_closed(new_user):
    # docs/api.md: DELETE /v1/devices/{id} closes the device's WebSockets with code 4001.
    u = new_user()
    other = u.new_device("lost")
    ws = other.ws()
    assert u.delete(f"/v1/devices/{other.device_id}").status_code == 204
    assert ws.close_code() == 4001


def test_oversized_ws_frame(new_user):
    # docs/api.md: a frame above max_request_body_bytes (1 MiB) closes the connection with 1009;
    # the server does not crash (checked after the test) and other sessions keep working.
    u = new_user()
    ws = u.ws()
    # A text frame announcing 2 MiB (masked, as from a client), of which only the start is sent:
    # the length alone decides, and the client, having nothing more in flight, reads the close
    # frame. (When a client is still sending the rest, the server's close can reach it as a TCP
    # reset that discards the close frame; the code is then not observable.)
    head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", 2 << 20) + os.urandom(4)
    ws.conn.sock.sendall(head + b"x" * 1000)
    assert ws.close_code() == 1009
    # The whole 2 MiB frame: the connection is closed, whatever the client manages to read.
    ws = u.ws()
    try:
        ws.send({"type": "send", "ref": "big", "to_user_id": u.user_id,
                 "client_msg_id": new_client_msg_id(), "body": "x" * (2 << 20)})
    except OSError:
        pass    # the server closed the connection while the frame was being sent
    # The server reads (and drops) the rest of the frame after its close frame, so the client,
    # done sending, finds the close frame rather than a reset.
    assert ws.close_code() == 1009
    u.ws().sync()


@pytest.mark.parametrize("frame,code", [
    (b"\x81\x02hi", 1002),                                          # not masked
    (b"\xc1\x82" + b"\x00" * 4 + b"hi", 1002),                      # RSV1: no extension agreed
    (b"\x83\x82" + b"\x00" * 4 + b"hi", 1002),                      # reserved opcode
    (b"\x09\x80" + b"\x00" * 4, 1002),                              # a fragmented ping
    (b"\x80\x82" + b"\x00" * 4 + b"hi", 1002),                      # nothing to continue
    (b"\x81\x84" + b"\x00" * 4 + b"caf\xe9", 1007),                  # text that is not UTF-8
], ids=["unmasked", "rsv1", "opcode-3", "fragmented-ping", "continuation", "bad-utf8"])
def test_frames_breaking_the_protocol_close_with_their_code(new_user, frame, code):
    # docs/api.md: frames that break RFC 6455 close the connection with 1002, text that is not
    # UTF-8 with 1007; other connections are unaffected.
    u = new_user()
    ws = u.ws()
    ws.conn.sock.sendall(frame)
    assert ws.close_code() == code
    u.ws().sync()


def test_fragments_and_pings_from_a_client(new_user):
    # RFC 6455: a message may come in fragments with control frames between them; pings are
    # answered with the same payload.
    u = new_user()
    ws = u.ws()
    text = json.dumps({"type": "ping", "ref": "fragmented"}).encode()
    ws.conn.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_TEXT, 1, text[:5]))
    ws.conn.ping(b"between")
    ws.conn.send_frame(websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, text[5:]))
    pong_payload = None
    deadline = time.monotonic() + WS_TIMEOUT_S
    frame = None
    while time.monotonic() < deadline and frame is None:
        opcode, data = ws.conn.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG:
            pong_payload = data
        elif opcode == websocket.ABNF.OPCODE_TEXT:
            frame = json.loads(data)
    assert pong_payload == b"between"
    assert frame == {"type": "pong", "ref": "fragmented"}


@pytest.mark.parametrize("key,version,status", [
    (None, "13", 400), ("c2hvcnQ=", "13", 400), ("dGhlIHNhbXBsZSBub25jZQ==", "8", 426)],
    ids=["no-key", "short-key", "version-8"])
def test_handshake_fields_are_checked(server, new_user, key, version, status):
    # docs/api.md: after the origin and the token, a bad Sec-WebSocket-Key gets 400 and another
    # version than 13 gets 426, both invalid_argument and naming version 13.
    u = new_user()
    head = (f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Version: {version}\r\n"
            f"Authorization: Bearer {u.access_token}\r\n")
    if key is not None:
        head += f"Sec-WebSocket-Key: {key}\r\n"
    got, headers, body = raw_http(server.port, (head + "\r\n").encode(), timeout=5)
    assert got == status, (got, body[:200])
    assert json.loads(body)["error"]["code"] == "invalid_argument"
    assert headers.get("sec-websocket-version") == "13", headers


def test_idle_connections_are_pinged_and_silent_ones_closed(start):
    # docs/api.md: a ping after half of ws_idle_timeout_ms without traffic; a connection from
    # which nothing arrives for ws_idle_timeout_ms (at most 1.5 times it) is closed.
    srv, api = start("--ws-idle-timeout-ms", "1000")
    u = make_user(api, srv)
    silent = u.ws()
    started = time.monotonic()
    # Raw bytes, so that the client library does not answer the ping: a ping, then the end.
    silent.conn.sock.settimeout(WS_TIMEOUT_S)
    data = b""
    while chunk := silent.conn.sock.recv(4096):
        data += chunk
    assert data == b"\x89\x00", data   # an empty ping, nothing else
    assert 0.8 <= time.monotonic() - started <= 2.5
    answering = u.ws()   # websocket-client answers pings while it reads
    for _ in range(3):   # past the idle timeout, reading (so answering pings) all along
        answering.send({"type": "ping", "ref": "still"})
        assert answering.wait_type("pong")["ref"] == "still"
        time.sleep(0.5)
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:   # only pings arrive; each read answers them
        answering.conn.settimeout(0.2)
        try:
            answering.conn.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            pass
    answering.send({"type": "ping", "ref": "alive"})
    assert answering.wait_type("pong")["ref"] == "alive"


def test_receipts_reach_every_device_of_the_sender(new_user):
    a, b = new_user(), new_user()
    a2 = a.new_device()
    m = a.send(to=b)
    w1, w2 = a.ws(), a2.ws()
    wb = b.ws()
    wb.send({"type": "mark_read", "conversation_id": m["conversation_id"], "up_to_seq": 1})
    for ws in (w1, w2):
        r = ws.wait_type("receipt", lambda f: f.get("kind") == "read")
        assert r["user_id"] == b.user_id and r["up_to_seq"] == 1


def test_lower_mark_sends_no_receipt(new_user):
    # "Marking a lower seq changes nothing" - so nothing is announced either (contract silent
    # on frames; a careful design does not emit a receipt that moves backwards).
    a, b = new_user(), new_user()
    conv = a.send(to=b)["conversation_id"]
    a.send(conversation_id=conv)
    wa, wb = a.ws(), b.ws()
    wb.send({"type": "mark_read", "conversation_id": conv, "up_to_seq": 2})
    wa.wait_type("receipt", lambda f: f.get("kind") == "read" and f.get("up_to_seq") == 2)
    wb.send({"type": "mark_read", "conversation_id": conv, "up_to_seq": 1})
    wb.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": 1})
    wb.sync()
    # (A "delivered" up to 2 from the first mark is fine: read implies delivered.)
    backwards = [f for f in wa.drain(0.3)
                 if f.get("type") == "receipt" and f.get("up_to_seq", 0) < 2]
    assert backwards == [], json.dumps(backwards)


def test_delete_own_current_device(new_user, server):
    u = new_user()
    assert u.delete(f"/v1/devices/{u.device_id}").status_code == 204
    assert_error(u.get("/v1/devices"), 401)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WS.connect(server.ws_url, u.access_token)
    assert e.value.status_code == 401
