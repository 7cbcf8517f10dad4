# System endpoints: _ping, version, info, API version negotiation, and the
# answers for what skiff does not do (swarm, plugins, unknown paths).
import os
import platform

import pytest

from conftest import cgroup_layout


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_ping_headers(daemon, method):
    r = daemon.request(method, "/_ping")
    assert r.status == 200, r
    assert r.headers.get("api-version") == "1.50"
    assert r.headers.get("ostype") == "linux"
    assert r.headers.get("docker-experimental") in ("true", "false")
    assert "no-cache" in r.headers.get("cache-control", "")
    assert r.headers.get("pragma") == "no-cache"
    if method == "GET":
        assert r.body == b"OK"
    else:
        assert r.body == b""


def test_ping_versioned_path(daemon):
    r = daemon.request("GET", "/v1.50/_ping")
    assert r.status == 200 and r.body == b"OK", r


def test_version(daemon):
    r = daemon.request("GET", "/version")
    assert r.status == 200, r
    v = r.json()
    assert v["ApiVersion"] == "1.50"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux"
    assert v["Arch"] == "amd64" if platform.machine() == "x86_64" else v["Arch"]
    assert v["KernelVersion"] == platform.release()
    assert v["Version"]
    assert isinstance(v.get("Components"), list) and v["Components"]
    assert r.headers.get("content-type", "").startswith("application/json")


@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.41", "/v1.50"])
def test_supported_api_versions(daemon, prefix):
    r = daemon.request("GET", prefix + "/version")
    assert r.status == 200, r
    assert r.json()["ApiVersion"] == "1.50"


def test_too_old_api_version(daemon):
    r = daemon.request("GET", "/v1.12/version")
    assert r.status == 400, r
    assert "too old" in r.message, r
    assert "1.24" in r.message


def test_too_new_api_version(daemon):
    r = daemon.request("GET", "/v1.99/version")
    assert r.status == 400, r
    assert "too new" in r.message, r


def test_info_values(daemon):
    r = daemon.request("GET", "/info")
    assert r.status == 200, r
    i = r.json()
    assert i["Driver"] == "overlay2"
    assert i["OSType"] == "linux"
    assert i["NCPU"] == os.cpu_count()
    with open("/proc/meminfo") as f:
        memtotal = int(f.readline().split()[1]) * 1024
    assert abs(i["MemTotal"] - memtotal) < 64 << 20
    assert i["KernelVersion"] == platform.release()
    assert i["DockerRootDir"] == daemon.data_root
    assert i["Images"] >= 1
    assert i["CgroupDriver"] == "cgroupfs"

    mode, _ = cgroup_layout()
    assert i["CgroupVersion"] == ("2" if mode == "v2" else "1")
    assert i["Warnings"] is None or isinstance(i["Warnings"], list)
    for k in ("Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped"):
        assert isinstance(i[k], int), k
    assert i["Containers"] == i["ContainersRunning"] + i["ContainersPaused"] + i["ContainersStopped"]


def test_info_counts_follow_containers(daemon, name):
    before = daemon.request("GET", "/info").json()
    n = name()
    r = daemon.request("POST", "/containers/create?name=" + n, {"Image": "busybox", "Cmd": ["sleep", "60"]})
    assert r.status == 201, r
    mid = daemon.request("GET", "/info").json()
    assert mid["Containers"] == before["Containers"] + 1
    assert mid["ContainersStopped"] == before["ContainersStopped"] + 1  # created counts as stopped
    assert daemon.request("POST", "/containers/%s/start" % n).status == 204
    run = daemon.request("GET", "/info").json()
    assert run["ContainersRunning"] == before["ContainersRunning"] + 1
    assert run["ContainersStopped"] == before["ContainersStopped"]
    assert daemon.request("POST", "/containers/%s/stop?t=1" % n, timeout=30).status == 204
    after = daemon.request("GET", "/info").json()
    assert after["ContainersRunning"] == before["ContainersRunning"]
    assert after["ContainersStopped"] == before["ContainersStopped"] + 1
    assert daemon.request("DELETE", "/containers/" + n).status == 204
    gone = daemon.request("GET", "/info").json()
    assert gone["Containers"] == before["Containers"]


def test_info_hybrid_cgroup_warnings_are_strings(daemon):
    w = daemon.request("GET", "/info").json()["Warnings"] or []
    assert all(isinstance(x, str) and x for x in w)


def test_swarm_is_503(daemon):
    r = daemon.request("GET", "/swarm")
    assert r.status == 503, r
    assert "not a swarm manager" in r.message


def test_swarm_via_cli(docker):
    r = docker("node", "ls", check=False)
    assert r.returncode != 0
    assert "not a swarm manager" in r.stderr


def test_plugins_empty(daemon):
    r = daemon.request("GET", "/plugins")
    assert r.status == 200, r
    assert r.json() == []


@pytest.mark.parametrize("path", ["/nosuchthing", "/v1.50/containers/x/nosuchaction", "/v1.50/zzz/yyy"])
def test_unknown_path_json_error(daemon, path):
    r = daemon.request("GET", path)
    assert r.status in (404, 501), r
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.message


def test_docker_cli_version_and_info(docker, daemon):
    r = docker("version", "--format", "{{.Server.APIVersion}}")
    assert r.stdout.strip() == "1.50"
    r = docker("info", "--format", "{{.Driver}} {{.NCPU}} {{.DockerRootDir}}")
    assert r.stdout.split() == ["overlay2", str(os.cpu_count()), daemon.data_root]


def test_dockerpy_ping_version(dockerpy):
    assert dockerpy.ping() is True
    assert dockerpy.version()["ApiVersion"] == "1.50"
    assert dockerpy.info()["Driver"] == "overlay2"


def test_skiff_cli_talks_to_daemon(skiff, daemon, name):
    n = name()
    r = daemon.request("POST", "/containers/create?name=" + n, {"Image": "busybox", "Cmd": ["true"]})
    assert r.status == 201, r
    out = skiff("ps", "-a").stdout
    assert n in out
    out = skiff("images").stdout
    assert "busybox" in out
