"""POST /build (the classic builder) through raw HTTP and `docker build`
(DOCKER_BUILDKIT=0) on the busybox base: every instruction's effect on the
image, RUN output, failures, the cache, multi-stage, ONBUILD, scratch, and
that nothing is left behind."""
import io
import json
import os
import tarfile
import time
import uuid
from urllib.parse import quote

import pytest

BASE = "busybox:latest"


def ctx_tar(files):
    """A context tar from {name: text|bytes}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in sorted(files.items()):
            if isinstance(data, str):
                data = data.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def build(daemon, files, query="", timeout=120):
    """(status, [messages]) of a raw POST /build."""
    r = daemon.request("POST", "/v1.50/build?version=1&" + query, body=ctx_tar(files),
                       headers={"Content-Type": "application/x-tar", "X-Registry-Config": "e30="},
                       timeout=timeout)
    msgs = []
    for line in r.body.decode(errors="replace").splitlines():
        if line.strip():
            msgs.append(json.loads(line))
    return r.status, msgs


def text(msgs):
    return "".join(m.get("stream", "") for m in msgs)


def error(msgs):
    errs = [m for m in msgs if "errorDetail" in m]
    return errs[-1] if errs else None


def built_id(msgs):
    ids = [m["aux"]["ID"] for m in msgs if "aux" in m]
    return ids[-1] if ids else None


def image(daemon, ref):
    r = daemon.request("GET", "/images/%s/json" % ref)
    assert r.status == 200, r
    return r.json()


def tag():
    return "e2e-build-%s:1" % uuid.uuid4().hex[:8]


@pytest.fixture
def tags(daemon):
    made = []

    def new():
        t = tag()
        made.append(t)
        return t
    yield new
    for t in made:
        daemon.request("DELETE", "/images/%s?force=1" % t)


def mounts_of(path_part):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if path_part in l]


def leftovers(daemon):
    """Temp dirs, mounts and build cgroups left by builds of this daemon."""
    tmp = os.path.join(daemon.data_root, "image", "tmp")
    left = os.listdir(tmp) if os.path.isdir(tmp) else []
    return left, mounts_of(daemon.data_root)


def test_instructions_effects(daemon, tags):
    t = tags()
    df = """FROM busybox
