"""End-to-end tests of the scale-out profile: three `parleyd` nodes on PostgreSQL, Redis,
Kafka, Cassandra, OpenSearch and S3Proxy behind nginx, all started with the deploy/ scripts.

The session fixture `cluster` runs `deploy/dev.sh up`, `deploy/node.sh start 1..3` and
`deploy/nginx.sh start`, and the reverse at the end. By default everything lives in a fresh
PARLEY_DEPLOY_DIR under /tmp with free, non-default ports (so a development cluster or another
test run on the default ports is neither used nor disturbed); PARLEY_SCALEOUT_REUSE=1 uses
$PARLEY_DEPLOY_DIR (default <repo>/.deploy) and the configured ports instead, and stops only what
it started. See README.md beside this file.

The HTTP/WebSocket client (Api, User, WS, ...) is the one of tests/integration/conftest.py,
loaded under another module name (tests/integration is not modified and its fixtures are not
registered here).
"""
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"

# --- the client of the integration tests ------------------------------------------------------

_spec = importlib.util.spec_from_file_location(
    "parley_integration_client", REPO_ROOT / "tests" / "integration" / "conftest.py")
_client = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _client
_spec.loader.exec_module(_client)

Api = _client.Api
User = _client.User
WS = _client.WS
WSClosed = _client.WSClosed
assert_error = _client.assert_error
expect_status = _client.expect_status
unique_username = _client.unique_username
new_client_msg_id = _client.new_client_msg_id
msg_of = _client.msg_of
presence_of = _client.presence_of
frame_error_code = _client.frame_error_code
poll = _client.poll
signup = _client.signup
login = _client.login

# --- settings ---------------------------------------------------------------------------------

N_NODES = 3
REUSE = os.environ.get("PARLEY_SCALEOUT_REUSE", "0") == "1"
KEEP = os.environ.get("PARLEY_SCALEOUT_KEEP", "0") == "1"
GRACE_MS = int(os.environ.get("PARLEY_SCALEOUT_GRACE_MS", "1000"))
# Bounds. The machine has 2 shared cores (and Kafka's JVM): generous, but every wait is bounded.
SCRIPT_TIMEOUT_S = float(os.environ.get("PARLEY_SCALEOUT_SCRIPT_TIMEOUT", "240"))
DELIVERY_TIMEOUT_S = float(os.environ.get("PARLEY_SCALEOUT_DELIVERY_TIMEOUT", "10"))
WARMUP_TIMEOUT_S = float(os.environ.get("PARLEY_SCALEOUT_WARMUP_TIMEOUT", "90"))
HTTP_TIMEOUT_S = 10

ADMIN = "scaleout_admin"   # signs up on a node; Cluster.grant_admin gives it the role
NODE_ARGS = (f"--rate-signup-per-min 0 --rate-login-per-min 0 --rate-send-per-min 0 "
             f"--rate-upload-per-min 0 --rate-claim-per-min 0 --rate-typing-per-min 0 "
             f"--rate-to-device-per-min 0 --rate-to-device-bytes-per-min 0 "
             f"--presence-offline-after-ms {GRACE_MS}")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    # Also nothing listening on another address family / wildcard (Kafka listens on ::ffff:..).
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False
    except OSError:
        return True


def _free_port(taken) -> int:
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in taken and _port_free(p):
            taken.add(p)
            return p
    raise RuntimeError("no free port")


def _free_block(taken, n) -> int:
    """A base port such that base+1..base+n are all free."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 30000)
        ports = [base + i for i in range(1, n + 1)]
        if not set(ports) & taken and all(_port_free(p) for p in ports):
            taken.update(ports)
            return base
    raise RuntimeError("no free block of node ports")


# --- the cluster ------------------------------------------------------------------------------

class Node:
    """One endpoint clients talk to: a parleyd node (n = 1..3) or the balancer (n = 0)."""

    def __init__(self, cluster, n, port):
        self.cluster = cluster
        self.n = n
        self.port = port

    @property
    def name(self):
        return f"node{self.n}" if self.n else "lb"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    @property
    def pid_file(self) -> Path:
        return self.cluster.deploy_dir / "nodes" / self.name / "parleyd.pid"

    @property
    def log_file(self) -> Path:
        return self.cluster.deploy_dir / "nodes" / self.name / "parleyd.log"

    def pid(self):
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return None
        return pid if comm.startswith("parleyd") and state != "Z" else None

    def ready(self) -> bool:
        try:
            return requests.get(self.base + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def metric(self, name):
        """An unlabelled counter or gauge of the node's /metrics (None if unreadable)."""
        try:
            text = requests.get(self.base + "/metrics", timeout=5).text
        except requests.RequestException:
            return None
        m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+([0-9.eE+-]+)\s*$", text, re.M)
        return int(float(m.group(1))) if m else None

    def ws_connections(self):
        """The node's parley_ws_connections gauge (None if unreadable)."""
        return self.metric("parley_ws_connections")

    def __repr__(self):
        return f"<{self.name} :{self.port}>"


