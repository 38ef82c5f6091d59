"""Search: GET /v1/search-messages over the real binary. Indexing is asynchronous, so every
positive expectation polls until the index has caught up (bounded), and negative expectations are
checked after a positive one proved that the messages before it were indexed."""
import uuid

import pytest

from conftest import (Api, ParleyServer, User, assert_error, expect_status, login, make_user,
                      poll)

SEARCH = "/v1/search-messages"
MESSAGE_FIELDS = {"message_id", "conversation_id", "seq", "sender_id", "sender_device_id",
                  "created_at", "content_type", "encryption", "body", "media_ids", "reply_to"}


def search(user, q, **params):
    return expect_status(user.get(SEARCH, params={"q": q, **params}), 200)["results"]


def bodies(results):
    return [m["body"] for m in results]


def search_until(user, q, want_count, timeout=10.0, **params):
    """Polls until the search returns exactly `want_count` results; returns them."""
    return poll(lambda: (lambda r: r if len(r) == want_count else None)(search(user, q, **params)),
                timeout=timeout, what=f"{want_count} result(s) for {q!r}")


def unique_word(prefix="w"):
    """A word no other test uses (letters only, so it is one token)."""
    return prefix + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def send_sealed(user, to, body, tokens):
    return user.send(to=to, body=body, encryption="e2ee-v1", search_tokens=tokens)


# --- matching -----------------------------------------------------------------------------------

