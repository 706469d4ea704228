/* test_cache_mt.c — the cache shared by threads, as workers share it.
 *
 * Threads store RRsets, negatives and whole answers, look them up through
 * both paths (ldns copies and the wire-form hit path), flush names, zones
 * and everything, walk in steps and read stats, all at once on one cache.
 * Every result read while others write must be whole and belong to the
 * key asked (no torn entry, no answer of another name); afterwards the
 * cache's own accounting must agree with a walk of it, stay within its
 * budget and free everything.  Run it under TSan (data races) and ASan
 * (use after free of an entry another thread removed). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "leak.h"
#include "msg.h"

#define NAMES 256
#define ROUNDS 3000
#define T0 1000000u

static struct cache *c;

static void setup(void)
{
	msg_set_edns_size(1232);
}

static void teardown(void)
{
	cache_free(c);
	c = NULL;
	assert_no_leaks();
}

/* ---- building what the threads store --------------------------------- */

static ldns_rr *rr(const char *s)
{
	ldns_rr *r = NULL;

	ck_assert_int_eq(ldns_rr_new_frm_str(&r, s, 3600, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

/* The A record of name i: its address encodes i, so a reader can tell
 * whether what it got belongs to the name it asked for. */
static ldns_rr_list *a_rrset(unsigned i)
{
	char s[128];
	ldns_rr_list *l = ldns_rr_list_new();

	snprintf(s, sizeof(s), "h%u.z%u.example. 3600 IN A 10.%u.%u.1", i, i % 8, i >> 8, i & 255);
	ck_assert(ldns_rr_list_push_rr(l, rr(s)));
	return l;
}

static ldns_rdf *name_of(unsigned i)
{
	char s[64];

	snprintf(s, sizeof(s), "h%u.z%u.example.", i, i % 8);
	return ldns_dname_new_frm_str(s);
}

static size_t wire_of(unsigned i, uint8_t *out)
{
	ldns_rdf *n = name_of(i);
	size_t len = ldns_rdf_size(n);

	memcpy(out, ldns_rdf_data(n), len);
	ldns_rdf_deep_free(n);
	return len;
}

static void store_rrset(unsigned i, uint64_t now)
{
	ldns_rr_list *l = a_rrset(i);

	ck_assert_int_ge(cache_store_rrset(c, l, NULL, CACHE_TRUST_ANSWER_AUTH, now), 0);
	ldns_rr_list_deep_free(l);
}

static void store_answer(unsigned i, uint64_t now)
{
	ldns_rr_list *l = a_rrset(i);
	uint8_t w[256];
	size_t n = wire_of(i, w);

	ck_assert_int_eq(cache_store_answer(c, w, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, l,
					    NULL, now), 0);
	ldns_rr_list_deep_free(l);
}

/* NXDOMAIN below name i (its child "x"), proven by the zone's SOA. */
static void store_nxdomain(unsigned i, uint64_t now)
{
	char s[64];
	ldns_rdf *q;
	ldns_rr *soa = rr("example. 3600 IN SOA ns.example. host.example. 1 2 3 4 300");

	snprintf(s, sizeof(s), "x.h%u.z%u.example.", i, i % 8);
	q = ldns_dname_new_frm_str(s);
	ck_assert_int_ge(cache_store_negative(c, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, soa,
					      now), 0);
	ldns_rdf_deep_free(q);
	ldns_rr_free(soa);
}

/* ---- checked reads ---------------------------------------------------- */

static void check_rrset(unsigned i, uint64_t now)
{
	struct cache_result res;
	ldns_rdf *n = name_of(i);
	char want[32];

	if (cache_lookup_rrset(c, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, CACHE_TRUST_NONE, false,
			       now, &res) == 1) {
		char *got;

		ck_assert_uint_eq(ldns_rr_list_rr_count(res.rrset), 1);
		ck_assert_int_eq(ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(res.rrset, 0)), n),
				 0);
		got = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(res.rrset, 0), 0));
		snprintf(want, sizeof(want), "10.%u.%u.1", i >> 8, i & 255);
		ck_assert_str_eq(got, want);
		free(got);
		cache_result_clear(&res);
	}
	ldns_rdf_deep_free(n);
}

/* Returns the answer's length, 0 on a miss. */
static size_t check_answer(unsigned i, uint64_t now)
{
	uint8_t q[300], out[512];
	struct msg_query mq;
	size_t n = wire_of(i, q + 12), len;
	uint16_t rcode;
	bool due;

	memset(q, 0, 12);
	q[0] = (uint8_t)(i >> 8);
	q[1] = (uint8_t)i;
	q[2] = 0x01;
	q[5] = 1;
	q[12 + n] = 0;
	q[13 + n] = 1;  /* A */
	q[14 + n] = 0;
	q[15 + n] = 1;  /* IN */
	ck_assert_int_eq(msg_parse_query(q, 16 + n, &mq, &rcode), MSG_OK);
	len = cache_answer_hit(c, &mq, now, out, sizeof(out), sizeof(out), &due);
	if (!len)
		return 0;
	/* header: our ID, one answer; the A record's address is the last 4 bytes */
	ck_assert_uint_eq(out[0], (uint8_t)(i >> 8));
	ck_assert_uint_eq(out[1], (uint8_t)i);
	ck_assert_uint_eq(out[7], 1);
	ck_assert_uint_eq(out[len - 4], 10);
	ck_assert_uint_eq(out[len - 3], i >> 8);
	ck_assert_uint_eq(out[len - 2], i & 255);
	ck_assert_uint_eq(out[len - 1], 1);
	return len;
}