class Cluster:
    def __init__(self):
        self.started = []          # what this session started, to stop it again
        self.created_db = None
        self.warmup_s = None
        parleyd = Path(os.environ.get("PARLEYD_BIN", REPO_ROOT / "build" / "parleyd"))
        if not parleyd.is_absolute():
            parleyd = (Path.cwd() / parleyd) if (Path.cwd() / parleyd).exists() \
                else REPO_ROOT / parleyd
        self.parleyd = parleyd
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PARLEY_") and k != "PARLEYD_BIN"}
        keep = ("PARLEY_NODE_READY_TIMEOUT", "PARLEY_NODE_STOP_TIMEOUT", "PARLEY_KAFKA_HEAP",
                "PARLEY_KAFKA_START_TIMEOUT", "PARLEY_NGINX_USER", "PARLEY_PG_BIN")
        for k in keep:
            if k in os.environ:
                env[k] = os.environ[k]
        env.setdefault("PARLEY_NODE_READY_TIMEOUT", "120")
        env["PARLEYD_BIN"] = str(parleyd)
        env["PARLEY_NODE_ARGS"] = (NODE_ARGS + " " + os.environ.get("PARLEY_NODE_ARGS", "")).strip()
        # The same settings by environment, in case a flag is renamed (flags win).
        for name in ("SIGNUP", "LOGIN", "SEND", "UPLOAD"):
            env[f"PARLEY_RATE_{name}_PER_MIN"] = "0"
        env["PARLEY_PRESENCE_OFFLINE_AFTER_MS"] = str(GRACE_MS)
        env["PARLEY_WEB_ROOT"] = "off"
        if "PARLEY_NODE_MODE" in os.environ:       # embedded: to try the tests without engines
            env["PARLEY_NODE_MODE"] = os.environ["PARLEY_NODE_MODE"]

        if REUSE:
            self.tmp = None
            self.deploy_dir = Path(os.environ.get("PARLEY_DEPLOY_DIR", REPO_ROOT / ".deploy"))
            ports = {k: os.environ.get(k, d) for k, d in (
                ("PARLEY_PG_PORT", "25432"), ("PARLEY_REDIS_PORT", "26379"),
                ("PARLEY_KAFKA_PORT", "29092"), ("PARLEY_LB_PORT", "28080"),
                ("PARLEY_NODE_BASE_PORT", "18080"))}
            if "PARLEY_KAFKA_CONTROLLER_PORT" in os.environ:
                ports["PARLEY_KAFKA_CONTROLLER_PORT"] = os.environ["PARLEY_KAFKA_CONTROLLER_PORT"]
        else:
            # Not pytest's tmp_path: that is mode 0700, and as root PostgreSQL and nginx run as
            # other users, who must be able to reach the deploy dir.
            self.tmp = Path(tempfile.mkdtemp(prefix="parley-scaleout-", dir="/tmp"))
            os.chmod(self.tmp, 0o755)
            self.deploy_dir = self.tmp / "deploy"
            self.deploy_dir.mkdir()
            os.chmod(self.deploy_dir, 0o755)
            taken = set()
            ports = {}
            for k in ("PARLEY_PG_PORT", "PARLEY_REDIS_PORT", "PARLEY_KAFKA_PORT",
                      "PARLEY_KAFKA_CONTROLLER_PORT", "PARLEY_LB_PORT", "PARLEY_OPENSEARCH_PORT",
                      "PARLEY_OPENSEARCH_TRANSPORT_PORT", "PARLEY_S3_PORT",
                      "PARLEY_CASSANDRA_PORT", "PARLEY_CASSANDRA_STORAGE_PORT",
                      "PARLEY_CASSANDRA_JMX_PORT"):
                ports[k] = os.environ.get(f"PARLEY_SCALEOUT_{k[len('PARLEY_'):]}") \
                    or str(_free_port(taken))
            ports["PARLEY_NODE_BASE_PORT"] = os.environ.get("PARLEY_SCALEOUT_NODE_BASE_PORT") \
                or str(_free_block(taken, N_NODES))
            self._seed_jar_caches()
        env.update(ports)
        # The nodes run on PostgreSQL, Redis and Kafka, keep message rows in Cassandra, search on
        # OpenSearch and keep media in S3Proxy (deploy/node.sh); PARLEY_DEV_SKIP_<ENGINE>=1
        # leaves one out (the nodes then use PostgreSQL / their own index / a shared directory).
        self.messages_on_cassandra = env.get("PARLEY_DEV_SKIP_CASSANDRA", "0") != "1"
        self.search_on_opensearch = env.get("PARLEY_DEV_SKIP_OPENSEARCH", "0") != "1"
        self.media_on_s3 = env.get("PARLEY_DEV_SKIP_S3", "0") != "1"
        env["PARLEY_DEPLOY_DIR"] = str(self.deploy_dir)
        self.env = env
        base = int(ports["PARLEY_NODE_BASE_PORT"])
        self.nodes = [Node(self, n, base + n) for n in range(1, N_NODES + 1)]
        self.lb = Node(self, 0, int(ports["PARLEY_LB_PORT"]))
        self.pg_port = int(ports["PARLEY_PG_PORT"])

    def node(self, n) -> Node:
        return self.nodes[n - 1]

    def _seed_jar_caches(self):
        """Kafka's, OpenSearch's and S3Proxy's jars are fetched with Maven into the deploy dir;
        copy them from a deploy dir that has them (PARLEY_SCALEOUT_JAR_CACHE, default the
        development one, <repo>/.deploy) rather than fetching again."""
        cache = Path(os.environ.get("PARLEY_SCALEOUT_JAR_CACHE", REPO_ROOT / ".deploy"))
        for sub in ("kafka/libs", "opensearch/home", "s3proxy/libs", "cassandra/libs"):
            src = cache / sub
            if src.is_dir() and list(src.glob(".complete-*")):
                shutil.copytree(src, self.deploy_dir / sub, symlinks=True)

    # scripts

    def script(self, *args, check=True, timeout=SCRIPT_TIMEOUT_S, env=None):
        p = subprocess.run([str(DEPLOY / args[0]), *args[1:]], env={**self.env, **(env or {})},
                           capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
        if check and p.returncode != 0:
            raise AssertionError(f"deploy/{' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-6000:]}")
        return p

    def running(self, script) -> bool:
        return self.script(script, "status", check=False, timeout=60).returncode == 0

    def start_node(self, n, *extra, env=None):
        """Starts node n (node.sh start) with `extra` flags and `env` added to its environment
        (e.g. a test's fault injection)."""
        was = self.node(n).pid() is not None
        self.script("node.sh", "start", str(n), *extra, env=env)
        if not was and ("node", n) not in self.started:
            self.started.append(("node", n))

    def stop_node(self, n):
        self.script("node.sh", "stop", str(n), check=False)

    def kill_node(self, n) -> int:
        """SIGKILL node n by its pid file, as a crash would; returns the pid."""
        node = self.node(n)
        pid = node.pid()
        assert pid, f"{node.name} is not running (pid file {node.pid_file})"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while node.pid() == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.pid() != pid, f"{node.name} (pid {pid}) survived SIGKILL"
        return pid

    def up(self):
        if not self.parleyd.exists():
            pytest.exit(f"parleyd not found at {self.parleyd} (build it or set PARLEYD_BIN)", 2)
        engines_were_up = REUSE and self.running("dev.sh")
        self.script("dev.sh", "up")
        if not engines_were_up:
            self.started.append(("engines",))
        if REUSE and not any(n.pid() for n in self.nodes):
            self._fresh_database()
        for n in range(1, N_NODES + 1):
            self.start_node(n)
        lb_was_up = self.running("nginx.sh")
        self.script("nginx.sh", "start", *[f"127.0.0.1:{x.port}" for x in self.nodes])
        if not lb_was_up:
            self.started.append(("nginx",))
        deadline = time.monotonic() + 30
        while not self.lb.ready():
            assert time.monotonic() < deadline, "the balancer does not answer /readyz"
            time.sleep(0.2)

    def sql(self, query) -> list:
        """Rows (lists of strings) of a query on the nodes' PostgreSQL database."""
        db = self.env.get("PARLEY_NODE_STORE", "").rsplit("/", 1)[-1] or "parley"
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "parley", "-d", db,
                            "-c", query], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def _fresh_database(self):
        """With PARLEY_SCALEOUT_REUSE=1: a throwaway database for this session (role parley
        has CREATEDB), so earlier runs' users and groups are not in the way."""
        name = f"parley_scaleout_{os.getpid()}_{random.randrange(1 << 30):x}"
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.pg_port), "-U", "parley", "-d", "parley",
                            "-c", f"CREATE DATABASE {name}"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            print(f"scaleout: could not create a fresh database ({p.stderr.strip()}); "
                  f"using the default one (usernames are unique anyway)", file=sys.stderr)
            return
        self.created_db = name
        self.env["PARLEY_NODE_STORE"] = f"postgres://parley@127.0.0.1:{self.pg_port}/{name}"

    def store_url(self) -> str:
        return self.env.get("PARLEY_NODE_STORE",
                            f"postgres://parley@127.0.0.1:{self.pg_port}/parley")

    def grant_admin(self, username: str):
        """The operator's `parleyd admin grant` against the cluster's PostgreSQL (a node's user
        cache may serve the old record for up to its TTL; a user not yet read is exact)."""
        with tempfile.TemporaryDirectory(prefix="parley-admin-") as d:
            p = subprocess.run([str(self.parleyd), "admin", "grant", username, "--store",
                                self.store_url(), "--data-dir", d],
                               capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"admin grant {username}: {p.returncode}\n{p.stdout}{p.stderr}"

    def down(self):
        errors = []
        if REUSE:
            for what in reversed(self.started):
                try:
                    if what[0] == "nginx":
                        self.script("nginx.sh", "stop", check=False)
                    elif what[0] == "node":
                        self.stop_node(what[1])
                    elif what[0] == "engines":
                        self.script("dev.sh", "down", check=False)
                except Exception as e:  # noqa: BLE001 - go on stopping the rest
                    errors.append(str(e))
            if self.created_db and not any(n.pid() for n in self.nodes):
                subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port),
                                "-U", "parley", "-d", "parley", "-c",
                                f"DROP DATABASE IF EXISTS {self.created_db}"],
                               capture_output=True, timeout=60)
            return errors
        # A private deploy dir: stop everything in it (cluster.sh down: nginx, nodes, engines).
        p = self.script("cluster.sh", "down", check=False, timeout=300)
        if p.returncode != 0:
            errors.append(p.stderr[-2000:])
        return errors

    def log_tails(self, lines=40) -> dict:
        out = {}
        files = [(n.name, n.log_file) for n in self.nodes] + [
            ("nginx error.log", self.deploy_dir / "nginx" / "logs" / "error.log"),
            ("kafka", self.deploy_dir / "kafka" / "kafka.log")]
        for name, f in files:
            try:
                text = f.read_text(errors="replace").splitlines()
            except OSError:
                continue
            if name == "kafka":     # chatty at INFO: only its warnings and errors
                text = [x for x in text if " WARN " in x or " ERROR " in x][-10:]
            out[name] = "\n".join(text[-lines:])
        return out

    def ensure_all_up(self):
        """Every node running and ready (a test may have killed one)."""
        for node in self.nodes:
            if node.pid() is None or not node.ready():
                if node.pid() is None:
                    self.start_node(node.n)
                else:
                    deadline = time.monotonic() + 60
                    while not node.ready():
                        assert time.monotonic() < deadline, f"{node.name} not ready"
                        time.sleep(0.2)


