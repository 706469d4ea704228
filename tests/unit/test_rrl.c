/* test_rrl.c — response rate limiting: bucket arithmetic on a fake clock,
 * slip, client prefixes, the table's bound and eviction order, two
 * threads sharing one table, the slipped reply, and the rrl-* settings
 * (parsed, documented with their real defaults, errors with file:line). */
#include "rrl.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "leak.h"

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must point at the source tree (set in tests/unit/meson.build)"
#endif

static struct rrl *t;

static void teardown(void)
{
	rrl_free(t);
	t = NULL;
	assert_no_leaks();
}

static struct rrl *table(uint32_t rate, uint32_t slip, uint32_t v4, uint32_t v6, uint32_t size)
{
	struct rrl_opts o = {
		.responses_per_second = rate, .slip = slip,
		.ipv4_prefix = v4, .ipv6_prefix = v6, .table_size = size,
	};
	struct rrl *r = rrl_new(&o);

	ck_assert_ptr_nonnull(r);
	return r;
}

/* "192.0.2.1" or "2001:db8::1" as a sockaddr (port irrelevant). */
static const struct sockaddr *addr(const char *text)
{
	static struct sockaddr_storage ss[8];
	static unsigned next;
	struct sockaddr_storage *s = &ss[next++ % 8];

	memset(s, 0, sizeof(*s));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)s;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(4242);
		ck_assert_int_eq(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)s;
		a->sin_family = AF_INET;
		a->sin_port = htons(4242);
		ck_assert_int_eq(inet_pton(AF_INET, text, &a->sin_addr), 1);
	}
	return (const struct sockaddr *)s;
}

static enum rrl_verdict check(const char *client, uint64_t now_ms)
{
	return rrl_check(t, addr(client), now_ms);
}

/* How many of n responses at now_ms go out whole. */
static unsigned sends(const char *client, uint64_t now_ms, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += check(client, now_ms) == RRL_SEND;
	return ok;
}

/* ---- bucket arithmetic ------------------------------------------------ */

START_TEST(burst_is_one_second_of_rate)
{
	t = table(10, 0, 24, 56, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 1000, 25), 10);
}
END_TEST

START_TEST(refill_is_rate_per_ms)
{
	t = table(10, 0, 24, 56, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 10), 10);
	/* 10/s is one response per 100 ms: half a token at 50 ms ... */
	ck_assert_int_eq(check("192.0.2.1", 50), RRL_DROP);
	/* ... the other half by 100 ms, and it is taken at once */
	ck_assert_int_eq(check("192.0.2.1", 100), RRL_SEND);
	ck_assert_int_eq(check("192.0.2.1", 100), RRL_DROP);
	/* 350 ms later: three and a half tokens */
	ck_assert_uint_eq(sends("192.0.2.1", 450, 10), 3);
	ck_assert_int_eq(check("192.0.2.1", 500), RRL_SEND);
	/* idle for long: full again, but never more than one second's worth */
	ck_assert_uint_eq(sends("192.0.2.1", 3600 * 1000, 100), 10);
}
END_TEST

START_TEST(clock_going_back_adds_nothing)
{
	t = table(10, 0, 24, 56, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 5000, 10), 10);
	/* another thread's loop clock a little behind ours */
	ck_assert_int_eq(check("192.0.2.1", 4990), RRL_DROP);
	/* and the bucket's time did not move back: 100 ms after 5000, not 4990 */
	ck_assert_int_eq(check("192.0.2.1", 5099), RRL_DROP);
	ck_assert_int_eq(check("192.0.2.1", 5100), RRL_SEND);
}
END_TEST

START_TEST(steady_rate_over_ten_seconds)
{
	unsigned ok = 0;

	t = table(50, 0, 24, 56, 1024);
	/* 200 responses a second for 10 s, one every 5 ms */
	for (uint64_t now = 0; now < 10000; now += 5)
		ok += check("198.51.100.9", now) == RRL_SEND;
	/* the first second's burst, then exactly 50/s */
	ck_assert_uint_eq(ok, 50 + 50 * 10 - 1);
}
END_TEST

/* ---- slip ------------------------------------------------------------- */

