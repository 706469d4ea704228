/* test_worker.c — workers: two loops on one port, reached across threads.
 *
 * Worker 0 runs on the test's own loop (as on the daemon's main loop),
 * worker 1 on its thread.  Checked: both bind the same address
 * (SO_REUSEPORT); worker_call() runs the function on the worker's own
 * thread and waits for it; clients sent from many source ports reach both
 * workers; a stopped worker refuses calls instead of hanging; teardown
 * frees everything (run under ASan and TSan).  Only 127.0.0.1 is used,
 * and the queries (class CH) are answered by the server itself, so nothing
 * goes upstream. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cache.h"
#include "config.h"
#include "hints.h"
#include "infra.h"
#include "leak.h"
#include "worker.h"

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must point at the source tree (set in tests/unit/meson.build)"
#endif

static struct config cfg;
static struct cache *cache;
static struct infra *infra;
static struct hints *hints;
static uv_loop_t loop;
static struct worker *w[2];
static char conf_path[64];
static int port;

static void write_config(void)
{
	FILE *f;
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/test_worker.XXXXXX");
	fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	/* a port of our own, away from other tests running at once */
	port = 20000 + (int)(getpid() % 20000);
	fprintf(f, "listen: 127.0.0.1@%d\nroot-hints: %s/root.hints\nusername: \"\"\n"
		   "workers: 2\n", port, SOURCE_ROOT);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	char err[256];
	struct worker_env env = { .cfg = &cfg };

	write_config();
	config_init(&cfg);
	ck_assert_msg(config_load(&cfg, conf_path, err, sizeof(err)) == 0, "%s", err);
	cache = cache_new(1 << 20, NULL);
	infra = infra_new(100, 60000);
	hints = hints_load(cfg.root_hints, err, sizeof(err));
	ck_assert(cache && infra && hints);
	env.iter.cache = cache;
	env.iter.infra = infra;
	env.iter.hints = hints;
	env.iter.lim.max_referrals = 10;
	env.iter.lim.max_cname_chain = 8;
	env.iter.lim.max_upstream_queries = 10;
	env.iter.lim.max_subquery_depth = 3;
	env.iter.do_ip4 = true;
	env.up.edns_buffer_size = 1232;
	env.up.tcp_timeout_ms = 1000;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(worker_new(&env, 0, &loop, &w[0]), 0);
	ck_assert_int_eq(worker_new(&env, 1, NULL, &w[1]), 0);
	ck_assert_int_eq(worker_listen(w[0]), 0);
	ck_assert_int_eq(worker_listen(w[1]), 0);
	ck_assert_int_eq(worker_start(w[0]), 0);
	ck_assert_int_eq(worker_start(w[1]), 0);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void teardown(void)
{
	worker_stop(w[1]);
	worker_close(w[0]);
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	worker_free(w[0]);
	worker_free(w[1]);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	hints_free(hints);
	infra_free(infra);
	cache_free(cache);
	config_free(&cfg);
	unlink(conf_path);
	assert_no_leaks();
}

/* ---- worker_call ---------------------------------------------------- */

struct where {
	pthread_t thread;
	unsigned index;
	int calls;
};

static void note_where(struct worker *wk, void *ud)
{
	struct where *at = ud;

	at->thread = pthread_self();
	at->index = worker_index(wk);
	at->calls++;
}

START_TEST(call_runs_on_the_workers_thread)
{
	struct where at0 = {0}, at1 = {0};

	ck_assert_int_eq(worker_call(w[0], note_where, &at0), 0);
	ck_assert_int_eq(worker_call(w[1], note_where, &at1), 0);
	ck_assert_int_eq(at0.calls, 1);
	ck_assert_int_eq(at1.calls, 1);
	ck_assert_uint_eq(at1.index, 1);
	/* worker 0 shares our thread; worker 1 has its own */
	ck_assert(pthread_equal(at0.thread, pthread_self()));
	ck_assert(!pthread_equal(at1.thread, pthread_self()));
	/* many calls in a row each wait for their turn */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(worker_call(w[1], note_where, &at1), 0);
	ck_assert_int_eq(at1.calls, 101);
}
END_TEST

START_TEST(a_stopped_worker_refuses_calls)
{
	struct where at = {0};
	struct worker_stats st;

	worker_stop(w[1]);
	worker_stop(w[1]); /* idempotent */
	ck_assert_int_eq(worker_call(w[1], note_where, &at), -1);
	ck_assert_int_eq(at.calls, 0);
	ck_assert_int_eq(worker_get_stats(w[1], &st), -1);
}
END_TEST

/* ---- the shared port ---------------------------------------------- */

/* A CH-class query: the server answers it itself (REFUSED). */
static size_t ch_query(uint8_t *q, uint16_t id)
{
	static const uint8_t tail[] = { 2, 'i', 'd', 6, 's', 'e', 'r', 'v', 'e', 'r', 0,
					0, 16, 0, 3 };

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[5] = 1;
	memcpy(q + 12, tail, sizeof(tail));
	return 12 + sizeof(tail);
}

/* Send from a fresh socket (a new source port), run worker 0's loop until
 * the answer is back.  Returns 1 when it was answered. */
static int ask_once(uint16_t id)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t q[64], r[512];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	size_t n = ch_query(q, id);
	int got = 0;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	ck_assert_int_eq(sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)n);
	for (int i = 0; i < 2000 && !got; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (recv(fd, r, sizeof(r), 0) >= 12)
			got = r[0] == q[0] && r[1] == q[1];
		else
			usleep(1000);
	}
	close(fd);
	return got;
}

START_TEST(both_workers_serve_the_same_port)
{
	struct worker_stats s0, s1;
	int answered = 0;

	for (int i = 0; i < 64; i++)
		answered += ask_once((uint16_t)(i + 1));
	ck_assert_int_eq(answered, 64);
	ck_assert_int_eq(worker_get_stats(w[0], &s0), 0);
	ck_assert_int_eq(worker_get_stats(w[1], &s1), 0);
	ck_assert_uint_eq(s0.srv.udp_queries + s1.srv.udp_queries, 64);
	/* 64 source ports: all landing on one socket would be a 2^-63 event */
	ck_assert_uint_gt(s0.srv.udp_queries, 0);
	ck_assert_uint_gt(s1.srv.udp_queries, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, call_runs_on_the_workers_thread);
	tcase_add_test(t, a_stopped_worker_refuses_calls);
	tcase_add_test(t, both_workers_serve_the_same_port);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
