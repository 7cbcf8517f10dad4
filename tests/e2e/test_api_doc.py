# Keeps api/openapi.yaml and Documentation/api.md true: the YAML must be what
# tools/dev/gen-openapi makes from the route rows in api/*.c, api.md must list
# every route, and a running skiffd must answer every documented operation the
# way the document says (implemented: not 404/501; x-skiff-not-implemented:
# that status and message; x-skiff-unrouted: 404).
import importlib.machinery
import importlib.util
import io
import json
import os
import re
import subprocess
import tarfile
import urllib.parse

import pytest

from conftest import ROOT, finish_daemon, start_daemon

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (tools/dev/deps test)")

GEN = os.path.join(ROOT, "tools", "dev", "gen-openapi")
OPENAPI = os.path.join(ROOT, "api", "openapi.yaml")
API_MD = os.path.join(ROOT, "Documentation", "api.md")
PY = "/usr/bin/python3"


def load_gen():
    loader = importlib.machinery.SourceFileLoader("gen_openapi", GEN)
    spec = importlib.util.spec_from_loader("gen_openapi", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def doc():
    with open(OPENAPI) as f:
        return yaml.safe_load(f)


def run_check(env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([PY, GEN, "--check"], capture_output=True, text=True, env=env, timeout=120)


def test_openapi_matches_route_table():
    r = run_check()
    assert r.returncode == 0, "api/openapi.yaml is stale (run tools/dev/gen-openapi):\n" + r.stderr[-6000:]


def test_openapi_check_without_docker_spec():
    """Machines without Docker's spec regenerate from the committed file."""
    r = run_check({"SKIFF_DOCKER_SPEC": "/nonexistent/docker-engine-api.yaml"})
    assert r.returncode == 0, r.stderr[-6000:]


def test_check_fails_on_a_stale_file():
    """The check can fail: a document missing one implemented path differs."""
    gen = load_gen()
    routes = gen.read_routes()
    cur, low = gen.read_versions()
    spec, ops, _ = gen.load_source(gen.DEFAULT_SPEC)
    full = gen.render(gen.build(routes, spec, ops, cur, low))
    with open(OPENAPI) as f:
        assert f.read() == full
    fewer = [r for r in routes if r["pattern"] != "/containers/{id}/top"]
    assert len(fewer) == len(routes) - 1
    assert gen.render(gen.build(fewer, spec, ops, cur, low)) != full


def test_openapi_shape(doc):
    gen = load_gen()
    assert doc["swagger"] == "2.0"
    assert doc["info"]["title"] == "skiff Engine API"
    assert doc["info"]["version"] == "1.50"
    assert "Documentation/api.md" in doc["info"]["description"]
    for path, item in doc["paths"].items():
        assert "*" not in path, path
        for op in item.values():
            refs = set()
            gen.refs(op, refs)
            assert refs <= set(doc["definitions"]), (path, refs - set(doc["definitions"]))


def md_rows():
    """(methods, shape) for every endpoint row of api.md's tables."""
    rows = []
    with open(API_MD) as f:
        for line in f:
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and cells[1].startswith("/"):
                methods = {m.strip().upper() for m in re.split(r"[,/ ]+", cells[0]) if m.strip()}
                rows.append((methods, re.sub(r"\{\w+\*?\}", "{}", cells[1])))
    return rows


def test_api_md_lists_every_route():
    gen = load_gen()
    rows = md_rows()
    assert rows, "no endpoint rows found in Documentation/api.md"
    missing = []
    for r in gen.read_routes():
        shp = re.sub(r"\{\w+\*?\}", "{}", r["pattern"])
        want = {"ANY"} if set(r["methods"]) == gen.ALL_METHODS else set(r["methods"])
        if not any(shp == s and want <= m for m, s in rows):
            missing.append("%s %s" % ("|".join(sorted(want)), r["pattern"]))
    assert not missing, "Documentation/api.md lacks rows for: %s" % missing


# ---------------------------------------------------------------- live daemon

@pytest.fixture(scope="module")
def apid(busybox_tar):
    """A daemon of its own: the probes rename, prune and delete."""
    d = start_daemon("apidoc", busybox_tar)
    yield d
    finish_daemon(d)


NONE_FILTER = urllib.parse.quote(json.dumps({"label": ["skiff.test.apidoc=never"]}))


def probes(busybox_tar):
    """(method, documented path, request path, body, headers) in an order
    that keeps the objects the later ones need; {id} is filled in later."""
    with open(busybox_tar, "rb") as f:
        tar = f.read()
    x_tar = {"Content-Type": "application/x-tar"}
    cp_buf = io.BytesIO()
    with tarfile.open(fileobj=cp_buf, mode="w") as t:
        ti = tarfile.TarInfo("apidoc.txt")
        ti.size = 2
        t.addfile(ti, io.BytesIO(b"hi"))
    cp_tar = cp_buf.getvalue()
    build_buf = io.BytesIO()
    with tarfile.open(fileobj=build_buf, mode="w") as t:
        df = b"FROM busybox:latest\nLABEL apidoc=1\n"
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(df)
        t.addfile(ti, io.BytesIO(df))
    build_tar = build_buf.getvalue()
    return [
        ("GET", "/_ping", "/_ping", None, None),
        ("HEAD", "/_ping", "/_ping", None, None),
        ("GET", "/version", "/version", None, None),
        ("GET", "/info", "/info", None, None),
        ("GET", "/events", "/events?since=1&until=2", None, None),
        ("GET", "/system/df", "/system/df", None, None),
        ("GET", "/plugins", "/plugins", None, None),
        ("POST", "/images/create", "/images/create?fromImage=busybox&tag=latest", None, None),
        ("POST", "/images/load", "/images/load?quiet=1", tar, x_tar),
        ("GET", "/images/get", "/images/get?names=busybox:latest", None, None),
        ("GET", "/images/json", "/images/json", None, None),
        ("POST", "/images/prune", "/images/prune?filters=" + NONE_FILTER, None, None),
        ("GET", "/images/{name}/get", "/images/busybox:latest/get", None, None),
        ("GET", "/images/{name}/json", "/images/busybox:latest/json", None, None),
        ("GET", "/images/{name}/history", "/images/busybox:latest/history", None, None),
        ("POST", "/images/{name}/tag", "/images/busybox:latest/tag?repo=apidoc&tag=t1", None, None),
        ("DELETE", "/images/{name}", "/images/apidoc:t1", None, None),
        ("POST", "/containers/create", "/containers/create?name=apidoc",
         {"Image": "busybox:latest", "Cmd": ["sleep", "60"]}, None),
        ("GET", "/containers/json", "/containers/json?all=1", None, None),
        ("POST", "/containers/prune", "/containers/prune?filters=" + NONE_FILTER, None, None),
        ("GET", "/containers/{id}/json", "/containers/{id}/json", None, None),
        ("POST", "/containers/{id}/start", "/containers/{id}/start", None, None),
        ("GET", "/containers/{id}/top", "/containers/{id}/top", None, None),
        ("GET", "/containers/{id}/stats", "/containers/{id}/stats?stream=0&one-shot=1", None, None),
        ("POST", "/containers/{id}/exec", "/containers/{id}/exec", {"Cmd": ["sleep", "1"]}, None),
        ("GET", "/exec/{id}/json", "/exec/{eid}/json", None, None),
        ("POST", "/exec/{id}/start", "/exec/{eid}/start", {"Detach": True}, None),
        ("POST", "/exec/{id}/resize", "/exec/{eid}/resize?h=24&w=80", None, None),
        ("HEAD", "/containers/{id}/archive", "/containers/{id}/archive?path=/etc/hostname", None, None),
        ("GET", "/containers/{id}/archive", "/containers/{id}/archive?path=/etc/hostname", None, None),
        ("PUT", "/containers/{id}/archive", "/containers/{id}/archive?path=/tmp", cp_tar, x_tar),
        ("GET", "/containers/{id}/logs", "/containers/{id}/logs?stdout=1&stderr=1", None, None),
        ("POST", "/containers/{id}/attach", "/containers/{id}/attach?logs=1&stream=0&stdout=1", None, None),
        ("POST", "/containers/{id}/resize", "/containers/{id}/resize?h=24&w=80", None, None),
        ("POST", "/containers/{id}/rename", "/containers/{id}/rename?name=apidoc2", None, None),
        ("POST", "/containers/{id}/pause", "/containers/{id}/pause", None, None),
        ("POST", "/containers/{id}/unpause", "/containers/{id}/unpause", None, None),
        ("POST", "/containers/{id}/restart", "/containers/{id}/restart?t=0", None, None),
        ("POST", "/containers/{id}/kill", "/containers/{id}/kill?signal=KILL", None, None),
        ("POST", "/containers/{id}/stop", "/containers/{id}/stop?t=0", None, None),
        ("POST", "/containers/{id}/wait", "/containers/{id}/wait", None, None),
        ("POST", "/networks/create", "/networks/create", {"Name": "apidoc-net"}, None),
        ("GET", "/networks", "/networks", None, None),
        ("GET", "/networks/{id}", "/networks/apidoc-net", None, None),
        ("POST", "/networks/{id}/connect", "/networks/apidoc-net/connect", {"Container": "apidoc2"}, None),
        ("POST", "/networks/{id}/disconnect", "/networks/apidoc-net/disconnect", {"Container": "apidoc2"}, None),
        ("DELETE", "/networks/{id}", "/networks/apidoc-net", None, None),
        ("POST", "/networks/prune", "/networks/prune", None, None),
        ("DELETE", "/containers/{id}", "/containers/{id}?force=1", None, None),
        ("POST", "/volumes/create", "/volumes/create", {"Name": "apidoc-vol"}, None),
        ("GET", "/volumes", "/volumes", None, None),
        ("GET", "/volumes/{name}", "/volumes/apidoc-vol", None, None),
        ("DELETE", "/volumes/{name}", "/volumes/apidoc-vol", None, None),
        ("POST", "/volumes/prune", "/volumes/prune?filters=" + NONE_FILTER, None, None),
        ("POST", "/build", "/build?version=1&q=1", build_tar, x_tar),
        ("POST", "/build/prune", "/build/prune", None, None),
    ]


def test_every_implemented_operation_answers(apid, doc, busybox_tar):
    plan = probes(busybox_tar)
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    probed = {(m, p) for m, p, _, _, _ in plan}
    assert documented == probed, (
        "probes and api/openapi.yaml disagree; add a probe for: %s; stale probes: %s"
        % (sorted(documented - probed), sorted(probed - documented)))
    cid = eid = None
    bad = []
    for method, path, url, body, headers in plan:
        if cid:
            url = url.replace("{id}", cid)
        if eid:
            url = url.replace("{eid}", eid)
        r = apid.request(method, url, body=body, headers=headers, timeout=60)
        if r.status in (404, 501):
            bad.append("%s %s -> %r" % (method, url, r))
        if path == "/containers/create":
            assert r.status == 201, r
            cid = r.json()["Id"]
        if path == "/containers/{id}/exec":
            assert r.status == 201, r
            eid = r.json()["Id"]
    assert not bad, "documented as implemented but answered 404/501:\n" + "\n".join(bad)


def concrete(path):
    return re.sub(r"\{\w+\*?\}", "apidoc-x", path)


def test_not_implemented_answers(apid, doc):
    gen = load_gen()
    routes = gen.read_routes()
    bad = []
    for e in doc["x-skiff-not-implemented"]:
        methods = ["GET", "POST"] if e["method"] == "*" else e["method"].split(",")
        for m in methods:
            hit = gen.find_route(routes, m, concrete(e["path"]))
            if hit is not None and hit["kind"] != "not-implemented":
                continue  # an earlier, implemented row answers this request
            r = apid.request(m, concrete(e["path"]))
            if r.status != e["status"] or r.message != e["message"]:
                bad.append("%s %s -> %r, documented %d %r" % (m, e["path"], r, e["status"], e["message"]))
    assert not bad, "\n".join(bad)


def test_unrouted_answer_404(apid, doc):
    bad = []
    for op in doc["x-skiff-unrouted"]:
        m, p = op.split(" ", 1)
        r = apid.request(m, concrete(p))
        if r.status != 404 or r.message != "page not found":
            bad.append("%s -> %r" % (op, r))
    assert not bad, "\n".join(bad)
