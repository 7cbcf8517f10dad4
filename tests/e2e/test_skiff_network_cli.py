# The skiff CLI's networking verbs against the docker CLI 28 on the same
# daemon: `skiff network create|ls|inspect|rm|prune|connect|disconnect`,
# `skiff port`, run/create's --network/--ip/--network-alias/--hostname/
# -p/-P/--expose as the request they make (compared through inspect), and
# the PORTS column of ps.
import json
import uuid

import pytest

from conftest import IMAGE
from netutil import free_port

from test_skiff_cli import same


def same_err(skiff, docker, *args):
    """Both fail with the same code and message: skiff prints "skiff: MSG"
    where docker prints "Error response from daemon: MSG" or "Error: MSG"."""
    s, d = skiff(*args, check=False), docker(*args, check=False)
    msg = d.stderr.splitlines()[0]
    for prefix in ("Error response from daemon: ", "Error: "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
            break
    assert (s.returncode, s.stdout, s.stderr.splitlines()[0]) == (d.returncode, d.stdout, "skiff: " + msg), (s, d)


def uniq(p="n"):
    return "e2e-cli-%s-%s" % (p, uuid.uuid4().hex[:8])


def hostconfig_ports(daemon, name):
    r = daemon.request("GET", "/containers/%s/json" % name)
    assert r.status == 200, r
    j = r.json()
    return j["HostConfig"]["PortBindings"], j["Config"].get("ExposedPorts"), j["HostConfig"].get("PublishAllPorts")


@pytest.mark.parametrize("spec", [
    ["-p", "80"],
    ["-p", "8080:80"],
    ["-p", "127.0.0.1:8080:80/udp"],
    ["-p", "127.0.0.1::80"],
    ["-p", "9000-9001:80-81"],
    ["-p", "9000-9010:80"],
    ["-p", "80-82/udp", "-p", "90"],
    ["--expose", "7000-7002/udp", "-P"],
])
def test_create_port_flags_match_docker(skiff, docker, daemon, name, spec):
    s, d = name("s"), name("d")
    skiff("create", "--name", s, *spec, IMAGE, "true")
    docker("create", "--name", d, *spec, IMAGE, "true")
    assert hostconfig_ports(daemon, s) == hostconfig_ports(daemon, d)


def test_create_ipv6_port_refused_like_docker(skiff, docker, name):
    """skiff publishes IPv4 only: both CLIs get the daemon's 400 at create."""
    s = skiff("create", "--name", name("s"), "-p", "[::1]:8080:80", IMAGE, "true", check=False)
    d = docker("create", "--name", name("d"), "-p", "[::1]:8080:80", IMAGE, "true", check=False)
    msg = "IPv6 port bindings are not supported by skiff (HostIp ::1)"
    assert s.returncode != 0 and msg in s.stderr, s
    assert d.returncode != 0 and msg in d.stderr, d


def test_create_network_flags_match_docker(skiff, docker, daemon, name, net):
    n = net()
    docker("network", "create", "--subnet", daemon.net.spare_subnet(6), n)
    base = daemon.net.spare_subnet(6).rsplit(".", 1)[0]
    s, d = name("s"), name("d")
    skiff("create", "--name", s, "--network", n, "--ip", base + ".20", "--network-alias", "a1",
          "--network-alias", "a2", "--hostname", "hs", IMAGE, "true")
    docker("create", "--name", d, "--network", n, "--ip", base + ".21", "--network-alias", "a1",
           "--network-alias", "a2", "--hostname", "hs", IMAGE, "true")

    def pick(name):
        j = daemon.request("GET", "/containers/%s/json" % name).json()
        ep = j["NetworkSettings"]["Networks"][n]
        return (j["HostConfig"]["NetworkMode"], j["Config"]["Hostname"], sorted(ep.get("Aliases") or []),
                (ep.get("IPAMConfig") or {}).get("IPv4Address", "").rsplit(".", 1)[0])
    assert pick(s) == pick(d)


def test_network_create_ls_inspect_rm(skiff, docker, daemon):
    a, b = uniq(), uniq()
    nid = skiff("network", "create", "--label", "x=1", a).stdout.strip()
    assert len(nid) == 64
    docker("network", "create", "--label", "x=1", "--internal", b)
    try:
        for args in (["network", "ls"], ["network", "ls", "--no-trunc"], ["network", "ls", "-q"],
                     ["network", "ls", "--filter", "label=x=1"],
                     ["network", "ls", "--format", "{{.Name}}\t{{.Internal}}\t{{.IPv6}}\t{{.Labels}}"],
                     ["network", "ls", "--format", "json"],
                     ["network", "inspect", a], ["network", "inspect", a, b],
                     ["network", "inspect", "-f", "{{.Name}} {{.Internal}} {{json .IPAM.Config}}", b],
                     ["network", "inspect", "bridge"]):
            same(skiff, docker, *args)
        same_err(skiff, docker, "network", "inspect", "e2e-cli-nosuch")
        same_err(skiff, docker, "network", "rm", "e2e-cli-nosuch")
        same_err(skiff, docker, "network", "rm", "host")
        r = skiff("network", "rm", a, b)
        assert r.stdout == "%s\n%s\n" % (a, b)
    finally:
        docker("network", "rm", "-f", a, b, check=False)


def test_network_connect_disconnect_and_prune(skiff, docker, daemon, name):
    n = uniq()
    skiff("network", "create", n)
    c = name()
    try:
        skiff("run", "-d", "--name", c, IMAGE, "sleep", "3600")
        assert skiff("network", "connect", "--alias", "svc", n, c).stdout == ""
        ep = daemon.request("GET", "/containers/%s/json" % c).json()["NetworkSettings"]["Networks"][n]
        assert "svc" in (ep.get("Aliases") or []) + (ep.get("DNSNames") or [])
        same_err(skiff, docker, "network", "connect", n, c)      # already connected
        assert skiff("network", "disconnect", n, c).stdout == ""
        same_err(skiff, docker, "network", "disconnect", n, c)   # not connected
        same_err(skiff, docker, "network", "connect", n, "e2e-cli-nosuch")
        r = skiff("network", "prune", "-f")
        assert r.stdout.startswith("Deleted Networks:\n") and "\n%s\n" % n in r.stdout, r.stdout
        assert skiff("network", "prune", "-f").stdout == ""
        r = skiff("network", "prune", input="n\n")
        assert r.stdout.startswith("WARNING! This will remove all custom networks not used by at least one container.")
    finally:
        docker("rm", "-f", c, check=False)
        docker("network", "rm", "-f", n, check=False)


def test_port_and_ps_ports(skiff, docker, daemon, name):
    c = name()
    p = free_port(n=2)
    skiff("run", "-d", "--name", c, "-p", "127.0.0.1:%d:80" % p, "-p", "%d:81/udp" % (p + 1), "--expose", "7000-7001",
          IMAGE, "sleep", "3600")
    for args in (["port", c], ["port", c, "80"], ["port", c, "81/udp"], ["container", "port", c]):
        same(skiff, docker, *args)
    same_err(skiff, docker, "port", c, "82")
    same(skiff, docker, "ps", "--filter", "name=" + c, "--format", "{{.Ports}}")
    same(skiff, docker, "ps", "--filter", "name=" + c)
    assert "127.0.0.1:%d->80/tcp" % p in skiff("ps", "--filter", "name=" + c).stdout
    assert json.loads(skiff("ps", "--filter", "name=" + c, "--format", "json").stdout)["Ports"] == \
        json.loads(docker("ps", "--filter", "name=" + c, "--format", "json").stdout)["Ports"]
