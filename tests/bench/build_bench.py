#!/usr/bin/python3
# Build section of `make bench`: a cached rebuild of the demo app (on the
# debootstrap python base when tools/mkimage-debian has it cached, else on
# busybox, and the table says which), a from-scratch (--no-cache) build of a
# 10-step Dockerfile on busybox, through the docker CLI's classic builder
# (DOCKER_BUILDKIT=0) and over raw HTTP; and Docker's own classic builder
# where a Docker engine answers on this host (else the row says so).
#
# Standalone: /usr/bin/python3 tests/bench/build_bench.py [--out FILE]
# From bench.py: EXTRA_SECTIONS; BENCH_BUILD_N (20) rebuilds, BENCH_BUILD_SCRATCH_N (5) scratch builds.
import http.client
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Daemon, log, pct, ROOT)

N = int(os.environ.get("BENCH_BUILD_N", "20"))
SCRATCH_N = int(os.environ.get("BENCH_BUILD_SCRATCH_N", "5"))
DOCKER = "/usr/local/bin/docker"
DEMO = os.path.join(bench.ROOT, "tools", "demo-app")
MKDEBIAN = os.path.join(bench.ROOT, "tools", "mkimage-debian")
DOCKERD_SOCKS = ["/var/run/docker.sock", "/run/docker.sock"]

BUSYBOX_APP = """FROM busybox
COPY . /app
WORKDIR /app
RUN echo 'no pip on busybox: a RUN that needs no network' > /app/built.txt
EXPOSE 5000
CMD ["sh", "-c", "cat /app/built.txt"]
"""

TEN_STEPS = """FROM busybox
ENV GREETING=hello
WORKDIR /work
COPY . /work/src
RUN echo $GREETING > /work/one
RUN mkdir -p /work/a/b && touch /work/a/b/c
RUN cp -r /work/src /work/copy && rm -rf /work/copy/Dockerfile
LABEL org.example.bench=ten-steps
EXPOSE 8080
CMD ["cat", "/work/one"]
"""


