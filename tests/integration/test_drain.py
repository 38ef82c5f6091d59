"""Graceful drain on SIGTERM, under load: every WebSocket is closed with 1012 (service restart)
after the requests it had sent are answered, HTTP requests in flight are answered, everything
acknowledged is durable, and the process exits 0 well within 30 s. (test_crash.py checks an idle
SIGTERM; this one checks it mid-traffic.)"""
import json
import struct
import threading
import time

import requests
import websocket

from conftest import Api, ParleyServer, make_user, new_client_msg_id, record_figure

WS_CLIENTS = 4
HTTP_CLIENTS = 4


def test_sigterm_drains_websockets_and_in_flight_sends(tmp_path):
    srv = ParleyServer(tmp_path / "data").start()
    api = Api(srv)
    users = [make_user(api, srv, f"dr{i}") for i in range(2)]
    conv = users[0].send(to=users[1], body="open")["conversation_id"]
    lock = threading.Lock()
    sent, acked, answered_error = {}, {}, {}
    close_codes, http_acked, http_unanswered = [], {}, []
    stop = threading.Event()

    def ws_client(i):
        u = users[i % 2]
        conn = websocket.create_connection(srv.ws_url, timeout=10,
                                           header=[f"Authorization: Bearer {u.access_token}"])
        n, answered = 0, 0
        try:
            while True:
                # Keep a window of 20 sends in flight, read what comes back.
                while not stop.is_set() and n - answered < 20:
                    ref = f"{i}-{n}"
                    n += 1
                    cid = new_client_msg_id()
                    with lock:
                        sent[ref] = (u, cid, f"drain-ws-{ref}")
                    try:
                        conn.send(json.dumps({"type": "send", "ref": ref,
                                              "conversation_id": conv, "client_msg_id": cid,
                                              "body": f"drain-ws-{ref}", "encryption": "none"}))
                    except OSError:
                        # The server closed while we were still sending: its close frame (and
                        # any answers) may be waiting unread. Read them below.
                        break
                frame = conn.recv_frame()      # raw: no automatic close reply
                if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = frame.data
                    with lock:
                        close_codes.append(struct.unpack("!H", data[:2])[0] if len(data) >= 2
                                           else None)
                    try:
                        conn.send_close()
                    except OSError:
                        pass           # the server may be gone already: it did close cleanly
                    conn.close()
                    return
                if frame.opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                f = json.loads(frame.data)
                with lock:
                    if f.get("type") == "ack" and f.get("ref") in sent:
                        acked[f["ref"]] = f
                        answered += 1
                    elif f.get("type") == "error" and f.get("ref") in sent:
                        answered_error[f["ref"]] = f
                        answered += 1
        except Exception as e:   # noqa: BLE001 - recorded: a drain must not cut sockets
            with lock:
                close_codes.append(f"no close frame: {e!r}")

    def http_client(i):
        u = users[i % 2]
        session = Api(srv.base)
        n = 0
        while not stop.is_set():
            cid, body = new_client_msg_id(), f"drain-http-{i}-{n}"
            n += 1
            try:
                r = session.post("/v1/send-message", {"conversation_id": conv,
                                                      "client_msg_id": cid, "body": body},
                                 token=u.access_token, timeout=15)
            except requests.RequestException:
                with lock:
                    http_unanswered.append((u, cid, body))
                return     # refused or cut: the server is going away
            if r.status_code == 201:
                with lock:
                    http_acked[cid] = r.json()

    threads = [threading.Thread(target=ws_client, args=(i,)) for i in range(WS_CLIENTS)] + \
              [threading.Thread(target=http_client, args=(i,)) for i in range(HTTP_CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) + len(http_acked) < 400 and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    srv.proc.send_signal(15)
    status = srv.proc.wait(timeout=40)
    exit_s = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(20)

    in_flight_at_close = [r for r in sent if r not in acked and r not in answered_error]
    # Durable: restart, and every acknowledged send is there; what was refused during the drain
    # (error frame) or never answered is stored at most once — a retry with the same
    # client_msg_id tells which.
    srv2 = ParleyServer(srv.data_dir, log_path=srv.log_path).start()
    try:
        api2 = Api(srv2)
        from conftest import User, login
        readers = [User(api2, srv2, u.username, u.password,
                        login(api2, u.username, u.password, device_id=u.device_id)) for u in users]
        hist = readers[0].full_history(conv)
        by_id = {m["message_id"]: m for m in hist}
        lost = [a for a in list(acked.values()) + list(http_acked.values())
                if a["message_id"] not in by_id or by_id[a["message_id"]]["seq"] != a["seq"]]
        stored_unacked = 0
        for ref in in_flight_at_close:
            u, cid, body = sent[ref]
            r = api2.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                               "body": body}, token=readers[users.index(u)]
                          .access_token)
            stored_unacked += r.status_code == 200
        http_cut_stored = 0
        for u, cid, body in http_unanswered:
            r = api2.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": cid,
                                               "body": body}, token=readers[users.index(u)]
                          .access_token)
            http_cut_stored += r.status_code == 200
        seqs = [m["seq"] for m in readers[0].full_history(conv)]
    finally:
        srv2.stop()
    record_figure("sigterm_drain", exit_status=status, exit_s=round(exit_s, 2),
                  ws_clients=WS_CLIENTS, close_codes=sorted(map(str, close_codes)),
                  ws_acked=len(acked), ws_refused_while_draining=len(answered_error),
                  ws_unanswered=len(in_flight_at_close),
                  ws_unanswered_but_stored=stored_unacked,
                  http_acked=len(http_acked), http_unanswered=len(http_unanswered),
                  http_unanswered_but_stored=http_cut_stored, lost=len(lost))
    assert status == 0, srv.log_tail()
    assert exit_s < 30
    assert close_codes == [1012] * WS_CLIENTS, close_codes
    assert not lost, lost[:5]
    # In-flight requests finish and are answered: nothing was stored without its ack. (Frames
    # still unread when the close frame went out are never processed: a retry stores them.)
    assert stored_unacked == 0 and http_cut_stored == 0
    assert all(f["error"]["code"] == "unavailable" for f in answered_error.values())
    assert seqs == list(range(1, len(seqs) + 1))
