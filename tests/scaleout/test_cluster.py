"""The scale-out profile end to end: three parleyd nodes (PostgreSQL store, Cassandra message rows,
Kafka bus, Redis cluster state, OpenSearch search, S3 media) behind nginx. Users on different
nodes exchange direct and group messages, receipts and presence, find messages and fetch media
through any node; a device revoked on one node is cut off on every node; and a node killed with
SIGKILL under load loses no acknowledged message while its clients reconnect through the
balancer. Tests talk to a node directly (nodes[1..3]) when the node matters, else to the
balancer (nodes[0])."""
import json
import re
import threading
import time
import uuid

import pytest
import requests
import websocket

from conftest import (ADMIN, DELIVERY_TIMEOUT_S, GRACE_MS, WS, Api, User, assert_error,
                      expect_status, frame_error_code, login, make_user, msg_of,
                      new_client_msg_id, on, poll, presence_of, record_figure)

ADMIN_PASSWORD = "scaleout-admin-password-1"


# --- helpers ----------------------------------------------------------------------------------

def is_message(message_id):
    return lambda f: f.get("type") == "message" and msg_of(f).get("message_id") == message_id


def in_conv(conv):
    return lambda f: f.get("type") == "message" and msg_of(f).get("conversation_id") == conv


def answer_to(ref):
    return lambda f: f.get("ref") == ref and f.get("type") in ("ack", "error")


def ack_body(frame):
    return frame if "message_id" in frame else frame.get("message", frame)


def ws_send(ws, ref, **fields):
    frame = {"type": "send", "ref": ref, "client_msg_id": new_client_msg_id(),
             "content_type": "text", "encryption": "none", **fields}
    ws.send(frame)
    return ws.wait_for(answer_to(ref), timeout=DELIVERY_TIMEOUT_S, what=f"answer to {ref}")


def statuses(caller, *users):
    ids = ",".join(u.user_id for u in users)
    body = expect_status(caller.get("/v1/get-status", params={"user_ids": ids}), 200)
    return {s["user_id"]: s for s in body["statuses"]}


def status_of(caller, user):
    return statuses(caller, user).get(user.user_id, {}).get("status")


def is_presence(user, status=None):
    def pred(f):
        if f.get("type") != "presence":
            return False
        p = presence_of(f)
        return p.get("user_id") == user.user_id and (status is None or p.get("status") == status)
    return pred


# --- 1. direct messages, receipts, history ----------------------------------------------------

