"""Authorization matrix: every endpoint that touches an object × every kind of object × every
kind of caller that must not reach it, table-driven.

Callers (`ACTORS`): an outsider who never belonged; a member removed from the group before the
secrets were sent; a late joiner (added after them: sees the group only from the point of
joining); another user's device (user B's token on user A's own objects); and a revoked device
(its token, even on objects its user may see). Objects: a direct conversation, a group, a "note to
self" conversation, their messages, media named in them and an unnamed upload, alice's device,
presence, notifications, the admin endpoints.

Each cell names the status docs/api.md gives (404 for a conversation one never belonged to, as
for one that does not exist: a direct conversation's id is computable, and a 403 would tell
whether two users ever talked; 403 for a former member's send; 404 for a message or media one
cannot see so that existence is not revealed, 401 for a revoked token, 200 with the forbidden
part left out for lists and filtered reads) and checks that the
answer carries none of the caller's secrets — bodies, message ids, media ids, conversation ids it
has no way of knowing — unless the caller put that string in the request itself. A cell is
"denied" when both hold. The figure (cells checked, denied) is recorded for docs/reliability.md.
"""
import json
import secrets as pysecrets
import uuid

import pytest
import websocket

from conftest import WS, User, expect_status, frame_error_code, login, poll, record_figure, signup

ADMIN = "authz_admin"

ACTORS = ["outsider", "removed", "late_joiner", "other_users_device", "revoked_device"]
TALLY = {"checked": 0, "denied": 0, "not_applicable": 0, "failures": []}


def upload(user, data, content_type="application/octet-stream"):
    r = user.api.request("POST", "/v1/upload", token=user.access_token, data=data,
                         headers={"Content-Type": content_type})
    return expect_status(r, 201)


