#!/usr/bin/python3
# Networking section of `make bench`: TCP throughput into a container through
# a published port (BPF connect4 redirect, no proxy) against the container's
# own address and plain host loopback; new short connections per second
# through a published port; `run --rm busybox true` on the default bridge
# against --network none; and what the per-container cgroup_skb accounting
# costs per packet (BPF_PROG_TEST_RUN of the attached programs, and a 1-byte
# TCP ping-pong with the server socket inside the container's cgroup, where
# the programs run, against the same server outside it).
#
# The servers are a small Python program run inside the container's network
# namespace (nsenter -n) and, where the accounting must see it, moved into
# the container's cgroup2 directory: busybox nc would cap the rates itself.
#
# Standalone: /usr/bin/python3 tests/bench/net_bench.py [--out FILE]
# From bench.py: net_bench.run(api, pid, sock); net_bench.markdown(res)
# BENCH_NET_MB (256) bytes per throughput run, BENCH_NET_RUNS (100) starts.
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

MB = int(os.environ.get("BENCH_NET_MB", "256"))
RUNS = int(os.environ.get("BENCH_NET_RUNS", str(bench.RUNS)))
SECONDS = float(os.environ.get("BENCH_NET_SECONDS", "3"))

# sink on 5001, accept-and-close on 5002, 1-byte echo on 5003 (port base argv[1])
SERVER = r'''
import os, socket, sys, threading
base = int(sys.argv[1])
if len(sys.argv) > 2:  # join the container's cgroup before any socket exists
    with open(sys.argv[2], "w") as f:
        f.write(str(os.getpid()))
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(512); return s
def sink(s):
    while True:
        c, _ = s.accept()
        buf = bytearray(1 << 20)
        while c.recv_into(buf):
            pass
        c.close()
def closer(s):
    while True:
        c, _ = s.accept(); c.send(b"x"); c.close()
def echo(s):
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(1)
            if not d:
                break
            c.send(d)
        c.close()
ls = [listen(base), listen(base + 1), listen(base + 2)]
for fn, s in zip((sink, closer, echo), ls):
    threading.Thread(target=fn, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
'''


def v2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


class Server:
    """SERVER in netns of pid (None: the host's), in cgroup dir (None: ours)."""

    def __init__(self, base, netns_pid=None, cgroup=None):
        cmd = ["/usr/bin/python3", "-c", SERVER, str(base)]
        if cgroup:
            cmd.append(os.path.join(cgroup, "cgroup.procs"))
        if netns_pid:
            cmd = ["nsenter", "-t", str(netns_pid), "-n"] + cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("bench server did not start")

    def stop(self):
        self.p.kill()
        self.p.wait()


def throughput(host, port, nbytes):
    """MiB/s of one connection sending nbytes, until the server has read all."""
    chunk = b"\0" * (1 << 20)
    s = socket.create_connection((host, port), timeout=60)
    t0 = time.perf_counter()
    left = nbytes
    while left > 0:
        left -= s.send(chunk[:min(left, len(chunk))])
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # EOF once the server closed: everything arrived
    dt = time.perf_counter() - t0
    s.close()
    return nbytes / dt / (1 << 20)


def conn_rate(host, port, seconds):
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        s = socket.create_connection((host, port), timeout=10)
        s.recv(1)
        # abortive close: no TIME_WAIT left, so the paths measured one after
        # the other (same source and destination) do not starve each other
        # of ephemeral ports
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        n += 1
    return n / (time.perf_counter() - t0)


def ping_pong(host, port, seconds):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        s.send(b"x")
        s.recv(1)
        n += 1
    dt = time.perf_counter() - t0
    s.close()
    return n / dt


def free_port(n=3):
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p + n < 65535:
            return p
    raise RuntimeError("no free port")


def prog_test_run(cgroup):
    """{attach type: ns per run} of the programs attached to cgroup, by
    BPF_PROG_TEST_RUN (bpftool prog run) over a 64-byte IPv4/TCP packet."""
    out = subprocess.run(["bpftool", "-j", "cgroup", "show", cgroup], capture_output=True, text=True)
    if out.returncode:
        return {}, "bpftool cgroup show failed: " + out.stderr.strip()
    progs = json.loads(out.stdout or "[]")
    if not progs:
        return {}, "no programs attached to the container's cgroup"
    pkt = bytes.fromhex("4500004000000000400600000a0000010a0000020000138900000000000000005002ffff00000000") + b"\0" * 24
    res, err = {}, ""
    with tempfile.NamedTemporaryFile(prefix="skiff-bench-pkt-") as f:
        f.write(pkt)
        f.flush()
        for p in progs:
            r = subprocess.run(["bpftool", "prog", "run", "id", str(p["id"]), "data_in", f.name, "repeat", "1000000"],
                               capture_output=True, text=True)
            m = re.search(r"duration \(average\): (\d+)ns", r.stdout + r.stderr)
            if m:
                res[p.get("attach_type", str(p["id"]))] = int(m.group(1))
            else:
                err = (r.stdout + r.stderr).strip().splitlines()[-1:] or ["?"]
                err = "prog run: " + err[0]
    return res, err