def context_tar(files):
    """{name: text} -> uncompressed tar bytes, as the docker CLI sends it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in sorted(files):
            data = files[name].encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1704067200
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def dir_files(d):
    out = {}
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            with open(p) as f:
                out[name] = f.read()
    return out


def raw_build(sock, query, body):
    """POST /build over its own connection; returns (ms, messages)."""
    c = http.client.HTTPConnection("localhost", timeout=900)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    c.sock = s
    t0 = time.perf_counter()
    c.request("POST", "/v1.50/build?" + query, body=body,
              headers={"Content-Type": "application/x-tar", "X-Registry-Config": "e30="})
    r = c.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    msgs = []
    for line in data.splitlines():
        try:
            msgs.append(json.loads(line))
        except ValueError:
            pass
    if r.status != 200 or any("error" in m or "errorDetail" in m for m in msgs):
        raise RuntimeError("build %s: %d %s" % (query, r.status, data[-300:]))
    return ms, msgs


def cli_build(env, ctxdir, args, client=DOCKER):
    t0 = time.perf_counter()
    r = subprocess.run([client, "build"] + args + [ctxdir], capture_output=True, text=True, env=env, timeout=900)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode:
        raise RuntimeError("docker build %s: %s" % (" ".join(args), (r.stderr or r.stdout)[-300:]))
    return ms, r.stdout


def docker_engine():
    """The socket of a real dockerd on this host, or None."""
    for p in DOCKERD_SOCKS:
        if not os.path.exists(p):
            continue
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(2)
            s.connect(p)
            s.sendall(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            s.close()
            if b"200 OK" in data.split(b"\r\n", 1)[0] and b"skiff" not in data.lower():
                return p
        except OSError:
            pass
    return None


def stats(ms):
    return statistics.median(ms), bench.pct(ms, 90), min(ms)


def load_debian(api, sock):
    """Loads the cached python:3-bookworm base into the bench daemon; False when not cached."""
    work = tempfile.mkdtemp(prefix="skiff-bench-debian-")
    try:
        out = os.path.join(work, "debian.tar")
        r = subprocess.run([MKDEBIAN, "--cached-only", out], capture_output=True, text=True)
        if r.returncode:
            return False
        with open(out, "rb") as f:
            st, body = api("POST", "/images/load?quiet=1", f.read(), {"Content-Type": "application/x-tar"})
        if st != 200:
            raise RuntimeError("loading the debian base: %d %s" % (st, body[:200]))
        return True
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(api, pid, sock, n=N):
    res = {"n": n, "scratch_n": SCRATCH_N}
    work = tempfile.mkdtemp(prefix="skiff-bench-build-")
    cfg = os.path.join(work, "docker-config")
    os.makedirs(cfg)
    env = dict(os.environ, DOCKER_HOST="unix://" + sock, DOCKER_CONFIG=cfg, DOCKER_BUILDKIT="0")
    try:
        # -- the demo app, cached rebuild
        app = os.path.join(work, "app")
        if load_debian(api, sock):
            shutil.copytree(DEMO, app)
            res["app_base"] = "python:3-bookworm (tools/mkimage-debian), tools/demo-app as is"
        else:
            os.makedirs(app)
            for f in ("app.py", "requirements.txt"):
                shutil.copy(os.path.join(DEMO, f), app)
            with open(os.path.join(app, "Dockerfile"), "w") as f:
                f.write(BUSYBOX_APP)
            res["app_base"] = ("busybox (the debootstrap base is not cached: run tools/mkimage-debian), "
                               "tools/demo-app's files with a 6-step busybox Dockerfile")
        bench.log("build: first build of the demo app (%s)" % res["app_base"].split(" ")[0])
        res["app_first_ms"], _ = cli_build(env, app, ["-q", "-t", "bench-demo-app"])
        body = context_tar(dir_files(app))
        cli, sk, raw = [], [], []
        skiff = os.path.join(bench.BIN, "skiff")
        for _ in range(n):
            ms, out = cli_build(env, app, ["-t", "bench-demo-app"])
            if "Using cache" not in out:
                raise RuntimeError("a rebuild of an unchanged context missed the cache:\n" + out[-500:])
            cli.append(ms)
            sk.append(cli_build(env, app, ["-t", "bench-demo-app"], client=skiff)[0])
            ms, _ = raw_build(sock, "t=bench-demo-app&version=1", body)
            raw.append(ms)
        res["app_cli"], res["app_skiff"], res["app_raw"] = stats(cli), stats(sk), stats(raw)

        # -- 10 steps on busybox, nothing cached
        ten = os.path.join(work, "ten")
        os.makedirs(ten)
        with open(os.path.join(ten, "Dockerfile"), "w") as f:
            f.write(TEN_STEPS)
        with open(os.path.join(ten, "data.txt"), "w") as f:
            f.write("x" * 4096)
        body = context_tar(dir_files(ten))
        cli, raw = [], []
        bench.log("build: %d x 10-step --no-cache builds" % SCRATCH_N)
        for _ in range(SCRATCH_N):
            ms, _ = cli_build(env, ten, ["--no-cache", "-q", "-t", "bench-ten"])
            cli.append(ms)
            ms, _ = raw_build(sock, "t=bench-ten&nocache=1&version=1", body)
            raw.append(ms)
        res["ten_cli"], res["ten_raw"] = stats(cli), stats(raw)

        # -- Docker's classic builder, same Dockerfiles, where an engine exists
        eng = docker_engine()
        res["docker_engine"] = eng
        if eng:
            denv = dict(env, DOCKER_HOST="unix://" + eng)
            ms = [cli_build(denv, ten, ["--no-cache", "-q", "-t", "skiff-bench-ten"])[0] for _ in range(SCRATCH_N)]
            res["docker_ten"] = stats(ms)
            subprocess.run([DOCKER, "rmi", "-f", "skiff-bench-ten"], env=denv, capture_output=True)
    finally:
        for ref in ("bench-demo-app", "bench-ten"):
            api("DELETE", "/images/%s?force=1" % ref)
        shutil.rmtree(work, ignore_errors=True)
    return res


def markdown(res):
    def row(label, s, note=""):
        return "| %s | %.1f | %.1f | %.1f | %s |" % (label, s[0], s[1], s[2], note)
    lines = ["## Builds (classic builder protocol)", "",
             "Demo app: %s; first build %.0f ms. Cached rebuilds of the unchanged context, %d times; "
             "10-step Dockerfile on busybox (ENV, WORKDIR, COPY, 3 RUN, LABEL, EXPOSE, CMD) with `--no-cache`, "
             "%d times." % (res["app_base"], res["app_first_ms"], res["n"], res["scratch_n"]), "",
             "| what | median ms | p90 ms | min ms | notes |", "| --- | ---: | ---: | ---: | --- |",
             row("cached rebuild of the demo app: `docker build` (CLI 28, DOCKER_BUILDKIT=0) -> skiffd",
                 res["app_cli"], "end to end, CLI start-up included"),
             row("cached rebuild of the demo app: `skiff build`", res["app_skiff"], "end to end"),
             row("cached rebuild of the demo app: `POST /build` over raw HTTP", res["app_raw"],
                 "context tar prepared once"),
             row("10-step build from scratch: `docker build --no-cache` -> skiffd", res["ten_cli"], ""),
             row("10-step build from scratch: `POST /build?nocache=1` over raw HTTP", res["ten_raw"], "")]
    if res.get("docker_ten"):
        lines.append(row("10-step build from scratch: Docker's classic builder (dockerd at %s)"
                         % res["docker_engine"], res["docker_ten"], "same Dockerfile, same run"))
    else:
        lines.append("| 10-step build from scratch: Docker's classic builder | – | – | – | "
                     "not available on this host (no Docker engine answers) |")
    lines.append("")
    return lines


if __name__ == "__main__":
    bench.standalone_section(sys.modules[__name__])