START_TEST(slip_every_nth_limited_starting_with_the_first)
{
	static const enum rrl_verdict want[] = {
		RRL_SEND, RRL_SLIP, RRL_DROP, RRL_DROP, RRL_SLIP, RRL_DROP, RRL_DROP, RRL_SLIP,
	};

	t = table(1, 3, 24, 56, 1024);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(check("192.0.2.1", 0), want[i]);
}
END_TEST

START_TEST(slip_one_slips_all_slip_zero_drops_all)
{
	t = table(1, 1, 24, 56, 1024);
	ck_assert_int_eq(check("192.0.2.1", 0), RRL_SEND);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(check("192.0.2.1", 0), RRL_SLIP);
	rrl_free(t);
	t = table(1, 0, 24, 56, 1024);
	ck_assert_int_eq(check("192.0.2.1", 0), RRL_SEND);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(check("192.0.2.1", 0), RRL_DROP);
}
END_TEST

START_TEST(slip_two_halves_the_limited)
{
	unsigned slipped = 0, dropped = 0;

	t = table(5, 2, 24, 56, 1024);
	for (int i = 0; i < 105; i++) {
		enum rrl_verdict v = check("192.0.2.1", 0);
		slipped += v == RRL_SLIP;
		dropped += v == RRL_DROP;
	}
	ck_assert_uint_eq(slipped, 50);
	ck_assert_uint_eq(dropped, 50);
}
END_TEST

/* ---- prefixes --------------------------------------------------------- */

START_TEST(ipv4_slash24_shared_neighbours_apart)
{
	t = table(2, 0, 24, 56, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 1), 1);
	ck_assert_uint_eq(sends("192.0.2.200", 0, 5), 1); /* same /24: one left */
	ck_assert_uint_eq(sends("192.0.3.1", 0, 5), 2);   /* next /24: its own */
	ck_assert_uint_eq(sends("10.0.2.1", 0, 5), 2);
	/* a v4-mapped IPv6 client is its IPv4 self */
	ck_assert_int_eq(check("::ffff:192.0.2.77", 0), RRL_DROP);
	ck_assert_uint_eq(sends("::ffff:192.0.9.1", 0, 5), 2);
}
END_TEST

START_TEST(ipv6_slash56)
{
	t = table(2, 0, 24, 56, 1024);
	ck_assert_uint_eq(sends("2001:db8:0:1::1", 0, 1), 1);
	/* bits 56..63 differ: same /56 */
	ck_assert_uint_eq(sends("2001:db8:0:ff::53", 0, 5), 1);
	/* bit 55 differs: another /56 */
	ck_assert_uint_eq(sends("2001:db8:0:100::1", 0, 5), 2);
	/* an IPv6 prefix is never an IPv4 one, even with the same leading bytes */
	ck_assert_uint_eq(sends("32.1.13.184", 0, 5), 2);
}
END_TEST

START_TEST(prefix_lengths_configurable)
{
	t = table(1, 0, 32, 128, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 3), 1);
	ck_assert_uint_eq(sends("192.0.2.2", 0, 3), 1);
	ck_assert_uint_eq(sends("2001:db8::1", 0, 3), 1);
	ck_assert_uint_eq(sends("2001:db8::2", 0, 3), 1);
	rrl_free(t);
	/* odd lengths: a /23 spans 192.0.2.0 - 192.0.3.255 */
	t = table(1, 0, 23, 47, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 3), 1);
	ck_assert_uint_eq(sends("192.0.3.254", 0, 3), 0);
	ck_assert_uint_eq(sends("192.0.4.1", 0, 3), 1);
	ck_assert_uint_eq(sends("2001:db8:0::1", 0, 3), 1);
	ck_assert_uint_eq(sends("2001:db8:1::1", 0, 3), 0); /* bit 47 is in the host part */
	ck_assert_uint_eq(sends("2001:db8:2::1", 0, 3), 1);
	rrl_free(t);
	/* /0: one bucket for every client of the family */
	t = table(1, 0, 0, 0, 1024);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 3), 1);
	ck_assert_uint_eq(sends("203.0.113.1", 0, 3), 0);
	ck_assert_uint_eq(sends("2001:db8::1", 0, 3), 1);
	ck_assert_uint_eq(sends("fe80::1", 0, 3), 0);
}
END_TEST

