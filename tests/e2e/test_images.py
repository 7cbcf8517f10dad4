# Images: load/save (docker-archive and OCI archive), list, inspect,
# history, tag, rmi (conflicts and force), import with --change, through
# the docker CLI and the docker SDK.
import hashlib
import io
import json
import os
import tarfile

from conftest import archive_manifest


def import_image(docker, rootfs_tar, ref, *changes):
    args = ["import"]
    for c in changes:
        args += ["--change", c]
    with open(rootfs_tar, "rb") as f:
        data = f.read()
    r = docker(*args, "-", ref, input=data, timeout=120)
    out = r.stdout.decode().strip()
    assert out.startswith("sha256:"), out
    return out


def test_busybox_loaded_with_config_digest_id(daemon, docker, busybox_tar):
    cfg_id, _, tags = archive_manifest(busybox_tar)
    assert "busybox:latest" in tags
    r = docker("image", "inspect", "--format", "{{.Id}}", "busybox")
    assert r.stdout.strip() == cfg_id


def test_docker_load_prints_loaded_image(docker, busybox_tar):
    r = docker("load", "-i", busybox_tar, timeout=120)
    assert "Loaded image: busybox:latest" in r.stdout


def test_images_lists_busybox(docker):
    r = docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")
    rows = [l.split() for l in r.stdout.splitlines()]
    bb = [row for row in rows if row[0] == "busybox:latest"]
    assert len(bb) == 1, r.stdout
    assert len(bb[0][1]) == 12


def test_image_inspect_fields(docker, busybox_tar):
    cfg_id, layers, _ = archive_manifest(busybox_tar)
    i = json.loads(docker("image", "inspect", "busybox").stdout)[0]
    assert i["Id"] == cfg_id
    assert "busybox:latest" in i["RepoTags"]
    assert i["Os"] == "linux"
    assert i["Architecture"] == "amd64"
    assert i["RootFS"]["Type"] == "layers"
    assert i["RootFS"]["Layers"] == ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    assert i["Config"]["Cmd"]
    assert i["Size"] > 500000  # busybox-static is ~2 MB


def test_image_history(docker):
    r = docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "busybox")
    rows = r.stdout.strip().splitlines()
    assert len(rows) >= 1
    assert any(row.startswith("sha256:") for row in rows), rows


