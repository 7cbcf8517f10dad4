# Volumes through the docker CLI, the docker SDK and the raw API: create
# (named, anonymous, labels, tmpfs/bind options), ls with -q and filters,
# inspect, rm (missing, force), prune (anonymous by default, --all, label
# filters), bad names and drivers, events, and the on-disk layout.
import json
import os
import time
import urllib.parse

import pytest

from conftest import Skiffd, finish_daemon




def q(filters):
    return urllib.parse.quote(json.dumps(filters))


def ls_names(docker, *args):
    return docker("volume", "ls", "-q", *args).stdout.split()


def test_create_inspect_rm(daemon, docker, vol):
    n = vol()
    assert docker("volume", "create", n).stdout.strip() == n
    v = json.loads(docker("volume", "inspect", n).stdout)[0]
    assert v["Name"] == n
    assert v["Driver"] == "local"
    assert v["Scope"] == "local"
    assert v["Labels"] == {}
    assert v["Mountpoint"] == os.path.join(daemon.data_root, "volumes", n, "_data")
    assert os.path.isdir(v["Mountpoint"])
    assert v["CreatedAt"].endswith("Z") and "T" in v["CreatedAt"]
    meta = os.path.join(daemon.data_root, "volumes", n, "volume.json")
    with open(meta) as f:
        on_disk = json.load(f)
    assert on_disk["Name"] == n and on_disk["Driver"] == "local" and on_disk["Scope"] == "local"
    assert n in ls_names(docker)
    # creating it again returns the same volume
    assert docker("volume", "create", n).stdout.strip() == n
    assert ls_names(docker).count(n) == 1
    assert docker("volume", "rm", n).stdout.strip() == n
    assert n not in ls_names(docker)
    assert not os.path.exists(os.path.join(daemon.data_root, "volumes", n))


def test_volumes_survive_a_restart():
    """A restarted skiffd still has its volumes, their data and labels."""
    d = Skiffd("vol")
    try:
        d.start()
        r = d.request("POST", "/volumes/create", body={"Name": "keepme", "Labels": {"a": "b"}})
        assert r.status == 201, r
        with open(os.path.join(r.json()["Mountpoint"], "hello"), "w") as f:
            f.write("hi")
        d.stop()
        d.start()
        r = d.request("GET", "/volumes/keepme")
        assert r.status == 200, r
        assert r.json()["Labels"] == {"a": "b"}
        with open(os.path.join(r.json()["Mountpoint"], "hello")) as f:
            assert f.read() == "hi"
    finally:
        finish_daemon(d)


def test_anonymous_volume(daemon, docker):
    out = docker("volume", "create").stdout.strip()
    try:
        assert len(out) == 64 and all(c in "0123456789abcdef" for c in out)
        v = json.loads(docker("volume", "inspect", out).stdout)[0]
        assert v["Labels"] == {"com.docker.volume.anonymous": ""}
    finally:
        daemon.request("DELETE", "/volumes/" + out)


def test_labels_and_filters(docker, vol):
    a, b, c = vol("fa"), vol("fb"), vol("other")
    docker("volume", "create", "--label", "tier=web", "--label", "flag", a)
    docker("volume", "create", "--label", "tier=db", b)
    docker("volume", "create", c)
    v = json.loads(docker("volume", "inspect", a).stdout)[0]
    assert v["Labels"] == {"tier": "web", "flag": ""}
    assert ls_names(docker, "--filter", "label=tier=web") == [a]
    assert sorted(ls_names(docker, "--filter", "label=tier")) == sorted([a, b])
    assert ls_names(docker, "--filter", "label=flag") == [a]
    assert ls_names(docker, "--filter", "label=tier", "--filter", "label=flag") == [a]
    names = ls_names(docker, "--filter", "name=" + b[4:])
    assert names == [b]
    assert set([a, b, c]) <= set(ls_names(docker, "--filter", "dangling=true"))
    assert not set([a, b, c]) & set(ls_names(docker, "--filter", "dangling=false"))
    assert set([a, b, c]) <= set(ls_names(docker, "--filter", "driver=local"))
    assert not ls_names(docker, "--filter", "driver=nfs")
    r = docker("volume", "ls", "--filter", "bogus=1", check=False)
    assert r.returncode != 0 and "invalid filter 'bogus'" in r.stderr
    r = docker("volume", "ls", "--filter", "dangling=maybe", check=False)
    assert r.returncode != 0 and "dangling=maybe" in r.stderr


def test_ls_format(docker, vol):
    n = vol()
    docker("volume", "create", n)
    rows = docker("volume", "ls", "--format", "{{.Driver}} {{.Name}}").stdout.splitlines()
    assert "local " + n in rows


