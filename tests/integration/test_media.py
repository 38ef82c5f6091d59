"""Media service: POST /v1/upload (streamed, sha256, 413 past the limit) and
GET /v1/download/{media_id} (token or signed link; Range, ETag, nosniff, attachment), who may
download, thumbnails of unencrypted images, and bad input that must never give a 5xx.

Most tests use the module's server (default limits). A second server with a 64 KiB upload limit
and 2 s signed links serves the 413 and expiry tests."""
import hashlib
import os
import socket
import struct
import time
import uuid
import zlib

import pytest
import requests

from conftest import (HTTP_TIMEOUT_S, Api, ParleyServer, assert_error, expect_status, is_uuid,
                      make_user, now_ms, poll, raw_http)

SMALL_LIMIT = 64 * 1024
SHORT_TTL_S = 2


# --- helpers ----------------------------------------------------------------------------------

def upload(user, data, content_type="application/octet-stream", filename=None, expect=201,
           headers=None):
    h = {"Content-Type": content_type} if content_type is not None else {}
    if filename is not None:
        h["X-Filename"] = filename
    h.update(headers or {})
    r = user.api.request("POST", "/v1/upload", token=user.access_token, data=data, headers=h)
    if expect is None:
        return r
    return expect_status(r, expect)


def download(api, media_id, token=None, headers=None, params=None):
    return api.request("GET", f"/v1/download/{media_id}", token=token, headers=headers,
                       params=params)


def get_url(api, url, headers=None):
    """GET a signed link (a path with its query) without any token."""
    assert url.startswith("/v1/download/"), url
    return requests.get(api.base + url, headers=headers or {}, timeout=HTTP_TIMEOUT_S)


def png_bytes(w, h, rgba=False):
    """A valid w x h gradient PNG, made with zlib and struct only."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = bytearray()
    for y in range(h):
        rows.append(0)
        for x in range(w):
            rows += bytes((x * 255 // w, y * 255 // h, 128))
            if rgba:
                rows.append(200)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if rgba else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(rows)))
            + chunk(b"IEND", b""))


def png_bomb(w, h):
    """A PNG header claiming w x h pixels with almost nothing behind it."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


def image_size(data):
    """(width, height) of a PNG or JPEG."""
    if data.startswith(b"\x89PNG"):
        return struct.unpack(">II", data[16:24])
    assert data.startswith(b"\xff\xd8"), data[:8]
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, f"bad JPEG marker at {i}"
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise AssertionError("no SOF marker")


def media_info(user, media_id):
    return expect_status(user.get(f"/v1/media/{media_id}"), 200)


def wait_thumbnail_state(user, media_id, timeout=20):
    return poll(lambda: (lambda s: s if s != "pending" else None)(
        media_info(user, media_id)["thumbnail"]["state"]), timeout=timeout,
        what="thumbnail processing")