MAINTAINER someone <a@b.c>
ENV A=1 B="two words"
ENV C ${A}-x
LABEL l1=v1 "l 2"="v 2"
WORKDIR /app
WORKDIR sub
USER 1000:1000
EXPOSE 80 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD echo ok
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
"""
    st, msgs = build(daemon, {"Dockerfile": df}, "t=" + t)
    assert st == 200
    assert error(msgs) is None, msgs
    out = text(msgs)
    assert "Step 1/15 : FROM busybox" in out
    assert "Successfully built" in out and "Successfully tagged %s" % t in out
    img = image(daemon, t)
    c = img["Config"]
    assert img["Author"] == "someone <a@b.c>"
    assert "A=1" in c["Env"] and "B=two words" in c["Env"] and "C=1-x" in c["Env"]
    assert c["Labels"] == {"l1": "v1", "l 2": "v 2"}
    assert c["WorkingDir"] == "/app/sub"
    assert c["User"] == "1000:1000"
    assert set(c["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert c["Volumes"] == {"/data": {}}
    assert c["StopSignal"] == "SIGINT"
    assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "echo ok"]
    assert c["Healthcheck"]["Interval"] == 5000000000 and c["Healthcheck"]["Retries"] == 2
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["Entrypoint"] == ["/bin/echo"] and c["Cmd"] == ["hello"]
    hist = daemon.request("GET", "/images/%s/history" % t).json()
    by = [h["CreatedBy"] for h in hist]
    assert '/bin/sh -c #(nop)  ENV A=1 B=two words' in by
    assert '/bin/sh -c #(nop) WORKDIR /app' in by
    assert '/bin/sh -ec #(nop)  CMD ["hello"]' in by
    # WORKDIR made the directory
    r = daemon.request("POST", "/containers/create", body={"Image": t, "Entrypoint": ["ls", "-d", "/app/sub"],
                                                           "User": "0"})
    assert r.status == 201, r
    cid = r.json()["Id"]
    daemon.request("POST", "/containers/%s/start" % cid)
    daemon.request("POST", "/containers/%s/wait" % cid)
    logs = daemon.request("GET", "/containers/%s/logs?stdout=1" % cid).body
    # v=1: the image's VOLUME made an anonymous volume; leave nothing behind
    daemon.request("DELETE", "/containers/%s?force=1&v=1" % cid)
    assert b"/app/sub" in logs


def test_run_output_layer_and_cache(daemon, tags):
    t = tags()
    df = "FROM busybox\nRUN echo building-$((6*7)) && mkdir -p /out && echo data > /out/f && rm /bin/true\nCMD cat /out/f\n"
    st, msgs = build(daemon, {"Dockerfile": df}, "t=" + t)
    assert error(msgs) is None, msgs
    out = text(msgs)
    assert "building-42\n" in out
    assert " ---> Running in " in out
    img = image(daemon, t)
    base = image(daemon, BASE)
    assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert img["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /out/f"]
    # the new layer only holds the change (+ a whiteout), not the base
    assert img["Size"] - base["Size"] < 4096
    # rebuild: every step from the cache, same id
    t0 = time.time()
    st, msgs2 = build(daemon, {"Dockerfile": df}, "t=" + t)
    took = time.time() - t0
    assert error(msgs2) is None
    assert text(msgs2).count("Using cache") == 2
    assert built_id(msgs2) == built_id(msgs)
    assert took < 2.0
    # nocache: runs again
    st, msgs3 = build(daemon, {"Dockerfile": df}, "nocache=1")
    assert "Using cache" not in text(msgs3) and "building-42" in text(msgs3)


def test_failing_run(daemon, tags):
    t = tags()
    st, msgs = build(daemon, {"Dockerfile": "FROM busybox\nRUN echo before; exit 3\n"}, "t=" + t)
    assert st == 200
    e = error(msgs)
    assert e is not None
    assert e["errorDetail"]["message"] == "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3"
    assert e["errorDetail"]["code"] == 3
    assert "before" in text(msgs)
    assert daemon.request("GET", "/images/%s/json" % t).status == 404
    left, mnts = leftovers(daemon)
    assert left == [] and mnts == []


def test_bad_dockerfiles(daemon):
    cases = [
        ("FROM busybox\nFOO bar\n", "unknown instruction: FOO"),
        ("RUN true\n", "no build stage"),
        ("FROM nosuchimage-%s\n" % uuid.uuid4().hex[:6], "No such image"),
        ("FROM ${NOPE}\n", "base name"),
        ("FROM --platform=linux/s390x-nope busybox\n", "not supported"),
    ]
    for df, want in cases:
        st, msgs = build(daemon, {"Dockerfile": df})
        e = error(msgs)
        assert e is not None and want in e["errorDetail"]["message"], (df, msgs)
    st, msgs = build(daemon, {"Dockerfile": "FROM busybox\n"}, "target=nostage")
    assert "failed to reach build target nostage" in error(msgs)["errorDetail"]["message"]


def test_copy_cache_miss_on_change(daemon, tags):
    t = tags()
    df = "FROM busybox\nCOPY a.txt /dst/\nRUN cat /dst/a.txt\n"
    st, msgs = build(daemon, {"Dockerfile": df, "a.txt": "one\n"}, "t=" + t)
    assert error(msgs) is None, msgs
    assert "one\n" in text(msgs)
    st, msgs = build(daemon, {"Dockerfile": df, "a.txt": "one\n"}, "t=" + t)
    assert text(msgs).count("Using cache") == 2
    st, msgs = build(daemon, {"Dockerfile": df, "a.txt": "two\n"}, "t=" + t)
    assert "Using cache" not in text(msgs) and "two\n" in text(msgs)


def test_multistage_target_copy_from(daemon, tags):
    t, t2 = tags(), tags()
    df = """ARG MSG=hi
