"""Bad input everywhere: malformed JSON, wrong types, missing fields, bad UUIDs, oversized
bodies, missing or bad Authorization. Always the right 4xx with the contract's error body, never
a 5xx, and the server stays up (checked after every test by conftest)."""
import json
import re
import uuid

import pytest

from conftest import (ERROR_CODES, assert_error, expect_status, make_user, new_client_msg_id,
                      raw_http, unique_username)

BAD_UUIDS = ["", "x", "not-a-uuid", "12345678-1234-1234-1234-1234567890", str(uuid.uuid4()) + "0",
             "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", 42, None, ["a"], {"a": 1}]


@pytest.fixture(scope="module")
def ctx(api, server):
    a = make_user(api, server, "bad_a")
    b = make_user(api, server, "bad_b")
    conv = a.send(to=b)["conversation_id"]
    return {"a": a, "b": b, "conv": conv}


def post_raw(user_or_api, path, data: bytes, content_type="application/json", method="POST"):
    api = getattr(user_or_api, "api", user_or_api)
    token = getattr(user_or_api, "access_token", None)
    return api.request(method, path, token=token, data=data,
                       headers={"Content-Type": content_type})


JSON_ENDPOINTS = [
    ("POST", "/v1/signup", False),
    ("POST", "/v1/login", False),
    ("POST", "/v1/refresh-token", False),
    ("POST", "/v1/send-message", True),
    ("POST", "/v1/mark-delivered", True),
    ("POST", "/v1/mark-read", True),
    ("POST", "/v1/send-to-device", True),
    ("POST", "/v1/update-status", True),
    ("PUT", "/v1/keys", True),
]

MALFORMED = [b"", b"{", b'{"a":', b"not json", b"[]", b"[1,2]", b'"string"', b"42", b"null",
             b"true", b'{"a":1}garbage', b'{"a":1,}', b"{'a':1}", b'{"a":\xff}', b"\xff\xfe",
             b'{"a":"\xc3\x28"}', b"[" * 20_000 + b"]" * 20_000,
             b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b'{"a":1e999999}',
             b'{"a":"\\ud800"}']


@pytest.mark.parametrize("method,path,auth", JSON_ENDPOINTS, ids=[p for _, p, _ in JSON_ENDPOINTS])
@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json(ctx, api, method, path, auth, payload):
    who = ctx["a"] if auth else api
    r = post_raw(who, path, payload, method=method)
    assert_error(r, 400)


