# Bad and hostile input: malformed or ill-typed bodies, out-of-range
# limits, missing and conflicting objects, and tarballs that try to write
# outside the data root. Every rejection must leave nothing behind and
# cost no file descriptors.
import hashlib
import io
import json
import os
import tarfile
import time
import uuid

import pytest

from conftest import cgroup_dirs, mounts_mentioning


def create(daemon, body, name=None, raw=False):
    path = "/containers/create" + ("?name=" + name if name else "")
    if raw:
        return daemon.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    return daemon.request("POST", path, body)


class Snapshot:
    def __init__(self, daemon):
        self.d = daemon
        self.dirs = daemon.container_dirs()
        self.cgroups = cgroup_dirs()
        self.mounts = mounts_mentioning(daemon.base)
        self.n = len(daemon.containers())

    def assert_unchanged(self):
        assert self.d.container_dirs() == self.dirs, "a rejected request left a container dir"
        assert cgroup_dirs() - self.cgroups == set(), "a rejected request left a cgroup"
        assert mounts_mentioning(self.d.base) == self.mounts, "a rejected request left a mount"
        assert len(self.d.containers()) == self.n


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


BAD_CREATE = [
    ("malformed", b'{"Image": "busybox", ', True, None),
    ("not-an-object", b'["busybox"]', True, None),
    ("image-wrong-type", {"Image": 5}, False, None),
    ("env-wrong-type", {"Image": "busybox", "Env": "A=1"}, False, None),
    ("memory-wrong-type", {"Image": "busybox", "HostConfig": {"Memory": "lots"}}, False, None),
    ("hostconfig-wrong-type", {"Image": "busybox", "HostConfig": []}, False, None),
    ("memory-negative", {"Image": "busybox", "HostConfig": {"Memory": -1}}, False, "memory"),
    ("restart-policy", {"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, False,
     "restart policy"),
    ("nanocpus-too-many", {"Image": "busybox", "HostConfig": {"NanoCpus": (os.cpu_count() + 1) * 10**9}}, False,
     "cpu"),
    ("no-image", {"Cmd": ["true"]}, False, None),
]


@pytest.mark.parametrize("label,body,raw,word", BAD_CREATE, ids=[b[0] for b in BAD_CREATE])
def test_bad_create_is_400(daemon, label, body, raw, word):
    snap = Snapshot(daemon)
    r = create(daemon, body, name="e2e-bad-" + label, raw=raw)
    assert r.status == 400, r
    assert r.message, "400 without a JSON message"
    if word:
        assert word in r.message.lower(), r.message
    snap.assert_unchanged()


@pytest.mark.parametrize("bad", ["bad/name", "-leadingdash", "with space", "na%21me"])
def test_invalid_name_is_400(daemon, bad):
    snap = Snapshot(daemon)
    r = daemon.request("POST", "/containers/create?name=" + bad.replace(" ", "%20"), {"Image": "busybox"})
    assert r.status == 400, r
    assert "name" in r.message.lower()
    snap.assert_unchanged()


@pytest.mark.parametrize("method,path", [
    ("GET", "/containers/e2e-missing/json"),
    ("POST", "/containers/e2e-missing/start"),
    ("POST", "/containers/e2e-missing/stop"),
    ("POST", "/containers/e2e-missing/kill"),
    ("POST", "/containers/e2e-missing/wait"),
    ("GET", "/containers/e2e-missing/logs?stdout=1"),
    ("DELETE", "/containers/e2e-missing"),
])
def test_missing_container_is_404(daemon, method, path):
    r = daemon.request(method, path)
    assert r.status == 404, r
    assert r.message == "No such container: e2e-missing"


def test_missing_image_is_404(daemon):
    snap = Snapshot(daemon)
    r = create(daemon, {"Image": "e2e-missing-image:1"})
    assert r.status == 404, r
    assert r.message == "No such image: e2e-missing-image:1"
    r = daemon.request("GET", "/images/e2e-missing-image:1/json")
    assert r.status == 404, r
    assert r.message == "No such image: e2e-missing-image:1"
    snap.assert_unchanged()


def test_duplicate_name_is_409(daemon, name):
    n = name()
    assert create(daemon, {"Image": "busybox"}, name=n).status == 201
    snap = Snapshot(daemon)
    r = create(daemon, {"Image": "busybox"}, name=n)
    assert r.status == 409, r
    assert n in r.message and "already in use" in r.message
    snap.assert_unchanged()


def test_rm_running_without_force_is_409(daemon, name):
    n = name()
    assert create(daemon, {"Image": "busybox", "Cmd": ["sleep", "600"]}, name=n).status == 201
    assert daemon.request("POST", "/containers/%s/start" % n).status == 204
    r = daemon.request("DELETE", "/containers/" + n)
    assert r.status == 409, r
    assert "stop" in r.message.lower() or "force" in r.message.lower()
    assert daemon.request("GET", "/containers/%s/json" % n).json()["State"]["Running"] is True
    assert daemon.request("DELETE", "/containers/%s?force=1" % n).status == 204


def test_rmi_in_use_is_409(daemon, name):
    n = name()
    assert daemon.request("POST", "/images/busybox/tag?repo=e2e-inuse&tag=x").status == 201
    try:
        assert create(daemon, {"Image": "e2e-inuse:x"}, name=n).status == 201
        iid = daemon.request("GET", "/images/busybox/json").json()["Id"]
        r = daemon.request("DELETE", "/images/" + iid)
        assert r.status == 409, r
        assert daemon.request("GET", "/images/busybox/json").status == 200
    finally:
        daemon.request("DELETE", "/images/e2e-inuse:x")


def test_start_twice_and_stop_stopped(daemon, name):
    n = name()
    assert create(daemon, {"Image": "busybox", "Cmd": ["sleep", "600"]}, name=n).status == 201
    assert daemon.request("POST", "/containers/%s/start" % n).status == 204
    assert daemon.request("POST", "/containers/%s/start" % n).status == 304
    assert daemon.request("POST", "/containers/%s/stop?t=0" % n, timeout=30).status == 204
    assert daemon.request("POST", "/containers/%s/stop" % n).status == 304


def test_bad_requests_leak_no_fds(daemon):
    snap = Snapshot(daemon)
    pid = daemon.pid
    for _ in range(5):  # warm up lazily opened files
        create(daemon, b"{", raw=True)
    before = fd_count(pid)
    for i in range(50):
        create(daemon, b'{"Image": ', raw=True)
        create(daemon, {"Image": "e2e-missing-image:1"})
        create(daemon, {"Image": "busybox", "HostConfig": {"Memory": -1}})
        daemon.request("GET", "/containers/e2e-missing/json")
        daemon.request("POST", "/images/create?fromSrc=-", body=b"not a tar at all" * 10,
                       headers={"Content-Type": "application/x-tar"})
    time.sleep(0.2)
    after = fd_count(pid)
    assert after <= before + 2, "skiffd fds grew from %d to %d over 250 bad requests" % (before, after)
    snap.assert_unchanged()


# ---------------------------------------------------------------- hostile tarballs

def make_tar(entries):
    """entries: (name, kind, data_or_target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for n, kind, x in entries:
            ti = tarfile.TarInfo(n)
            ti.mode = 0o644
            if kind == "file":
                ti.size = len(x)
                t.addfile(ti, io.BytesIO(x))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = x
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = x
                t.addfile(ti)
    return buf.getvalue()


class Escape:
    """A sentinel area outside the data root: nothing may appear in it, and
    the one file we put there must keep its content and link count."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.base = "/tmp/skiff-e2e-escape-" + tag
        self.sentinel = "/tmp/skiff-e2e-sentinel-" + tag
        self.paths = [self.base, self.base + "-abs", self.base + "-dir", self.base + "-via-link"]
        with open(self.sentinel, "w") as f:
            f.write("original\n")
        self.passwd = self.passwd_state()

    @staticmethod
    def passwd_state():
        with open("/etc/passwd", "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), os.stat("/etc/passwd").st_nlink

    def check(self):
        leaked = [p for p in self.paths if os.path.lexists(p)]
        assert not leaked, "hostile tarball wrote outside the data root: %s" % leaked
        with open(self.sentinel) as f:
            assert f.read() == "original\n", "hostile tarball wrote through a link into " + self.sentinel
        assert os.stat(self.sentinel).st_nlink == 1, "hostile tarball hard-linked %s into the store" % self.sentinel
        assert self.passwd_state() == self.passwd, "/etc/passwd changed or got hard-linked into the store!"

    def cleanup(self):
        import shutil
        for p in self.paths:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                os.unlink(p)
        os.unlink(self.sentinel)


@pytest.fixture
def escape():
    e = Escape()
    yield e
    e.cleanup()


def hostile_layers(base, sentinel):
    rel = "../" * 12 + base.lstrip("/")
    return {
        "dotdot": [("bin", "dir", None), (rel, "file", b"escaped\n")],
        "dotdot-nested": [("a", "dir", None), ("a/../../" + "../" * 10 + base.lstrip("/"), "file", b"x")],
        "absolute": [(base + "-abs", "file", b"escaped\n")],
        "symlink-dir-then-write": [("evil", "symlink", os.path.dirname(base)),
                                   ("evil/" + os.path.basename(base) + "-via-link", "file", b"through\n")],
        "symlink-file-then-write": [("evilf", "symlink", sentinel), ("evilf", "file", b"overwritten\n")],
        "hardlink-then-write": [("hl", "hardlink", sentinel), ("hl", "file", b"overwritten\n")],
        "hardlink-passwd": [("pw", "hardlink", "/etc/passwd")],
        "hardlink-dotdot": [("pw2", "hardlink", "../" * 12 + "etc/passwd")],
    }


HOSTILE = ["dotdot", "dotdot-nested", "absolute", "symlink-dir-then-write", "symlink-file-then-write",
           "hardlink-then-write", "hardlink-passwd", "hardlink-dotdot"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_import(daemon, escape, kind):
    snap = Snapshot(daemon)
    data = make_tar(hostile_layers(escape.base, escape.sentinel)[kind])
    daemon.request("POST", "/images/create?fromSrc=-&repo=e2e-hostile-" + kind, body=data,
                       headers={"Content-Type": "application/x-tar"}, timeout=60)
    daemon.request("DELETE", "/images/e2e-hostile-%s:latest?force=1" % kind)
    assert daemon.request("GET", "/_ping").status == 200
    escape.check()
    snap.assert_unchanged()


def docker_archive(layer, config_ref=None, layer_ref=None):
    """A docker-archive; config_ref/layer_ref override what manifest.json
    points at (the entries themselves keep their normal names)."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["true"]},
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    files = [(cname, "file", cfg), ("layer.tar", "file", layer),
             ("manifest.json", "file", json.dumps([{"Config": config_ref or cname, "RepoTags": ["e2e-hostile-load:1"],
                                                    "Layers": [layer_ref or "layer.tar"]}]).encode())]
    return make_tar(files)


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_load(daemon, escape, kind):
    snap = Snapshot(daemon)
    data = docker_archive(make_tar(hostile_layers(escape.base, escape.sentinel)[kind]))
    daemon.request("POST", "/images/load", body=data, headers={"Content-Type": "application/x-tar"}, timeout=60)
    daemon.request("DELETE", "/images/e2e-hostile-load:1?force=1")
    assert daemon.request("GET", "/_ping").status == 200
    escape.check()
    snap.assert_unchanged()


def test_load_manifest_pointing_outside_archive(daemon, escape):
    layer = make_tar([("ok", "file", b"ok")])
    for cfg_ref, layer_ref in (("../../../../etc/passwd", None), (None, "/etc/passwd"),
                               (None, "../" * 10 + escape.sentinel.lstrip("/"))):
        data = docker_archive(layer, config_ref=cfg_ref, layer_ref=layer_ref)
        r = daemon.request("POST", "/images/load", body=data, headers={"Content-Type": "application/x-tar"})
        assert r.status == 400 or r.status == 500 and r.message, r
        assert daemon.request("GET", "/images/e2e-hostile-load:1/json").status == 404
    escape.check()


def test_not_a_tarball(daemon):
    for path in ("/images/load", "/images/create?fromSrc=-&repo=e2e-garbage"):
        r = daemon.request("POST", path, body=os.urandom(4096), headers={"Content-Type": "application/x-tar"})
        assert 400 <= r.status < 600 and r.status != 404, r
        assert r.message
    assert daemon.request("GET", "/images/e2e-garbage:latest/json").status == 404
