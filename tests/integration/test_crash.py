"""Crash safety: nothing acknowledged is lost by kill -9 (once, and repeatedly under load with a
history checker), nor by failing writes (injected full disk), seq stays gapless without duplicates,
and state survives restarts. Each test runs its own server(s) on its own --data-dir."""
import json as _json
import os
import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket

from conftest import (WS, Api, ParleyServer, User, expect_status, login, make_user,
                      new_client_msg_id, record_figure)

N_MESSAGES = 200
THREADS = 12


def restart(old: ParleyServer) -> ParleyServer:
    """A new process on the same --data-dir. A new port, so that a listening socket lingering
    from the killed process cannot get in the way (the data directory is what matters)."""
    srv = ParleyServer(old.data_dir, old.extra_args, log_path=old.log_path)
    srv.env = old.env
    return srv.start()


def relogin(api: Api, server, u: User) -> User:
    """The same device on `server`, with fresh tokens (login with device_id resumes it)."""
    return User(api, server, u.username, u.password,
                login(api, u.username, u.password, device_id=u.device_id))


def as_thread_client(server, u: User) -> User:
    """A copy of u with its own HTTP session (requests.Session is not thread safe)."""
    return User(Api(server.base), server, u.username, u.password,
                {"user_id": u.user_id, "device_id": u.device_id,
                 "access_token": u.access_token, "refresh_token": u.refresh_token})


@pytest.fixture
def crash_server(tmp_path):
    srv = ParleyServer(tmp_path / "data").start()
    servers = [srv]
    yield servers
    for s in servers:
        s.stop()


def setup_senders(srv):
    api = Api(srv.base)
    a, b, c, d = (make_user(api, srv, p) for p in ("ca", "cb", "cc", "cd"))
    a2, b2 = a.new_device("a2"), b.new_device("b2")
    conv_ab = a.send(to=b, body="first ab")
    conv_cd = c.send(to=d, body="first cd")
    first = {conv_ab["conversation_id"]: conv_ab, conv_cd["conversation_id"]: conv_cd}
    senders = [(u, conv_ab["conversation_id"]) for u in (a, a2, b, b2)] + \
              [(u, conv_cd["conversation_id"]) for u in (c, d)]
    return api, senders, first


def blast(srv, senders, n, kill_after_acks):
    """Sends n messages concurrently; SIGKILLs the server from the thread that receives the
    kill_after_acks-th 201. Returns the acks [(sender, conv, client_msg_id, body, answer)] and
    the answers other than 201 received before the kill."""
    acks, errors = [], []
    lock = threading.Lock()
    killed = threading.Event()
    local = threading.local()

    def one(i):
        sender, conv = senders[i % len(senders)]
        if killed.is_set():
            return
        clients = getattr(local, "clients", None)
        if clients is None:
            clients = local.clients = {}
        client = clients.get(sender.device_id)
        if client is None:
            client = clients[sender.device_id] = as_thread_client(srv, sender)
        cid, body = new_client_msg_id(), f"crash-msg-{i}"
        try:
            r = client.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                                 "body": body, "encryption": "none"})
        except requests.RequestException:
            return      # in flight when the server died: not acknowledged
        with lock:
            if r.status_code == 201:
                # Counted even if it arrives after the kill: the server said it was durable.
                acks.append((sender, conv, cid, body, r.json()))
                if len(acks) == kill_after_acks and not killed.is_set():
                    srv.kill()
                    killed.set()
            elif not killed.is_set():
                errors.append(f"{r.status_code} {r.text[:200]}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(n)))
    if not killed.is_set():
        srv.kill()
    return acks, errors


def check_durable(srv, senders, first, acks, all_acked_expected):
    api = Api(srv.base)
    readers = {}
    for u, conv in senders:
        readers.setdefault(conv, relogin(api, srv, u))
    acked = {}
    for conv, f in first.items():
        acked[f["message_id"]] = (conv, f["seq"], None)
    for _, conv, _, body, ans in acks:
        assert ans["conversation_id"] == conv
        acked[ans["message_id"]] = (conv, ans["seq"], body)
    total = 0
    for conv, reader in readers.items():
        hist = reader.full_history(conv)
        seqs = [m["seq"] for m in hist]
        assert seqs == list(range(1, len(hist) + 1)), \
            f"seq not gapless/in order after restart: {seqs[:10]}…{seqs[-10:]}"
        msg_ids = [m["message_id"] for m in hist]
        assert len(set(msg_ids)) == len(msg_ids), "duplicate message ids"
        bodies = [m["body"] for m in hist]
        assert len(set(bodies)) == len(bodies), "a message was stored twice"
        by_id = {m["message_id"]: m for m in hist}
        for mid, (c, seq, body) in acked.items():
            if c != conv:
                continue
            assert mid in by_id, f"acknowledged message {mid} (seq {seq}) lost"
            assert by_id[mid]["seq"] == seq
            if body is not None:
                assert by_id[mid]["body"] == body
        total += len(hist)
    if all_acked_expected:
        assert total == len(acked), "history holds messages that were never sent"
    return readers


def test_acked_messages_survive_sigkill(crash_server):
    srv = crash_server[0]
    api, senders, first = setup_senders(srv)
    acks, errors = blast(srv, senders, N_MESSAGES, kill_after_acks=N_MESSAGES)
    assert not errors, f"sends failed under concurrency: {errors[:5]}"
    assert len(acks) == N_MESSAGES
    assert not srv.alive()
    srv2 = restart(srv)
    crash_server.append(srv2)
    readers = check_durable(srv2, senders, first, acks, all_acked_expected=True)

    # Idempotency survives the crash: a retry of an acked send gets the first answer back.
    api2 = Api(srv2.base)
    for sender, conv, cid, body, ans in acks[:3] + acks[-3:]:
        again = relogin(api2, srv2, sender)
        r = again.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                            "body": body})
        assert r.status_code == 200, r.text
        assert r.json()["message_id"] == ans["message_id"] and r.json()["seq"] == ans["seq"]
    # Numbering continues without a gap.
    for conv, reader in readers.items():
        last = reader.history(conv, limit=1)["messages"][0]["seq"]
        assert reader.send(conversation_id=conv, body="after restart")["seq"] == last + 1


