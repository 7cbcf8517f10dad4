# Live restore: skiffd is killed with SIGKILL while containers run; a new
# skiffd on the same roots finds them running, their logs have no gap, exit
# codes from while it was away are kept; restart policies are honoured.
import re
import time

import pytest

from conftest import DockerCLI, finish_daemon, start_daemon, wait_for

LOOP = "i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.05; done"


@pytest.fixture(scope="module")
def rdaemon(busybox_tar):
    d = start_daemon("e2e-restart", busybox_tar)
    yield d
    finish_daemon(d)


@pytest.fixture(scope="module")
def rdocker(rdaemon):
    cli = DockerCLI(rdaemon.host)
    yield cli
    cli.close()


def state(d, n):
    r = d.request("GET", "/containers/%s/json" % n)
    assert r.status == 200, r
    return r.json()["State"]


def line_numbers(text):
    return [int(m) for m in re.findall(r"^line-(\d+)$", text, re.M)]


def test_kill9_daemon_keeps_containers(rdaemon, rdocker):
    a, b = "e2e-restart-loop", "e2e-restart-exit"
    rdocker("run", "-d", "--name", a, "busybox", "sh", "-c", LOOP)
    rdocker("run", "-d", "--name", b, "busybox", "sh", "-c", "sleep 1; echo bye; exit 9")
    wait_for(lambda: len(line_numbers(rdocker("logs", a).stdout)) > 5, what="first lines")
    monitors = rdaemon.monitor_pids()
    assert monitors, "no skiff-monitor found for " + rdaemon.exec_root
    pid_a = state(rdaemon, a)["Pid"]
    old = rdaemon.pid

    rdaemon.kill9()
    dead_at = time.time()
    time.sleep(2.5)  # b exits and a keeps printing while nobody is listening
    rdaemon.start()
    assert rdaemon.pid != old
    assert rdaemon.monitor_pids() == monitors, "the monitor must outlive skiffd"

    st = state(rdaemon, a)
    assert st["Running"] is True and st["Pid"] == pid_a
    names = rdocker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert re.search(r"^%s Up" % a, names, re.M), names

    st = state(rdaemon, b)
    assert st["Running"] is False
    assert st["ExitCode"] == 9
    assert "bye" in rdocker("logs", b).stdout

    # no gap: every line printed while skiffd was dead is in the log
    time.sleep(0.5)
    nums = line_numbers(rdocker("logs", a).stdout)
    assert nums == list(range(len(nums))), "log has gaps or duplicates"
    assert len(nums) > 2.5 / 0.05 * 0.5, "too few lines for %.1fs" % (time.time() - dead_at)

    # the new daemon can still drive it, and sees its exit code
    rdocker("kill", "-s", "TERM", a)  # sh as pid 1 ignores TERM
    rdocker("kill", a)
    st = wait_for(lambda: (lambda s: s if not s["Running"] else None)(state(rdaemon, a)), what="a exited")
    assert st["ExitCode"] == 137
    rdocker("rm", a, b)


def test_exit_during_downtime_is_waited(rdaemon, rdocker):
    n = "e2e-restart-wait"
    rdocker("run", "-d", "--name", n, "busybox", "sh", "-c", "sleep 1; exit 4")
    rdaemon.kill9()
    time.sleep(1.5)
    rdaemon.start()
    r = rdocker("wait", n, timeout=30)
    assert r.stdout.strip() == "4"
    rdocker("rm", n)


def test_sigterm_daemon_keeps_containers(rdaemon, rdocker):
    n = "e2e-restart-term"
    rdocker("run", "-d", "--name", n, "busybox", "sleep", "600")
    pid = state(rdaemon, n)["Pid"]
    rdaemon.stop()
    rdaemon.start()
    st = state(rdaemon, n)
    assert st["Running"] is True and st["Pid"] == pid
    rdocker("rm", "-f", n)


def test_restart_policy_on_failure(rdaemon, rdocker):
    n = "e2e-restart-onfail"
    rdocker("run", "-d", "--name", n, "--restart", "on-failure:3", "busybox", "sh", "-c", "echo run; exit 1")

    def done():
        r = rdaemon.request("GET", "/containers/%s/json" % n).json()
        return r if r["RestartCount"] == 3 and not r["State"]["Running"] and \
            r["State"]["Status"] == "exited" else None
    c = wait_for(done, timeout=30, what="3 restarts")
    assert c["State"]["ExitCode"] == 1
    assert c["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    time.sleep(1)
    assert rdocker("logs", n).stdout.count("run") == 4
    rdocker("rm", n)


def test_restart_policy_success_not_restarted(rdaemon, rdocker):
    n = "e2e-restart-onfail-ok"
    rdocker("run", "-d", "--name", n, "--restart", "on-failure", "busybox", "true")
    time.sleep(1.5)
    c = rdaemon.request("GET", "/containers/%s/json" % n).json()
    assert c["RestartCount"] == 0 and c["State"]["Status"] == "exited"
    rdocker("rm", n)


def test_restart_always_survives_daemon_restart(rdaemon, rdocker):
    n = "e2e-restart-always"
    rdocker("run", "-d", "--name", n, "--restart", "always", "busybox", "sh", "-c", "sleep 1; exit 2")
    rdaemon.kill9()
    time.sleep(1.5)  # it exits while skiffd is away
    rdaemon.start()
    c = wait_for(lambda: (lambda c: c if c["RestartCount"] >= 1 else None)(
        rdaemon.request("GET", "/containers/%s/json" % n).json()), timeout=15, what="restart after reconnect")
    assert c["HostConfig"]["RestartPolicy"]["Name"] == "always"
    rdocker("rm", "-f", n)
