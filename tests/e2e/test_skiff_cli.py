# End-to-end tests of the skiff CLI (build/bin/skiff) against a private
# skiffd: every verb and the flags scripts use, with exact output. Where the
# output format matters the same command goes through the docker CLI 28 on
# the same daemon and the two outputs must be identical ("docker" replaced
# by "skiff" in messages).
import json
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import SKIFF, container_cgroup_file, cgroup_layout, inspect, wait_for

HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---------------------------------------------------------------- helpers

def same(skiff, docker, *args, tries=3, stderr=False):
    """Runs args through both CLIs and asserts identical stdout (and exit
    code). Relative times ("2 seconds ago") can tick between the two runs,
    so a mismatch is retried a few times before it counts."""
    for i in range(tries):
        s = skiff(*args, check=False)
        d = docker(*args, check=False)
        if s.stdout == d.stdout and s.returncode == d.returncode:
            if stderr:
                assert s.stderr == d.stderr.replace("docker", "skiff"), (s.stderr, d.stderr)
            return s
        time.sleep(0.3)
    assert (s.returncode, s.stdout) == (d.returncode, d.stdout), \
        "skiff %s differs from docker\nskiff stderr: %s\ndocker stderr: %s" % (args, s.stderr, d.stderr)


def run_skiff(args, env=None, input=None, timeout=60):
    """skiff without the fixture's -H (host selection tests)."""
    e = dict(os.environ)
    for k in ("SKIFF_HOST", "DOCKER_HOST"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([SKIFF] + list(args), env=e, input=input, capture_output=True, text=True,
                          timeout=timeout)


def state(skiff, n, fmt="{{.State.Status}}"):
    return skiff("inspect", "--format", fmt, n).stdout.rstrip("\n")


@pytest.fixture
def label():
    """A label unique to this test, to scope ps/images output."""
    return "e2e.skiffcli=" + uuid.uuid4().hex[:10]


# ---------------------------------------------------------------- run

def test_run_detach_prints_full_id(skiff, name):
    n = name()
    r = skiff("run", "-d", "--name", n, "busybox", "sleep", "60")
    cid = r.stdout.rstrip("\n")
    assert HEX64.match(cid), r.stdout
    assert r.stdout == cid + "\n" and r.stderr == ""
    assert state(skiff, n, "{{.Id}} {{.State.Status}} {{.Name}}") == "%s running /%s" % (cid, n)


def test_run_rm_removes_container(skiff, name):
    n = name()
    r = skiff("run", "--rm", "--name", n, "busybox", "echo", "gone soon")
    assert (r.stdout, r.stderr) == ("gone soon\n", "")
    r = skiff("inspect", n, check=False)
    assert r.returncode == 1
    assert r.stderr == "skiff: No such object: %s\n" % n
    # --rm also removes a container whose command fails
    r = skiff("run", "--rm", "--name", n, "busybox", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    assert skiff("ps", "-a", "-q", "--filter", "name=" + n).stdout == ""


def test_run_interactive_piped_stdin(skiff):
    data = "line one\nline two\n" + "x" * 100000 + "\n"
    r = skiff("run", "--rm", "-i", "busybox", "cat", input=data)
    assert r.stdout == data
    r = skiff("run", "--rm", "-i", "busybox", "wc", "-l", input="a\nb\nc\n")
    assert r.stdout.strip() == "3"
    # without -i stdin is not forwarded: cat sees EOF at once
    r = skiff("run", "--rm", "busybox", "cat", input="not sent\n")
    assert r.stdout == ""


def test_run_env_envfile_workdir_user(skiff, daemon, workdir):
    envf = os.path.join(workdir, "env.list")
    with open(envf, "w") as f:
        f.write("A=1\n# a comment\n\nB=two words\nFROM_HOST\n")
    script = 'echo "$X|$A|$B|$FROM_HOST"; pwd; id'
    env = dict(os.environ, FROM_HOST="host value")
    r = subprocess.run([SKIFF, "-H", daemon.host, "run", "--rm", "-e", "X=y", "--env", "A=from-e",
                        "--env-file", envf, "-w", "/tmp", "-u", "1000:1000", "busybox", "sh", "-c", script],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    # docker applies --env-file first and -e after it, so -e wins
    assert r.stdout == "y|from-e|two words|host value\n/tmp\nuid=1000(skiff) gid=1000(skiff)\n"
    r = skiff("run", "--rm", "-w", "/new/dir", "-u", "nobody", "busybox", "sh", "-c", "pwd; id -un")
    assert r.stdout == "/new/dir\nnobody\n"


def test_run_labels_and_name(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "-l", "a=b", "--label", "empty=", "-l", "flag", "busybox", "true")
    assert state(skiff, n, "{{json .Config.Labels}}") == '{"a":"b","empty":"","flag":""}'
    assert state(skiff, n, "{{.Name}}") == "/" + n
    r = skiff("run", "--name", n, "busybox", "true", check=False)
    assert r.returncode == 125
    assert "is already in use" in r.stderr and r.stderr.startswith("skiff: ")


def test_run_entrypoint(skiff, name):
    r = skiff("run", "--rm", "--entrypoint", "echo", "busybox", "hi", "there")
    assert r.stdout == "hi there\n"
    n = name()
    skiff("create", "--name", n, "--entrypoint", "/bin/sh", "busybox", "-c", "exit 0")
    assert state(skiff, n, "{{json .Config.Entrypoint}} {{json .Config.Cmd}}") == '["/bin/sh"] ["-c","exit 0"]'


def test_run_read_only(skiff):
    r = skiff("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "touch: /x: Read-only file system\n")
    r = skiff("run", "--rm", "busybox", "sh", "-c", "touch /x && echo ok")
    assert r.stdout == "ok\n"


def test_run_cap_drop(skiff):
    r = skiff("run", "--rm", "--cap-drop", "chown", "busybox", "chown", "1", "/tmp", check=False)
    assert (r.returncode, r.stderr) == (1, "chown: /tmp: Operation not permitted\n")
    r = skiff("run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status")
    assert r.stdout == "CapEff:\t0000000000000000\n"
    r = skiff("run", "--rm", "busybox", "chown", "1", "/tmp")
    assert r.returncode == 0


def test_run_resource_limits(skiff, name):
    n = name()
    cid = skiff("run", "-d", "--name", n, "--memory", "64m", "--cpus", "1.5", "--pids-limit", "33",
                "busybox", "sleep", "60").stdout.strip()
    assert state(skiff, n, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}") == \
        "67108864 1500000000 33"
    mode, _ = cgroup_layout()
    with open(container_cgroup_file(cid, "memory", "memory.limit_in_bytes", "memory.max")) as f:
        assert f.read().strip() == "67108864"
    with open(container_cgroup_file(cid, "pids", "pids.max", "pids.max")) as f:
        assert f.read().strip() == "33"
    if mode == "v2":
        with open(container_cgroup_file(cid, "cpu", "", "cpu.max")) as f:
            assert f.read().split() == ["150000", "100000"]
    else:
        with open(container_cgroup_file(cid, "cpu", "cpu.cfs_quota_us", "")) as f:
            assert f.read().strip() == "150000"


def test_run_restart_on_failure(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 1")
    wait_for(lambda: state(skiff, n, "{{.RestartCount}} {{.State.Status}}") == "2 exited", timeout=20,
             what="two restarts then exited")
    assert state(skiff, n, "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}") \
        == "on-failure:2"
    assert skiff("logs", n).stdout == "try\ntry\ntry\n"
    assert skiff("wait", n).stdout == "1\n"


def test_run_exit_code_propagates(skiff, name):
    for code in (0, 1, 42, 255):
        r = skiff("run", "--rm", "busybox", "sh", "-c", "exit %d" % code, check=False)
        assert r.returncode == code, r.stderr
    # a signal death is 128+signal
    r = skiff("run", "--rm", "busybox", "sh", "-c", "sleep 100 & kill -9 $!; wait $!; exit $?", check=False)
    assert r.returncode == 137


def test_run_missing_command_127(skiff, name):
    n = name()
    r = skiff("run", "--name", n, "busybox", "nosuchcmd", check=False)
    assert r.returncode == 127
    assert r.stdout == ""
    assert r.stderr == ('skiff: failed to create task for container: exec: "nosuchcmd": '
                        'executable file not found in $PATH: unknown\n')
    assert state(skiff, n, "{{.State.Status}} {{.State.ExitCode}}") == "created 127"
    r = skiff("run", "--rm", "busybox", "/etc", check=False)
    assert r.returncode == 126


def test_run_missing_image_125(skiff):
    r = skiff("run", "--rm", "e2e-no-such-image-" + uuid.uuid4().hex[:6], "true", check=False)
    assert r.returncode == 125
    assert "Unable to find image" in r.stderr


def test_run_bad_flag_values_125(skiff, docker, label):
    for args, msg in ((["--pids-limit", "x"], 'invalid argument "x" for "--pids-limit" flag: '
                                              'strconv.ParseInt: parsing "x": invalid syntax'),
                      (["-c", "1.5"], 'invalid argument "1.5" for "-c, --cpu-shares" flag: '
                                      'strconv.ParseInt: parsing "1.5": invalid syntax'),
                      (["--memory", "10x"], None), (["--cpus", "abc"], None)):
        full = ["run", "--rm", "-l", label] + args + ["busybox", "true"]
        r = skiff(*full, check=False)
        assert r.returncode == 125 == docker(*full, check=False).returncode, (args, r.stderr)
        if msg:
            assert r.stderr.splitlines()[0] == "skiff: " + msg
    assert skiff("ps", "-a", "-q", "--filter", "label=" + label).stdout == ""


# ---------------------------------------------------------------- lifecycle

def test_create_then_start_attach(skiff, name):
    n = name()
    r = skiff("create", "--name", n, "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 6")
    assert HEX64.match(r.stdout.strip())
    assert state(skiff, n) == "created"
    r = skiff("start", "-a", n, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (6, "to-out\n", "to-err\n")
    assert state(skiff, n, "{{.State.Status}} {{.State.ExitCode}}") == "exited 6"
    # plain start prints the name back
    r = skiff("start", n, check=False)
    assert (r.returncode, r.stdout) == (0, n + "\n")


def test_stop_timeout(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sleep", "100")
    t = time.time()
    r = skiff("stop", "-t", "1", n)
    took = time.time() - t
    assert r.stdout == n + "\n"
    assert 0.9 <= took < 5, took
    # sleep as pid 1 ignores SIGTERM: killed after the timeout
    assert state(skiff, n, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
    n2 = name()
    skiff("run", "-d", "--name", n2, "busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    t = time.time()
    skiff("stop", "--time", "10", n2)
    assert time.time() - t < 5
    assert state(skiff, n2, "{{.State.ExitCode}}") == "0"


def test_kill_signal(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.1; done")
    wait_for(lambda: skiff("logs", n).stdout == "ready\n", what="trap installed")
    r = skiff("kill", "-s", "USR1", n)
    assert r.stdout == n + "\n"
    assert skiff("wait", n).stdout == "7\n"
    r = skiff("kill", n, check=False)
    assert r.returncode == 1 and "is not running" in r.stderr
    n2 = name()
    skiff("run", "-d", "--name", n2, "busybox", "sleep", "100")
    skiff("kill", "--signal=SIGKILL", n2)
    assert skiff("wait", n2).stdout == "137\n"


def test_restart(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sleep", "100")
    pid1 = state(skiff, n, "{{.State.Pid}}")
    r = skiff("restart", "-t", "0", n)
    assert r.stdout == n + "\n"
    pid2, st = state(skiff, n, "{{.State.Pid}} {{.State.Status}}").split()
    assert st == "running" and pid2 != pid1
    # restart of a stopped container starts it
    skiff("stop", "-t", "0", n)
    skiff("restart", n)
    assert state(skiff, n) == "running"


def test_rm_force_volumes_and_partial_failure(skiff, name):
    a, b, c = name(), name(), name()
    skiff("run", "-d", "--name", a, "busybox", "sleep", "100")
    skiff("create", "--name", b, "busybox", "true")
    r = skiff("rm", a, check=False)
    assert r.returncode == 1 and "stop the container before removing or force remove" in r.stderr
    r = skiff("rm", "-f", a)
    assert r.stdout == a + "\n"
    r = skiff("rm", "-v", c, b, check=False)
    assert r.returncode == 1
    assert r.stdout == b + "\n"
    assert r.stderr == "skiff: No such container: %s\n" % c
    assert skiff("ps", "-a", "-q", "--filter", "name=" + a).stdout == ""


def test_rm_force_is_done_when_it_returns(skiff, name):
    """docker rm -f returns once the container is gone: a ps right after
    must not list it (scripts rely on it to reuse the name)."""
    for i in range(15):
        n = name()
        skiff("run", "-d", "--name", n, "busybox", "sleep", "100")
        time.sleep(0.05 * (i % 3))  # at once, and once the container has settled
        assert skiff("rm", "-f", n).stdout == n + "\n"
        left = skiff("ps", "-a", "--filter", "name=" + n, "--format", "{{.Names}} {{.Status}}").stdout
        assert left == "", "try %d: still listed after rm -f returned: %r" % (i, left)


def test_rename(skiff, name):
    a, b = name(), name()
    skiff("create", "--name", a, "busybox", "true")
    r = skiff("rename", a, b)
    assert (r.stdout, r.stderr) == ("", "")
    assert state(skiff, b, "{{.Name}}") == "/" + b
    assert skiff("inspect", a, check=False).returncode == 1


def test_pause_unpause(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sleep", "100")
    assert skiff("pause", n).stdout == n + "\n"
    assert state(skiff, n, "{{.State.Status}} {{.State.Paused}}") == "paused true"
    st = skiff("ps", "--filter", "name=" + n, "--format", "{{.Status}}").stdout
    assert st.endswith(" (Paused)\n"), st
    assert skiff("unpause", n).stdout == n + "\n"
    assert state(skiff, n, "{{.State.Status}} {{.State.Paused}}") == "running false"


def test_wait_prints_exit_codes(skiff, name):
    a, b = name(), name()
    skiff("run", "-d", "--name", a, "busybox", "sh", "-c", "sleep 0.5; exit 3")
    skiff("run", "-d", "--name", b, "busybox", "sh", "-c", "exit 0")
    r = skiff("wait", a, b)
    assert r.stdout == "3\n0\n"
    r = skiff("wait", "e2e-nosuch-" + uuid.uuid4().hex[:6], check=False)
    assert r.returncode == 1 and "No such container" in r.stderr


# ---------------------------------------------------------------- ps

@pytest.fixture
def ps_set(skiff, name, label):
    """Three containers sharing a unique label: running, exited(2), created."""
    run_n, ex_n, cr_n = name("ps-run"), name("ps-exited"), name("ps-created")
    skiff("run", "-d", "--name", run_n, "-l", label, "-l", "a=b", "busybox", "sleep", "100")
    skiff("run", "--name", ex_n, "-l", label, "busybox", "sh", "-c", "exit 2", check=False)
    time.sleep(1.1)  # distinct creation seconds keep the order stable
    skiff("create", "--name", cr_n, "-l", label, "busybox", "echo", "a very long command line here")
    return {"label": label, "running": run_n, "exited": ex_n, "created": cr_n}


PS_VARIANTS = [
    [],
    ["-a"],
    ["-a", "-q"],
    ["-q"],
    ["-a", "-n", "1"],
    ["-n", "2"],
    ["-a", "--no-trunc"],
    ["-a", "-s"],
    ["-a", "--filter", "status=exited"],
    ["-a", "--filter", "status=created"],
    ["--filter", "label=a=b"],
    ["-a", "--filter", "label=a"],
    ["-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
    ["-a", "--format", "table"],
    ["-a", "--format", "table {{.ID}}\t{{.Names}}\t{{.Status}}\t{{.Image}}\t{{.Command}}\t{{.State}}"],
    # (not .Labels: docker joins a Go map, in random order)
    ["-a", "--format", "table {{.CreatedAt}}\t{{.RunningFor}}\t{{.Ports}}\t{{.Mounts}}\t{{.Networks}}\t{{.Size}}"],
    ["-a", "--format", "{{.Label \"a\"}}|{{.Names}}"],
    ["-a", "--format", "{{.State}} {{.LocalVolumes}} {{.Label \"nope\"}}."],
]


@pytest.mark.parametrize("args", PS_VARIANTS, ids=lambda a: " ".join(a) or "default")
def test_ps_matches_docker(skiff, docker, ps_set, args):
    full = ["ps"] + args + ["--filter", "label=" + ps_set["label"]]
    out = same(skiff, docker, *full).stdout
    assert out  # every variant lists something


def test_ps_filter_name_and_content(skiff, docker, ps_set):
    r = same(skiff, docker, "ps", "-a", "--filter", "name=" + ps_set["exited"], "--format", "{{.Names}} {{.Status}}")
    assert re.match(r"^%s Exited \(2\) .* ago\n$" % ps_set["exited"], r.stdout), r.stdout
    out = skiff("ps", "--filter", "label=" + ps_set["label"], "--format", "{{.Names}}").stdout
    assert out == ps_set["running"] + "\n"
    out = skiff("ps", "-a", "-n", "1", "--filter", "label=" + ps_set["label"], "--format", "{{.Names}}").stdout
    assert out == ps_set["created"] + "\n"


def test_ps_json_matches_docker(skiff, docker, ps_set):
    """docker's ps JSON is its formatter context: sorted keys; Labels is a
    Go map joined in random order, so it is compared as a set."""
    for fmt in ("json", "{{json .}}"):
        args = ["ps", "-a", "--format", fmt, "--filter", "label=" + ps_set["label"]]
        for i in range(3):
            s = [json.loads(l) for l in skiff(*args).stdout.splitlines()]
            d = [json.loads(l) for l in docker(*args).stdout.splitlines()]
            for row in s + d:
                row["Labels"] = sorted(row["Labels"].split(","))
            if s == d:
                break
            time.sleep(0.3)
        assert s == d
        line = skiff(*args).stdout.splitlines()[0]
        assert list(json.loads(line)) == sorted(json.loads(line)), line


def test_ps_quiet_ignores_format(skiff, docker, ps_set):
    for fmt in ("{{.Names}}", "table"):
        args = ["ps", "-a", "-q", "--format", fmt, "--filter", "label=" + ps_set["label"]]
        s, d = skiff(*args), docker(*args)
        assert (s.stdout, s.stderr) == (d.stdout, d.stderr)
        assert s.stderr == "WARNING: Ignoring custom format, because both --format and --quiet are set.\n"


def test_plain_template_is_not_aligned(skiff, docker, ps_set):
    """Only "table ..." templates go through docker's tabwriter; a plain one
    prints each row as rendered, tabs and all."""
    args = ["ps", "-a", "--format", "{{.Names}}\t{{.Image}}", "--filter", "label=" + ps_set["label"]]
    out = same(skiff, docker, *args).stdout
    assert "\t" in out, out


def test_ps_table_header(skiff, ps_set):
    out = skiff("ps", "-a", "--filter", "label=" + ps_set["label"]).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0]) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert len(out) == 4
    out = skiff("ps", "-a", "-s", "--filter", "label=" + ps_set["label"]).stdout.splitlines()
    assert out[0].split()[-1] == "SIZE"


# ---------------------------------------------------------------- logs / attach

@pytest.fixture
def log_ctr(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c",
          # the pauses give each line its own read, timestamp and place in the log
          "for i in 1 2 3 4 5; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done")
    assert skiff("wait", n).stdout == "0\n"
    return n


def test_logs_all_and_tail(skiff, docker, log_ctr):
    r = skiff("logs", log_ctr)
    assert r.stdout == "".join("out%d\n" % i for i in range(1, 6))
    assert r.stderr == "".join("err%d\n" % i for i in range(1, 6))
    r = skiff("logs", "--tail", "2", log_ctr)
    assert (r.stdout, r.stderr) == ("out5\n", "err5\n")
    for args in (["--tail", "2"], ["-n", "0"], ["--tail", "all"], ["--since", "10m"],
                 ["--since", "2030-01-01T00:00:00Z"], ["--until", "10m"]):
        s = skiff("logs", *args, log_ctr)
        d = docker("logs", *args, log_ctr)
        assert (s.stdout, s.stderr) == (d.stdout, d.stderr), args


def test_logs_timestamps(skiff, docker, log_ctr):
    r = skiff("logs", "-t", log_ctr)
    lines = r.stdout.splitlines()
    assert len(lines) == 5
    for i, l in enumerate(lines, 1):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out%d$" % i, l), l
    assert r.stdout == docker("logs", "-t", log_ctr).stdout
    # --since the timestamp of the 4th line keeps lines 4 and 5
    ts = lines[3].split()[0]
    assert skiff("logs", "--since", ts, log_ctr).stdout == "out4\nout5\n"


def test_logs_follow_ends_with_container(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c", "echo a; sleep 1; echo b; exit 0")
    t = time.time()
    r = skiff("logs", "-f", n, timeout=20)
    assert r.stdout == "a\nb\n"
    assert time.time() - t < 10
    # following an exited container prints everything and returns at once
    r = skiff("logs", "--follow", n, timeout=10)
    assert r.stdout == "a\nb\n"


def test_attach_running(skiff, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c",
          "sleep 1; echo p1; echo e1 >&2; sleep 0.3; echo p2; exit 4")
    r = skiff("attach", n, check=False, timeout=20)
    assert (r.returncode, r.stdout, r.stderr) == (4, "p1\np2\n", "e1\n")
    r = skiff("attach", n, check=False)
    assert r.returncode == 1 and "You cannot attach to a stopped container, start it first" in r.stderr


# ---------------------------------------------------------------- inspect / top

def test_inspect_formats(skiff, docker, name):
    n = name()
    skiff("run", "-d", "--name", n, "-e", "FOO=bar", "busybox", "sleep", "100")
    assert state(skiff, n) == "running"
    env = skiff("inspect", "--format", "{{json .Config.Env}}", n).stdout
    assert env == '["FOO=bar","PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]\n' \
        or json.loads(env) == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"]
    for args in (["-f", "{{.State.Status}}", n], ["--format", "{{json .Config.Env}}", n],
                 ["-f", "{{json .Config.Env}}", "busybox"], ["--type", "image", "-f", "{{.Id}} {{.Os}}", "busybox"],
                 ["-f", "{{.Name}} {{.Config.Image}}", n, n], [n], ["busybox"],
                 ["-s", "-f", "{{.SizeRootFs}}", n]):
        same(skiff, docker, "inspect", *args)
    same(skiff, docker, "image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox")
    same(skiff, docker, "container", "inspect", "-f", "{{.State.Running}}", n)
    r = skiff("inspect", "e2e-none-" + uuid.uuid4().hex[:6], check=False)
    assert (r.returncode, r.stdout) == (1, "[]\n")
    assert r.stderr.startswith("skiff: No such object: e2e-none-")


def test_top(skiff, docker, name):
    n = name()
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c", "sleep 100")
    out = same(skiff, docker, "top", n).stdout
    assert out.splitlines()[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert out.splitlines()[1].endswith("sleep 100")
    same(skiff, docker, "top", n, "-o", "pid,comm")
    same(skiff, docker, "top", n, "-o", "comm")  # the daemon needs a PID column: both fail alike


# ---------------------------------------------------------------- events

def test_events_since_until(skiff, docker, name):
    n = name()
    t0 = time.time()
    cid = skiff("run", "-d", "--name", n, "busybox", "true").stdout.strip()
    skiff("wait", n)
    skiff("rm", n)
    t1 = time.time() + 1
    args = ["events", "--since", "%.3f" % t0, "--until", "%.3f" % t1, "--filter", "container=" + n]
    r = skiff(*args, timeout=20)
    acts = [l.split()[2] for l in r.stdout.splitlines()]
    assert acts == ["create", "start", "die", "destroy"], r.stdout
    for l in r.stdout.splitlines():
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container \w+ %s \(.*name=%s.*\)$" % (cid, n), l), l
    die = r.stdout.splitlines()[2]
    assert re.search(r" \(execDuration=\d+, exitCode=0, image=busybox, name=%s\)$" % n, die), die
    assert r.stdout == docker(*args, timeout=20).stdout
    fmt = skiff(*(args + ["--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"])).stdout
    assert fmt == "".join("container %s %s\n" % (a, n) for a in ("create", "start", "die", "destroy"))


# ---------------------------------------------------------------- images

def test_images_match_docker(skiff, docker, image_name):
    tagged = image_name("v1")
    skiff("tag", "busybox", tagged)
    repo = tagged.split(":")[0]
    for args in ([], ["-q"], ["-a"], ["--no-trunc"], ["--digests"], [repo], ["-q", repo],
                 ["--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"],
                 ["--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.CreatedAt}}"
                              "\t{{.Size}}\t{{.Digest}}\t{{.Containers}}\t{{.SharedSize}}\t{{.UniqueSize}}"
                              "\t{{.VirtualSize}}"],
                 ["--format", "json", repo], ["--filter", "reference=" + repo]):
        same(skiff, docker, "images", *args)
    out = skiff("images", repo).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert len(out) == 2
    row = re.split(r"\s{2,}", out[1])
    assert row[:3] == [repo, "v1", skiff("images", "-q", "busybox").stdout.strip()]
    assert row[3].endswith(" ago") and row[4] == "1.98MB", row
    assert skiff("image", "ls", "-q", repo).stdout == skiff("images", "-q", "busybox").stdout


def test_import_file_and_stdin(skiff, daemon, rootfs_tar, image_name):
    a, b = image_name("file"), image_name("stdin")
    r = skiff("import", rootfs_tar, a)
    assert re.match(r"^sha256:[0-9a-f]{64}\n$", r.stdout), r.stdout
    assert skiff("run", "--rm", a, "echo", "from-import").stdout == "from-import\n"
    with open(rootfs_tar, "rb") as f:
        r = subprocess.run([SKIFF, "-H", daemon.host, "import", "-c", 'CMD ["echo", "default cmd"]', "-", b],
                           stdin=f, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.match(r"^sha256:[0-9a-f]{64}\n$", r.stdout), r.stdout
    assert skiff("inspect", "-f", "{{json .Config.Cmd}}", b).stdout == '["echo","default cmd"]\n'
    assert skiff("run", "--rm", b).stdout == "default cmd\n"


def test_save_load_roundtrip(skiff, daemon, workdir, image_name):
    a = image_name("save")
    skiff("tag", "busybox", a)
    iid = skiff("inspect", "-f", "{{.Id}}", a).stdout
    out = os.path.join(workdir, "saved.tar")
    r = skiff("save", "-o", out, a)
    assert (r.stdout, r.stderr) == ("", "")
    names = subprocess.run(["tar", "tf", out], capture_output=True, text=True, check=True).stdout.split()
    assert "manifest.json" in names
    skiff("rmi", a)
    assert skiff("inspect", a, check=False).returncode == 1
    r = skiff("load", "-i", out)
    assert r.stdout == "Loaded image: %s\n" % a
    assert skiff("inspect", "-f", "{{.Id}}", a).stdout == iid
    skiff("rmi", a)
    with open(out, "rb") as f:
        r = subprocess.run([SKIFF, "-H", daemon.host, "load"], stdin=f, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "Loaded image: %s\n" % a)
    # save to a pipe gives the same archive
    with open(out, "rb") as f:
        want = f.read()
    r = subprocess.run([SKIFF, "-H", daemon.host, "save", a], capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == want


def test_tag_rmi(skiff, name, image_name):
    a = image_name("one")
    assert skiff("tag", "busybox", a).stdout == ""
    assert skiff("inspect", "-f", "{{.Id}}", a).stdout == skiff("inspect", "-f", "{{.Id}}", "busybox").stdout
    r = skiff("rmi", a)
    assert r.stdout == "Untagged: %s\n" % a
    r = skiff("rmi", a, check=False)
    assert (r.returncode, r.stderr) == (1, "skiff: No such image: %s\n" % a)
    # an image used by a container needs -f
    skiff("tag", "busybox", a)
    n = name()
    skiff("create", "--name", n, a, "true")
    iid = skiff("inspect", "-f", "{{.Id}}", a).stdout.strip()
    b = image_name("two")
    skiff("tag", "busybox", b)
    r = skiff("rmi", iid, check=False)
    assert r.returncode == 1
    assert r.stderr == ("skiff: conflict: unable to delete %s (must be forced) - image is referenced in "
                        "multiple repositories\n" % iid[7:19]), r.stderr
    r = skiff("rmi", "-f", a)
    assert r.stdout == "Untagged: %s\n" % a
    assert skiff("inspect", "-f", "{{.Id}}", "busybox").stdout.strip() == iid


def test_history_matches_docker(skiff, docker):
    for args in ([], ["--no-trunc"], ["-q"], ["-H=false"], ["--human=false"],
                 ["--format", "{{.ID}} {{.CreatedBy}}"],
                 ["--format", "table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Comment}}\t{{.CreatedAt}}"]):
        same(skiff, docker, "history", *args, "busybox")
    out = skiff("history", "busybox").stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]


# ---------------------------------------------------------------- system

def test_version(skiff, docker):
    r = skiff("version")
    assert r.stdout.startswith("Client:\n Version:           28.2.2-skiff\n API version:       1.50\n")
    assert "\nServer: skiff\n Engine:\n" in r.stdout
    for fmt in ("{{.Server.Version}}", "{{.Client.APIVersion}}", "{{.Server.APIVersion}} {{.Server.Os}}",
                "{{.Client.Os}}/{{.Client.Arch}}"):
        assert skiff("version", "--format", fmt).stdout == docker("version", "--format", fmt).stdout, fmt
    assert run_skiff(["--version"]).stdout == "Skiff version 28.2.2-skiff, API 1.50\n"


def test_info(skiff, docker):
    out = skiff("info").stdout
    assert re.search(r"^ Cgroup Version: [12]$", out, re.M), out
    assert re.search(r"^ Server Version: ", out, re.M)
    for fmt in ("{{.CgroupVersion}}", "{{.Driver}}", "{{.Images}}", "{{json .Plugins}}"):
        assert skiff("info", "--format", fmt).stdout == docker("info", "--format", fmt).stdout, fmt
    assert skiff("system", "info", "-f", "{{.OSType}}").stdout == "linux\n"


# ---------------------------------------------------------------- help and errors

def listed_commands(text, section="Commands:"):
    out, on = [], False
    for l in text.splitlines():
        if l.strip() == section:
            on = True
        elif on and not l.strip():
            on = False
        elif on:
            out.append(l.split()[0])
    return out


def test_help_lists_working_commands(skiff):
    r = skiff("--help")
    cmds = listed_commands(r.stdout)
    want = {"run", "create", "ps", "start", "stop", "restart", "kill", "rm", "pause", "unpause", "rename", "wait",
            "logs", "attach", "inspect", "top", "images", "import", "load", "save", "tag", "rmi", "history",
            "version", "info", "events"}
    assert want <= set(cmds), want - set(cmds)
    for c in cmds:
        h = skiff(c, "--help", check=False)
        assert h.returncode == 0 and h.stdout.startswith("\nUsage:  skiff %s" % c), (c, h.stderr)
    for g in listed_commands(r.stdout, "Management Commands:"):
        gh = skiff(g, "--help")
        for c in listed_commands(gh.stdout):
            h = skiff(g, c, "--help", check=False)
            assert h.returncode == 0, (g, c, h.stderr)
    assert run_skiff([]).stdout == r.stdout


def test_run_help_shows_flags(skiff):
    out = skiff("run", "--help").stdout
    assert out.startswith("\nUsage:  skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container")
    for flag in ("-m, --memory string", "--cpus string", "--pids-limit string", "--read-only", "--cap-drop list",
                 "-e, --env list", "--env-file list", "-w, --workdir string", "-u, --user string",
                 "-l, --label list", "--entrypoint string", "--restart string", "--rm", "-d, --detach",
                 "-i, --interactive", "-t, --tty", "--name string"):
        assert re.search(r"^\s+%s\s" % re.escape(flag), out, re.M), flag


def test_unknown_command_and_flag(skiff, docker):
    r = skiff("nosuchverb", check=False)
    d = docker("nosuchverb", check=False)
    assert (r.returncode, r.stdout) == (d.returncode, "") == (1, "")
    assert r.stderr == d.stderr.replace("docker", "skiff")
    for args in (["ps", "--bogus"], ["ps", "-Z"], ["run", "--nope", "busybox"], ["--bogus", "ps"],
                 ["container", "nosuchverb"], ["image", "nosuchverb"], ["rename", "a"], ["run"], ["logs"]):
        r = skiff(*args, check=False)
        d = docker(*args, check=False)
        assert r.returncode == d.returncode, (args, r.stderr, d.stderr)
        assert r.stderr == d.stderr.replace("docker", "skiff"), args
    assert skiff("ps", "--bogus", check=False).returncode == 125
    assert skiff("container", "ls", "-q", "--filter", "name=e2e-zz-none").stdout == ""


def test_host_selection(daemon, workdir):
    bogus = "unix://" + os.path.join(workdir, "nobody-here.sock")
    good = daemon.host
    r = run_skiff(["version", "-f", "{{.Server.Version}}"], env={"SKIFF_HOST": good, "DOCKER_HOST": bogus})
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    r = run_skiff(["ps", "-q"], env={"DOCKER_HOST": good})
    assert r.returncode == 0, r.stderr
    r = run_skiff(["ps", "-q"], env={"DOCKER_HOST": bogus})
    assert r.returncode == 1
    assert "nobody-here.sock" in r.stderr and "Is the" in r.stderr, r.stderr
    r = run_skiff(["-H", good, "ps", "-q"], env={"SKIFF_HOST": bogus, "DOCKER_HOST": bogus})
    assert r.returncode == 0, r.stderr
    r = run_skiff(["--host=" + good, "ps", "-q"], env={"SKIFF_HOST": bogus})
    assert r.returncode == 0, r.stderr
    r = run_skiff(["-H", bogus, "ps"], env={"SKIFF_HOST": good})
    assert r.returncode == 1
    # a bare path works like unix://path
    r = run_skiff(["-H", good[len("unix://"):], "ps", "-q"])
    assert r.returncode == 0, r.stderr


def test_run_tty_under_pty(skiff, daemon):
    inner = "stty rows 33 cols 97; %s -H %s run --rm -it busybox sh -c 'stty size; tty; echo $TERM; exit 3'" % (
        SKIFF, daemon.host)
    r = subprocess.run(["script", "-qec", inner, "/dev/null"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.replace(b"^@", b"").decode()
    assert out == "33 97\r\n/dev/pts/0\r\nxterm\r\n", r.stdout
    assert r.returncode == 3
    # -t without a terminal on our side still gives the container one
    r = subprocess.run([SKIFF, "-H", daemon.host, "run", "--rm", "-t", "busybox", "sh", "-c",
                        "tty; test -t 1 && echo isatty"], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, b"/dev/pts/0\r\nisatty\r\n")


# ---------------------------------------------------------------- stats

STATS_STABLE = "table {{.Container}}\t{{.Name}}\t{{.ID}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"


@pytest.fixture
def stats_pair(skiff, name):
    busy, idle = name("st-busy"), name("st-idle")
    skiff("run", "-d", "--name", busy, "busybox", "sh", "-c", "while :; do :; done")
    skiff("run", "-d", "--name", idle, "-m", "64m", "busybox", "sleep", "300")
    return busy, idle


def test_stats_no_stream_matches_docker(skiff, docker, stats_pair):
    busy, idle = stats_pair
    same(skiff, docker, "stats", "--no-stream", "--format", STATS_STABLE, idle, busy)
    same(skiff, docker, "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.Container}}", busy)
    s = skiff("stats", "--no-stream", idle, busy).stdout.splitlines()
    d = docker("stats", "--no-stream", idle, busy).stdout.splitlines()
    assert s[0] == d[0]
    assert re.split(r"\s{2,}", s[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                        "BLOCK I/O", "PIDS"]
    assert len(s) == len(d) == 3
    # the idle one: 0.00% CPU, a 64MiB limit, its memory as a share of it
    cols = re.split(r"\s{2,}", s[1])
    assert cols[1] == idle and cols[2] == "0.00%", s[1]
    assert cols[3].endswith(" / 64MiB") and cols[5:] == ["0B / 0B", "0B / 0B", "1"], s[1]
    assert re.match(r"^\d+\.\d\d%$", cols[4])
    # the busy loop: one core, near 100%
    cpu = float(skiff("stats", "--no-stream", "--format", "{{.CPUPerc}}", busy).stdout.strip().rstrip("%"))
    assert cpu > 50, cpu
    s = json.loads(skiff("stats", "--no-stream", "--format", "json", idle).stdout)
    d = json.loads(docker("stats", "--no-stream", "--format", "json", idle).stdout)
    assert sorted(s) == sorted(d) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO",
                                      "PIDs"]
    assert {k: s[k] for k in ("Container", "ID", "Name", "NetIO", "PIDs")} == \
        {k: d[k] for k in ("Container", "ID", "Name", "NetIO", "PIDs")}


def test_stats_all_and_errors(skiff, docker, stats_pair, name):
    busy, idle = stats_pair
    stopped = name("st-stopped")
    skiff("create", "--name", stopped, "busybox", "true")
    running = skiff("stats", "--no-stream", "--format", "{{.Name}}").stdout.split()
    assert busy in running and idle in running and stopped not in running
    everything = skiff("stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}").stdout
    assert "%s 0.00%% 0\n" % stopped in everything
    r = skiff("stats", "--no-stream", idle, "e2e-no-such-ctr", check=False)
    d = docker("stats", "--no-stream", idle, "e2e-no-such-ctr", check=False)
    assert (r.returncode, r.stdout) == (d.returncode, d.stdout) == (1, "")
    assert r.stderr == "skiff: No such container: e2e-no-such-ctr\n"


def test_stats_live_redraws_and_follows(skiff, daemon, stats_pair, name):
    busy, idle = stats_pair
    late = name("st-late")
    cmd = "%s -H %s stats --format 'table {{.Name}}\t{{.PIDs}}'" % (SKIFF, daemon.host)
    p = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        skiff("run", "-d", "--name", late, "busybox", "sleep", "300")
        time.sleep(1.5)
        skiff("kill", late)
        time.sleep(1.5)
    finally:
        p.terminate()
        out = p.communicate(timeout=10)[0].decode(errors="replace")
    frames = [f for f in out.split("\x1b[H")[1:]]
    assert len(frames) >= 6, out
    # every frame: rows ended with erase-line, the rest of the screen erased
    for f in frames[:-1]:
        lines = f.split("\r\n")
        assert lines[0].startswith("NAME ") and lines[0].endswith(" \x1b[K"), repr(f)
        assert f.endswith("\x1b[J"), repr(f)
    seen = [late in f for f in frames[:-1]]
    # not there at first, there once started, gone after it died
    assert not seen[0] and any(seen) and not seen[-1], seen
    assert all(idle in f and busy in f for f in frames[:-1])


# ---------------------------------------------------------------- volume

@pytest.fixture
def vol_names(daemon):
    made = []

    def new(prefix="v"):
        n = "e2e-%s-%s" % (prefix, uuid.uuid4().hex[:8])
        made.append(n)
        return n
    yield new
    for n in made:
        daemon.request("DELETE", "/volumes/%s?force=1" % n)


def test_volume_create_ls_inspect_match_docker(skiff, docker, vol_names, label):
    a, b, c = vol_names("a"), vol_names("b10"), vol_names("b9")
    assert skiff("volume", "create", a).stdout == a + "\n"
    assert skiff("volume", "create", "--name", b, "--label", label, "--label", "x=y").stdout == b + "\n"
    assert skiff("volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
                 "--label", label, c).stdout == c + "\n"
    anon = skiff("volume", "create").stdout.strip()
    assert HEX64.match(anon)
    skiff("volume", "rm", anon)
    for args in (["ls"], ["ls", "-q"], ["ls", "--format", "json"], ["ls", "--format", "table"],
                 ["ls", "-f", "label=" + label], ["ls", "--filter", "name=" + a, "-q"],
                 ["ls", "-f", "label=" + label, "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} "
                  "{{.Label \"x\"}} {{.Links}} {{.Size}}"],
                 ["ls", "-f", "label=" + label, "--format", "table {{.Name}}\t{{.Labels}}\t{{.Status}}"],
                 ["inspect", a, b], ["inspect", "--format", "{{.Name}} {{.Driver}} {{.Labels.x}}", b],
                 ["inspect", "-f", "{{json .Labels}}", c]):
        same(skiff, docker, "volume", *args)
    # docker sorts with natural order: ...b9 before ...b10
    out = skiff("volume", "ls", "-q", "-f", "label=" + label).stdout.split()
    assert out == [c, b]
    r = skiff("volume", "create", "--name", a, a, check=False)
    assert (r.returncode, r.stderr) == (1, "skiff: conflicting options: cannot specify a volume-name through both "
                                           "--name and as a positional arg\n")


def test_volume_rm_prune_and_errors(skiff, docker, vol_names, name, label):
    a, b, used = vol_names("rm-a"), vol_names("rm-b"), vol_names("used")
    for v in (a, b):
        skiff("volume", "create", v)
    r = skiff("volume", "rm", a, "e2e-nosuch-vol", b, check=False)
    d = docker("volume", "rm", "e2e-nosuch-vol", check=False)
    assert (r.returncode, r.stdout) == (1, "%s\n%s\n" % (a, b))
    assert r.stderr == d.stderr.replace("Error response from daemon: ", "skiff: ")
    r = skiff("volume", "inspect", "e2e-nosuch-vol", check=False)
    d = docker("volume", "inspect", "e2e-nosuch-vol", check=False)
    assert (r.returncode, r.stdout) == (d.returncode, d.stdout) == (1, "[]\n")
    # prune: named volumes go only with -a; a used one stays
    p1, p2 = vol_names("prune1"), vol_names("prune2")
    for v in (p1, p2):
        skiff("volume", "create", "--label", label, v)
    skiff("volume", "create", "--label", label, used)
    in_use = skiff("run", "-d", "--name", name(), "-v", used + ":/data", "busybox", "sleep", "300",
                   check=False).returncode == 0
    if not in_use:  # -v NAME:/path not served yet: nothing holds the volume
        skiff("volume", "rm", used)
    out = skiff("volume", "prune", "-f", "--filter", "label=" + label).stdout
    assert out == "Total reclaimed space: 0B\n"
    r = skiff("volume", "prune", "--all", "--filter", "label=" + label, input="n\n")
    assert r.stdout == ("WARNING! This will remove all local volumes not used by at least one container.\n"
                        "Are you sure you want to continue? [y/N] ")
    assert r.returncode == 0
    assert {p1, p2} <= set(skiff("volume", "ls", "-q", "-f", "label=" + label).stdout.split())
    s = skiff("volume", "prune", "-a", "--filter", "label=" + label, input="y\n").stdout
    assert s.startswith("WARNING! This will remove all local volumes not used by at least one container.\n"
                        "Are you sure you want to continue? [y/N] Deleted Volumes:\n")
    deleted = s.split("Deleted Volumes:\n")[1].split("\n\n")[0].split("\n")
    assert sorted(deleted) == sorted([p1, p2]), s
    if in_use:
        assert skiff("volume", "ls", "-q", "-f", "label=" + label).stdout == used + "\n"
    assert s.endswith("\nTotal reclaimed space: 0B\n")
    r = skiff("volume", "prune", "-a", "-f", "--filter", "all=1", check=False)
    assert (r.returncode, r.stderr) == (1, "skiff: conflicting options: cannot specify both --all and --filter all=1\n")


def test_volume_help_and_group(skiff, docker):
    out = skiff("volume", "--help").stdout
    assert listed_commands(out) == ["create", "inspect", "ls", "prune", "rm"]
    assert skiff("volume", "ls", "--help").stdout.startswith("\nUsage:  skiff volume ls [OPTIONS]\n")
    r = skiff("volume", "ps", check=False)
    assert r.returncode == 1 and "unknown command: skiff volume ps" in r.stderr
    assert skiff("volume", "list", "-q").returncode == 0
    assert "volume" in listed_commands(skiff("--help").stdout, "Management Commands:")


# ---------------------------------------------------------------- cp

@pytest.fixture
def cp_ctr(skiff, name):
    n = name("cp")
    skiff("run", "-d", "--name", n, "busybox", "sh", "-c",
          "mkdir -p /srv/dir/sub && echo one > /srv/dir/a && echo two > /srv/dir/sub/b && "
          "ln -s dir/a /srv/link && ln -s /srv/dir /srv/dirlink && sleep 300")
    wait_for(lambda: skiff("cp", n + ":/srv/link", "-", check=False).returncode == 0, what="the container's files")
    return n


def tar_names(data):
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return [m.name + ("/" if m.isdir() else "") for m in t.getmembers()]


def cp_out_bytes(skiff_host, ctr, path):
    return subprocess.run([SKIFF, "-H", skiff_host, "cp", "%s:%s" % (ctr, path), "-"], capture_output=True,
                          timeout=60).stdout


def test_cp_out_file_dir_and_dot(skiff, daemon, cp_ctr, workdir):
    c = cp_ctr
    r = skiff("cp", c + ":/srv/dir/a", os.path.join(workdir, "f"))
    assert (r.stdout, r.stderr) == ("", "")  # quiet without a terminal, like docker
    assert open(os.path.join(workdir, "f")).read() == "one\n"
    # into an existing directory: keeps its name
    os.mkdir(os.path.join(workdir, "into"))
    skiff("cp", c + ":/srv/dir/a", os.path.join(workdir, "into"))
    assert open(os.path.join(workdir, "into", "a")).read() == "one\n"
    # a directory to a new name, to an existing directory, and its content with /.
    skiff("cp", c + ":/srv/dir", os.path.join(workdir, "newdir"))
    assert open(os.path.join(workdir, "newdir", "sub", "b")).read() == "two\n"
    skiff("cp", c + ":/srv/dir", os.path.join(workdir, "into"))
    assert open(os.path.join(workdir, "into", "dir", "sub", "b")).read() == "two\n"
    skiff("cp", c + ":/srv/dir/.", os.path.join(workdir, "into"))
    assert open(os.path.join(workdir, "into", "sub", "b")).read() == "two\n"
    # relative destination, resolved against the working directory
    subprocess.run([SKIFF, "-H", daemon.host, "cp", c + ":/srv/dir/sub/b", "rel"], cwd=workdir, check=True)
    assert open(os.path.join(workdir, "rel")).read() == "two\n"
    # a symlink is copied as a link, or followed with -L (and keeps the link's name)
    skiff("cp", c + ":/srv/link", os.path.join(workdir, "l1"))
    assert os.readlink(os.path.join(workdir, "l1")) == "dir/a"
    skiff("cp", "-L", c + ":/srv/link", os.path.join(workdir, "l2"))
    assert open(os.path.join(workdir, "l2")).read() == "one\n" and not os.path.islink(os.path.join(workdir, "l2"))
    skiff("cp", "-L", c + ":/srv/link", os.path.join(workdir, "into"))
    assert open(os.path.join(workdir, "into", "link")).read() == "one\n"
    # a tar on stdout
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/dir")) == ["dir/", "dir/a", "dir/sub/", "dir/sub/b"]


def test_cp_in_file_dir_and_stdin_tar(skiff, daemon, cp_ctr, workdir):
    c = cp_ctr
    src = os.path.join(workdir, "src")
    os.makedirs(os.path.join(src, "deep"))
    with open(os.path.join(src, "x"), "w") as f:
        f.write("ex\n")
    with open(os.path.join(src, "deep", "y"), "w") as f:
        f.write("why\n")
    os.symlink("x", os.path.join(src, "lx"))
    skiff("cp", os.path.join(src, "x"), c + ":/srv/newfile")
    skiff("cp", os.path.join(src, "x"), c + ":/srv/dir")
    skiff("cp", src, c + ":/srv/copied")
    skiff("cp", src, c + ":/srv/dir")
    skiff("cp", src + "/.", c + ":/srv/dotted")
    skiff("cp", os.path.join(src, "x"), c + ":/srv/dirlink")  # a symlink to a directory: into it
    skiff("cp", "-L", os.path.join(src, "lx"), c + ":/srv/followed")
    assert cp_out_bytes(daemon.host, c, "/srv/newfile")[512:515] == b"ex\n"
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/dir")) == \
        ["dir/", "dir/a", "dir/src/", "dir/src/deep/", "dir/src/deep/y", "dir/src/lx", "dir/src/x", "dir/sub/",
         "dir/sub/b", "dir/x"]
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/copied")) == \
        ["copied/", "copied/deep/", "copied/deep/y", "copied/lx", "copied/x"]
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/dotted")) == \
        ["dotted/", "dotted/deep/", "dotted/deep/y", "dotted/lx", "dotted/x"]
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/followed")) == ["followed"]
    # a tar on stdin goes into an existing directory as it is
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"from stdin\n"
        ti = tarfile.TarInfo("streamed/file")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    r = subprocess.run([SKIFF, "-H", daemon.host, "cp", "-", c + ":/srv"], input=buf.getvalue(), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert tar_names(cp_out_bytes(daemon.host, c, "/srv/streamed")) == ["streamed/", "streamed/file"]


def test_cp_errors_match_docker(skiff, docker, cp_ctr, workdir):
    c = cp_ctr
    d = os.path.join(workdir, "d")
    os.mkdir(d)
    cases = [
        [c + ":/srv/dir", c + ":/tmp"],
        [d, d],
        [c + ":/srv/dir", os.path.join(workdir, "nodir", "x")],
        [c + ":/srv/dir/a", os.path.join(workdir, "missing") + "/"],
        [c + ":/srv/nosuch", d],
        [d, c + ":/srv/dir/a"],
        [d, c + ":/nosuchdir/x"],
        ["-", c + ":/srv/dir/a"],
        [os.path.join(workdir, "nosuch"), c + ":/srv"],
    ]
    for args in cases:
        s = skiff("cp", *args, check=False, input="")
        k = docker("cp", *args, check=False, input="")
        assert (s.returncode, s.stdout) == (k.returncode, k.stdout), (args, s.stderr, k.stderr)
        # (docker also logs its tar writer's complaints before some of these)
        want = k.stderr.splitlines()[-1].replace("Error response from daemon: ", "").replace("Error: ", "")
        assert s.stderr == "skiff: " + want + "\n", args


def test_cp_progress_line_on_a_terminal(skiff, docker, daemon, cp_ctr, workdir):
    c = cp_ctr
    for cli in ("%s -H %s" % (SKIFF, daemon.host), "DOCKER_HOST=%s DOCKER_CONFIG=%s %s" % (
            daemon.host, docker.cfg, "/usr/local/bin/docker")):
        out = subprocess.run(["script", "-qec", "%s cp %s:/srv/dir/a %s/t1; %s cp %s/t1 %s:/srv/t2" % (
            cli, c, workdir, cli, workdir, c), "/dev/null"], capture_output=True, timeout=60,
            stdin=subprocess.DEVNULL).stdout.decode()
        assert out == "Successfully copied 2.05kB to %s/t1\r\nSuccessfully copied 2.05kB to %s:/srv/t2\r\n" % (
            workdir, c), (cli, out)


# ---------------------------------------------------------------- exec

class FakeDaemon:
    """Answers the exec dance on a unix socket and records every request,
    so skiff's exec requests can be compared with docker's."""

    def __init__(self, path, exit_code=3, out=b"hi\n"):
        import socket
        import threading
        self.log, self.path, self.exit_code, self.out = [], path, exit_code, out
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        import threading
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _reply(self, c, status, obj=None):
        b = json.dumps(obj).encode() if obj is not None else b""
        c.sendall(b"HTTP/1.1 %d X\r\nApi-Version: 1.50\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (status, len(b)) + b)

    def _handle(self, c):
        import socket
        f = c.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                break
            method, target, _ = line.decode().split(" ", 2)
            hdrs = {}
            while True:
                h = f.readline().decode()
                if h in ("\r\n", "\n", ""):
                    break
                k, _, v = h.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            body = f.read(int(hdrs["content-length"])) if "content-length" in hdrs else b""
            p = target.split("?")[0]
            entry = {"method": method, "path": target, "content-type": hdrs.get("content-type"),
                     "upgrade": hdrs.get("upgrade"), "body": json.loads(body) if body else None}
            if p != "/_ping":
                self.log.append(entry)
            if p == "/_ping":
                self._reply(c, 200)
            elif p.startswith("/v1.50/containers/") and p.endswith("/json"):
                self._reply(c, 200, {"Id": "c" * 64, "State": {"Running": True}, "Config": {}})
            elif p.endswith("/exec"):
                self._reply(c, 201, {"Id": "e1"})
            elif p.endswith("/start"):
                if (entry["body"] or {}).get("Detach"):
                    self._reply(c, 200)
                    continue
                c.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                          b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                tty = (entry["body"] or {}).get("Tty")
                c.sendall(self.out if tty else b"\x01\0\0\0" + len(self.out).to_bytes(4, "big") + self.out)
                c.shutdown(socket.SHUT_WR)
                try:
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
                break
            elif p.endswith("/resize"):
                self._reply(c, 200)
            elif p.startswith("/v1.50/exec/") and p.endswith("/json"):
                self._reply(c, 200, {"ExitCode": self.exit_code, "Running": False})
            else:
                self._reply(c, 404, {"message": "not faked"})
        c.close()

    def close(self):
        self.sock.close()
        os.unlink(self.path)


EXEC_VARIANTS = [
    (["exec", "x", "echo", "hi"], None),
    (["exec", "-e", "A=1", "--env", "B", "-w", "/tmp", "-u", "1:2", "--privileged", "x", "sh", "-c", "id"], None),
    (["exec", "-d", "x", "sleep", "1"], None),
    (["exec", "-i", "x", "cat"], "typed\n"),
    (["exec", "-t", "x", "sh"], None),
]


@pytest.mark.parametrize("args,stdin", EXEC_VARIANTS, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_exec_sends_what_docker_sends(docker, workdir, args, stdin):
    if not os.access("/usr/local/bin/docker", os.X_OK):
        pytest.skip("no docker CLI")
    logs = {}
    env = dict(os.environ, B="from-env")
    for who, argv in (("docker", ["/usr/local/bin/docker"]), ("skiff", [SKIFF])):
        sock = os.path.join(workdir, who + ".sock")
        fake = FakeDaemon(sock)
        try:
            e = dict(env, DOCKER_HOST="unix://" + sock, DOCKER_CONFIG=docker.cfg)
            r = subprocess.run(argv + args, input=stdin, capture_output=True, text=True, env=e, timeout=30)
        finally:
            fake.close()
        logs[who] = (r.returncode, r.stdout, fake.log)
    assert logs["skiff"] == logs["docker"]
    assert logs["skiff"][0] == (0 if "-d" in args else 3)


def test_exec_it_sized_sends_what_docker_sends(docker, workdir):
    logs = {}
    for who, cli in (("docker", "/usr/local/bin/docker"), ("skiff", SKIFF)):
        sock = os.path.join(workdir, who + ".sock")
        fake = FakeDaemon(sock, exit_code=0)
        try:
            inner = "stty rows 40 cols 120; DOCKER_HOST=unix://%s DOCKER_CONFIG=%s %s exec -it x sh" % (
                sock, docker.cfg, cli)
            subprocess.run(["script", "-qec", inner, "/dev/null"], capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        finally:
            fake.close()
        logs[who] = fake.log
    assert logs["skiff"] == logs["docker"]
    assert [e["path"] for e in logs["skiff"]][-2:] == ["/v1.50/exec/e1/resize?h=40&w=120", "/v1.50/exec/e1/json"]
    assert logs["skiff"][1]["body"]["ConsoleSize"] == [40, 120]


def exec_supported(daemon, n):
    r = daemon.request("POST", "/containers/%s/exec" % n, body={"Cmd": ["true"]})
    return r.status != 501


def test_exec_real(skiff, docker, daemon, name):
    n = name("exec")
    skiff("run", "-d", "--name", n, "--hostname", "exechost", "busybox", "sleep", "300")
    if not exec_supported(daemon, n):
        pytest.skip("skiffd answers 501 to exec")
    r = skiff("exec", n, "cat", "/etc/hostname")
    assert (r.returncode, r.stdout) == (0, "exechost\n")
    r = skiff("exec", "-e", "A=1", "-w", "/tmp", "-u", "1000", n, "sh", "-c", "echo $A; pwd; id -u; exit 7",
              check=False)
    assert (r.returncode, r.stdout) == (7, "1\n/tmp\n1000\n")
    r = skiff("exec", "-i", n, "cat", input="piped\n")
    assert r.stdout == "piped\n"
    r = skiff("exec", n, "sh", "-c", "echo out; echo err >&2")
    assert (r.stdout, r.stderr) == ("out\n", "err\n")
    s = skiff("exec", n, "/no/such/binary", check=False)
    d = docker("exec", n, "/no/such/binary", check=False)
    assert s.returncode == d.returncode and s.returncode in (126, 127)
    assert skiff("exec", "-d", n, "sh", "-c", "echo bg > /tmp/bg").stdout == ""
    wait_for(lambda: skiff("exec", n, "cat", "/tmp/bg", check=False).stdout == "bg\n", what="exec -d")
    inner = "stty rows 33 cols 97; %s -H %s exec -it %s sh -c 'stty size; exit 4'" % (SKIFF, daemon.host, n)
    r = subprocess.run(["script", "-qec", inner, "/dev/null"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.stdout.replace(b"^@", b"") == b"33 97\r\n" and r.returncode == 4, r
    skiff("stop", "-t", "0", n)
    r = skiff("exec", n, "true", check=False)
    assert r.returncode == 1 and r.stderr.startswith("skiff: ")
