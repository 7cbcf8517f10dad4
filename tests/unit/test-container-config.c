/* Unit tests for create-request validation, the image/request merge, the
 * runtime spec, persisted shapes, status strings and restart decisions. */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../userspace/daemon/container-config.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"

static const struct {
	const char *body;
	int status;
	const char *msg; /* prefix of the expected message, NULL: any */
} bad[] = {
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":\"x\"}}", 400,
	  "json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.Memory of type int64" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":-1}}", 400, "Minimum memory limit allowed is 6MB" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":1000}}", 400, "Minimum memory limit allowed is 6MB" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"NanoCpus\":5000000000}}", 400,
	  "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"sometimes\"}}}", 400,
	  "invalid restart policy: unknown policy 'sometimes'" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":3}}}", 400,
	  "invalid restart policy: maximum retry count can only be used with 'on-failure'" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"AutoRemove\":true,\"RestartPolicy\":{\"Name\":\"always\"}}}", 400,
	  "can't create 'AutoRemove' container with restart policy" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"CapAdd\":[\"CAP_FOO\"]}}", 400,
	  "invalid CapAdd: unknown capability: \"CAP_FOO\"" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"CapDrop\":[\"bogus\"]}}", 400,
	  "invalid CapDrop: unknown capability: \"CAP_BOGUS\"" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"foo\"]}}", 400, "invalid --security-opt 1: \"foo\"" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"foo=bar\"]}}", 400,
	  "invalid --security-opt 2: \"foo=bar\"" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"seccomp={nope\"]}}", 400,
	  "decoding seccomp profile failed" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"seccomp=/nonexistent/profile.json\"]}}", 400,
	  "opening seccomp profile" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"my/vol:/data\"]}}", 400,
	  "create my/vol: \"my/vol\" includes invalid characters for a local volume name" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"..:/data\"]}}", 400, "create ..: " },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"v:/data\"]}}", 400, "create v: " },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"vv:/data:bogus\"]}}", 400, "invalid mode: bogus" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"vv:/data\",\"/tmp:/data/\"]}}", 400,
	  "Duplicate mount point: /data" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Tmpfs\":{\"/t\":\"\"},\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]}}",
	  400, "Duplicate mount point: /t" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"VolumesFrom\":[\"web:rx\"]}}", 400, "invalid mode: rx" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"VolumesFrom\":[\":ro\"]}}", 400, "invalid volumes-from" },
	{ "{\"Image\":\"busybox\",\"Volumes\":{\"rel\":{}}}", 400, "invalid volume specification: 'rel'" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"nfs\"}}}]}}",
	  404, "error looking up volume plugin nfs" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/tmp\",\"Target\":\"/x\",\"BindOptions\":{\"Propagation\":\"sideways\"}}]}}",
	  400, "invalid mount config for type \"bind\": invalid propagation mode: sideways" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/x\",\"VolumeOptions\":{}}]}}",
	  400, "invalid mount config for type \"tmpfs\": VolumeOptions must not be specified" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"/tmp:data\"]}}", 400, "invalid volume specification" },
	/* "network mynet not found" is the network manager's check now (tests/e2e/test_network.py) */
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"bogus\",\"Soft\":1,\"Hard\":1}]}}", 400,
	  "invalid ulimit type: bogus" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"CpuPeriod\":10}}", 400, "CPU cfs period" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":10000000,\"MemorySwap\":100}}", 400,
	  "Minimum memoryswap limit" },
	{ "{\"Image\":\"busybox\",\"Tty\":\"yes\"}", 400,
	  "json: cannot unmarshal string into Go struct field CreateRequest.Tty of type bool" },
	{ "{\"Image\":\"busybox\",\"Env\":[1]}", 400, "json: cannot unmarshal array" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":1.5}}", 400, "json: cannot unmarshal number" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":\"x\"}", 400, "json: cannot unmarshal string" },
	{ "{}", 400, "invalid reference format" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"image\",\"Target\":\"/x\"}]}}", 501,
	  "mounts of type \"image\" are not supported" },
	{ "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"rel\",\"Target\":\"/x\"}]}}",
	  400, NULL },
};

