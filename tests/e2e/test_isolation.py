# What a process inside a container sees: its own hostname and pid 1,
# Docker's default capabilities and seccomp profile, masked and read-only
# /proc paths, users, cgroup limits as the host sees them, bind mounts.
import os

import pytest

from conftest import container_cgroup_file, inspect

DEFAULT_CAPEFF = 0x00000000A80425FB
CAP = {"CHOWN": 0, "NET_RAW": 13, "SYS_ADMIN": 21, "SYS_PTRACE": 19, "NET_ADMIN": 12}


def run(docker, *args, check=True):
    return docker("run", "--rm", *args, timeout=60, check=check)


def test_hostname_defaults_to_short_id(docker, name):
    n = name()
    cid = docker("run", "-d", "--name", n, "busybox", "sh", "-c", "hostname; cat /etc/hostname").stdout.strip()
    docker("wait", n)
    out = docker("logs", n).stdout.split()
    assert out == [cid[:12], cid[:12]]


def test_hostname_option(docker):
    r = run(docker, "--hostname", "e2e-host", "busybox", "sh", "-c", "hostname; cat /etc/hostname; uname -n")
    assert r.stdout.split() == ["e2e-host"] * 3


def test_pid_namespace(docker):
    r = run(docker, "busybox", "sh", "-c", "echo $$; ps -o pid,comm | wc -l")
    pid1, nproc = r.stdout.split()
    assert pid1 == "1"
    assert int(nproc) <= 4  # header, sh, ps, wc: the host's processes are not visible


def test_default_capabilities(docker):
    r = run(docker, "busybox", "grep", "CapEff", "/proc/1/status")
    assert r.stdout.split() == ["CapEff:", "%016x" % DEFAULT_CAPEFF]


def test_cap_add_and_drop(docker):
    r = run(docker, "--cap-add", "SYS_ADMIN", "--cap-drop", "NET_RAW", "busybox", "grep", "CapEff", "/proc/1/status")
    want = (DEFAULT_CAPEFF | 1 << CAP["SYS_ADMIN"]) & ~(1 << CAP["NET_RAW"])
    assert r.stdout.split() == ["CapEff:", "%016x" % want]


def test_cap_drop_takes_effect(docker):
    script = "touch /f && chown 1:1 /f && echo chowned"
    assert run(docker, "busybox", "sh", "-c", script).stdout.strip() == "chowned"
    r = run(docker, "--cap-drop", "CHOWN", "busybox", "sh", "-c", script, check=False)
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr


def test_privileged_has_all_caps(docker):
    r = run(docker, "--privileged", "busybox", "grep", "CapEff", "/proc/1/status")
    assert int(r.stdout.split()[1], 16) & (1 << CAP["SYS_ADMIN"])


def test_seccomp_default_denies_unshare(docker):
    # Docker's profile allows unshare(2) only with CAP_SYS_ADMIN; the kernel
    # lets anyone create a user namespace. Same caps both runs: only seccomp differs.
    with open("/proc/sys/user/max_user_namespaces") as f:
        if int(f.read()) == 0:
            pytest.skip("user namespaces are disabled on this host")
    r = run(docker, "busybox", "unshare", "-U", "true", check=False)
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr
    r = run(docker, "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true", check=False)
    assert r.returncode == 0, r.stderr


def test_seccomp_status_in_proc(docker):
    r = run(docker, "busybox", "grep", "^Seccomp:", "/proc/1/status")
    assert r.stdout.split() == ["Seccomp:", "2"]
    r = run(docker, "--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/1/status")
    assert r.stdout.split() == ["Seccomp:", "0"]


def test_read_only_rootfs(docker):
    r = run(docker, "--read-only", "busybox", "touch", "/x", check=False)
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    r = run(docker, "busybox", "sh", "-c", "touch /x && echo ok")
    assert r.stdout.strip() == "ok"


def test_masked_paths(docker):
    # Docker binds /dev/null over masked files and an empty ro tmpfs over
    # masked dirs; only the ones this kernel has can be checked.
    files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug") if os.path.exists(p)]
    dirs = [p for p in ("/sys/firmware", "/proc/acpi", "/proc/scsi") if os.path.isdir(p)]
    assert files, "this host has none of the masked /proc files"
    script = "; ".join(["wc -c < %s" % f for f in files] + ["ls -A %s | wc -l" % d for d in dirs])
    r = run(docker, "busybox", "sh", "-c", script)
    assert r.stdout.split() == ["0"] * (len(files) + len(dirs)), (files, dirs, r.stdout)


def test_proc_sys_read_only(docker):
    r = run(docker, "busybox", "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid", check=False)
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    r = run(docker, "busybox", "grep", " /proc/sys ", "/proc/self/mounts")
    assert " ro," in r.stdout


def test_sys_read_only(docker):
    r = run(docker, "busybox", "grep", " /sys ", "/proc/self/mounts")
    assert " ro," in r.stdout


def test_dev_nodes(docker):
    r = run(docker, "busybox", "sh", "-c",
            "ls /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/pts/ptmx /dev/shm "
            "&& echo x > /dev/null && head -c 4 /dev/zero | wc -c && test ! -e /dev/sda && echo good")
    assert r.stdout.split()[-2:] == ["4", "good"]


