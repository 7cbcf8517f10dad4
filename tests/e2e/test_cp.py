# docker cp: GET/HEAD/PUT /containers/{id}/archive through the docker CLI,
# the docker SDK and the raw API, on running, created and exited
# containers; symlinks inside the container and hostile tar entries must
# never reach the host.
import base64
import io
import json
import os
import tarfile
import uuid

import pytest

from conftest import mounts_mentioning, wait_for

GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27


def stat_header(resp):
    h = resp.headers.get("x-docker-container-path-stat")
    assert h, resp.headers
    return json.loads(base64.b64decode(h))


def tar_bytes(entries):
    """entries: list of (name, kind, data_or_target) with kind file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
            t.addfile(ti)
    return buf.getvalue()


def get_tar(daemon, ctr, path):
    r = daemon.request("GET", "/containers/%s/archive?path=%s" % (ctr, path))
    assert r.status == 200, r
    return r, tarfile.open(fileobj=io.BytesIO(r.body))


def read_in(daemon, ctr, path):
    """Content of a regular file in the container, through GET archive."""
    _, t = get_tar(daemon, ctr, path)
    m = t.getmembers()
    assert len(m) == 1 and m[0].isfile(), [x.name for x in m]
    return t.extractfile(m[0]).read()


def put_tar(daemon, ctr, path, data, query=""):
    return daemon.request("PUT", "/containers/%s/archive?path=%s%s" % (ctr, path, query), body=data,
                          headers={"Content-Type": "application/x-tar"})


@pytest.fixture(autouse=True)
def removals_settle(daemon):
    """rm -f of a running container answers before the exit is reaped:
    let the name fixture's removals finish so the session teardown finds
    no container in "removing"."""
    yield
    wait_for(lambda: not [c for c in daemon.containers() if c["State"] == "removing"], timeout=20,
             what="forced removals to finish")


@pytest.fixture
def running(docker, name):
    n = name()
    docker("run", "-d", "--name", n, "busybox", "sleep", "1000")
    return n


@pytest.fixture
def sentinel():
    """A host path that nothing may create, removed if it is."""
    paths = []

    def new(prefix="skiff-cp-sentinel"):
        p = "/tmp/%s-%s" % (prefix, uuid.uuid4().hex[:8])
        paths.append(p)
        return p
    yield new
    for p in paths:
        if os.path.islink(p) or os.path.isfile(p):
            os.unlink(p)
        elif os.path.isdir(p):
            import shutil
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- docker CLI

def test_cp_file_in_and_out_running(docker, daemon, name, workdir):
    n = name()
    # the container itself shows what landed: it waits for the file and prints it
    docker("run", "-d", "--name", n, "busybox", "sh", "-c",
           "while [ ! -f /tmp/in.txt ]; do sleep 0.1; done; cat /tmp/in.txt; sleep 1000")
    src = os.path.join(workdir, "in.txt")
    with open(src, "w") as f:
        f.write("hello from the host\n")
    docker("cp", src, "%s:/tmp/" % n)
    wait_for(lambda: "hello from the host" in docker("logs", n).stdout, what="file seen inside")
    out = os.path.join(workdir, "out.txt")
    docker("cp", "%s:/tmp/in.txt" % n, out)
    assert open(out).read() == "hello from the host\n"
    # a file over a new name in the container
    docker("cp", src, "%s:/tmp/renamed.txt" % n)
    assert read_in(daemon, n, "/tmp/renamed.txt") == b"hello from the host\n"
    # the container's own /etc/hostname (a bind mount inside its namespace)
    host_copy = os.path.join(workdir, "hostname")
    docker("cp", "%s:/etc/hostname" % n, host_copy)
    cid = docker("inspect", "-f", "{{.Id}}", n).stdout.strip()
    assert open(host_copy).read().strip() == cid[:12]


def test_cp_directories_and_dot(docker, daemon, running, workdir):
    n = running
    src = os.path.join(workdir, "src")
    os.makedirs(os.path.join(src, "sub"))
    for rel, body in (("a.txt", "A"), ("sub/b.txt", "B")):
        with open(os.path.join(src, rel), "w") as f:
            f.write(body)
    os.symlink("a.txt", os.path.join(src, "link"))
    # dst missing: the dir takes the new name
    docker("cp", src, "%s:/tmp/newdir" % n)
    assert read_in(daemon, n, "/tmp/newdir/sub/b.txt") == b"B"
    # dst exists: the dir goes inside it
    docker("cp", src, "%s:/tmp/newdir" % n)
    assert read_in(daemon, n, "/tmp/newdir/src/a.txt") == b"A"
    # src/. : the contents go into the existing dir
    r = put_tar(daemon, n, "/", tar_bytes([("tmp/dotdst", "dir", None)]))
    assert r.status == 200, r
    docker("cp", src + "/.", "%s:/tmp/dotdst" % n)
    assert read_in(daemon, n, "/tmp/dotdst/a.txt") == b"A"
    _, t = get_tar(daemon, n, "/tmp/dotdst/link")
    assert t.getmembers()[0].issym() and t.getmembers()[0].linkname == "a.txt"

    # out: a dir to a new host dir, then dir/. into an existing one
    out = os.path.join(workdir, "out")
    docker("cp", "%s:/tmp/newdir" % n, out)
    assert open(os.path.join(out, "sub", "b.txt")).read() == "B"
    assert open(os.path.join(out, "src", "a.txt")).read() == "A"
    existing = os.path.join(workdir, "existing")
    os.makedirs(existing)
    docker("cp", "%s:/tmp/dotdst/." % n, existing)
    assert sorted(os.listdir(existing)) == ["a.txt", "link", "sub"]
    assert os.readlink(os.path.join(existing, "link")) == "a.txt"

    # Docker's entry names: NAME/... for a dir, ./... for DIR/.
    _, t = get_tar(daemon, n, "/tmp/dotdst")
    names = t.getnames()
    assert "dotdst" in names and "dotdst/sub/b.txt" in names, names
    _, t = get_tar(daemon, n, "/tmp/dotdst/.")
    names = t.getnames()
    assert "./sub/b.txt" in names and not any(x.startswith("dotdst") for x in names), names
    # filepath.Base drops trailing slashes: DIR/./ is DIR/. too
    _, t = get_tar(daemon, n, "/tmp/dotdst/./")
    names = t.getnames()
    assert "./sub/b.txt" in names and not any(x.startswith("dotdst") for x in names), names
    slashdot = os.path.join(workdir, "slashdot")
    os.makedirs(slashdot)
    docker("cp", "%s:/tmp/dotdst/./" % n, slashdot)
    assert sorted(os.listdir(slashdot)) == ["a.txt", "link", "sub"]


def test_cp_created_and_exited_container(docker, daemon, name, workdir):
    n = name()
    docker("create", "--name", n, "busybox", "cat", "/data/in.txt")
    src = os.path.join(workdir, "in.txt")
    with open(src, "w") as f:
        f.write("copied before start\n")
    r = put_tar(daemon, n, "/", tar_bytes([("data", "dir", None)]))
    assert r.status == 200, r
    docker("cp", src, "%s:/data/in.txt" % n)
    out = os.path.join(workdir, "back.txt")
    docker("cp", "%s:/data/in.txt" % n, out)
    assert open(out).read() == "copied before start\n"
    # the rootfs was mounted only in the worker's private namespace
    assert mounts_mentioning(daemon.base) == []
    assert docker("start", "-a", n).stdout == "copied before start\n"
    # exited: the container's own writes are there, and more can go in
    docker("cp", src, "%s:/data/second.txt" % n)
    assert read_in(daemon, n, "/data/second.txt") == b"copied before start\n"
    assert docker("start", "-a", n).stdout == "copied before start\n"
    assert mounts_mentioning(daemon.base) == []


def test_cp_missing_paths(docker, daemon, running, workdir):
    r = docker("cp", "%s:/does/not/exist" % running, workdir, check=False)
    assert r.returncode != 0
    assert "Could not find the file /does/not/exist in container %s" % running in r.stderr
    r = daemon.request("HEAD", "/containers/%s/archive?path=/nope" % running)
    assert r.status == 404
    r = daemon.request("GET", "/containers/%s/archive?path=/nope" % running)
    assert r.status == 404 and r.message == "Could not find the file /nope in container %s" % running
    r = put_tar(daemon, running, "/nope/dir", tar_bytes([("x", "file", b"x")]))
    assert r.status == 404, r
    r = put_tar(daemon, running, "/etc/passwd", tar_bytes([("x", "file", b"x")]))
    assert r.status == 400 and "not a directory" in r.message, r
    r = daemon.request("GET", "/containers/%s/archive" % running)
    assert r.status == 400, r
    r = daemon.request("GET", "/containers/no-such-ctr-%s/archive?path=/" % uuid.uuid4().hex[:6])
    assert r.status == 404 and r.message.startswith("No such container"), r


def test_head_stat_header(daemon, running):
    r = daemon.request("HEAD", "/containers/%s/archive?path=/etc/passwd" % running)
    assert r.status == 200, r
    st = stat_header(r)
    assert st["name"] == "passwd"
    assert st["mode"] == 0o644, st
    assert st["size"] > 0
    assert st["linkTarget"] == ""
    assert st["mtime"].endswith("Z") and "T" in st["mtime"], st
    st = stat_header(daemon.request("HEAD", "/containers/%s/archive?path=/etc/" % running))
    assert st["name"] == "etc" and st["mode"] & GO_DIR and st["mode"] & 0o777 == 0o755, st
    st = stat_header(daemon.request("HEAD", "/containers/%s/archive?path=/" % running))
    assert st["name"] == "/" and st["mode"] & GO_DIR, st
    # GET carries the same header
    r, _ = get_tar(daemon, running, "/etc/passwd")
    assert stat_header(r)["name"] == "passwd"


# ---------------------------------------------------------------- escapes

def test_symlinks_resolve_inside_the_container(docker, daemon, running, sentinel):
    n = running
    host_file = sentinel()
    with open(host_file, "w") as f:
        f.write("HOST SECRET\n")
    base = os.path.basename(host_file)
    r = put_tar(daemon, n, "/", tar_bytes([
        ("etc/evil", "symlink", "/"),
        ("tmp/up", "symlink", "../../../../.."),
        ("tmp/abs", "symlink", host_file),
    ]))
    assert r.status == 200, r
    # stat: the link target is resolved in the container's root
    for p in ("/etc/evil", "/tmp/up"):
        st = stat_header(daemon.request("HEAD", "/containers/%s/archive?path=%s" % (n, p)))
        assert st["mode"] & GO_SYMLINK and st["linkTarget"] == "/", st
    # reading through the links reads the container, never the host
    container_passwd = read_in(daemon, n, "/etc/passwd")
    assert read_in(daemon, n, "/etc/evil/etc/passwd") == container_passwd
    assert read_in(daemon, n, "/tmp/up/etc/passwd") == container_passwd
    _, t = get_tar(daemon, n, "/tmp/abs")  # the link itself, not what it names
    assert t.getmembers()[0].issym() and t.getmembers()[0].linkname == host_file
    for p in ("/etc/evil" + host_file, "/tmp/up" + host_file, "/tmp/abs/", "/../../.." + host_file):
        r = daemon.request("GET", "/containers/%s/archive?path=%s" % (n, p))
        assert r.status == 404, (p, r)
    # the docker CLI follows a destination symlink with the linkTarget we give it
    dst_name = os.path.basename(sentinel())
    docker("cp", "/etc/hostname", "%s:/tmp/up/tmp/%s" % (n, dst_name))
    assert not os.path.exists("/tmp/" + dst_name)
    assert read_in(daemon, n, "/tmp/" + dst_name) == open("/etc/hostname", "rb").read()
    # writing through the links writes the container
    r = put_tar(daemon, n, "/etc/evil/tmp", tar_bytes([(base, "file", b"inside\n")]))
    assert r.status == 200, r
    assert open(host_file).read() == "HOST SECRET\n"
    assert read_in(daemon, n, "/tmp/" + base) == b"inside\n"
    r = put_tar(daemon, n, "/tmp/up/tmp", tar_bytes([(base + "-2", "file", b"x")]))
    assert r.status == 200, r
    assert not os.path.exists(host_file + "-2")


@pytest.mark.parametrize("kind", ["dotdot", "symlink-abs", "symlink-rel", "hardlink"])
def test_hostile_tar_is_contained(daemon, running, sentinel, kind):
    target = sentinel("skiff-cp-hostile")
    base = os.path.basename(target)
    entries = {
        "dotdot": [("../../../../../../../../tmp/" + base, "file", b"pwned")],
        "symlink-abs": [("lnk", "symlink", "/tmp"), ("lnk/" + base, "file", b"pwned")],
        "symlink-rel": [("up", "symlink", "../../../../../../../../tmp"), ("up/" + base, "file", b"pwned")],
        "hardlink": [("hl", "hardlink", "../../../../../../../../etc/passwd")],
    }[kind]
    r = put_tar(daemon, running, "/tmp", tar_bytes(entries))
    assert r.status == 400, r
    assert "escapes" in r.message, r
    assert not os.path.exists(target)
    # nothing beside the container's /tmp either
    r = daemon.request("GET", "/containers/%s/archive?path=/tmp/%s" % (running, base))
    assert r.status == 404
    with open("/etc/passwd", "rb") as f:
        assert b"pwned" not in f.read()


def test_absolute_entry_names_stay_under_the_destination(daemon, running, sentinel):
    target = sentinel("skiff-cp-abs")
    r = put_tar(daemon, running, "/tmp", tar_bytes([(target, "file", b"contained")]))
    assert r.status == 200, r
    assert not os.path.exists(target)
    assert read_in(daemon, running, "/tmp" + target) == b"contained"


# ---------------------------------------------------------------- options and read-only

def test_no_overwrite_dir_non_dir(daemon, running):
    r = put_tar(daemon, running, "/", tar_bytes([("tmp", "file", b"not a dir")]), "&noOverwriteDirNonDir=true")
    assert r.status == 400 and "cannot overwrite directory" in r.message, r
    st = stat_header(daemon.request("HEAD", "/containers/%s/archive?path=/tmp" % running))
    assert st["mode"] & GO_DIR
    r = put_tar(daemon, running, "/etc", tar_bytes([("passwd", "dir", None)]), "&noOverwriteDirNonDir=1")
    assert r.status == 400 and "cannot overwrite non-directory" in r.message, r


def test_copy_uid_gid(daemon, docker, name):
    n = name()
    docker("run", "-d", "--name", n, "--user", "1234:5678", "busybox", "sleep", "1000")
    data = tar_bytes([("owned.txt", "file", b"x")])
    assert put_tar(daemon, n, "/tmp", data, "&copyUIDGID=1").status == 200
    _, t = get_tar(daemon, n, "/tmp/owned.txt")
    m = t.getmembers()[0]
    assert (m.uid, m.gid) == (1234, 5678)
    assert put_tar(daemon, n, "/tmp", tar_bytes([("plain.txt", "file", b"x")])).status == 200
    _, t = get_tar(daemon, n, "/tmp/plain.txt")
    assert (t.getmembers()[0].uid, t.getmembers()[0].gid) == (0, 0)


def test_readonly_rootfs_and_ro_bind(docker, daemon, name, workdir):
    ro_dir = os.path.join(workdir, "ro")
    rw_dir = os.path.join(workdir, "rw")
    os.makedirs(ro_dir)
    os.makedirs(rw_dir)
    n = name()
    docker("run", "-d", "--name", n, "--read-only", "-v", "%s:/ro:ro" % ro_dir, "-v", "%s:/rw" % rw_dir,
           "busybox", "sleep", "1000")
    data = tar_bytes([("f.txt", "file", b"data")])
    r = put_tar(daemon, n, "/tmp", data)
    assert r.status == 400 and r.message == "container rootfs is marked read-only", r
    r = put_tar(daemon, n, "/ro", data)
    assert r.status == 400 and r.message == "mounted volume is marked read-only", r
    assert os.listdir(ro_dir) == []
    assert put_tar(daemon, n, "/rw", data).status == 200
    assert open(os.path.join(rw_dir, "f.txt")).read() == "data"
    r = docker("cp", os.path.join(rw_dir, "f.txt"), "%s:/etc/" % n, check=False)
    assert r.returncode != 0 and "container rootfs is marked read-only" in r.stderr
    # reading is fine, and the stopped container shows its binds too
    assert read_in(daemon, n, "/rw/f.txt") == b"data"
    docker("stop", "-t", "1", n, timeout=30)
    assert read_in(daemon, n, "/rw/f.txt") == b"data"
    with open(os.path.join(rw_dir, "late.txt"), "w") as f:
        f.write("late")
    assert read_in(daemon, n, "/rw/late.txt") == b"late"
    assert put_tar(daemon, n, "/rw", tar_bytes([("g.txt", "file", b"g")])).status == 200
    assert open(os.path.join(rw_dir, "g.txt")).read() == "g"
    r = put_tar(daemon, n, "/ro", data)
    assert r.status == 400, r
    assert mounts_mentioning(daemon.base) == []


# ---------------------------------------------------------------- docker SDK

def test_dockerpy_put_and_get_archive(dockerpy, name):
    n = name()
    c = dockerpy.containers.run("busybox", ["sleep", "1000"], name=n, detach=True)
    assert c.put_archive("/tmp", tar_bytes([("sdk", "dir", None), ("sdk/hello.txt", "file", b"from the sdk")]))
    stream, stat = c.get_archive("/tmp/sdk")
    assert stat["name"] == "sdk" and stat["mode"] & GO_DIR
    t = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    assert t.extractfile("sdk/hello.txt").read() == b"from the sdk"
    import docker as docker_sdk
    with pytest.raises(docker_sdk.errors.NotFound):
        c.get_archive("/no/such/path")
    c.stop(timeout=1)
    stream, stat = c.get_archive("/tmp/sdk/hello.txt")
    assert stat["size"] == len(b"from the sdk")
    assert tarfile.open(fileobj=io.BytesIO(b"".join(stream))).extractfile("hello.txt").read() == b"from the sdk"


def test_big_file_streams(daemon, running, workdir, docker):
    # 64 MiB through the pipe and the event loop, with the API still answering meanwhile
    src = os.path.join(workdir, "big")
    with open(src, "wb") as f:
        f.write(os.urandom(1 << 20) * 64)
    docker("cp", src, "%s:/tmp/big" % running, timeout=120)
    out = os.path.join(workdir, "big.out")
    docker("cp", "%s:/tmp/big" % running, out, timeout=120)
    assert os.path.getsize(out) == 64 << 20
    with open(src, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()


def test_file_over_the_disk_is_refused(docker, daemon, name, workdir):
    n = name()
    docker("run", "-d", "--name", n, "--tmpfs", "/small:size=1m", "busybox", "sleep", "1000")
    src = os.path.join(workdir, "big")
    with open(src, "wb") as f:
        f.write(b"x" * (4 << 20))
    r = docker("cp", src, "%s:/small/" % n, check=False)
    assert r.returncode != 0 and "No space left on device" in r.stderr, r.stderr
    # the API is still there and the container too
    assert read_in(daemon, n, "/etc/passwd")
    assert docker("inspect", "-f", "{{.State.Running}}", n).stdout.strip() == "true"


def test_client_leaving_mid_stream_reaps_the_worker(daemon, running, workdir, docker):
    import socket
    import time
    src = os.path.join(workdir, "big")
    with open(src, "wb") as f:
        f.write(b"y" * (32 << 20))
    docker("cp", src, "%s:/tmp/big" % running, timeout=120)
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.sock)
    s.sendall(b"GET /containers/%s/archive?path=/tmp/big HTTP/1.1\r\nHost: x\r\n\r\n" % running.encode())
    assert s.recv(64).startswith(b"HTTP/1.1 200")
    s.close()

    def children():
        """skiffd's forked workers (same comm), not the monitor or others."""
        out = []
        with open("/proc/%d/task/%d/children" % (daemon.pid, daemon.pid)) as f:
            for pid in f.read().split():
                try:
                    with open("/proc/%s/comm" % pid) as c:
                        if c.read().strip() == "skiffd":
                            out.append(pid)
                except OSError:
                    pass
        return out
    wait_for(lambda: children() == [], what="archive worker gone")
    assert read_in(daemon, running, "/etc/passwd")