TEST(validation_table)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct skiff_error err = { 0 };
		json_t *b = json_loads(bad[i].body, 0, NULL);
		const char *body = bad[i].body, *want = bad[i].msg;
		int status = bad[i].status;
		ASSERT_NE(NULL, b);
		EXPECT_GT(0, skiff_ctr_config_validate(b, 2, NULL, &err)) TH_LOG("accepted: %s", body);
		EXPECT_EQ(status, err.status) TH_LOG("%s -> %d %s", body, err.status, err.msg);
		if (want)
			EXPECT_EQ(0, strncmp(err.msg, want, strlen(want))) TH_LOG("%s -> '%s'", body, err.msg);
		json_decref(b);
	}
}

TEST(valid_bodies)
{
	static const char *const good[] = {
		"{\"Image\":\"busybox\"}",
		"{\"Image\":\"busybox\",\"Cmd\":\"echo hi\",\"HostConfig\":null}",
		"{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":6291456,\"NanoCpus\":1500000000,\"CapAdd\":[\"net_admin\","
		"\"ALL\"],\"CapDrop\":[\"CAP_CHOWN\"],\"SecurityOpt\":[\"seccomp=unconfined\",\"no-new-privileges\",\"label=disable\","
		"\"apparmor=x\",\"no-new-privileges:true\"],\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3},"
		"\"NetworkMode\":\"default\",\"Binds\":[\"/tmp:/host:ro\"],\"PidsLimit\":null,\"ConsoleSize\":[0,0],"
		"\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048}]}}",
		"{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"none\",\"SecurityOpt\":[\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\"}\"]}}",
		"{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"container:web\"}}",
		"{\"Image\":\"busybox\",\"Volumes\":{\"/data\":{}},\"HostConfig\":{\"Binds\":[\"myvol:/data\",\"/anon\","
		"\"v2:/ro:ro,nocopy\"],\"VolumesFrom\":[\"web\",\"db:ro\"],\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/m\"},"
		"{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":{\"SizeBytes\":1048576,\"Mode\":448}}],"
		"\"Tmpfs\":{\"/run\":\"size=64m,exec\"}}}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct skiff_error err = { 0 };
		json_t *w = json_array();
		json_t *b = json_loads(good[i], 0, NULL);
		const char *body = good[i];
		ASSERT_NE(NULL, b) TH_LOG("%s", body);
		EXPECT_EQ(0, skiff_ctr_config_validate(b, 2, w, &err)) TH_LOG("%s -> %s", body, err.msg);
		json_decref(b);
		json_decref(w);
	}
}

TEST(seccomp_path_becomes_content)
{
	char path[] = "/tmp/skiff-test-seccomp-XXXXXX";
	int fd = mkstemp(path);
	struct skiff_error err = { 0 };
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, skiff_write_file(path, "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}"));
	close(fd);
	json_t *b = json_pack("{s:s, s:{s:[s]}}", "Image", "busybox", "HostConfig", "SecurityOpt", "x");
	char opt[128];
	snprintf(opt, sizeof(opt), "seccomp=%s", path);
	json_array_set_new(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"), 0, json_string(opt));
	EXPECT_EQ(0, skiff_ctr_config_validate(b, 2, NULL, &err));
	unlink(path);
	EXPECT_STREQ("seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
		     json_string_value(json_array_get(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"), 0)));
	json_decref(b);
}

TEST(merge_image_and_request)
{
	json_t *img = json_loads("{\"Cmd\":[\"sh\"],\"Entrypoint\":null,\"Env\":[\"PATH=/img/bin\",\"A=img\"],"
				 "\"WorkingDir\":\"/w\",\"User\":\"1000\",\"StopSignal\":\"SIGQUIT\","
				 "\"Labels\":{\"l1\":\"img\",\"l2\":\"img\"}}",
				 0, NULL);
	json_t *req = json_loads("{\"Image\":\"busybox\",\"Env\":[\"A=req\",\"B=req\"],\"Labels\":{\"l1\":\"req\"}}", 0, NULL);
	json_t *m = skiff_ctr_config_merge(req, img);
	char *s = json_dumps(json_object_get(m, "Env"), JSON_COMPACT);
	EXPECT_STREQ("[\"A=req\",\"B=req\",\"PATH=/img/bin\"]", s);
	free(s);
	EXPECT_STREQ("sh", json_string_value(json_array_get(json_object_get(m, "Cmd"), 0)));
	EXPECT_STREQ("/w", skiff_json_str(m, "WorkingDir", ""));
	EXPECT_STREQ("1000", skiff_json_str(m, "User", ""));
	EXPECT_STREQ("SIGQUIT", skiff_json_str(m, "StopSignal", ""));
	EXPECT_STREQ("req", skiff_json_str(json_object_get(m, "Labels"), "l1", ""));
	EXPECT_STREQ("img", skiff_json_str(json_object_get(m, "Labels"), "l2", ""));
	EXPECT_STREQ("busybox", skiff_json_str(m, "Image", ""));
	json_decref(m);
	json_decref(req);

	/* an Entrypoint in the request drops the image's Cmd */
	req = json_loads("{\"Image\":\"busybox\",\"Entrypoint\":[\"/bin/echo\"]}", 0, NULL);
	m = skiff_ctr_config_merge(req, img);
	EXPECT_TRUE(json_is_null(json_object_get(m, "Cmd")));
	char *path = NULL;
	json_t *args = NULL;
	ASSERT_EQ(0, skiff_ctr_path_args(m, &path, &args, NULL));
	EXPECT_STREQ("/bin/echo", path);
	EXPECT_EQ(0, json_array_size(args));
	free(path);
	json_decref(args);
	json_decref(m);
	json_decref(req);

	/* ... unless Cmd is given too; a string Cmd is a one-element list */
	req = json_loads("{\"Image\":\"busybox\",\"Entrypoint\":\"/bin/echo\",\"Cmd\":[\"a\",\"b c\"],\"User\":\"root\"}", 0, NULL);
	m = skiff_ctr_config_merge(req, img);
	ASSERT_EQ(0, skiff_ctr_path_args(m, &path, &args, NULL));
	EXPECT_STREQ("/bin/echo", path);
	EXPECT_EQ(2, json_array_size(args));
	EXPECT_STREQ("root", skiff_json_str(m, "User", ""));
	char *cmd = skiff_ctr_command_string(path, args);
	EXPECT_STREQ("/bin/echo a b c", cmd);
	free(cmd);
	free(path);
	json_decref(args);
	json_decref(m);
	json_decref(req);
	json_decref(img);

	/* no command at all */
	struct skiff_error err = { 0 };
	req = json_loads("{\"Image\":\"scratch\"}", 0, NULL);
	m = skiff_ctr_config_merge(req, NULL);
	EXPECT_GT(0, skiff_ctr_path_args(m, &path, &args, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("no command specified", err.msg);
	json_decref(m);
	json_decref(req);
}

static void fill(struct skiff_ctr *c, const char *req_json)
{
	json_t *req = json_loads(req_json, 0, NULL);
	memset(c, 0, sizeof(*c));
	memset(c->id, 'a', 64);
	c->id[0] = '1';
	c->name = strdup("/web");
	c->image = strdup("busybox");
	strcpy(c->image_id, "sha256:0123");
	c->config = skiff_ctr_config_merge(req, NULL);
	c->host_config = skiff_ctr_hostconfig_normalize(json_object_get(req, "HostConfig"));
	skiff_ctr_path_args(c->config, &c->path, &c->args, NULL);
	c->command = skiff_ctr_command_string(c->path, c->args);
	skiff_ctr_mounts(c->host_config, false, &c->mounts, NULL);
	c->dir = strdup("/var/lib/skiff/containers/x");
	json_decref(req);
}

TEST(spec_generation)
{
	struct skiff_ctr c;
	struct skiff_error err = { 0 };
	char *lower[] = { "/l/top", "/l/bottom", NULL };
	fill(&c, "{\"Image\":\"busybox\",\"Cmd\":[\"sh\",\"-c\",\"echo hi\"],\"Tty\":true,\"Env\":[\"FOO=1\"],"
		 "\"HostConfig\":{\"Memory\":10485760,\"CapAdd\":[\"NET_ADMIN\"],\"CapDrop\":[\"chown\"],"
		 "\"Binds\":[\"/tmp:/host:ro\"],\"SecurityOpt\":[\"seccomp=unconfined\",\"no-new-privileges\"],"
		 "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":10,\"Hard\":20}],\"NetworkMode\":\"none\"}}");
	json_t *s = skiff_ctr_build_spec(&c, lower, "new", &err);
	ASSERT_NE(NULL, s) TH_LOG("%s", err.msg);
	EXPECT_STREQ(c.id, skiff_json_str(s, "id", ""));
	EXPECT_EQ(3, json_array_size(json_object_get(s, "args")));
	EXPECT_TRUE(skiff_json_bool(s, "tty", false));
	EXPECT_STREQ("1aaaaaaaaaaa", skiff_json_str(s, "hostname", ""));
	json_t *env = json_object_get(s, "env");
	char *e = json_dumps(env, JSON_COMPACT);
	EXPECT_NE(NULL, strstr(e, "\"FOO=1\""));
	EXPECT_NE(NULL, strstr(e, "\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\""));
	EXPECT_NE(NULL, strstr(e, "\"HOSTNAME=1aaaaaaaaaaa\""));
	EXPECT_NE(NULL, strstr(e, "\"TERM=xterm\""));
	EXPECT_NE(NULL, strstr(e, "\"HOME=/root\""));
	free(e);
	json_t *rootfs = json_object_get(s, "rootfs");
	EXPECT_STREQ("/l/top", json_string_value(json_array_get(json_object_get(rootfs, "lower"), 0)));
	EXPECT_STREQ("/var/lib/skiff/containers/x/upper", skiff_json_str(rootfs, "upper", ""));
	EXPECT_STREQ("/var/lib/skiff/containers/x/merged", skiff_json_str(rootfs, "target", ""));
	EXPECT_STREQ("new", skiff_json_str(json_object_get(s, "namespaces"), "net", ""));
	char *caps = json_dumps(json_object_get(s, "caps"), JSON_COMPACT);
	EXPECT_NE(NULL, strstr(caps, "CAP_NET_ADMIN"));
	EXPECT_EQ(NULL, strstr(caps, "CAP_CHOWN"));
	EXPECT_NE(NULL, strstr(caps, "CAP_KILL"));
	EXPECT_EQ(NULL, strstr(caps, "CAP_SYS_ADMIN"));
	free(caps);
	EXPECT_EQ(14, json_array_size(json_object_get(s, "caps")));
	EXPECT_TRUE(json_is_null(json_object_get(s, "seccomp")));
	EXPECT_NE(NULL, json_object_get(s, "seccomp"));
	EXPECT_TRUE(skiff_json_bool(s, "no_new_privileges", false));
	json_t *m = json_array_get(json_object_get(s, "mounts"), 0);
	EXPECT_STREQ("/tmp", skiff_json_str(m, "source", ""));
	EXPECT_STREQ("/host", skiff_json_str(m, "target", ""));
	EXPECT_TRUE(skiff_json_bool(m, "readonly", false));
	EXPECT_EQ(10, skiff_json_int(json_array_get(json_object_get(s, "rlimits"), 0), "soft", 0));
	EXPECT_EQ(10485760, skiff_json_int(json_object_get(s, "cgroup"), "Memory", 0));
	EXPECT_STREQ("/var/lib/skiff/containers/x/hosts", skiff_json_str(json_object_get(s, "etc_files"), "hosts", ""));
	json_decref(s);

	/* default seccomp: key absent; privileged: all caps and unconfined */
	json_object_set_new(c.host_config, "SecurityOpt", json_null());
	json_object_set_new(c.host_config, "Privileged", json_true());
	s = skiff_ctr_build_spec(&c, lower, "host", &err);
	ASSERT_NE(NULL, s);
	EXPECT_TRUE(json_is_null(json_object_get(s, "seccomp")));
	EXPECT_LT(30, json_array_size(json_object_get(s, "caps")));
	EXPECT_STREQ("host", skiff_json_str(json_object_get(s, "namespaces"), "net", ""));
	json_decref(s);
	json_object_set_new(c.host_config, "Privileged", json_false());
	s = skiff_ctr_build_spec(&c, lower, "new", &err);
	EXPECT_EQ(NULL, json_object_get(s, "seccomp"));
	json_decref(s);
	skiff_ctr_free_fields(&c);
}

static json_t *mounts_of(const char *hc_json, struct skiff_error *err)
{
	json_t *hc = json_loads(hc_json, 0, NULL), *m = NULL;
	if (skiff_ctr_mounts(hc, false, &m, err) < 0)
		m = NULL;
	json_decref(hc);
	return m;
}

TEST(mount_parsing)
{
	struct skiff_error err = { 0 };
	json_t *m = mounts_of("{\"Binds\":[\"named:/data\",\"/host:/h:ro,rslave\",\"/anon/\",\"v2:/x:nocopy\"],"
			      "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"mv\",\"Target\":\"/mv\",\"ReadOnly\":true,"
			      "\"VolumeOptions\":{\"NoCopy\":true,\"Labels\":{\"a\":\"b\"},\"DriverConfig\":{\"Options\":"
			      "{\"type\":\"tmpfs\"}}}},{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":"
			      "{\"SizeBytes\":67108864,\"Mode\":1023}},{\"Type\":\"bind\",\"Source\":\"/s\",\"Target\":\"/b\","
			      "\"BindOptions\":{\"Propagation\":\"rshared\"}}],\"Tmpfs\":{\"/run/\":\"size=1m\"}}",
			      &err);
	ASSERT_NE(NULL, m) TH_LOG("%s", err.msg);
	ASSERT_EQ(8, json_array_size(m));
	json_t *e = json_array_get(m, 0);
	EXPECT_STREQ("volume", skiff_json_str(e, "Type", ""));
	EXPECT_STREQ("named", skiff_json_str(e, "Name", ""));
	EXPECT_STREQ("/data", skiff_json_str(e, "Destination", ""));
	EXPECT_STREQ("z", skiff_json_str(e, "Mode", ""));
	EXPECT_STREQ("local", skiff_json_str(e, "Driver", ""));
	EXPECT_TRUE(skiff_json_bool(e, "RW", false));
	e = json_array_get(m, 1);
	EXPECT_STREQ("bind", skiff_json_str(e, "Type", ""));
	EXPECT_STREQ("rslave", skiff_json_str(e, "Propagation", ""));
	EXPECT_FALSE(skiff_json_bool(e, "RW", true));
	e = json_array_get(m, 2); /* a lone path: anonymous volume, trailing slash cleaned */
	EXPECT_STREQ("volume", skiff_json_str(e, "Type", ""));
	EXPECT_STREQ("", skiff_json_str(e, "Name", "x"));
	EXPECT_STREQ("/anon", skiff_json_str(e, "Destination", ""));
	EXPECT_TRUE(skiff_json_bool(json_array_get(m, 3), "NoCopy", false));
	e = json_array_get(m, 4);
	EXPECT_STREQ("mv", skiff_json_str(e, "Name", ""));
	EXPECT_FALSE(skiff_json_bool(e, "RW", true));
	EXPECT_TRUE(skiff_json_bool(e, "NoCopy", false));
	EXPECT_STREQ("b", skiff_json_str(json_object_get(e, "VolumeLabels"), "a", ""));
	EXPECT_STREQ("tmpfs", skiff_json_str(json_object_get(e, "DriverOpts"), "type", ""));
	e = json_array_get(m, 5);
	EXPECT_STREQ("size=64m,mode=1777", skiff_json_str(e, "Options", ""));
	EXPECT_STREQ("rshared", skiff_json_str(json_array_get(m, 6), "Propagation", ""));
	e = json_array_get(m, 7);
	EXPECT_STREQ("/run", skiff_json_str(e, "Destination", ""));
	EXPECT_TRUE(skiff_json_bool(e, "Hidden", false));

	/* the public view: no private keys, no --tmpfs entries */
	json_t *pub = skiff_ctr_mounts_public(m);
	EXPECT_EQ(7, json_array_size(pub));
	char *s = json_dumps(pub, JSON_COMPACT);
	EXPECT_EQ(NULL, strstr(s, "NoCopy"));
	EXPECT_EQ(NULL, strstr(s, "Options"));
	EXPECT_EQ(NULL, strstr(s, "VolumeLabels"));
	EXPECT_EQ(NULL, strstr(s, "\"/run\""));
	free(s);
	s = json_dumps(json_array_get(pub, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
	EXPECT_STREQ("{\"Type\":\"volume\",\"Name\":\"named\",\"Source\":\"\",\"Destination\":\"/data\","
		     "\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"}",
		     s);
	free(s);
	json_decref(pub);

	/* Config.Volumes: anonymous volumes where nothing else is mounted */
	json_t *cfg = json_loads("{\"Volumes\":{\"/data\":{},\"/run\":{},\"/new/\":{}}}", 0, NULL);
	ASSERT_EQ(0, skiff_ctr_config_volumes(cfg, m, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(9, json_array_size(m));
	EXPECT_STREQ("/new", skiff_json_str(json_array_get(m, 8), "Destination", ""));
	EXPECT_STREQ("", skiff_json_str(json_array_get(m, 8), "Mode", "x"));
	json_decref(cfg);
	json_decref(m);

	/* tmpfs sizes Docker's way: the largest unit that divides */
	m = mounts_of("{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/a\",\"TmpfsOptions\":{\"SizeBytes\":1536}},"
		      "{\"Type\":\"tmpfs\",\"Target\":\"/b\",\"TmpfsOptions\":{\"SizeBytes\":1000}},"
		      "{\"Type\":\"tmpfs\",\"Target\":\"/c\",\"TmpfsOptions\":{\"SizeBytes\":2147483648}}]}",
		      &err);
	ASSERT_NE(NULL, m) TH_LOG("%s", err.msg);
	EXPECT_STREQ("size=1536", skiff_json_str(json_array_get(m, 0), "Options", ""));
	EXPECT_STREQ("size=1000", skiff_json_str(json_array_get(m, 1), "Options", ""));
	EXPECT_STREQ("size=2g", skiff_json_str(json_array_get(m, 2), "Options", ""));
	json_decref(m);
}

TEST(volumes_from_parse)
{
	struct skiff_error err = { 0 };
	char *name = NULL;
	int rw = 5;
	ASSERT_EQ(0, skiff_ctr_volumes_from_parse("web", &name, &rw, &err));
	EXPECT_STREQ("web", name);
	EXPECT_EQ(-1, rw);
	free(name);
	ASSERT_EQ(0, skiff_ctr_volumes_from_parse("db:ro", &name, &rw, &err));
	EXPECT_STREQ("db", name);
	EXPECT_EQ(0, rw);
	free(name);
	ASSERT_EQ(0, skiff_ctr_volumes_from_parse("db:rw", &name, &rw, &err));
	EXPECT_EQ(1, rw);
	free(name);
	EXPECT_GT(0, skiff_ctr_volumes_from_parse("db:z", &name, &rw, &err));
	EXPECT_EQ(400, err.status);
}

TEST(spec_mounts_volume_as_bind_parents_first)
{
	struct skiff_ctr c;
	struct skiff_error err = { 0 };
	char *lower[] = { "/l/top", NULL };
	fill(&c, "{\"Image\":\"busybox\",\"Cmd\":[\"true\"],\"HostConfig\":{\"Binds\":[\"/h:/a/b/c\",\"vv:/a\"],"
		 "\"Tmpfs\":{\"/a/b\":\"size=1m\"}}}");
	/* what the manager fills in when it resolves the volume */
	json_object_set_new(json_array_get(c.mounts, 1), "Source", json_string("/vols/v/_data"));
	json_t *s = skiff_ctr_build_spec(&c, lower, "new", &err);
	ASSERT_NE(NULL, s) TH_LOG("%s", err.msg);
	json_t *ms = json_object_get(s, "mounts");
	ASSERT_EQ(3, json_array_size(ms));
	EXPECT_STREQ("/a", skiff_json_str(json_array_get(ms, 0), "target", ""));
	EXPECT_STREQ("bind", skiff_json_str(json_array_get(ms, 0), "type", ""));
	EXPECT_STREQ("/vols/v/_data", skiff_json_str(json_array_get(ms, 0), "source", ""));
	EXPECT_STREQ("/a/b", skiff_json_str(json_array_get(ms, 1), "target", ""));
	EXPECT_STREQ("tmpfs", skiff_json_str(json_array_get(ms, 1), "type", ""));
	EXPECT_STREQ("size=1m", skiff_json_str(json_array_get(ms, 1), "options", ""));
	EXPECT_STREQ("/a/b/c", skiff_json_str(json_array_get(ms, 2), "target", ""));
	json_decref(s);
	skiff_ctr_free_fields(&c);
}

TEST(persisted_round_trip)
{
	struct skiff_ctr c, d;
	struct skiff_error err = { 0 };
	fill(&c, "{\"Image\":\"busybox\",\"Cmd\":[\"true\"]}");
	c.status = SKIFF_CTR_EXITED;
	c.exit_code = 3;
	c.restart_count = 2;
	c.created.tv_sec = 1700000000;
	c.started_at.tv_sec = 1700000001;
	c.finished_at.tv_sec = 1700000002;
	c.has_been_started = true;
	json_t *cfg = skiff_ctr_config_json(&c), *st = skiff_ctr_state_json(&c);
	ASSERT_NE(NULL, cfg);
	ASSERT_NE(NULL, st);
	memset(&d, 0, sizeof(d));
	ASSERT_EQ(0, skiff_ctr_from_json(&d, cfg, st, &err)) TH_LOG("%s", err.msg);
	EXPECT_STREQ(c.id, d.id);
	EXPECT_STREQ("/web", d.name);
	EXPECT_STREQ("true", d.command);
	EXPECT_EQ(SKIFF_CTR_EXITED, d.status);
	EXPECT_EQ(3, d.exit_code);
	EXPECT_EQ(2, d.restart_count);
	EXPECT_EQ(1700000002, d.finished_at.tv_sec);
	EXPECT_TRUE(d.has_been_started);
	json_decref(cfg);
	json_decref(st);
	skiff_ctr_free_fields(&c);
	skiff_ctr_free_fields(&d);
}

TEST(hostconfig_defaults)
{
	json_t *hc = skiff_ctr_hostconfig_normalize(NULL);
	EXPECT_STREQ("bridge", skiff_json_str(hc, "NetworkMode", ""));
	EXPECT_STREQ("no", skiff_json_str(json_object_get(hc, "RestartPolicy"), "Name", ""));
	EXPECT_STREQ("json-file", skiff_json_str(json_object_get(hc, "LogConfig"), "Type", ""));
	EXPECT_EQ(67108864, skiff_json_int(hc, "ShmSize", 0));
	json_decref(hc);
}

TEST(human_durations)
{
	static const struct {
		double s;
		const char *want;
	} cases[] = {
		{ 0.2, "Less than a second" }, { 1, "1 second" },     { 3, "3 seconds" },
		{ 59, "59 seconds" },          { 60, "About a minute" }, { 119, "About a minute" },
		{ 180, "3 minutes" },          { 3600, "About an hour" }, { 7200, "2 hours" },
		{ 3 * 86400, "3 days" },       { 20 * 86400, "2 weeks" }, { 90 * 86400, "3 months" },
		{ 800 * 86400.0, "2 years" },
	};
	char out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].want;
		skiff_human_duration(cases[i].s, out, sizeof(out));
		EXPECT_STREQ(want, out);
	}
}

TEST(status_strings)
{
	struct skiff_ctr c;
	struct timespec now = { 100000, 0 };
	char out[128];
	memset(&c, 0, sizeof(c));
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Created", out);
	c.status = SKIFF_CTR_RUNNING;
	c.started_at.tv_sec = now.tv_sec;
	c.started_at.tv_nsec = 0;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Up Less than a second", out);
	c.started_at.tv_sec = now.tv_sec - 3;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Up 3 seconds", out);
	c.started_at.tv_sec = now.tv_sec - 70;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Up About a minute", out);
	c.status = SKIFF_CTR_PAUSED;
	c.started_at.tv_sec = now.tv_sec - 150;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Up 2 minutes (Paused)", out);
	c.status = SKIFF_CTR_EXITED;
	c.finished_at.tv_sec = now.tv_sec - 7200;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Exited (0) 2 hours ago", out);
	c.exit_code = 137;
	c.finished_at.tv_sec = now.tv_sec - 5;
	skiff_ctr_status_string(&c, &now, out, sizeof(out));
	EXPECT_STREQ("Exited (137) 5 seconds ago", out);
}

TEST(restart_policies)
{
	json_t *always = json_loads("{\"RestartPolicy\":{\"Name\":\"always\"}}", 0, NULL);
	json_t *unless = json_loads("{\"RestartPolicy\":{\"Name\":\"unless-stopped\"}}", 0, NULL);
	json_t *onf = json_loads("{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}}", 0, NULL);
	json_t *no = json_loads("{\"RestartPolicy\":{\"Name\":\"no\"}}", 0, NULL);

	EXPECT_TRUE(skiff_restart_should(always, 0, 5, false, false));
	EXPECT_FALSE(skiff_restart_should(always, 0, 5, true, false));
	EXPECT_TRUE(skiff_restart_should(always, 0, 5, true, true));
	EXPECT_TRUE(skiff_restart_should(unless, 0, 0, false, true));
	EXPECT_FALSE(skiff_restart_should(unless, 0, 0, true, true));
	EXPECT_FALSE(skiff_restart_should(onf, 0, 0, false, false));
	EXPECT_TRUE(skiff_restart_should(onf, 1, 1, false, false));
	EXPECT_FALSE(skiff_restart_should(onf, 1, 2, false, false));
	EXPECT_FALSE(skiff_restart_should(no, 1, 0, false, false));

	struct skiff_restart_state st = { 0 };
	EXPECT_EQ(100, skiff_restart_next_delay(&st, 0.1));
	EXPECT_EQ(200, skiff_restart_next_delay(&st, 0.1));
	EXPECT_EQ(400, skiff_restart_next_delay(&st, 0.1));
	EXPECT_EQ(100, skiff_restart_next_delay(&st, 11));
	json_decref(always);
	json_decref(unless);
	json_decref(onf);
	json_decref(no);
}

TEST(resolv_conf_filter)
{
	char *s = skiff_resolv_conf_filter("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n");
	EXPECT_STREQ("search lan\nnameserver 10.0.0.1\noptions edns0\n", s);
	free(s);
	s = skiff_resolv_conf_filter("nameserver 127.0.0.1\n");
	EXPECT_STREQ("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", s);
	free(s);
}

TEST_HARNESS_MAIN
