# End-to-end fixtures: one skiffd per session with its own data root, exec
# root and socket, busybox loaded, and the three clients (docker CLI, docker
# SDK, skiff CLI) pointed at it. Teardown removes everything and fails the
# run if a mount, cgroup or process of ours is left behind.
#
# Networking: every Skiffd gets host-global names of its own so concurrent
# test daemons (several engineers, several sessions) never collide:
#   --bridge skt<4 hex>                      (nft table skiff-skt<hex>, pins /sys/fs/bpf/skiff-skt<hex>)
#   a /20 block 10.A.16B.0/20 (A in 200..250, B in 0..15) not on any host route:
#     --bip 10.A.16B.1/24                        the default bridge
#     --default-address-pool base=10.A.(16B+8).0/21,size=24   8 user networks
#     10.A.(16B+1..7).0/24                       spare subnets for tests that pass --subnet
# At the end `skiffd --cleanup` with the same flags removes bridge, table and pins,
# and the leak check looks for each of them (and the user networks' br-* bridges).
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIFFD = os.path.join(ROOT, "build", "bin", "skiffd")
SKIFF = os.path.join(ROOT, "build", "bin", "skiff")
MKIMAGE = os.path.join(ROOT, "tools", "mkimage-busybox")
DOCKER = "/usr/local/bin/docker"
IMAGE = "busybox:latest"


# ---------------------------------------------------------------- HTTP

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def message(self):
        try:
            return self.json().get("message", "")
        except (ValueError, AttributeError):
            return ""

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


# ---------------------------------------------------------------- cgroups

def cgroup_layout():
    """Returns (mode, roots): mode "v2" when controllers sit on a cgroup2
    hierarchy, else "v1"; roots maps controller -> mount point ("" -> v2)."""
    roots = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _, opts = right.split()[:3]
            mnt = left.split()[4]
            if fstype == "cgroup2":
                roots[""] = mnt
            elif fstype == "cgroup":
                for o in opts.split(","):
                    if o in ("cpu", "cpuacct", "memory", "pids", "blkio", "cpuset", "devices", "freezer"):
                        roots[o] = mnt
    mode = "v1" if "memory" in roots else "v2"
    return mode, roots


def cgroup_dirs(parent="skiff"):
    """Every per-container cgroup dir under <hierarchy>/<parent>/."""
    out = set()
    _, roots = cgroup_layout()
    for mnt in set(roots.values()):
        p = os.path.join(mnt, parent)
        if os.path.isdir(p):
            for e in os.listdir(p):
                if os.path.isdir(os.path.join(p, e)):
                    out.add(os.path.join(p, e))
    return out


def container_cgroup_file(cid, v1_controller, v1_file, v2_file):
    """Path of a limit file of container cid, whatever the layout."""
    mode, roots = cgroup_layout()
    if mode == "v1":
        return os.path.join(roots[v1_controller], "skiff", cid, v1_file)
    return os.path.join(roots[""], "skiff", cid, v2_file)


# ---------------------------------------------------------------- processes

def proc_cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pids_mentioning(text):
    me = str(os.getpid())
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit() and p != me and text in proc_cmdline(p):
            out.append(int(p))
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def mounts_mentioning(text):
    with open("/proc/self/mountinfo") as f:
        return [l.strip() for l in f if text in l]


# ---------------------------------------------------------------- skiffd

_taken_nets = set()


def host_routes():
    """Every IPv4 destination/address the host knows, as ip_network objects."""
    import ipaddress
    nets = []
    for cmd in (["ip", "-o", "-4", "route", "show", "table", "all"], ["ip", "-o", "-4", "addr", "show"]):
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        for line in out.splitlines():
            for w in line.split():
                if w[:1].isdigit() and "." in w:
                    try:
                        nets.append(ipaddress.ip_network(w, strict=False))
                    except ValueError:
                        pass
    return nets


def link_exists(name):
    return os.path.exists("/sys/class/net/%s" % name)


def skiffd_flags():
    """The long flags `skiffd --help` lists (networking flags land one by one)."""
    if not hasattr(skiffd_flags, "cache"):
        try:
            out = subprocess.run([SKIFFD, "--help"], capture_output=True, text=True, timeout=10).stdout
        except OSError:
            out = ""
        import re
        skiffd_flags.cache = set(re.findall(r"--([a-z][a-z0-9-]+)", out))
    return skiffd_flags.cache


