"""Crash safety: nothing acknowledged is lost by kill -9, seq stays gapless without duplicates,
and state survives restarts. Each test runs its own server(s) on its own --data-dir."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import (WS, Api, ParleyServer, User, expect_status, login, make_user,
                      new_client_msg_id)

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
                    ans = f if "message_id" in f else f["message"]
                    cid, body = sent[f["ref"]]
                    acks.append((sender, conv, cid, body, ans))
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

