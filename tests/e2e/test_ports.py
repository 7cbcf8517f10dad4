# Published ports end to end (issue 4): -p fetched from the host with no
# proxy process (the BPF port programs attached at the cgroup2 root do the
# redirect at connect()), a "remote" client in a namespace the test makes
# reaching the port through DNAT, UDP, ranges, -P with EXPOSE'd ports,
# `docker port` and the PORTS column, Docker's conflict error with nothing
# left behind, stats growing with a 10 MB transfer, kill -9 of skiffd with
# the data path still up, and the nftables fallback (--no-bpf-ports).
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import IMAGE, DockerCLI, inspect, pids_mentioning, wait_for
from netutil import (ctr_net, fetch_exec, free_port, host_fetch, listeners, net_counter, nft_json, root_attachments,
                     run_web, wait_ctr_http, wait_http)

MB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))


def published(daemon, name, key="80/tcp"):
    ports = inspect(daemon, name)["NetworkSettings"]["Ports"]
    assert ports.get(key), "no binding for %s: %r" % (key, ports)
    return ports[key]


def skiff_pids(daemon):
    pids = {daemon.pid} | daemon.monitor_pids()
    return pids


# ---------------------------------------------------------------- host-local clients

def test_publish_loopback_fetch_no_proxy(docker, daemon, name):
    c = name()
    port = free_port()
    run_web(docker, c, "hello-published", "-p", "127.0.0.1:%d:80" % port)
    wait_ctr_http(docker, c)
    head, body = wait_http("127.0.0.1", port)
    assert head.startswith("HTTP/1.") and " 200 " in head.splitlines()[0], head
    assert body == b"hello-published\n"
    assert published(daemon, c) == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    # no proxy: nothing listens on the host port in the host's namespace
    assert listeners(port) == [], "something listens on %d: %s" % (port, listeners(port))
    for pid in skiff_pids(daemon):
        fds = os.listdir("/proc/%d/fd" % pid)
        assert len(fds) < 200, "skiffd holds %d fds" % len(fds)
    assert not [p for p in pids_mentioning("docker-proxy")], "a docker-proxy runs"
    # the redirect is done by the cgroup_sock_addr programs at the cgroup2 root
    att = root_attachments()
    # bpftool 7.1 names the attach types cgroup_inet4_connect, ...; older ones connect4, ...
    for short, full in (("connect4", "cgroup_inet4_connect"), ("sendmsg4", "cgroup_udp4_sendmsg"),
                        ("recvmsg4", "cgroup_udp4_recvmsg"), ("getpeername4", "cgroup_inet4_getpeername")):
        assert re.search(r"^\s*\d+\s+(%s|%s)\b" % (full, short), att, re.M), \
            "no %s program attached at the cgroup2 root:\n%s" % (short, att)
    # the client sees the published address as its peer (getpeername4)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.getpeername() == ("127.0.0.1", port)


def test_publish_all_addresses_reached_via_host_address(docker, daemon, name):
    c = name()
    port = free_port()
    run_web(docker, c, "any-addr", "-p", "%d:80" % port)
    wait_ctr_http(docker, c)
    assert published(daemon, c) == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    assert wait_http("127.0.0.1", port)[1] == b"any-addr\n"
    # a non-loopback address of the host
    host_ip = subprocess.run(["ip", "-o", "-4", "route", "get", "192.0.2.1"], capture_output=True,
                             text=True).stdout.split("src")[1].split()[0]
    assert host_fetch(host_ip, port)[1] == b"any-addr\n"


def test_remote_client_through_dnat(docker, daemon, name, remote_host):
    c = name()
    port = free_port()
    run_web(docker, c, "hello-remote", "-p", "%d:80" % port)
    wait_ctr_http(docker, c)
    # the nft table carries the DNAT for clients from outside the host's stack
    assert str(port) in nft_json(daemon), "port %d not in the nft table" % port
    end = time.time() + 10
    while True:
        r = remote_host.run("timeout", "5", "busybox", "wget", "-qO-", "http://%s:%d/" % (remote_host.host_ip, port))
        if r.returncode == 0 or time.time() > end:
            break
        time.sleep(0.2)
    assert r.returncode == 0 and r.stdout == "hello-remote\n", (r.returncode, r.stdout, r.stderr)
    # a port bound to 127.0.0.1 only is not reachable from outside
    c2 = name()
    p2 = free_port()
    run_web(docker, c2, "local-only", "-p", "127.0.0.1:%d:80" % p2)
    wait_ctr_http(docker, c2)
    r = remote_host.run("timeout", "3", "busybox", "wget", "-qO-", "http://%s:%d/" % (remote_host.host_ip, p2))
    assert r.returncode != 0, "a 127.0.0.1-only port was reachable from another namespace"