class World:
    """alice owns everything; the actors try to reach it."""

    def __init__(self, api, server):
        self.api, self.server = api, server
        self.tag = "zq" + pysecrets.token_hex(5)     # one search word unique to this run
        mk = lambda p: _user(api, server, p)  # noqa: E731
        self.alice, self.bob = mk("az_alice"), mk("az_bob")
        carol, dave, erin, frank = mk("az_carol"), mk("az_dave"), mk("az_erin"), mk("az_frank")
        _, pw, _ = signup(api, ADMIN)
        server.grant_admin(ADMIN)
        self.admin = User(api, server, ADMIN, pw, login(api, ADMIN, pw))
        revoked = self.bob.new_device("to be revoked")

        a = self.alice
        self.body = {}
        self.msg = {}
        self.media = {}
        # Media: one named in the direct chat, one in the group after dave left and before erin
        # joined, one in the note to self, one never named anywhere.
        for k in ("direct", "group", "note", "private"):
            self.media[k] = upload(a, f"media {k} {pysecrets.token_hex(8)}".encode())
        # Direct conversation alice–bob.
        self.body["direct"] = f"topsecret {self.tag} direct {pysecrets.token_hex(6)}"
        m = a.send(to=self.bob, body=self.body["direct"],
                   media_ids=[self.media["direct"]["media_id"]])
        self.conv_direct = m["conversation_id"]
        self.msg["direct"] = m["message_id"]
        # Group: alice, bob, dave. g1 (dave sees it), dave removed, g2 (nobody new sees it),
        # erin added, g3 (erin sees it, dave does not).
        g = expect_status(a.post("/v1/create-group", {"name": "authz group",
                                                      "member_ids": [self.bob.user_id,
                                                                     dave.user_id]}), 201)
        self.group_id, self.conv_group = g["group_id"], g["conversation_id"]
        for k in ("g1", "g2", "g3"):
            self.body[k] = f"topsecret {self.tag} {k} {pysecrets.token_hex(6)}"
        self.msg["g1"] = a.send(conversation_id=self.conv_group, body=self.body["g1"])["message_id"]
        expect_status(a.post("/v1/remove-member", {"group_id": self.group_id,
                                                   "user_id": dave.user_id}), 200)
        self.msg["g2"] = a.send(conversation_id=self.conv_group, body=self.body["g2"],
                                media_ids=[self.media["group"]["media_id"]])["message_id"]
        expect_status(a.post("/v1/add-member", {"group_id": self.group_id,
                                                "user_id": erin.user_id}), 200)
        self.msg["g3"] = a.send(conversation_id=self.conv_group, body=self.body["g3"])["message_id"]
        # Note to self.
        self.body["note"] = f"topsecret {self.tag} note {pysecrets.token_hex(6)}"
        n = a.send(to=a, body=self.body["note"], media_ids=[self.media["note"]["media_id"]])
        self.conv_note, self.msg["note"] = n["conversation_id"], n["message_id"]
        # A to-device message and a notification for alice's and bob's eyes only.
        self.body["to_device"] = f"topsecret to-device {pysecrets.token_hex(6)}"
        expect_status(a.post("/v1/send-to-device", {"messages": {self.bob.user_id: {
            self.bob.device_id: self.body["to_device"]}}}), 202)
        self.body["notification"] = f"topsecret notice {pysecrets.token_hex(6)}"
        expect_status(self.admin.post("/v1/send-notification", {
            "user_id": a.user_id, "title": self.body["notification"], "body": "x"}), 202)
        expect_status(self.bob.delete(f"/v1/devices/{revoked.device_id}"), 204)

        self.actors = {"outsider": carol, "removed": dave, "late_joiner": erin,
                       "other_users_device": frank, "revoked_device": revoked}
        self.group_before = self.group_state()
        # Search is indexed asynchronously: wait until alice finds all five, so that a filtered
        # answer means filtered, not "not indexed yet".
        poll(lambda: len(expect_status(a.get("/v1/search-messages", params={
            "q": self.tag}), 200)["results"]) >= 5, timeout=20, what="search index caught up")

    def group_state(self):
        g = expect_status(self.alice.get(f"/v1/groups/{self.group_id}"), 200)
        return g["name"], sorted((m["user_id"], m["role"]) for m in g["members"])

    def secrets_of(self, actor):
        """What `actor` must never see: bodies, message/media/conversation ids it cannot know."""
        everything = {
            "direct": [self.body["direct"], self.msg["direct"], self.media["direct"]["media_id"],
                       self.conv_direct],
            "g1": [self.body["g1"], self.msg["g1"]],
            "g2": [self.body["g2"], self.msg["g2"], self.media["group"]["media_id"]],
            "g3": [self.body["g3"], self.msg["g3"]],
            "group": [self.conv_group, self.group_id],
            "note": [self.body["note"], self.msg["note"], self.media["note"]["media_id"],
                     self.conv_note],
            "private": [self.media["private"]["media_id"]],
            "to_device": [self.body["to_device"]],
            "notification": [self.body["notification"]],
            "erin": [self.actors["late_joiner"].user_id],
        }
        known = {"removed": {"g1", "group"}, "late_joiner": {"g3", "group", "erin"}}.get(actor, set())
        if actor == "removed":
            pass            # dave never learns that erin joined: "erin" stays secret to him
        return [s for k, v in everything.items() if k not in known for s in v]


def _user(api, server, prefix):
    from conftest import make_user
    return make_user(api, server, prefix)


@pytest.fixture(scope="module")
def world(api, server):
    return World(api, server)


# --- the table ----------------------------------------------------------------------------------
# A cell: (endpoint, object, {actor: expected}), expected = the one status docs/api.md gives, or
# None where that actor may legitimately do it (not applicable). A cell is denied only by a
# refusal (401, 403 or 404, with the matching error body) or by a 200 read with the forbidden part
# left out; any other success (201, 202, 204: the request did something) is never a denial. The
# request is a function (world, caller) -> Response.

FORBIDDEN, NOT_FOUND, OK = 403, 404, 200
DENIALS = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}


def by_actor(outsider, removed, late, other, revoked=401):
    return {"outsider": outsider, "removed": removed, "late_joiner": late,
            "other_users_device": other, "revoked_device": revoked}


def history(conv_attr, **params):
    return lambda w, u: u.get("/v1/get-chat-history",
                              params={"conversation_id": getattr(w, conv_attr), **params})