class NetParams:
    """The per-daemon bridge name and address block (see the file header)."""

    def __init__(self):
        import ipaddress
        import random
        routes = host_routes()
        for _ in range(500):
            a, b = random.randint(200, 250), random.randint(0, 15)
            block = ipaddress.ip_network("10.%d.%d.0/20" % (a, 16 * b))
            bridge = "skt%04x" % random.getrandbits(16)
            if (a, b) in _taken_nets or link_exists(bridge) or any(block.overlaps(r) for r in routes):
                continue
            _taken_nets.add((a, b))
            self.a, self.b, self.bridge = a, b, bridge
            break
        else:
            raise RuntimeError("no free 10.200-250.x.0/20 block for a test daemon")
        base = 16 * self.b
        self.bip = "10.%d.%d.1/24" % (self.a, base)
        self.subnet = "10.%d.%d.0/24" % (self.a, base)
        self.gateway = "10.%d.%d.1" % (self.a, base)
        self.pool = "base=10.%d.%d.0/21,size=24" % (self.a, base + 8)
        self.pool_net = ipaddress.ip_network("10.%d.%d.0/21" % (self.a, base + 8))
        self.nft_table = "skiff-" + self.bridge
        self.pin_dir = "/sys/fs/bpf/skiff-" + self.bridge

    def spare_subnet(self, i=0):
        """A /24 of this daemon's block that is neither the bip nor in the pool (i in 0..6)."""
        assert 0 <= i <= 6
        return "10.%d.%d.0/24" % (self.a, 16 * self.b + 1 + i)

    def args(self):
        have = skiffd_flags()
        out = []
        if "bridge" in have:
            out += ["--bridge", self.bridge]
        if "bip" in have:
            out += ["--bip", self.bip]
        if "default-address-pool" in have:
            out += ["--default-address-pool", self.pool]
        return out


def nft_table_exists(table):
    r = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    return r.returncode == 0