_CLUSTER = None


@pytest.fixture(scope="session")
def cluster(request):
    global _CLUSTER
    c = Cluster()
    _CLUSTER = c
    t0 = time.monotonic()
    try:
        c.up()
        c.up_s = time.monotonic() - t0
        c.warmup_s = _warm_up(c) if os.environ.get("PARLEY_SCALEOUT_SKIP_WARMUP") != "1" else 0.0
        record_figure("cluster_start", deploy_dir=c.deploy_dir, lb_port=c.lb.port,
                      node_ports="/".join(str(n.port) for n in c.nodes),
                      seconds_to_up=round(c.up_s, 1),
                      seconds_until_cross_node_delivery_works=round(c.warmup_s, 1))
    except BaseException:
        tails = c.log_tails(80)
        for name, tail in tails.items():
            print(f"\n---- {name} (last lines) ----\n{tail}", file=sys.stderr)
        c.down()
        if c.tmp and not KEEP:
            shutil.rmtree(c.tmp, ignore_errors=True)
        raise
    yield c
    failed = request.session.testsfailed
    errors = c.down()
    _CLUSTER = None
    if errors:
        print("scaleout: teardown problems:\n" + "\n".join(errors), file=sys.stderr)
    if c.tmp:
        if KEEP or failed:
            print(f"\nscaleout: deploy dir kept for inspection: {c.deploy_dir}", file=sys.stderr)
        else:
            shutil.rmtree(c.tmp, ignore_errors=True)