def status_of(key):
    return lambda w, u: u.get("/v1/message-status", params={"message_id": w.msg[key]})


def mark(kind, conv_attr):
    return lambda w, u: u.post(f"/v1/mark-{kind}", {"conversation_id": getattr(w, conv_attr),
                                                   "up_to_seq": 1000})


def send(conv_attr):
    return lambda w, u: u.post("/v1/send-message", {
        "conversation_id": getattr(w, conv_attr), "client_msg_id": str(uuid.uuid4()),
        "body": "intruder", "encryption": "none"})


def search(conv_attr=None):
    def run(w, u):
        params = {"q": w.tag}
        if conv_attr:
            params["conversation_id"] = getattr(w, conv_attr)
        return u.get("/v1/search-messages", params=params)
    return run


def download(key, variant=None, meta=False):
    def run(w, u):
        mid = w.media[key]["media_id"]
        if meta:
            return u.get(f"/v1/media/{mid}")
        return u.get(f"/v1/download/{mid}", params={"variant": variant} if variant else None)
    return run


def group_op(op):
    def run(w, u):
        gid = w.group_id
        if op == "get":
            return u.get(f"/v1/groups/{gid}")
        if op == "add":
            return u.post("/v1/add-member", {"group_id": gid, "user_id": u.user_id})
        if op == "add_other":
            return u.post("/v1/add-member", {"group_id": gid,
                                             "user_id": w.actors["outsider"].user_id})
        if op == "remove":
            return u.post("/v1/remove-member", {"group_id": gid, "user_id": w.bob.user_id})
        if op == "rename":
            return u.post("/v1/update-group", {"group_id": gid, "name": "pwned"})
        if op == "promote_self":
            return u.post("/v1/update-group", {"group_id": gid, "roles": {u.user_id: "owner"}})
        raise AssertionError(op)
    return run


