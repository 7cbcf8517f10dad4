/* Docker's default seccomp profile (moby profiles/seccomp/default.json) as a
 * C table: default action ERRNO(EPERM), an allowlist, and rules gated on
 * capabilities or arguments. Deliberate difference: ptrace needs
 * CAP_SYS_PTRACE here (moby allows it on kernels >= 4.8). */
#include "seccomp.h"

#include <seccomp.h>

#include "../lib/cleanup.h"

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CAP(n) (1ULL << (n))
/* capability numbers (linux/capability.h) */
enum {
	C_DAC_READ_SEARCH = 2,
	C_SYS_MODULE = 16,
	C_SYS_RAWIO = 17,
	C_SYS_CHROOT = 18,
	C_SYS_PTRACE = 19,
	C_SYS_PACCT = 20,
	C_SYS_ADMIN = 21,
	C_SYS_BOOT = 22,
	C_SYS_NICE = 23,
	C_SYS_TIME = 25,
	C_SYS_TTY_CONFIG = 26,
	C_SYSLOG = 34,
	C_PERFMON = 38,
	C_BPF = 39,
};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
#define CLONE_NS_FLAGS 0x7E020000ULL

const struct skiff_seccomp_rule skiff_seccomp_default_rules[] = {
	{
		.action = SCMP_ACT_ALLOW,
		.names = NAMES("accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
			       "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
			       "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
			       "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
			       "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
			       "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
			       "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
			       "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
			       "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
			       "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
			       "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
			       "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
			       "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
			       "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
			       "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
			       "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
			       "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
			       "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
			       "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
			       "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
			       "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
			       "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
			       "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
			       "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat",
			       "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
			       "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
			       "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
			       "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
			       "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
			       "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
			       "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
			       "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
			       "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
			       "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
			       "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
			       "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
			       "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
			       "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
			       "removexattr", "removexattrat", "rename", "renameat", "renameat2",
			       "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
			       "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
			       "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
			       "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
			       "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
			       "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
			       "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
			       "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
			       "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
			       "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
			       "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
			       "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
			       "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
			       "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
			       "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
			       "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
			       "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
			       "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
			       "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
			       "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
			       "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
			       "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
			       "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
			       "waitpid", "write", "writev"),
	},
	/* sockets, except AF_VSOCK (40) */
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("socket"), .nargs = 1,
	  .args = { { 0, 40, 0, SCMP_CMP_NE } } },
	/* personality: only the harmless personas */
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("personality"), .nargs = 1, .args = { { 0, 0x0, 0, SCMP_CMP_EQ } } },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("personality"), .nargs = 1, .args = { { 0, 0x8, 0, SCMP_CMP_EQ } } },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("personality"), .nargs = 1,
	  .args = { { 0, 0x20000, 0, SCMP_CMP_EQ } } },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("personality"), .nargs = 1,
	  .args = { { 0, 0x20008, 0, SCMP_CMP_EQ } } },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("personality"), .nargs = 1,
	  .args = { { 0, 0xffffffff, 0, SCMP_CMP_EQ } } },
	/* x86 specifics */
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("arch_prctl", "modify_ldt"), .arches = "amd64,x32,x86" },
	/* clone without namespace flags; clone3 says ENOSYS so libc falls back to clone */
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("clone"), .nargs = 1,
	  .args = { { 0, CLONE_NS_FLAGS, 0, SCMP_CMP_MASKED_EQ } }, .caps_exclude = CAP(C_SYS_ADMIN) },
	{ .action = SCMP_ACT_ERRNO(38), .names = NAMES("clone3"), .caps_exclude = CAP(C_SYS_ADMIN) },
	/* capability-gated groups */
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("open_by_handle_at"), .caps_include = CAP(C_DAC_READ_SEARCH) },
	{ .action = SCMP_ACT_ALLOW,
	  .names = NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
			 "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
			 "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
			 "umount2", "unshare"),
	  .caps_include = CAP(C_SYS_ADMIN) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("reboot"), .caps_include = CAP(C_SYS_BOOT) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("chroot"), .caps_include = CAP(C_SYS_CHROOT) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("delete_module", "init_module", "finit_module"),
	  .caps_include = CAP(C_SYS_MODULE) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("acct"), .caps_include = CAP(C_SYS_PACCT) },
	{ .action = SCMP_ACT_ALLOW,
	  .names = NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
	  .caps_include = CAP(C_SYS_PTRACE) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("iopl", "ioperm"), .caps_include = CAP(C_SYS_RAWIO) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("settimeofday", "stime", "clock_settime", "clock_settime64"),
	  .caps_include = CAP(C_SYS_TIME) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("vhangup"), .caps_include = CAP(C_SYS_TTY_CONFIG) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
	  .caps_include = CAP(C_SYS_NICE) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("syslog"), .caps_include = CAP(C_SYSLOG) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("bpf"), .caps_include = CAP(C_BPF) },
	{ .action = SCMP_ACT_ALLOW, .names = NAMES("perf_event_open"), .caps_include = CAP(C_PERFMON) },
};

const unsigned skiff_seccomp_default_nrules = ARRAY_SIZE(skiff_seccomp_default_rules);