def test_both_members_of_a_direct_chat_find_its_messages(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    first = a.send(to=b, body=f"hello {w} from a")
    second = b.send(to=a, body=f"{w} back from b")
    for user in (a, b):
        results = search_until(user, w, 2)
        assert [m["message_id"] for m in results] == [second["message_id"], first["message_id"]]
        for m in results:
            assert set(m) >= MESSAGE_FIELDS, m
            assert m["conversation_id"] == first["conversation_id"]
            assert m["encryption"] == "none"
        assert results[1]["body"] == f"hello {w} from a"
        assert results[1]["sender_id"] == a.user_id


def test_every_word_must_match_and_the_last_is_also_a_prefix(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    a.send(to=b, body=f"{w} quick brown fox")
    a.send(to=b, body=f"{w} quick red fox")
    a.send(to=b, body=f"{w} slow brownish dog")
    search_until(a, w, 3)
    assert bodies(search(a, f"{w} quick brown")) == [f"{w} quick brown fox"]
    assert bodies(search(a, f"{w} fox quick")) == [f"{w} quick red fox", f"{w} quick brown fox"]
    assert bodies(search(a, f"{w} brown")) == [f"{w} slow brownish dog", f"{w} quick brown fox"]
    assert bodies(search(a, f"{w} bro")) == [f"{w} slow brownish dog", f"{w} quick brown fox"]
    assert search(a, f"{w} bro fox") == []  # only the last word is a prefix
    assert search(a, f"{w} quick cat") == []
    assert bodies(search(a, f"{w[:6]}")) != []  # the query word itself as a prefix


def test_case_and_diacritics_are_folded(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    a.send(to=b, body=f"{w} Ünïcode Crème BRÛLÉE ПРИВЕТ")
    search_until(a, w, 1)
    for q in ("unicode", "UNICODE", "ünïcode", "creme brulee", "CRÈME", "привет", "brul"):
        assert bodies(search(a, f"{w} {q}")) == [f"{w} Ünïcode Crème BRÛLÉE ПРИВЕТ"], q
    assert search(a, f"{w} unicodes") == []


def test_newest_first_and_limit(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    sent = [a.send(to=b, body=f"{w} number {i}") for i in range(5)]
    results = search_until(a, w, 5)
    assert [m["seq"] for m in results] == sorted((s["seq"] for s in sent), reverse=True)
    assert [m["created_at"] for m in results] == sorted((m["created_at"] for m in results),
                                                        reverse=True)
    two = search(a, w, limit=2)
    assert [m["message_id"] for m in two] == [sent[4]["message_id"], sent[3]["message_id"]]
    assert len(search(a, w, limit=200)) == 5


def test_default_limit_is_fifty(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    for i in range(52):
        a.send(to=b, body=f"{w} {i}")
    search_until(a, w, 50, timeout=20)
    assert len(search(a, w, limit=200)) == 52


# --- who sees what ------------------------------------------------------------------------------

def test_conversation_filter_and_strangers(new_user):
    a, b, c, stranger = new_user(), new_user(), new_user(), new_user()
    w = unique_word()
    ab = a.send(to=b, body=f"{w} for b")["conversation_id"]
    ac = a.send(to=c, body=f"{w} for c")["conversation_id"]
    search_until(a, w, 2)
    assert bodies(search(a, w, conversation_id=ab)) == [f"{w} for b"]
    assert bodies(search(a, w, conversation_id=ac.upper())) == [f"{w} for c"]
    assert bodies(search_until(b, w, 1)) == [f"{w} for b"]
    assert bodies(search_until(c, w, 1)) == [f"{w} for c"]
    assert search(stranger, w) == []
    # Never members: as if the conversation did not exist (docs/api.md).
    assert_error(c.get(SEARCH, params={"q": w, "conversation_id": ab}), 404)
    assert_error(stranger.get(SEARCH, params={"q": w, "conversation_id": ab}), 404)
    assert_error(a.get(SEARCH, params={"q": w, "conversation_id": str(uuid.uuid4())}), 404)


def test_group_members_see_only_their_membership_range(new_user):
    owner, late, leaver = new_user(), new_user(), new_user()
    group = expect_status(owner.post("/v1/create-group", {"name": "search group",
                                                          "member_ids": [leaver.user_id]}), 201)
    conv = group["conversation_id"]
    w = unique_word()
    owner.send(conversation_id=conv, body=f"{w} before late joined")
    expect_status(owner.post("/v1/add-member", {"group_id": group["group_id"],
                                                "user_id": late.user_id}), 200)
    owner.send(conversation_id=conv, body=f"{w} while all three")
    expect_status(owner.post("/v1/remove-member", {"group_id": group["group_id"],
                                                   "user_id": leaver.user_id}), 200)
    owner.send(conversation_id=conv, body=f"{w} after leaver left")
    assert bodies(search_until(owner, w, 3)) == [f"{w} after leaver left", f"{w} while all three",
                                                 f"{w} before late joined"]
    assert bodies(search(late, w)) == [f"{w} after leaver left", f"{w} while all three"]
    assert bodies(search(leaver, w)) == [f"{w} while all three", f"{w} before late joined"]
    assert bodies(search(leaver, w, conversation_id=conv)) == [f"{w} while all three",
                                                               f"{w} before late joined"]
    # The member changes appear as system messages, which are not indexed.
    system = [m for m in owner.full_history(conv) if m["content_type"] == "system"]
    assert any("member_added" in m["body"] for m in system), system
    assert search(owner, "member_added") == []


# --- end-to-end encrypted messages --------------------------------------------------------------

def test_encrypted_messages_are_found_only_by_their_tokens(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    token = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    other = uuid.uuid4().hex
    sealed = send_sealed(a, b, f"{w} looks like words but is ciphertext", [token, other])
    a.send(to=b, body=f"{w} plain marker")  # indexed after the sealed one
    assert bodies(search_until(a, w, 1)) == [f"{w} plain marker"]
    assert search(a, "ciphertext") == []
    results = search_until(b, token, 1)
    assert results[0]["message_id"] == sealed["message_id"]
    assert results[0]["encryption"] == "e2ee-v1"
    assert results[0]["search_tokens"] == [token, other]
    assert [m["message_id"] for m in search(a, f"{other} {token}")] == [sealed["message_id"]]
    assert [m["message_id"] for m in search(a, token.upper())] == [sealed["message_id"]]
    assert search(a, token[:16]) == []  # a token matches whole, never as a prefix
    assert search(a, f"{token} {w}") == []  # the body's words are never indexed


# --- bad input ----------------------------------------------------------------------------------

def test_query_syntax_in_input_is_only_words(new_user):
    a, b = new_user(), new_user()
    w = unique_word()
    a.send(to=b, body=f"{w} foo baz")
    a.send(to=b, body=f"{w} foo or bar")
    a.send(to=b, body=f"{w} near foo bar")
    search_until(a, w, 3)
    assert bodies(search(a, f"{w} foo OR bar")) == [f"{w} foo or bar"]
    assert bodies(search(a, f"{w} NEAR(foo bar)")) == [f"{w} near foo bar"]
    assert search(a, f"{w} NOT baz") == []
    for q in (f'"{w}', f"{w}*", f"-{w}", f"^{w}", f"({w})", f"{w} AND", f'{w}" OR "x',
              f"w : {w}", f"{{w k}} : {w}", f"c : {w}", f"{w} :", f"{w} + foo"):
        r = a.get(SEARCH, params={"q": q})
        assert r.status_code == 200, (q, r.text)
        assert all(w in m["body"] for m in r.json()["results"]), q


@pytest.mark.parametrize("params", [
    {},
    {"q": ""},
    {"q": "   "},
    {"q": "***"},
    {"q": '"" () : -'},
    {"q": "x" * 257},
    {"q": " ".join(f"w{i}" for i in range(17))},
    {"q": "hello", "limit": "0"},
    {"q": "hello", "limit": "201"},
    {"q": "hello", "limit": "ten"},
    {"q": "hello", "limit": "-1"},
    {"q": "hello", "conversation_id": "not-a-uuid"},
    {"q": "hello", "conversation_id": ""},
])
def test_bad_input_is_400(new_user, params):
    a = new_user()
    assert_error(a.get(SEARCH, params=params), 400)


def test_invalid_utf8_is_400_and_limits_at_the_edge_are_fine(new_user, api):
    a = new_user()
    r = api.get(SEARCH + "?q=%FF%FEabc", token=a.access_token)
    assert_error(r, 400)
    r = api.get(SEARCH + "?q=%C3", token=a.access_token)
    assert_error(r, 400)
    assert expect_status(a.get(SEARCH, params={"q": "y" * 256}), 200)["results"] == []
    assert expect_status(a.get(SEARCH, params={"q": " ".join(f"w{i}" for i in range(16))}),
                         200)["results"] == []
    assert expect_status(a.get(SEARCH, params={"q": "hello", "limit": "200"}), 200)["results"] == []


def test_requires_authentication(api):
    assert_error(api.get(SEARCH, params={"q": "hello"}), 401)
    assert_error(api.get(SEARCH, params={"q": "hello"}, token="not-a-token"), 401)


# --- rebuilding ---------------------------------------------------------------------------------

def test_a_lost_index_is_rebuilt_from_the_message_store(tmp_path):
    """search.db is derived data: deleted (or behind after a crash), it is caught up from the
    message store in the background at start."""
    srv = ParleyServer(tmp_path / "data").start()
    try:
        api = Api(srv)
        a, b = make_user(api, srv), make_user(api, srv)
        w = unique_word()
        for i in range(30):
            a.send(to=b, body=f"{w} message {i}")
        send_sealed(a, b, "ciphertext", ["abcdef0123456789"])
        assert len(search_until(a, w, 30, limit=200)) == 30
        assert srv.stop() == 0
        for f in srv.data_dir.glob("search.db*"):
            f.unlink()
        srv.start()
        a = User(api, srv, a.username, a.password,
                 login(api, a.username, a.password, device_id=a.device_id))
        results = search_until(a, w, 30, limit=200)
        assert [m["body"] for m in results] == [f"{w} message {i}" for i in reversed(range(30))]
        assert len(search_until(a, "abcdef0123456789", 1)) == 1
        # And it keeps indexing what arrives after the rebuild.
        a.send(to=b, body=f"{w} after the rebuild")
        assert search_until(a, w, 31, limit=200)[0]["body"] == f"{w} after the rebuild"
    finally:
        srv.stop()
