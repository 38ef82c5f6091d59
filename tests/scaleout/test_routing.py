"""Routed delivery on three nodes (docs/architecture.md, "Cross-node delivery"): a live event
reaches the nodes holding its recipients' connections, not every node, and a connection another
node did not know of yet still gets its messages."""
import time

from conftest import DELIVERY_TIMEOUT_S, msg_of, on, record_figure
from test_cluster import ack_body, answer_to, is_message, ws_send

LIVE = "parley_gateway_live_events_total"
UNHELD = "parley_gateway_live_events_unheld_total"


def counters(nodes):
    return {n.n: (n.metric(LIVE), n.metric(UNHELD)) for n in nodes}


def test_live_events_reach_only_the_nodes_holding_their_recipients(nodes, new_user):
    n1, n2, n3 = nodes[1], nodes[2], nodes[3]
    alice, bob = new_user(1, "alice"), new_user(2, "bob")
    wa, wb = alice.ws(), bob.ws()            # node 1 and node 2; node 3 holds neither
    before = counters((n1, n2, n3))
    assert all(v is not None for pair in before.values() for v in pair), before

    conv, last = None, 0
    for i in range(5):
        s = ack_body(ws_send(wa, f"r{i}", to_user_id=bob.user_id, body=f"routed {i}"))
        conv, last = s["conversation_id"], s["seq"]
        wb.wait_for(is_message(s["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                    what=f"message {i} on bob's node-2 WebSocket")
    wb.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": last, "ref": "md"})
    assert wb.wait_for(answer_to("md"), timeout=DELIVERY_TIMEOUT_S)["type"] == "ack"
    wa.wait_type("receipt", lambda f: f.get("up_to_seq") == last, timeout=DELIVERY_TIMEOUT_S)
    wa.send({"type": "typing", "conversation_id": conv})
    wb.wait_type("typing", lambda f: f.get("conversation_id") == conv, timeout=DELIVERY_TIMEOUT_S)
    time.sleep(1.0)  # anything addressed to node 3 would have been read by now

    after = counters((n1, n2, n3))
    read = {n: after[n][0] - before[n][0] for n in after}
    unheld = {n: after[n][1] - before[n][1] for n in after}
    record_figure("routed_delivery", live_events_read=read, read_for_nobody=unheld)
    # Node 3 reads none of it (with every event broadcast it read all 7, for nobody).
    assert read[3] == 0, (read, unheld)
    # Node 2: the 5 messages, the typing and the receipt (bob's own devices get it); node 1: its
    # own 5 messages (they keep its live delivery in order) and the receipt.
    assert read[2] >= 6 and read[1] >= 6, read


def test_a_connection_another_node_did_not_know_of_yet_gets_its_messages(nodes, new_user):
    n1, n3 = nodes[1], nodes[3]
    alice, bob = new_user(1, "alice"), new_user(2, "bob")
    wa, wb = alice.ws(), bob.ws()
    s1 = ack_body(ws_send(wa, "k1", to_user_id=bob.user_id, body="first"))
    wb.wait_for(is_message(s1["message_id"]), timeout=DELIVERY_TIMEOUT_S, what="first message")
    # Node 1 has just looked up where bob is (node 2) and keeps the answer for a moment; bob now
    # also connects to node 3 and, once its replay has brought the first message (so the replay
    # cannot bring the second), alice sends at once. Node 3's ROUTES_CHANGED makes node 1 ask
    # again (live, ~10 ms); had it not arrived yet, the session's settle read brings it (2.5 s).
    wb3 = on(bob, n3).ws()
    wb3.wait_for(is_message(s1["message_id"]), timeout=DELIVERY_TIMEOUT_S, what="the replay")
    t0 = time.monotonic()
    s2 = ack_body(ws_send(wa, "k2", to_user_id=bob.user_id, body="second"))
    m = wb3.wait_for(is_message(s2["message_id"]), timeout=DELIVERY_TIMEOUT_S,
                     what="the second message on bob's new node-3 WebSocket")
    record_figure("route_settle", second_message_on_new_connection_ms=round(
        (time.monotonic() - t0) * 1000, 1))
    assert msg_of(m)["body"] == "second"


# --- the outbox: nothing committed is left unannounced ------------------------------------------

def test_a_message_whose_publish_was_lost_is_still_announced_live(cluster, nodes, new_user):
    """Node 1 commits alice's message and loses its event (PARLEY_FAULT_SKIP_MESSAGE_EVENTS=1:
    as if it crashed between the commit and the publish); bob's WebSocket on node 2 gets it
    anyway, from the outbox relay (docs/reliability.md)."""
    n1 = nodes[1]
    cluster.stop_node(1)
    try:
        cluster.start_node(1, env={"PARLEY_ENABLE_FAULT_INJECTION": "1",
                                   "PARLEY_FAULT_SKIP_MESSAGE_EVENTS": "1"})
        alice, bob = new_user(1, "alice"), new_user(2, "bob")
        wa, wb = alice.ws(), bob.ws()
        time.sleep(3.0)  # past bob's settle read, so only a live event can bring the message
        s = ack_body(ws_send(wa, "lost", to_user_id=bob.user_id, body="announced by the outbox"))
        t0 = time.monotonic()
        m = wb.wait_for(is_message(s["message_id"]), timeout=DELIVERY_TIMEOUT_S + 10,
                        what="the message whose event node 1 never published")
        late_ms = (time.monotonic() - t0) * 1000
        assert msg_of(m)["body"] == "announced by the outbox" and msg_of(m)["seq"] == s["seq"]
        # The next one goes the usual way, and bob gets each message once.
        s2 = ack_body(ws_send(wa, "next", to_user_id=bob.user_id, body="published at once"))
        wb.wait_for(is_message(s2["message_id"]), timeout=DELIVERY_TIMEOUT_S, what="the next one")
        again = [f for f in wb.drain(1.0) if is_message(s["message_id"])(f)]
        assert again == [], "the announced message came twice"
        republished = sum(n.metric("parley_outbox_republished_total") or 0 for n in nodes[1:])
        assert republished >= 1
        record_figure("outbox", lost_event_delivered_after_ms=round(late_ms, 1),
                      republished=republished)
    finally:
        cluster.stop_node(1)
        cluster.start_node(1)
        assert n1.pid() is not None
