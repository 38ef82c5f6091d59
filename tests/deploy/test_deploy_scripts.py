"""Checks of the deploy/ scripts (PostgreSQL, Redis, nginx, parleyd nodes).

Each test uses its own temporary PARLEY_DEPLOY_DIR and free, non-default ports, so it never
touches a running development cluster. Run: .venv/bin/pytest -q tests/deploy
"""

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(script, *args, env, check=True, timeout=120):
    p = subprocess.run([str(DEPLOY / script), *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} -> {p.returncode}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture
def deploy_env():
    # Not pytest's tmp_path: that is mode 0700, and as root PostgreSQL runs as the 'postgres'
    # user, which must be able to reach the data directory.
    d = tempfile.mkdtemp(prefix="parley-deploy-test-", dir="/tmp")
    os.chmod(d, 0o755)
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("PARLEY_") or k == "PARLEYD_BIN":
            del env[k]
    env.update(PARLEY_DEPLOY_DIR=d, PARLEY_PG_PORT=str(free_port()),
               PARLEY_REDIS_PORT=str(free_port()), PARLEY_LB_PORT=str(free_port()))
    yield env
    for script in ("nginx.sh", "redis.sh", "postgres.sh"):
        subprocess.run([str(DEPLOY / script), "stop"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(d, ignore_errors=True)


def test_every_script_has_help():
    for script in ("postgres.sh", "redis.sh", "nginx.sh", "node.sh", "dev.sh", "cluster.sh"):
        p = subprocess.run([str(DEPLOY / script), "--help"], capture_output=True, text=True)
        assert p.returncode == 0, script
        assert "Usage:" in p.stdout, script
        p = subprocess.run([str(DEPLOY / script), "bogus"], capture_output=True, text=True)
        assert p.returncode == 2, script


def test_default_ports_are_outside_the_ephemeral_range():
    # An engine's default port inside Linux's ephemeral range (32768-60999 by default) can be held
    # by any outgoing connection when the engine starts: "Address already in use" at random.
    import re
    defaults = {}
    for script in DEPLOY.rglob("*.sh"):
        for name, port in re.findall(r"(PARLEY_[A-Z0-9_]*PORT)[:][-=](\d+)", script.read_text()):
            defaults[f"{script.name}:{name}"] = int(port)
    assert len(defaults) >= 12, defaults
    low = 32768
    rng = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if rng.exists():
        low = min(low, int(rng.read_text().split()[0]))
    inside = {k: v for k, v in defaults.items() if v >= low}
    assert not inside, f"default ports inside the ephemeral range (from {low}): {inside}"


def test_dev_env_prints_the_test_variables(deploy_env):
    out = run("dev.sh", "env", env=deploy_env).stdout
    pg, redis = deploy_env["PARLEY_PG_PORT"], deploy_env["PARLEY_REDIS_PORT"]
    assert f"export PARLEY_TEST_POSTGRES_URL=postgres://parley@127.0.0.1:{pg}/parley" in out
    assert f"export PARLEY_TEST_REDIS_URL=redis://127.0.0.1:{redis}" in out
    assert "export PARLEY_TEST_KAFKA_BROKERS=127.0.0.1:29092" in out


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 not installed")
def test_postgres_lifecycle(deploy_env):
    port = deploy_env["PARLEY_PG_PORT"]
    p = run("postgres.sh", "status", env=deploy_env, check=False)
    assert p.returncode == 3 and "stopped" in p.stdout

    run("postgres.sh", "start", env=deploy_env)
    p = run("postgres.sh", "status", env=deploy_env)
    assert "running" in p.stdout and port in p.stdout
    assert run("postgres.sh", "url", env=deploy_env).stdout.strip() == \
        f"postgres://parley@127.0.0.1:{port}/parley"

    q = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", port, "-U", "parley", "-d", "parley",
                        "-c", "CREATE TABLE t(x int); INSERT INTO t VALUES (41);"
                              "SELECT x + 1, current_setting('fsync'), current_setting('max_connections') FROM t"],
                       capture_output=True, text=True, timeout=30)
    assert q.returncode == 0, q.stderr
    assert q.stdout.strip().splitlines()[-1] == "42|on|200"

    pidfile = Path(deploy_env["PARLEY_DEPLOY_DIR"]) / "postgres/data/postmaster.pid"
    pid_before = pidfile.read_text().splitlines()[0]
    p = run("postgres.sh", "start", env=deploy_env)
    assert "already running" in p.stdout
    assert pidfile.read_text().splitlines()[0] == pid_before

    run("postgres.sh", "stop", env=deploy_env)
    p = run("postgres.sh", "status", env=deploy_env, check=False)
    assert p.returncode == 3 and "stopped" in p.stdout
    assert "not running" in run("postgres.sh", "stop", env=deploy_env).stdout

    # The data survives a restart.
    run("postgres.sh", "start", env=deploy_env)
    q = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", port, "-U", "parley", "-d", "parley",
                        "-c", "SELECT x FROM t"], capture_output=True, text=True, timeout=30)
    assert q.stdout.strip() == "41", q.stderr
    run("postgres.sh", "stop", env=deploy_env)