START_TEST(other_families_never_limited)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	t = table(1, 0, 24, 56, 1024);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rrl_check(t, (struct sockaddr *)&un, 0), RRL_SEND);
	ck_assert_uint_eq(rrl_entries(t), 0);
}
END_TEST

/* ---- the table's bound ------------------------------------------------ */

static void client_n(char *buf, size_t len, unsigned n)
{
	snprintf(buf, len, "10.%u.%u.1", (n >> 8) & 0xff, n & 0xff);
}

START_TEST(table_never_grows_past_its_size)
{
	char who[32];

	t = table(5, 2, 24, 56, 100);
	ck_assert_uint_eq(rrl_capacity(t), 96); /* 12 sets of 8 */
	for (unsigned i = 0; i < 20000; i++) {
		client_n(who, sizeof(who), i);
		check(who, i);
	}
	ck_assert_uint_eq(rrl_entries(t), 96);
	rrl_free(t);
	t = table(5, 2, 24, 56, 3);
	ck_assert_uint_eq(rrl_capacity(t), 3);
	for (unsigned i = 0; i < 100; i++) {
		client_n(who, sizeof(who), i);
		check(who, i);
	}
	ck_assert_uint_eq(rrl_entries(t), 3);
}
END_TEST

/* One set of 8: the prefix seen least recently is the one forgotten, and
 * a forgotten prefix starts again with a full bucket. */
static void fill_then_others(unsigned others)
{
	char who[32];

	t = table(1, 0, 24, 56, 8);
	ck_assert_uint_eq(rrl_capacity(t), 8);
	ck_assert_uint_eq(sends("192.0.2.1", 0, 2), 1);
	for (unsigned i = 1; i <= others; i++) {
		client_n(who, sizeof(who), i);
		ck_assert_int_eq(check(who, i), RRL_SEND);
	}
}

START_TEST(eviction_takes_the_oldest)
{
	fill_then_others(8); /* the 8th newcomer pushes out 192.0.2.0/24 */
	ck_assert_int_eq(check("192.0.2.1", 20), RRL_SEND);
	/* and it took the slot of the oldest newcomer, 10.0.1.0/24: the next
	 * one is still remembered (empty bucket), 10.0.1.0/24 starts full */
	ck_assert_uint_eq(sends("10.0.2.1", 21, 2), 0);
	ck_assert_uint_eq(sends("10.0.1.1", 21, 2), 1);
}
END_TEST

START_TEST(below_capacity_nothing_is_forgotten)
{
	fill_then_others(7);
	ck_assert_int_eq(check("192.0.2.1", 20), RRL_DROP);
	ck_assert_uint_eq(rrl_entries(t), 8);
}
END_TEST

/* ---- two threads, one table -------------------------------------------- */

#define THREAD_CHECKS 100000

static pthread_barrier_t start_line; /* both threads start at once */

struct worker {
	const struct sockaddr *client;
	uint64_t now_step; /* 0: a frozen clock */
	unsigned send, slip, drop;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < THREAD_CHECKS; i++) {
		switch (rrl_check(t, w->client, w->now_step * i)) {
		case RRL_SEND: w->send++; break;
		case RRL_SLIP: w->slip++; break;
		case RRL_DROP: w->drop++; break;
		}
	}
	return NULL;
}

static void run_two(struct worker *a, struct worker *b)
{
	pthread_t ta, tb;

	ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&ta, NULL, worker_run, a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, worker_run, b), 0);
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(pthread_join(tb, NULL), 0);
	ck_assert_int_eq(pthread_barrier_destroy(&start_line), 0);
}

/* With the clock frozen, the two threads together get exactly one bucket:
 * a lost update (two threads taking the same token, or a slip count
 * skipped) would show as a count off by some.  The bucket is deep enough
 * that both threads spend a long time taking tokens side by side. */