CELLS = [
    # conversations: history (both paging directions), marks, sends, search
    ("get-chat-history", "direct", history("conv_direct"), by_actor(404, 404, 404, 404)),
    ("get-chat-history", "group", history("conv_group"), by_actor(404, OK, OK, 404)),
    ("get-chat-history after_seq=0", "group", history("conv_group", after_seq=0),
     by_actor(404, OK, OK, 404)),
    ("get-chat-history before_seq=1000", "group", history("conv_group", before_seq=1000),
     by_actor(404, OK, OK, 404)),
    ("get-chat-history", "note", history("conv_note"), by_actor(404, 404, 404, 404)),
    ("mark-delivered", "direct", mark("delivered", "conv_direct"), by_actor(404, 404, 404, 404)),
    # A former member may still clear the unread count of what they saw (204): checked on its own
    # below (test_former_member_marks_stay_within_their_range); here, those who never belonged.
    ("mark-delivered", "group", mark("delivered", "conv_group"), by_actor(404, None, None, 404)),
    ("mark-delivered", "note", mark("delivered", "conv_note"), by_actor(404, 404, 404, 404)),
    ("mark-read", "direct", mark("read", "conv_direct"), by_actor(404, 404, 404, 404)),
    ("mark-read", "group", mark("read", "conv_group"), by_actor(404, None, None, 404)),
    ("mark-read", "note", mark("read", "conv_note"), by_actor(404, 404, 404, 404)),
    ("send-message", "direct", send("conv_direct"), by_actor(404, 404, 404, 404)),
    ("send-message", "group", send("conv_group"), by_actor(404, 403, None, 404)),
    ("send-message", "note", send("conv_note"), by_actor(404, 404, 404, 404)),
    ("search conversation_id", "direct", search("conv_direct"), by_actor(404, 404, 404, 404)),
    ("search conversation_id", "group", search("conv_group"), by_actor(404, OK, OK, 404)),
    ("search conversation_id", "note", search("conv_note"), by_actor(404, 404, 404, 404)),
    ("search (all conversations)", "all", search(), by_actor(OK, OK, OK, OK)),
    # messages
    ("message-status", "direct msg", status_of("direct"), by_actor(404, 404, 404, 404)),
    ("message-status", "group msg before removal/joining", status_of("g1"),
     by_actor(404, None, 404, 404)),
    ("message-status", "group msg between", status_of("g2"), by_actor(404, 404, 404, 404)),
    ("message-status", "group msg after joining", status_of("g3"), by_actor(404, 404, None, 404)),
    ("message-status", "note msg", status_of("note"), by_actor(404, 404, 404, 404)),
    # pending and lists: 200, nothing foreign in them
    ("get-messages", "own queue", lambda w, u: u.get("/v1/get-messages"), by_actor(OK, OK, OK, OK)),
    ("conversations", "own list", lambda w, u: u.get("/v1/conversations"), by_actor(OK, OK, OK, OK)),
    # groups
    ("groups get", "group", group_op("get"), by_actor(403, 403, None, 403)),
    ("add-member self", "group", group_op("add"), by_actor(403, 403, None, 403)),
    ("add-member other", "group", group_op("add_other"), by_actor(403, 403, 403, 403)),
    ("remove-member", "group", group_op("remove"), by_actor(403, 403, 403, 403)),
    ("update-group name", "group", group_op("rename"), by_actor(403, 403, 403, 403)),
    ("update-group roles", "group", group_op("promote_self"), by_actor(403, 403, 403, 403)),
    # media by token
    ("download", "media in direct chat", download("direct"), by_actor(404, 404, 404, 404)),
    ("download", "media in group between", download("group"), by_actor(404, 404, 404, 404)),
    ("download", "media in note", download("note"), by_actor(404, 404, 404, 404)),
    ("download", "unnamed upload", download("private"), by_actor(404, 404, 404, 404)),
    ("download thumbnail", "unnamed upload", download("private", "thumbnail"),
     by_actor(404, 404, 404, 404)),
    ("media metadata", "media in group between", download("group", meta=True),
     by_actor(404, 404, 404, 404)),
    ("media metadata", "unnamed upload", download("private", meta=True),
     by_actor(404, 404, 404, 404)),
    # devices, to-device
    # openapi.yaml: a device that is not an active device of the caller is 404.
    ("DELETE devices/{id}", "alice's device", lambda w, u: u.delete(
        f"/v1/devices/{w.alice.device_id}"), by_actor(404, 404, 404, 404)),
    ("send-to-device", "alice's device under another user", lambda w, u: u.post(
        "/v1/send-to-device", {"messages": {w.bob.user_id: {w.alice.device_id: "x"}}}),
     by_actor(404, 404, 404, 404)),
    ("send-to-device", "bob's revoked device", lambda w, u: u.post(
        "/v1/send-to-device", {"messages": {w.bob.user_id: {
            w.actors["revoked_device"].device_id: "x"}}}), by_actor(404, 404, 404, 404)),
    # presence: alice shares no current conversation with these callers (erin shares the group)
    ("get-status", "alice's presence", lambda w, u: u.get(
        "/v1/get-status", params={"user_ids": w.alice.user_id}), by_actor(OK, OK, None, OK)),
    # notifications and admin
    ("notifications", "own list", lambda w, u: u.get("/v1/notifications"), by_actor(OK, OK, OK, OK)),
    ("admin audit", "audit log", lambda w, u: u.get("/v1/admin/audit"), by_actor(403, 403, 403, 403)),
    ("send-notification", "alice", lambda w, u: u.post("/v1/send-notification", {
        "user_id": w.alice.user_id, "title": "phish", "body": "x"}), by_actor(403, 403, 403, 403)),
]


def filtered_ok(w, actor, name, resp):
    """For a 200 the caller may get: the parts it must not see are absent. (The generic check on
    the raw text below covers that too; this checks the shape so that an empty answer is not
    mistaken for a filtered one.)"""
    body = resp.json()
    if name.startswith("get-chat-history") or name.startswith("search"):
        items = body.get("messages", body.get("results"))
        assert isinstance(items, list), body
        ids = {m["message_id"] for m in items}
        visible = {"removed": {w.msg["g1"]}, "late_joiner": {w.msg["g3"]}}.get(actor, set())
        if name.startswith("get-chat-history") or name == "search conversation_id":
            # What the caller may see of the group is there: the filter is not "nothing".
            assert visible <= ids, f"{actor} lost sight of {visible - ids}"
    if name == "get-status":
        assert all(s["user_id"] != w.alice.user_id for s in body["statuses"]), body


