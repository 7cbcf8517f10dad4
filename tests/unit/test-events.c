/* Tests for userspace/daemon/events.c: event shape, ring replay with since,
 * live fan-out, unsubscribe from a callback, and Docker's filter rules. */
#include "kselftest_harness.h"

#include <string.h>

#include "../../userspace/daemon/events.h"
#include "../../userspace/lib/json.h"

struct collect {
	json_t *got;
	struct skiff_events *ev;
	void *self;
	bool unsub_in_cb;
};

static void collect_cb(json_t *e, void *data)
{
	struct collect *c = data;
	json_array_append(c->got, e);
	if (c->unsub_in_cb && c->self)
		skiff_events_unsubscribe(c->ev, c->self);
}

static json_t *filters(const char *s)
{
	/* {"k":["v"...]} already in the parsed form */
	return json_loads(s, 0, NULL);
}

TEST(event_shape)
{
	struct skiff_events *ev = skiff_events_new();
	struct collect c = { .got = json_array() };
	struct timespec zero = { 0 };
	void *h;

	skiff_events_emit(ev, "container", "start", "abc123",
			  json_pack("{s:s,s:s}", "name", "web", "image", "busybox"));
	skiff_events_emit(ev, "image", "tag", "sha256:ff", json_pack("{s:s}", "name", "busybox:latest"));
	h = skiff_events_subscribe(ev, &zero, collect_cb, &c);
	ASSERT_EQ(2, json_array_size(c.got));
	json_t *e = json_array_get(c.got, 0);
	EXPECT_STREQ("container", skiff_json_str(e, "Type", ""));
	EXPECT_STREQ("start", skiff_json_str(e, "Action", ""));
	EXPECT_STREQ("start", skiff_json_str(e, "status", ""));
	EXPECT_STREQ("abc123", skiff_json_str(e, "id", ""));
	EXPECT_STREQ("busybox", skiff_json_str(e, "from", ""));
	EXPECT_STREQ("local", skiff_json_str(e, "scope", ""));
	EXPECT_STREQ("abc123", skiff_json_str(json_object_get(e, "Actor"), "ID", ""));
	EXPECT_STREQ("web", skiff_json_str(json_object_get(json_object_get(e, "Actor"), "Attributes"), "name", ""));
	EXPECT_GT(skiff_json_int(e, "timeNano", 0), 0);
	EXPECT_EQ(skiff_json_int(e, "timeNano", 0) / 1000000000LL, skiff_json_int(e, "time", 0));
	json_t *i = json_array_get(c.got, 1);
	EXPECT_EQ(NULL, json_object_get(i, "from"));
	EXPECT_LT(skiff_json_int(e, "timeNano", 0), skiff_json_int(i, "timeNano", 0));

	/* live */
	skiff_events_emit(ev, "container", "die", "abc123", NULL);
	EXPECT_EQ(3, json_array_size(c.got));
	skiff_events_unsubscribe(ev, h);
	skiff_events_emit(ev, "container", "destroy", "abc123", NULL);
	EXPECT_EQ(3, json_array_size(c.got));
	json_decref(c.got);
	skiff_events_free(ev);
}

TEST(since_and_no_replay)
{
	struct skiff_events *ev = skiff_events_new();
	struct collect c = { .got = json_array() };
	struct timespec mid;
	void *h;

	skiff_events_emit(ev, "container", "create", "a", NULL);
	mid = skiff_now();
	mid.tv_nsec += 1;
	skiff_events_emit(ev, "container", "start", "a", NULL);
	h = skiff_events_subscribe(ev, NULL, collect_cb, &c);
	EXPECT_EQ(0, json_array_size(c.got));
	skiff_events_unsubscribe(ev, h);
	h = skiff_events_subscribe(ev, &mid, collect_cb, &c);
	ASSERT_EQ(1, json_array_size(c.got));
	EXPECT_STREQ("start", skiff_json_str(json_array_get(c.got, 0), "Action", ""));
	skiff_events_unsubscribe(ev, h);
	json_decref(c.got);
	skiff_events_free(ev);
}

