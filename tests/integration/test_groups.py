"""Group management: create-group, add-member, remove-member (leave), update-group, GET
/v1/groups/{id}; the roles rules, ownership transfer, the member limit; system messages in the
group's conversation; live delivery to every member device; what late joiners and removed
members can see; `group` frames; bad input."""
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (Api, ParleyServer, assert_error, expect_status, is_uuid, make_user, msg_of,
                      poll)

GROUP_FIELDS = {"group_id", "conversation_id", "name", "creator_id", "created_at", "updated_at",
                "members"}


# --- helpers ----------------------------------------------------------------------------------

def create_group(owner, members=(), name="Team", expect=201):
    r = owner.post("/v1/create-group", {"name": name, "member_ids": [m.user_id for m in members]})
    return expect_status(r, expect)


def add(actor, group, user, role=None, expect=200):
    body = {"group_id": group["group_id"], "user_id": user.user_id}
    if role is not None:
        body["role"] = role
    r = actor.post("/v1/add-member", body)
    return expect_status(r, expect) if expect < 400 else assert_error(r, expect)


def remove(actor, group, user, expect=200):
    r = actor.post("/v1/remove-member", {"group_id": group["group_id"], "user_id": user.user_id})
    return expect_status(r, expect) if expect < 400 else assert_error(r, expect)


def update(actor, group, expect=200, name=None, roles=None):
    body = {"group_id": group["group_id"]}
    if name is not None:
        body["name"] = name
    if roles is not None:
        body["roles"] = {u.user_id: role for u, role in roles.items()}
    r = actor.post("/v1/update-group", body)
    return expect_status(r, expect) if expect < 400 else assert_error(r, expect)


def get_group(user, group_id, expect=200):
    r = user.get(f"/v1/groups/{group_id}")
    return expect_status(r, expect) if expect < 400 else assert_error(r, expect)


def roles(group):
    return {m["user_id"]: m["role"] for m in group["members"]}


def member_ids(group):
    return [m["user_id"] for m in group["members"]]


def events(messages):
    """The system events of a list of messages, in order: (event, user_id or None)."""
    out = []
    for m in messages:
        if m["content_type"] == "system":
            body = json.loads(m["body"])
            out.append((body["event"], body.get("user_id")))
    return out


def text_bodies(messages):
    return [m["body"] for m in messages if m["content_type"] != "system"]


def pending_messages(user, conversation_id):
    return [m for m in user.pending(limit=200)["messages"]
            if m["conversation_id"] == conversation_id]


def is_message(conversation_id, body=None):
    def pred(f):
        if f.get("type") != "message":
            return False
        m = msg_of(f)
        return m.get("conversation_id") == conversation_id and (body is None or m["body"] == body)
    return pred


def is_group_frame(group_id):
    return lambda f: f.get("type") == "group" and f.get("group", {}).get("group_id") == group_id


# --- create and read --------------------------------------------------------------------------

def test_create_group_answers_the_group_and_opens_its_conversation(new_user):
    a, b, c = new_user("owner"), new_user(), new_user()
    g = create_group(a, [b, c], name="Weekend plans")
    assert GROUP_FIELDS <= set(g)
    assert is_uuid(g["group_id"]) and is_uuid(g["conversation_id"])
    assert g["group_id"] != g["conversation_id"]
    assert g["name"] == "Weekend plans" and g["creator_id"] == a.user_id
    assert isinstance(g["created_at"], int) and g["updated_at"] == g["created_at"]
    assert member_ids(g) == [a.user_id, b.user_id, c.user_id]
    assert roles(g) == {a.user_id: "owner", b.user_id: "member", c.user_id: "member"}
    assert all(m["joined_at"] == g["created_at"] for m in g["members"])
    assert get_group(b, g["group_id"]) == g
    assert get_group(a, g["group_id"].upper()) == g  # ids are accepted in any case

    convs = expect_status(b.get("/v1/conversations"), 200)["conversations"]
    conv = next(x for x in convs if x["conversation_id"] == g["conversation_id"])
    assert conv["type"] == "group" and conv["group_id"] == g["group_id"]
    assert conv["title"] == "Weekend plans" and conv["member"] is True

    history = b.full_history(g["conversation_id"])
    assert len(history) == 1
    m = history[0]
    assert m["seq"] == 1 and m["content_type"] == "system" and m["encryption"] == "none"
    assert m["sender_id"] == a.user_id
    body = json.loads(m["body"])
    assert body["event"] == "group_created" and body["actor"] == a.user_id
    assert body["name"] == "Weekend plans" and body["member_ids"] == [b.user_id, c.user_id]