@pytest.mark.parametrize("bad", ["a/b", "..", "../etc", "x", "-lead", ".hidden", "sp ace", "a:b"])
def test_bad_names_are_400(daemon, docker, bad):
    vols = os.path.join(daemon.data_root, "volumes")
    before = (set(os.listdir(daemon.data_root)), set(os.listdir(vols)))
    r = daemon.request("POST", "/volumes/create", body={"Name": bad})
    assert r.status == 400, r
    assert r.message == (
        'create %s: "%s" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        'use absolute path' % (bad, bad))
    r = docker("volume", "create", "--", bad, check=False)
    assert r.returncode != 0 and "invalid characters for a local volume name" in r.stderr
    assert (set(os.listdir(daemon.data_root)), set(os.listdir(vols))) == before


def test_unknown_driver_is_404(daemon, docker):
    r = daemon.request("POST", "/volumes/create", body={"Name": "e2e-drv", "Driver": "nosuch"})
    assert r.status == 404, r
    assert 'plugin "nosuch" not found' in r.message
    r = docker("volume", "create", "-d", "nosuch", "e2e-drv", check=False)
    assert r.returncode != 0 and 'plugin "nosuch" not found' in r.stderr


def test_driver_options(daemon, docker, vol, workdir):
    t = vol("tmpfs")
    docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=8m,mode=0700", t)
    v = json.loads(docker("volume", "inspect", t).stdout)[0]
    assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=8m,mode=0700"}
    b = vol("bind")
    docker("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=" + workdir, b)
    assert json.loads(docker("volume", "inspect", b).stdout)[0]["Options"]["device"] == workdir
    # honest refusals
    cases = [
        ({"type": "nfs", "device": ":/export", "o": "addr=127.0.0.1"}, 501, 'volume type "nfs" is not supported'),
        ({"type": "tmpfs"}, 400, 'missing required option: "device"'),
        ({"o": "size=1m"}, 400, 'missing required option: "device"'),
        ({"bogus": "1"}, 400, 'invalid option key: "bogus"'),
        ({"size": "10m"}, 400, "quota size requested but no quota support"),
        ({"type": "none", "device": "relative", "o": "bind"}, 400, "must be an absolute path"),
    ]
    for opts, status, text in cases:
        n = vol("opt")
        r = daemon.request("POST", "/volumes/create", body={"Name": n, "DriverOpts": opts})
        assert r.status == status and text in r.message, (opts, r)
        assert n not in ls_names(docker)


def test_rm_missing(daemon, docker):
    r = daemon.request("DELETE", "/volumes/e2e-nosuch")
    assert r.status == 404 and r.message == "get e2e-nosuch: no such volume", r
    r = docker("volume", "inspect", "e2e-nosuch", check=False)
    assert r.returncode != 0 and "no such volume" in r.stderr
    r = docker("volume", "rm", "e2e-nosuch", check=False)
    assert r.returncode != 0 and "no such volume" in r.stderr
    assert daemon.request("DELETE", "/volumes/e2e-nosuch?force=1").status == 204
    docker("volume", "rm", "-f", "e2e-nosuch")


def test_prune(daemon, docker, vol):
    named = vol("named")
    keep = vol("keep")
    docker("volume", "create", named)
    docker("volume", "create", "--label", "keep=1", keep)
    anon = docker("volume", "create").stdout.strip()
    anon_kept = docker("volume", "create", "--label", "keep=1").stdout.strip()
    try:
        mp = json.loads(docker("volume", "inspect", anon).stdout)[0]["Mountpoint"]
        with open(os.path.join(mp, "blob"), "wb") as f:
            f.write(b"x" * 10000)
        # default: anonymous unused volumes only, label! spares the kept one
        r = daemon.request("POST", "/volumes/prune?filters=" + q({"label!": ["keep=1"]}))
        assert r.status == 200, r
        rep = r.json()
        assert rep["VolumesDeleted"] == [anon]
        assert rep["SpaceReclaimed"] >= 10000
        names = ls_names(docker)
        assert named in names and keep in names and anon_kept in names and anon not in names
        # --all with a label filter takes only the labelled ones
        out = docker("volume", "prune", "-f", "--all", "--filter", "label=keep=1").stdout
        assert keep in out and anon_kept in out and named not in out
        names = ls_names(docker)
        assert named in names and keep not in names and anon_kept not in names
        # older API versions (< 1.42) prune named volumes too
        old = vol("old")
        docker("volume", "create", "--label", "e2e-old=1", old)
        r = daemon.request("POST", "/volumes/prune?filters=" + q({"label": ["e2e-old=1"]}))
        assert r.status == 200 and r.json()["VolumesDeleted"] == [], r
        r = daemon.request("POST", "/v1.41/volumes/prune?filters=" + q({"label": ["e2e-old=1"]}))
        assert r.status == 200 and r.json()["VolumesDeleted"] == [old], r
        r = daemon.request("POST", "/volumes/prune?filters=" + q({"dangling": ["true"]}))
        assert r.status == 400 and r.message == "invalid filter 'dangling'", r
    finally:
        for n in (anon, anon_kept):
            daemon.request("DELETE", "/volumes/" + n)


def test_volume_events(daemon, docker, vol):
    n = vol()
    docker("volume", "create", n)
    docker("volume", "rm", n)
    r = docker("events", "--since", "60s", "--until", "%.3f" % (time.time() + 1), "--filter", "type=volume",
               "--format", "{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes \"driver\"}}")
    rows = r.stdout.splitlines()
    assert "create %s local" % n in rows and "destroy %s local" % n in rows, rows


def test_dockerpy(dockerpy, vol):
    n = vol("py")
    v = dockerpy.volumes.create(name=n, driver="local", labels={"from": "py"})
    assert v.name == n
    assert v.attrs["Labels"] == {"from": "py"}
    got = dockerpy.volumes.get(n)
    assert got.attrs["Mountpoint"].endswith("/volumes/%s/_data" % n)
    assert n in [x.name for x in dockerpy.volumes.list()]
    assert [x.name for x in dockerpy.volumes.list(filters={"label": "from=py"})] == [n]
    got.remove()
    import docker as docker_sdk
    with pytest.raises(docker_sdk.errors.NotFound):
        dockerpy.volumes.get(n)
    anon = dockerpy.volumes.create()
    try:
        assert len(anon.name) == 64
    finally:
        anon.remove(force=True)
    with pytest.raises(docker_sdk.errors.APIError) as e:
        dockerpy.volumes.create(name="../escape")
    assert e.value.status_code == 400
