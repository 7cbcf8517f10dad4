# Health checks through the docker CLI and the API: a container going
# unhealthy then healthy (the probe's file toggled with docker exec), a
# hanging probe killed at its timeout and counted as a failure, the
# "(healthy)" suffix in docker ps, health_status events, the start period,
# --no-healthcheck, HEALTHCHECK merged from the image config, bad values.
import json
import time
import urllib.parse

from conftest import IMAGE, inspect, wait_for


def health(daemon, name):
    return inspect(daemon, name)["State"].get("Health")


def status_of(docker, name):
    return docker("ps", "-a", "--filter", "name=" + name, "--format", "{{.Status}}").stdout.strip()


def test_unhealthy_then_healthy(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms",
           "--health-retries", "2", IMAGE, "sleep", "1000")
    h = health(daemon, n)
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    assert status_of(docker, n).endswith("(health: starting)")
    wait_for(lambda: health(daemon, n)["Status"] == "unhealthy", timeout=10, what="unhealthy")
    h = health(daemon, n)
    assert h["FailingStreak"] >= 2
    assert all(e["ExitCode"] == 1 for e in h["Log"])
    assert status_of(docker, n).endswith("(unhealthy)")
    docker("exec", n, "touch", "/tmp/ok")
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")
    assert health(daemon, n)["FailingStreak"] == 0
    assert status_of(docker, n).endswith("(healthy)")
    assert len(health(daemon, n)["Log"]) <= 5
    # ps filter and the Log's shape
    e = health(daemon, n)["Log"][-1]
    assert set(e) == {"Start", "End", "ExitCode", "Output"} and e["ExitCode"] == 0
    docker("exec", n, "rm", "/tmp/ok")
    wait_for(lambda: health(daemon, n)["Status"] == "unhealthy", timeout=10, what="unhealthy again")


def test_hanging_probe_killed_at_timeout(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "sleep 30", "--health-timeout", "500ms",
           "--health-interval", "200ms", "--health-retries", "1", IMAGE, "sleep", "1000")
    wait_for(lambda: health(daemon, n)["Status"] == "unhealthy", timeout=10, what="unhealthy")
    e = health(daemon, n)["Log"][0]
    assert e["ExitCode"] == -1
    assert e["Output"] == "Health check exceeded timeout (500ms)"
    # the probe really ended: no sleep 30 piles up in the container
    time.sleep(1.5)
    assert docker("exec", n, "ps").stdout.count("sleep 30") <= 1
    assert inspect(daemon, n)["State"]["Running"]


def test_output_captured_and_events(docker, daemon, name):
    n = name()
    since = int(time.time()) - 1
    docker("run", "-d", "--name", n, "--health-cmd", "echo probe-out; echo probe-err >&2",
           "--health-interval", "200ms", IMAGE, "sleep", "1000")
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")
    out = health(daemon, n)["Log"][0]["Output"]
    assert "probe-out\n" in out and "probe-err\n" in out
    r = daemon.request("GET", "/events?since=%d&until=%d&filters=%s" % (
        since, int(time.time()) + 1, urllib.parse.quote(json.dumps({"container": [n]}))), timeout=10)
    actions = [json.loads(l)["Action"] for l in r.body.decode().splitlines() if l]
    assert "health_status: healthy" in actions
    # probes are not exec instances of the container
    assert inspect(daemon, n)["ExecIDs"] is None
    assert "probe-out" not in docker("logs", n).stdout


def test_long_output_truncated(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "head -c 10000 /dev/zero | tr '\\0' x",
           "--health-interval", "200ms", IMAGE, "sleep", "1000")
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")
    assert len(health(daemon, n)["Log"][0]["Output"]) == 4096


def test_start_period_failures_do_not_count(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "false", "--health-interval", "100ms",
           "--health-retries", "1", "--health-start-period", "60s", "--health-start-interval", "100ms",
           IMAGE, "sleep", "1000")
    wait_for(lambda: len(health(daemon, n)["Log"]) >= 3, timeout=10, what="three probes")
    h = health(daemon, n)
    assert h["Status"] == "starting" and h["FailingStreak"] == 0