def _cases():
    conv = "$CONV"
    c = []
    # signup
    c += [("POST", "/v1/signup", False, body) for body in [
        {}, {"username": unique_username()}, {"password": "password-1"},
        {"username": 123, "password": "password-1"},
        {"username": unique_username(), "password": 12345678},
        {"username": unique_username(), "password": None},
        {"username": [unique_username()], "password": "password-1"},
        {"username": unique_username(), "password": "password-1", "display_name": 5},
        {"username": unique_username(), "password": "password-1", "display_name": {"a": 1}},
    ]]
    # login
    c += [("POST", "/v1/login", False, body) for body in [
        {}, {"username": "$A_NAME"}, {"password": "password-1"},
        {"username": 1, "password": "correct horse battery"},
        {"username": "$A_NAME", "password": ["correct horse battery"]},
        {"username": "$A_NAME", "password": "correct horse battery", "device_id": "not-a-uuid"},
        {"username": "$A_NAME", "password": "correct horse battery", "device_id": 7},
        {"username": "$A_NAME", "password": "correct horse battery", "device_name": 7},
    ]]
    # refresh
    c += [("POST", "/v1/refresh-token", False, body) for body in [
        {}, {"refresh_token": 5}, {"refresh_token": None}, {"refresh_token": ["x"]},
    ]]
    # send-message
    base = {"conversation_id": conv, "client_msg_id": "$CMID", "body": "x"}
    c += [("POST", "/v1/send-message", True, body) for body in [
        {}, {"conversation_id": conv, "body": "x"},
        {"conversation_id": conv, "client_msg_id": "$CMID"},
        {"client_msg_id": "$CMID", "body": "x"},
        {**base, "body": 5}, {**base, "body": None}, {**base, "body": ["x"]},
        {**base, "client_msg_id": 5}, {**base, "client_msg_id": ""},
        {**base, "content_type": 5}, {**base, "encryption": "rot13"},
        {**base, "encryption": 1}, {**base, "media_ids": "x"}, {**base, "media_ids": [5]},
        {**base, "reply_to": 5}, {**base, "reply_to": "not-a-uuid"},
        {**base, "search_tokens": "abc"}, {**base, "search_tokens": [1, 2]},
    ]]
    c += [("POST", "/v1/send-message", True,
           {"conversation_id": bad, "client_msg_id": "$CMID", "body": "x"})
          for bad in BAD_UUIDS if bad is not None]
    c += [("POST", "/v1/send-message", True,
           {"to_user_id": bad, "client_msg_id": "$CMID", "body": "x"})
          for bad in BAD_UUIDS if bad is not None]
    # marks
    for kind in ("delivered", "read"):
        path = f"/v1/mark-{kind}"
        c += [("POST", path, True, body) for body in [
            {}, {"conversation_id": conv}, {"up_to_seq": 1},
            {"conversation_id": conv, "up_to_seq": "1"},
            {"conversation_id": conv, "up_to_seq": -1},
            {"conversation_id": conv, "up_to_seq": 1.5},
            {"conversation_id": conv, "up_to_seq": None},
            {"conversation_id": conv, "up_to_seq": 2 ** 70},
        ]]
        c += [("POST", path, True, {"conversation_id": bad, "up_to_seq": 1})
              for bad in BAD_UUIDS]
    # send-to-device
    c += [("POST", "/v1/send-to-device", True, body) for body in [
        {}, {"messages": []}, {"messages": "x"}, {"messages": None},
        {"messages": {"not-a-uuid": {str(uuid.uuid4()): "x"}}},
        {"messages": {"$B": "x"}},
        {"messages": {"$B": {"not-a-uuid": "x"}}},
        {"messages": {"$B": {"$B_DEV": 5}}},
        {"messages": {"$B": {"$B_DEV": None}}},
    ]]
    # update-status
    c += [("POST", "/v1/update-status", True, body) for body in [
        {}, {"status": "sleeping"}, {"status": 3}, {"status": "away", "text": ["x"]},
    ]]
    # keys
    c += [("PUT", "/v1/keys", True, body) for body in [
        {}, {"identity_key": "a"}, {"identity_key": 1, "signing_key": "b",
                                    "signed_prekey": {}, "one_time_prekeys": []},
    ]]
    return c


CASES = _cases()