def redis_cmd(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(1024)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_lifecycle(deploy_env):
    port = int(deploy_env["PARLEY_REDIS_PORT"])
    assert run("redis.sh", "status", env=deploy_env, check=False).returncode == 3

    run("redis.sh", "start", env=deploy_env)
    p = run("redis.sh", "status", env=deploy_env)
    assert "running" in p.stdout
    assert redis_cmd(port, b"PING\r\n") == b"+PONG\r\n"
    assert redis_cmd(port, b"SET parley:k v\r\n") == b"+OK\r\n"
    # No persistence: soft state only.
    assert b"save" in redis_cmd(port, b"CONFIG GET save\r\n")
    assert redis_cmd(port, b"CONFIG GET appendonly\r\n").endswith(b"no\r\n")

    pidfile = Path(deploy_env["PARLEY_DEPLOY_DIR"]) / "redis/redis.pid"
    pid_before = pidfile.read_text().strip()
    p = run("redis.sh", "start", env=deploy_env)
    assert "already running" in p.stdout
    assert pidfile.read_text().strip() == pid_before

    run("redis.sh", "stop", env=deploy_env)
    p = run("redis.sh", "status", env=deploy_env, check=False)
    assert p.returncode == 3 and "stopped" in p.stdout
    with pytest.raises(OSError):
        redis_cmd(port, b"PING\r\n")
    assert "not running" in run("redis.sh", "stop", env=deploy_env).stdout


# A tiny upstream: answers GET with its name and the headers it got, POST with the body length,
# and a WebSocket upgrade with 101 and then echoes bytes (enough to prove the tunnel works).
BACKEND = textwrap.dedent(r'''
    import base64, hashlib, json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    name, port = sys.argv[1], int(sys.argv[2])
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_GET(self):
            if self.headers.get("Upgrade", "").lower() == "websocket":
                key = self.headers["Sec-WebSocket-Key"]
                acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", acc)
                self.end_headers()
                self.wfile.flush()
                data = self.rfile.read(5)
                self.wfile.write(name.encode() + b":" + data)
                self.wfile.flush()
                self.close_connection = True
                return
            body = json.dumps({"name": name, "path": self.path,
                               "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_POST(self):
            n = 0
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    n += len(self.rfile.read(size))
                    self.rfile.readline()
            else:
                left = int(self.headers.get("Content-Length", "0"))
                while left:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    n += len(chunk)
                    left -= len(chunk)
            body = json.dumps({"name": name, "received": n}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
''')


def wait_port(port: int, timeout: float = 10) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


def http(method, url, data=None, headers=None):
    import json
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())