def test_create_group_alone_and_with_duplicates(new_user):
    a, b = new_user(), new_user()
    solo = create_group(a, [])
    assert member_ids(solo) == [a.user_id]
    g = expect_status(a.post("/v1/create-group", {
        "name": "dups", "member_ids": [b.user_id, b.user_id.upper(), a.user_id]}), 201)
    assert member_ids(g) == [a.user_id, b.user_id]


def test_create_group_with_unknown_member_is_404_and_creates_nothing(new_user):
    a, b = new_user(), new_user()
    r = a.post("/v1/create-group", {"name": "x", "member_ids": [b.user_id, str(uuid.uuid4())]})
    assert_error(r, 404)
    convs = expect_status(b.get("/v1/conversations"), 200)["conversations"]
    assert [c for c in convs if c["type"] == "group"] == []


def test_get_group_members_only(new_user):
    a, b, stranger = new_user(), new_user(), new_user()
    g = create_group(a, [b])
    get_group(stranger, g["group_id"], expect=403)
    get_group(a, str(uuid.uuid4()), expect=404)
    assert_error(a.get("/v1/groups/not-a-uuid"), 400)
    assert_error(a.api.get(f"/v1/groups/{g['group_id']}"), 401)


# --- membership and roles ---------------------------------------------------------------------

def test_add_member_and_adding_twice_changes_nothing(new_user):
    a, b, d = new_user(), new_user(), new_user()
    g = create_group(a, [b])
    g2 = add(a, g, d)
    assert member_ids(g2) == [a.user_id, b.user_id, d.user_id]
    assert roles(g2)[d.user_id] == "member"
    assert g2["updated_at"] >= g["updated_at"]
    assert get_group(d, g["group_id"]) == g2
    again = add(a, g, d, role="admin")
    assert again == g2  # nothing changed, not even the role
    assert events(a.full_history(g["conversation_id"])) == [
        ("group_created", None), ("member_added", d.user_id)]


def test_members_cannot_add_remove_rename_or_change_roles(new_user):
    a, b, c, d, stranger = new_user(), new_user(), new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    add(b, g, d, expect=403)
    remove(b, g, c, expect=403)
    update(b, g, roles={c: "admin"}, expect=403)
    update(b, g, roles={b: "admin"}, expect=403)
    update(b, g, name="mine now", expect=403)
    add(stranger, g, d, expect=403)
    remove(stranger, g, stranger, expect=403)
    update(stranger, g, name="x", expect=403)
    assert get_group(a, g["group_id"]) == g  # nothing changed


def test_admins_manage_members_but_not_the_owner(new_user):
    a, b, c, d = new_user(), new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    g = update(a, g, roles={b: "admin"})
    assert roles(g)[b.user_id] == "admin"
    g = add(b, g, d, role="admin")
    assert roles(g)[d.user_id] == "admin"
    g = remove(b, g, c)
    assert c.user_id not in member_ids(g)
    remove(b, g, a, expect=403)                 # nobody removes the owner
    update(b, g, roles={a: "member"}, expect=403)
    update(b, g, roles={d: "owner"}, expect=403)  # only the owner hands over ownership
    g = update(b, g, roles={d: "member"}, name="Renamed by admin")
    assert roles(g)[d.user_id] == "member" and g["name"] == "Renamed by admin"
    g = remove(b, g, d)  # admins remove admins and members alike
    assert member_ids(g) == [a.user_id, b.user_id]


