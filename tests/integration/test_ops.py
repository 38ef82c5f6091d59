"""Operations endpoints: /healthz, /readyz, /metrics."""
import re
import shutil

import requests

from conftest import HTTP_TIMEOUT_S, ParleyServer

SAMPLE = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*"                          # metric name
    r"(\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\]|\\.)*\",?)*\})?"  # labels
    r" [-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf|Inf)"  # value
    r"( -?[0-9]+)?$")                                     # timestamp
TYPE_LINE = re.compile(r"^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$")


def test_healthz(server):
    r = requests.get(server.base + "/healthz", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200


def test_readyz(server):
    r = requests.get(server.base + "/readyz", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200


def test_ops_need_no_auth_even_with_a_bad_token(server):
    # Unauthenticated endpoints ignore Authorization (a probe with a stale token still works).
    for path in ("/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"):
        r = requests.get(server.base + path, headers={"Authorization": "Bearer junk"},
                         timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])


def test_metrics_prometheus_text(server, new_user):
    new_user()   # some traffic first
    r = requests.get(server.base + "/metrics", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    lines = [line for line in r.text.split("\n") if line.strip()]
    samples = [line for line in lines if not line.startswith("#")]
    assert samples, "no metrics at all"
    bad = [line for line in samples if not SAMPLE.match(line)]
    assert not bad, f"lines not in Prometheus text format: {bad[:5]}"
    for line in lines:
        if line.startswith("# TYPE"):
            assert TYPE_LINE.match(line), line
        elif line.startswith("#"):
            assert line.startswith("# HELP ") or line.startswith("# "), line
    names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s).group(0) for s in samples}
    typed = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    # Every TYPE names a metric family that has samples (histograms add suffixes).
    for t in typed:
        assert any(n == t or n.startswith(t + "_") for n in names), f"TYPE {t} without samples"


def parse_samples(text):
    """(name with labels, value) for every sample line."""
    out = []
    for line in text.split("\n"):
        if line.strip() and not line.startswith("#") and SAMPLE.match(line):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            key = line[:line.rindex("}") + 1] if "}" in line else name
            out.append((key, float(line[len(key):].split()[0])))
    return out


def test_metrics_move_with_traffic(server, new_user):
    # Contract silent on metric names; some metric must move after HTTP traffic.
    def snapshot():
        text = requests.get(server.base + "/metrics", timeout=HTTP_TIMEOUT_S).text
        return dict(parse_samples(text))
    before = snapshot()
    u = new_user()
    for _ in range(5):
        u.get("/v1/devices")
    after = snapshot()
    assert any(after.get(k) != v for k, v in before.items()), "no metric moved after traffic"


def test_readyz_asks_the_media_store(tmp_path):
    """/readyz is 503 naming the media store while it cannot be written, 200 again once it can;
    /healthz (alive) stays 200 throughout."""
    media = tmp_path / "media"
    srv = ParleyServer(tmp_path / "data", ["--media-dir", str(media)])
    srv.start()
    try:
        assert requests.get(srv.base + "/readyz", timeout=HTTP_TIMEOUT_S).status_code == 200
        shutil.rmtree(media / "tmp")
        r = requests.get(srv.base + "/readyz", timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 503, r.text
        assert "media store" in r.json()["error"]["message"], r.text
        assert requests.get(srv.base + "/healthz", timeout=HTTP_TIMEOUT_S).status_code == 200
        (media / "tmp").mkdir()
        assert requests.get(srv.base + "/readyz", timeout=HTTP_TIMEOUT_S).status_code == 200
    finally:
        srv.stop()