class Skiffd:
    """One skiffd with private roots. start() may be called again after
    kill9() or stop(): the new daemon reuses the same roots."""

    def __init__(self, tag="e2e"):
        self.base = tempfile.mkdtemp(prefix="skiff-%s-" % tag)
        self.data_root = os.path.join(self.base, "data")
        self.exec_root = os.path.join(self.base, "exec")
        self.sock = os.path.join(self.base, "skiff.sock")
        self.log_file = os.path.join(self.base, "skiffd.log")
        self.host = "unix://" + self.sock
        self.proc = None
        self.cgroups_before = cgroup_dirs()
        self.net = NetParams()
        self.extra_args = []  # e.g. ["--no-bpf-ports"], kept across restarts

    # -- lifecycle
    def start(self, timeout=20):
        if not os.access(SKIFFD, os.X_OK):
            pytest.fail("%s is not built (run make)" % SKIFFD)
        os.makedirs(self.data_root, exist_ok=True)
        os.makedirs(self.exec_root, exist_ok=True)
        logf = open(self.log_file, "ab")
        self.proc = subprocess.Popen(
            [SKIFFD, "--data-root", self.data_root, "--exec-root", self.exec_root,
             "-H", self.host, "--log-file", self.log_file] + self.net.args() + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail("skiffd exited with %s at start:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                if self.request("GET", "/_ping", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail("skiffd did not answer /_ping within %ss:\n%s" % (timeout, self.log_tail()))

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("skiffd ignored SIGTERM for %ss" % timeout)
        self.proc = None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def monitor_pids(self):
        pids = set()
        pidfile = os.path.join(self.exec_root, "monitor.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            if pid_alive(pid):
                pids.add(pid)
        except (OSError, ValueError):
            pass
        for p in pids_mentioning(self.exec_root):
            if "monitor" in proc_cmdline(p) and (not self.proc or p != self.proc.pid):
                pids.add(p)
        return pids

    def log_tail(self, n=40):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    # -- API
    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def containers(self, all=True):
        r = self.request("GET", "/containers/json?all=%d" % (1 if all else 0))
        assert r.status == 200, r
        return r.json()

    def container_dirs(self):
        d = os.path.join(self.data_root, "containers")
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def load_image(self, tarball):
        with open(tarball, "rb") as f:
            r = self.request("POST", "/images/load?quiet=1", body=f.read(),
                             headers={"Content-Type": "application/x-tar"}, timeout=120)
        assert r.status == 200, r
        return r

    # -- teardown
    def destroy(self):
        """Removes all containers, stops skiffd and its monitor, checks
        for leaks, removes the roots. Returns a list of leak descriptions."""
        leaks = []
        ids = set(self.container_dirs())
        if self.proc is None and os.path.isdir(self.data_root):
            try:
                self.start()
            except BaseException:  # pytest.fail is a BaseException
                pass
        bridges = set()
        if self.proc is not None:
            try:
                for c in self.containers():
                    ids.add(c["Id"])
                    self.request("DELETE", "/containers/%s?force=1" % c["Id"])
                left = self.containers()
                if left:
                    leaks.append("containers still listed after rm -f: %s" % [c["Names"] for c in left])
                leaks += self.remove_networks(bridges)
            except OSError as e:
                leaks.append("API failed at teardown: %s" % e)
            try:
                self.stop()
            except AssertionError as e:
                leaks.append(str(e))
        for pid in self.monitor_pids():
            os.kill(pid, signal.SIGTERM)
            if not wait_gone(pid, 5):
                leaks.append("skiff-monitor %d ignored SIGTERM" % pid)
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5)
        for cg in sorted(cgroup_dirs() - self.cgroups_before):
            if os.path.basename(cg) in ids or any(os.path.basename(cg).startswith(i[:12]) for i in ids):
                leaks.append("cgroup left: %s" % cg)
                kill_cgroup(cg)
        leaks += self.net_cleanup(bridges, ids)
        for m in mounts_mentioning(self.base):
            leaks.append("mount left: %s" % m)
        for m in reversed(mounts_mentioning(self.base)):
            subprocess.run(["umount", "-l", m.split()[4]], stderr=subprocess.DEVNULL)
        for pid in pids_mentioning(self.base):
            leaks.append("process left: %d %s" % (pid, proc_cmdline(pid)))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # Container processes do not mention our roots; they live in the cgroups above.
        shutil.rmtree(self.base, ignore_errors=True)
        if os.path.exists(self.base):
            leaks.append("could not remove %s" % self.base)
        rmdir_empty_parents()
        return leaks


    def remove_networks(self, bridges):
        """Deletes the user-defined networks (noting their bridges); 501 while
        the network API is missing is not a leak."""
        leaks = []
        r = self.request("GET", "/networks")
        if r.status != 200:
            return leaks
        for n in r.json():
            if n.get("Name") in ("bridge", "host", "none"):
                continue
            opts = n.get("Options") or {}
            bridges.add(opts.get("com.docker.network.bridge.name") or "br-" + n["Id"][:12])
            d = self.request("DELETE", "/networks/%s" % n["Id"])
            if d.status not in (200, 204, 404):
                leaks.append("network %s could not be removed at teardown: %r" % (n.get("Name"), d))
        return leaks

    def net_cleanup(self, bridges, ids=()):
        """`skiffd --cleanup` with the daemon's flags, then: no bridge, veth,
        nft table or BPF pin of this daemon is left."""
        leaks = []
        if "cleanup" in skiffd_flags() and "bridge" in skiffd_flags():
            r = subprocess.run([SKIFFD, "--cleanup", "--data-root", self.data_root, "--exec-root", self.exec_root]
                               + self.net.args() + self.extra_args, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                leaks.append("skiffd --cleanup exited %d: %s%s" % (r.returncode, r.stdout, r.stderr))
        elif "bridge" not in skiffd_flags():
            return leaks  # the daemon used the host-wide defaults: not ours to judge
        links = os.listdir("/sys/class/net")
        for i in ids:
            for l in links:
                if l.startswith("skv" + i[:10]):
                    leaks.append("veth left: %s (container %s)" % (l, i[:12]))
        bridges = set(bridges) | {self.net.bridge}
        for b in sorted(bridges):
            if link_exists(b):
                leaks.append("bridge left: %s" % b)
                subprocess.run(["ip", "link", "del", b], stderr=subprocess.DEVNULL)
        if nft_table_exists(self.net.nft_table):
            leaks.append("nftables table left: ip %s" % self.net.nft_table)
            subprocess.run(["nft", "delete", "table", "ip", self.net.nft_table], stderr=subprocess.DEVNULL)
        if os.path.exists(self.net.pin_dir):
            leaks.append("BPF pin dir left: %s" % self.net.pin_dir)
        return leaks


def kill_cgroup(path):
    for fname in ("cgroup.procs", "tasks"):
        try:
            with open(os.path.join(path, fname)) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        except OSError:
            pass
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.1)


def rmdir_empty_parents():
    """skiffd leaves <hierarchy>/skiff/ (containers outlive it); once every
    daemon and container of ours is gone an empty one is ours to remove."""
    if pids_of_comm("skiffd") or pids_of_comm("skiff-monitor"):
        return
    _, roots = cgroup_layout()
    for mnt in set(roots.values()):
        try:
            os.rmdir(os.path.join(mnt, "skiff"))
        except OSError:
            pass


def pids_of_comm(name):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/comm" % p) as f:
                    if f.read().strip() == name:
                        out.append(int(p))
            except OSError:
                pass
    return out


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def busybox_tar():
    if not os.access(MKIMAGE, os.X_OK):
        pytest.fail("%s is missing: cannot build the busybox image" % MKIMAGE)
    d = tempfile.mkdtemp(prefix="skiff-e2e-img-")
    path = os.path.join(d, "busybox.tar")
    r = subprocess.run([MKIMAGE, path], capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not os.path.exists(path):
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail("tools/mkimage-busybox failed (%d): %s %s" % (r.returncode, r.stdout, r.stderr))
    yield path
    shutil.rmtree(d, ignore_errors=True)


def start_daemon(tag, busybox_tar, extra=()):
    """A started Skiffd with busybox loaded; extra: its extra_args."""
    d = Skiffd(tag)
    d.extra_args = list(extra)
    try:
        d.start()
        d.load_image(busybox_tar)
    except BaseException:
        d.destroy()
        raise
    return d


def finish_daemon(d):
    leaks = d.destroy()
    assert not leaks, "skiffd teardown found leaks:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def daemon(busybox_tar):
    d = start_daemon("e2e", busybox_tar)
    yield d
    finish_daemon(d)


@pytest.fixture(scope="session")
def api(daemon):
    return daemon.request


class DockerCLI:
    def __init__(self, host):
        self.cfg = tempfile.mkdtemp(prefix="skiff-e2e-dockercfg-")
        self.env = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=self.cfg)
        self.env.pop("DOCKER_CONTEXT", None)
        self.env.pop("DOCKER_TLS_VERIFY", None)

    def __call__(self, *args, input=None, timeout=60, check=True):
        r = subprocess.run([DOCKER] + [str(a) for a in args], input=input, capture_output=True,
                           text=isinstance(input, str) or input is None, timeout=timeout, env=self.env)
        if check and r.returncode != 0:
            raise AssertionError("docker %s -> %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r

    def close(self):
        shutil.rmtree(self.cfg, ignore_errors=True)


@pytest.fixture(scope="session")
def docker(daemon):
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("docker CLI not installed at %s" % DOCKER)
    cli = DockerCLI(daemon.host)
    yield cli
    cli.close()


@pytest.fixture(scope="session")
def dockerpy(daemon):
    import docker as docker_sdk
    c = docker_sdk.DockerClient(base_url=daemon.host, timeout=60)
    yield c
    c.close()


@pytest.fixture(scope="session")
def skiff(daemon):
    if not os.access(SKIFF, os.X_OK):
        pytest.fail("%s is not built (run make)" % SKIFF)

    def run(*args, input=None, timeout=60, check=True):
        r = subprocess.run([SKIFF, "-H", daemon.host] + [str(a) for a in args], input=input,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("skiff %s -> %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r
    return run


def _removed_after(daemon, make, delete_path):
    """Body of the name, image_name and net fixtures: yields new(...), which makes a name
    with make and remembers it; after the test each is DELETEd at
    delete_path % name (errors ignored: the test may have removed it)."""
    made = []

    def new(*args, **kw):
        n = make(*args, **kw)
        made.append(n)
        return n
    yield new
    for n in made:
        try:
            daemon.request("DELETE", delete_path % n, timeout=30)
        except OSError:
            pass


@pytest.fixture
def name(request, daemon):
    """name() -> a fresh container name; every container so named is
    force-removed after the test."""
    def make(prefix=None):
        base = (prefix or request.node.name).replace("[", "-").replace("]", "").replace("_", "-")
        return "e2e-%s-%s" % (base[:40].strip("-"), uuid.uuid4().hex[:6])
    yield from _removed_after(daemon, make, "/containers/%s?force=1")


def wait_for(pred, timeout=10, interval=0.05, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def inspect(daemon, name):
    r = daemon.request("GET", "/containers/%s/json" % name)
    assert r.status == 200, r
    return r.json()


# ---------------------------------------------------------------- archives

def archive_manifest(tarball):
    """(config_id, [layer tar bytes], repo_tags) of a docker-archive."""
    import tarfile
    with tarfile.open(tarball) as t:
        man = json.load(t.extractfile("manifest.json"))[0]
        cfg = t.extractfile(man["Config"]).read()
        layers = []
        for l in man["Layers"]:
            data = t.extractfile(l).read()
            if data[:2] == b"\x1f\x8b":
                import gzip
                data = gzip.decompress(data)
            layers.append(data)
    import hashlib
    return "sha256:" + hashlib.sha256(cfg).hexdigest(), layers, man.get("RepoTags") or []


@pytest.fixture(scope="session")
def rootfs_tar(busybox_tar):
    """A plain rootfs tarball of busybox (for import and for crun bundles)."""
    _, layers, _ = archive_manifest(busybox_tar)
    assert len(layers) == 1, "expected a one-layer busybox image"
    d = tempfile.mkdtemp(prefix="skiff-e2e-rootfs-")
    p = os.path.join(d, "rootfs.tar")
    with open(p, "wb") as f:
        f.write(layers[0])
    yield p
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="skiff-e2e-work-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def image_name(request, daemon):
    """image_name() -> a fresh "e2e-...:tag" reference, force-removed after the test."""
    def make(tag="1"):
        base = request.node.name.replace("[", "-").replace("]", "").replace("_", "-").lower()
        return "e2e-%s-%s:%s" % (base[:30].strip("-"), uuid.uuid4().hex[:6], tag)
    yield from _removed_after(daemon, make, "/images/%s?force=1")


def vname(prefix="v"):
    return "e2e-%s-%s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def vol(daemon):
    """vol() -> a fresh volume name; every volume so named is removed (force) after the test."""
    made = []

    def new(prefix="v"):
        n = vname(prefix)
        made.append(n)
        return n
    yield new
    for n in made:
        daemon.request("DELETE", "/volumes/%s?force=1" % n)


# ---------------------------------------------------------------- remote host

class RemoteHost:
    """A network namespace playing another host: a veth pair to the host's
    namespace with a /30 in 10.250-254.x.x and a default route via the
    host's end, so its clients reach published ports through DNAT."""

    def __init__(self):
        import ipaddress
        import random
        routes = host_routes()
        for _ in range(500):
            a, b, c = random.randint(250, 254), random.randint(0, 255), random.randrange(0, 256, 4)
            net = ipaddress.ip_network("10.%d.%d.%d/30" % (a, b, c))
            tag = "%06x" % random.getrandbits(24)
            if not any(net.overlaps(r) for r in routes) and not link_exists("sktr" + tag):
                break
        else:
            raise RuntimeError("no free /30 in 10.250-254.x.x")
        self.ns = "sk-test-" + tag
        self.host_if, self.peer_if = "sktr" + tag, "sktp" + tag
        self.host_ip = str(net.network_address + 1)
        self.ip = str(net.network_address + 2)
        self.made = False
        steps = [
            ["ip", "netns", "add", self.ns],
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if],
            ["ip", "link", "set", self.peer_if, "netns", self.ns],
            ["ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
            ["ip", "-n", self.ns, "link", "set", "lo", "up"],
            ["ip", "-n", self.ns, "addr", "add", self.ip + "/30", "dev", self.peer_if],
            ["ip", "-n", self.ns, "link", "set", self.peer_if, "up"],
            ["ip", "-n", self.ns, "route", "add", "default", "via", self.host_ip],
        ]
        for st in steps:
            r = subprocess.run(st, capture_output=True, text=True)
            self.made = True
            if r.returncode:
                self.remove()
                raise RuntimeError("%s: %s" % (" ".join(st), r.stderr.strip()))

    def run(self, *cmd, timeout=30, check=False, input=None):
        """Runs cmd inside the namespace (text output)."""
        r = subprocess.run(["ip", "netns", "exec", self.ns] + [str(c) for c in cmd], capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check and r.returncode:
            raise AssertionError("in %s: %s -> %d: %s%s" % (self.ns, " ".join(map(str, cmd)), r.returncode,
                                                              r.stdout, r.stderr))
        return r

    def remove(self):
        if not self.made:
            return
        subprocess.run(["ip", "link", "del", self.host_if], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)
        self.made = False


@pytest.fixture
def remote_host():
    """A RemoteHost removed after the test (and checked gone)."""
    h = RemoteHost()
    yield h
    h.remove()
    assert not link_exists(h.host_if), "veth %s left" % h.host_if
    assert h.ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.fixture
def net(request, daemon):
    """net() -> a fresh network name; every network so named is removed
    (after the containers of the test, whose fixture runs later) after the test."""
    def make(prefix="n"):
        return "e2e-%s-%s" % (prefix, uuid.uuid4().hex[:8])
    yield from _removed_after(daemon, make, "/networks/%s")


@pytest.fixture
def own_daemon(busybox_tar):
    """own_daemon(tag, extra_args) -> a Skiffd of the test's own (busybox
    loaded; extra_args kept across restarts), finished after the test."""
    made = []

    def new(tag, extra=()):
        d = start_daemon(tag, busybox_tar, extra)
        made.append(d)
        return d
    yield new
    for d in made:
        finish_daemon(d)
