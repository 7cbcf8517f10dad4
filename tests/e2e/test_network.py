# Networks end to end (issue 4): the network API and the docker CLI's
# network verbs with Docker's errors; --network/--ip/--network-alias/
# --hostname; containers fetching pages from each other by name through
# skiffd's DNS; several networks per container; container:NAME, none, host;
# --internal and the io.skiff.egress.* labels enforced in the kernel and
# counted as drops; nothing left behind (links, addresses, nft elements, BPF
# pins, leases) once containers and networks are gone; the Python SDK.
# Traffic goes only to loopback, skiff's bridges and namespaces the tests make.
import ipaddress
import os
import re
import time

import pytest

from conftest import IMAGE, DockerCLI, inspect, wait_for
from netutil import (api_json, ctr_net, default_bridge, egress_probe, fetch_exec, fetch_from, leases,
                     link_addrs, links, net_counter, nft_json, pin_dir, run_web, wait_ctr_http)

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def nslookup(docker, container, host):
    r = docker("exec", container, "timeout", "5", "nslookup", host, check=False, timeout=30)
    return r.returncode, r.stdout + r.stderr


def sleeper(docker, name, *args):
    return docker("run", "-d", "--name", name, *args, IMAGE, "sleep", "3600").stdout.strip()


# ---------------------------------------------------------------- the API and `docker network`

def test_create_inspect_ls_rm(docker, daemon, net, name):
    n = net()
    nid = docker("network", "create", "--label", "team=a", n).stdout.strip()
    assert HEX64.match(nid), nid
    info = api_json(daemon, "GET", "/networks/%s" % n)
    assert info["Name"] == n and info["Id"] == nid
    assert info["Driver"] == "bridge" and info["Scope"] == "local"
    assert info["Internal"] is False and info["EnableIPv6"] is False
    assert info["Labels"] == {"team": "a"}
    cfg = info["IPAM"]["Config"]
    assert len(cfg) == 1 and cfg[0]["Subnet"] and cfg[0]["Gateway"], cfg
    sub = ipaddress.ip_network(cfg[0]["Subnet"])
    assert ipaddress.ip_address(cfg[0]["Gateway"]) in sub
    if "default-address-pool" in daemon.net.args():
        assert sub.subnet_of(daemon.net.pool_net), "%s not from the pool %s" % (sub, daemon.net.pool)
    # the bridge exists, named after the id, with the gateway address
    br = "br-" + nid[:12]
    assert br in links()
    assert cfg[0]["Gateway"] + "/" in link_addrs(br)
    # by id prefix, ls with filters, the docker CLI's inspect
    assert api_json(daemon, "GET", "/networks/%s" % nid[:8])["Id"] == nid
    ls = docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout.splitlines()
    assert "%s bridge local" % n in ls
    for predefined in ("bridge bridge local", "host host local", "none null local"):
        assert predefined in ls, ls
    only = docker("network", "ls", "-q", "--filter", "label=team=a", "--no-trunc").stdout.split()
    assert only == [nid]
    assert docker("network", "ls", "-q", "--filter", "name=" + n).stdout.split() == [nid[:12]]
    assert docker("network", "inspect", "-f", "{{.Name}} {{.Driver}}", n).stdout.strip() == n + " bridge"
    assert docker("network", "rm", n).stdout.strip() == n
    r = daemon.request("GET", "/networks/%s" % n)
    assert r.status == 404 and r.message == "network %s not found" % n, r
    assert br not in links()