FROM busybox AS first
ARG MSG
RUN echo "$MSG" > /msg
FROM busybox AS second
COPY --from=first /msg /got
COPY --from=0 /msg /got0
RUN cat /got /got0
FROM second AS third
RUN echo never
"""
    st, msgs = build(daemon, {"Dockerfile": df}, "t=%s&target=second&buildargs=%s" % (t, quote(json.dumps({"MSG": "hey"}))))
    assert error(msgs) is None, msgs
    out = text(msgs)
    assert "hey\nhey\n" in out
    assert "never" not in out
    assert "Step 1/8 :" in out


def test_onbuild_and_scratch(daemon, tags):
    parent, child, scr = tags(), tags(), tags()
    st, msgs = build(daemon, {"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trig\n"}, "t=" + parent)
    assert error(msgs) is None, msgs
    assert image(daemon, parent)["Config"]["OnBuild"] == ["RUN echo triggered > /trig"]
    st, msgs = build(daemon, {"Dockerfile": "FROM %s\nRUN cat /trig\n" % parent}, "t=" + child)
    assert error(msgs) is None, msgs
    assert "# Executing 1 build trigger" in text(msgs)
    assert "triggered\n" in text(msgs)
    assert not image(daemon, child)["Config"].get("OnBuild")
    st, msgs = build(daemon, {"Dockerfile": "FROM scratch\nCOPY f /f\nCMD [\"/f\"]\n", "f": "x"}, "t=" + scr)
    assert error(msgs) is None, msgs
    img = image(daemon, scr)
    assert len(img["RootFS"]["Layers"]) == 1


def test_docker_cli_build(daemon, docker, workdir, tags):
    t = tags()
    with open(os.path.join(workdir, "Dockerfile"), "w") as f:
        f.write("FROM busybox\nCOPY . /app\nRUN ls /app\nLABEL x=y\n")
    with open(os.path.join(workdir, "hello.txt"), "w") as f:
        f.write("hi\n")
    env_cli = docker
    env_cli.env["DOCKER_BUILDKIT"] = "0"
    try:
        r = docker("build", "-t", t, "--label", "from=cli", workdir, timeout=120)
    finally:
        env_cli.env.pop("DOCKER_BUILDKIT", None)
    assert "Successfully tagged %s" % t in r.stdout, r.stdout + r.stderr
    assert "hello.txt" in r.stdout
    img = image(daemon, t)
    assert img["Config"]["Labels"] == {"x": "y", "from": "cli"}
    with open(os.path.join(workdir, "Dockerfile"), "w") as f:
        f.write("FROM busybox\nRUN false\n")
    docker.env["DOCKER_BUILDKIT"] = "0"
    try:
        r = docker("build", workdir, timeout=120, check=False)
    finally:
        docker.env.pop("DOCKER_BUILDKIT", None)
    assert r.returncode != 0
    assert "The command '/bin/sh -c false' returned a non-zero code: 1" in r.stderr + r.stdout


def test_quiet_and_prune(daemon, tags):
    st, msgs = build(daemon, {"Dockerfile": "FROM busybox\nRUN echo noisy > /n\n"}, "q=1&nocache=1")
    assert error(msgs) is None, msgs
    streams = [m["stream"] for m in msgs if "stream" in m]
    assert len(streams) == 1 and streams[0].startswith("sha256:"), msgs
    r = daemon.request("POST", "/build/prune")
    assert r.status == 200, r
    rep = r.json()
    assert "SpaceReclaimed" in rep and "CachesDeleted" in rep
    left, mnts = leftovers(daemon)
    assert left == [] and mnts == []


def test_disconnect_cancels_and_cleans(daemon):
    import socket
    body = ctx_tar({"Dockerfile": "FROM busybox\nRUN echo started; sleep 31337\n"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.sock)
    s.sendall(b"POST /v1.50/build?version=1&nocache=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got = b""
    end = time.time() + 30
    while b'"started\\n"' not in got and time.time() < end:
        got += s.recv(4096)
    assert b'"started\\n"' in got, got

    def sleepers():
        out = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        if b"31337" in f.read():
                            out.append(p)
                except OSError:
                    pass
        return out
    # "started" comes before the shell has forked sleep: give it a moment
    end = time.time() + 10
    while not sleepers() and time.time() < end:
        time.sleep(0.05)
    assert sleepers()
    s.close()
    end = time.time() + 15
    while time.time() < end and (sleepers() or leftovers(daemon) != ([], [])):
        time.sleep(0.1)
    assert sleepers() == []
    assert leftovers(daemon) == ([], [])