def test_tag_and_untag(docker, image_name):
    ref = image_name("v1")
    docker("tag", "busybox", ref)
    a = docker("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip()
    b = docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    assert a == b
    r = docker("rmi", ref)
    assert "Untagged: " + ref in r.stdout
    assert "Deleted" not in r.stdout  # busybox:latest still holds the image
    r = docker("image", "inspect", ref, check=False)
    assert r.returncode != 0 and "No such image" in r.stderr


def test_rmi_in_use_conflict_and_force(docker, rootfs_tar, image_name, name):
    ref = image_name()
    iid = import_image(docker, rootfs_tar, ref)
    n = name()
    docker("create", "--name", n, ref, "true")
    r = docker("rmi", ref, check=False)
    assert r.returncode != 0
    assert "conflict" in r.stderr.lower() or "being used" in r.stderr, r.stderr
    r = docker("image", "inspect", "--format", "{{.Id}}", ref)
    assert r.stdout.strip() == iid
    r = docker("rmi", "-f", ref)
    assert "Untagged: " + ref in r.stdout
    refs = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert ref not in refs
    # the container still runs its image by id
    docker("rm", n)
    docker("rmi", "-f", iid, check=False)


def test_rmi_by_id_deletes(docker, rootfs_tar, image_name):
    ref = image_name()
    iid = import_image(docker, rootfs_tar, ref)
    r = docker("rmi", ref)
    assert "Untagged: " + ref in r.stdout
    assert "Deleted: " + iid in r.stdout
    r = docker("image", "inspect", iid, check=False)
    assert r.returncode != 0


def test_rmi_missing_is_404(daemon, docker):
    r = daemon.request("DELETE", "/images/e2e-no-such-image:zz")
    assert r.status == 404, r
    assert r.message == "No such image: e2e-no-such-image:zz"
    r = docker("rmi", "e2e-no-such-image:zz", check=False)
    assert r.returncode != 0 and "No such image" in r.stderr


def test_save_load_round_trip_same_id(docker, rootfs_tar, image_name, workdir):
    ref = image_name()
    iid = import_image(docker, rootfs_tar, ref, 'CMD ["echo", "roundtrip"]')
    out = os.path.join(workdir, "save.tar")
    docker("save", "-o", out, ref, timeout=120)
    with tarfile.open(out) as t:
        names = t.getnames()
        man = json.load(t.extractfile("manifest.json"))
    assert "manifest.json" in names
    assert man[0]["RepoTags"] == [ref]
    # Docker 25+ also writes the OCI layout
    assert "index.json" in names and "oci-layout" in names
    docker("rmi", ref)
    assert docker("image", "inspect", iid, check=False).returncode != 0
    r = docker("load", "-i", out, timeout=120)
    assert "Loaded image: " + ref in r.stdout
    assert docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip() == iid
    r = docker("run", "--rm", ref, timeout=60)
    assert r.stdout.strip() == "roundtrip"


def test_import_with_changes(docker, rootfs_tar, image_name):
    ref = image_name()
    import_image(docker, rootfs_tar, ref, 'CMD ["sh", "-c", "echo $FOO in $(pwd)"]', "ENV FOO=bar",
                 "WORKDIR /work")
    i = json.loads(docker("image", "inspect", ref).stdout)[0]
    assert i["Config"]["Cmd"] == ["sh", "-c", "echo $FOO in $(pwd)"]
    assert "FOO=bar" in i["Config"]["Env"]
    assert i["Config"]["WorkingDir"] == "/work"
    r = docker("run", "--rm", ref, timeout=60)
    assert r.stdout.strip() == "bar in /work"


def test_dockerpy_images(dockerpy, busybox_tar, rootfs_tar, docker, image_name):
    with open(busybox_tar, "rb") as f:
        imgs = dockerpy.images.load(f.read())
    assert any("busybox:latest" in i.tags for i in imgs)
    tags = [t for i in dockerpy.images.list() for t in i.tags]
    assert "busybox:latest" in tags
    ref = image_name()
    iid = import_image(docker, rootfs_tar, ref)
    img = dockerpy.images.get(ref)
    assert img.id == iid
    dockerpy.images.remove(ref)
    tags = [t for i in dockerpy.images.list() for t in i.tags]
    assert ref not in tags


def _blob(files, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    files["blobs/sha256/" + digest] = data
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def test_load_oci_archive(docker, busybox_tar, image_name, workdir):
    _, layers, _ = archive_manifest(busybox_tar)
    ref = image_name("oci")
    files = {}
    layer = _blob(files, layers[0], "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["echo", "oci-ok"], "Env": ["PATH=/bin:/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        "history": [{"created_by": "e2e test"}],
    }
    cfg = _blob(files, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg, "layers": [layer]}
    man = _blob(files, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    man["annotations"] = {"io.containerd.image.name": "docker.io/library/" + ref,
                          "org.opencontainers.image.ref.name": ref.split(":")[1]}
    files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                      "manifests": [man]}).encode()
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    path = os.path.join(workdir, "oci.tar")
    with tarfile.open(path, "w") as t:
        for n, data in files.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    r = docker("load", "-i", path, timeout=120)
    assert ref in r.stdout or cfg["digest"] in r.stdout, r.stdout
    r = docker("image", "inspect", "--format", "{{.Id}}", ref)
    assert r.stdout.strip() == cfg["digest"]
    r = docker("run", "--rm", ref, timeout=60)
    assert r.stdout.strip() == "oci-ok"