def media_files(server):
    """Blob files under DATA_DIR/media, and the temporary ones."""
    root = server.data_dir / "media"
    blobs, tmp = [], []
    for dirpath, _, files in os.walk(root):
        (tmp if os.path.basename(dirpath) == "tmp" else blobs).extend(files)
    return sorted(blobs), sorted(tmp)


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    srv = ParleyServer(tmp_path_factory.mktemp("media_small") / "data",
                       ["--max-upload-bytes", str(SMALL_LIMIT),
                        "--media-url-ttl", str(SHORT_TTL_S)]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def small_api(small_server):
    return Api(small_server)


@pytest.fixture(scope="module")
def people(api, server):
    """alice uploads; bob receives a message naming her media; carol is a stranger."""
    return {name: make_user(api, server, f"media_{name[0]}") for name in ("alice", "bob", "carol")}


@pytest.fixture(scope="module")
def blob(people):
    data = os.urandom(200_000)
    up = upload(people["alice"], data, "application/octet-stream", filename="secret.bin")
    return {"data": data, "up": up, "id": up["media_id"]}


# --- upload and download ----------------------------------------------------------------------

def test_upload_answers_the_contract_fields(people, blob):
    up, data = blob["up"], blob["data"]
    assert is_uuid(up["media_id"])
    assert up["media_type"] == "application/octet-stream"
    assert up["size"] == len(data)
    assert up["sha256"] == hashlib.sha256(data).hexdigest()
    assert isinstance(up["url"], str) and up["url"].startswith(f"/v1/download/{up['media_id']}?")
    assert isinstance(up["created_at"], int) and abs(up["created_at"] - now_ms()) < 60_000
    assert up["thumbnail"]["state"] == "none"  # an encrypted blob is never thumbnailed


def test_download_round_trip(api, people, blob):
    r = download(api, blob["id"], token=people["alice"].access_token)
    assert r.status_code == 200, r.text[:300]
    assert r.content == blob["data"]
    assert hashlib.sha256(r.content).hexdigest() == blob["up"]["sha256"]
    assert r.headers["Content-Length"] == str(len(blob["data"]))
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"] == f'"{blob["up"]["sha256"]}"'
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert 'filename="secret.bin"' in r.headers["Content-Disposition"]


def test_chunked_upload_streams_and_hashes(api, new_user):
    u = new_user("media_chunk")
    parts = [os.urandom(70_000) for _ in range(5)]
    up = upload(u, iter(parts), "application/pdf", filename="report.pdf")  # generator → chunked
    data = b"".join(parts)
    assert up["size"] == len(data)
    assert up["sha256"] == hashlib.sha256(data).hexdigest()
    assert up["media_type"] == "application/pdf"
    r = download(api, up["media_id"], token=u.access_token)
    assert r.status_code == 200 and r.content == data


def test_empty_upload_is_a_valid_file(api, new_user):
    u = new_user("media_empty")
    up = upload(u, b"", "text/plain")
    assert up["size"] == 0
    assert up["sha256"] == hashlib.sha256(b"").hexdigest()
    r = download(api, up["media_id"], token=u.access_token)
    assert r.status_code == 200 and r.content == b""
    r = download(api, up["media_id"], token=u.access_token, headers={"Range": "bytes=0-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */0"


def test_media_type_is_normalised(api, new_user):
    u = new_user("media_type")
    up = upload(u, b"hello", "Text/Plain; charset=utf-8")
    assert up["media_type"] == "text/plain"
    up = upload(u, b"hello", content_type=None)
    assert up["media_type"] == "application/octet-stream"


def test_upload_with_100_continue(server, new_user):
    u = new_user("media_expect")
    body = os.urandom(5000)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall((f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {u.access_token}\r\n"
                      f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
                      f"Expect: 100-continue\r\n\r\n").encode())
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first[:200]
        sock.sendall(body)
        buf = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in buf or b'"sha256"' not in buf:
            assert time.monotonic() < deadline, buf
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        assert buf.startswith(b"HTTP/1.1 201"), buf[:300]
        assert hashlib.sha256(body).hexdigest().encode() in buf
    finally:
        sock.close()


def test_connection_is_reused_after_an_upload(api, new_user):
    u = new_user("media_keepalive")
    s = requests.Session()
    h = {"Authorization": f"Bearer {u.access_token}", "Content-Type": "image/png"}
    for _ in range(3):
        r = s.post(api.base + "/v1/upload", data=os.urandom(30_000), headers=h, timeout=10)
        assert r.status_code == 201, r.text
    r = s.get(api.base + "/healthz", timeout=10)
    assert r.status_code == 200


# --- 413 --------------------------------------------------------------------------------------

def test_declared_oversize_is_413_before_the_body(small_server, small_api):
    u = make_user(small_api, small_server, "media_big")
    before = media_files(small_server)
    body = b"x" * (SMALL_LIMIT + 1)
    head = (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {u.access_token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n")
    status, headers, resp = raw_http(small_server.port, head.encode(), [body])
    assert status == 413, (status, resp[:300])
    assert b"payload_too_large" in resp
    # Exactly the limit is fine.
    up = upload(u, b"y" * SMALL_LIMIT)
    assert up["size"] == SMALL_LIMIT
    assert media_files(small_server)[1] == before[1] == []
    assert small_server.alive()


def test_chunked_oversize_is_413_and_leaves_no_file(small_server, small_api):
    u = make_user(small_api, small_server, "media_bigc")
    before = media_files(small_server)
    head = (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {u.access_token}\r\n"
            f"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"z" * 16384
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(8)] + [b"0\r\n\r\n"]
    status, headers, resp = raw_http(small_server.port, head.encode(), chunks)
    assert status == 413, (status, resp[:300])
    assert b"payload_too_large" in resp
    after = poll(lambda: (lambda f: f if f[1] == [] else None)(media_files(small_server)),
                 what="partial upload deleted")
    assert after == before  # no blob kept, no temporary file left
    assert small_server.alive()


def test_oversize_via_requests_gets_413(small_server, small_api):
    # docs/api.md: after an early answer the rest of the body is drained briefly before the
    # connection closes, so a client still sending reads the 413 (not a reset).
    u = make_user(small_api, small_server, "media_bigr")
    r = upload(u, os.urandom(SMALL_LIMIT * 2), expect=None)
    assert_error(r, 413)


# --- Range, ETag ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,lo,hi", [("bytes=10-19", 10, 19), ("bytes=0-0", 0, 0),
                                        ("bytes=199990-", 199990, 199999),
                                        ("bytes=-5", 199995, 199999),
                                        ("bytes=199995-999999999", 199995, 199999)])
def test_range_gives_206(api, people, blob, spec, lo, hi):
    r = download(api, blob["id"], token=people["alice"].access_token, headers={"Range": spec})
    assert r.status_code == 206, r.text[:300]
    assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{len(blob['data'])}"
    assert r.content == blob["data"][lo:hi + 1]
    assert r.headers["Content-Length"] == str(hi - lo + 1)
    assert r.headers["ETag"] == f'"{blob["up"]["sha256"]}"'


@pytest.mark.parametrize("spec", ["bytes=200000-", "bytes=999999-1000000", "bytes=-0",
                                  "bytes=abc", "bytes=5-2", "bytes=", "bytes=--1", "garbage"])
def test_unsatisfiable_or_malformed_range_gives_416(api, people, blob, spec):
    r = download(api, blob["id"], token=people["alice"].access_token, headers={"Range": spec})
    assert_error(r, {416: "invalid_argument"})
    assert r.headers["Content-Range"] == f"bytes */{len(blob['data'])}"


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "items=0-5"])
def test_multiple_ranges_or_other_units_give_the_whole_file(api, people, blob, spec):
    r = download(api, blob["id"], token=people["alice"].access_token, headers={"Range": spec})
    assert r.status_code == 200
    assert r.content == blob["data"]


def test_etag_and_if_none_match(api, people, blob):
    tok = people["alice"].access_token
    etag = f'"{blob["up"]["sha256"]}"'
    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = download(api, blob["id"], token=tok, headers={"If-None-Match": inm})
        assert r.status_code == 304, (inm, r.status_code)
        assert r.content == b""
        assert r.headers["ETag"] == etag
    r = download(api, blob["id"], token=tok, headers={"If-None-Match": '"stale"'})
    assert r.status_code == 200 and r.content == blob["data"]


def test_if_range_with_a_stale_etag_sends_everything(api, people, blob):
    tok = people["alice"].access_token
    etag = f'"{blob["up"]["sha256"]}"'
    r = download(api, blob["id"], token=tok, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status_code == 206 and len(r.content) == 10
    r = download(api, blob["id"], token=tok, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status_code == 200 and r.content == blob["data"]


# --- presentation -----------------------------------------------------------------------------

@pytest.mark.parametrize("media_type,attachment", [
    ("application/octet-stream", True), ("text/html", True), ("application/pdf", True),
    ("image/svg+xml", True), ("text/plain", True),
    ("image/png", False), ("video/mp4", False), ("audio/ogg", False)])
def test_disposition_and_nosniff(api, new_user, media_type, attachment):
    u = new_user("media_disp")
    up = upload(u, b"<html><script>alert(1)</script></html>", media_type, filename="f.x")
    r = download(api, up["media_id"], token=u.access_token)
    assert r.status_code == 200
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Type"] == media_type
    cd = r.headers.get("Content-Disposition", "")
    assert cd.startswith("attachment") == attachment, cd


def test_filenames_are_sanitised(api, new_user):
    u = new_user("media_name")
    up = upload(u, b"x", "application/pdf", filename="../../etc/caf%C3%A9 \"q\".pdf")
    assert up["filename"] == 'café "q".pdf'
    r = download(api, up["media_id"], token=u.access_token)
    cd = r.headers["Content-Disposition"]
    assert "filename*=UTF-8''caf%C3%A9%20%22q%22.pdf" in cd, cd
    assert ".." not in cd and "/" not in cd.split("filename*")[0]


# --- signed links -----------------------------------------------------------------------------

def test_signed_url_works_without_a_token(api, blob):
    r = get_url(api, blob["up"]["url"])
    assert r.status_code == 200, r.text[:300]
    assert r.content == blob["data"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = get_url(api, blob["up"]["url"], headers={"Range": "bytes=5-9"})
    assert r.status_code == 206 and r.content == blob["data"][5:10]


def _with_query(url, **changes):
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def test_tampered_signed_urls_are_403(api, people, blob):
    url = blob["up"]["url"]
    sig = url.split("sig=")[1]
    expires = int(url.split("expires=")[1].split("&")[0])
    flipped = ("B" if sig[-1] == "A" else "A")
    other = upload(people["alice"], b"another file")
    tampered = [
        _with_query(url, sig=sig[:-1] + flipped),
        _with_query(url, sig=("x" if sig[0] != "x" else "y") + sig[1:]),
        _with_query(url, expires=str(expires + 3600)),
        _with_query(url, expires=str(expires - 1)),
        _with_query(url, sig=None),
        _with_query(url, expires=None),
        _with_query(url, sig=""),
        _with_query(url, expires="abc"),
        _with_query(url, variant="thumbnail"),
        url.replace(blob["id"], other["media_id"]),
    ]
    for t in tampered:
        r = get_url(api, t)
        assert_error(r, 403)


def test_a_signed_url_for_unknown_media_is_not_5xx(api, blob):
    url = blob["up"]["url"].replace(blob["id"], "00000000-0000-4000-8000-000000000000")
    assert_error(get_url(api, url), 403)


def test_expired_signed_url_is_403(small_server, small_api):
    u = make_user(small_api, small_server, "media_exp")
    up = upload(u, b"short-lived")
    assert get_url(small_api, up["url"]).status_code == 200
    expires_s = up["url_expires_at"] // 1000
    while time.time() < expires_s + 1.05:
        time.sleep(0.1)
    r = get_url(small_api, up["url"])
    assert_error(r, 403)
    # The token still works, and a fresh link comes with the metadata.
    assert download(small_api, up["media_id"], token=u.access_token).status_code == 200
    fresh = media_info(u, up["media_id"])["url"]
    assert get_url(small_api, fresh).status_code == 200


# --- who may download -------------------------------------------------------------------------

def test_stranger_cannot_download_and_learns_nothing(api, people, blob):
    carol = people["carol"]
    r = download(api, blob["id"], token=carol.access_token)
    assert_error(r, 404)
    missing = download(api, "00000000-0000-4000-8000-000000000000", token=carol.access_token)
    assert_error(missing, 404)
    assert r.json()["error"] == missing.json()["error"]  # the same answer: existence not leaked
    assert_error(carol.get(f"/v1/media/{blob['id']}"), 404)
    assert_error(download(api, blob["id"]), 401)  # neither token nor link


def test_recipient_of_a_message_naming_the_media_can_download(api, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    data = os.urandom(10_000)
    up = upload(alice, data, "application/octet-stream")
    assert_error(download(api, up["media_id"], token=bob.access_token), 404)
    alice.send(to=bob, body="see attachment", media_ids=[up["media_id"]], content_type="document")
    r = download(api, up["media_id"], token=bob.access_token)
    assert r.status_code == 200 and r.content == data
    assert media_info(bob, up["media_id"])["sha256"] == hashlib.sha256(data).hexdigest()
    assert_error(download(api, up["media_id"], token=carol.access_token), 404)


# --- thumbnails -------------------------------------------------------------------------------

def test_png_gets_a_thumbnail(api, new_user):
    u = new_user("media_thumb")
    png = png_bytes(640, 480)
    up = upload(u, png, "image/png", filename="gradient.png")
    assert up["thumbnail"]["state"] == "pending"
    assert wait_thumbnail_state(u, up["media_id"]) == "ready"
    r = download(api, up["media_id"], token=u.access_token, params={"variant": "thumbnail"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == "image/jpeg"   # docs/api.md: JPEG unless transparent
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    w, h = image_size(r.content)
    assert (w, h) == (320, 240)
    info = media_info(u, up["media_id"])["thumbnail"]
    assert (info["width"], info["height"]) == (320, 240)
    assert info["size"] == len(r.content)
    # Its signed link works without a token; the original's link does not open it.
    t = get_url(api, info["url"])
    assert t.status_code == 200 and t.content == r.content
    # The original is untouched.
    assert download(api, up["media_id"], token=u.access_token).content == png


def test_small_transparent_png_is_not_enlarged(api, new_user):
    u = new_user("media_thumb2")
    up = upload(u, png_bytes(40, 20, rgba=True), "image/png")
    assert wait_thumbnail_state(u, up["media_id"]) == "ready"
    r = download(api, up["media_id"], token=u.access_token, params={"variant": "thumbnail"})
    assert r.headers["Content-Type"] == "image/png"  # alpha kept
    assert image_size(r.content) == (40, 20)


def test_encrypted_blob_gets_no_thumbnail(api, new_user):
    u = new_user("media_nothumb")
    # Encrypted bytes that happen to start like a PNG are still not thumbnailed: the type decides.
    up = upload(u, png_bytes(64, 64), "application/octet-stream")
    assert up["thumbnail"]["state"] == "none"
    time.sleep(0.5)
    assert media_info(u, up["media_id"])["thumbnail"]["state"] == "none"
    r = download(api, up["media_id"], token=u.access_token, params={"variant": "thumbnail"})
    assert_error(r, 404)


@pytest.mark.parametrize("name,data", [
    ("garbage", os.urandom(5000)),
    ("truncated", png_bytes(64, 64)[:120]),
    ("bomb", png_bomb(60000, 60000)),
    ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>"),
])
def test_bad_images_fail_quietly(api, new_user, name, data):
    u = new_user("media_badimg")
    up = upload(u, data, "image/png")
    assert wait_thumbnail_state(u, up["media_id"]) == "failed"
    r = download(api, up["media_id"], token=u.access_token, params={"variant": "thumbnail"})
    assert_error(r, 404)
    assert download(api, up["media_id"], token=u.access_token).content == data


def test_thumbnail_is_404_until_ready_and_for_strangers(api, people):
    alice, carol = people["alice"], people["carol"]
    up = upload(alice, png_bytes(50, 50), "image/png")
    r = download(api, up["media_id"], token=alice.access_token, params={"variant": "thumbnail"})
    # The worker may have finished already: 200 only if the thumbnail is ready by now; 404 else.
    if r.status_code != 200:
        assert_error(r, 404)
    assert wait_thumbnail_state(alice, up["media_id"]) == "ready"
    r = download(api, up["media_id"], token=alice.access_token, params={"variant": "thumbnail"})
    assert r.status_code == 200, r.text[:300]
    r = download(api, up["media_id"], token=carol.access_token, params={"variant": "thumbnail"})
    assert_error(r, 404)


# --- bad input --------------------------------------------------------------------------------

def test_bad_uploads(api, new_user):
    u = new_user("media_badup")
    assert_error(api.request("POST", "/v1/upload", data=b"x",
                             headers={"Content-Type": "image/png"}), 401)
    assert_error(api.request("POST", "/v1/upload", token="not-a-token", data=b"x"), 401)
    for ct in ("png", "image/", "/png", "a b/c", "multipart/form-data; boundary=x"):
        assert_error(upload(u, b"x", ct, expect=None), 415)
    assert_error(upload(u, b"x", filename="a" * 1100, expect=None), 400)
    assert_error(upload(u, b"x", filename="%FF%FE", expect=None), 400)
    assert_error(api.request("GET", "/v1/upload", token=u.access_token), {405: "invalid_argument"})


def test_bad_downloads(api, people, blob):
    tok = people["alice"].access_token
    for bad_id in ("x", "not-a-uuid", "00000000-0000-4000-8000-00000000000", "%00", "..%2F..",
                   "a" * 5000):
        # docs/api.md: a malformed id gets 404 not_found, as an unknown one.
        assert_error(download(api, bad_id, token=tok), 404)
    assert_error(download(api, blob["id"], token=tok, params={"variant": "huge"}), 400)
    assert_error(download(api, blob["id"], token="garbage"), 401)
    for params in ({"sig": "x"}, {"expires": "1"}, {"expires": "-1", "sig": "x"},
                   {"expires": "9" * 40, "sig": "A" * 43}, {"expires": "1e9", "sig": ""}):
        assert_error(download(api, blob["id"], params=params), 403)
    size = len(blob["data"])
    for rng, want in (("bytes=" + "9" * 100 + "-", 416),                 # starts past the end
                      ("bytes=" + ",".join(["0-1"] * 2000), 200),       # several ranges: ignored
                      ("\x7f", 400),                # not a legal header byte: malformed HTTP
                      ("bytes=-" + "9" * 30, 206)):  # a suffix longer than the file: all of it
        r = download(api, blob["id"], token=tok, headers={"Range": rng})
        assert r.status_code == want, (rng[:40], r.status_code)
        if want == 206:
            assert r.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
            assert r.content == blob["data"]
    r = api.request("POST", f"/v1/download/{blob['id']}", token=tok, data=b"x")
    assert_error(r, {405: "invalid_argument"})


def test_broken_upload_streams_are_not_5xx(server, new_user):
    u = new_user("media_broken")
    auth = f"Authorization: Bearer {u.access_token}\r\n"
    cases = [
        # malformed chunk size
        (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n",
         [b"zz\r\nhello\r\n0\r\n\r\n"]),
        # chunk longer than announced
        (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n",
         [b"2\r\nhello\r\n0\r\n\r\n"]),
        # both Content-Length and chunked
        (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n"
         f"Transfer-Encoding: chunked\r\n\r\n", [b"5\r\nhello\r\n0\r\n\r\n"]),
        # absurd Content-Length
        (f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 99999999999999999999\r\n\r\n",
         [b"x"]),
    ]
    before = media_files(server)[1]
    for head, body in cases:
        # docs/api.md: malformed HTTP (here, a malformed body framing) gets 400.
        status, _, resp = raw_http(server.port, head.encode(), body, timeout=5)
        assert status == 400, (head[:60], status, resp[:200])
    # A client that stops halfway: the partial file goes away.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall((f"POST /v1/upload HTTP/1.1\r\nHost: x\r\n{auth}"
                  f"Content-Length: 100000\r\n\r\n").encode() + b"a" * 1000)
    sock.close()
    poll(lambda: media_files(server)[1] == before, what="abandoned upload cleaned up")


def test_only_media_the_sender_may_see_can_be_named(new_user):
    # Naming media in a message shares it with the conversation: a stranger who learned an id
    # cannot share it onwards (404, as for an unknown id); the uploader and recipients can.
    owner, friend, stranger, other = new_user("mo"), new_user("mf"), new_user("ms"), new_user("mx")
    media_id = upload(owner, b"secret bytes")["media_id"]
    from conftest import assert_error
    assert_error(stranger.post("/v1/send-message", {"to_user_id": other.user_id,
                                                    "client_msg_id": "steal", "body": "look",
                                                    "media_ids": [media_id]}), 404)
    assert_error(stranger.post("/v1/send-message", {"to_user_id": other.user_id,
                                                    "client_msg_id": "unknown", "body": "x",
                                                    "media_ids": [str(uuid.uuid4())]}), 404)
    owner.send(to=friend, body="here", media_ids=[media_id])
    friend.send(to=other, body="forwarded", media_ids=[media_id])  # a recipient may forward
    assert download(other.api, media_id, token=other.access_token).status_code == 200
    assert download(stranger.api, media_id, token=stranger.access_token).status_code == 404