@pytest.fixture(scope="module")
def udpecho():
    """tests/e2e/helpers/udpecho.c built static (busybox's nc has no -u here)."""
    d = tempfile.mkdtemp(prefix="skiff-e2e-udpecho-")
    out = os.path.join(d, "udpecho")
    r = subprocess.run(["cc", "-static", "-O2", "-o", out, os.path.join(HERE, "helpers", "udpecho.c")],
                       capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail("building udpecho: " + r.stderr)
    yield out
    shutil.rmtree(d, ignore_errors=True)


UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(10):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        continue
    print(data.decode(), src[0], src[1])
    break
"""


def test_udp_publish(docker, daemon, name, remote_host, udpecho):
    c = name()
    port = free_port(socket.SOCK_DGRAM)
    docker("run", "-d", "--name", c, "-p", "%d:5353/udp" % port, "-v", "%s:/udpecho:ro" % udpecho, IMAGE,
           "/udpecho", "5353")
    assert published(daemon, c, "5353/udp") == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    # from the host: sendmsg4 redirects, recvmsg4 shows the reply as coming from the published address
    r = subprocess.run(["/usr/bin/python3", "-c", UDP_CLIENT, "127.0.0.1", str(port), "udp-from-host"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.split() == ["reply:udp-from-host", "127.0.0.1", str(port)], (r.stdout, r.stderr)
    wait_for(lambda: "udp-from-host" in docker("logs", c).stdout, timeout=5, what="the datagram in the log")
    # from another namespace: DNAT, and the reply comes back from the host's address
    r = remote_host.run("/usr/bin/python3", "-c", UDP_CLIENT, remote_host.host_ip, port, "udp-from-remote")
    assert r.stdout.split() == ["reply:udp-from-remote", remote_host.host_ip, str(port)], (r.stdout, r.stderr)
    wait_for(lambda: "udp-from-remote" in docker("logs", c).stdout, timeout=5, what="the datagram in the log")


def test_port_ranges_and_docker_port(docker, daemon, name):
    c = name()
    base = free_port(n=2)
    docker("run", "-d", "--name", c, "-p", "127.0.0.1:%d-%d:8080-8081" % (base, base + 1), IMAGE,
           "sh", "-c", "mkdir /a /b; echo A > /a/index.html; echo B > /b/index.html; "
           "httpd -p 8080 -h /a; exec httpd -f -p 8081 -h /b")
    wait_ctr_http(docker, c, 8081)
    assert wait_http("127.0.0.1", base)[1] == b"A\n"
    assert wait_http("127.0.0.1", base + 1)[1] == b"B\n"
    out = docker("port", c).stdout.splitlines()
    assert sorted(out) == ["8080/tcp -> 127.0.0.1:%d" % base, "8081/tcp -> 127.0.0.1:%d" % (base + 1)], out
    assert docker("port", c, "8081").stdout.strip() == "127.0.0.1:%d" % (base + 1)
    r = docker("port", c, "9999/tcp", check=False)
    assert r.returncode == 1 and "No public port '9999/tcp' published for %s" % c in r.stderr, r.stderr
    ps = docker("ps", "--filter", "name=" + c, "--format", "{{.Ports}}").stdout.strip()
    # docker groups ranges only where host and container ports are equal
    assert ps == "127.0.0.1:%d->8080/tcp, 127.0.0.1:%d->8081/tcp" % (base, base + 1), ps


def test_publish_all_exposed(docker, daemon, name, image_name, rootfs_tar):
    img = image_name()
    docker("import", "--change", "EXPOSE 80/tcp", "--change", "EXPOSE 7000/udp", rootfs_tar, img)
    c = name()
    docker("run", "-d", "--name", c, "-P", img, *["sh", "-c", "mkdir /www; echo exposed > /www/index.html; "
                                                   "exec httpd -f -p 80 -h /www"])
    b = published(daemon, c)
    assert len(b) == 1 and b[0]["HostIp"] == "0.0.0.0", b
    hp = int(b[0]["HostPort"])
    assert 32768 <= hp <= 60999, "ephemeral port %d outside 32768-60999" % hp
    u = published(daemon, c, "7000/udp")
    assert int(u[0]["HostPort"]) != 0
    assert wait_http("127.0.0.1", hp)[1] == b"exposed\n"
    out = docker("port", c).stdout.splitlines()
    assert "80/tcp -> 0.0.0.0:%d" % hp in out, out
    ps = docker("ps", "--filter", "name=" + c, "--format", "{{.Ports}}").stdout.strip()
    assert "0.0.0.0:%d->80/tcp" % hp in ps, ps
    # ps through the API: Ports rows as dockerd gives them
    rows = [x for x in daemon.containers() if x["Names"] == ["/" + c]][0]["Ports"]
    assert {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": hp, "Type": "tcp"} in rows, rows


def test_exposed_but_not_published_in_ps(docker, daemon, name):
    c = name()
    docker("run", "-d", "--name", c, "--expose", "9000", IMAGE, "sleep", "3600")
    ps = docker("ps", "--filter", "name=" + c, "--format", "{{.Ports}}").stdout.strip()
    assert ps == "9000/tcp", ps
    assert docker("port", c).stdout == ""


# ---------------------------------------------------------------- conflicts

def test_port_conflict(docker, daemon, name):
    a, b = name("a"), name("b")
    port = free_port()
    run_web(docker, a, "first", "-p", "%d:80" % port)
    r = docker("run", "-d", "--name", b, "-p", "%d:80" % port, IMAGE, "sleep", "3600", check=False)
    assert r.returncode == 125, r
    bid = inspect(daemon, b)["Id"]
    # dockerd names the endpoint's id (not the container's) in the parentheses
    assert re.search(r"driver failed programming external connectivity on endpoint %s \([0-9a-f]{64}\): "
                     r"Bind for 0\.0\.0\.0:%d failed: port is already allocated" % (b, port), r.stderr), r.stderr
    st = inspect(daemon, b)["State"]
    assert st["Running"] is False and st["Status"] == "created", st
    # nothing of b's start is left: no veth, no lease, no nft element for its address
    wait_for(lambda: not [l for l in os.listdir("/sys/class/net") if l.startswith("skv" + bid[:10])], timeout=5,
             what="the failed start's veth to go")
    assert wait_http("127.0.0.1", port)[1] == b"first\n", "the first container lost its port"
    # once a is gone the port is free, and b starts
    docker("rm", "-f", a)
    docker("start", b)
    assert published(daemon, b) == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    # the API gives the same words with a 500
    c = name("c")
    r = daemon.request("POST", "/containers/create?name=%s" % c,
                       body={"Image": IMAGE, "Cmd": ["sleep", "3600"], "ExposedPorts": {"80/tcp": {}},
                             "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": str(port)}]}}})
    assert r.status == 201, r
    r = daemon.request("POST", "/containers/%s/start" % c)
    assert r.status == 500 and r.message.endswith("Bind for 0.0.0.0:%d failed: port is already allocated" % port), r


def test_port_conflict_within_one_container(docker, daemon, name):
    c = name()
    port = free_port()
    r = docker("run", "-d", "--name", c, "-p", "%d:80" % port, "-p", "%d:81" % port, IMAGE, "sleep", "3600",
               check=False)
    assert r.returncode == 125 and "Bind for 0.0.0.0:%d failed: port is already allocated" % port in r.stderr, r
    docker("rm", "-f", c)
    # nothing reserved: a later container gets the port
    c2 = name()
    run_web(docker, c2, "free-again", "-p", "%d:80" % port)
    wait_ctr_http(docker, c2)
    assert wait_http("127.0.0.1", port)[1] == b"free-again\n"


def test_bad_port_specs_fail_the_create(docker, daemon, name):
    """IPv6 host addresses are refused honestly (skiff publishes IPv4 only),
    at create, and nothing is left behind."""
    c = name()
    r = docker("create", "--name", c, "-p", "[::1]:%d:80" % free_port(), IMAGE, check=False)
    assert r.returncode == 1 and "IPv6 port bindings are not supported by skiff" in r.stderr, r
    assert c not in docker("ps", "-a", "--format", "{{.Names}}").stdout


# ---------------------------------------------------------------- accounting

def test_stats_grow_with_a_10mb_transfer(docker, daemon, name):
    srv, cli = name("srv"), name("cli")
    port = free_port()
    docker("run", "-d", "--name", srv, "-p", "127.0.0.1:%d:80" % port, IMAGE, "sh", "-c",
           "mkdir /www && dd if=/dev/zero of=/www/big bs=1M count=10 2>/dev/null && exec httpd -f -p 80 -h /www")
    docker("run", "-d", "--name", cli, IMAGE, "sleep", "3600")
    wait_for(lambda: fetch_exec(docker, srv, "http://127.0.0.1/big", check=False).returncode == 0, timeout=10,
             what="httpd to serve")
    tx0, rx0 = net_counter(daemon, srv, "tx_bytes"), net_counter(daemon, cli, "rx_bytes")
    ip = ctr_net(daemon, srv, "bridge")["IPAddress"]
    out = docker("exec", cli, "sh", "-c", "timeout 20 wget -qO- http://%s/big | wc -c" % ip, timeout=60).stdout
    assert int(out) == 10 * MB
    tx1, rx1 = net_counter(daemon, srv, "tx_bytes"), net_counter(daemon, cli, "rx_bytes")
    assert tx1 - tx0 >= 10 * MB, "server tx grew by %d" % (tx1 - tx0)
    assert rx1 - rx0 >= 10 * MB, "client rx grew by %d" % (rx1 - rx0)
    assert net_counter(daemon, cli, "rx_packets") > 10 * MB // 65536
    # through the published port from the host
    head, body = host_fetch("127.0.0.1", port, "/big", timeout=20)
    assert len(body) == 10 * MB
    assert net_counter(daemon, srv, "tx_bytes") - tx1 >= 10 * MB
    # the docker CLI shows it too
    nio = docker("stats", "--no-stream", "--format", "{{.NetIO}}", srv).stdout.strip()
    assert "MB" in nio.split("/")[1], nio


# ---------------------------------------------------------------- restarts and fallback

def test_networking_survives_kill9_and_restart(own_daemon):
    d = own_daemon("net-kill9")
    docker = DockerCLI(d.host)
    try:
        port = free_port()
        n = "e2e-k9-net"
        docker("network", "create", n)
        run_web(docker, "e2e-k9-web", "survives", "--network", n, "-p", "127.0.0.1:%d:80" % port)
        docker("run", "-d", "--name", "e2e-k9-cli", "--network", n, IMAGE, "sleep", "3600")
        wait_ctr_http(docker, "e2e-k9-web")
        assert wait_http("127.0.0.1", port)[1] == b"survives\n"
        d.kill9()
        # the data path is in the kernel: the port answers with no skiffd at all
        for _ in range(20):
            assert host_fetch("127.0.0.1", port)[1] == b"survives\n"
        d.start()
        assert wait_http("127.0.0.1", port)[1] == b"survives\n"
        out = wait_for(lambda: fetch_exec(docker, "e2e-k9-cli", "http://e2e-k9-web/", check=False).stdout,
                       timeout=10, what="DNS and the fetch after the restart")
        assert out == "survives\n"
        assert re.search(r"^\s*\d+\s+(cgroup_inet4_connect|connect4)\b", root_attachments(), re.M)
        # stats still count after the restart
        assert net_counter(d, "e2e-k9-web", "tx_bytes") > 0
        docker("rm", "-f", "e2e-k9-web", "e2e-k9-cli")
        docker("network", "rm", n)
    finally:
        docker.close()


def test_nftables_fallback_without_bpf_ports(own_daemon):
    # --no-bpf-ports is a hidden skiffd flag (not in --help): it exists for this test
    d = own_daemon("net-nobpf", ["--no-bpf-ports"])
    docker = DockerCLI(d.host)
    try:
        info = d.request("GET", "/info").json()
        assert "fallback" in str(info).lower(), "/info does not say the port fallback is in use"
        port = free_port()
        run_web(docker, "e2e-nobpf-web", "via-nft", "-p", "%d:80" % port)
        wait_ctr_http(docker, "e2e-nobpf-web")
        assert wait_http("127.0.0.1", port)[1] == b"via-nft\n"
        assert str(port) in nft_json(d)
        docker("rm", "-f", "e2e-nobpf-web")
    finally:
        docker.close()


# ---------------------------------------------------------------- Python SDK

def test_sdk_run_with_ports(dockerpy, daemon, name):
    port = free_port()
    c = dockerpy.containers.run(IMAGE, ["sh", "-c", "mkdir /www; echo sdk-port > /www/index.html; "
                                        "exec httpd -f -p 80 -h /www"],
                                detach=True, name=name(), ports={"80/tcp": ("127.0.0.1", port)})
    try:
        assert wait_http("127.0.0.1", port)[1] == b"sdk-port\n"
        c.reload()
        assert c.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    finally:
        c.remove(force=True)