def test_user_numeric(docker):
    # a uid without a passwd entry gets gid 0; one with an entry gets its group
    r = run(docker, "-u", "4242", "busybox", "id")
    assert r.stdout.startswith("uid=4242 gid=0(root)"), r.stdout
    r = run(docker, "-u", "4242:4343", "busybox", "id")
    assert r.stdout.startswith("uid=4242 gid=4343"), r.stdout
    passwd = run(docker, "busybox", "cat", "/etc/passwd").stdout
    ent = [l.split(":") for l in passwd.splitlines() if l.split(":")[2:3] == ["1000"]]
    if ent:
        r = run(docker, "-u", "1000", "busybox", "id")
        assert r.stdout.startswith("uid=1000(%s) gid=%s(" % (ent[0][0], ent[0][3])), r.stdout


def test_user_by_name(docker):
    r = run(docker, "-u", "nobody", "busybox", "id")
    assert r.stdout.startswith("uid=65534(nobody) gid=65534("), r.stdout
    r = run(docker, "-u", "nobody", "busybox", "grep", "CapEff", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "0000000000000000"]


def test_user_unknown_fails(docker):
    r = run(docker, "-u", "e2e-no-such-user", "busybox", "id", check=False)
    assert r.returncode != 0
    assert "e2e-no-such-user" in r.stderr


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_cgroup_limits_visible_on_host(docker, daemon, name):
    n = name()
    cid = docker("run", "-d", "--name", n, "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5",
                 "--cpu-shares", "512", "busybox", "sleep", "600").stdout.strip()
    assert inspect(daemon, n)["HostConfig"]["Memory"] == 64 << 20
    assert inspect(daemon, n)["HostConfig"]["NanoCpus"] == 500000000
    mem = container_cgroup_file(cid, "memory", "memory.limit_in_bytes", "memory.max")
    assert read(mem) == str(64 << 20)
    pids = container_cgroup_file(cid, "pids", "pids.max", "pids.max")
    assert read(pids) == "50"
    quota = container_cgroup_file(cid, "cpu", "cpu.cfs_quota_us", "cpu.max")
    if quota.endswith("cpu.max"):
        assert read(quota) == "50000 100000"
    else:
        assert read(quota) == "50000"
        assert read(os.path.join(os.path.dirname(quota), "cpu.cfs_period_us")) == "100000"
        assert read(os.path.join(os.path.dirname(quota), "cpu.shares")) == "512"
    # the container's init is in those cgroups
    pid = inspect(daemon, n)["State"]["Pid"]
    procs = container_cgroup_file(cid, "memory", "cgroup.procs", "cgroup.procs")
    assert str(pid) in read(procs).split()


def test_pids_limit_enforced(docker, name):
    # ash gives up the script at the first failed fork: count the forks that worked
    n = name()
    r = docker("run", "--name", n, "--pids-limit", "10", "busybox", "sh", "-c",
               "i=0; while [ $i -lt 20 ]; do sleep 600 & echo forked-$i; i=$((i+1)); done; echo all-forked",
               timeout=60, check=False)
    forked = r.stdout.count("forked-")
    assert "all-forked" not in r.stdout
    assert 1 <= forked <= 9, r.stdout
    assert "fork" in r.stderr, r.stderr
    assert r.returncode != 0


def test_memory_limit_oom(docker, name):
    n = name()
    # tail buffers its whole input when asked for the last line of a line-free stream.
    r = docker("run", "--name", n, "--memory", "32m", "--memory-swap", "32m", "busybox", "sh", "-c",
               "head -c 200m /dev/zero | tail -n 1 >/dev/null", timeout=60, check=False)
    st = docker("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", n).stdout.split()
    assert st[0] == "true", (st, r.stderr)


def test_bind_mounts(docker, workdir):
    with open(os.path.join(workdir, "in.txt"), "w") as f:
        f.write("from-host\n")
    r = run(docker, "-v", "%s:/data" % workdir, "busybox", "sh", "-c", "cat /data/in.txt; echo from-ctr > /data/out.txt")
    assert r.stdout == "from-host\n"
    assert read(os.path.join(workdir, "out.txt")) == "from-ctr"
    r = run(docker, "-v", "%s:/data:ro" % workdir, "busybox", "sh", "-c", "cat /data/in.txt; touch /data/nope",
            check=False)
    assert r.stdout == "from-host\n"
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    assert not os.path.exists(os.path.join(workdir, "nope"))


def test_bind_mount_missing_source(docker):
    r = run(docker, "--mount", "type=bind,source=/nonexistent-e2e-src,target=/d", "busybox", "true", check=False)
    assert r.returncode != 0
    assert "/nonexistent-e2e-src" in r.stderr


def test_no_host_mounts_visible(docker, daemon):
    r = run(docker, "busybox", "cat", "/proc/self/mounts")
    targets = [l.split()[1] for l in r.stdout.splitlines()]
    assert targets[0] == "/" or "/" in targets
    for t in targets:
        assert not t.startswith(("/work", "/tmp/", daemon.base, "/home", "/var/lib")), t
