# The quick-start a new user follows (issue 5): build a small Python web app
# from a Dockerfile, run it with a published port, fetch it from the host,
# ps/logs/exec/stop/start/rm, volumes; the same build through the Python SDK
# and `skiff build`; the build cache; .dockerignore; bad Dockerfiles.
#
# The Python base here is made in a second from the host's own python3 (its
# binary, the shared libraries ldd names, the standard library) on top of
# busybox: debootstrap takes minutes. The real debian-based demo
# (tools/mkimage-debian + tools/demo-app) runs in the last test when the
# machine has the base cached, and skips saying so otherwise.
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import uuid

import pytest

from conftest import DOCKER, ROOT, SKIFF, archive_manifest, mounts_mentioning, wait_for

PY = "/usr/bin/python3"
DEMO = os.path.join(ROOT, "tools", "demo-app")
MKDEBIAN = os.path.join(ROOT, "tools", "mkimage-debian")
BASE = "skiff-e2e-python:3"

DOCKERFILE = """FROM %s
COPY . /app
WORKDIR /app
RUN python3 -m compileall -q . && echo compiled
EXPOSE 5000
CMD ["python3", "app.py"]
""" % BASE


# ---------------------------------------------------------------- the base

def ldd_paths(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            p = parts[parts.index("=>") + 1]
        else:
            p = parts[0]
        if p.startswith("/"):
            out.append(p)
    return out


SKIP_STDLIB = {"test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "pydoc_data", "distutils"}


def python_layer(busybox_layer):
    """busybox's rootfs plus the host's python3: one layer tar (bytes)."""
    exe = os.path.realpath(PY)
    ver = os.path.basename(exe)  # python3.11
    stdlib = "/usr/lib/" + ver
    files = {exe}  # path in the image == path on the host
    files.update(ldd_paths(exe))
    for dp, dns, fns in os.walk(stdlib):
        rel = os.path.relpath(dp, stdlib)
        if rel == ".":
            dns[:] = [d for d in dns if d not in SKIP_STDLIB and not d.startswith("config-")]
        for f in fns:
            p = os.path.join(dp, f)
            files.add(p)
            if f.endswith(".so"):
                files.update(ldd_paths(p))
    buf = io.BytesIO()
    dirs = set()
    with tarfile.open(fileobj=io.BytesIO(busybox_layer)) as src, \
            tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for m in src.getmembers():
            t.addfile(m, src.extractfile(m) if m.isreg() else None)
            if m.isdir():
                dirs.add(m.name.strip("./").rstrip("/"))

        def mkdirs(path):
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1704067200
                    t.addfile(ti)
        for p in sorted(files):
            if not os.path.isfile(p):
                continue
            mkdirs(p)
            with open(p, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(p.lstrip("/"))
            ti.size, ti.mode, ti.mtime = len(data), os.stat(p).st_mode & 0o7777, int(os.stat(p).st_mtime)
            t.addfile(ti, io.BytesIO(data))
        for link, target in (("usr/bin/python3", ver), ("usr/bin/python", ver)):
            ti = tarfile.TarInfo(link)
            ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, target, 1704067200
            t.addfile(ti)
    return buf.getvalue()


def docker_archive(layers, config, tags):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        names = []
        diff_ids = []
        for data in layers:
            h = hashlib.sha256(data).hexdigest()
            put("%s/layer.tar" % h, data)
            names.append("%s/layer.tar" % h)
            diff_ids.append("sha256:" + h)
        config = dict(config, rootfs={"type": "layers", "diff_ids": diff_ids})
        cfg = json.dumps(config).encode()
        ch = hashlib.sha256(cfg).hexdigest()
        put(ch + ".json", cfg)
        put("manifest.json", json.dumps([{"Config": ch + ".json", "RepoTags": tags, "Layers": names}]).encode())
    return out.getvalue()


@pytest.fixture(scope="module")
def python_base(daemon, busybox_tar):
    if not os.access(PY, os.X_OK):
        pytest.skip("no %s on this host to assemble the test's python base from" % PY)
    _, layers, _ = archive_manifest(busybox_tar)
    layer = python_layer(layers[0])
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
           "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                              "LANG=C.UTF-8", "PIP_BREAK_SYSTEM_PACKAGES=1"],
                      "Cmd": ["python3"]},
           "history": [{"created": "2024-01-01T00:00:00Z",
                        "created_by": "busybox + the host's python3 (tests/e2e/test_build_quickstart.py)"}]}
    r = daemon.request("POST", "/images/load?quiet=1", body=docker_archive([layer], cfg, [BASE]),
                       headers={"Content-Type": "application/x-tar"}, timeout=120)
    assert r.status == 200, r
    yield BASE
    daemon.request("DELETE", "/images/%s?force=1" % BASE)


def make_context(d, dockerfile=DOCKERFILE, extra=None):
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(DEMO, "app.py"), d)
    shutil.copy(os.path.join(DEMO, "requirements.txt"), d)
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    for name, text in (extra or {}).items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    return d