def test_direct_message_receipts_and_history_across_nodes(cluster, nodes, new_user):
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob = new_user(1, "alice"), new_user(2, "bob")
    wa, wb = alice.ws(), bob.ws()          # alice's WebSocket on node 1, bob's on node 2

    # A `send` frame on node 1 reaches bob on node 2.
    ack = ws_send(wa, "d1", to_user_id=bob.user_id, body="hello bob, from node 1")
    assert ack["type"] == "ack", ack
    s1 = ack_body(ack)
    conv = s1["conversation_id"]
    assert s1["seq"] == 1
    t0 = time.monotonic()
    m = msg_of(wb.wait_for(is_message(s1["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                           what="alice's message on bob's node-2 WebSocket"))
    latency_ms = (time.monotonic() - t0) * 1000
    assert m["body"] == "hello bob, from node 1" and m["seq"] == 1
    assert m["sender_id"] == alice.user_id and m["sender_device_id"] == alice.device_id
    assert m["conversation_id"] == conv

    # Typing on node 1 reaches bob on node 2 (relayed through the bus like every live frame).
    wa.send({"type": "typing", "conversation_id": conv})
    t = wb.wait_type("typing", lambda f: f.get("conversation_id") == conv,
                     timeout=DELIVERY_TIMEOUT_S)
    assert t == {"type": "typing", "conversation_id": conv, "user_id": alice.user_id}, t

    # An HTTP send through node 3 reaches bob on node 2 as well.
    s2 = on(alice, n3).send(to=bob, body="second, by HTTP on node 3")
    assert s2["conversation_id"] == conv and s2["seq"] == 2
    m = msg_of(wb.wait_for(is_message(s2["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                           what="the node-3 HTTP send on bob's node-2 WebSocket"))
    assert m["body"] == "second, by HTTP on node 3"

    # Receipts: delivered (a frame on node 2) and read (HTTP on node 3) reach alice on node 1.
    wb.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": 2, "ref": "md"})
    assert wb.wait_for(answer_to("md"), timeout=DELIVERY_TIMEOUT_S)["type"] == "ack"
    r = wa.wait_type("receipt", lambda f: f.get("kind") == "delivered",
                     timeout=DELIVERY_TIMEOUT_S)
    assert r["conversation_id"] == conv and r["user_id"] == bob.user_id
    assert r["up_to_seq"] == 2 and isinstance(r["at"], int)
    expect_status(on(bob, n3).post("/v1/mark-read", {"conversation_id": conv, "up_to_seq": 2}),
                  204)
    r = wa.wait_type("receipt", lambda f: f.get("kind") == "read", timeout=DELIVERY_TIMEOUT_S)
    assert r["conversation_id"] == conv and r["user_id"] == bob.user_id and r["up_to_seq"] == 2
    for n in (n1, n2, n3):
        st = expect_status(on(alice, n).get("/v1/message-status",
                                            params={"message_id": s1["message_id"]}), 200)
        assert st["status"] == "read", (n, st)

    # History is the same whichever node serves it (and whoever asks).
    want = [(s1["message_id"], 1, "hello bob, from node 1"),
            (s2["message_id"], 2, "second, by HTTP on node 3")]
    for n in (n3, n1, n2):
        for u in (alice, bob):
            got = [(x["message_id"], x["seq"], x["body"]) for x in on(u, n).full_history(conv)]
            assert got == want, (n, u)
    # Nothing is pending for bob any more, on any node.
    for n in (n1, n2, n3):
        assert on(bob, n).pending()["messages"] == [], n
    # With Cassandra in place the bodies served above came from it: PostgreSQL keeps slim rows.
    if cluster.messages_on_cassandra:
        rows = cluster.sql(f"SELECT seq, length(body) FROM messages "
                           f"WHERE conversation_id = '{conv}' ORDER BY seq")
        assert rows == [["1", "0"], ["2", "0"]], rows
    record_figure("cross_node_direct", first_delivery_ms=round(latency_ms, 1))


# --- 2. groups ----------------------------------------------------------------------------------

def test_group_messages_and_removal_across_nodes(nodes, new_user):
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob, carol = new_user(1, "alice"), new_user(2, "bob"), new_user(3, "carol")
    g = expect_status(alice.post("/v1/create-group", {
        "name": "across nodes", "member_ids": [bob.user_id, carol.user_id]}), 201)
    conv, gid = g["conversation_id"], g["group_id"]
    # Every node sees the group.
    for u, n in ((bob, n2), (carol, n3), (alice, n3)):
        got = expect_status(on(u, n).get(f"/v1/groups/{gid}"), 200)
        assert {m["user_id"] for m in got["members"]} == \
            {alice.user_id, bob.user_id, carol.user_id}
    wa, wb, wc = alice.ws(), bob.ws(), carol.ws()      # nodes 1, 2, 3

    # carol (node 3) -> alice (node 1) and bob (node 2).
    ack = ws_send(wc, "g1", conversation_id=conv, body="carol to everyone")
    assert ack["type"] == "ack", ack
    s1 = ack_body(ack)
    for ws, who in ((wa, "alice@node1"), (wb, "bob@node2")):
        m = msg_of(ws.wait_for(is_message(s1["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                               what=f"carol's group message at {who}"))
        assert m["body"] == "carol to everyone" and m["sender_id"] == carol.user_id
    # bob (HTTP on node 2) -> alice and carol.
    s2 = bob.send(conversation_id=conv, body="bob to everyone")
    for ws, who in ((wa, "alice@node1"), (wc, "carol@node3")):
        ws.wait_for(is_message(s2["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                    what=f"bob's group message at {who}")

    # alice removes bob on node 1.
    g2 = expect_status(alice.post("/v1/remove-member", {"group_id": gid, "user_id": bob.user_id}),
                       200)
    assert bob.user_id not in {m["user_id"] for m in g2["members"]}
    removed_at = time.monotonic()
    # bob's next message is refused at once, on his node (frame and HTTP) and on the others.
    ack = ws_send(wb, "after-removal", conversation_id=conv, body="bob after removal (ws)")
    assert ack["type"] == "error" and frame_error_code(ack) == "forbidden", (
        f"a removed member's send frame on node 2 was answered {ack} "
        f"{(time.monotonic() - removed_at) * 1000:.0f} ms after the removal on node 1")
    for n in (n2, n3, n1):
        assert_error(on(bob, n).post("/v1/send-message", {
            "conversation_id": conv, "client_msg_id": new_client_msg_id(),
            "body": f"bob after removal ({n.name})", "encryption": "none"}), 403)
    # bob hears about his removal (the system message), then nothing newer.
    removal = msg_of(wb.wait_for(
        lambda f: in_conv(conv)(f) and msg_of(f).get("content_type") == "system"
        and "member_removed" in str(msg_of(f).get("body")),
        timeout=DELIVERY_TIMEOUT_S, what="the member_removed system message at bob@node2"))
    removal_seq = removal["seq"]
    s3 = on(carol, n3).send(conversation_id=conv, body="after bob left")
    assert s3["seq"] > removal_seq
    wa.wait_for(is_message(s3["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                what="carol's post-removal message at alice@node1")
    wc.sync()
    late = [msg_of(f) for f in wb.drain(1.5) if in_conv(conv)(f)
            and msg_of(f)["seq"] > removal_seq]
    assert late == [], f"bob (removed) still received group messages: {late}"
    # No node serves him anything newer, and his refused sends left nothing behind.
    for n in (n1, n2, n3):
        assert [m["seq"] for m in on(bob, n).full_history(conv)][-1] == removal_seq, n
        assert_error(on(bob, n).get(f"/v1/groups/{gid}"), 403)
    bodies = [m["body"] for m in on(alice, n3).full_history(conv)]
    assert not [b for b in bodies if "bob after removal" in str(b)], bodies
    assert [m["seq"] for m in on(alice, n2).full_history(conv)] == \
        list(range(1, s3["seq"] + 1))


# --- 3. presence ---------------------------------------------------------------------------------

def test_presence_counts_connections_across_nodes(nodes, new_user):
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob = new_user(1, "alice"), new_user(2, "bob")
    alice.send(to=bob, body="now we share a conversation")
    wa = alice.ws()                                      # node 1
    assert status_of(on(alice, n3), bob) == "offline", "bob has never connected"

    wb = bob.ws()                                        # node 2
    f = wa.wait_for(is_presence(bob, "online"), timeout=DELIVERY_TIMEOUT_S,
                    what="a presence frame for bob online at alice@node1")
    assert presence_of(f)["status"] == "online"
    for n in (n3, n1, n2):
        poll(lambda n=n: status_of(on(alice, n), bob) == "online", timeout=5,
             what=f"bob online according to {n.name}")

    # A second device on node 3; the node-2 one goes away: still online (counted across nodes).
    bob2 = on(bob.new_device("second"), n3)
    wb2 = bob2.ws()                                      # node 3
    wb.close()
    time.sleep(GRACE_MS / 1000 * 2.5)                    # negative check: past the grace period
    for n in (n1, n2, n3):
        assert status_of(on(alice, n), bob) == "online", \
            f"{n.name}: bob shown offline while his device on node 3 is connected"
    flaps = [f for f in wa.drain(0.1) if is_presence(bob, "offline")(f)]
    assert flaps == [], f"alice was told bob is offline while a device was connected: {flaps}"

    # The last device goes: offline after the grace period, on every node, with last_seen_at.
    wb2.close()
    t_closed = time.monotonic()
    closed_ms = int(time.time() * 1000)
    poll(lambda: status_of(on(alice, n3), bob) == "offline", timeout=GRACE_MS / 1000 + 10,
         interval=0.1, what="bob offline according to node 3")
    elapsed = time.monotonic() - t_closed
    assert elapsed >= (GRACE_MS - 200) / 1000, \
        f"offline after {elapsed:.2f}s, before the {GRACE_MS} ms grace period"
    for n in (n1, n2):
        poll(lambda n=n: status_of(on(alice, n), bob) == "offline", timeout=5,
             what=f"bob offline according to {n.name}")
    s = statuses(on(alice, n2), bob)[bob.user_id]
    assert isinstance(s["last_seen_at"], int) and \
        closed_ms - 10_000 <= s["last_seen_at"] <= int(time.time() * 1000) + 1000, s
    wa.wait_for(is_presence(bob, "offline"), timeout=DELIVERY_TIMEOUT_S,
                what="a presence frame for bob offline at alice@node1")
    record_figure("cross_node_presence", offline_after_s=round(elapsed, 2), grace_ms=GRACE_MS)


# --- 4. device revocation -----------------------------------------------------------------------

def test_logout_and_refresh_reuse_end_websockets_on_every_node(nodes, new_user):
    """A WebSocket ends with its credentials whichever node it is on: logout on node 1 closes
    the socket opened with that token on node 3 (4003); a reused refresh token on node 1 closes
    the device's socket on node 2 (4001) and its access tokens are refused on every node."""
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    carol = new_user(1, "carol")
    ws3 = on(carol, n3).ws()
    expect_status(carol.post("/v1/logout"), 204)                        # on node 1
    code = ws3.close_code(DELIVERY_TIMEOUT_S)
    assert code == 4003, f"the logged-out token's WebSocket on node 3 ended with {code!r}"

    dave = new_user(1, "dave")
    ws2 = on(dave, n2).ws()
    api1 = Api(n1.base)
    expect_status(api1.post("/v1/refresh-token", {"refresh_token": dave.refresh_token}), 200)
    assert_error(api1.post("/v1/refresh-token", {"refresh_token": dave.refresh_token}), 401)
    code = ws2.close_code(DELIVERY_TIMEOUT_S)
    assert code == 4001, f"the reused device's WebSocket on node 2 ended with {code!r}"
    for n in nodes:
        poll(lambda n=n: on(dave, n).get("/v1/devices").status_code == 401,
             timeout=DELIVERY_TIMEOUT_S, interval=0.1,
             what=f"dave's old access token refused on {n.name}")


def test_revoked_device_is_cut_off_on_every_node(nodes, new_user):
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    bob = new_user(1, "bob")
    doomed = bob.new_device("doomed")
    for n in nodes:
        expect_status(on(doomed, n).get("/v1/devices"), 200)
    ws = on(doomed, n3).ws()                             # node 3
    keep = on(bob, n2).ws()                              # bob's first device stays, on node 2

    expect_status(bob.delete(f"/v1/devices/{doomed.device_id}"), 204)      # on node 1
    # Refused on every node as soon as the revocation returns (the shared list in Redis; the
    # auth-events topic reaches the other nodes' memory a little later).
    for n in nodes:
        assert_error(on(doomed, n).get("/v1/devices"), 401)
    code = ws.close_code(DELIVERY_TIMEOUT_S)
    assert code == 4001, f"the revoked device's WebSocket on node 3 ended with {code!r}"
    # Its access token is refused everywhere, HTTP and WebSocket, and so is its refresh token.
    for n in nodes:
        assert_error(on(doomed, n).get("/v1/devices"), 401)
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(
                n.ws_url, header=[f"Authorization: Bearer {doomed.access_token}"], timeout=5)
        assert e.value.status_code == 401, n
    assert_error(Api(nodes[0].base).post("/v1/refresh-token",
                                         {"refresh_token": doomed.refresh_token}), 401)
    # The other device is untouched, on every node.
    keep.sync(timeout=DELIVERY_TIMEOUT_S)
    for n in nodes:
        devs = expect_status(on(bob, n).get("/v1/devices"), 200)["devices"]
        assert [d["device_id"] for d in devs] == [bob.device_id], n


def test_profile_changes_are_read_back_at_once_on_every_node(nodes, new_user):
    """User records are cached in Redis (CachedAuthStore); a change made through one node must
    replace what every node's reads had cached."""
    alice, bob = new_user(1, "alice"), new_user(2, "bob")
    alice.send(to=bob, body="now we share a conversation")
    wa = alice.ws()                                      # node 1: online, so her status shows
    for n in nodes:
        poll(lambda n=n: status_of(on(bob, n), alice) == "online", timeout=5,
             what=f"alice online according to {n.name}")
    for text in ("in a meeting", "back at 3"):
        expect_status(alice.post("/v1/update-status", {"status": "busy", "text": text}), 204)
        for n in nodes:                                  # at once: no polling
            s = statuses(on(bob, n), alice)[alice.user_id]
            assert (s["status"], s["text"]) == ("busy", text), f"{n.name}: {s}"
    wa.close()


# --- 5. a node killed under load -------------------------------------------------------------------

LOAD_USERS = 6
RUN_BEFORE_KILL_S = 4.0
RUN_AFTER_KILL_S = 6.0
SEND_PAUSE_S = 0.03
ACK_TIMEOUT_S = 15.0
RECONNECT_DEADLINE_S = 30.0


class Record:
    """What the load clients saw, shared between their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = 0
        self.retries = 0
        self.acks = {}            # client_msg_id -> (conv, message_id, seq)
        self.ack_time = {}        # client_msg_id -> monotonic time of its (first) ack
        self.sent = {}            # client_msg_id -> (sender name, conv, body)
        self.deliveries = []      # (receiver, conn_no, conv, seq, message_id)
        self.problems = []
        self.drops = []           # (client, monotonic time of the drop)
        self.reconnects = []      # (client, monotonic time reconnected, seconds it took)


class LoadClient(threading.Thread):
    """One device connected through the balancer that sends continuously (an outbox: a message
    is re-sent with the same client_msg_id until acknowledged, across reconnects), reads every
    frame, and marks delivered only the gapless prefix of each conversation it has seen."""

    def __init__(self, name, user, convs, seen, ws_url, rec, stop_sending, stop_all):
        super().__init__(daemon=True, name=f"load-{name}")
        self.key, self.user, self.convs, self.ws_url = name, user, convs, ws_url
        self.rec, self.stop_sending, self.stop_all = rec, stop_sending, stop_all
        self.conn_no = 0
        self.outbox = None        # (cid, conv, body) not yet acknowledged
        self.ref = None           # ref of the outbox's last send frame on this connection
        self.sent_at = 0.0
        self.next_send = 0.0
        self.i = 0
        # seqs seen (received, acked own, or there before the run)
        self.have = {c: set(range(1, seen.get(c, 0) + 1)) for c in convs}
        self.marked = {c: 0 for c in convs}
        self.finished = threading.Event()       # outbox empty after stop_sending

    def connect(self):
        deadline = time.monotonic() + RECONNECT_DEADLINE_S
        last = None
        while time.monotonic() < deadline and not self.stop_all.is_set():
            try:
                # ?client= is ignored by the server; it names the connection in nginx's
                # access log (which node it was on: upstream=...).
                conn = websocket.create_connection(
                    f"{self.ws_url}?client={self.key}-{self.conn_no + 1}", timeout=5,
                    header=[f"Authorization: Bearer {self.user.access_token}"])
                first = json.loads(conn.recv())
                if first.get("type") != "ready":
                    raise RuntimeError(f"first frame {first}")
                self.conn_no += 1
                return conn
            except Exception as e:   # noqa: BLE001 - the balancer may pick the dead node once
                last = e
                time.sleep(0.2)
        if not self.stop_all.is_set():
            with self.rec.lock:
                self.rec.problems.append(f"{self.key}: no connection within "
                                         f"{RECONNECT_DEADLINE_S}s: {last!r}")
        return None

    def send_outbox(self, conn):
        cid, conv, body = self.outbox
        self.ref = f"{self.key}-{uuid.uuid4().hex[:8]}"
        with self.rec.lock:
            self.rec.attempts += 1
        conn.send(json.dumps({"type": "send", "ref": self.ref, "conversation_id": conv,
                              "client_msg_id": cid, "body": body, "content_type": "text",
                              "encryption": "none"}))
        self.sent_at = time.monotonic()

    def on_frame(self, conn, f):
        t = f.get("type")
        if t == "message":
            m = msg_of(f)
            conv = m.get("conversation_id")
            with self.rec.lock:
                self.rec.deliveries.append((self.key, self.conn_no, conv, m.get("seq"),
                                            m.get("message_id")))
            if conv in self.have:
                self.have[conv].add(m["seq"])
                self.mark_prefix(conn, conv)
        elif t in ("ack", "error") and self.outbox is not None and f.get("ref") == self.ref:
            cid, conv, body = self.outbox
            if t == "ack":
                a = ack_body(f)
                with self.rec.lock:
                    prev = self.rec.acks.get(cid)
                    if prev is not None and prev[1] != a["message_id"]:
                        self.rec.problems.append(f"{cid} acked as {prev[1]} and "
                                                 f"{a['message_id']}")
                    self.rec.acks[cid] = (conv, a["message_id"], a["seq"])
                    self.rec.ack_time.setdefault(cid, time.monotonic())
                self.have[conv].add(a["seq"])
                self.outbox, self.ref = None, None
                self.next_send = time.monotonic() + SEND_PAUSE_S
            elif frame_error_code(f) == "unavailable":
                self.ref = None                      # try again shortly
                self.next_send = time.monotonic() + 0.2
            else:
                with self.rec.lock:
                    self.rec.problems.append(f"{self.key}: send refused: {f}")
                self.outbox, self.ref = None, None

    def mark_prefix(self, conn, conv):
        have, k = self.have[conv], self.marked[conv]
        while k + 1 in have:
            k += 1
        if k >= self.marked[conv] + 10:
            conn.send(json.dumps({"type": "mark_delivered", "conversation_id": conv,
                                  "up_to_seq": k}))
            self.marked[conv] = k

    def run(self):
        conn = None
        try:
            while not self.stop_all.is_set():
                if conn is None:
                    conn = self.connect()
                    if conn is None:
                        return
                    self.ref = None
                    conn.settimeout(0.05)
                now = time.monotonic()
                if self.outbox is None and not self.stop_sending.is_set() and \
                        now >= self.next_send:
                    conv = self.convs[self.i % len(self.convs)]
                    body = f"load {self.key} #{self.i}"
                    self.outbox = (new_client_msg_id(), conv, body)
                    with self.rec.lock:
                        self.rec.sent[self.outbox[0]] = (self.key, conv, body)
                    self.i += 1
                if self.outbox is None and self.stop_sending.is_set():
                    self.finished.set()
                try:
                    if self.outbox is not None and self.ref is None and now >= self.next_send:
                        self.send_outbox(conn)
                    elif self.outbox is not None and self.ref is not None and \
                            now - self.sent_at > ACK_TIMEOUT_S:
                        raise websocket.WebSocketTimeoutException("no ack: reconnecting")
                    try:
                        raw = conn.recv()
                    except websocket.WebSocketTimeoutException:
                        continue
                    if not raw:
                        raise websocket.WebSocketConnectionClosedException("closed")
                    self.on_frame(conn, json.loads(raw))
                except (websocket.WebSocketException, OSError) as e:
                    dropped = time.monotonic()
                    with self.rec.lock:
                        self.rec.drops.append((self.key, dropped, repr(e)))
                    try:
                        conn.close()
                    except Exception:   # noqa: BLE001
                        pass
                    conn = self.connect()
                    if conn is None:
                        return
                    self.ref = None
                    conn.settimeout(0.05)
                    if self.outbox is not None:
                        with self.rec.lock:
                            self.rec.retries += 1      # re-sent with the same client_msg_id
                    with self.rec.lock:
                        self.rec.reconnects.append((self.key, time.monotonic(),
                                                    time.monotonic() - dropped))
        except Exception as e:   # noqa: BLE001 - reported by the test
            with self.rec.lock:
                self.rec.problems.append(f"{self.key}: {e!r}")
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:   # noqa: BLE001
                    pass


def final_sync(user: User) -> list:
    """Everything still pending for the device (get-messages, paging with the cursor)."""
    out, after = [], None
    for _ in range(100):
        params = {"limit": 200}
        if after is not None:
            params["after"] = after
        page = user.pending(**params)
        out.extend(page["messages"])
        if not page.get("has_more"):
            return out
        after = page["cursor"]
    pytest.fail("get-messages kept saying has_more")


def test_node_killed_under_load_loses_no_acknowledged_message(cluster, nodes):
    lb = nodes[0]
    api = Api(lb.base)
    users = [make_user(api, lb, f"load{i}") for i in range(LOAD_USERS)]
    names = [f"u{i}" for i in range(LOAD_USERS)]
    # Direct pairs (u0,u1), (u2,u3), ... and one group of everybody.
    convs = {name: [] for name in names}
    members = {}
    for i in range(0, LOAD_USERS - 1, 2):
        c = users[i].send(to=users[i + 1], body=f"open u{i}-u{i + 1}")["conversation_id"]
        convs[names[i]].append(c)
        convs[names[i + 1]].append(c)
        members[c] = {names[i], names[i + 1]}
    g = expect_status(users[0].post("/v1/create-group", {
        "name": "load", "member_ids": [u.user_id for u in users[1:]]}), 201)
    for name in names:
        convs[name].append(g["conversation_id"])
    members[g["conversation_id"]] = set(names)
    user_of = dict(zip(names, users))

    # What is in each conversation before the run (opening and system messages) counts as seen.
    seen = {c: on(user_of[sorted(who)[0]], lb).history(c, limit=1)["messages"][0]["seq"]
            for c, who in members.items()}
    rec = Record()
    stop_sending, stop_all = threading.Event(), threading.Event()
    clients = [LoadClient(n, user_of[n], convs[n], seen, lb.ws_url, rec, stop_sending, stop_all)
               for n in names]
    killed_n = None
    try:
        for c in clients:
            c.start()
        time.sleep(RUN_BEFORE_KILL_S)
        conns = {node.n: node.ws_connections() for node in cluster.nodes}
        # Kill node 2 if it holds connections, else the node that holds the most.
        killed_n = 2 if (conns.get(2) or 0) > 0 or all(v is None for v in conns.values()) \
            else max(conns, key=lambda k: conns[k] or 0)
        acked_before_kill = len(rec.acks)
        t_kill = time.monotonic()
        pid = cluster.kill_node(killed_n)
        time.sleep(RUN_AFTER_KILL_S)
        stop_sending.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                c.finished.is_set() or not c.is_alive() for c in clients):
            time.sleep(0.1)
        time.sleep(2.0)                  # live deliveries of the last messages
    finally:
        stop_sending.set()
        stop_all.set()
        for c in clients:
            c.join(15)
    assert not any(c.is_alive() for c in clients), "load clients did not stop"

    # The killed node comes back (its clients stay where they are); history is read from every
    # node, the restarted one included.
    cluster.start_node(killed_n)
    histories = {}
    for conv, who in members.items():
        reader = user_of[sorted(who)[0]]
        per_node = [[(m["message_id"], m["seq"], m["body"]) for m in
                     on(reader, node).full_history(conv)] for node in cluster.nodes]
        assert per_node[0] == per_node[1] == per_node[2], \
            f"nodes disagree on the history of {conv}"
        histories[conv] = on(reader, lb).full_history(conv)

    # Stored: exactly once, gapless seq, every acknowledged message with its seq.
    by_mid, gaps, dup_stored = {}, 0, 0
    for conv, hist in histories.items():
        seqs = [m["seq"] for m in hist]
        gaps += sum(1 for i, s in enumerate(seqs) if s != i + 1)
        bodies = [m["body"] for m in hist if str(m["body"]).startswith("load ")]
        dup_stored += len(bodies) - len(set(bodies))
        for m in hist:
            by_mid[m["message_id"]] = m
    lost = [(cid, v) for cid, v in rec.acks.items()
            if v[1] not in by_mid or by_mid[v[1]]["seq"] != v[2]
            or by_mid[v[1]]["conversation_id"] != v[0]]
    unacked = [cid for cid in rec.sent if cid not in rec.acks]
    stored_load = sum(1 for m in by_mid.values() if str(m["body"]).startswith("load "))

    dropped_set = {d[0] for d in rec.drops}
    # Received: every recipient got every acknowledged message of its conversations, live or
    # replayed on reconnect, or, at the latest, from get-messages now (still pending for it).
    received = {n: set() for n in names}
    live_order = 0
    last = {}
    for name, conn_no, conv, seq, mid in rec.deliveries:
        received[name].add(mid)
        k = (name, conn_no, conv)
        if seq is not None and seq <= last.get(k, 0):
            live_order += 1
        last[k] = seq if seq is not None else last.get(k, 0)
    from_sync = 0
    cid_of = {v[1]: cid for cid, v in rec.acks.items()}
    late = {}       # why a (recipient, message) only came from the final get-messages
    for name in names:
        for m in final_sync(on(user_of[name], lb)):
            if m["message_id"] not in received[name]:
                from_sync += 1
                received[name].add(m["message_id"])
                cid = cid_of.get(m["message_id"])
                if cid is None:
                    k = "not a load message"
                else:
                    dt = rec.ack_time[cid] - t_kill
                    kind = "group" if rec.sent[cid][1] == g["conversation_id"] else "direct"
                    k = (f"{kind}: to {name}{' (dropped)' if name in dropped_set else ''} "
                         f"from {rec.sent[cid][0]}"
                         f"{' (dropped)' if rec.sent[cid][0] in dropped_set else ''} acked "
                         f"{'before' if dt < 0 else 'after'} the kill")
                late.setdefault(k, []).append(round(dt, 2) if cid else None)
    missing = []
    for cid, (conv, mid, seq) in rec.acks.items():
        sender = rec.sent[cid][0]
        for name in members[conv] - {sender}:
            if mid not in received[name]:
                missing.append((name, conv, seq))
    deliveries_unique = sum(len(v) for v in received.values())

    dropped_clients = sorted({d[0] for d in rec.drops})
    reconnect_s = [r[2] for r in rec.reconnects]
    figure = dict(
        users=LOAD_USERS, conversations=len(members), killed=f"node{killed_n}",
        ws_connections_before_kill=conns, acked_before_kill=acked_before_kill,
        seconds_after_kill=round(time.monotonic() - t_kill, 1),
        clients_dropped=len(dropped_clients), reconnects=len(rec.reconnects),
        max_reconnect_s=round(max(reconnect_s), 2) if reconnect_s else None,
        send_attempts=rec.attempts, resent_after_reconnect=rec.retries,
        sent=len(rec.sent), acked=len(rec.acks), unacked=len(unacked),
        stored=stored_load, lost=len(lost), duplicates_stored=dup_stored, seq_gaps=gaps,
        deliveries=len(rec.deliveries), recipients_x_messages_received=deliveries_unique,
        redeliveries_dropped_by_dedup=len(rec.deliveries) - (deliveries_unique - from_sync),
        received_only_via_final_get_messages=from_sync, missing_at_recipients=len(missing),
        per_connection_order_violations=live_order, problems=len(rec.problems),
        only_via_final_get_messages={k: f"{len(v)} (ack at kill{min(v):+}s..{max(v):+}s)"
                                     if None not in v else len(v) for k, v in late.items()})
    record_figure("node_killed_under_load", **figure)
    # Which node each connection was on, from the balancer's access log (written at close).
    placement = {}
    try:
        for line in (cluster.deploy_dir / "nginx" / "logs" / "access.log").read_text().splitlines():
            m = re.search(r"GET /v1/ws\?client=(\S+) .* upstream=(\S+)", line)
            if m:
                placement[m.group(1)] = m.group(2)
    except OSError:
        pass
    print("node_killed_under_load: connections (client-connection -> upstream):", placement)
    print("node_killed_under_load:", figure)

    assert not rec.problems, rec.problems[:5]
    assert dropped_clients, (f"no client was connected to node{killed_n} (pid {pid}) when it "
                             f"was killed: {conns}")
    assert len(rec.acks) > acked_before_kill, "nothing was acknowledged after the kill"
    assert not lost, f"acknowledged messages lost: {lost[:5]}"
    assert not unacked, f"{len(unacked)} messages never acknowledged (clients gave up)"
    assert gaps == 0 and dup_stored == 0, figure
    assert stored_load == len(rec.acks), \
        f"{stored_load} load messages stored, {len(rec.acks)} acknowledged"
    assert not missing, f"{len(missing)} (recipient, message) pairs never received: {missing[:5]}"
    assert live_order == 0, figure


# --- 6. live delivery without gaps when several nodes write one conversation ---------------------

BURST = 40


def test_group_burst_from_three_nodes_arrives_live_without_gaps(nodes, new_user):
    """The C++ SDK and the web client mark a conversation delivered up to the seq of each
    `message` frame they get (cumulative, as the contract's up_to_seq is). That is safe only if a
    live connection never skips a seq: a skipped message is then marked delivered without being
    delivered, and no later connection replays it. Three members on three nodes send into one
    group at once; a fourth member's WebSocket, acting like the SDK, must get every message."""
    reader = new_user(1, "reader")
    senders = [new_user(n, f"burst{n}") for n in (1, 2, 3)]
    g = expect_status(reader.post("/v1/create-group", {
        "name": "burst", "member_ids": [s.user_id for s in senders]}), 201)
    conv = g["conversation_id"]
    ws = reader.ws()                                     # node 1
    ws.sync()
    base_seq = reader.history(conv, limit=1)["messages"][0]["seq"]
    ws.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": base_seq})

    acked, errors = {}, []
    lock = threading.Lock()

    def burst(s, k):
        client = on(s, nodes[k])                         # its own HTTP session, on its node
        for i in range(BURST):
            try:
                a = client.send(conversation_id=conv, body=f"burst {k} #{i}")
            except BaseException as e:   # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
            with lock:
                acked[a["seq"]] = a["message_id"]

    threads = [threading.Thread(target=burst, args=(s, k)) for k, s in zip((1, 2, 3), senders)]
    for t in threads:
        t.start()
    live, skipped_for_good = {}, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        f = ws._recv_raw(0.2)
        if f is not None and in_conv(conv)(f):
            m = msg_of(f)
            live[m["seq"]] = m["message_id"]
            ws.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": m["seq"]})
        if not any(t.is_alive() for t in threads) and len(acked) == 3 * BURST and \
                set(acked) <= set(live):
            break
        if not any(t.is_alive() for t in threads) and f is None and \
                time.monotonic() > deadline - 60 + 5 and len(live) and \
                max(live) >= max(acked, default=0):
            # The highest seq has arrived and nothing came for 0.2 s: what is missing now will
            # not come on this connection.
            break
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(acked) == 3 * BURST
    missing = sorted(set(acked) - set(live))
    if missing:
        # What an SDK-like client ends up with: a new connection replays nothing of them.
        ws.sync()
        ws.close()
        again = reader.ws()
        again.sync()
        replayed = {msg_of(f)["seq"] for f in again.drain(1.0) if in_conv(conv)(f)}
        skipped_for_good = sorted(set(missing) - replayed)
    record_figure("group_burst_three_nodes", messages=len(acked), received_live=len(live),
                  skipped_live=len(missing), lost_for_an_sdk_like_client=len(skipped_for_good or []))
    assert not missing, (
        f"{len(missing)} of {len(acked)} group messages (seqs {missing[:10]}...) were never sent "
        f"to the reader's live connection, although later seqs were; the reader marked "
        f"delivered what it got, as the SDK does, so a new connection replays "
        f"{len(missing) - len(skipped_for_good)} of them: {len(skipped_for_good)} are lost for "
        f"this device. (ws_session.cc EnqueueMessage drops a seq <= the last one sent, and "
        f"events of one conversation from different nodes reach Kafka out of seq order.)")


# --- 7. search on OpenSearch and media on S3, shared by every node ----------------------------

def search(caller, q, conv=None):
    params = {"q": q, **({"conversation_id": conv} if conv else {})}
    body = expect_status(caller.get("/v1/search-messages", params=params), 200)
    return [r["message_id"] for r in body["results"]]


def test_search_is_shared_by_every_node(cluster, nodes, new_user):
    """Messages sent through one node are found through every node, only by their members; with
    OpenSearch in place each message is indexed once, in the shared index."""
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob, carol = new_user(1, "alice"), new_user(2, "bob"), new_user(3, "carol")
    word = "zq" + uuid.uuid4().hex[:10]               # a word no other test uses
    plain = alice.send(to=bob, body=f"the {word} report is ready")
    token = uuid.uuid4().hex                          # an E2EE message's keyed-hash token
    e2ee = on(alice, n3).send(to=bob, body="b3BhcXVl", encryption="e2ee-v1",
                              search_tokens=[token])
    conv = plain["conversation_id"]
    for n in (n1, n2, n3):
        for u in (alice, bob):
            poll(lambda u=u, n=n: search(on(u, n), word) == [plain["message_id"]],
                 timeout=DELIVERY_TIMEOUT_S, what=f"{u.username} finds the word on {n.name}")
            assert search(on(u, n), word[:6]) == [plain["message_id"]], "last word as a prefix"
            assert search(on(u, n), token, conv) == [e2ee["message_id"]]
        # Authorization: carol shares no conversation with them and finds nothing.
        assert search(on(carol, n), word) == [] and search(on(carol, n), token) == []
    if not cluster.search_on_opensearch:
        return
    port = cluster.env.get("PARLEY_OPENSEARCH_PORT", "29200")
    for m in (plain, e2ee):
        doc = f"{conv}:{m['seq']}"
        r = requests.post(f"http://127.0.0.1:{port}/parley-messages-*/_search",
                          json={"query": {"ids": {"values": [doc]}}}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["hits"]["total"]["value"] == 1, (doc, r.text)


def test_media_is_shared_by_every_node(cluster, nodes, new_user):
    """A blob uploaded through one node downloads through every node, by its uploader and the
    members of a conversation that names it, and not by others; with S3 in place it is an object
    in the bucket, not a file in a shared directory."""
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob, carol = new_user(1, "alice"), new_user(2, "bob"), new_user(3, "carol")
    data = uuid.uuid4().bytes * 40_000                # 640 KB
    r = alice.api.request("POST", "/v1/upload", token=alice.access_token, data=data,
                          headers={"Content-Type": "application/octet-stream",
                                   "X-Filename": "notes.bin"})
    up = expect_status(r, 201)
    media_id = up["media_id"]
    assert up["size"] == len(data)
    alice.send(to=bob, body="see attached", media_ids=[media_id])
    for n in (n1, n2, n3):
        for u in (alice, bob):
            got = on(u, n).api.request("GET", f"/v1/download/{media_id}", token=u.access_token)
            assert got.status_code == 200 and got.content == data, (n.name, u.username)
        # docs/api.md: media a caller may not see is answered as media that does not exist.
        denied = on(carol, n).api.request("GET", f"/v1/download/{media_id}",
                                          token=carol.access_token)
        assert_error(denied, 404, "not_found")
    # The signed URL made by node 1 works on node 3 (one URL key for every node).
    signed = requests.get(n3.base + up["url"], timeout=10)
    assert signed.status_code == 200 and signed.content == data
    if not cluster.media_on_s3:
        return
    objects = [p for p in (cluster.deploy_dir / "s3proxy" / "data").rglob("*")
               if p.is_file() and media_id in p.name]
    assert objects, "the blob is not in S3Proxy's bucket"
    shared = cluster.deploy_dir / "shared" / "media"
    assert not shared.exists() or not any(media_id in p.name for p in shared.rglob("*"))


# --- 8. every node's logs, shipped to OpenSearch, searched by an admin ---------------------------

def test_logs_of_every_node_are_searchable_by_an_admin(cluster, nodes, new_user):
    """With --ship-logs, each node's log lines (audit records included) reach OpenSearch; an admin
    on any node finds them by words, node and level; others get 403."""
    if not cluster.search_on_opensearch:
        pytest.skip("OpenSearch left out (PARLEY_DEV_SKIP_OPENSEARCH=1): no log shipping")
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    api1 = Api(n1.base)
    r = api1.post("/v1/signup", {"username": ADMIN, "password": ADMIN_PASSWORD})
    assert r.status_code in (201, 409), r.text   # 409: an earlier test run made it
    cluster.grant_admin(ADMIN)                   # before anything reads (caches) the user
    admin = User(api1, n1, ADMIN, ADMIN_PASSWORD, login(api1, ADMIN, ADMIN_PASSWORD))

    def logs(n, **params):
        return expect_status(on(admin, n).get("/v1/admin/logs", params=params), 200)["entries"]

    carol = new_user(3, "logq")                      # node 3 logs "user signed up"
    ghost = "ghost" + uuid.uuid4().hex[:10]
    assert_error(Api(n2.base).post("/v1/login", {"username": ghost, "password": "not-it-1234"}),
                 401)                                # an audit record: login.failure

    def signed_up():   # her "login" line may be shipped in an earlier batch: wait for this one
        found = logs(n1, q=carol.user_id, node="node3")
        assert all(e["node"] == "node3" for e in found), found
        return [e for e in found
                if e["msg"] == "user signed up" and e["line"].get("user_id") == carol.user_id]
    poll(signed_up, timeout=30, interval=0.5, what="node 3's sign-up line, searched through node 1")
    audit = poll(lambda: [e for e in logs(n2, q=ghost) if e["msg"] == "audit"], timeout=30,
                 interval=0.5, what="the login.failure audit line, searched through node 2")
    assert audit[0]["line"]["action"] == "login.failure" and audit[0]["line"]["target"] == ghost
    assert logs(n3, q=ghost, level="warn") == []     # an audit line is info
    # The node filter: node 1 may have logged her audit records, not her sign-up (node 3's).
    on_n1 = logs(n1, q=carol.user_id, node="node1")
    assert all(e["node"] == "node1" and e["msg"] != "user signed up" for e in on_n1), on_n1
    for n in (n1, n2, n3):
        assert_error(on(carol, n).get("/v1/admin/logs", params={"q": "x"}), 403, "forbidden")