def test_acked_messages_survive_sigkill_mid_stream(crash_server):
    # Kill while sends are still in flight: every acknowledged one must be there, the ones in
    # flight may or may not be, and numbering stays gapless.
    srv = crash_server[0]
    api, senders, first = setup_senders(srv)
    acks, errors = blast(srv, senders, 3 * N_MESSAGES // 2, kill_after_acks=N_MESSAGES // 2)
    assert not errors, f"sends failed under concurrency: {errors[:5]}"
    assert len(acks) >= N_MESSAGES // 2
    srv2 = restart(srv)
    crash_server.append(srv2)
    check_durable(srv2, senders, first, acks, all_acked_expected=False)


def test_sigterm_shuts_down_cleanly_and_keeps_state(crash_server):
    srv = crash_server[0]
    api = Api(srv.base)
    a, b = make_user(api, srv, "ta"), make_user(api, srv, "tb")
    sent = a.send(to=b, body="before restart")
    # Contract silent; a careful daemon drains and exits 0 on SIGTERM, promptly.
    status = srv.stop(timeout=10)
    assert status == 0, f"exit status {status} on SIGTERM:\n{srv.log_tail()}"
    srv2 = restart(srv)
    crash_server.append(srv2)
    api2 = Api(srv2.base)
    b2 = relogin(api2, srv2, b)
    (m,) = b2.history(sent["conversation_id"])["messages"]
    assert m["message_id"] == sent["message_id"] and m["body"] == "before restart"
    # The signing key is persistent: tokens issued before the restart still work, and their
    # refresh tokens too (contract silent; otherwise every restart logs everyone out).
    a_on_2 = User(api2, srv2, a.username, a.password, a.login_answer)
    expect_status(a_on_2.get("/v1/devices"), 200)
    r = api2.post("/v1/refresh-token", {"refresh_token": a.refresh_token})
    expect_status(r, 200)
    # Devices and pending state survive: the message is still pending for b's device.
    assert [x["message_id"] for x in b2.pending()["messages"]] == [sent["message_id"]]


def test_ws_acked_messages_survive_sigkill(crash_server):
    # Acks over the WebSocket promise the same durability as 201s over HTTP.
    srv = crash_server[0]
    api, senders, first = setup_senders(srv)
    per_client = N_MESSAGES // len(senders)
    target = per_client * len(senders)
    acks, problems = [], []
    lock = threading.Lock()
    killed = threading.Event()

    def run(sender, conv):
        try:
            ws = WS.connect(srv.ws_url, sender.access_token)
        except Exception as e:     # noqa: BLE001 - reported below
            problems.append(f"connect: {e}")
            return
        sent = {}
        for i in range(per_client):
            ref, cid, body = f"{sender.device_id}-{i}", new_client_msg_id(), \
                f"ws-crash-{sender.device_id}-{i}"
            sent[ref] = (cid, body)
            ws.send({"type": "send", "ref": ref, "conversation_id": conv, "client_msg_id": cid,
                     "body": body, "encryption": "none"})
        answered = 0
        while answered < per_client and not killed.is_set():
            try:
                f = ws.wait_for(lambda f: f.get("ref") in sent, timeout=10, what="ack")
            except BaseException:   # noqa: BLE001 - the server was killed (or a timeout)
                return
            answered += 1
            with lock:
                if f["type"] == "ack":
                    cid, body = sent[f["ref"]]
                    acks.append((sender, conv, cid, body, f))
                    if len(acks) == target and not killed.is_set():
                        srv.kill()
                        killed.set()
                elif not killed.is_set():
                    problems.append(str(f))
        ws.close()

    threads = [threading.Thread(target=run, args=s) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems[:5]
    assert len(acks) == target
    srv.kill()
    srv2 = restart(srv)
    crash_server.append(srv2)
    check_durable(srv2, senders, first, acks, all_acked_expected=True)



# --- repeated SIGKILL under load, with a history checker -------------------------------------------

CRASH_ROUNDS = int(os.environ.get("PARLEY_CRASH_ROUNDS", "3"))
SEND_PAUSE_S = 0.02     # per sender between messages: ~50 messages/s each, ~400/s in all


class History:
    """Everything the clients saw: sends, acks (201/200/ack frames) and deliveries."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = 0
        self.acks = {}          # client_msg_id -> (conv, message_id, seq)
        self.sent_order = {}    # sender key -> [client_msg_id in send order]
        self.deliveries = []    # (receiver, connection no, conv, seq, message_id)
        self.errors = []
        self.answered_200 = 0   # a retry of a send stored before the crash: the first answer

    def ack(self, sender, cid, conv, ans):
        with self.lock:
            prev = self.acks.get(cid)
            if prev is not None and prev[1] != ans["message_id"]:
                self.errors.append(f"{cid} acked twice as {prev[1]} and {ans['message_id']}")
            self.acks[cid] = (conv, ans["message_id"], ans["seq"])


def _sender(srv, user, conv, key, hist, no_more):
    """A client with an outbox: writes messages until `no_more` is set and sends them one by
    one, retrying each (same client_msg_id) until acknowledged, through crashes and restarts."""
    client = as_thread_client(srv, user)
    order = hist.sent_order[key] = []
    i = 0
    while not no_more.is_set():
        cid, body = new_client_msg_id(), f"{key}-{i}"
        i += 1
        order.append(cid)
        time.sleep(SEND_PAUSE_S)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with hist.lock:
                hist.attempts += 1
            try:
                r = client.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                                     "body": body, "encryption": "none"},
                                timeout=5)
            except requests.RequestException:
                time.sleep(0.05)        # down or restarting: the outbox keeps it
                continue
            if r.status_code in (200, 201):
                hist.answered_200 += r.status_code == 200
                hist.ack(key, cid, conv, r.json())
                break
            if r.status_code != 503:
                hist.errors.append(f"{key}: {r.status_code} {r.text[:200]}")
                break
            time.sleep(0.05)


def _receiver(srv, user, name, hist, stop):
    """A device reading its WebSocket, reconnecting after every crash, marking what it got as
    delivered now and then (so replays after a crash are partial, as in real life)."""
    conn_no = 0
    while not stop.is_set():
        try:
            ws = websocket.create_connection(srv.ws_url, timeout=2,
                                             header=[f"Authorization: Bearer {user.access_token}"])
        except Exception:   # noqa: BLE001 - the server is down: try again
            time.sleep(0.1)
            continue
        conn_no += 1
        marked = {}
        try:
            while not stop.is_set():
                try:
                    raw = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if not raw:
                    break
                f = _json.loads(raw)
                if f.get("type") != "message":
                    continue
                m = f["message"] if isinstance(f.get("message"), dict) else f
                with hist.lock:
                    hist.deliveries.append((name, conn_no, m["conversation_id"], m["seq"],
                                            m["message_id"]))
                conv = m["conversation_id"]
                if m["seq"] - marked.get(conv, 0) >= 10:
                    marked[conv] = m["seq"]
                    ws.send(_json.dumps({"type": "mark_delivered", "conversation_id": conv,
                                         "up_to_seq": m["seq"]}))
        except Exception:   # noqa: BLE001 - killed mid-read: reconnect
            pass
        finally:
            try:
                ws.close()
            except Exception:   # noqa: BLE001
                pass


def _run_history_checker(tmp_path, rounds):
    srv = ParleyServer(tmp_path / "data").start()
    try:
        api = Api(srv)
        a, b, c, d, e = (make_user(api, srv, p) for p in ("ha", "hb", "hc", "hd", "he"))
        a2 = a.new_device("a2")
        conv_ab = a.send(to=b, body="open ab")["conversation_id"]
        conv_cd = c.send(to=d, body="open cd")["conversation_id"]
        g = expect_status(a.post("/v1/create-group", {"name": "crashers",
                                                      "member_ids": [c.user_id, e.user_id]}), 201)
        conv_g = g["conversation_id"]
        senders = [(a, conv_ab, "a>ab"), (a2, conv_ab, "a2>ab"), (b, conv_ab, "b>ab"),
                   (c, conv_cd, "c>cd"), (d, conv_cd, "d>cd"), (a, conv_g, "a>g"),
                   (c, conv_g, "c>g"), (e, conv_g, "e>g")]
        receivers = [(b, "b"), (d, "d"), (e, "e"), (a2, "a2")]
        hist, stop_recv, no_more = History(), threading.Event(), threading.Event()
        rthreads = [threading.Thread(target=_receiver, args=(srv, u, n, hist, stop_recv),
                                     daemon=True) for u, n in receivers]
        sthreads = [threading.Thread(target=_sender, args=(srv, u, conv, k, hist, no_more),
                                     daemon=True) for u, conv, k in senders]
        for t in rthreads + sthreads:
            t.start()
        t0 = time.monotonic()
        kills = 0
        rng = random.Random(7)
        for _ in range(rounds):
            time.sleep(rng.uniform(1.0, 2.5))
            srv.kill()
            kills += 1
            srv.start(port=srv.port)
        time.sleep(0.5)
        no_more.set()                  # each sender finishes the message in hand
        for t in sthreads:
            t.join(120)
        assert not any(t.is_alive() for t in sthreads), "senders did not finish"
        # Let receivers catch up on the last messages, then stop them.
        time.sleep(1.5)
        stop_recv.set()
        for t in rthreads:
            t.join(10)
        elapsed = time.monotonic() - t0

        # Final state, read back after one more crash.
        srv.kill()
        srv.start(port=srv.port)
        api = Api(srv)
        reader = {conv_ab: relogin(api, srv, a), conv_cd: relogin(api, srv, c),
                  conv_g: relogin(api, srv, a)}
        stored = {conv: u.full_history(conv) for conv, u in reader.items()}
        lost, dup_stored, gaps, order_violations = [], 0, 0, 0
        by_mid = {}
        for conv, msgs in stored.items():
            seqs = [m["seq"] for m in msgs]
            gaps += sum(1 for i, s in enumerate(seqs) if s != i + 1)
            bodies = [m["body"] for m in msgs]
            dup_stored += len(bodies) - len(set(bodies))
            for m in msgs:
                by_mid[m["message_id"]] = m
        for cid, (conv, mid, seq) in hist.acks.items():
            m = by_mid.get(mid)
            if m is None or m["seq"] != seq or m["conversation_id"] != conv:
                lost.append((cid, mid, seq))
        for key, cids in hist.sent_order.items():
            seqs = [hist.acks[cid][2] for cid in cids if cid in hist.acks]
            order_violations += sum(1 for x, y in zip(seqs, seqs[1:]) if y <= x)
        # Deliveries: de-duplicated by message_id, every one is a stored message; within one
        # connection a conversation arrives in increasing seq.
        delivered_unique, delivery_dups, bogus, conn_order = set(), 0, 0, 0
        last = {}
        for name, conn_no, conv, seq, mid in hist.deliveries:
            if (name, mid) in delivered_unique:
                delivery_dups += 1
            delivered_unique.add((name, mid))
            if mid not in by_mid:
                bogus += 1
            k = (name, conn_no, conv)
            if seq <= last.get(k, 0):
                conn_order += 1
            last[k] = seq
        figure = dict(rounds=rounds, sigkills=kills + 1, seconds=round(elapsed, 1),
                      send_attempts=hist.attempts,
                      retries=hist.attempts - len(hist.acks), acked=len(hist.acks),
                      retries_answered_as_already_stored=hist.answered_200,
                      stored=sum(len(v) for v in stored.values()), lost=len(lost),
                      duplicates_stored=dup_stored, seq_gaps=gaps,
                      sender_order_violations=order_violations,
                      deliveries=len(hist.deliveries),
                      deliveries_after_dedup=len(delivered_unique),
                      redeliveries_dropped_by_dedup=delivery_dups,
                      deliveries_of_unknown_messages=bogus,
                      per_connection_order_violations=conn_order)
        record_figure("crash_history_checker", **figure)
        assert not hist.errors, hist.errors[:5]
        unacked = [cid for cids in hist.sent_order.values() for cid in cids
                   if cid not in hist.acks]
        assert not unacked, f"{len(unacked)} messages never acknowledged"
        assert not lost, f"acknowledged messages lost: {lost[:5]}"
        assert dup_stored == 0 and gaps == 0 and order_violations == 0, figure
        assert bogus == 0 and conn_order == 0, figure
    finally:
        srv.stop()


def test_history_checker_under_repeated_sigkill(tmp_path):
    _run_history_checker(tmp_path, CRASH_ROUNDS)


@pytest.mark.long
def test_history_checker_under_many_sigkills(tmp_path):
    _run_history_checker(tmp_path, int(os.environ.get("PARLEY_CRASH_ROUNDS_LONG", "20")))


# --- write failures (full disk / I/O error), injected -----------------------------------------------

FAIL_COUNT = 3


def test_failed_writes_are_never_acknowledged_and_the_store_recovers(tmp_path):
    srv = ParleyServer(tmp_path / "data").start()
    api = Api(srv)
    a, b = make_user(api, srv, "fa"), make_user(api, srv, "fb")
    conv = a.send(to=b, body="before faults")["conversation_id"]
    assert srv.stop() == 0
    # Restart with the switch on: after 5 more commits, the next FAIL_COUNT commits fail as if
    # the disk were full (storage/sqlite/writer.h); later ones succeed again.
    faulty = ParleyServer(srv.data_dir, log_path=srv.log_path, env={
        "PARLEY_ENABLE_FAULT_INJECTION": "1", "PARLEY_FAULT_FAIL_WRITE_AFTER": "5",
        "PARLEY_FAULT_FAIL_WRITE_COUNT": str(FAIL_COUNT)}).start()
    try:
        api = Api(faulty)
        a = User(api, faulty, a.username, a.password, a.login_answer)
        answers = []
        for i in range(25):
            cid = new_client_msg_id()
            r = a.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                            "body": f"fault-{i}", "encryption": "none"})
            answers.append((cid, f"fault-{i}", r.status_code, r.json()))
        codes = [c for _, _, c, _ in answers]
        failed = [x for x in answers if x[2] == 503]
        assert set(codes) <= {201, 503}, codes
        assert 1 <= len(failed) <= FAIL_COUNT, codes
        for _, _, _, body in failed:
            assert body["error"]["code"] == "unavailable"
        assert codes[-1] == 201, "the store did not recover"
        # WebSocket sends answer with an error frame, never an ack, while writes fail: covered by
        # the same writer; here the retry of every failed send is a *new* message (201, not 200):
        # nothing of it was stored.
        for cid, body, _, _ in failed:
            r = a.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                            "body": body, "encryption": "none"})
            assert r.status_code == 201, r.text
        hist = a.full_history(conv)
        assert [m["seq"] for m in hist] == list(range(1, len(hist) + 1)), "seq gap after faults"
        acked = {ans["message_id"] for _, _, c, ans in answers if c == 201}
        assert acked <= {m["message_id"] for m in hist}
        assert len(hist) == 1 + len(answers), "a failed write left something behind"
        expect_status(api.get("/readyz"), 200)
    finally:
        assert faulty.stop() == 0
    db = sqlite3.connect(str(srv.data_dir / "parley.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = db.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?",
                       (conv,)).fetchone()[0]
    finally:
        db.close()
    record_figure("write_faults", sends=len(answers), failed_503=len(failed),
                  acked=len(acked), stored_after_retries=n, integrity_check="ok")
    assert n == 1 + len(answers)
