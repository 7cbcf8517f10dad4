# Helpers shared by the networking e2e tests (test_network.py, test_ports.py,
# test_skiff_network_cli.py): busybox web servers, fetches with busybox wget
# (under `timeout`: busybox's wget -T segfaults), free host ports, stats,
# and where a daemon keeps its host-global objects (bridge, nft table, pins).
import json
import os
import socket
import subprocess
import time

from conftest import IMAGE, cgroup_layout, skiffd_flags

WGET_TIMEOUT = 5


def serve_cmd(page, port=80):
    """sh -c script: a busybox httpd serving page at / in the foreground."""
    return ["sh", "-c", "mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p %d -h /www" % (page, port)]


def run_web(docker, name, page, *args, port=80):
    """docker run -d a busybox httpd named name serving page; returns the id."""
    r = docker("run", "-d", "--name", name, *args, IMAGE, *serve_cmd(page, port))
    return r.stdout.strip()


def wget_cmd(url):
    return ["timeout", str(WGET_TIMEOUT), "wget", "-qO-", url]


def fetch_from(docker, network, url, *args, check=True):
    """A throwaway container on network fetching url; CompletedProcess."""
    return docker("run", "--rm", "--network", network, *args, IMAGE, *wget_cmd(url), check=check, timeout=60)


def fetch_exec(docker, container, url, check=True):
    return docker("exec", container, *wget_cmd(url), check=check, timeout=30)


def host_fetch(host, port, path="/", timeout=5):
    """HTTP GET from the host's namespace with a raw socket (no proxy env)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), body


def wait_http(host, port, timeout=10):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            return host_fetch(host, port)
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise AssertionError("nothing answered on %s:%d within %ss: %s" % (host, port, timeout, last))


def wait_ctr_http(docker, container, port=80, timeout=10):
    """Waits until container's own httpd answers (from inside it)."""
    end = time.time() + timeout
    while time.time() < end:
        r = docker("exec", container, *wget_cmd("http://127.0.0.1:%d/" % port), check=False)
        if r.returncode == 0:
            return r.stdout
        time.sleep(0.1)
    raise AssertionError("httpd in %s did not come up" % container)


def free_port(proto=socket.SOCK_STREAM, n=1):
    """A host port (or the first of n consecutive ones) nothing holds now."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, proto)
        s.bind(("0.0.0.0", 0))
        p = s.getsockname()[1]
        s.close()
        if p + n > 65535:
            continue
        ok = True
        for q in range(p, p + n):
            t = socket.socket(socket.AF_INET, proto)
            try:
                t.bind(("0.0.0.0", q))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return p
    raise AssertionError("no free port")


def stats_networks(daemon, name):
    r = daemon.request("GET", "/containers/%s/stats?stream=0" % name, timeout=30)
    assert r.status == 200, r
    return r.json().get("networks") or {}


def net_counter(daemon, name, key, iface="eth0"):
    nets = stats_networks(daemon, name)
    assert iface in nets, "stats networks has no %s: %r" % (iface, nets)
    return nets[iface][key]


def nft_table(daemon):
    return daemon.net.nft_table if "bridge" in skiffd_flags() else "skiff"


def pin_dir(daemon):
    return daemon.net.pin_dir if "bridge" in skiffd_flags() else "/sys/fs/bpf/skiff"


def default_bridge(daemon):
    return daemon.net.bridge if "bridge" in skiffd_flags() else "skiff0"


def nft_json(daemon):
    """The daemon's nft table as text of its JSON (elements, rules); "" if absent."""
    r = subprocess.run(["nft", "-j", "list", "table", "ip", nft_table(daemon)], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def links():
    return set(os.listdir("/sys/class/net"))


def link_addrs(dev):
    r = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", dev], capture_output=True, text=True)
    return r.stdout


def v2_root():
    _, roots = cgroup_layout()
    return roots.get("")


def root_attachments():
    """`bpftool cgroup show <v2 root>` output (the port programs)."""
    r = subprocess.run(["bpftool", "cgroup", "show", v2_root()], capture_output=True, text=True)
    return r.stdout + r.stderr


def listeners(port, proto="t"):
    """Lines of `ss -l<proto>np` for a local port."""
    out = subprocess.run(["ss", "-Hl%snp" % proto], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if (":%d " % port) in l]


def leases(daemon):
    """{ip: holder} over every <data-root>/network/*/leases.json (their
    "Leases" objects; the layout is N1's ipam.c)."""
    out = {}
    base = os.path.join(daemon.data_root, "network")
    for dirpath, _, files in os.walk(base):
        for f in files:
            if f == "leases.json":
                with open(os.path.join(dirpath, f)) as fh:
                    try:
                        out.update(json.load(fh).get("Leases") or {})
                    except ValueError:
                        out[os.path.join(dirpath, f)] = "unparsable"
    return out


def ctr_net(daemon, name, network):
    r = daemon.request("GET", "/containers/%s/json" % name)
    assert r.status == 200, r
    nets = r.json()["NetworkSettings"]["Networks"]
    assert network in nets, "%s not in %s's networks: %s" % (network, name, list(nets))
    return nets[network]


def api_json(daemon, method, path, body=None, want=200):
    r = daemon.request(method, path, body=body)
    assert r.status == want, "%s %s -> %r (wanted %d)" % (method, path, r, want)
    return r.json() if r.body else None


def egress_probe(docker, container, ip):
    """True when container gets an answer from ip (one ICMP echo; NET_RAW is
    in Docker's default capabilities)."""
    r = docker("exec", container, "ping", "-c", "1", "-W", "2", ip, check=False, timeout=30)
    return r.returncode == 0


def dumps(x):
    return json.dumps(x, indent=1, sort_keys=True)[:2000]