def _substitute(obj, ctx):
    subs = {"$CONV": ctx["conv"], "$CMID": new_client_msg_id(), "$A_NAME": ctx["a"].username,
            "$B": ctx["b"].user_id, "$B_DEV": ctx["b"].device_id}
    if isinstance(obj, str):
        return subs.get(obj, obj)
    if isinstance(obj, list):
        return [_substitute(x, ctx) for x in obj]
    if isinstance(obj, dict):
        return {_substitute(k, ctx): _substitute(v, ctx) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("method,path,auth,body", CASES,
                         ids=[f"{p}-{json.dumps(b)[:60]}" for _, p, _, b in CASES])
def test_wrong_types_and_missing_fields(ctx, api, method, path, auth, body):
    who = ctx["a"] if auth else api
    payload = json.dumps(_substitute(body, ctx)).encode()
    r = post_raw(who, path, payload, method=method)
    assert_error(r, 400)


QUERY_CASES = [
    ("/v1/get-chat-history", {}),
    ("/v1/get-chat-history", {"conversation_id": "not-a-uuid"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "limit": "abc"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "limit": "-5"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "limit": "0"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "before_seq": "x"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "after_seq": "-1"}),
    ("/v1/get-chat-history", {"conversation_id": "$CONV", "after_seq": "99999999999999999999999"}),
    ("/v1/get-messages", {"limit": "abc"}),
    ("/v1/get-messages", {"limit": "-1"}),
    ("/v1/get-messages", {"after": "definitely-not-a-cursor"}),
    ("/v1/message-status", {}),
    ("/v1/message-status", {"message_id": "not-a-uuid"}),
    ("/v1/get-status", {"user_ids": "not-a-uuid"}),
    ("/v1/get-status", {"user_ids": "$B,bad"}),
    ("/v1/users", {}),
    ("/v1/users", {"username": "x" * 2000}),
]


@pytest.mark.parametrize("path,params", QUERY_CASES,
                         ids=[f"{p}-{json.dumps(q)[:50]}" for p, q in QUERY_CASES])
def test_bad_query_parameters(ctx, path, params):
    a = ctx["a"]
    r = a.get(path, params=_substitute(params, ctx))
    if path == "/v1/users" and params:
        # openapi.yaml: a string that is not a valid username gives 404 (no such user).
        assert_error(r, 404)
    else:
        assert_error(r, 400)


@pytest.mark.parametrize("method,template", [
    ("GET", "/v1/users/{}"), ("GET", "/v1/keys/{}"), ("DELETE", "/v1/devices/{}"),
])
@pytest.mark.parametrize("bad", ["not-a-uuid", "1", "..", "%2e%2e", "%00", "a" * 5000,
                                 "00000000-0000-0000-0000-00000000000g"])
def test_bad_uuid_in_path(ctx, method, template, bad):
    # openapi.yaml: these path parameters are UUIDs; a malformed one is 400. (The HTTP client
    # resolves a literal `..` segment, so that request goes to /v1/, an unknown path: 404.)
    r = ctx["a"].api.request(method, template.format(bad), token=ctx["a"].access_token)
    assert_error(r, 404 if bad == ".." else 400)


AUTHED = [
    ("POST", "/v1/logout"), ("GET", "/v1/users/00000000-0000-0000-0000-000000000000"),
    ("GET", "/v1/users?username=x"), ("GET", "/v1/devices"),
    ("DELETE", "/v1/devices/00000000-0000-0000-0000-000000000000"), ("PUT", "/v1/keys"),
    ("GET", "/v1/keys/00000000-0000-0000-0000-000000000000"), ("GET", "/v1/keys/count"),
    ("POST", "/v1/send-message"), ("GET", "/v1/get-messages"),
    ("GET", "/v1/get-chat-history?conversation_id=00000000-0000-0000-0000-000000000000"),
    ("GET", "/v1/conversations"), ("POST", "/v1/mark-delivered"), ("POST", "/v1/mark-read"),
    ("GET", "/v1/message-status?message_id=00000000-0000-0000-0000-000000000000"),
    ("POST", "/v1/send-to-device"), ("POST", "/v1/update-status"),
    ("GET", "/v1/get-status?user_ids=00000000-0000-0000-0000-000000000000"),
]


@pytest.mark.parametrize("method,path", AUTHED, ids=[f"{m} {p}" for m, p in AUTHED])
@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer x.y.z", "Basic Zm9vOmJhcg=="])
def test_missing_or_bad_authorization(api, method, path, auth):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    # Authentication comes before validation: an unauthenticated caller learns nothing about
    # the body (here an empty object) - contract: auth on every such endpoint.
    r = api.request(method, path, data=b"{}", headers=headers)
    assert_error(r, 401)


def test_unknown_fields_are_ignored(api, ctx):
    name = unique_username("extra")
    r = api.post("/v1/signup", {"username": name, "password": "password-ok", "role": "admin",
                                "is_admin": True, "nested": {"x": [1, 2]}})
    assert expect_status(r, 201)["username"] == name
    sent = ctx["a"].send(conversation_id=ctx["conv"], body="x", sender_id=ctx["b"].user_id,
                         seq=999, unknown={"a": 1})
    (m,) = [m for m in ctx["a"].history(ctx["conv"])["messages"]
            if m["message_id"] == sent["message_id"]]
    assert m["sender_id"] == ctx["a"].user_id, "client cannot choose sender_id"
    assert m["seq"] != 999


def test_unknown_route_is_404(ctx, api):
    # docs/api.md: unknown paths are 404, with or without a token (routing comes first).
    assert_error(api.get("/v1/no-such-endpoint"), 404)
    assert_error(ctx["a"].get("/v1/no-such-endpoint"), 404)
    assert_error(api.get("/nope"), 404)


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/signup"), ("DELETE", "/v1/login"), ("PATCH", "/v1/send-message"),
    ("PUT", "/v1/conversations"), ("POST", "/healthz"), ("DELETE", "/v1/keys/count"),
])
def test_wrong_method(ctx, method, path):
    # docs/api.md: a known path with another method is 405 with the error body, code
    # invalid_argument.
    r = ctx["a"].api.request(method, path, token=ctx["a"].access_token, data=b"{}",
                             headers={"Content-Type": "application/json"})
    assert_error(r, {405: "invalid_argument"})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_non_json_content_type(api, content_type):
    body = json.dumps({"username": unique_username("ct"), "password": "password-ok"}).encode()
    r = post_raw(api, "/v1/signup", body, content_type=content_type)
    # docs/api.md: a JSON body is read as JSON whatever its Content-Type (`curl -d` sends
    # application/x-www-form-urlencoded); 415 is only for uploads.
    expect_status(r, 201)