def leaked(secrets, resp, request_text):
    text = resp.text
    return [s for s in secrets if s in text and s not in request_text]


def test_every_cell_expects_a_denial():
    for name, obj, _, expected in CELLS:
        for actor, want in expected.items():
            assert want is None or want == OK or want in DENIALS, (name, obj, actor, want)


def run_cell(w, actor, name, obj, request, expected):
    u = w.actors[actor]
    if expected is None:
        TALLY["not_applicable"] += 1
        return
    TALLY["checked"] += 1
    resp = request(w, u)
    req = resp.request
    request_text = (req.url or "") + (req.body.decode() if isinstance(req.body, bytes)
                                      else (req.body or ""))
    problems = []
    if resp.status_code != expected:
        problems.append(f"status {resp.status_code}, expected {expected}")
    elif resp.status_code in DENIALS:
        try:
            code = resp.json().get("error", {}).get("code")
        except ValueError:
            code = None
        if code != DENIALS[resp.status_code]:
            problems.append(f"not the error body of a {resp.status_code}: {resp.text[:200]}")
    elif resp.status_code == 200:
        try:
            filtered_ok(w, actor, name, resp)
        except AssertionError as e:
            problems.append(f"filtered answer wrong: {e}")
    bad = leaked(w.secrets_of(actor), resp, request_text)
    if bad:
        problems.append(f"leaked {bad}")
    if problems:
        TALLY["failures"].append(f"{name} / {obj} / {actor}: " + "; ".join(problems)
                                 + f" — {resp.text[:200]}")
    else:
        TALLY["denied"] += 1


def test_control_the_owner_sees_what_the_matrix_hides(world):
    # The harness can fail: the same requests by alice answer 200 with the secrets in them.
    a = world.alice
    for conv in ("conv_direct", "conv_group", "conv_note"):
        r = history(conv)(world, a)
        assert r.status_code == 200 and leaked(world.secrets_of("outsider"), r, "")
    for key in world.msg:
        assert status_of(key)(world, a).status_code == 200
    for key in world.media:
        assert download(key)(world, a).status_code == 200


@pytest.mark.parametrize("actor", ACTORS)
def test_http_matrix(world, actor):
    before = len(TALLY["failures"])
    for name, obj, request, expected in CELLS:
        run_cell(world, actor, name, obj, request, expected[actor])
    failures = TALLY["failures"][before:]
    assert not failures, f"{len(failures)} cells not denied:\n" + "\n".join(failures)
    # Nothing the denied requests tried changed the group, and alice's device still works.
    assert world.group_state() == world.group_before
    expect_status(world.alice.get("/v1/devices"), 200)


def test_former_member_marks_stay_within_their_range(world):
    # docs/api.md: a former member marks within what they saw. The mark itself succeeds (204: it
    # is not a denial, and is not counted as one); what is denied is its reach: the messages
    # after his removal do not count him as a recipient who delivered or read them.
    dave = world.actors["removed"]
    for kind in ("delivered", "read"):
        r = dave.post(f"/v1/mark-{kind}", {"conversation_id": world.conv_group, "up_to_seq": 1000})
        assert r.status_code == 204, r.text
    for key in ("g2", "g3"):
        TALLY["checked"] += 1
        st = expect_status(world.alice.get("/v1/message-status",
                                           params={"message_id": world.msg[key]}), 200)
        assert all(x["user_id"] != dave.user_id for x in st["receipts"]), st
        TALLY["denied"] += 1
    conv = [c for c in expect_status(dave.get("/v1/conversations"), 200)["conversations"]
            if c["conversation_id"] == world.conv_group]
    assert conv and conv[0]["member"] is False
    hist = expect_status(dave.get("/v1/get-chat-history", params={
        "conversation_id": world.conv_group}), 200)["messages"]
    assert conv[0]["read_seq"] <= max(m["seq"] for m in hist), (conv, hist[:1])


