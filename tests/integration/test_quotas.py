"""Per-user limits and quotas (issue 15 item 7): typing per user and conversation, and typing
fan-out. Each test starts its own server with the limit it exercises set through the
environment (PARLEY_*), the others as in DEFAULT_SERVER_ENV (off)."""
import pytest

from conftest import Api, ParleyServer, expect_status, make_user


@pytest.fixture
def start(tmp_path):
    servers = []

    def go(env):
        srv = ParleyServer(tmp_path / f"data{len(servers)}", env=env).start()
        servers.append(srv)
        return srv, Api(srv)
    yield go
    for s in servers:
        assert s.alive(), f"parleyd died:\n{s.log_tail()}"
        s.stop()


def typing_frames(ws, conversation_id, seconds=0.5):
    return [f for f in ws.drain(seconds)
            if f.get("type") == "typing" and f.get("conversation_id") == conversation_id]


# --- typing --------------------------------------------------------------------------------------

def test_typing_is_limited_per_user_and_conversation_across_devices(start):
    """Each connection may relay 5 typing frames a second, but a user's devices together get
    --rate-typing-per-min into one conversation (burst 3): two devices cannot double it."""
    srv, api = start({"PARLEY_RATE_TYPING_PER_MIN": "6"})  # burst 3, then one per 10 s
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
    srv, api = start({"PARLEY_TYPING_MAX_MEMBERS": "2"})
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