static void check_negative(unsigned i, uint64_t now)
{
	char s[64];
	ldns_rdf *q;
	ldns_rr *soa = NULL;
	bool nx = false;

	/* below the NXDOMAIN: RFC 8020 answers from the ancestor's entry */
	snprintf(s, sizeof(s), "deep.x.h%u.z%u.example.", i, i % 8);
	q = ldns_dname_new_frm_str(s);
	if (cache_lookup_negative(c, q, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, false, now, &nx,
				  &soa) == 1) {
		ck_assert(nx);
		ck_assert_int_eq(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
		ldns_rr_free(soa);
	}
	ldns_rdf_deep_free(q);
}

/* ---- the threads ------------------------------------------------------ */

struct walk_count {
	size_t n;
};

static int count_cb(void *ud, const struct cache_entry_view *v)
{
	struct walk_count *w = ud;

	ck_assert(v->negative ? v->soa != NULL : v->rrset != NULL);
	w->n++;
	return 0;
}

struct thr {
	unsigned id;
	bool flusher;   /* also flushes and walks */
};

static void flush_some(unsigned i, unsigned r)
{
	ldns_rdf *n = name_of(i);
	char z[32];
	ldns_rdf *zone;

	if (r % 3 == 0) {
		cache_flush_name(c, n, 0);
	} else if (r % 3 == 1) {
		snprintf(z, sizeof(z), "z%u.example.", i % 8);
		zone = ldns_dname_new_frm_str(z);
		cache_flush_zone(c, zone);
		ldns_rdf_deep_free(zone);
	} else {
		cache_flush_all(c);
	}
	ldns_rdf_deep_free(n);
}

static void *thread_main(void *ud)
{
	struct thr *t = ud;
	unsigned seed = t->id * 7919u + 1;
	struct cache_cursor cur = {0};
	struct walk_count wc = {0};
	struct cache_stats st;

	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned i = (unsigned)rand_r(&seed) % NAMES;
		uint64_t now = T0 + r;

		switch (rand_r(&seed) % 8) {
		case 0: store_rrset(i, now); break;
		case 1: store_answer(i, now); break;
		case 2: store_nxdomain(i, now); break;
		case 3: check_rrset(i, now); break;
		case 4: check_answer(i, now); break;
		case 5: check_negative(i, now); break;
		case 6:
			cache_get_stats(c, &st);
			ck_assert_uint_le(st.answer_bytes, st.bytes);
			break;
		default:
			if (t->flusher && r % 64 == 7) {
				flush_some(i, r / 64);
			} else if (t->flusher) {
				if (cur.done)
					memset(&cur, 0, sizeof(cur));
				cache_walk_step(c, NULL, now, &cur, 16, count_cb, &wc);
			} else {
				check_answer(i, now);
			}
		}
	}
	return NULL;
}

static void run_threads(unsigned n)
{
	pthread_t tid[4];
	struct thr t[4];

	for (unsigned k = 0; k < n; k++) {
		t[k] = (struct thr){ .id = k, .flusher = k == 0 };
		ck_assert_int_eq(pthread_create(&tid[k], NULL, thread_main, &t[k]), 0);
	}
	for (unsigned k = 0; k < n; k++)
		ck_assert_int_eq(pthread_join(tid[k], NULL), 0);
}

/* After the storm: a walk sees exactly the entries the stats count, the
 * budget held, and after flush-all nothing is left. */
static void check_quiet_cache(size_t budget)
{
	struct walk_count wc = {0};
	struct cache_stats st;

	cache_get_stats(c, &st);
	cache_walk(c, NULL, T0 + ROUNDS, count_cb, &wc);
	ck_assert_uint_eq(wc.n, st.entries);
	ck_assert_uint_le(st.bytes, budget);
	ck_assert_uint_le(st.answer_bytes, st.bytes);
	/* every name is still served right from a quiet cache */
	for (unsigned i = 0; i < NAMES; i++) {
		check_rrset(i, T0 + ROUNDS);
		check_answer(i, T0 + ROUNDS);
	}
	cache_flush_all(c);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.answers, 0);
	ck_assert_uint_eq(st.answer_bytes, 0);
}

/* Many shards, no eviction. */
START_TEST(threads_share_a_large_cache)
{
	c = cache_new((size_t)64 << 20, NULL);
	ck_assert_ptr_nonnull(c);
	run_threads(4);
	check_quiet_cache((size_t)64 << 20);
}
END_TEST

/* A few shards under eviction pressure: CLOCK runs while others read. */
START_TEST(threads_share_a_small_cache)
{
	const size_t budget = (size_t)2 << 20;
	struct cache_stats st;

	c = cache_new(budget, NULL);
	ck_assert_ptr_nonnull(c);
	/* shrink the shares below what the names need, so stores evict */
	cache_set_max_bytes(c, 40 * 1024);
	run_threads(3);
	cache_get_stats(c, &st);
	ck_assert_uint_gt(st.evictions, 0);
	check_quiet_cache(40 * 1024);
}
END_TEST

static void *read_name_5(void *ud)
{
	*(size_t *)ud = check_answer(5, T0 + 10);
	return NULL;
}

/* A name stored by one thread is a hit for another. */
START_TEST(a_store_is_a_hit_everywhere)
{
	struct cache_stats st;
	pthread_t tid;
	size_t len = 0;

	c = cache_new((size_t)64 << 20, NULL);
	ck_assert_ptr_nonnull(c);
	store_answer(5, T0);
	ck_assert_int_eq(pthread_create(&tid, NULL, read_name_5, &len), 0);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
	ck_assert_uint_gt(len, 0);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.hits, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cache_mt");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, threads_share_a_large_cache);
	tcase_add_test(t, threads_share_a_small_cache);
	tcase_add_test(t, a_store_is_a_hit_everywhere);
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
