# docker exec through the docker CLI, the Python SDK and raw HTTP: output
# and exit codes, an interactive -it shell under a pty whose size matches,
# env/user/workdir, stdin with half-close, detached execs, 409s for stopped
# and paused containers, 126/127 with the container unharmed, exec inspect,
# events, and a kill -9 of skiffd during an exec session.
import json
import os
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import (IMAGE, DockerCLI, container_cgroup_file, finish_daemon, inspect, proc_cmdline,
                      start_daemon, wait_for)


def run(docker, name, *args):
    docker("run", "-d", "--name", name, *args)


@pytest.fixture
def ctr(docker, name):
    n = name()
    run(docker, n, "--hostname", "exechost", IMAGE, "sleep", "1000")
    return n


def test_cat_hostname(docker, ctr):
    assert docker("exec", ctr, "cat", "/etc/hostname").stdout == "exechost\n"
    assert docker("exec", ctr, "hostname").stdout.strip() == "exechost"


def test_exit_code_propagates(docker, ctr):
    r = docker("exec", ctr, "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert r.returncode == 7
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_joins_namespaces_and_cgroup(docker, daemon, ctr):
    pid = inspect(daemon, ctr)["State"]["Pid"]
    out = docker("exec", ctr, "sh", "-c", "for n in pid mnt net uts ipc; do readlink /proc/self/ns/$n; done; "
                 "cat /proc/1/cmdline").stdout.split("\n")
    for ns, got in zip(("pid", "mnt", "net", "uts", "ipc"), out):
        assert got == os.readlink("/proc/%d/ns/%s" % (pid, ns)), ns
    assert out[5].startswith("sleep")
    # a detached exec's process sits in the container's cgroup (every hierarchy)
    docker("exec", "-d", ctr, "sleep", "123")
    cid = inspect(daemon, ctr)["Id"]
    for ctl in ("pids", "memory", "cpu"):
        path = container_cgroup_file(cid, ctl, "cgroup.procs", "cgroup.procs")
        wait_for(lambda: any(proc_cmdline(p.strip()).startswith("sleep 123")
                             for p in open(path).read().split()), timeout=10, what="exec in %s cgroup" % ctl)


def test_env_user_workdir(docker, ctr):
    out = docker("exec", "-u", "nobody", "-w", "/tmp", "-e", "FOO=bar", ctr,
                 "sh", "-c", "id -u; pwd; echo $FOO; echo $HOSTNAME; echo $PATH").stdout.split("\n")
    assert out[0] == "65534"
    assert out[1] == "/tmp"
    assert out[2] == "bar"
    assert out[3] == "exechost"
    assert "/bin" in out[4]


def test_caps_and_seccomp_of_the_container(docker, name):
    n = name()
    run(docker, n, "--cap-drop", "NET_RAW", IMAGE, "sleep", "1000")
    caps = docker("exec", n, "sh", "-c", "grep CapEff /proc/self/status").stdout.split()[1]
    assert int(caps, 16) & (1 << 13) == 0  # CAP_NET_RAW dropped in the exec too
    assert int(caps, 16) & (1 << 0)        # CAP_CHOWN kept
    assert "Seccomp:\t2" in docker("exec", n, "cat", "/proc/self/status").stdout
    priv = docker("exec", "--privileged", n, "sh", "-c", "grep -E 'CapEff|Seccomp:' /proc/self/status").stdout
    assert "Seccomp:\t0" in priv
    assert int(priv.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN


def test_stdin_half_close(docker, ctr):
    r = docker("exec", "-i", ctr, "sh", "-c", "cat; echo done", input="hello\nworld\n")
    assert r.stdout == "hello\nworld\ndone\n"


def test_interactive_tty_size(docker, daemon, ctr):
    """docker exec -it under a real pty (script): stty size inside matches the outer terminal."""
    cmd = "stty rows 40 cols 120; %s exec -it %s sh" % ("/usr/local/bin/docker", ctr)
    feed = "sleep 0.5; printf 'stty size; tty; exit 3\\r'; sleep 3"
    p = subprocess.run(["bash", "-c", "(%s) | script -qec '%s' /dev/null" % (feed, cmd)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, DOCKER_HOST=daemon.host))
    assert "40 120" in p.stdout, p.stdout
    assert "/dev/pts/" in p.stdout
    assert p.returncode == 3, p.stdout


def test_console_size_from_the_api(daemon, ctr):
    r = daemon.request("POST", "/containers/%s/exec" % ctr,
                       {"Cmd": ["stty", "size"], "Tty": True, "AttachStdout": True, "ConsoleSize": [33, 77]})
    assert r.status == 201, r
    eid = r.json()["Id"]
    r = daemon.request("POST", "/exec/%s/start" % eid, {"Tty": True, "ConsoleSize": [33, 77]})
    assert r.status == 200, r
    assert r.body.replace(b"\r", b"") == b"33 77\n"
    ins = daemon.request("GET", "/exec/%s/json" % eid).json()
    assert ins["ExitCode"] == 0 and ins["Running"] is False


def test_stopped_and_paused_conflict(docker, daemon, name):
    n = name()
    run(docker, n, IMAGE, "sleep", "1000")
    cid = inspect(daemon, n)["Id"]
    docker("pause", n)
    r = daemon.request("POST", "/containers/%s/exec" % n, {"Cmd": ["true"]})
    assert r.status == 409
    assert r.message == "Container %s is paused, unpause the container before exec" % cid
    r = docker("exec", n, "true", check=False)
    assert r.returncode != 0 and "is paused, unpause the container before exec" in r.stderr
    docker("unpause", n)
    docker("stop", "-t", "1", n)
    r = daemon.request("POST", "/containers/%s/exec" % n, {"Cmd": ["true"]})
    assert r.status == 409
    assert r.message == "container %s is not running" % cid
    r = docker("exec", n, "true", check=False)
    assert r.returncode != 0 and "is not running" in r.stderr


def test_missing_binary_127_container_unharmed(docker, daemon, ctr):
    r = docker("exec", ctr, "nosuchbinary", check=False)
    assert r.returncode == 127
    assert 'exec: "nosuchbinary": executable file not found in $PATH' in r.stdout + r.stderr
    assert "OCI runtime exec failed" in r.stdout + r.stderr
    r = docker("exec", ctr, "/etc/passwd", check=False)
    assert r.returncode == 126
    assert "permission denied" in r.stdout + r.stderr
    st = inspect(daemon, ctr)["State"]
    assert st["Running"] and st["ExitCode"] == 0
    assert docker("exec", ctr, "echo", "still").stdout == "still\n"


def test_bad_requests(daemon, ctr):
    r = daemon.request("POST", "/containers/%s/exec" % ctr, {"AttachStdout": True})
    assert r.status == 400 and r.message == "No exec command specified"
    r = daemon.request("POST", "/containers/%s/exec" % ctr, {"Cmd": []})
    assert r.status == 400
    r = daemon.request("POST", "/containers/nosuchctr/exec", {"Cmd": ["true"]})
    assert r.status == 404 and r.message == "No such container: nosuchctr"
    for path, method in (("/exec/nosuch/json", "GET"), ("/exec/nosuch/start", "POST"),
                         ("/exec/nosuch/resize?h=1&w=1", "POST")):
        r = daemon.request(method, path, {} if method == "POST" else None)
        assert r.status == 404 and r.message == "No such exec instance: nosuch", (path, r)


def test_exec_inspect_while_running_and_after(daemon, ctr):
    r = daemon.request("POST", "/containers/%s/exec" % ctr,
                       {"Cmd": ["sh", "-c", "sleep 1; exit 5"], "User": "nobody", "AttachStdout": True})
    eid = r.json()["Id"]
    ins = daemon.request("GET", "/exec/%s/json" % eid).json()
    assert ins["Running"] is False and ins["ExitCode"] is None and ins["ContainerID"] == inspect(daemon, ctr)["Id"]
    assert ins["ProcessConfig"] == {"tty": False, "entrypoint": "sh", "arguments": ["-c", "sleep 1; exit 5"],
                                    "privileged": False, "user": "nobody"}
    assert ins["OpenStdout"] is True and ins["OpenStdin"] is False and ins["CanRemove"] is False
    r = daemon.request("POST", "/exec/%s/start" % eid, {"Detach": True})
    assert r.status == 200 and r.body == b""
    ins = daemon.request("GET", "/exec/%s/json" % eid).json()
    assert ins["Running"] is True and ins["ExitCode"] is None and ins["Pid"] > 0
    assert eid in inspect(daemon, ctr)["ExecIDs"]
    r = daemon.request("POST", "/exec/%s/start" % eid, {"Detach": True})
    assert r.status == 409
    wait_for(lambda: daemon.request("GET", "/exec/%s/json" % eid).json()["ExitCode"] == 5, timeout=10,
             what="exit code 5")


def test_exec_output_not_in_logs(docker, ctr):
    docker("exec", ctr, "echo", "exec-output-marker")
    assert "exec-output-marker" not in docker("logs", ctr).stdout


def test_detached_exec(docker, ctr):
    docker("exec", "-d", ctr, "sh", "-c", "sleep 0.2; echo detached > /tmp/d")
    wait_for(lambda: docker("exec", ctr, "cat", "/tmp/d", check=False).stdout == "detached\n", timeout=10,
             what="the detached exec's file")


def test_sdk_exec_run(dockerpy, ctr):
    c = dockerpy.containers.get(ctr)
    res = c.exec_run(["sh", "-c", "echo sdk; exit 3"])
    assert res.exit_code == 3 and res.output == b"sdk\n"
    res = c.exec_run("cat /etc/hostname", demux=True)
    assert res.exit_code == 0 and res.output == (b"exechost\n", None)
    res = c.exec_run("pwd", workdir="/etc", environment={"A": "1"}, user="nobody")
    assert res.output == b"/etc\n"


def test_events(daemon, docker, ctr):
    since = int(time.time()) - 1
    docker("exec", ctr, "sh", "-c", "exit 2", check=False)
    r = daemon.request("GET", "/events?since=%d&until=%d&filters=%s" % (
        since, int(time.time()) + 1, urllib.parse.quote(json.dumps({"container": [ctr]}))), timeout=10)
    actions = [json.loads(l)["Action"] for l in r.body.decode().splitlines() if l]
    assert "exec_create: sh -c exit 2" in actions
    assert "exec_start: sh -c exit 2" in actions
    dies = [json.loads(l) for l in r.body.decode().splitlines() if l and json.loads(l)["Action"] == "exec_die"]
    assert dies and dies[-1]["Actor"]["Attributes"]["exitCode"] == "2"


def test_raw_hijack_multiplexed(daemon, ctr):
    """The hijack the CLI makes: Upgrade: tcp -> 101, then Docker's multiplexed frames."""
    r = daemon.request("POST", "/containers/%s/exec" % ctr,
                       {"Cmd": ["sh", "-c", "echo o; echo e >&2"], "AttachStdout": True, "AttachStderr": True})
    eid = r.json()["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(daemon.sock)
    body = b'{"Detach":false,"Tty":false}'
    s.sendall(b"POST /v1.50/exec/%s/start HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (eid.encode(), len(body), body))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    frames = {}
    while rest:
        stream, n = rest[0], int.from_bytes(rest[4:8], "big")
        frames[stream] = frames.get(stream, b"") + rest[8:8 + n]
        rest = rest[8 + n:]
    assert frames == {1: b"o\n", 2: b"e\n"}


def test_kill9_skiffd_during_exec_session(busybox_tar):
    d = start_daemon("exec-kill9", busybox_tar)
    try:
        cli = DockerCLI(d.host)
        try:
            cli("run", "-d", "--name", "k9", IMAGE, "sleep", "1000")
            sess = subprocess.Popen(["/usr/local/bin/docker", "exec", "k9", "sh", "-c",
                                     "touch /tmp/started; sleep 30"], env=cli.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: cli("exec", "k9", "test", "-f", "/tmp/started", check=False).returncode == 0,
                     timeout=15, what="the exec session to run")
            d.kill9()
            sess.wait(timeout=15)
            d.start()
            st = inspect(d, "k9")["State"]
            assert st["Running"] is True
            assert [c["Names"] for c in d.containers(all=False)] == [["/k9"]]
            # the session's process outlived skiffd: it is still in the container
            assert "sleep 30" in cli("exec", "k9", "ps").stdout
            assert cli("exec", "k9", "echo", "after").stdout == "after\n"
            cli("rm", "-f", "k9")
            wait_for(lambda: not d.containers(), timeout=15, what="k9 removed")
        finally:
            cli.close()
    finally:
        finish_daemon(d)