def test_stops_with_the_container(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "true", "--health-interval", "100ms", IMAGE, "sleep", "1000")
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")
    docker("stop", "-t", "1", n)
    count = len(health(daemon, n)["Log"])
    time.sleep(0.5)
    assert len(health(daemon, n)["Log"]) == count
    assert "(healthy)" not in status_of(docker, n)
    docker("start", n)
    assert health(daemon, n)["Status"] == "starting"
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy after start")


def test_no_healthcheck_and_none(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--no-healthcheck", IMAGE, "sleep", "1000")
    assert health(daemon, n) is None
    assert inspect(daemon, n)["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert "health" not in status_of(docker, n)


def test_healthcheck_from_the_create_api(daemon, name):
    """Config.Healthcheck as docker-py and compose send it (durations in ns)."""
    n = name()
    body = {"Image": IMAGE, "Cmd": ["sleep", "1000"],
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 100 * 10**6}}
    r = daemon.request("POST", "/containers/create?name=%s" % n, body)
    assert r.status == 201, r
    hc = inspect(daemon, n)["Config"]["Healthcheck"]
    assert hc["Test"] == ["CMD", "true"] and hc["Interval"] == 100 * 10**6
    assert daemon.request("POST", "/containers/%s/start" % n).status == 204
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")


def test_bad_values(daemon, name):
    for hc, msg in (({"Test": ["CMD", "true"], "Interval": 1000}, "Interval in Healthcheck cannot be less than 1ms"),
                    ({"Test": ["CMD", "true"], "Timeout": 5}, "Timeout in Healthcheck cannot be less than 1ms"),
                    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative")):
        r = daemon.request("POST", "/containers/create?name=%s" % name(),
                           {"Image": IMAGE, "Cmd": ["true"], "Healthcheck": hc})
        assert r.status == 400 and r.message == msg, r


def test_missing_probe_binary_is_a_failure(docker, daemon, name):
    n = name()
    docker("run", "-d", "--name", n, "--health-cmd", "true", "--health-interval", "100ms", "--health-retries", "1",
           IMAGE, "sleep", "1000")
    wait_for(lambda: health(daemon, n)["Status"] == "healthy", timeout=10, what="healthy")
    # CMD form with a binary that does not exist: -1 with the OCI message, unhealthy
    m = name()
    r = daemon.request("POST", "/containers/create?name=%s" % m,
                       {"Image": IMAGE, "Cmd": ["sleep", "1000"],
                        "Healthcheck": {"Test": ["CMD", "nosuchprobe"], "Interval": 100 * 10**6, "Retries": 1}})
    assert r.status == 201, r
    assert daemon.request("POST", "/containers/%s/start" % m).status == 204
    wait_for(lambda: health(daemon, m)["Status"] == "unhealthy", timeout=10, what="unhealthy")
    e = health(daemon, m)["Log"][0]
    assert e["ExitCode"] == -1 and "executable file not found" in e["Output"]
    assert inspect(daemon, m)["State"]["Running"]


def test_ps_filters_health_network_volume(docker, name):
    sick, plain = name(), name()
    docker("run", "-d", "--name", sick, "--health-cmd", "false", "--health-interval", "200ms",
           "--health-retries", "1", "-v", "/data", IMAGE, "sleep", "1000")
    try:
        docker("run", "-d", "--name", plain, "--network", "none", IMAGE, "sleep", "1000")

        def names(*filters):
            args = ["ps", "--format", "{{.Names}}"]
            for f in filters:
                args += ["--filter", f]
            return set(docker(*args).stdout.split()) & {sick, plain}

        wait_for(lambda: names("health=unhealthy") == {sick}, timeout=10, what="health=unhealthy")
        assert names("health=none") == {plain}
        assert names("health=healthy") == set()
        assert names("network=none") == {plain}
        assert names("network=bridge") == {sick}
        assert names("volume=/data") == {sick}
        assert names("publish=80") == set()
        assert names("is-task=false") == {sick, plain}
        r = docker("ps", "--filter", "health=sickly", check=False)
        assert r.returncode != 0 and "Unrecognised filter value for health: sickly" in r.stderr
    finally:
        # -v: its anonymous volume must not outlive the test (volume prune tests count them)
        docker("rm", "-f", "-v", sick, check=False)