def run(api, pid, sock_path):
    res = {"mb": MB}
    host = "unix://" + sock_path
    skiff = os.path.join(bench.BIN, "skiff")
    # -- start latency: bridge vs none
    # in blocks of 10, alternating, so drift of this noisy VM hits both alike
    times = {"bridge": [], "none": []}
    for _ in range(max(1, RUNS // 10)):
        for mode in times:
            ms, err = bench.time_loop("%s -H %s run --rm --network %s busybox true" % (skiff, host, mode), 10)
            if err:
                res["start_%s_err" % mode] = err
            times[mode] += ms or []
    for mode, ms in times.items():
        res["start_" + mode] = (statistics.median(ms), bench.pct(ms, 90)) if ms else None
    # -- the data path
    pub = free_port()
    cid = bench.create_start(api, "bench-net", {
        "Image": "busybox", "Cmd": ["sleep", "3600"],
        "ExposedPorts": {"5001/tcp": {}, "5002/tcp": {}, "5003/tcp": {}},
        "HostConfig": {"PortBindings": {"%d/tcp" % (5001 + i): [{"HostIp": "127.0.0.1", "HostPort": str(pub + i)}]
                                        for i in range(3)}}})
    servers = []
    try:
        st, out = api("GET", "/containers/%s/json" % cid)
        j = json.loads(out)
        cpid, ip = j["State"]["Pid"], j["NetworkSettings"]["IPAddress"]
        cg = os.path.join(v2_root() or "/sys/fs/cgroup/unified", "skiff", cid)
        servers.append(Server(5001, cpid, cg if os.path.isdir(cg) else None))
        servers.append(Server(6001, cpid, None))  # same namespace, outside the cgroup: no cgroup_skb
        hostp = free_port()
        servers.append(Server(hostp, None, None))
        time.sleep(0.2)
        paths = [("published", "127.0.0.1", pub), ("direct", ip, 5001), ("loopback", "127.0.0.1", hostp)]
        # rounds interleave the paths so a busy moment of the machine hits all three alike
        samples = {label: [] for label, _, _ in paths}
        for label, h, p in paths:
            throughput(h, p, 16 << 20)  # warm-up
        for r in range(3):  # each path goes first once
            for label, h, p in paths[r:] + paths[:r]:
                samples[label].append(throughput(h, p, MB << 20))
        for label in samples:
            res["tput_" + label] = statistics.median(samples[label])
        res["conn_published"] = conn_rate("127.0.0.1", pub + 1, SECONDS)
        res["conn_direct"] = conn_rate(ip, 5002, SECONDS)
        res["conn_loopback"] = conn_rate("127.0.0.1", hostp + 1, SECONDS)
        with_p, without = [], []
        for _ in range(5):
            with_p.append(ping_pong(ip, 5003, SECONDS / 5))
            without.append(ping_pong(ip, 6003, SECONDS / 5))
        res["pp_with"], res["pp_without"] = statistics.median(with_p), statistics.median(without)
        res["cgroup_found"] = os.path.isdir(cg)
        res["testrun"], res["testrun_err"] = prog_test_run(cg) if os.path.isdir(cg) else ({}, "no cgroup2 dir " + cg)
        st, out = api("GET", "/containers/%s/stats?stream=0" % cid)
        res["stats_networks"] = json.loads(out).get("networks") if st == 200 else None
    finally:
        for s in servers:
            s.stop()
        api("DELETE", "/containers/%s?force=1" % cid)
    return res


def markdown(res):
    lines = ["## Networking", "",
             "TCP from the host into a busybox container (server: a Python sink in the container's network "
             "namespace and cgroup), %d MiB per run, median of 3 interleaved rounds; Docker's userland proxy gave 64%% of direct "
             "(946 against 1477 MiB/s) on our machines." % res["mb"], "",
             "| path | throughput | of direct | new connections/s |", "| --- | --- | --- | --- |"]
    direct = res.get("tput_direct") or 0
    for label, what in (("published", "published port `-p 127.0.0.1:P:5001` (cgroup connect4 redirect)"),
                        ("direct", "the container's own address"),
                        ("loopback", "plain host loopback (no container)")):
        t = res.get("tput_" + label)
        lines.append("| %s | %.0f MiB/s | %s | %.0f |" % (what, t, "%.0f %%" % (t / direct * 100) if direct else "",
                                                          res.get("conn_" + label, 0)))
    lines += ["", "`skiff run --rm busybox true`, %d runs each:" % RUNS, "",
              "| network | median | p90 |", "| --- | --- | --- |"]
    for mode in ("bridge", "none"):
        v = res.get("start_" + mode)
        lines.append("| `--network %s` | %s | %s |" % (mode, "%.1f ms" % v[0] if v else res.get("start_%s_err" % mode),
                                                        "%.1f ms" % v[1] if v else ""))
    if res.get("start_bridge") and res.get("start_none"):
        lines += ["", "The bridge adds %.1f ms per start (target: at most 2 ms)." %
                  (res["start_bridge"][0] - res["start_none"][0])]
    lines += ["", "Per-packet cost of the cgroup_skb accounting and egress policy:", ""]
    if res.get("testrun"):
        lines.append("- BPF_PROG_TEST_RUN over a 64-byte TCP packet, 10^6 runs: " +
                     ", ".join("%s %d ns" % (k, v) for k, v in sorted(res["testrun"].items())) + ".")
    else:
        lines.append("- BPF_PROG_TEST_RUN: not measured (%s)." % res.get("testrun_err"))
    w, wo = res["pp_with"], res["pp_without"]
    diff = (1 / w - 1 / wo) * 1e6
    lines.append("- 1-byte TCP ping-pong to a server in the container's namespace: %.0f round trips/s with the "
                 "server's socket in the container's cgroup (programs run on its ingress and egress), %.0f/s "
                 "outside it: %s." % (w, wo, "%.2f µs per round trip, about %.2f µs per packet (2 packets)"
                                      % (diff, diff / 2) if diff > 0 else
                                      "no difference above this measurement's noise"))
    if not res.get("cgroup_found"):
        lines.append("- (the container's cgroup2 directory was not found: both runs are without the programs)")
    lines.append("")
    return lines


if __name__ == "__main__":
    bench.standalone_section(sys.modules[__name__])