# ---------------------------------------------------------------- clients

class Cli:
    """docker CLI with the classic builder (DOCKER_BUILDKIT=0), as the issue asks."""

    def __init__(self, docker):
        self.env = dict(docker.env, DOCKER_BUILDKIT="0")

    def __call__(self, *args, input=None, timeout=120, check=True, cwd=None):
        r = subprocess.run([DOCKER] + [str(a) for a in args], input=input, capture_output=True, text=True,
                           timeout=timeout, env=self.env, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError("docker %s -> %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r


@pytest.fixture(scope="module")
def dk(docker):
    return Cli(docker)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(port, timeout=15):
    """GET http://127.0.0.1:PORT/ from the host, retrying while the app starts."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=3) as r:
                return r.status, r.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.2)
    raise AssertionError("http://127.0.0.1:%d/ did not answer in %ss: %r" % (port, timeout, last))


def fetch_inside(dk, ctr, timeout=15):
    """The same request from inside the container (needs no port publishing)."""
    code = ("import urllib.request as u,time\n"
            "for i in range(%d):\n"
            "    try:\n"
            "        print(u.urlopen('http://127.0.0.1:5000/',timeout=2).read().decode(),end=''); break\n"
            "    except OSError: time.sleep(0.2)\n") % (timeout * 5)
    return dk("exec", ctr, "python3", "-c", code).stdout


def image_ids(daemon, ref):
    r = daemon.request("GET", "/images/json?filters=%s" % urllib.request.quote(json.dumps({"reference": [ref]})))
    assert r.status == 200, r
    return [i["Id"] for i in r.json()]


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


@pytest.fixture
def cleanup(daemon):
    """cleanup(kind, name): force-removed after the test (containers, images, volumes)."""
    made = []
    yield lambda kind, n: made.append((kind, n))
    for kind, n in reversed(made):
        path = {"c": "/containers/%s?force=1&v=1", "i": "/images/%s?force=1", "v": "/volumes/%s?force=1"}[kind]
        daemon.request("DELETE", path % n, timeout=30)


# ---------------------------------------------------------------- the quick start

def test_quickstart_docker_cli(daemon, dk, python_base, workdir, cleanup):
    ctx = make_context(os.path.join(workdir, "app"))
    cleanup("c", "my-app")
    cleanup("i", "my-python-app")
    r = dk("build", "-t", "my-python-app", ".", cwd=ctx)
    out = r.stdout
    assert "Sending build context to Docker daemon" in out, out
    assert "Step 1/6 : FROM %s" % BASE in out, out
    assert "Step 4/6 : RUN python3 -m compileall -q . && echo compiled" in out, out
    assert "compiled" in out
    assert "Successfully tagged my-python-app:latest" in out, out
    img = dk("image", "inspect", "my-python-app").stdout
    cfg = json.loads(img)[0]["Config"]
    assert cfg["ExposedPorts"] == {"5000/tcp": {}}, cfg
    assert cfg["Cmd"] == ["python3", "app.py"], cfg
    assert cfg["WorkingDir"] == "/app", cfg

    port = free_port()
    dk("run", "-d", "-p", "%d:5000" % port, "--name", "my-app", "my-python-app")
    # the app answers inside its container whatever the network does
    assert "Hello from skiff!" in fetch_inside(dk, "my-app")
    status, body = fetch(port)
    assert status == 200 and "Hello from skiff!" in body, body

    ps = dk("ps", "--filter", "name=my-app", "--format", "{{.Names}} {{.Image}} {{.Status}} {{.Ports}}").stdout
    assert ps.startswith("my-app my-python-app Up"), ps
    assert "0.0.0.0:%d->5000/tcp" % port in ps, ps
    logs = dk("logs", "my-app")
    assert "listening on port 5000" in logs.stdout + logs.stderr
    assert "GET / HTTP/1.1" in logs.stdout + logs.stderr

    assert dk("exec", "my-app", "python3", "-c", "import os; print(os.getcwd(), sorted(os.listdir()))").stdout \
        .startswith("/app [")
    assert dk("exec", "my-app", "cat", "/app/requirements.txt").stdout.startswith("#")
    # exec -it under a real pty
    cmd = "%s exec -it my-app /bin/sh" % DOCKER
    feed = "sleep 0.5; printf 'pwd; tty; exit 4\\r'; sleep 3"
    p = subprocess.run(["bash", "-c", "(%s) | script -qec '%s' /dev/null" % (feed, cmd)],
                       capture_output=True, text=True, timeout=30, env=dk.env)
    assert "/app" in p.stdout and "/dev/pts/" in p.stdout, p.stdout
    assert p.returncode == 4, p.stdout

    t0 = time.time()
    dk("stop", "my-app")
    assert time.time() - t0 < 8, "the app's SIGTERM handler should make stop quick"
    assert dk("inspect", "-f", "{{.State.Status}}", "my-app").stdout.strip() == "exited"
    dk("start", "my-app")
    assert "Hello from skiff!" in fetch_inside(dk, "my-app")
    status, body = fetch(port)
    assert "Hello from skiff!" in body
    dk("stop", "my-app")
    dk("rm", "my-app")
    assert dk("ps", "-a", "-q", "--filter", "name=^my-app$").stdout.strip() == ""


def test_volumes_named_and_bind(daemon, dk, python_base, workdir, cleanup, vol):
    ctx = make_context(os.path.join(workdir, "app"))
    tag = uniq("qs-vol")
    cleanup("i", tag)
    dk("build", "-q", "-t", tag, ctx)
    v = vol("my-data")
    dk("volume", "create", v)
    # the app counts visits in /data: the count survives the container
    for expect in (1, 2):
        c = uniq("qs-vol-c")
        cleanup("c", c)
        dk("run", "-d", "-v", "%s:/data" % v, "--name", c, tag)
        out = fetch_inside(dk, c)
        assert "Visits recorded in /data: %d" % expect in out, out
        dk("rm", "-f", c)
    host = os.path.join(workdir, "host-path")
    os.makedirs(host)
    with open(os.path.join(host, "from-host.txt"), "w") as f:
        f.write("written on the host\n")
    c = uniq("qs-bind")
    cleanup("c", c)
    dk("run", "-d", "-v", "%s:/container/path" % host, "--name", c, tag)
    assert dk("exec", c, "cat", "/container/path/from-host.txt").stdout == "written on the host\n"
    dk("exec", c, "sh", "-c", "echo from the container > /container/path/back.txt")
    with open(os.path.join(host, "back.txt")) as f:
        assert f.read() == "from the container\n"


def test_sdk_build(daemon, dockerpy, python_base, workdir, cleanup):
    ctx = make_context(os.path.join(workdir, "app"))
    tag = uniq("qs-sdk")
    cleanup("i", tag)
    image, logs = dockerpy.images.build(path=ctx, tag=tag)
    text = "".join(l.get("stream", "") for l in logs)
    assert "Step 6/6 : CMD" in text, text
    assert image.attrs["Config"]["ExposedPorts"] == {"5000/tcp": {}}
    assert tag + ":latest" in image.tags
    out = dockerpy.containers.run(tag, ["python3", "-c", "import app; print(app.PORT)"], remove=True)
    assert out == b"5000\n"


def test_skiff_build(daemon, skiff, python_base, workdir, cleanup):
    ctx = make_context(os.path.join(workdir, "app"))
    tag = uniq("qs-skiff")
    cleanup("i", tag)
    r = skiff("build", "-t", tag, "-t", tag + ":v2", "--label", "org.example.demo=yes", "--progress=plain", ctx,
              timeout=120)
    assert "Step 1/6 : FROM %s" % BASE in r.stdout, r.stdout
    assert "\033[" not in r.stdout, "plain progress must not colour"
    assert "Successfully tagged %s:latest" % tag in r.stdout, r.stdout
    info = json.loads(skiff("image", "inspect", tag).stdout)[0]
    assert info["Config"]["Labels"].get("org.example.demo") == "yes", info["Config"]
    assert set(info["RepoTags"]) >= {tag + ":latest", tag + ":v2"}
    iid = os.path.join(workdir, "iid")
    q = skiff("image", "build", "-q", "--iidfile", iid, "-t", tag, "--label", "org.example.demo=yes", ctx,
              timeout=120)
    now = json.loads(skiff("image", "inspect", tag).stdout)[0]["Id"]
    assert q.stdout.strip() == now == info["Id"], "the same context and labels hit the cache: " + q.stdout
    with open(iid) as f:
        assert f.read() == now
    # a Dockerfile on stdin, no context
    r = skiff("build", "-q", "-t", tag + ":stdin", "-", input="FROM %s\nRUN echo hi > /x\n" % BASE, timeout=60)
    cleanup("i", tag + ":stdin")
    assert r.stdout.startswith("sha256:"), r.stdout
    # a failing RUN: docker's CLI exits with the command's code and prints the error
    r = skiff("build", "-", input="FROM %s\nRUN exit 7\n" % BASE, check=False, timeout=60)
    assert r.returncode == 7, (r.returncode, r.stdout, r.stderr)
    assert "returned a non-zero code: 7" in r.stderr, r.stderr


def test_cache_hit_and_miss(daemon, dk, python_base, workdir, cleanup):
    ctx = make_context(os.path.join(workdir, "app"))
    tag = uniq("qs-cache")
    cleanup("i", tag)
    first = dk("build", "-t", tag, ctx).stdout
    id1 = image_ids(daemon, tag)
    t0 = time.perf_counter()
    again = dk("build", "-t", tag, ctx).stdout
    elapsed = time.perf_counter() - t0
    assert again.count("---> Using cache") == 5, again  # every step after FROM
    assert image_ids(daemon, tag) == id1
    assert elapsed < 2.0, "a cached rebuild took %.2f s (docker CLI included)" % elapsed
    with open(os.path.join(ctx, "app.py"), "a") as f:
        f.write("\n# changed\n")
    changed = dk("build", "-t", tag, ctx).stdout
    assert changed.count("---> Using cache") == 0, changed  # COPY missed: so does all after it
    assert image_ids(daemon, tag) != id1
    no = dk("build", "--no-cache", "-t", tag, ctx).stdout
    assert "Using cache" not in no and "compiled" in no, first


def test_dockerignore(daemon, dk, python_base, workdir, cleanup):
    ctx = make_context(os.path.join(workdir, "app"), extra={
        ".dockerignore": "secret.txt\n**/*.log\n!keep.log\n",
        "secret.txt": "do not ship\n",
        "logs/debug.log": "noise\n",
        "keep.log": "kept\n",
    })
    tag = uniq("qs-ignore")
    cleanup("i", tag)
    dk("build", "-q", "-t", tag, ctx)
    out = dk("run", "--rm", tag, "sh", "-c", "ls -a /app /app/logs 2>&1").stdout
    assert "secret.txt" not in out, out
    assert "debug.log" not in out, out
    assert "keep.log" in out and "app.py" in out, out


BAD = [
    ("unknown-instruction", "FROM %s\nFOO bar\n" % BASE, ["unknown instruction", "line 2"]),
    ("missing-from", "RUN echo hi\n", ["line 1"]),
    ("copy-outside", "FROM %s\nCOPY ../x /x\n" % BASE, ["../x"]),
    ("failing-run", "FROM %s\nCOPY . /app\nRUN echo about to fail && exit 3\nCMD [\"true\"]\n" % BASE,
     ["returned a non-zero code: 3"]),
]


@pytest.mark.parametrize("case,dockerfile,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_input(daemon, dk, python_base, workdir, case, dockerfile, needles):
    ctx = make_context(os.path.join(workdir, "bad"), dockerfile=dockerfile)
    tag = uniq("qs-bad-" + case)
    before_ctrs = {c["Id"] for c in daemon.containers()}
    mounts_before = mounts_mentioning(daemon.base)
    r = dk("build", "-t", tag, ctx, check=False)
    assert r.returncode != 0, r.stdout
    for n in needles:
        assert n in r.stderr, (n, r.stdout, r.stderr)
    if case == "failing-run":
        assert r.returncode == 3, r.returncode  # docker's CLI exits with errorDetail.code
        assert "Step 3/4 : RUN echo about to fail && exit 3" in r.stdout and "about to fail" in r.stdout, r.stdout
    assert image_ids(daemon, tag) == [], "a failed build tagged %s" % tag
    assert {c["Id"] for c in daemon.containers()} == before_ctrs, "a build container was left"
    assert wait_for(lambda: mounts_mentioning(daemon.base) == mounts_before, timeout=5, what="build mounts gone")


# ---------------------------------------------------------------- the real demo

@pytest.fixture(scope="module")
def debian_python(daemon):
    d = tempfile.mkdtemp(prefix="skiff-e2e-debian-")
    out = os.path.join(d, "debian.tar")
    try:
        r = subprocess.run([MKDEBIAN, "--cached-only", out], capture_output=True, text=True, timeout=120)
        if r.returncode == 3:
            pytest.skip("the debootstrap base is not cached on this machine (tools/mkimage-debian makes it "
                        "in a few minutes; `make demo` does)")
        assert r.returncode == 0, r.stderr
        daemon.load_image(out)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    yield "python:3-bookworm"
    for ref in ("python:3-bookworm", "python:3", "debian:bookworm", "debian:12"):
        daemon.request("DELETE", "/images/%s?force=1" % ref)


def test_demo_app_on_debian_base(daemon, dk, debian_python, cleanup):
    """tools/demo-app exactly as `make demo` builds it: pip3 install -r requirements.txt on Debian's python3."""
    tag = uniq("qs-demo")
    cleanup("i", tag)
    out = dk("build", "-t", tag, DEMO, timeout=300).stdout
    assert "Step 4/6 : RUN pip3 install -r requirements.txt" in out, out
    c = uniq("qs-demo-c")
    cleanup("c", c)
    port = free_port()
    dk("run", "-d", "-p", "%d:5000" % port, "--name", c, tag)
    assert "Python 3.11" in fetch_inside(dk, c)
    assert dk("exec", c, "bash", "-c", "echo $BASH_VERSION").stdout.startswith("5.")
    status, body = fetch(port)
    assert "Hello from skiff!" in body
