# Container lifecycle through the docker CLI and the docker SDK: run, ps,
# logs, stop/start/restart/kill, wait, rename, pause, top, events, rm,
# attach with stdin, exit codes and a tty.
import json
import re
import subprocess
import time

from conftest import DOCKER, cgroup_layout, inspect, wait_for


def ps_row(docker, n, all=True):
    args = ["ps", "--format", "{{.Names}}|{{.Status}}|{{.Image}}|{{.Command}}", "--no-trunc"]
    if all:
        args.insert(1, "-a")
    for line in docker(*args).stdout.splitlines():
        f = line.split("|")
        if f[0] == n:
            return f
    return None


def test_run_detached_ps_logs_stop_start_rm(docker, daemon, name):
    n = name()
    cid = docker("run", "-d", "--name", n, "busybox", "sh", "-c",
                 "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    row = wait_for(lambda: ps_row(docker, n, all=False), what="container in ps")
    assert row[1].startswith("Up"), row
    assert row[2] == "busybox"
    wait_for(lambda: "started" in docker("logs", n).stdout, what="log line")
    docker("stop", "-t", "5", n, timeout=30)
    assert "bye" in docker("logs", n).stdout
    row = ps_row(docker, n)
    assert row[1].startswith("Exited (0)"), row
    assert ps_row(docker, n, all=False) is None
    docker("start", n)
    assert inspect(daemon, n)["State"]["Running"] is True
    wait_for(lambda: docker("logs", n).stdout.count("started") == 2, what="second start in logs")
    r = docker("rm", n, check=False)
    assert r.returncode != 0  # running: needs -f
    docker("rm", "-f", n)
    assert ps_row(docker, n) is None
    assert cid not in daemon.container_dirs()


def test_run_rm_echo(docker, daemon):
    before = daemon.container_dirs()
    r = docker("run", "--rm", "busybox", "echo", "hi")
    assert r.stdout == "hi\n"
    assert r.stderr == ""
    wait_for(lambda: daemon.container_dirs() == before, what="--rm container removed")


def test_run_stderr_separate(docker):
    r = docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_run_i_piped_stdin(docker):
    r = docker("run", "--rm", "-i", "busybox", "cat", input="piped\nsecond line\n")
    assert r.stdout == "piped\nsecond line\n"


def test_run_i_large_stdin(docker):
    data = "".join("line %06d\n" % i for i in range(20000))
    r = docker("run", "--rm", "-i", "busybox", "wc", "-l", input=data, timeout=60)
    assert r.stdout.strip() == "20000"


def test_exit_code_propagates(docker, name):
    r = docker("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    n = name()
    r = docker("run", "--name", n, "busybox", "sh", "-c", "exit 42", check=False)
    assert r.returncode == 42
    assert ps_row(docker, n)[1].startswith("Exited (42)")


def test_command_not_found(docker):
    r = docker("run", "--rm", "busybox", "nosuchcommand", check=False)
    assert r.returncode == 127
    assert "nosuchcommand" in r.stderr


def test_wait(docker, name):
    n = name()
    docker("run", "-d", "--name", n, "busybox", "sh", "-c", "sleep 0.5; exit 7")
    r = docker("wait", n, timeout=30)
    assert r.stdout.strip() == "7"


def test_kill_signal(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "busybox", "sh", "-c",
           "trap 'echo got-usr1' USR1; while :; do sleep 0.1; done")
    wait_for(lambda: inspect(daemon, n)["State"]["Running"], what="running")
    time.sleep(0.3)  # let sh install the trap
    docker("kill", "-s", "USR1", n)
    wait_for(lambda: "got-usr1" in docker("logs", n).stdout, what="USR1 handled")
    assert inspect(daemon, n)["State"]["Running"] is True
    docker("kill", n)
    st = wait_for(lambda: (lambda s: s if not s["Running"] else None)(inspect(daemon, n)["State"]),
                  what="killed")
    assert st["ExitCode"] == 137
    assert st["Status"] == "exited"


def test_restart(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "busybox", "sleep", "600")
    pid1 = inspect(daemon, n)["State"]["Pid"]
    started1 = inspect(daemon, n)["State"]["StartedAt"]
    docker("restart", "-t", "1", n, timeout=30)
    st = inspect(daemon, n)["State"]
    assert st["Running"] is True
    assert st["Pid"] != pid1 and st["Pid"] > 0
    assert st["StartedAt"] != started1
    assert inspect(daemon, n)["RestartCount"] == 0  # manual restarts do not count


def test_rename(docker, daemon, name):
    a, b = name(), name()
    docker("create", "--name", a, "busybox", "true")
    docker("rename", a, b)
    assert inspect(daemon, b)["Name"] == "/" + b
    assert daemon.request("GET", "/containers/%s/json" % a).status == 404


def test_pause_unpause(docker, daemon, name):
    n = name()
    cid = docker("run", "-d", "--name", n, "busybox", "sh", "-c",
                 "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done").stdout.strip()
    wait_for(lambda: docker("logs", n).stdout.strip(), what="output")
    docker("pause", n)
    st = inspect(daemon, n)["State"]
    assert st["Paused"] is True and st["Status"] == "paused"
    mode, roots = cgroup_layout()
    if mode == "v1":
        with open("%s/skiff/%s/freezer.state" % (roots["freezer"], cid)) as f:
            assert f.read().strip() == "FROZEN"
    else:
        with open("%s/skiff/%s/cgroup.freeze" % (roots[""], cid)) as f:
            assert f.read().strip() == "1"
    assert ps_row(docker, n)[1].endswith("(Paused)")
    time.sleep(0.2)
    l1 = docker("logs", n).stdout
    time.sleep(0.5)
    assert docker("logs", n).stdout == l1, "output continued while paused"
    docker("unpause", n)
    assert inspect(daemon, n)["State"]["Paused"] is False
    wait_for(lambda: docker("logs", n).stdout != l1, what="output after unpause")


def test_top(docker, name):
    n = name()
    docker("run", "-d", "--name", n, "busybox", "sleep", "600")
    r = docker("top", n)
    lines = r.stdout.splitlines()
    assert "PID" in lines[0] and "CMD" in lines[0]
    assert any("sleep 600" in l for l in lines[1:]), r.stdout


def test_events_since_until(docker, name):
    n = name()
    since = str(int(time.time()) - 1)
    docker("run", "--name", n, "busybox", "true")
    docker("rm", n)
    until = str(int(time.time()) + 1)
    r = docker("events", "--since", since, "--until", until, "--filter", "container=" + n,
               "--format", "{{.Type}} {{.Action}}", timeout=30)
    actions = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("container ")]
    for a in ("create", "start", "die", "destroy"):
        assert a in actions, r.stdout
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")


def test_events_json_attributes(daemon, docker, name):
    n = name()
    since = str(int(time.time()) - 1)
    docker("run", "--name", n, "busybox", "sh", "-c", "exit 5", check=False)
    until = str(int(time.time()) + 1)
    r = daemon.request("GET", '/events?since=%s&until=%s&filters={"container":["%s"]}' % (since, until, n),
                       timeout=30)
    assert r.status == 200, r
    evs = [json.loads(l) for l in r.body.decode().splitlines() if l.strip()]
    die = [e for e in evs if e["Action"] == "die"]
    assert die, evs
    assert die[0]["Actor"]["Attributes"]["exitCode"] == "5"
    assert die[0]["Actor"]["Attributes"]["name"] == n
    assert die[0]["Type"] == "container"


def test_dockerpy_container_lifecycle(dockerpy, name):
    n = name()
    c = dockerpy.containers.run("busybox", ["sh", "-c", "echo from-sdk; sleep 600"], detach=True, name=n)
    assert c.name == n
    wait_for(lambda: b"from-sdk" in c.logs(), what="sdk logs")
    c.reload()
    assert c.status == "running"
    c.stop(timeout=1)
    res = c.wait(timeout=30)
    assert res["StatusCode"] == 137
    c.reload()
    assert c.status == "exited"
    c.remove()
    assert n not in [x.name for x in dockerpy.containers.list(all=True)]


def test_dockerpy_run_output(dockerpy):
    out = dockerpy.containers.run("busybox", ["echo", "sdk-hello"], remove=True)
    assert out == b"sdk-hello\n"


def test_tty_under_pty(docker):
    cmd = "%s run --rm -t busybox sh -c 'stty size; tty'" % DOCKER
    r = subprocess.run(["script", "-qec", "stty rows 33 cols 101; " + cmd, "/dev/null"], env=docker.env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    out = r.stdout.replace("\r", "")
    assert "33 101" in out, out
    assert "/dev/pts/" in out, out


def test_tty_interactive_shell(docker):
    cmd = "%s run --rm -it busybox sh" % DOCKER
    feeder = "sleep 1; printf 'echo typed-$((6*7))\\r'; sleep 0.5; printf 'exit\\r'; sleep 1"
    r = subprocess.run(["bash", "-c", "(%s) | script -qec '%s' /dev/null" % (feeder, cmd)], env=docker.env,
                       capture_output=True, text=True, timeout=60)
    assert "typed-42" in r.stdout, r.stdout


def test_skiff_cli_run_logs_rm(skiff, name):
    r = skiff("run", "--rm", "busybox", "echo", "from-skiff")
    assert r.stdout == "from-skiff\n"
    r = skiff("run", "--rm", "busybox", "sh", "-c", "exit 5", check=False)
    assert r.returncode == 5
    r = skiff("run", "--rm", "-i", "busybox", "cat", input="skiff-stdin\n")
    assert r.stdout == "skiff-stdin\n"
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c", "echo detached; sleep 600")
    wait_for(lambda: "detached" in skiff("logs", n).stdout, what="skiff logs")
    assert n in skiff("ps").stdout
    skiff("rm", "-f", n)
    assert n not in skiff("ps", "-a").stdout