def test_create_with_subnet_gateway_iprange_and_bridge_name(docker, daemon, net, name):
    n = net()
    sub = ipaddress.ip_network(daemon.net.spare_subnet(0))
    gw = str(sub.network_address + 254)
    rng = "%s/28" % (sub.network_address + 64)
    docker("network", "create", "--subnet", str(sub), "--gateway", gw, "--ip-range", rng,
           "-o", "com.docker.network.bridge.name=skt%s" % daemon.net.bridge[3:] + "u", n)
    info = api_json(daemon, "GET", "/networks/%s" % n)
    assert info["IPAM"]["Config"] == [{"Subnet": str(sub), "Gateway": gw, "IPRange": rng}], info["IPAM"]
    br = "skt%su" % daemon.net.bridge[3:]
    assert br in links() and gw + "/24" in link_addrs(br)
    c = name("c")
    sleeper(docker, c, "--network", n)
    ip = ipaddress.ip_address(ctr_net(daemon, c, n)["IPAddress"])
    assert ip in ipaddress.ip_network(rng), "%s outside --ip-range %s" % (ip, rng)
    docker("rm", "-f", c)
    docker("network", "rm", n)
    assert br not in links()


def test_create_errors(docker, daemon, net, name):
    n = net()
    docker("network", "create", n)
    r = docker("network", "create", n, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == "Error response from daemon: network with name %s already exists" % n
    r = daemon.request("POST", "/networks/create", body={"Name": n})
    assert r.status == 409, r
    # overlapping subnets
    sub = daemon.net.spare_subnet(1)
    a, b = net(), net()
    docker("network", "create", "--subnet", sub, a)
    r = docker("network", "create", "--subnet", sub, b, check=False)
    assert r.returncode == 1 and "Pool overlaps with other one on this address space" in r.stderr, r.stderr
    # unknown driver, bad subnet, gateway outside the subnet
    r = daemon.request("POST", "/networks/create", body={"Name": net(), "Driver": "nosuchdriver"})
    assert r.status == 404 and 'plugin "nosuchdriver" not found' in r.message, r
    r = daemon.request("POST", "/networks/create",
                       body={"Name": net(), "IPAM": {"Config": [{"Subnet": "10.300.0.0/24"}]}})
    assert r.status == 400, r
    r = daemon.request("POST", "/networks/create",
                       body={"Name": net(), "IPAM": {"Config": [{"Subnet": daemon.net.spare_subnet(2),
                                                                  "Gateway": "192.0.2.77"}]}})
    assert r.status in (400, 403) and "gateway" in r.message.lower(), r
    # IPv6 answered honestly: refused, not silently ignored
    r = daemon.request("POST", "/networks/create", body={"Name": net(), "EnableIPv6": True})
    assert r.status in (400, 501) and "ipv6" in r.message.lower(), r


def test_predefined_networks(docker, daemon):
    nets = {x["Name"]: x for x in api_json(daemon, "GET", "/networks")}
    assert {"bridge", "host", "none"} <= set(nets)
    assert nets["host"]["Driver"] == "host" and nets["none"]["Driver"] == "null"
    bridge = nets["bridge"]
    assert bridge["Options"].get("com.docker.network.bridge.name") == default_bridge(daemon)
    if "bip" in daemon.net.args():
        assert bridge["IPAM"]["Config"][0]["Subnet"] == daemon.net.subnet
        assert bridge["IPAM"]["Config"][0]["Gateway"] == daemon.net.gateway
    for p in ("bridge", "host", "none"):
        r = docker("network", "rm", p, check=False)
        assert r.returncode == 1
        assert "%s is a pre-defined network and cannot be removed" % p in r.stderr, r.stderr
    r = daemon.request("POST", "/networks/prune")
    assert r.status == 200 and not (r.json().get("NetworksDeleted") or []), r
    assert {"bridge", "host", "none"} <= {x["Name"] for x in api_json(daemon, "GET", "/networks")}


def test_rm_with_endpoints_and_not_found(docker, daemon, net, name):
    n, c = net(), name("c")
    docker("network", "create", n)
    sleeper(docker, c, "--network", n)
    r = docker("network", "rm", n, check=False)
    assert r.returncode == 1 and "has active endpoints" in r.stderr, r.stderr
    r = daemon.request("DELETE", "/networks/%s" % n)
    # the issue asks for 409 (dockerd answers 403 Forbidden with the same text)
    assert r.status == 409 and "has active endpoints" in r.message, r
    docker("rm", "-f", c)
    docker("network", "rm", n)
    r = docker("network", "rm", "e2e-nosuch-net", check=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == "Error response from daemon: network e2e-nosuch-net not found", r.stderr
    r = docker("network", "inspect", "e2e-nosuch-net", check=False)
    assert r.returncode == 1 and "network e2e-nosuch-net not found" in r.stderr, r.stderr


def test_prune(docker, daemon, net, name):
    used, unused, labelled = net(), net(), net()
    for n in (used, unused):
        docker("network", "create", n)
    docker("network", "create", "--label", "keep=yes", labelled)
    c = name("c")
    sleeper(docker, c, "--network", used)
    out = docker("network", "prune", "-f", "--filter", "label!=keep=yes").stdout
    assert out.splitlines()[0] == "Deleted Networks:" and unused in out.splitlines(), out
    names = {x["Name"] for x in api_json(daemon, "GET", "/networks")}
    assert used in names and labelled in names and unused not in names
    r = daemon.request("POST", "/networks/prune")
    assert r.status == 200 and labelled in (r.json()["NetworksDeleted"] or []), r
    docker("rm", "-f", c)


def test_connect_disconnect_and_errors(docker, daemon, net, name):
    a, b, c = net(), net(), name("c")
    docker("network", "create", a)
    docker("network", "create", "--subnet", daemon.net.spare_subnet(3), b)
    sleeper(docker, c, "--network", a)
    static = str(ipaddress.ip_network(daemon.net.spare_subnet(3)).network_address + 42)
    docker("network", "connect", "--ip", static, "--alias", "db", "--alias", "cache", b, c)
    ep = ctr_net(daemon, c, b)
    assert ep["IPAddress"] == static and ep["IPPrefixLen"] == 24
    assert {"db", "cache"} <= set(ep.get("Aliases") or []) | set(ep.get("DNSNames") or []), ep
    assert ep["MacAddress"] == "02:42:" + ":".join("%02x" % int(x) for x in static.split("."))
    assert ep["NetworkID"] == api_json(daemon, "GET", "/networks/%s" % b)["Id"]
    # the container sees eth0 and eth1 with those addresses
    out = docker("exec", c, "ip", "-o", "-4", "addr").stdout
    assert re.search(r"eth1\s+inet %s/24" % re.escape(static), out), out
    assert re.search(r"eth0\s+inet %s/" % re.escape(ctr_net(daemon, c, a)["IPAddress"]), out), out
    cont = api_json(daemon, "GET", "/networks/%s" % b)["Containers"]
    cid = inspect(daemon, c)["Id"]
    assert cont[cid]["Name"] == c and cont[cid]["IPv4Address"] == static + "/24", cont
    # errors, with Docker's words
    r = docker("network", "connect", b, c, check=False)
    assert r.returncode == 1 and "already exists in network %s" % b in r.stderr, r.stderr
    r = docker("network", "connect", b, "e2e-nosuch-ctr", check=False)
    assert r.returncode == 1 and "No such container: e2e-nosuch-ctr" in r.stderr, r.stderr
    r = docker("network", "connect", "e2e-nosuch-net", c, check=False)
    assert r.returncode == 1 and "network e2e-nosuch-net not found" in r.stderr, r.stderr
    r = docker("network", "connect", "--ip", "10.255.255.9", a, c, check=False)
    assert r.returncode == 1, r
    # disconnect: gone from inspect, from the container, from the network
    docker("network", "disconnect", b, c)
    assert b not in inspect(daemon, c)["NetworkSettings"]["Networks"]
    assert "eth1" not in docker("exec", c, "ip", "-o", "link").stdout
    assert cid not in (api_json(daemon, "GET", "/networks/%s" % b)["Containers"] or {})
    r = docker("network", "disconnect", b, c, check=False)
    assert r.returncode == 1 and "is not connected to network %s" % b in r.stderr, r.stderr
    # the freed static address can be taken again
    c2 = name("c")
    sleeper(docker, c2, "--network", b, "--ip", static)
    assert ctr_net(daemon, c2, b)["IPAddress"] == static


def test_run_flags_ip_alias_hostname(docker, daemon, net, name):
    n, c = net(), name("c")
    sub = ipaddress.ip_network(daemon.net.spare_subnet(4))
    docker("network", "create", "--subnet", str(sub), n)
    ip = str(sub.network_address + 10)
    sleeper(docker, c, "--network", n, "--ip", ip, "--network-alias", "web", "--hostname", "box1")
    ep = ctr_net(daemon, c, n)
    assert ep["IPAddress"] == ip and ep["Gateway"] == str(sub.network_address + 1)
    assert inspect(daemon, c)["Config"]["Hostname"] == "box1"
    assert docker("exec", c, "hostname").stdout.strip() == "box1"
    hosts = docker("exec", c, "cat", "/etc/hosts").stdout
    assert re.search(r"^%s\s+box1\b" % re.escape(ip), hosts, re.M), hosts
    resolv = docker("exec", c, "cat", "/etc/resolv.conf").stdout
    assert "nameserver %s" % (sub.network_address + 1) in resolv, resolv
    routes = docker("exec", c, "ip", "route").stdout
    assert "default via %s" % (sub.network_address + 1) in routes, routes
    # --ip is refused on the default bridge, and when taken
    r = docker("run", "--rm", "--ip", str(sub.network_address + 11), IMAGE, "true", check=False)
    assert r.returncode == 125
    assert "user specified IP address is supported on user defined networks only" in r.stderr, r.stderr
    r = docker("run", "--rm", "--network", n, "--ip", ip, IMAGE, "true", check=False)
    assert r.returncode != 0 and "Address already in use" in r.stderr, r.stderr
    r = docker("run", "--rm", "--network", "e2e-nosuch-net", IMAGE, "true", check=False)
    assert r.returncode == 125 and "network e2e-nosuch-net not found" in r.stderr, r.stderr


def test_default_bridge(docker, daemon, name):
    c = name()
    sleeper(docker, c)
    ep = ctr_net(daemon, c, "bridge")
    ns = inspect(daemon, c)["NetworkSettings"]
    assert ns["IPAddress"] == ep["IPAddress"] and ns["Gateway"] == ep["Gateway"]
    if "bip" in daemon.net.args():
        assert ipaddress.ip_address(ep["IPAddress"]) in ipaddress.ip_network(daemon.net.subnet)
        assert ep["Gateway"] == daemon.net.gateway
    hosts = docker("exec", c, "cat", "/etc/hosts").stdout
    assert ep["IPAddress"] in hosts
    resolv = docker("exec", c, "cat", "/etc/resolv.conf").stdout
    assert not re.search(r"^nameserver 127\.", resolv, re.M), resolv
    # the host's veth end is attached to the daemon's bridge
    cid = inspect(daemon, c)["Id"]
    veth = "skv%s0" % cid[:10]
    assert veth in links()
    master = os.path.realpath("/sys/class/net/%s/master" % veth)
    assert os.path.basename(master) == default_bridge(daemon)
    # the container reaches its gateway (the host side of the bridge)
    assert egress_probe(docker, c, ep["Gateway"])


# ---------------------------------------------------------------- names, DNS

def test_two_containers_fetch_pages_by_name(docker, daemon, net, name):
    n, a, b = net(), name("a"), name("b")
    docker("network", "create", n)
    run_web(docker, a, "page-from-a", "--network", n)
    run_web(docker, b, "page-from-b", "--network", n, "--network-alias", "bee")
    wait_ctr_http(docker, a)
    wait_ctr_http(docker, b)
    assert fetch_exec(docker, a, "http://%s/" % b).stdout == "page-from-b\n"
    assert fetch_exec(docker, b, "http://%s/" % a).stdout == "page-from-a\n"
    assert fetch_exec(docker, a, "http://bee/").stdout == "page-from-b\n"
    # a short id and a throwaway container on the same network
    bid = inspect(daemon, b)["Id"]
    assert fetch_exec(docker, a, "http://%s/" % bid[:12]).stdout == "page-from-b\n"
    assert fetch_from(docker, n, "http://%s/" % a).stdout == "page-from-a\n"


def test_dns_nxdomain_and_answers_follow_containers(docker, daemon, net, name):
    n, a, b, c = net(), name("a"), name("b"), name("c")
    docker("network", "create", n)
    sleeper(docker, a, "--network", n)
    sleeper(docker, b, "--network", n)
    rc, out = nslookup(docker, a, b)
    assert rc == 0 and ctr_net(daemon, b, n)["IPAddress"] in out, out
    rc, out = nslookup(docker, a, "e2e-nobody-here")
    assert rc != 0 and "NXDOMAIN" in out, out
    docker("rm", "-f", b)
    rc, out = nslookup(docker, a, b)
    assert rc != 0 and "NXDOMAIN" in out, "name of a removed container still resolves: " + out
    sleeper(docker, c, "--network", n)
    rc, out = nslookup(docker, a, c)
    assert rc == 0 and ctr_net(daemon, c, n)["IPAddress"] in out, out
    # a stopped container's name goes too, and comes back on start
    docker("stop", "-t", "0", c)
    rc, out = nslookup(docker, a, c)
    assert rc != 0 and "NXDOMAIN" in out, out
    docker("start", c)
    rc, out = nslookup(docker, a, c)
    assert rc == 0 and ctr_net(daemon, c, n)["IPAddress"] in out, out


def test_names_do_not_cross_networks(docker, daemon, net, name):
    n1, n2, a, b = net(), net(), name("a"), name("b")
    docker("network", "create", n1)
    docker("network", "create", n2)
    sleeper(docker, a, "--network", n1)
    run_web(docker, b, "only-n2", "--network", n2)
    rc, out = nslookup(docker, a, b)
    assert rc != 0 and "NXDOMAIN" in out, out
    # connected to n2 as well: now it resolves and fetches
    docker("network", "connect", n2, a)
    wait_ctr_http(docker, b)
    assert fetch_exec(docker, a, "http://%s/" % b).stdout == "only-n2\n"


def test_several_networks_per_container(docker, daemon, net, name):
    n1, n2, s1, s2, multi = net(), net(), name("s"), name("s"), name("m")
    docker("network", "create", n1)
    docker("network", "create", n2)
    run_web(docker, s1, "on-n1", "--network", n1)
    run_web(docker, s2, "on-n2", "--network", n2)
    sleeper(docker, multi, "--network", n1)
    docker("network", "connect", n2, multi)
    nets = inspect(daemon, multi)["NetworkSettings"]["Networks"]
    assert {n1, n2} <= set(nets)
    wait_ctr_http(docker, s1)
    wait_ctr_http(docker, s2)
    assert fetch_exec(docker, multi, "http://%s/" % s1).stdout == "on-n1\n"
    assert fetch_exec(docker, multi, "http://%s/" % s2).stdout == "on-n2\n"


def test_networks_are_isolated_from_each_other(docker, daemon, net, name):
    """dockerd drops traffic between two bridge networks (its ISOLATION
    chains), even by address through the gateways."""
    n1, n2, s1, s2 = net(), net(), name("s"), name("s")
    docker("network", "create", n1)
    docker("network", "create", n2)
    run_web(docker, s1, "on-n1", "--network", n1)
    run_web(docker, s2, "on-n2", "--network", n2)
    wait_ctr_http(docker, s2)
    r = fetch_exec(docker, s1, "http://%s/" % ctr_net(daemon, s2, n2)["IPAddress"], check=False)
    assert r.returncode != 0, "a container on %s reached one on %s by address: %r" % (n1, n2, r.stdout)


def test_network_container_mode(docker, daemon, name):
    a, b = name("a"), name("b")
    run_web(docker, a, "shared-ns")
    wait_ctr_http(docker, a)
    out = docker("run", "--rm", "--network", "container:" + a, IMAGE,
                 "timeout", "5", "wget", "-qO-", "http://127.0.0.1/").stdout
    assert out == "shared-ns\n"
    sleeper(docker, b, "--network", "container:" + a)
    ip_a = docker("exec", a, "ip", "-o", "-4", "addr").stdout
    ip_b = docker("exec", b, "ip", "-o", "-4", "addr").stdout
    assert ip_a == ip_b
    assert inspect(daemon, b)["HostConfig"]["NetworkMode"] == "container:" + inspect(daemon, a)["Id"] or \
        inspect(daemon, b)["HostConfig"]["NetworkMode"] == "container:" + a
    r = docker("run", "--rm", "--network", "container:e2e-nosuch-ctr", IMAGE, "true", check=False)
    assert r.returncode == 125 and "No such container: e2e-nosuch-ctr" in r.stderr, r.stderr


def test_network_none_and_host(docker, daemon, name):
    out = docker("run", "--rm", "--network", "none", IMAGE, "ip", "-o", "link").stdout
    assert [l.split(":")[1].strip() for l in out.splitlines()] == ["lo"], out
    c = name()
    sleeper(docker, c, "--network", "none")
    assert inspect(daemon, c)["NetworkSettings"]["Networks"].keys() == {"none"}
    assert not any(l.startswith("skv" + inspect(daemon, c)["Id"][:10]) for l in links())
    out = docker("run", "--rm", "--network", "host", IMAGE, "ip", "-o", "link").stdout
    assert default_bridge(daemon) + ":" in out.replace("@", ":"), out
    h = docker("run", "--rm", "--network", "host", IMAGE, "hostname").stdout.strip()
    assert h == os.uname().nodename


class FakeUpstream:
    """A DNS server on 127.0.0.1 for skiffd --dns: A records from a table,
    no records for other types of those names, NXDOMAIN for the rest."""

    def __init__(self, records):
        import socket
        import threading
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import struct
        while True:
            try:
                q, peer = self.sock.recvfrom(1500)
            except OSError:
                return
            i, labels = 12, []
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode())
                i += 1 + q[i]
            qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
            question = q[12:i + 5]
            name = ".".join(labels).lower()
            self.queries.append((name, qtype))
            ip = self.records.get(name)
            if ip is None:
                hdr = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], 0x8183, 1, 0, 0, 0)
                self.sock.sendto(hdr + question, peer)
            elif qtype == 1:
                hdr = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], 0x8180, 1, 1, 0, 0)
                ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes(int(x) for x in ip.split("."))
                self.sock.sendto(hdr + question + ans, peer)
            else:
                hdr = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], 0x8180, 1, 0, 0, 0)
                self.sock.sendto(hdr + question, peer)

    def close(self):
        self.sock.close()


