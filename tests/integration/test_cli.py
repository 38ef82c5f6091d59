"""The `parley` CLI against the real parleyd: the README walk a new user takes, end to end.

The CLI binary is $PARLEY_CLI_BIN (default build/parley); a missing binary fails every test.
Every user gets a profile under a temporary PARLEY_HOME, so nothing touches ~/.parley. The last
test checks that the server's data directory holds none of the plaintexts sent here.
"""
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO_ROOT, unique_username

PARLEY = Path(os.environ.get("PARLEY_CLI_BIN", REPO_ROOT / "build" / "parley"))
PASSWORD = "correct horse battery"
EXIT_UNAUTHENTICATED = 3
EXIT_NOT_FOUND = 5
SENT = []  # every plaintext sent in this module (message texts and file contents)


def secret(text: str) -> str:
    SENT.append(text)
    return text


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    if not PARLEY.exists():
        pytest.fail(f"CLI binary not found at {PARLEY} (build the `parley` target, or set "
                    f"PARLEY_CLI_BIN)")
    return tmp_path_factory.mktemp("parley-home")


class Cli:
    """One user's `parley`: its own profile, the test server."""

    def __init__(self, server, home: Path, username: str):
        self.server, self.home, self.username = server, home, username

    def run(self, *args, json_out=False, input=None, check=True, profile=None, timeout=60):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env["PARLEY_HOME"] = str(self.home)
        env["HOME"] = str(self.home)
        cmd = [str(PARLEY), "--server", self.server.base, "--profile", profile or self.username]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, input=input, env=env,
                           timeout=timeout)
        if check:
            assert p.returncode == 0, f"{cmd} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
        return p

    def json(self, *args, **kw):
        p = self.run(*args, json_out=True, **kw)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


@pytest.fixture
def person(server, home):
    def make(prefix="u"):
        c = Cli(server, home, unique_username(prefix))
        out = c.json("signup", c.username, "--password", PASSWORD)
        assert out[0]["username"] == c.username
        c.user_id = out[0]["user_id"]
        return c
    return make


def texts(objs):
    return [o.get("text") for o in objs if o.get("type") == "message"]


def test_readme_walk_direct_messages(person):
    alice, bob = person("alice"), person("bob")
    who = alice.json("whoami")[0]
    assert who["username"] == alice.username and who["device_id"]

    hello = secret("hello bob, meet me at the old mill")
    alice.run("send", bob.username, hello)
    synced = bob.run("sync").stdout
    assert hello in synced and alice.username in synced
    assert hello in bob.run("history", alice.username).stdout

    reply = secret("see you at the mill, alice")
    bob.run("send", alice.username, reply)
    assert reply in texts(alice.json("sync"))
    history = texts(alice.json("history", bob.username, "--limit", "10"))
    assert history.index(hello) < history.index(reply)
    convs = alice.json("conversations")
    assert any(c["kind"] == "direct" and c["title"] == bob.username for c in convs)


def test_a_message_sent_without_encryption_is_marked(person, server):
    from conftest import Api, login
    bob, mallory = person("plainb"), person("plainm")
    api = Api(server)
    token = login(api, mallory.username, PASSWORD)["access_token"]
    r = api.post("/v1/send-message", {"to_user_id": bob.user_id, "client_msg_id": str(uuid.uuid4()),
                                      "encryption": "none", "body": "plain words from mallory"},
                 token=token)
    assert r.status_code == 201, r.text
    line = [l for l in bob.run("sync").stdout.splitlines() if "plain words from mallory" in l]
    assert line and "[not encrypted] plain words from mallory" in line[0], line
    msgs = [m for m in bob.json("history", mallory.username) if m.get("type") == "message"]
    assert [m["encryption"] for m in msgs] == ["none"], msgs