def test_making_someone_owner_transfers_ownership(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    update(a, g, roles={a: "admin"}, expect=409)  # the owner's role moves only by a transfer
    g = update(a, g, roles={b: "owner"})
    assert roles(g) == {a.user_id: "admin", b.user_id: "owner", c.user_id: "member"}
    update(a, g, roles={c: "owner"}, expect=403)  # a is no longer the owner
    g = update(b, g, roles={c: "owner", b: "member"})
    assert roles(g) == {a.user_id: "admin", b.user_id: "member", c.user_id: "owner"}
    r = c.post("/v1/update-group", {"group_id": g["group_id"],
                                     "roles": {a.user_id: "owner", b.user_id: "owner"}})
    assert_error(r, 400)


def test_owner_leaving_hands_over_to_oldest_admin_else_oldest_member(new_user):
    a, b, c, d = new_user(), new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    g = add(a, g, d, role="admin")
    g = update(a, g, roles={c: "admin"})
    # Admins c (joined at creation) and d (joined later): c is the oldest admin.
    g = remove(a, g, a)
    assert roles(g) == {b.user_id: "member", c.user_id: "owner", d.user_id: "admin"}
    get_group(a, g["group_id"], expect=403)
    g = remove(d, g, d)
    g = remove(c, g, c)  # no admin left: the oldest member, b
    assert roles(g) == {b.user_id: "owner"}
    g = remove(b, g, b)
    assert g["members"] == []
    get_group(b, g["group_id"], expect=403)  # kept, but nobody is in it
    add(b, g, a, expect=403)
    hist = events(b.full_history(g["conversation_id"]))
    assert ("member_left", a.user_id) in hist and ("role_changed", c.user_id) in hist


def test_remove_member_not_in_group_is_404(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b])
    remove(a, g, c, expect=404)
    r = a.post("/v1/remove-member", {"group_id": g["group_id"], "user_id": str(uuid.uuid4())})
    assert_error(r, 404)
    add(a, g, type("U", (), {"user_id": str(uuid.uuid4())}), expect=404)  # no such user
    r = a.post("/v1/add-member", {"group_id": str(uuid.uuid4()), "user_id": b.user_id})
    assert_error(r, 404)


def test_system_messages_record_every_change(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b])
    add(a, g, c)
    update(a, g, roles={c: "admin"}, name="New name")
    update(a, g, name="New name")  # same name: nothing happens
    remove(c, g, b)
    remove(a, g, a)
    hist = a.full_history(g["conversation_id"])  # a left: its history ends with its leaving
    assert [m["seq"] for m in hist] == list(range(1, len(hist) + 1))
    assert events(hist) == [("group_created", None), ("member_added", c.user_id),
                            ("group_renamed", None), ("role_changed", c.user_id),
                            ("member_removed", b.user_id), ("member_left", a.user_id),
                            ("role_changed", c.user_id)]
    last = json.loads(hist[-1]["body"])
    assert last == {"event": "role_changed", "actor": a.user_id, "user_id": c.user_id,
                    "role": "owner"}
    assert all(m["encryption"] == "none" for m in hist)
    convs = expect_status(c.get("/v1/conversations"), 200)["conversations"]
    assert next(x for x in convs if x["conversation_id"] == g["conversation_id"])["title"] == \
        "New name"


# --- messages in groups -----------------------------------------------------------------------

def test_group_messages_reach_every_member_device_live(new_user):
    a, b, c = new_user(), new_user(), new_user()
    b2 = b.new_device()
    g = create_group(a, [b, c])
    conv = g["conversation_id"]
    sockets = {"a": a.ws(), "b": b.ws(), "b2": b2.ws(), "c": c.ws()}
    for ws in sockets.values():  # the creation message is pending for every device
        ws.wait_for(is_message(conv))
    sent = a.send(conversation_id=conv, body="hello group")
    assert sent["seq"] == 2
    for name in ("b", "b2", "c"):
        m = msg_of(sockets[name].wait_for(is_message(conv, "hello group")))
        assert m["message_id"] == sent["message_id"] and m["sender_id"] == a.user_id
    assert not [f for f in sockets["a"].drain(0.3) if is_message(conv, "hello group")(f)]
    # c replies over its WebSocket; everyone else, a included, gets it.
    sockets["c"].send({"type": "send", "ref": "r1", "conversation_id": conv,
                       "client_msg_id": str(uuid.uuid4()), "body": "hi from c"})
    ack = sockets["c"].wait_type("ack", lambda f: f.get("ref") == "r1")
    assert ack["seq"] == 3
    for name in ("a", "b", "b2"):
        sockets[name].wait_for(is_message(conv, "hi from c"))