def test_dns_forwards_other_names_upstream(own_daemon):
    up = FakeUpstream({"web.example.test": "192.0.2.55"})
    try:
        d = own_daemon("net-dns", ["--dns", "127.0.0.1:%d" % up.port])
        docker = DockerCLI(d.host)
        try:
            docker("network", "create", "e2e-dns-net")
            docker("run", "-d", "--name", "e2e-dns-a", "--network", "e2e-dns-net", IMAGE, "sleep", "3600")
            rc, out = nslookup(docker, "e2e-dns-a", "web.example.test")
            assert rc == 0 and "192.0.2.55" in out, out
            assert ("web.example.test", 1) in up.queries
            rc, out = nslookup(docker, "e2e-dns-a", "missing.example.test")
            assert rc != 0 and "NXDOMAIN" in out, out
            # container names never leave the host
            rc, out = nslookup(docker, "e2e-dns-a", "e2e-dns-a")
            assert rc == 0
            assert not [q for q in up.queries if q[0].startswith("e2e-dns-a")], up.queries
            docker("rm", "-f", "e2e-dns-a")
            docker("network", "rm", "e2e-dns-net")
        finally:
            docker.close()
    finally:
        up.close()


# ---------------------------------------------------------------- policy

def test_internal_network_blocks_egress_and_counts_drops(docker, daemon, net, name, remote_host):
    inner, outer, a, b, ctl = net(), net(), name("a"), name("b"), name("ctl")
    docker("network", "create", "--internal", inner)
    docker("network", "create", outer)
    assert api_json(daemon, "GET", "/networks/%s" % inner)["Internal"] is True
    # control: a container on a normal network reaches the "remote host"
    sleeper(docker, ctl, "--network", outer)
    assert egress_probe(docker, ctl, remote_host.ip), "a normal network cannot reach the remote host"
    # internal: peers reach each other, but nothing outside, even with a route the container adds itself
    run_web(docker, b, "inside", "--network", inner)
    sleeper(docker, a, "--network", inner, "--cap-add", "NET_ADMIN")
    wait_ctr_http(docker, b)
    assert fetch_exec(docker, a, "http://%s/" % b).stdout == "inside\n"
    assert "default" not in docker("exec", a, "ip", "route").stdout
    gw = ctr_net(daemon, a, inner)["Gateway"]
    docker("exec", a, "ip", "route", "add", "default", "via", gw)
    before = net_counter(daemon, a, "tx_dropped")
    assert not egress_probe(docker, a, remote_host.ip), "an --internal network reached the outside"
    wait_for(lambda: net_counter(daemon, a, "tx_dropped") > before, timeout=5,
             what="tx_dropped to count the blocked packet")


