#!/usr/bin/python3
# Exec section of `make bench`: the latency of `docker exec NAME true`
# through skiffd (the docker CLI end to end, and the three API requests the
# CLI makes, over raw HTTP), and what one health probe costs: skiffd's and
# skiff-monitor's CPU time (utime+stime from /proc/PID/stat) per probe and
# the probe's wall time (End - Start of State.Health.Log).
#
# Standalone: /usr/bin/python3 tests/bench/exec_bench.py [--out FILE]
# From bench.py: import exec_bench; res = exec_bench.run(api, daemon.proc.pid, daemon.sock);
#   lines = exec_bench.markdown(res)   (busybox must be loaded)
# BENCH_EXEC_N (50) execs, BENCH_HEALTH_SECONDS (10), BENCH_HEALTH_CONTAINERS (4) scale it.
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Daemon, Api, log, pct)

N = int(os.environ.get("BENCH_EXEC_N", "50"))
HEALTH_SECONDS = int(os.environ.get("BENCH_HEALTH_SECONDS", "10"))
HEALTH_CONTAINERS = int(os.environ.get("BENCH_HEALTH_CONTAINERS", "4"))
HEALTH_INTERVAL_MS = 100
HZ = os.sysconf("SC_CLK_TCK")
DOCKER = "/usr/local/bin/docker"


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def monitor_pid(sock_path):
    try:
        with open(os.path.join(os.path.dirname(sock_path), "exec", "monitor.pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def raw_exec(sock_path, api, cid):
    """create + hijacked start + inspect, as the docker CLI does; returns the exit code."""
    st, out = api("POST", "/containers/%s/exec" % cid, {"Cmd": ["true"], "AttachStdout": True,
                                                         "AttachStderr": True})
    eid = json.loads(out)["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    body = b'{"Detach":false,"Tty":false}'
    s.sendall(b"POST /v1.50/exec/%s/start HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (eid.encode(), len(body), body))
    while s.recv(65536):
        pass
    s.close()
    st, out = api("GET", "/exec/%s/json" % eid)
    return json.loads(out)["ExitCode"]


def parse_ts(s):
    # RFC3339 with nanoseconds: keep microseconds for datetime
    head, _, frac = s.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(head).timestamp() + float("0." + (frac or "0"))


def run(api, pid, sock_path, n=N):
    res = {"n": n}
    cid = bench.create_start(api, "bench-exec", {"Image": "busybox", "Cmd": ["sleep", "3600"]})
    try:
        env = dict(os.environ, DOCKER_HOST="unix://" + sock_path)
        if os.access(DOCKER, os.X_OK):
            lat = []
            subprocess.run([DOCKER, "exec", "bench-exec", "true"], env=env, check=True)  # warm
            for _ in range(n):
                t = time.perf_counter()
                subprocess.run([DOCKER, "exec", "bench-exec", "true"], env=env, check=True)
                lat.append((time.perf_counter() - t) * 1000)
            res["cli_ms"] = statistics.median(lat)
            res["cli_p90_ms"] = bench.pct(lat, 90)
        lat = []
        c0 = cpu_ticks(pid)
        mon = monitor_pid(sock_path)
        m0 = cpu_ticks(mon) if mon else 0
        for _ in range(n):
            t = time.perf_counter()
            if raw_exec(sock_path, api, cid) != 0:
                raise RuntimeError("exec true did not exit 0")
            lat.append((time.perf_counter() - t) * 1000)
        res["api_ms"] = statistics.median(lat)
        res["api_p90_ms"] = bench.pct(lat, 90)
        res["api_skiffd_us"] = (cpu_ticks(pid) - c0) / HZ / n * 1e6
        res["api_monitor_us"] = ((cpu_ticks(mon) - m0) / HZ / n * 1e6) if mon else 0
    finally:
        api("DELETE", "/containers/%s?force=1" % cid)

    # health probes: a few containers probing `true` every 100 ms
    ids = []
    try:
        for i in range(HEALTH_CONTAINERS):
            ids.append(bench.create_start(api, "bench-health-%d" % i, {
                "Image": "busybox", "Cmd": ["sleep", "3600"],
                "Healthcheck": {"Test": ["CMD", "true"], "Interval": HEALTH_INTERVAL_MS * 10**6}}))
        time.sleep(1)
        mon = monitor_pid(sock_path)
        c0, m0, t0 = cpu_ticks(pid), cpu_ticks(mon) if mon else 0, time.monotonic()
        time.sleep(HEALTH_SECONDS)
        c1, m1, t1 = cpu_ticks(pid), cpu_ticks(mon) if mon else 0, time.monotonic()
        gaps, walls = [], []
        for cid in ids:
            st, out = api("GET", "/containers/%s/json" % cid)
            log = json.loads(out)["State"]["Health"]["Log"]
            starts = [parse_ts(e["Start"]) for e in log]
            gaps += [b - a for a, b in zip(starts, starts[1:])]
            walls += [parse_ts(e["End"]) - parse_ts(e["Start"]) for e in log]
        probes = (t1 - t0) / statistics.mean(gaps) * len(ids)
        res["probes"] = probes
        res["probe_skiffd_us"] = (c1 - c0) / HZ / probes * 1e6
        res["probe_monitor_us"] = (m1 - m0) / HZ / probes * 1e6
        res["probe_wall_ms"] = statistics.median(walls) * 1000
        res["health_pct"] = ((c1 - c0) + (m1 - m0)) / HZ / (t1 - t0) * 100
    finally:
        for cid in ids:
            api("DELETE", "/containers/%s?force=1" % cid)
    return res


def markdown(res):
    lines = ["## Exec and health probes", "",
             "`docker exec NAME true` into a running busybox container, %d times after one warm-up; "
             "Docker 20.10 measured about 0.4 s per exec on comparable machines (no dockerd on this host to "
             "run in the same pass)." % res["n"], "",
             "| what | median | p90 | CPU per exec |", "| --- | --- | --- | --- |"]
    if "cli_ms" in res:
        lines.append("| `docker exec NAME true` (docker CLI 28, end to end) | %.1f ms | %.1f ms | |"
                     % (res["cli_ms"], res["cli_p90_ms"]))
    lines.append("| the CLI's requests over raw HTTP (create, hijacked start, inspect) | %.2f ms | %.2f ms | "
                 "skiffd %.0f µs, monitor %.0f µs |"
                 % (res["api_ms"], res["api_p90_ms"], res["api_skiffd_us"], res["api_monitor_us"]))
    lines += ["", "Health probes: %d containers probing `CMD true` every %d ms for %d s (%.0f probes): "
              "skiffd %.0f µs + skiff-monitor %.0f µs CPU per probe, probe wall time (Start to End) median "
              "%.2f ms; together %.2f %% of a core. Probes run in skiffd on timers through the monitor's "
              "exec path: no client, no HTTP, no exec record left behind." %
              (HEALTH_CONTAINERS, HEALTH_INTERVAL_MS, HEALTH_SECONDS, res["probes"], res["probe_skiffd_us"],
               res["probe_monitor_us"], res["probe_wall_ms"], res["health_pct"]),
              "", "CPU figures come from 10 ms ticks summed over hundreds of operations.", ""]
    return lines


if __name__ == "__main__":
    bench.standalone_section(sys.modules[__name__])