def test_group_receipts_and_status(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    conv = g["conversation_id"]
    ws_a = a.ws()
    sent = a.send(conversation_id=conv, body="status?")

    def status():
        return expect_status(a.get("/v1/message-status",
                                   params={"message_id": sent["message_id"]}), 200)
    st = status()
    assert st["status"] == "sent"
    assert sorted(r["user_id"] for r in st["receipts"]) == sorted([b.user_id, c.user_id])
    expect_status(b.post("/v1/mark-delivered", {"conversation_id": conv, "up_to_seq": 2}), 204)
    ws_a.wait_type("receipt", lambda f: f["user_id"] == b.user_id and f["kind"] == "delivered")
    assert status()["status"] == "sent"  # not every recipient yet
    expect_status(c.post("/v1/mark-delivered", {"conversation_id": conv, "up_to_seq": 2}), 204)
    assert status()["status"] == "delivered"
    expect_status(b.post("/v1/mark-read", {"conversation_id": conv, "up_to_seq": 2}), 204)
    expect_status(c.post("/v1/mark-read", {"conversation_id": conv, "up_to_seq": 2}), 204)
    assert status()["status"] == "read"


def test_receipts_reach_the_senders_they_cover(new_user):
    # docs/api.md: a receipt goes to the senders of what a mark newly covers and to the marking
    # user's devices, not to every member.
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    conv = g["conversation_id"]
    ws_a, ws_b, ws_c = a.ws(), b.ws(), c.ws()
    for i in range(3):
        a.send(conversation_id=conv, body=f"m{i}")  # seqs 2, 3, 4 (1 is the system message)
    ws_c.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": 4})
    ws_a.wait_type("receipt", lambda f: f["user_id"] == c.user_id and f["up_to_seq"] == 4)
    # c's own device hears of its mark (read state across devices); b sent nothing it covers.
    ws_c.wait_type("receipt", lambda f: f["user_id"] == c.user_id and f["up_to_seq"] == 4)
    assert not [f for f in ws_b.drain(0.3)
                if f.get("type") == "receipt" and f["user_id"] == c.user_id]
    # b's mark covers a's messages: a hears of it, c (who sent none of them) does not.
    ws_b.send({"type": "mark_read", "conversation_id": conv, "up_to_seq": 4})
    ws_a.wait_type("receipt", lambda f: f["user_id"] == b.user_id and f["kind"] == "read")
    assert not [f for f in ws_c.drain(0.3)
                if f.get("type") == "receipt" and f["user_id"] == b.user_id]


@pytest.fixture(scope="module")
def slow_receipts_server(tmp_path_factory):
    # A 2 s receipt window, so that a burst of marks falls in one window however slow the build
    # (sanitizers) or the machine.
    srv = ParleyServer(tmp_path_factory.mktemp("groups_receipts") / "data",
                       ["--ws-receipt-window-ms", "2000"]).start()
    yield srv
    srv.stop()


def test_receipts_are_coalesced_per_window(slow_receipts_server):
    # The first receipt of a quiet spell leaves at once; the marks that follow within the window
    # leave as one frame with the highest up_to_seq when it ends.
    api = Api(slow_receipts_server)
    a, c = make_user(api, slow_receipts_server), make_user(api, slow_receipts_server)
    g = create_group(a, [c])
    conv = g["conversation_id"]
    ws_a, ws_c = a.ws(), c.ws()
    for i in range(3):
        a.send(conversation_id=conv, body=f"m{i}")  # seqs 2, 3, 4
    for seq in (2, 3, 4):
        ws_c.send({"type": "mark_delivered", "conversation_id": conv, "up_to_seq": seq,
                   "ref": f"m{seq}"})
    for seq in (2, 3, 4):  # all three marks were taken before the window ends
        ws_c.wait_type("ack", lambda f, r=f"m{seq}": f.get("ref") == r)
    first = ws_a.wait_type("receipt", lambda f: f["user_id"] == c.user_id)
    assert first["up_to_seq"] == 2
    last = ws_a.wait_type("receipt", lambda f: f["user_id"] == c.user_id, timeout=5)
    assert last["up_to_seq"] == 4, "the marks within the window were not coalesced"
    assert not [f for f in ws_a.drain(2.5)
                if f.get("type") == "receipt" and f["user_id"] == c.user_id]


def test_late_joiner_sees_history_only_from_joining(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b])
    conv = g["conversation_id"]
    a.send(conversation_id=conv, body="before c 1")
    b.send(conversation_id=conv, body="before c 2")
    add(a, g, c)
    hist = c.full_history(conv)
    assert events(hist) == [("member_added", c.user_id)] and text_bodies(hist) == []
    assert [m["seq"] for m in hist] == [4]
    pend = pending_messages(c, conv)
    assert [m["seq"] for m in pend] == [4]
    ws = c.ws()
    ws.wait_for(is_message(conv))  # the replayed member_added
    a.send(conversation_id=conv, body="welcome c")
    assert msg_of(ws.wait_for(is_message(conv, "welcome c")))["seq"] == 5
    c.send(conversation_id=conv, body="thanks")
    assert text_bodies(c.full_history(conv)) == ["welcome c", "thanks"]
    assert text_bodies(b.full_history(conv)) == ["before c 1", "before c 2", "welcome c", "thanks"]
    conv_c = next(x for x in expect_status(c.get("/v1/conversations"), 200)["conversations"]
                  if x["conversation_id"] == conv)
    assert conv_c["last_seq"] == 6