def test_json_content_type_on_answers(ctx, api):
    r = ctx["a"].get("/v1/conversations")
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    r = api.get("/v1/conversations")
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers


def test_oversized_request_body_is_413(server):
    # 8 MiB of JSON to a JSON endpoint: far beyond any sane JSON limit (media has its own
    # endpoint). The server must answer 413 without reading it all or crashing.
    size = 8 << 20
    head = (f"POST /v1/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    prefix = b'{"username":"%s","password":"password-ok","pad":"' % unique_username().encode()
    chunks = [prefix] + [b"x" * 65536] * ((size - len(prefix) - 2) // 65536)
    status, _, body = raw_http(server.port, head, chunks, timeout=20)
    assert status == 413, (status, body[:300])
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_lying_content_length_does_not_hang_the_server(server, api):
    head = (b"POST /v1/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{\"username\":")
    status, _, _ = raw_http(server.port, head, timeout=1.0)   # we give up; connection dropped
    # docs/api.md: a request that does not arrive in time (30 s) is closed without an answer.
    assert status is None
    assert api.get("/healthz").status_code == 200


@pytest.mark.parametrize("raw,want", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"A" * 100_000 +
     b"\r\n\r\n", 400),
    (b"GET /v1/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
    (b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    # The token is checked before the handshake (openapi.yaml, /v1/ws): 401, not 400.
    (b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Version: 13\r\n\r\n", 401),
], ids=["garbage", "huge-header", "huge-path", "negative-length", "bad-chunk",
        "ws-no-key-no-auth"])
def test_broken_http_never_5xx(server, raw, want):
    # docs/api.md: malformed HTTP gets 400 (with the error body) and the connection is closed.
    status, _, body = raw_http(server.port, raw, timeout=5)
    assert status == want, (status, body[:200])
    assert json.loads(body)["error"]["code"] == ERROR_CODES[want]


def test_chunked_json_body_works(server):
    # docs/api.md: a JSON body may come with Content-Length or chunked.
    body = json.dumps({"username": unique_username("chunk"), "password": "password-ok"}).encode()
    head = (b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    status, _, resp = raw_http(server.port, head, [chunk], timeout=5)
    assert status == 201, (status, resp[:200])


def test_pipelined_requests_answered_in_order(server):
    import socket
    import time
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /v1/no-such HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    statuses = [int(x) for x in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    assert statuses == [200, 404, 200], data[:500]   # unknown path: 404, token or not


def test_duplicate_content_length_rejected(server):
    # Request smuggling defence: conflicting Content-Length headers are malformed HTTP, which
    # docs/api.md answers with 400 (and the connection is closed).
    status, _, body = raw_http(server.port, b"POST /v1/signup HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                               b"Content-Length: 40\r\n\r\n{}", timeout=3)
    assert status == 400, (status, body[:200])
