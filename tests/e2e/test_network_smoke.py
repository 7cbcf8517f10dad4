# A first smoke test of skiff's networking: the default bridge gives eth0
# an address of its subnet, two containers on a user network reach each
# other by name, and a published port answers on the host's loopback.
import ipaddress
import re
import subprocess
import time
import uuid

import pytest

from conftest import wait_for


def test_default_bridge_eth0(docker, daemon):
    out = docker("run", "--rm", "busybox", "ip", "-4", "addr", "show", "eth0").stdout
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/(\d+)", out)
    assert m, out
    subnet = ipaddress.ip_network(daemon.net.bip, strict=False)
    assert ipaddress.ip_address(m.group(1)) in subnet, (out, daemon.net.bip)
    assert int(m.group(2)) == subnet.prefixlen


def test_user_network_by_name(docker, name):
    net = "smoke-" + uuid.uuid4().hex[:8]
    web, cli = name("web"), name("cli")
    docker("network", "create", net)
    try:
        docker("run", "-d", "--name", web, "--network", net, "busybox", "sh", "-c",
               "mkdir -p /www && echo hello-from-web > /www/index.html && httpd -f -p 80 -h /www")
        docker("run", "-d", "--name", cli, "--network", net, "busybox", "sleep", "60")
        out = docker("exec", cli, "ping", "-c", "1", "-W", "2", web).stdout
        assert "1 packets received" in out, out
        page = wait_for(lambda: docker("exec", cli, "timeout", "5", "wget", "-qO-", "http://%s/" % web,
                                       check=False).stdout, timeout=10, what="wget by name")
        assert "hello-from-web" in page
    finally:
        docker("rm", "-f", web, cli, check=False)
        docker("network", "rm", net, check=False)


def test_published_port_from_host(docker, name):
    port = 18000 + (uuid.uuid4().int % 2000)
    web = name("pub")
    docker("run", "-d", "--name", web, "-p", "127.0.0.1:%d:80" % port, "busybox", "sh", "-c",
           "mkdir -p /www && echo published-page > /www/index.html && httpd -f -p 80 -h /www")
    try:
        def fetch():
            r = subprocess.run(["curl", "-s", "--max-time", "3", "http://127.0.0.1:%d/" % port],
                               capture_output=True, text=True)
            return r.stdout
        assert "published-page" in wait_for(fetch, timeout=10, what="the published port")
        assert "127.0.0.1:%d->80/tcp" % port in docker("ps", "--filter", "name=" + web).stdout
    finally:
        docker("rm", "-f", web, check=False)