def _ws_send_answer(ws, conv):
    ref = str(uuid.uuid4())
    ws.send({"type": "send", "ref": ref, "conversation_id": conv,
             "client_msg_id": str(uuid.uuid4()), "body": "intruder", "encryption": "none"})
    return ws.wait_for(lambda f: f.get("ref") == ref, what="answer to send")


@pytest.mark.parametrize("actor", ["outsider", "removed", "late_joiner", "other_users_device"])
def test_websocket_sends_are_denied(world, actor):
    u = world.actors[actor]
    ws = u.ws()
    targets = {"direct": world.conv_direct, "group": world.conv_group, "note": world.conv_note}
    if actor == "late_joiner":
        del targets["group"]
    failures = []
    for obj, conv in targets.items():
        TALLY["checked"] += 1
        frame = _ws_send_answer(ws, conv)
        bad = leaked(world.secrets_of(actor), type("R", (), {"text": json.dumps(frame)}), conv)
        # A former member is refused (403); anyone else was never a member: 404, as if absent.
        want = "forbidden" if (actor, obj) == ("removed", "group") else "not_found"
        if frame.get("type") != "error" or frame_error_code(frame) != want or bad:
            failures.append(f"ws send / {obj} / {actor}: {frame}")
        else:
            TALLY["denied"] += 1
    # Whatever arrived on the socket (replay of its own pending) holds nothing foreign.
    frames = json.dumps(ws.seen + ws.drain(0.3))
    TALLY["checked"] += 1
    bad = [s for s in world.secrets_of(actor) if s in frames
           and s not in (world.conv_direct, world.conv_group, world.conv_note)]
    if bad:
        failures.append(f"ws frames / {actor}: leaked {bad}")
    else:
        TALLY["denied"] += 1
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("via_query", [False, True])
def test_revoked_device_websocket_is_401(world, server, via_query):
    TALLY["checked"] += 1
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WS.connect(server.ws_url, world.actors["revoked_device"].access_token, via_query=via_query)
    assert e.value.status_code == 401
    TALLY["denied"] += 1


def _with_query(url, **changes):
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    params.update(changes)
    return path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def test_signed_url_variants_are_denied(world, api):
    # Someone holding a signed link to one media (alice's unnamed upload, or one of their own)
    # bends it towards another: 403, and none of the other media's bytes.
    own = upload(world.actors["outsider"], b"carol's own file")
    link = world.media["private"]["url"]
    sig = link.split("sig=")[1]
    other_id = world.media["group"]["media_id"]
    variants = {
        "another media id, same signature": link.replace(world.media["private"]["media_id"],
                                                         other_id),
        "own link pointed at alice's media": own["url"].replace(own["media_id"], other_id),
        "thumbnail with the original's signature": _with_query(link, variant="thumbnail"),
        "expiry pushed out": _with_query(link, expires=str(int(link.split("expires=")[1]
                                                               .split("&")[0]) + 86400)),
        "signature truncated": _with_query(link, sig=sig[:-4]),
        "signature of another link": _with_query(link, sig=own["url"].split("sig=")[1]),
    }
    secret_bytes = [b"media group", b"media private"]
    failures = []
    for name, url in variants.items():
        for token in (None, world.actors["outsider"].access_token):
            TALLY["checked"] += 1
            r = api.get(url, token=token)
            if r.status_code != 403 or any(s in r.content for s in secret_bytes):
                failures.append(f"{name} (token={bool(token)}): {r.status_code} {r.text[:120]}")
            else:
                TALLY["denied"] += 1
    assert not failures, "\n".join(failures)


def test_matrix_figure():
    # Runs last in the module: the tally of every cell above.
    record_figure("authz_matrix", cells_checked=TALLY["checked"], cells_denied=TALLY["denied"],
                  not_applicable=TALLY["not_applicable"], not_denied=len(TALLY["failures"]))
    assert TALLY["checked"] > 200, TALLY
    assert TALLY["denied"] == TALLY["checked"], TALLY["failures"][:20]
