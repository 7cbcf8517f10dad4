#!/usr/bin/python3
# Stats section of `make bench`: what it costs skiffd to serve
# GET /containers/{id}/stats for N idle containers once a second, measured as
# skiffd's own utime+stime (/proc/PID/stat) over the run. Two client shapes:
# polling `stream=false&one-shot=true` for each container (a monitoring
# agent), and N open streams (what `docker stats` with no name does).
#
# Standalone: /usr/bin/python3 tests/bench/stats_bench.py [--out FILE]
#   (own skiffd and data root; prints the Markdown section, --out also writes it)
# From bench.py: import stats_bench; res = stats_bench.run(api, daemon.proc.pid, daemon.sock);
#   lines = stats_bench.markdown(res)   (busybox must be loaded)
# BENCH_STATS_N (100) and BENCH_STATS_SECONDS (20) scale it.
import json
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Daemon, Api, log, pct, mem)

N = int(os.environ.get("BENCH_STATS_N", "100"))
SECONDS = int(os.environ.get("BENCH_STATS_SECONDS", "20"))
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def measure(pid, seconds, each_second):
    """skiffd's CPU % while each_second() runs once a second for seconds."""
    c0, t0 = cpu_ticks(pid), time.monotonic()
    for i in range(seconds):
        each_second()
        nxt = t0 + i + 1
        time.sleep(max(0.0, nxt - time.monotonic()))
    c1, t1 = cpu_ticks(pid), time.monotonic()
    return (c1 - c0) / HZ, t1 - t0


def start_containers(api, n):
    ids = []
    for i in range(n):
        st, body = api("POST", "/containers/create?name=bench-stats-%d" % i,
                       {"Image": "busybox", "Cmd": ["sleep", "3600"]})
        if st != 201:
            raise RuntimeError("create #%d: %d %s" % (i, st, body[:200]))
        cid = json.loads(body)["Id"]
        ids.append(cid)
        st, body = api("POST", "/containers/%s/start" % cid)
        if st != 204:
            raise RuntimeError("start #%d: %d %s" % (i, st, body[:200]))
    return ids


def open_streams(sock_path, ids):
    """One raw connection per container streaming stats; returns (selector, socks)."""
    sel = selectors.DefaultSelector()
    socks = []
    for cid in ids:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        s.sendall(("GET /containers/%s/stats HTTP/1.1\r\nHost: x\r\n\r\n" % cid).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    return sel, socks


def drain(sel, until):
    got = 0
    while time.monotonic() < until:
        for key, _ in sel.select(timeout=max(0.0, until - time.monotonic())):
            try:
                data = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            got += data.count(b'"read"')
    return got


def run(api, pid, sock_path, n=N, seconds=SECONDS):
    res = {"n": n, "seconds": seconds}
    ids = start_containers(api, n)
    try:
        time.sleep(1)
        # idle floor: skiffd with n containers and no client
        cpu, wall = measure(pid, min(5, seconds), lambda: None)
        res["idle_pct"] = cpu / wall * 100

        lat = []

        def poll_all():
            for cid in ids:
                t = time.perf_counter()
                st, body = api("GET", "/containers/%s/stats?stream=false&one-shot=true" % cid)
                lat.append((time.perf_counter() - t) * 1000)
                if st != 200:
                    raise RuntimeError("stats %s: %d %s" % (cid[:12], st, body[:200]))
        bench.log("stats: polling %d containers once a second for %d s" % (n, seconds))
        cpu, wall = measure(pid, seconds, poll_all)
        res["poll_pct"] = cpu / wall * 100
        res["poll_cpu_s"] = cpu
        res["polls"] = len(lat)
        res["per_poll_us"] = cpu / len(lat) * 1e6 if lat else 0
        res["lat_ms"] = statistics.median(lat)
        res["lat_p90_ms"] = bench.pct(lat, 90)

        bench.log("stats: %d open streams for %d s" % (n, seconds))
        sel, socks = open_streams(sock_path, ids)
        try:
            drain(sel, time.monotonic() + 1.5)  # first objects, headers
            c0, t0 = cpu_ticks(pid), time.monotonic()
            objs = drain(sel, t0 + seconds)
            c1, t1 = cpu_ticks(pid), time.monotonic()
        finally:
            for s in socks:
                sel.unregister(s)
                s.close()
            sel.close()
        res["stream_pct"] = (c1 - c0) / HZ / (t1 - t0) * 100
        res["stream_objs"] = objs
        res["per_obj_us"] = (c1 - c0) / HZ / objs * 1e6 if objs else 0
        res["rss_kb"] = bench.mem(pid)[0]
    finally:
        for cid in ids:
            api("DELETE", "/containers/%s?force=1" % cid)
    return res


def markdown(res):
    n, s = res["n"], res["seconds"]
    return [
        "## Stats polling cost", "",
        "skiffd's own CPU (utime+stime from /proc/PID/stat) while a client asks for the stats of %d idle "
        "`busybox sleep` containers once a second, for %d s; %d-core host, CLK_TCK %d (10 ms ticks, so "
        "figures under 0.5%% are noise-level)." % (n, s, os.cpu_count(), HZ), "",
        "| mode | skiffd CPU | per sample |",
        "| --- | --- | --- |",
        "| idle, %d containers, no client | %.2f %% | |" % (n, res["idle_pct"]),
        "| `GET /containers/{id}/stats?stream=false&one-shot=true` for each, once a second | %.2f %% | "
        "%.0f µs CPU (%d polls); latency median %.2f ms, p90 %.2f ms |"
        % (res["poll_pct"], res["per_poll_us"], res["polls"], res["lat_ms"], res["lat_p90_ms"]),
        "| %d open `stats` streams (`docker stats` with no name) | %.2f %% | %.0f µs CPU (%d objects) |"
        % (n, res["stream_pct"], res["per_obj_us"], res["stream_objs"]),
        "", "skiffd RSS after: %d KiB. dockerd runs one collector goroutine that reads every container's cgroups "
        "each second through containerd and the shims; no dockerd on this host to compare in the same run." % res["rss_kb"],
        ""]


if __name__ == "__main__":
    bench.standalone_section(sys.modules[__name__])