def _warm_up(c: Cluster) -> float:
    """Waits (bounded) until a message sent on node 1 reaches a WebSocket on every node: nodes
    answer /readyz before their Kafka consumers have their partitions, and the first test should
    not measure that. Returns the seconds it took (reported in the summary)."""
    t0 = time.monotonic()
    api1 = Api(c.node(1).base)
    sender = make_user(api1, c.node(1), "warm")
    for node in c.nodes:
        rcpt = make_user(Api(node.base), node, "warm")
        ws = rcpt.ws()
        try:
            deadline = time.monotonic() + WARMUP_TIMEOUT_S
            while True:
                sent = sender.send(to=rcpt, body=f"warm-up {node.name}")
                got, until = False, time.monotonic() + 1.0
                while not got and (left := until - time.monotonic()) > 0:
                    f = ws._recv_raw(left)
                    if f is None:
                        break
                    got = f.get("type") == "message" and \
                        msg_of(f).get("message_id") == sent["message_id"]
                if got:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"warm-up: a message sent on node1 never reached a WebSocket on "
                                f"{node.name} within {WARMUP_TIMEOUT_S}s")
        finally:
            ws.close()
            if ws in WS._open:
                WS._open.remove(ws)
    return time.monotonic() - t0


@pytest.fixture
def nodes(cluster):
    """node 1..3 (index 0 is the balancer): nodes[1] is node 1."""
    cluster.ensure_all_up()
    return [cluster.lb] + cluster.nodes