def test_egress_labels(docker, daemon, net, name, remote_host):
    n = net()
    docker("network", "create", n)
    free, denied, allowed_other, allowed = name("free"), name("deny"), name("allow"), name("allowok")
    sleeper(docker, free, "--network", n)
    sleeper(docker, denied, "--network", n, "--label", "io.skiff.egress.deny=%s/32" % remote_host.ip)
    sleeper(docker, allowed_other, "--network", n, "--label", "io.skiff.egress.allow=192.0.2.0/24")
    sleeper(docker, allowed, "--network", n, "--label", "io.skiff.egress.allow=%s/30" % remote_host.host_ip)
    assert egress_probe(docker, free, remote_host.ip)
    assert egress_probe(docker, allowed, remote_host.ip)
    for c in (denied, allowed_other):
        before = net_counter(daemon, c, "tx_dropped")
        assert not egress_probe(docker, c, remote_host.ip), "%s reached a denied address" % c
        wait_for(lambda: net_counter(daemon, c, "tx_dropped") > before, timeout=5, what="drop counted for " + c)
    # allow-lists keep the container's own network reachable
    run_web(docker, name("web"), "peer", "--network", n, "--network-alias", "peerweb")
    time.sleep(0.3)
    wait_for(lambda: fetch_exec(docker, allowed_other, "http://peerweb/", check=False).stdout == "peer\n",
             timeout=10, what="an allow-listed container to reach its own network")
    # a bad CIDR is refused at create
    r = docker("run", "--rm", "--label", "io.skiff.egress.deny=10.0.0.0/99", IMAGE, "true", check=False)
    assert r.returncode != 0, r


