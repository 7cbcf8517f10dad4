#!/usr/bin/python3
# `make bench`: container start latency of skiff against its peers in one run
# (skiff CLI, docker CLI on skiffd, bare crun, bare unshare), and density:
# 200 idle containers through the API, with the daemon's and the monitor's
# memory before and after. Writes Documentation/performance.md.
import datetime
import http.client
import json
import importlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "bin")
RUNS = int(os.environ.get("BENCH_RUNS", "100"))
DENSITY = int(os.environ.get("BENCH_DENSITY", "200"))
# Further sections: modules in tests/bench with run(api, pid, sock) and
# markdown(result), run against the same daemon after the density section.
EXTRA_SECTIONS = ["stats_bench", "exec_bench", "net_bench", "build_bench"]
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "Documentation", "performance.md"))


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path_)


class Api:
    """Keep-alive client, like the docker SDK's connection pool."""

    def __init__(self, sock):
        self.sock = sock
        self.c = None

    def __call__(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.c is None:
                self.c = Conn(self.sock)
            try:
                h = dict(headers or {})
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    h["Content-Type"] = "application/json"
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = None
                if attempt:
                    raise


def mem(pid):
    """(rss_kb, pss_kb) from smaps_rollup."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def create_start(api, name, body):
    """POST /containers/create and /start of body as name; the id."""
    st, out = api("POST", "/containers/create?name=%s" % name, body)
    if st != 201:
        raise RuntimeError("create %s: %d %s" % (name, st, out[:200]))
    cid = json.loads(out)["Id"]
    st, out = api("POST", "/containers/%s/start" % cid)
    if st != 204:
        raise RuntimeError("start %s: %d %s" % (name, st, out[:200]))
    return cid


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def time_loop(cmd_tpl, n, env=None):
    """Runs cmd_tpl ({i} = run number) n times in one bash; each start-to-exit
    measured with $EPOCHREALTIME (no extra fork inside the interval)."""
    script = ('for i in $(seq 1 %d); do t0=$EPOCHREALTIME; %s >/dev/null 2>>"$ERRLOG" || echo FAIL; '
              't1=$EPOCHREALTIME; echo $(( ${t1/./} - ${t0/./} )); done') % (n, cmd_tpl.replace("{i}", "$i"))
    errlog = tempfile.NamedTemporaryFile(prefix="skiff-bench-err-", delete=False)
    errlog.close()
    env = dict(env or os.environ, ERRLOG=errlog.name)
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=600)
    with open(errlog.name) as f:
        err = f.read()
    os.unlink(errlog.name)
    us = [int(x) for x in r.stdout.split() if x.isdigit()]
    fails = r.stdout.count("FAIL")
    if r.returncode or fails or not us:
        return None, "%d/%d failed: %s" % (fails, n, (err or r.stderr).strip().splitlines()[-1:] or "")
    return [u / 1000.0 for u in us], None


class Daemon:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="skiff-bench-")
        self.sock = os.path.join(self.base, "skiff.sock")
        self.exec_root = os.path.join(self.base, "exec")
        self.data_root = os.path.join(self.base, "data")
        self.proc = None
        # networking: a bridge, nft table and pin dir of its own (named after
        # the bridge) and a /24 of 10.199.x, so a bench never touches the
        # objects of a skiffd already running on the host
        self.net_args = []
        helptext = subprocess.run([os.path.join(BIN, "skiffd"), "--help"], capture_output=True, text=True).stdout
        if "--bridge" in helptext:
            import random
            tag = random.getrandbits(16)
            self.net_args = ["--bridge", "skb%04x" % tag, "--bip", "10.199.%d.1/24" % (tag & 0xff)]
        self.can_cleanup = "--cleanup" in helptext

    def start(self):
        log_file = os.path.join(self.base, "skiffd.log")
        self.proc = subprocess.Popen([os.path.join(BIN, "skiffd"), "--data-root", self.data_root,
                                      "--exec-root", self.exec_root, "-H", "unix://" + self.sock,
                                      "--log-file", log_file] + self.net_args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = Api(self.sock)
        for _ in range(200):
            try:
                if api("GET", "/_ping")[0] == 200:
                    return api
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("skiffd did not start; see " + log_file)

    def monitor_pid(self):
        try:
            with open(os.path.join(self.exec_root, "monitor.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def stop(self, api):
        try:
            st, body = api("GET", "/containers/json?all=1")
            for c in json.loads(body) if st == 200 else []:
                api("DELETE", "/containers/%s?force=1" % c["Id"])
        except OSError:
            pass
        mon = self.monitor_pid()
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if mon:
            try:
                os.kill(mon, signal.SIGTERM)
                for _ in range(100):
                    os.kill(mon, 0)
                    time.sleep(0.05)
                os.kill(mon, signal.SIGKILL)
            except OSError:
                pass
        # networking: the daemon's bridge, nft table and BPF pins outlive it until told
        if self.can_cleanup:
            subprocess.run([os.path.join(BIN, "skiffd"), "--cleanup", "--data-root", self.data_root,
                            "--exec-root", self.exec_root] + self.net_args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)


def make_bundle(busybox_tar, d):
    """An OCI bundle for crun from the busybox image's layer."""
    rootfs = os.path.join(d, "rootfs")
    os.makedirs(rootfs)
    with tarfile.open(busybox_tar) as t:
        man = json.load(t.extractfile("manifest.json"))[0]
        for layer in man["Layers"]:
            with tarfile.open(fileobj=t.extractfile(layer)) as lt:
                lt.extractall(rootfs, filter="tar") if hasattr(tarfile, "data_filter") else lt.extractall(rootfs)
    subprocess.run(["crun", "spec"], cwd=d, check=True)
    with open(os.path.join(d, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f)


def crun_wrap():
    """crun 1.8 refuses the hybrid cgroup layout; give it a private mount
    namespace where /sys/fs/cgroup is the cgroup2 hierarchy, cgroups off."""
    with open("/proc/self/mountinfo") as f:
        hybrid = any(" /sys/fs/cgroup/" in l and " - cgroup2 " in l for l in f)
    if hybrid:
        return "mount -t cgroup2 none /sys/fs/cgroup || exit 1; ", ["--cgroup-manager=disabled"], \
            "crun --cgroup-manager=disabled, in a mount namespace with cgroup2 on /sys/fs/cgroup (crun 1.8 refuses hybrid cgroups)"
    return "", [], "crun run"


def density(api, d):
    res = {}
    skiffd, mon = d.proc.pid, d.monitor_pid()
    before = [mem(skiffd), mem(mon) if mon else (0, 0)]
    ids = []
    t0 = time.perf_counter()
    for i in range(DENSITY):
        st, body = api("POST", "/containers/create?name=bench-density-%d" % i,
                       {"Image": "busybox", "Cmd": ["sleep", "3600"]})
        if st != 201:
            res["error"] = "create #%d: %d %s" % (i, st, body[:200])
            break
        cid = json.loads(body)["Id"]
        ids.append(cid)
        st, body = api("POST", "/containers/%s/start" % cid)
        if st != 204:
            res["error"] = "start #%d: %d %s" % (i, st, body[:200])
            break
    res["started"] = len(ids)
    res["total_s"] = time.perf_counter() - t0
    time.sleep(1)
    mon = mon or d.monitor_pid()
    after = [mem(skiffd), mem(mon) if mon else (0, 0)]
    res["before"], res["after"] = before, after
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        st, body = api("GET", "/containers/json")
        lat.append((time.perf_counter() - t) * 1000)
    res["list_ms"] = statistics.median(lat)
    res["list_p90_ms"] = pct(lat, 90)
    res["listed"] = len(json.loads(body)) if st == 200 else -1
    t0 = time.perf_counter()
    for cid in ids:
        api("DELETE", "/containers/%s?force=1" % cid)
    res["remove_s"] = time.perf_counter() - t0
    return res


def main():
    for b in ("skiffd", "skiff-monitor", "skiff"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            raise SystemExit("build/bin/%s missing: run make" % b)
    work = tempfile.mkdtemp(prefix="skiff-bench-work-")
    d = Daemon()
    api = None
    rows = []
    dens = None
    extra = []
    try:
        tarball = os.path.join(work, "busybox.tar")
        subprocess.run([os.path.join(ROOT, "tools", "mkimage-busybox"), tarball], check=True,
                       stdout=subprocess.DEVNULL)
        api = d.start()
        with open(tarball, "rb") as f:
            st, body = api("POST", "/images/load?quiet=1", f.read(), {"Content-Type": "application/x-tar"})
        if st != 200:
            raise SystemExit("loading busybox failed: %d %s" % (st, body[:200]))

        host = "unix://" + d.sock
        dcfg = os.path.join(work, "docker-config")
        os.makedirs(dcfg)
        denv = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=dcfg)
        bundle = os.path.join(work, "bundle")
        make_bundle(tarball, bundle)
        wrap, crun_flags, crun_note = crun_wrap()
        peers = [
            ("`skiff run --rm busybox true`", "%s -H %s run --rm busybox true" % (os.path.join(BIN, "skiff"), host),
             None, None, "skiff CLI -> skiffd -> skiff-monitor"),
            ("`docker run --rm busybox true` (docker CLI 28 -> skiffd)", "/usr/local/bin/docker run --rm busybox true",
             None, denv, "the unmodified docker CLI against skiffd"),
            ("`crun run` (same busybox rootfs)",
             "crun %s run --bundle %s bench-crun-{i}" % (" ".join(crun_flags), bundle),
             bool(wrap), None, crun_note),
            ("`unshare -fpmnuic --mount-proc true`", "unshare -fpmnuic --mount-proc true", None, None,
             "namespaces only: the floor"),
        ]
        for label, cmd, wrapper, env, note in peers:
            if "docker" in cmd and not os.access("/usr/local/bin/docker", os.X_OK):
                rows.append((label, None, "docker CLI not installed", note))
                continue
            log("%d x %s" % (RUNS, label))
            if wrapper:  # the loop runs inside the wrapper's mount namespace
                inner = ('for i in $(seq 1 %d); do t0=$EPOCHREALTIME; %s >/dev/null 2>>"$ERRLOG" || echo FAIL; '
                         't1=$EPOCHREALTIME; echo $(( ${t1/./} - ${t0/./} )); done') % (RUNS, cmd.replace("{i}", "$i"))
                ms, err = run_wrapped(wrap + inner)
            else:
                ms, err = time_loop(cmd, RUNS, env=env)
            rows.append((label, ms, err, note))
        log("density: %d x sleep 3600" % DENSITY)
        dens = density(api, d)
        for name in EXTRA_SECTIONS:
            log("section: %s" % name)
            try:
                mod = importlib.import_module(name)
                extra += [""] + mod.markdown(mod.run(api, d.proc.pid, d.sock))
            except Exception as e:  # one broken section must not lose the others
                extra += ["", "## %s" % name, "", "failed: %s" % str(e).replace("|", "/")]
    finally:
        if api:
            d.stop(api)
        else:
            shutil.rmtree(d.base, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    write_report(rows, dens, extra)


def run_wrapped(script):
    errlog = tempfile.NamedTemporaryFile(prefix="skiff-bench-err-", delete=False)
    errlog.close()
    env = dict(os.environ, ERRLOG=errlog.name)
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script],
                       capture_output=True, text=True, env=env, timeout=600)
    with open(errlog.name) as f:
        err = f.read()
    os.unlink(errlog.name)
    us = [int(x) for x in r.stdout.split() if x.isdigit()]
    fails = r.stdout.count("FAIL")
    if r.returncode or fails or not us:
        return None, "%d failed: %s" % (fails, (err or r.stderr).strip().splitlines()[-1:] or "")
    return [u / 1000.0 for u in us], None


def meminfo_total_gib():
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024 / 1024


def cgroup_mode():
    with open("/proc/self/mountinfo") as f:
        text = f.read()
    if " /sys/fs/cgroup rw" in text and " - cgroup2 " in text and " - cgroup " not in text:
        return "v2"
    return "hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified)" if " - cgroup2 " in text else "v1"


def write_report(rows, dens, extra=()):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["# skiff performance", "",
           "Written by `make bench` (tools/bench/run, tests/bench/bench.py); do not edit by hand.", "",
           "## Machine", "",
           "| | |", "| --- | --- |",
           "| date | %s |" % now,
           "| CPUs | %d (%s) |" % (os.cpu_count(), cpu or platform.machine()),
           "| memory | %.1f GiB |" % meminfo_total_gib(),
           "| kernel | %s |" % platform.release(),
           "| cgroups | %s |" % cgroup_mode(),
           "", "## Start latency: `run --rm busybox true`, %d runs each, same host, same run" % RUNS, "",
           "Wall time from exec of the client to its exit, measured in one bash loop with `$EPOCHREALTIME`. "
           "Rows are comparable within one run only: absolute numbers move with whatever else the host is doing.", "",
           "| what | median ms | p90 ms | min ms | notes |", "| --- | ---: | ---: | ---: | --- |"]
    for label, ms, err, note in rows:
        if ms:
            out.append("| %s | %.2f | %.2f | %.2f | %s |" % (label, statistics.median(ms), pct(ms, 90), min(ms), note))
        else:
            out.append("| %s | – | – | – | failed: %s |" % (label, str(err).replace("|", "/")))
    out += ["", "## Density: %d detached `sleep 3600` containers, created and started one after another through the API"
            % DENSITY, ""]
    if dens:
        (sr0, sp0), (mr0, mp0) = dens["before"]
        (sr1, sp1), (mr1, mp1) = dens["after"]
        n = max(dens["started"], 1)
        out += ["| | value |", "| --- | ---: |",
                "| containers started | %d%s |" % (dens["started"], " (%s)" % dens["error"] if "error" in dens else ""),
                "| total time to create+start | %.2f s (%.1f ms per container) |" % (dens["total_s"], dens["total_s"] * 1000 / n),
                "| skiffd RSS / PSS before | %d / %d KiB |" % (sr0, sp0),
                "| skiffd RSS / PSS after | %d / %d KiB |" % (sr1, sp1),
                "| skiff-monitor RSS / PSS before | %d / %d KiB |" % (mr0, mp0),
                "| skiff-monitor RSS / PSS after | %d / %d KiB |" % (mr1, mp1),
                "| engine overhead per container (PSS, skiffd + monitor) | %.1f KiB |" % (((sp1 + mp1) - (sp0 + mp0)) / n),
                "| `GET /containers/json` with them running: median / p90 | %.2f / %.2f ms (%d listed) |"
                % (dens["list_ms"], dens["list_p90_ms"], dens["listed"]),
                "| removing them all (`DELETE ?force=1` each) | %.2f s |" % dens["remove_s"], ""]
    out += ["For scale (not this run, see PERFORMANCE-NOTES): Docker runs a containerd-shim per container, 5–11 MB RSS each; "
            "`docker run --rm` against dockerd took 322–342 ms on the same kind of host.", ""]
    out += list(extra)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(out))
    print("\n".join(out))


def standalone_section(module):
    """`python3 tests/bench/<section>.py [--out FILE]`: runs one extra section
    against its own skiffd with busybox loaded, prints its Markdown."""
    out = None
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        out = sys.argv[2]
    elif len(sys.argv) != 1:
        raise SystemExit("usage: %s [--out FILE]" % os.path.basename(sys.argv[0]))
    work = tempfile.mkdtemp(prefix="skiff-bench-section-")
    d = Daemon()
    api = None
    try:
        tarball = os.path.join(work, "busybox.tar")
        subprocess.run([os.path.join(ROOT, "tools", "mkimage-busybox"), tarball], check=True,
                       stdout=subprocess.DEVNULL)
        api = d.start()
        with open(tarball, "rb") as f:
            st, body = api("POST", "/images/load?quiet=1", f.read(), {"Content-Type": "application/x-tar"})
        if st != 200:
            raise SystemExit("loading busybox failed: %d %s" % (st, body[:200]))
        res = module.run(api, d.proc.pid, d.sock)
    finally:
        if api:
            d.stop(api)
        else:
            shutil.rmtree(d.base, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(module.markdown(res))
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