START_TEST(two_threads_one_prefix_share_one_bucket)
{
	struct sockaddr_storage ca;
	struct worker a = { 0 }, b = { 0 };

	memcpy(&ca, addr("192.0.2.1"), sizeof(struct sockaddr_in));
	a.client = b.client = (struct sockaddr *)&ca;
	t = table(THREAD_CHECKS, 2, 24, 56, 1024);
	run_two(&a, &b);
	ck_assert_uint_eq(a.send + b.send, THREAD_CHECKS);
	ck_assert_uint_eq(a.slip + b.slip, THREAD_CHECKS / 2);
	ck_assert_uint_eq(a.drop + b.drop, THREAD_CHECKS / 2);
}
END_TEST

/* Different prefixes in one set (one lock, slots side by side), each
 * thread with its own moving clock: each bucket's arithmetic holds as if
 * its thread were alone. */
START_TEST(two_threads_two_prefixes_do_not_interfere)
{
	struct sockaddr_storage ca, cb;
	struct worker a = { 0 }, b = { 0 };

	memcpy(&ca, addr("192.0.2.1"), sizeof(struct sockaddr_in));
	memcpy(&cb, addr("2001:db8::1"), sizeof(struct sockaddr_in6));
	a.client = (struct sockaddr *)&ca;
	b.client = (struct sockaddr *)&cb;
	a.now_step = b.now_step = 1; /* 1 ms per check: 10/s refills 1 per 100 */
	t = table(10, 0, 24, 56, 8);
	run_two(&a, &b);
	/* 10 at once, then one per 100 ms over 99.999 s */
	ck_assert_uint_eq(a.send, 10 + (THREAD_CHECKS - 1) / 100);
	ck_assert_uint_eq(b.send, 10 + (THREAD_CHECKS - 1) / 100);
}
END_TEST

/* ---- the slipped reply ------------------------------------------------ */

/* A response to www.example. A: header, question, one A record. */
static size_t response(uint8_t *m)
{
	static const uint8_t hdr[12] = { 0xbe, 0xef, 0x81, 0x83, 0, 1, 0, 1, 0, 2, 0, 1 };
	static const uint8_t q[] = { 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
				     0, 1, 0, 1 };
	static const uint8_t an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };

	memcpy(m, hdr, sizeof(hdr));
	memcpy(m + 12, q, sizeof(q));
	memcpy(m + 12 + sizeof(q), an, sizeof(an));
	return 12 + sizeof(q) + sizeof(an);
}