def test_removed_member_gets_nothing_new(new_user):
    a, b, c = new_user(), new_user(), new_user()
    g = create_group(a, [b, c])
    conv = g["conversation_id"]
    a.send(conversation_id=conv, body="while c is in")
    expect_status(c.post("/v1/mark-delivered", {"conversation_id": conv, "up_to_seq": 2}), 204)
    ws = c.ws()
    remove(a, g, c)
    # c hears about its removal: the system message and a group frame without it.
    removal = msg_of(ws.wait_for(is_message(conv)))
    assert json.loads(removal["body"])["event"] == "member_removed" and removal["seq"] == 3
    frame = ws.wait_for(is_group_frame(g["group_id"]))
    assert c.user_id not in member_ids(frame["group"])
    a.send(conversation_id=conv, body="after c left")
    b.send(conversation_id=conv, body="also after")
    assert not [f for f in ws.drain(0.5) if is_message(conv)(f)]
    assert [m["seq"] for m in pending_messages(c, conv)] == [3]
    hist = c.full_history(conv)
    assert [m["seq"] for m in hist] == [1, 2, 3]
    assert "after c left" not in text_bodies(hist)
    assert_error(c.post("/v1/send-message", {"conversation_id": conv, "client_msg_id": "x",
                                             "body": "let me in"}), 403)
    ws.send({"type": "send", "ref": "r", "conversation_id": conv, "client_msg_id": "y",
             "body": "let me in"})
    err = ws.wait_type("error", lambda f: f.get("ref") == "r")
    assert err["error"]["code"] == "forbidden"
    get_group(c, g["group_id"], expect=403)
    conv_c = next(x for x in expect_status(c.get("/v1/conversations"), 200)["conversations"]
                  if x["conversation_id"] == conv)
    assert conv_c["member"] is False and conv_c["last_seq"] == 3
    # A fresh connection replays nothing newer either.
    ws2 = c.ws()
    assert not [f for f in ws2.drain(0.5) if is_message(conv)(f) and msg_of(f)["seq"] > 3]


def test_rejoining_reopens_membership_from_the_rejoin(new_user):
    a, b = new_user(), new_user()
    g = create_group(a, [b])
    conv = g["conversation_id"]
    remove(a, g, b)
    a.send(conversation_id=conv, body="while b is out")
    g = add(a, g, b)
    assert member_ids(g) == [a.user_id, b.user_id]
    hist = b.full_history(conv)
    assert events(hist) == [("member_added", b.user_id)]
    assert "while b is out" not in text_bodies(pending_messages(b, conv))
    b.send(conversation_id=conv, body="back")
    assert text_bodies(a.full_history(conv)) == ["while b is out", "back"]


def test_group_frames_tell_members_about_changes(new_user):
    a, b, c = new_user(), new_user(), new_user()
    ws_b = b.ws()
    g = create_group(a, [b])
    f = ws_b.wait_for(is_group_frame(g["group_id"]))
    assert f["event"] == "created" and f["group"] == g
    g2 = add(a, g, c)
    f = ws_b.wait_for(is_group_frame(g["group_id"]))
    assert f["event"] == "updated" and f["group"] == g2
    ws_c = c.ws()
    g3 = update(a, g, name="Renamed")
    for ws in (ws_b, ws_c):
        assert ws.wait_for(is_group_frame(g["group_id"]))["group"] == g3
    add(a, g, c)  # no change, no frame
    assert not [x for x in ws_b.drain(0.3) if is_group_frame(g["group_id"])(x)]


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"member_ids": []},
    {"name": "", "member_ids": []},
    {"name": "x" * 101, "member_ids": []},
    {"name": 5, "member_ids": []},
    {"name": "ok"},
    {"name": "ok", "member_ids": "nope"},
    {"name": "ok", "member_ids": ["not-a-uuid"]},
    {"name": "ok", "member_ids": [5]},
    [],
    "just a string",
])
def test_create_group_bad_input_is_400(new_user, body):
    a = new_user()
    assert_error(a.post("/v1/create-group", body), 400)