# ---------------------------------------------------------------- nothing left

def test_nothing_left_after_rm(docker, daemon, net, name):
    n, a, b = net(), name("a"), name("b")
    nid = docker("network", "create", n).stdout.strip()
    br = "br-" + nid[:12]
    ids = [sleeper(docker, a, "--network", n), sleeper(docker, b, "--network", n, "-p", "80")]
    ips = [ctr_net(daemon, x, n)["IPAddress"] for x in (a, b)]
    veths = {"skv%s0" % i[:10] for i in ids}
    assert veths <= links(), "host veth ends missing: %s" % (veths - links())
    table = nft_json(daemon)
    assert table, "the daemon's nft table is missing"
    assert ips[1] in table, "b's published port is not in the nft table"
    pins = pin_dir(daemon)
    if os.path.isdir(pins):
        pinned = " ".join(os.listdir(os.path.join(pins, "ctr"))) if os.path.isdir(os.path.join(pins, "ctr")) else ""
        assert all(i in pinned for i in ids), "no pinned accounting links for the containers: %s" % pinned
    lt = leases(daemon)
    assert set(ips) <= set(lt), lt
    docker("rm", "-f", a, b)
    wait_for(lambda: not (veths & links()), timeout=10, what="veths to go")
    table = nft_json(daemon)
    assert not any(ip in table for ip in ips), "nft still mentions a removed container"
    if os.path.isdir(os.path.join(pins, "ctr")):
        left = [p for p in os.listdir(os.path.join(pins, "ctr")) if any(p.startswith(i) for i in ids)]
        assert not left, "BPF pins left: %s" % left
    lt = leases(daemon)
    assert not set(ips) & set(lt), "leases left: %s" % lt
    assert br in links()
    docker("network", "rm", n)
    assert br not in links()
    assert nid not in nft_json(daemon) and br not in nft_json(daemon)
    assert not os.path.exists(os.path.join(daemon.data_root, "network", nid))
    assert br not in os.popen("ip -o -4 addr").read()