def ws_upgrade(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        expect = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert b"Sec-WebSocket-Accept: " + expect in head
        s.sendall(b"hello")
        while b"hello" not in rest:
            chunk = s.recv(4096)
            assert chunk, rest
            rest += chunk
        return rest


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx not installed")
def test_nginx_lifecycle_websocket_and_failover(deploy_env):
    lb = int(deploy_env["PARLEY_LB_PORT"])
    ports = [free_port() for _ in range(3)]
    backends = []
    try:
        for i, port in enumerate(ports, 1):
            backends.append(subprocess.Popen([sys.executable, "-c", BACKEND, f"b{i}", str(port)],
                                             start_new_session=True))
        for port in ports:
            wait_port(port)

        assert run("nginx.sh", "status", env=deploy_env, check=False).returncode == 3
        p = run("nginx.sh", "test", *[f"127.0.0.1:{p}" for p in ports], env=deploy_env)
        assert "successful" in p.stderr + p.stdout
        run("nginx.sh", "start", ",".join(f"127.0.0.1:{p}" for p in ports), env=deploy_env)
        p = run("nginx.sh", "status", env=deploy_env)
        assert "running" in p.stdout
        conf = (Path(deploy_env["PARLEY_DEPLOY_DIR"]) / "nginx/conf/parley.conf").read_text()
        for port in ports:
            assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" in conf

        # Requests go through, round-robin, with the forwarding headers set.
        seen = set()
        for _ in range(6):
            status, body = http("GET", f"http://127.0.0.1:{lb}/v1/anything")
            assert status == 200
            seen.add(body["name"])
            assert body["path"] == "/v1/anything"
            assert body["headers"]["x-forwarded-for"] == "127.0.0.1"
            assert body["headers"]["host"] == f"127.0.0.1:{lb}"
        assert seen == {"b1", "b2", "b3"}

        # Query strings (a WebSocket's access_token, a signed media link) stay out of the log.
        secret = "tok" + os.urandom(8).hex()
        status, _ = http("GET", f"http://127.0.0.1:{lb}/v1/ws-probe?access_token={secret}&sig=s")
        assert status == 200
        log = Path(deploy_env["PARLEY_DEPLOY_DIR"]) / "nginx/logs/access.log"
        for _ in range(50):   # nginx writes the line after answering
            if log.exists() and "/v1/ws-probe" in log.read_text():
                break
            time.sleep(0.05)
        text = log.read_text()
        assert "GET /v1/ws-probe HTTP/1.1" in text, text[-500:]
        assert secret not in text

        # A body larger than nginx's 1 MiB default passes (uploads).
        big = os.urandom(5 << 20)
        status, body = http("POST", f"http://127.0.0.1:{lb}/v1/upload", data=big,
                            headers={"Content-Type": "application/octet-stream"})
        assert (status, body["received"]) == (200, len(big))

        # WebSocket upgrade through the balancer.
        assert b"hello" in ws_upgrade(lb)

        # A dead node is skipped: every request still succeeds.
        backends[1].send_signal(signal.SIGKILL)
        backends[1].wait()
        names = [http("GET", f"http://127.0.0.1:{lb}/")[1]["name"] for _ in range(12)]
        assert set(names) == {"b1", "b3"}
        status, body = http("POST", f"http://127.0.0.1:{lb}/v1/x", data=b"abc")
        assert status == 200 and body["received"] == 3

        pidfile = Path(deploy_env["PARLEY_DEPLOY_DIR"]) / "nginx/nginx.pid"
        pid_before = pidfile.read_text().strip()
        p = run("nginx.sh", "start", env=deploy_env)
        assert "already running" in p.stdout
        assert pidfile.read_text().strip() == pid_before

        run("nginx.sh", "stop", env=deploy_env)
        p = run("nginx.sh", "status", env=deploy_env, check=False)
        assert p.returncode == 3 and "stopped" in p.stdout
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", lb), timeout=1).close()
        assert "not running" in run("nginx.sh", "stop", env=deploy_env).stdout
    finally:
        for b in backends:
            if b.poll() is None:
                b.kill()
                b.wait()


def test_node_start_failure_prints_the_log_tail(deploy_env, tmp_path):
    fake = tmp_path / "parleyd"
    fake.write_text("#!/bin/sh\necho \"fake parleyd: got $*\"\n"
                    "echo \"fake parleyd: media store ${PARLEY_MEDIA_STORE%%:*}\"\n"
                    "echo 'boom: cannot reach the store' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = dict(deploy_env, PARLEYD_BIN=str(fake), PARLEY_NODE_BASE_PORT=str(free_port() - 1))
    p = run("node.sh", "start", "1", env=env, check=False)
    assert p.returncode == 1
    assert "boom: cannot reach the store" in p.stderr
    for flag in ("--store postgres://parley@127.0.0.1:", "--bus kafka://127.0.0.1:29092",
                 "--cluster redis://127.0.0.1:", "--node-id node1", "--secrets-dir",
                 "--search opensearch://127.0.0.1:", "--ship-logs opensearch://127.0.0.1:"):
        assert flag in p.stderr, flag
    # The S3 URL (it holds the secret key) reaches parleyd through its environment only.
    assert "fake parleyd: media store s3" in p.stderr
    assert "s3://" not in p.stderr and "--media-dir" not in p.stderr
    assert run("node.sh", "status", "1", env=env, check=False).returncode == 3


PARLEYD = REPO / "build" / "parleyd"


@pytest.mark.skipif(not PARLEYD.exists(), reason="build/parleyd not built")
def test_embedded_node_behind_nginx(deploy_env):
    base = free_port() - 1
    env = dict(deploy_env, PARLEY_NODE_MODE="embedded", PARLEY_NODE_BASE_PORT=str(base),
               PARLEYD_BIN=str(PARLEYD))
    try:
        run("node.sh", "start", "1", env=env)
        assert "already running" in run("node.sh", "start", "1", env=env).stdout
        assert "ready" in run("node.sh", "status", "1", env=env).stdout
        run("nginx.sh", "start", f"127.0.0.1:{base + 1}", env=env)
        lb = env["PARLEY_LB_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{lb}/readyz", timeout=10) as r:
            assert r.status == 200
    finally:
        run("nginx.sh", "stop", env=env, check=False)
        run("node.sh", "stop", "1", env=env, check=False)
    assert run("node.sh", "status", "1", env=env, check=False).returncode == 3


@pytest.mark.skipif(not all(shutil.which(t) for t in ("java", "mvn", "curl")),
                    reason="java, mvn or curl not installed")
def test_s3proxy_lifecycle(deploy_env):
    env = dict(deploy_env, PARLEY_S3_PORT=str(free_port()))
    script = "s3proxy/s3proxy.sh"
    assert "Usage:" in run(script, "--help", env=env).stdout
    assert run(script, "bogus", env=env, check=False).returncode == 2
    try:
        run(script, "start", env=env, timeout=600)
        assert run(script, "status", env=env).returncode == 0
        assert "already running" in run(script, "start", env=env).stdout
        url = run(script, "url", env=env).stdout.strip()
        port = env["PARLEY_S3_PORT"]
        assert url == f"s3://parley:parley-dev-secret@127.0.0.1:{port}/parley-media"
        assert f"PARLEY_TEST_S3_URL={url}" in run("dev.sh", "env", env=env).stdout
        # A signed PUT and GET of an object, with curl's own SigV4 signer.
        obj = f"http://127.0.0.1:{port}/parley-media/hello.txt"
        sig = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "parley:parley-dev-secret",
               "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        subprocess.run(["curl", "-sf", "-X", "PUT", "--data-binary", "hi", *sig, obj],
                       check=True, timeout=30)
        got = subprocess.run(["curl", "-sf", *sig, obj], capture_output=True, check=True,
                             timeout=30)
        assert got.stdout == b"hi"
        # Unsigned: refused.
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", obj],
                              capture_output=True, text=True, timeout=30).stdout
        assert code == "403"
    finally:
        run(script, "stop", env=env, check=False)
    assert "not running" in run(script, "stop", env=env).stdout
    assert run(script, "status", env=env, check=False).returncode == 3


def test_run_sh_passes_listen_and_data_dir_through():
    """./run.sh with --listen and --data-dir of its own (it used to add its defaults too, and
    parleyd refused the second --listen)."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="parley-run-")
    log = open(Path(data) / "run.log", "w+")
    proc = subprocess.Popen([str(REPO / "run.sh"), "--listen", f"127.0.0.1:{port}",
                             "--data-dir", data], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # setup and build are no-ops when done already
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"run.sh exited {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("parleyd did not answer on the --listen address")
        assert (Path(data) / "parley.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(data, ignore_errors=True)
