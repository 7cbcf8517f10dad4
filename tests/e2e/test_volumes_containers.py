# Volumes and mounts inside containers, through the docker CLI and the
# docker SDK: named volumes (persisting data, copy-up of the image's
# content into a new empty volume only), :ro, --mount volume/bind/tmpfs,
# --tmpfs, anonymous volumes and rm -v, --volumes-from, volumes in use,
# bad names, inspect/ps Mounts, and references surviving a skiffd restart.
import json
import os
import shutil
import tempfile
import uuid

import pytest

from conftest import DockerCLI, IMAGE, finish_daemon, inspect, start_daemon




@pytest.fixture
def hostdir():
    d = tempfile.mkdtemp(prefix="skiff-e2e-bind-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def volumes(daemon):
    r = daemon.request("GET", "/volumes")
    assert r.status == 200, r
    return {v["Name"]: v for v in r.json()["Volumes"] or []}


def run(docker, *args):
    return docker("run", "--rm", *args).stdout


def test_named_volume_persists_across_containers(daemon, docker, vol, name):
    v = vol()
    run(docker, "-v", "%s:/data" % v, IMAGE, "sh", "-c", "echo hello > /data/f")
    assert v in volumes(daemon), "created on first use"
    # the container is gone (--rm), the data is not
    assert run(docker, "-v", "%s:/data" % v, IMAGE, "cat", "/data/f") == "hello\n"
    mp = volumes(daemon)[v]["Mountpoint"]
    with open(os.path.join(mp, "f")) as f:
        assert f.read() == "hello\n"
    # a stopped container keeps the volume in use
    n = name()
    docker("create", "--name", n, "-v", "%s:/data" % v, IMAGE, "true")
    r = daemon.request("DELETE", "/volumes/%s" % v)
    assert r.status == 409, r
    assert "volume is in use" in r.message
    docker("rm", n)
    assert daemon.request("DELETE", "/volumes/%s" % v).status == 204


def test_copy_up_into_new_volume_only(daemon, docker, vol, name):
    v = vol()
    out = run(docker, "-v", "%s:/etc" % v, IMAGE, "cat", "/etc/passwd")
    assert "root:" in out
    mp = volumes(daemon)[v]["Mountpoint"]
    assert os.path.exists(os.path.join(mp, "passwd")), os.listdir(mp)
    # the volume root takes the image directory's mode
    assert oct(os.stat(mp).st_mode & 0o7777) == oct(0o755)
    # not empty any more: the next container does not copy again
    os.unlink(os.path.join(mp, "passwd"))
    with open(os.path.join(mp, "mine"), "w") as f:
        f.write("x")
    out = run(docker, "-v", "%s:/etc" % v, IMAGE, "ls", "/etc")
    assert "mine" in out.split() and "passwd" not in out.split()
    # nocopy: a new volume stays empty (but for the mount points of
    # /etc/hostname, hosts and resolv.conf, as with Docker)
    v2 = vol()
    out = run(docker, "-v", "%s:/etc:nocopy" % v2, IMAGE, "ls", "-A", "/etc").split()
    assert "passwd" not in out and "group" not in out, out
    # --mount type=volume copies too, volume-nocopy does not
    v3, v4 = vol(), vol()
    out = run(docker, "--mount", "type=volume,src=%s,dst=/etc" % v3, IMAGE, "ls", "/etc")
    assert "passwd" in out.split()
    out = run(docker, "--mount", "type=volume,src=%s,dst=/etc,volume-nocopy" % v4, IMAGE, "ls", "-A", "/etc")
    assert "passwd" not in out.split()


def test_readonly_volume_and_bind(docker, vol, hostdir):
    v = vol()
    r = docker("run", "--rm", "-v", "%s:/data:ro" % v, IMAGE, "sh", "-c", "touch /data/x", check=False)
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    r = docker("run", "--rm", "--mount", "type=volume,src=%s,dst=/data,readonly" % v, IMAGE, "touch", "/data/x",
               check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    r = docker("run", "--rm", "-v", "%s:/h:ro" % hostdir, IMAGE, "touch", "/h/x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    r = docker("run", "--rm", "--mount", "type=bind,src=%s,dst=/h,readonly" % hostdir, IMAGE, "touch", "/h/x",
               check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    assert os.listdir(hostdir) == []


def test_bind_mount_sees_host_writes_live(docker, name, hostdir):
    # the container's writes reach the host
    docker("run", "--rm", "--mount", "type=bind,src=%s,dst=/h" % hostdir, IMAGE, "sh", "-c", "echo c > /h/back")
    with open(os.path.join(hostdir, "back")) as f:
        assert f.read() == "c\n"
    # a bind sees a file written by the host after the container started
    n2 = name()
    docker("run", "-d", "--name", n2, "-v", "%s:/h" % hostdir, IMAGE, "sh", "-c",
           "while [ ! -e /h/go ]; do sleep 0.05; done; cat /h/go > /h/done")
    with open(os.path.join(hostdir, "go"), "w") as f:
        f.write("seen")
    assert docker("wait", n2).stdout.strip() == "0"
    with open(os.path.join(hostdir, "done")) as f:
        assert f.read() == "seen"


def test_tmpfs_mounts(docker):
    out = run(docker, "--mount", "type=tmpfs,dst=/t,tmpfs-size=8m", IMAGE, "df", "-k", "/t")
    line = out.strip().splitlines()[-1].split()
    assert line[1] == "8192", out
    out = run(docker, "--tmpfs", "/run/x:size=4m,mode=1777", IMAGE, "sh", "-c",
              "df -k /run/x | tail -1; stat -c %a /run/x; grep ' /run/x ' /proc/mounts")
    lines = out.strip().splitlines()
    assert lines[0].split()[1] == "4096", out
    assert lines[1] == "1777"
    assert "noexec" in lines[2] and "nosuid" in lines[2]
    # exec relaxes Docker's noexec default
    out = run(docker, "--tmpfs", "/x:exec", IMAGE, "grep", " /x ", "/proc/mounts")
    assert "noexec" not in out
    out = run(docker, "--mount", "type=tmpfs,dst=/t,tmpfs-mode=0700", IMAGE, "stat", "-c", "%a", "/t")
    assert out.strip() == "700"
    r = docker("run", "--rm", "--mount", "type=tmpfs,dst=/t,readonly", IMAGE, "touch", "/t/x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_anonymous_volume_rm_v(daemon, docker, name):
    n = name()
    docker("run", "--name", n, "-v", "/data", IMAGE, "sh", "-c", "echo a > /data/a")
    m = [x for x in inspect(daemon, n)["Mounts"] if x["Destination"] == "/data"]
    assert len(m) == 1 and m[0]["Type"] == "volume" and len(m[0]["Name"]) == 64, m
    anon = m[0]["Name"]
    v = volumes(daemon)[anon]
    assert v["Labels"].get("com.docker.volume.anonymous") == ""
    assert m[0]["Source"] == v["Mountpoint"]
    # rm without -v keeps it
    docker("rm", n)
    assert anon in volumes(daemon)
    daemon.request("DELETE", "/volumes/%s" % anon)
    # rm -v removes it
    n2 = name()
    docker("run", "--name", n2, "-v", "/data", IMAGE, "true")
    anon2 = [x for x in inspect(daemon, n2)["Mounts"] if x["Destination"] == "/data"][0]["Name"]
    docker("rm", "-v", n2)
    assert anon2 not in volumes(daemon)


def test_rm_v_keeps_named_and_autoremove_drops_anonymous(daemon, docker, vol, name):
    v = vol()
    n = name()
    docker("run", "--name", n, "-v", "%s:/named" % v, "-v", "/anon", IMAGE, "true")
    anon = [x for x in inspect(daemon, n)["Mounts"] if x["Destination"] == "/anon"][0]["Name"]
    docker("rm", "-v", n)
    vs = volumes(daemon)
    assert v in vs and anon not in vs
    before = set(volumes(daemon))
    docker("run", "--rm", "-v", "/gone", IMAGE, "true")
    assert set(volumes(daemon)) == before, "--rm removes the anonymous volume"


def test_volumes_from(daemon, docker, vol, name, hostdir):
    v = vol()
    src = name()
    docker("create", "--name", src, "-v", "%s:/shared" % v, "-v", "%s:/h" % hostdir, "-v", "/anon", IMAGE, "true")
    out = run(docker, "--volumes-from", src, IMAGE, "sh", "-c",
              "echo x > /shared/f && echo y > /h/g && echo z > /anon/z && echo ok")
    assert out == "ok\n"
    assert os.path.exists(os.path.join(hostdir, "g"))
    assert run(docker, "-v", "%s:/d" % v, IMAGE, "cat", "/d/f") == "x\n"
    r = docker("run", "--rm", "--volumes-from", "%s:ro" % src, IMAGE, "touch", "/shared/q", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    # the source's anonymous volume is shared, not copied
    anon = [x for x in inspect(daemon, src)["Mounts"] if x["Destination"] == "/anon"][0]["Name"]
    c2 = name()
    docker("create", "--name", c2, "--volumes-from", src, IMAGE, "true")
    names = {x["Destination"]: x.get("Name") for x in inspect(daemon, c2)["Mounts"]}
    assert names["/anon"] == anon and names["/shared"] == v
    r = docker("run", "--rm", "--volumes-from", "no-such-ctr-%s" % uuid.uuid4().hex[:6], IMAGE, "true",
               check=False)
    assert r.returncode != 0 and "No such container" in r.stderr


def test_volume_rm_in_use_and_force(daemon, docker, vol, name):
    v = vol()
    n = name()
    docker("run", "-d", "--name", n, "-v", "%s:/d" % v, IMAGE, "sleep", "1000")
    r = docker("volume", "rm", v, check=False)
    assert r.returncode != 0 and "volume is in use" in r.stderr
    r = daemon.request("DELETE", "/volumes/%s?force=1" % v)
    assert r.status == 409, r
    docker("rm", "-f", n)
    docker("volume", "rm", v)


def test_bad_input(daemon, docker):
    body = {"Image": IMAGE, "Cmd": ["true"]}
    cases = [
        ({"Binds": ["a/b:/x"]}, 400, "includes invalid characters for a local volume name"),
        ({"Binds": ["..:/x"]}, 400, "includes invalid characters"),
        ({"Mounts": [{"Type": "volume", "Source": "x/../y", "Target": "/x"}]}, 400, "invalid characters"),
        ({"Binds": ["v1-%s:/x" % uuid.uuid4().hex[:6], "/tmp:/x"]}, 400, "Duplicate mount point: /x"),
        ({"Binds": ["/tmp:/x"], "Tmpfs": {"/x": ""}}, 400, "Duplicate mount point: /x"),
        ({"Mounts": [{"Type": "tmpfs", "Target": "/t"}, {"Type": "volume", "Target": "/t/"}]}, 400,
         "Duplicate mount point: /t"),
        ({"VolumesFrom": ["nope-%s" % uuid.uuid4().hex[:6]]}, 404, "No such container"),
        ({"VolumesFrom": ["x:bogus"]}, 400, "invalid mode"),
        ({"Mounts": [{"Type": "bind", "Source": "/nonexistent-%s" % uuid.uuid4().hex, "Target": "/x"}]}, 400,
         "bind source path does not exist"),
        ({"Mounts": [{"Type": "volume", "Target": "/x", "BindOptions": {"Propagation": "shared"}}]}, 400,
         "BindOptions must not be specified"),
    ]
    before = set(volumes(daemon))
    for hc, status, msg in cases:
        r = daemon.request("POST", "/containers/create", body=dict(body, HostConfig=hc))
        assert r.status == status, (hc, r)
        assert msg in r.message, (hc, r.message)
    assert set(volumes(daemon)) == before, "a refused create leaves no volume behind"
    r = docker("run", "--rm", "-v", "bad/name:/x", IMAGE, "true", check=False)
    assert r.returncode == 125 and "invalid characters" in r.stderr


def test_inspect_and_ps_mounts(daemon, docker, vol, name, hostdir):
    v = vol()
    n = name()
    docker("create", "--name", n, "-v", "%s:/named" % v, "-v", "%s:/bind:ro" % hostdir,
           "--mount", "type=tmpfs,dst=/tm", "--tmpfs", "/hidden", IMAGE, "true")
    mounts = {m["Destination"]: m for m in inspect(daemon, n)["Mounts"]}
    assert set(mounts) == {"/named", "/bind", "/tm"}, mounts
    mp = volumes(daemon)[v]["Mountpoint"]
    assert mounts["/named"] == {"Type": "volume", "Name": v, "Source": mp, "Destination": "/named",
                                "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}
    assert mounts["/bind"] == {"Type": "bind", "Source": hostdir, "Destination": "/bind", "Mode": "ro",
                               "RW": False, "Propagation": "rprivate"}
    assert mounts["/tm"] == {"Type": "tmpfs", "Source": "", "Destination": "/tm", "Mode": "", "RW": True,
                             "Propagation": ""}
    assert inspect(daemon, n)["HostConfig"]["Tmpfs"] == {"/hidden": ""}
    out = docker("ps", "-a", "--no-trunc", "--filter", "name=" + n, "--format", "{{.Mounts}}").stdout
    assert v in out and hostdir in out, out
    ps = [c for c in daemon.containers() if c["Names"] == ["/" + n]][0]
    assert {m["Destination"] for m in ps["Mounts"]} == {"/named", "/bind", "/tm"}


def test_image_volume_becomes_anonymous_volume(daemon, docker, name, rootfs_tar, hostdir):
    tag = "e2e-imgvol-%s:latest" % uuid.uuid4().hex[:6]
    docker("import", "--change", "VOLUME /etc", rootfs_tar, tag)
    try:
        n = name()
        out = docker("run", "--name", n, tag, "cat", "/etc/passwd").stdout
        assert "root:" in out, "the anonymous volume got the image's /etc"
        m = [x for x in inspect(daemon, n)["Mounts"] if x["Destination"] == "/etc"]
        assert len(m) == 1 and m[0]["Type"] == "volume" and m[0]["Mode"] == "", m
        docker("rm", "-v", n)
        assert m[0]["Name"] not in volumes(daemon)
        # a bind on the path replaces the image's volume
        n2 = name()
        docker("create", "--name", n2, "-v", "%s:/etc" % hostdir, tag, "true")
        assert [x["Type"] for x in inspect(daemon, n2)["Mounts"]] == ["bind"]
        docker("rm", n2)
    finally:
        docker("rmi", "-f", tag, check=False)


def test_docker_sdk_volumes(daemon, dockerpy, vol, hostdir):
    v = vol()
    out = dockerpy.containers.run(IMAGE, ["sh", "-c", "echo sdk > /data/s; cat /data/s; ls /h"],
                                  volumes={v: {"bind": "/data", "mode": "rw"}, hostdir: {"bind": "/h", "mode": "ro"}},
                                  remove=True)
    assert out == b"sdk\n"
    out = dockerpy.containers.run(IMAGE, ["cat", "/data/s"], volumes=["%s:/data:ro" % v], remove=True)
    assert out == b"sdk\n"
    assert dockerpy.volumes.get(v).name == v
    with pytest.raises(Exception) as e:
        dockerpy.containers.run(IMAGE, ["touch", "/data/x"], volumes=["%s:/data:ro" % v], remove=True)
    assert "Read-only file system" in str(e.value)


def test_refs_survive_skiffd_restart(busybox_tar):
    d = start_daemon("volctr", busybox_tar)
    try:
        cli = DockerCLI(d.host)
        try:
            cli("create", "--name", "holder", "-v", "keep:/d", IMAGE, "true")
            cli("run", "-d", "--name", "runner", "-v", "keep2:/d", IMAGE, "sleep", "1000")
            d.stop()
            d.start()
            r = d.request("DELETE", "/volumes/keep")
            assert r.status == 409, r
            r = d.request("DELETE", "/volumes/keep2")
            assert r.status == 409, r
            cli("rm", "-f", "runner")
            cli("rm", "holder")
            # a container removed while skiffd was away leaves no reference behind
            cli("create", "--name", "ghost", "-v", "keep:/d", IMAGE, "true")
            cid = json.loads(cli("inspect", "ghost").stdout)[0]["Id"]
            d.stop()
            shutil.rmtree(os.path.join(d.data_root, "containers", cid))
            d.start()
            assert d.request("DELETE", "/volumes/keep").status == 204
            assert d.request("DELETE", "/volumes/keep2").status == 204
        finally:
            cli.close()
    finally:
        finish_daemon(d)


def _two_layer_archive(busybox_tar, path, tag):
    """busybox plus a layer that deletes /etc/passwd (whiteout), makes
    /etc/skel opaque-empty and adds /etc/added: a docker-archive at path."""
    import hashlib
    import io
    import tarfile
    from conftest import archive_manifest
    _, layers, _ = archive_manifest(busybox_tar)
    with tarfile.open(busybox_tar) as t:
        man = json.load(t.extractfile("manifest.json"))[0]
        cfg = json.load(t.extractfile(man["Config"]))
    top = io.BytesIO()
    with tarfile.open(fileobj=top, mode="w", format=tarfile.GNU_FORMAT) as t:
        def add(name, data=b"", kind=tarfile.REGTYPE, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.size = kind, mode, len(data)
            t.addfile(ti, io.BytesIO(data))
        add("etc/", kind=tarfile.DIRTYPE, mode=0o755)
        add("etc/.wh.passwd")
        add("etc/added", b"new\n")
        add("etc/sub/", kind=tarfile.DIRTYPE, mode=0o755)
        add("etc/sub/.wh..wh..opq")
    blobs = [layers[0], top.getvalue()]
    cfg["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]}
    cfg.pop("history", None)
    cfg_bytes = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    with tarfile.open(path, "w") as t:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        put(cfg_name, cfg_bytes)
        names = []
        for i, b in enumerate(blobs):
            names.append("l%d/layer.tar" % i)
            put(names[-1], b)
        put("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode())


def test_copy_up_through_layers_honours_whiteouts(daemon, docker, vol, busybox_tar, tmp_path):
    tag = "e2e-layers-%s:latest" % uuid.uuid4().hex[:6]
    arch = str(tmp_path / "two.tar")
    _two_layer_archive(busybox_tar, arch, tag)
    docker("load", "-i", arch)
    try:
        v = vol()
        out = run(docker, "-v", "%s:/etc" % v, tag, "ls", "-A", "/etc").split()
        assert "added" in out and "group" in out, out
        assert "passwd" not in out, "the upper layer's whiteout hides /etc/passwd"
        mp = volumes(daemon)[v]["Mountpoint"]
        assert not os.path.exists(os.path.join(mp, "passwd"))
        assert not any(n.startswith(".wh.") for n in os.listdir(mp))
        with open(os.path.join(mp, "added")) as f:
            assert f.read() == "new\n"
    finally:
        docker("rmi", "-f", tag, check=False)
    assert not [m for m in open("/proc/self/mountinfo") if daemon.base in m], "copy-up mounts stay in its child"