@pytest.fixture
def lb(cluster):
    return cluster.lb


# --- users ------------------------------------------------------------------------------------

def make_user(api: Api, node: Node, prefix="u", device_name="scaleout") -> User:
    username, password, _ = signup(api, unique_username(f"so{prefix}"))
    return User(api, node, username, password,
                login(api, username, password, device_name=device_name))


def on(user: User, node: Node) -> User:
    """The same device (same tokens) talking to another node, with its own HTTP session."""
    return User(Api(node.base), node, user.username, user.password,
                {"user_id": user.user_id, "device_id": user.device_id,
                 "access_token": user.access_token, "refresh_token": user.refresh_token})


@pytest.fixture
def new_user(nodes):
    """new_user(node_n, prefix): signs up and logs in (on node n) a fresh user; its HTTP calls
    and its ws() go to that node."""
    return lambda n=1, prefix="u": make_user(Api(nodes[n].base), nodes[n], prefix)


@pytest.fixture(autouse=True)
def _close_websockets():
    yield
    while WS._open:
        WS._open.pop().close()


# --- reporting --------------------------------------------------------------------------------

_FIGURES = []


def record_figure(name: str, **values):
    _FIGURES.append((name, values))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _CLUSTER is not None:
        for name, tail in _CLUSTER.log_tails().items():
            rep.sections.append((f"{name} (last lines)", tail))


def pytest_terminal_summary(terminalreporter):
    c = _CLUSTER
    lines = []
    if _FIGURES:
        for name, values in _FIGURES:
            lines.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    if lines:
        terminalreporter.section("scale-out figures")
        for line in lines:
            terminalreporter.write_line(line)
