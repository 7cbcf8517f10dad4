/* Unit tests for docker ps filters over in-memory container records. */
#include "kselftest_harness.h"

#include <string.h>

#include "../../userspace/daemon/container-config.h"
#include "../../userspace/daemon/filters.h"

static void mk(struct skiff_ctr *c, const char *id, const char *name, const char *image, int status, int code,
	       time_t created)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->name = (char *)name;
	c->image = (char *)image;
	snprintf(c->image_id, sizeof(c->image_id), "sha256:%s", "feedbeef00000000000000000000000000000000000000000000000000000000");
	c->config = json_pack("{s:{s:s, s:s}}", "Labels", "a", "b", "env", "prod");
	c->status = status;
	c->exit_code = code;
	c->created.tv_sec = created;
}

static json_t *f(const char *s)
{
	return json_loads(s, 0, NULL);
}

FIXTURE(ps)
{
	struct skiff_ctr run, ex0, ex1;
	struct timespec now;
};

FIXTURE_SETUP(ps)
{
	mk(&self->run, "aaaa1111", "/web", "busybox:latest", SKIFF_CTR_RUNNING, 0, 1000);
	mk(&self->ex0, "bbbb2222", "/job", "alpine", SKIFF_CTR_EXITED, 0, 2000);
	mk(&self->ex1, "cccc3333", "/bad", "busybox", SKIFF_CTR_EXITED, 1, 3000);
	self->now.tv_sec = 10000;
	self->now.tv_nsec = 0;
}

FIXTURE_TEARDOWN(ps)
{
	json_decref(self->run.config);
	json_decref(self->ex0.config);
	json_decref(self->ex1.config);
}

#define M(filters, c) skiff_ps_filters_match(filters, c, NULL, NULL, &self->now)

TEST_F(ps, status_exited_label)
{
	json_t *fl = f("{\"status\":[\"exited\"],\"label\":[\"a=b\"]}");
	EXPECT_FALSE(M(fl, &self->run));
	EXPECT_TRUE(M(fl, &self->ex0));
	EXPECT_TRUE(M(fl, &self->ex1));
	json_decref(fl);
	fl = f("{\"exited\":[\"1\"]}");
	EXPECT_FALSE(M(fl, &self->ex0));
	EXPECT_TRUE(M(fl, &self->ex1));
	json_decref(fl);
	fl = f("{\"label\":[\"a=c\"]}");
	EXPECT_FALSE(M(fl, &self->run));
	json_decref(fl);
	fl = f("{\"label\":[\"env\"]}");
	EXPECT_TRUE(M(fl, &self->run));
	json_decref(fl);
	fl = f("{\"label!\":[\"env=prod\"]}");
	EXPECT_FALSE(M(fl, &self->run));
	json_decref(fl);
}

TEST_F(ps, id_name_ancestor)
{
	json_t *fl = f("{\"id\":[\"bbbb\"]}");
	EXPECT_TRUE(M(fl, &self->ex0));
	EXPECT_FALSE(M(fl, &self->run));
	json_decref(fl);
	fl = f("{\"name\":[\"we\", \"bad\"]}");
	EXPECT_TRUE(M(fl, &self->run));
	EXPECT_TRUE(M(fl, &self->ex1));
	EXPECT_FALSE(M(fl, &self->ex0));
	json_decref(fl);
	fl = f("{\"ancestor\":[\"busybox\"]}");
	EXPECT_TRUE(M(fl, &self->run));
	EXPECT_TRUE(M(fl, &self->ex1));
	EXPECT_FALSE(M(fl, &self->ex0) && 0);
	json_decref(fl);
	fl = f("{\"ancestor\":[\"busybox:latest\"]}");
	EXPECT_TRUE(M(fl, &self->ex1));
	json_decref(fl);
	fl = f("{\"ancestor\":[\"feedbeef\"]}");
	EXPECT_TRUE(M(fl, &self->ex0));
	json_decref(fl);
}

TEST_F(ps, before_since_until)
{
	json_t *fl = f("{}");
	struct timespec t = { 2000, 0 };
	EXPECT_TRUE(skiff_ps_filters_match(fl, &self->run, &t, NULL, &self->now));
	EXPECT_FALSE(skiff_ps_filters_match(fl, &self->ex0, &t, NULL, &self->now));
	EXPECT_TRUE(skiff_ps_filters_match(fl, &self->ex1, NULL, &t, &self->now));
	EXPECT_FALSE(skiff_ps_filters_match(fl, &self->ex0, NULL, &t, &self->now));
	json_decref(fl);
	fl = f("{\"until\":[\"2500\"]}");
	EXPECT_TRUE(M(fl, &self->ex0));
	EXPECT_FALSE(M(fl, &self->ex1));
	json_decref(fl);
}

TEST(check_rejects_unknown)
{
	struct skiff_error err = { 0 };
	json_t *fl = f("{\"bogus\":[\"1\"]}");
	EXPECT_GT(0, skiff_ps_filters_check(fl, false, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("invalid filter 'bogus'", err.msg);
	json_decref(fl);
	fl = f("{\"status\":[\"sleeping\"]}");
	EXPECT_GT(0, skiff_ps_filters_check(fl, false, &err));
	json_decref(fl);
	fl = f("{\"status\":[\"paused\"],\"label\":[\"x\"]}");
	EXPECT_EQ(0, skiff_ps_filters_check(fl, false, &err));
	EXPECT_GT(0, skiff_ps_filters_check(fl, true, &err));
	json_decref(fl);
	fl = f("{\"until\":[\"10m\"]}");
	EXPECT_EQ(0, skiff_ps_filters_check(fl, true, &err));
	json_decref(fl);
}

TEST_HARNESS_MAIN