TEST(ring_is_bounded)
{
	struct skiff_events *ev = skiff_events_new();
	struct collect c = { .got = json_array() };
	struct timespec zero = { 0 };

	for (int i = 0; i < 3000; i++)
		skiff_events_emit(ev, "container", "start", "x", NULL);
	void *h = skiff_events_subscribe(ev, &zero, collect_cb, &c);
	EXPECT_GE(json_array_size(c.got), 1000);
	EXPECT_LT(json_array_size(c.got), 3000);
	skiff_events_unsubscribe(ev, h);
	json_decref(c.got);
	skiff_events_free(ev);
}

TEST(unsubscribe_inside_callback)
{
	struct skiff_events *ev = skiff_events_new();
	struct collect a = { .got = json_array(), .ev = ev, .unsub_in_cb = true };
	struct collect b = { .got = json_array(), .ev = ev };

	a.self = skiff_events_subscribe(ev, NULL, collect_cb, &a);
	void *hb = skiff_events_subscribe(ev, NULL, collect_cb, &b);
	skiff_events_emit(ev, "container", "start", "x", NULL);
	skiff_events_emit(ev, "container", "stop", "x", NULL);
	EXPECT_EQ(1, json_array_size(a.got));
	EXPECT_EQ(2, json_array_size(b.got));
	skiff_events_unsubscribe(ev, hb);
	json_decref(a.got);
	json_decref(b.got);
	skiff_events_free(ev);
}

static json_t *mk(struct skiff_events *ev, const char *type, const char *action, const char *id, json_t *attrs)
{
	struct collect c = { .got = json_array() };
	void *h = skiff_events_subscribe(ev, NULL, collect_cb, &c);
	skiff_events_emit(ev, type, action, id, attrs);
	skiff_events_unsubscribe(ev, h);
	json_t *e = json_incref(json_array_get(c.got, 0));
	json_decref(c.got);
	return e;
}

TEST(docker_filter_rules)
{
	struct skiff_events *ev = skiff_events_new();
	json_t *start = mk(ev, "container", "start", "d0f631ca1ddb1234",
			   json_pack("{s:s,s:s,s:s}", "name", "web", "image", "busybox:latest", "a", "b"));
	json_t *tag = mk(ev, "image", "tag", "sha256:ff00", json_pack("{s:s}", "name", "127.0.0.1:5000/bb:1"));
	json_t *exec = mk(ev, "container", "exec_start: sh -c true", "d0f631ca1ddb1234", NULL);
	struct {
		const char *f;
		json_t *e;
		int want;
	} cases[] = {
		{ "{}", start, 1 },
		{ "{\"type\":[\"container\"]}", start, 1 },
		{ "{\"type\":[\"container\"]}", tag, 0 },
		{ "{\"type\":[\"network\",\"image\"]}", tag, 1 },
		{ "{\"event\":[\"start\"]}", start, 1 },
		{ "{\"event\":[\"stop\"]}", start, 0 },
		{ "{\"event\":[\"exec_start\"]}", exec, 1 },
		{ "{\"container\":[\"d0f631\"]}", start, 1 },
		{ "{\"container\":[\"web\"]}", start, 1 },
		{ "{\"container\":[\"db\"]}", start, 0 },
		{ "{\"container\":[\"web\"]}", tag, 0 },
		{ "{\"image\":[\"busybox\"]}", start, 1 },
		{ "{\"image\":[\"busybox:latest\"]}", start, 1 },
		{ "{\"image\":[\"127.0.0.1:5000/bb\"]}", tag, 1 },
		{ "{\"image\":[\"sha256:ff00\"]}", tag, 1 },
		{ "{\"image\":[\"alpine\"]}", start, 0 },
		{ "{\"label\":[\"a\"]}", start, 1 },
		{ "{\"label\":[\"a=b\"]}", start, 1 },
		{ "{\"label\":[\"a=c\"]}", start, 0 },
		{ "{\"label\":[\"a=b\",\"zz\"]}", start, 0 },
		{ "{\"type\":[\"container\"],\"container\":[\"web\"],\"event\":[\"start\",\"die\"]}", start, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *f = filters(cases[i].f);
		ASSERT_NE(NULL, f);
		EXPECT_EQ(cases[i].want, skiff_events_match(cases[i].e, f)) TH_LOG("case %zu: %s", i, cases[i].f);
		json_decref(f);
	}
	json_decref(start);
	json_decref(tag);
	json_decref(exec);
	skiff_events_free(ev);
}

TEST_HARNESS_MAIN