def test_addresses_are_not_leaked(docker, daemon, net, name):
    n = net()
    docker("network", "create", "--subnet", daemon.net.spare_subnet(5), n)
    seen = set()
    for _ in range(5):
        out = docker("run", "--rm", "--network", n, IMAGE, "ip", "-o", "-4", "addr", "show", "eth0").stdout
        seen.add(out.split()[3].split("/")[0])
    lt = leases(daemon)
    assert not seen & set(lt), "run --rm left leases: %s in %s" % (seen, lt)
    assert not (api_json(daemon, "GET", "/networks/%s" % n)["Containers"] or {})


# ---------------------------------------------------------------- Python SDK

def test_sdk_networks(dockerpy, daemon, net, name):
    n = net()
    nw = dockerpy.networks.create(n, driver="bridge", labels={"sdk": "1"})
    assert nw.name == n and nw.attrs["Labels"] == {"sdk": "1"}
    assert n in [x.name for x in dockerpy.networks.list(names=[n])]
    web = dockerpy.containers.run(IMAGE, ["sh", "-c", "mkdir /www; echo sdk-page > /www/index.html; "
                                          "exec httpd -f -p 80 -h /www"], detach=True, network=n,
                                  name=name("web"))
    cli = dockerpy.containers.run(IMAGE, ["sleep", "3600"], detach=True, name=name("cli"))
    try:
        nw.connect(cli, aliases=["sdkclient"])
        nw.reload()
        assert {web.id, cli.id} <= set(nw.attrs["Containers"])
        cli.reload()
        assert n in cli.attrs["NetworkSettings"]["Networks"]
        out = wait_for(lambda: cli.exec_run(["timeout", "5", "wget", "-qO-", "http://%s/" % web.name]).output,
                       timeout=10, what="sdk fetch")
        assert out == b"sdk-page\n"
        nw.disconnect(cli)
        cli.reload()
        assert n not in cli.attrs["NetworkSettings"]["Networks"]
    finally:
        web.remove(force=True)
        cli.remove(force=True)
    nw.remove()
    import docker as docker_sdk
    with pytest.raises(docker_sdk.errors.NotFound):
        dockerpy.networks.get(n)


def test_resolv_conf_dns_flags(docker, net, name):
    """--dns/--dns-search/--dns-option shape resolv.conf as Docker's: on the
    default bridge they replace the host's lines; on a user network the
    nameserver is skiffd's resolver on the gateway and search/options stay."""
    out = docker("run", "--rm", "--name", name(), "--dns", "192.0.2.53", "--dns-search", "a.example",
                 "--dns-search", "b.example", "--dns-option", "ndots:2", IMAGE, "cat", "/etc/resolv.conf").stdout
    assert out == "search a.example b.example\nnameserver 192.0.2.53\noptions ndots:2\n", out
    n = net()
    docker("network", "create", n)
    out = docker("run", "--rm", "--name", name(), "--network", n, "--dns-search", "c.example",
                 "--dns-option", "timeout:1", IMAGE, "cat", "/etc/resolv.conf").stdout
    lines = out.splitlines()
    gw = docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", n).stdout.strip()
    assert lines == ["search c.example", "nameserver " + gw, "options timeout:1"], out