START_TEST(slip_reply_keeps_header_and_question_only)
{
	uint8_t m[128], out[RRL_SLIP_MAX];
	size_t len = response(m);
	size_t n = rrl_slip_reply(m, len, out, sizeof(out));

	ck_assert_uint_eq(n, 12 + 13 + 4);
	ck_assert_uint_eq(out[0], 0xbe); /* ID kept */
	ck_assert_uint_eq(out[1], 0xef);
	ck_assert_uint_eq(out[2], 0x81 | 0x02); /* QR, RD kept; TC set */
	ck_assert_uint_eq(out[3], 0x83);        /* RA and the rcode kept */
	ck_assert_uint_eq(out[5], 1);
	for (int i = 6; i < 12; i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert(memcmp(out + 12, m + 12, 17) == 0);
}
END_TEST

START_TEST(slip_reply_refuses_what_it_cannot_cut)
{
	uint8_t m[128], out[RRL_SLIP_MAX];
	size_t len = response(m);

	ck_assert_uint_eq(rrl_slip_reply(m, 11, out, sizeof(out)), 0);   /* no header */
	ck_assert_uint_eq(rrl_slip_reply(m, 12 + 14, out, sizeof(out)), 0); /* cut question */
	ck_assert_uint_eq(rrl_slip_reply(m, len, out, 20), 0);           /* no room */
	m[5] = 2;                                                         /* QDCOUNT 2 */
	ck_assert_uint_eq(rrl_slip_reply(m, len, out, sizeof(out)), 0);
	m[5] = 1;
	m[12] = 0xc0; /* a pointer where the question name starts */
	ck_assert_uint_eq(rrl_slip_reply(m, len, out, sizeof(out)), 0);
	m[5] = 0; /* no question at all (a FORMERR): the header alone */
	ck_assert_uint_eq(rrl_slip_reply(m, len, out, sizeof(out)), 12);
	ck_assert_uint_eq(out[2] & 0x02, 0x02);
}
END_TEST

START_TEST(slip_reply_longest_name_fits)
{
	uint8_t m[12 + 255 + 4], out[RRL_SLIP_MAX];
	size_t off = 12;

	memset(m, 0, 12);
	m[5] = 1;
	for (int i = 0; i < 4; i++) { /* 4 x (1 + 62) + 1 = 253 ... */
		m[off++] = 62;
		memset(m + off, 'a', 62);
		off += 62;
	}
	m[off++] = 1; /* ... + 2 = 255 */
	m[off++] = 'b';
	m[off++] = 0;
	ck_assert_uint_eq(off, 12 + 255);
	memset(m + off, 0, 4);
	ck_assert_uint_eq(rrl_slip_reply(m, sizeof(m), out, sizeof(out)), sizeof(m));
	m[12 + 252] = 2; /* the last label one longer: 256 bytes */
	ck_assert_uint_eq(rrl_slip_reply(m, sizeof(m), out, sizeof(out)), 0);
}
END_TEST

/* ---- options and configuration ---------------------------------------- */

START_TEST(bad_options_make_no_table)
{
	struct rrl_opts good = { 10, 2, 24, 56, 1024 }, o;

	o = good;
	o.responses_per_second = 0;
	ck_assert_ptr_null(rrl_new(&o));
	o = good;
	o.ipv4_prefix = 33;
	ck_assert_ptr_null(rrl_new(&o));
	o = good;
	o.ipv6_prefix = 129;
	ck_assert_ptr_null(rrl_new(&o));
	o = good;
	o.table_size = 0;
	ck_assert_ptr_null(rrl_new(&o));
	ck_assert_ptr_null(rrl_new(NULL));
}
END_TEST

static struct config cfg;
static char err[CONFIG_ERR_MAX];

static void cfg_teardown(void)
{
	config_free(&cfg);
	teardown();
}

START_TEST(config_defaults_off_and_keys_parse)
{
	config_init(&cfg);
	ck_assert_uint_eq(cfg.rrl_responses_per_second, 0);
	ck_assert_uint_eq(cfg.rrl_slip, 2);
	ck_assert_uint_eq(cfg.rrl_ipv4_prefix, 24);
	ck_assert_uint_eq(cfg.rrl_ipv6_prefix, 56);
	ck_assert_uint_eq(cfg.rrl_table_size, 65536);
	ck_assert_int_eq(rrl_new_from_config(&cfg, &t), 0);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(config_parse_string(&cfg,
					     "rrl-responses-per-second: 20\nrrl-slip: 3\n"
					     "rrl-ipv4-prefix: 32\nrrl-ipv6-prefix: 64\n"
					     "rrl-table-size: 16\n",
					     "t.conf", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cfg.rrl_responses_per_second, 20);
	ck_assert_uint_eq(cfg.rrl_slip, 3);
	ck_assert_uint_eq(cfg.rrl_ipv4_prefix, 32);
	ck_assert_uint_eq(cfg.rrl_ipv6_prefix, 64);
	ck_assert_uint_eq(cfg.rrl_table_size, 16);
	ck_assert_int_eq(rrl_new_from_config(&cfg, &t), 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(rrl_capacity(t), 16);
	/* /32: two hosts of one /24 are apart; rate 20, slip 3 */
	ck_assert_uint_eq(sends("192.0.2.1", 0, 20), 20);
	ck_assert_int_eq(check("192.0.2.1", 0), RRL_SLIP);
	ck_assert_int_eq(check("192.0.2.1", 0), RRL_DROP);
	ck_assert_uint_eq(sends("192.0.2.2", 0, 20), 20);
}
END_TEST

static const struct {
	const char *line, *msg;
} bad_lines[] = {
	{ "rrl-responses-per-second: 1000001", "rrl-responses-per-second" },
	{ "rrl-responses-per-second: -1", "rrl-responses-per-second" },
	{ "rrl-slip: 101", "rrl-slip" },
	{ "rrl-ipv4-prefix: 33", "rrl-ipv4-prefix" },
	{ "rrl-ipv6-prefix: 129", "rrl-ipv6-prefix" },
	{ "rrl-table-size: 0", "rrl-table-size" },
	{ "rrl-table-size: lots", "rrl-table-size" },
};

START_TEST(config_errors_name_file_and_line)
{
	char text[128];

	config_init(&cfg);
	snprintf(text, sizeof(text), "verbosity: 1\n%s\n", bad_lines[_i].line);
	ck_assert_int_eq(config_parse_string(&cfg, text, "rrl.conf", err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "rrl.conf:2:", 11) == 0, "error was: %s", err);
	ck_assert_msg(strstr(err, bad_lines[_i].msg), "error was: %s", err);
}
END_TEST

/* conf/rootwalkd.conf lists each rrl-* key, commented out, with its real
 * default (test_config.c checks the same for the keys it knows). */
START_TEST(example_conf_documents_the_defaults)
{
	static const char *const keys[] = { "rrl-responses-per-second", "rrl-slip",
					    "rrl-ipv4-prefix", "rrl-ipv6-prefix",
					    "rrl-table-size" };
	struct config def;
	char line[512], text[1024] = "";
	size_t seen = 0, len = 0;
	FILE *f = fopen(SOURCE_ROOT "/conf/rootwalkd.conf", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t kl = strlen(keys[i]);
			if (strncmp(p, "# ", 2) == 0 && strncmp(p + 2, keys[i], kl) == 0 &&
			    p[2 + kl] == ':') {
				len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", p + 2);
				seen++;
			}
		}
	}
	fclose(f);
	ck_assert_uint_eq(seen, sizeof(keys) / sizeof(keys[0]));
	config_init(&cfg);
	config_init(&def);
	/* a value unlike the default first, so that parsing must set it back */
	ck_assert_int_eq(config_parse_string(&cfg, "rrl-slip: 7\nrrl-table-size: 9\n", "x",
					     err, sizeof(err)),
			 0);
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(config_parse_string(&cfg, text, "conf/rootwalkd.conf", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cfg.rrl_responses_per_second, def.rrl_responses_per_second);
	ck_assert_uint_eq(cfg.rrl_slip, def.rrl_slip);
	ck_assert_uint_eq(cfg.rrl_ipv4_prefix, def.rrl_ipv4_prefix);
	ck_assert_uint_eq(cfg.rrl_ipv6_prefix, def.rrl_ipv6_prefix);
	ck_assert_uint_eq(cfg.rrl_table_size, def.rrl_table_size);
	config_free(&def);
}
END_TEST

static Suite *rrl_suite(void)
{
	Suite *s = suite_create("rrl");
	TCase *tc = tcase_create("bucket");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, burst_is_one_second_of_rate);
	tcase_add_test(tc, refill_is_rate_per_ms);
	tcase_add_test(tc, clock_going_back_adds_nothing);
	tcase_add_test(tc, steady_rate_over_ten_seconds);
	tcase_add_test(tc, slip_every_nth_limited_starting_with_the_first);
	tcase_add_test(tc, slip_one_slips_all_slip_zero_drops_all);
	tcase_add_test(tc, slip_two_halves_the_limited);
	tcase_add_test(tc, ipv4_slash24_shared_neighbours_apart);
	tcase_add_test(tc, ipv6_slash56);
	tcase_add_test(tc, prefix_lengths_configurable);
	tcase_add_test(tc, other_families_never_limited);
	tcase_add_test(tc, table_never_grows_past_its_size);
	tcase_add_test(tc, eviction_takes_the_oldest);
	tcase_add_test(tc, below_capacity_nothing_is_forgotten);
	tcase_add_test(tc, two_threads_one_prefix_share_one_bucket);
	tcase_add_test(tc, two_threads_two_prefixes_do_not_interfere);
	tcase_add_test(tc, slip_reply_keeps_header_and_question_only);
	tcase_add_test(tc, slip_reply_refuses_what_it_cannot_cut);
	tcase_add_test(tc, slip_reply_longest_name_fits);
	tcase_add_test(tc, bad_options_make_no_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, NULL, cfg_teardown);
	tcase_add_test(tc, config_defaults_off_and_keys_parse);
	tcase_add_loop_test(tc, config_errors_name_file_and_line, 0,
			    (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
	tcase_add_test(tc, example_conf_documents_the_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(rrl_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