def test_profile_is_private_and_options_may_follow_the_command(person):
    alice = person("alice")
    profile = alice.home / alice.username
    assert profile.stat().st_mode & 0o777 == 0o700
    assert (profile / "client.db").stat().st_mode & 0o777 == 0o600
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(PARLEY_HOME=str(alice.home), PARLEY_PROFILE=alice.username)
    # The server is remembered in the profile; options may follow the command.
    p = subprocess.run([str(PARLEY), "whoami", "--json"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["server"] == alice.server.base


def test_logout_then_login_resumes_the_device(person):
    alice, bob = person("alice"), person("bob")
    device = alice.json("whoami")[0]["device_id"]
    alice.run("logout")
    p = alice.run("whoami", check=False)
    assert p.returncode == EXIT_UNAUTHENTICATED
    assert p.stderr.startswith("parley: ")
    assert alice.json("login", alice.username, "--password", PASSWORD)[0]["device_id"] == device
    text = secret("still the same device after logging in again")
    bob.run("send", alice.username, text)
    assert text in texts(alice.json("sync"))


def test_password_from_environment_and_stdin(server, home):
    c = Cli(server, home, unique_username("envpw"))
    env_run = subprocess.run(
        [str(PARLEY), "--server", server.base, "--profile", c.username, "signup", c.username],
        capture_output=True, text=True, timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")},
             "PARLEY_HOME": str(home), "PARLEY_PASSWORD": PASSWORD})
    assert env_run.returncode == 0, env_run.stderr
    c.run("logout")
    c.run("login", c.username, input=PASSWORD + "\n")  # not a terminal: one line of stdin


def test_send_file_and_get_file(person, tmp_path):
    alice, bob = person("alice"), person("bob")
    content = secret("FILE-SECRET-" + uuid.uuid4().hex) * 5000 + "\n"
    src = tmp_path / "notes.txt"
    src.write_text(content)
    sent = alice.json("send-file", bob.username, src)[0]
    assert sent["content_type"] == "document" and sent["file"]["name"] == "notes.txt"
    msgs = [m for m in bob.json("sync") if m.get("type") == "message"]
    assert len(msgs) == 1 and msgs[0]["file"]["size"] == len(content.encode())
    out = tmp_path / "got.txt"
    got = bob.json("get-file", msgs[0]["message_id"], "--out", out)[0]
    assert Path(got["path"]) == out
    assert out.read_bytes() == src.read_bytes()


def test_groups_create_add_send_remove(person):
    alice, bob, carol, dave = person("alice"), person("bob"), person("carol"), person("dave")
    group = alice.json("groups", "create", "band", bob.username, carol.username)[0]
    gid = group["group_id"]
    assert {m["username"] for m in group["members"]} == {alice.username, bob.username,
                                                         carol.username}
    first = secret("first rehearsal on friday")
    alice.run("send", gid, first)
    assert first in texts(bob.json("sync"))
    assert first in texts(carol.json("sync"))

    alice.run("groups", "add", gid, dave.username)
    alice.run("groups", "remove", gid, carol.username)
    after = secret("carol left the band; dave plays drums now")
    alice.run("send", gid, after)
    assert after in texts(bob.json("sync"))
    assert after in texts(dave.json("sync"))
    carol_sees = carol.run("sync").stdout + carol.run("history", gid, check=False).stdout
    assert after not in carol_sees
    assert carol.run("search", "drums").stdout.strip() == "no matches"

    bob_says = secret("bob welcomes dave")
    bob.run("send", gid, bob_says)
    assert bob_says in texts(dave.json("sync"))
    assert bob_says not in carol.run("sync").stdout

    shown = alice.json("groups", "show", gid)[0]
    assert {m["username"] for m in shown["members"]} == {alice.username, bob.username,
                                                         dave.username}
    roles = {m["username"]: m["role"]
             for m in alice.json("groups", "role", gid, bob.username, "admin")[0]["members"]}
    assert roles[bob.username] == "admin"
    assert alice.json("groups", "rename", gid, "the band")[0]["name"] == "the band"
    assert any(g["group_id"] == gid for g in dave.json("groups", "list"))
    dave.run("groups", "leave", gid)
    assert not any(g["group_id"] == gid for g in dave.json("groups", "list"))


def test_search_finds_decrypted_text(person):
    alice, bob = person("alice"), person("bob")
    alice.run("send", bob.username, secret("the zebra crossing is closed"))
    alice.run("send", bob.username, secret("lunch at the usual place"))
    found = texts(bob.json("search", "zebra"))
    assert found == ["the zebra crossing is closed"]
    assert texts(bob.json("search", "zeb", "--in", alice.username)) == found
    assert bob.run("search", "giraffe").stdout.strip() == "no matches"


def wait_for_server_hits(cli, want, *args, timeout=10):
    """`parley search … --remote`: indexing is asynchronous, so poll until `want` texts."""
    deadline = time.monotonic() + timeout
    while True:
        found = texts(cli.json("search", *args, "--remote"))
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_server_search_is_opt_in_per_conversation(person):
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    gid = alice.json("groups", "create", "owls", bob.username)[0]["group_id"]
    early = secret("the barn owl hunts at dusk")
    alice.run("send", gid, early)
    # Off by default: server search refuses (no tokens to ask with), nothing was indexed.
    p = alice.run("search", "owl", "--remote", "--in", gid, check=False)
    assert p.returncode == 2 and "off" in p.stderr
    assert alice.run("search", "owl", "--remote", check=False).returncode == 1  # needs --in

    line = alice.run("search-opt-in", gid, "on").stdout.strip()
    assert len(line.splitlines()) == 1
    assert "docs/protocol.md §9" in line and "frequencies" in line
    opted = alice.json("search-opt-in", gid, "on")[0]
    assert opted["enabled"] is True and opted["title"] == "owls"
    late = secret("the snowy owl visits the harbour")
    alice.run("send", gid, late)
    assert wait_for_server_hits(alice, 1, "OWL", "--in", gid) == [late]
    assert wait_for_server_hits(alice, 0, "dusk", "--in", gid) == []  # sent before opting in
    assert alice.run("search", "harb", "--remote", "--in", gid).stdout.strip() == "no matches"

    # Bob got the key with alice's sender key; he opts in on his device and finds it too.
    bob.run("search-opt-in", gid, "on")
    assert wait_for_server_hits(bob, 1, "snowy owl", "--in", gid) == [late]
    # Carol is no member: she holds no search key for the group and finds nothing.
    p = carol.run("search", "owl", "--remote", "--in", gid, check=False, json_out=True)
    assert p.returncode != 0 and late not in p.stdout
    off = alice.run("search-opt-in", gid, "off").stdout
    assert "no search tokens" in off
    assert alice.run("search-opt-in", gid, "maybe", check=False).returncode == 1
    assert "search-opt-in" in alice.run("--help").stdout
    assert "--remote" in alice.run("search", "--help").stdout


def test_verify_shows_the_same_safety_number_on_both_sides(person):
    alice, bob = person("alice"), person("bob")
    a = alice.json("verify", bob.username)[0]
    b = bob.json("verify", alice.username)[0]
    assert len(a["safety_number"]) == 60 and a["safety_number"].isdigit()
    assert a["safety_number"] == b["safety_number"]
    assert a["key_changed"] is False
    human = alice.run("verify", bob.username).stdout
    assert a["safety_number"][:5] in human


def test_devices_and_status(person):
    alice = person("alice")
    second = alice.json("login", alice.username, "--password", PASSWORD,
                        profile=alice.username + "-2")[0]
    devices = alice.json("devices")
    assert len(devices) == 2 and sum(d["current"] for d in devices) == 1
    alice.run("devices", "revoke", second["device_id"])
    assert len(alice.json("devices")) == 1
    st = alice.json("status", "busy", "--text", "in a meeting")[0]
    # The chosen status shows while a device is connected (parley chat); none of alice's is
    # (the other commands do not connect), so it reads offline (openapi.yaml, update-status).
    assert st["user_id"] == alice.user_id and st["status"] == "offline"


def test_json_output_is_one_object_per_line(person):
    alice, bob = person("alice"), person("bob")
    alice.run("send", bob.username, secret("json one"))
    alice.run("send", bob.username, secret("json two"))
    out = bob.run("sync", json_out=True).stdout.splitlines()
    objs = [json.loads(line) for line in out]
    assert [o["text"] for o in objs if o["type"] == "message"] == ["json one", "json two"]
    assert objs[-1]["type"] == "sync"


def test_wrong_password_gives_the_auth_exit_code(person, server, home):
    alice = person("alice")
    other = Cli(server, home, alice.username)
    p = other.run("login", alice.username, "--password", "wrong password!", check=False,
                  profile=alice.username + "-wrong")
    assert p.returncode == EXIT_UNAUTHENTICATED, p.stderr
    assert p.stderr.startswith("parley: ")
    p = other.run("login", alice.username, "--password", "wrong password!", check=False,
                  json_out=True, profile=alice.username + "-wrong")
    assert p.returncode == EXIT_UNAUTHENTICATED
    assert json.loads(p.stderr)["error"]["code"] == "unauthenticated"


def test_unknown_user_gives_the_not_found_exit_code(person):
    alice = person("alice")
    p = alice.run("send", "nobody_" + uuid.uuid4().hex[:8], "hello?", check=False)
    assert p.returncode == EXIT_NOT_FOUND, p.stderr
    assert "parley: " in p.stderr
    p = alice.run("verify", "nobody_" + uuid.uuid4().hex[:8], check=False, json_out=True)
    assert p.returncode == EXIT_NOT_FOUND
    assert json.loads(p.stderr)["error"]["code"] == "not_found"


def test_usage_errors_and_help(server, home):
    c = Cli(server, home, "helpuser")
    assert c.run(check=False).returncode == 1
    assert c.run("no-such-command", check=False).returncode == 1
    assert c.run("send", check=False).returncode == 1  # missing arguments
    top = c.run("--help")
    for cmd in ("signup", "send-file", "groups", "verify", "--json", "--profile"):
        assert cmd in top.stdout
    assert "create" in c.run("groups", "--help").stdout
    assert "--limit" in c.run("history", "--help").stdout


def test_chat_is_live_both_ways(person):
    alice, bob = person("alice"), person("bob")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_HOME"] = str(bob.home)
    proc = subprocess.Popen([str(PARLEY), "--server", bob.server.base, "--profile", bob.username,
                             "--json", "chat", alice.username],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(l)) for l in proc.stdout],
                     daemon=True).start()

    def wait_for(pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                obj = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if pred(obj):
                return obj
        pytest.fail(f"chat never printed {what}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}")

    try:
        wait_for(lambda o: o.get("type") == "connection" and o["connected"], "connected")
        live = secret("are you there, bob? (live)")
        alice.run("send", bob.username, live)
        wait_for(lambda o: o.get("type") == "message" and o.get("text") == live, "the message")
        answer = secret("yes alice, typing from chat")
        proc.stdin.write(answer + "\n")
        proc.stdin.flush()
        wait_for(lambda o: o.get("type") == "message" and o.get("text") == answer, "own message")
        assert answer in texts(alice.json("sync"))  # alice fetched it: delivered
        wait_for(lambda o: o.get("type") == "receipt" and o["user_id"] == alice.user_id,
                 "alice's receipt")
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=15) == 0


def test_zz_server_data_dir_holds_no_plaintext(server):
    assert SENT, "the tests above sent nothing"
    files = [p for p in Path(server.data_dir).rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for text in SENT:
            # The whole text, and a distinctive fragment of it.
            for needle in {text, text[:24]}:
                assert needle.encode() not in data, f"plaintext {needle!r} found in {path}"