def test_create_group_name_limits_and_malformed_json(new_user):
    a = new_user()
    g = create_group(a, [], name="é" * 50)  # 100 bytes
    assert g["name"] == "é" * 50
    assert_error(a.post("/v1/create-group", {"name": "é" * 51, "member_ids": []}), 400)
    r = a.api.request("POST", "/v1/create-group", token=a.access_token, data=b"{not json",
                      headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert_error(a.api.post("/v1/create-group", {"name": "x", "member_ids": []}), 401)


def test_edit_bad_input_is_400(new_user):
    a, b = new_user(), new_user()
    g = create_group(a, [b])
    gid = g["group_id"]
    bad = [
        ("/v1/add-member", {"user_id": b.user_id}),
        ("/v1/add-member", {"group_id": "nope", "user_id": b.user_id}),
        ("/v1/add-member", {"group_id": gid}),
        ("/v1/add-member", {"group_id": gid, "user_id": b.user_id, "role": "owner"}),
        ("/v1/add-member", {"group_id": gid, "user_id": b.user_id, "role": "king"}),
        ("/v1/add-member", {"group_id": gid, "user_id": b.user_id, "role": 1}),
        ("/v1/remove-member", {"group_id": gid}),
        ("/v1/remove-member", {"group_id": gid, "user_id": 7}),
        ("/v1/update-group", {"group_id": gid}),
        ("/v1/update-group", {"group_id": gid, "name": ""}),
        ("/v1/update-group", {"group_id": gid, "name": "x" * 101}),
        ("/v1/update-group", {"group_id": gid, "roles": []}),
        ("/v1/update-group", {"group_id": gid, "roles": {"not-a-uuid": "admin"}}),
        ("/v1/update-group", {"group_id": gid, "roles": {b.user_id: "king"}}),
        ("/v1/update-group", {"group_id": gid, "roles": {b.user_id: None}}),
        ("/v1/update-group", {"group_id": gid, "roles": {b.user_id: "admin",
                                                           b.user_id.upper(): "member"}}),
    ]
    for path, body in bad:
        r = a.post(path, body)
        assert r.status_code == 400, (path, body, r.status_code, r.text)
        assert_error(r, 400)
    r = a.post("/v1/update-group", {"group_id": gid, "roles": {str(uuid.uuid4()): "admin"}})
    assert_error(r, 404)
    r = a.post("/v1/update-group", {"group_id": str(uuid.uuid4()), "name": "x"})
    assert_error(r, 404)
    assert get_group(a, gid) == g


# --- the member limit (own server) ------------------------------------------------------------

@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    srv = ParleyServer(tmp_path_factory.mktemp("groups_small") / "data",
                       ["--max-group-members", "3"]).start()
    yield srv
    srv.stop()


def test_member_limit_is_409(small_server):
    api = Api(small_server)
    a, b, c, d = (make_user(api, small_server) for _ in range(4))
    assert_error(a.post("/v1/create-group", {"name": "big", "member_ids": [b.user_id, c.user_id,
                                                                            d.user_id]}), 409)
    g = create_group(a, [b, c])
    assert len(g["members"]) == 3
    add(a, g, d, expect=409)
    assert add(a, g, c) == g  # adding a member twice is still fine at the limit
    remove(c, g, c)
    g = add(a, g, d)
    assert member_ids(g) == [a.user_id, b.user_id, d.user_id]
    assert small_server.alive()


def test_concurrent_adds_never_pass_the_limit(small_server):
    api = Api(small_server)
    a, b = make_user(api, small_server), make_user(api, small_server)
    others = [make_user(api, small_server) for _ in range(4)]
    g = create_group(a, [b])
    with ThreadPoolExecutor(len(others)) as pool:
        answers = list(pool.map(lambda u: Api(small_server).post(
            "/v1/add-member", {"group_id": g["group_id"], "user_id": u.user_id},
            token=a.access_token), others))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409)
    assert len(get_group(a, g["group_id"])["members"]) == 3
