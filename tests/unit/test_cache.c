/* test_cache.c — unit tests for the RRset and negative cache.
 *
 * Every test runs on a fresh cache with a fake clock (plain integers of
 * milliseconds).  The teardown flushes the cache and checks that only the
 * bucket array is left accounted for, then frees it and, in sanitizer
 * builds, runs LeakSanitizer right there: Check forks a child per test and
 * the child's exit skips LSan's own end-of-process check, so without this
 * a leak in a test would go unnoticed. */
#include "cache.h"
#include "cache_siphash.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leak.h"

static struct cache *c;
static struct cache_policy pol;

static void setup(void)
{
	cache_get_policy_defaults(&pol);
	c = cache_new(64u << 20, &pol);
	ck_assert_ptr_nonnull(c);
}

static void teardown(void)
{
	struct cache_stats st;

	cache_flush_all(c);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_gt(st.bytes, 0);      /* the bucket arrays, one per shard */
	ck_assert_uint_lt(st.bytes, 256 * 1024);
	cache_free(c);
	c = NULL;
	assert_no_leaks();
}

/* ---- helpers ---------------------------------------------------------- */

static ldns_rr *rr(const char *s)
{
	ldns_rr *r = NULL;

	ck_assert_msg(ldns_rr_new_frm_str(&r, s, 3600, NULL, NULL) == LDNS_STATUS_OK,
		      "bad RR text: %s", s);
	return r;
}

/* A list from NULL-terminated RR strings. */
static ldns_rr_list *rrl(const char *first, ...)
{
	ldns_rr_list *l = ldns_rr_list_new();
	va_list ap;

	ck_assert_ptr_nonnull(l);
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		ck_assert(ldns_rr_list_push_rr(l, rr(s)));
	va_end(ap);
	return l;
}

static ldns_rdf *dn(const char *s)
{
	ldns_rdf *d = ldns_dname_new_frm_str(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

/* Store a list (freed here) and return the cache's verdict. */
static int store(ldns_rr_list *l, enum cache_trust t, uint64_t now)
{
	int rc = cache_store_rrset(c, l, NULL, t, now);

	ldns_rr_list_deep_free(l);
	return rc;
}

static int store1(const char *s, enum cache_trust t, uint64_t now)
{
	return store(rrl(s, NULL), t, now);
}

/* Look up name/type at any trust; returns the TTL, or -1 on a miss.
 * res is filled as cache_lookup_rrset() fills it. */
static long lookup_full(const char *name, ldns_rr_type type, enum cache_trust min,
			bool stale_ok, uint64_t now, struct cache_result *res)
{
	ldns_rdf *d = dn(name);
	int hit = cache_lookup_rrset(c, d, type, LDNS_RR_CLASS_IN, min, stale_ok, now, res);

	ldns_rdf_deep_free(d);
	if (!hit) {
		ck_assert_ptr_null(res->rrset);
		return -1;
	}
	ck_assert_ptr_nonnull(res->rrset);
	return res->ttl;
}

static long lookup_ttl(const char *name, ldns_rr_type type, uint64_t now)
{
	struct cache_result res;
	long ttl = lookup_full(name, type, CACHE_TRUST_NONE, false, now, &res);

	if (ttl >= 0) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(res.rrset); i++)
			ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(res.rrset, i)), ttl);
	}
	cache_result_clear(&res);
	return ttl;
}

static void assert_same_rr(const ldns_rr *got, const char *want_text)
{
	ldns_rr *want = rr(want_text);
	ldns_rr *g = ldns_rr_clone(got);
	char *a, *b;

	ldns_rr_set_ttl(g, ldns_rr_ttl(want));
	a = ldns_rr2str(g);
	b = ldns_rr2str(want);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	ldns_rr_free(g);
	ldns_rr_free(want);
}

static int store_neg(const char *qname, ldns_rr_type qtype, bool nxd, const char *soa,
		     uint64_t now)
{
	ldns_rdf *q = dn(qname);
	ldns_rr *s = rr(soa);
	int rc = cache_store_negative(c, q, qtype, LDNS_RR_CLASS_IN, nxd, s, now);

	ldns_rdf_deep_free(q);
	ldns_rr_free(s);
	return rc;
}

/* Negative lookup: returns the SOA TTL or -1; *nxd says which kind. */
static long lookup_neg(const char *qname, ldns_rr_type qtype, bool stale_ok, uint64_t now,
		       bool *nxd)
{
	ldns_rdf *q = dn(qname);
	ldns_rr *soa = NULL;
	bool dummy;
	long ttl = -1;

	if (cache_lookup_negative(c, q, qtype, LDNS_RR_CLASS_IN, stale_ok, now,
				  nxd ? nxd : &dummy, &soa)) {
		ck_assert_ptr_nonnull(soa);
		ck_assert_int_eq(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
		ttl = ldns_rr_ttl(soa);
	} else {
		ck_assert_ptr_null(soa);
	}
	ldns_rr_free(soa);
	ldns_rdf_deep_free(q);
	return ttl;
}

static uint64_t stat_entries(void)
{
	struct cache_stats st;

	cache_get_stats(c, &st);
	return st.entries;
}

#define SOA_EX "example.com. 3600 IN SOA ns.example.com. host.example.com. 1 7200 900 1209600 300"

/* ---- store and lookup ----------------------------------------------- */

START_TEST(roundtrip_several_rrs)
{
	struct cache_result res;

	ck_assert_int_eq(store(rrl("www.example.com. 300 IN A 192.0.2.1",
				   "www.example.com. 300 IN A 192.0.2.2",
				   "www.example.com. 300 IN A 192.0.2.3", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 1000), 0);
	ck_assert_int_eq(lookup_full("www.example.com.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE,
				     false, 1000, &res), 300);
	ck_assert_uint_eq(ldns_rr_list_rr_count(res.rrset), 3);
	assert_same_rr(ldns_rr_list_rr(res.rrset, 0), "www.example.com. 300 IN A 192.0.2.1");
	assert_same_rr(ldns_rr_list_rr(res.rrset, 1), "www.example.com. 300 IN A 192.0.2.2");
	assert_same_rr(ldns_rr_list_rr(res.rrset, 2), "www.example.com. 300 IN A 192.0.2.3");
	ck_assert_ptr_null(res.rrsigs);
	ck_assert_int_eq(res.trust, CACHE_TRUST_ANSWER_AUTH);
	ck_assert_int_eq(res.security, CACHE_SEC_UNCHECKED);
	ck_assert(!res.stale);
	cache_result_clear(&res);
	cache_result_clear(&res); /* idempotent */
	/* other type, other class: misses */
	ck_assert_int_eq(lookup_ttl("www.example.com.", LDNS_RR_TYPE_AAAA, 1000), -1);
}
END_TEST

/* Every rdata shape ldns splits differently survives the blob roundtrip. */
START_TEST(roundtrip_rdata_types)
{
	static const char *const rrs[] = {
		"t.example. 60 IN AAAA 2001:db8::1",
		"t.example. 60 IN MX 10 Mail.Example.",
		"t.example. 60 IN TXT \"one\" \"two words\" \"\"",
		"t.example. 60 IN NS ns1.example.",
		"t.example. 60 IN CNAME Target.Example.",
		"t.example. 60 IN SRV 0 5 5060 sip.example.",
		"t.example. 60 IN CAA 0 issue \"ca.example\"",
		("t.example. 60 IN DS 12345 8 2 "
		 "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3BBC7E13F00D4B4CBA3C1F3A"),
		"t.example. 60 IN SOA ns.example. h.example. 2024 7200 900 1209600 300",
		"t.example. 60 IN TYPE65400 \\# 3 abcdef",
		"t.example. 60 IN NSEC next.example. A NS SOA RRSIG NSEC",
	};

	for (size_t i = 0; i < sizeof(rrs) / sizeof(rrs[0]); i++) {
		ldns_rr *r = rr(rrs[i]);
		struct cache_result res;
		ldns_rr_type t = ldns_rr_get_type(r);

		ldns_rr_free(r);
		ck_assert_int_eq(store1(rrs[i], CACHE_TRUST_ANSWER_AUTH, 0), 0);
		ck_assert_int_eq(lookup_full("t.example.", t, CACHE_TRUST_NONE, false, 0, &res),
				 60);
		ck_assert_uint_eq(ldns_rr_list_rr_count(res.rrset), 1);
		/* byte-exact rdata, including the case of names inside it */
		assert_same_rr(ldns_rr_list_rr(res.rrset, 0), rrs[i]);
		cache_result_clear(&res);
	}
	ck_assert_uint_eq(stat_entries(), sizeof(rrs) / sizeof(rrs[0]));
}
END_TEST

START_TEST(case_insensitive_lowercase_owner)
{
	struct cache_result res;
	ldns_rdf *owner;

	ck_assert_int_eq(store(rrl("WwW.ExAmPlE.CoM. 300 IN A 192.0.2.1",
				   "www.EXAMPLE.com. 300 IN A 192.0.2.2", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(lookup_full("wWw.eXaMpLe.cOm.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE,
				     false, 0, &res), 300);
	ck_assert_uint_eq(ldns_rr_list_rr_count(res.rrset), 2);
	owner = dn("www.example.com.");
	for (size_t i = 0; i < 2; i++) {
		const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(res.rrset, i));

		ck_assert_uint_eq(ldns_rdf_size(o), ldns_rdf_size(owner));
		ck_assert_mem_eq(ldns_rdf_data(o), ldns_rdf_data(owner), ldns_rdf_size(owner));
	}
	ldns_rdf_deep_free(owner);
	cache_result_clear(&res);
	/* one entry, not one per spelling */
	ck_assert_int_eq(store1("WWW.EXAMPLE.COM. 300 IN A 192.0.2.9",
				CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_uint_eq(stat_entries(), 1);
}
END_TEST

START_TEST(ttl_decrement_and_exact_expiry)
{
	ck_assert_int_eq(store1("a.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH,
				1000), 0);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 1000), 300);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 1001), 300);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 2000), 299);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 2001), 299);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 1000 + 299000), 1);
	/* never 0 while alive */
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 1000 + 299999), 1);
	/* dead at exactly the expiry millisecond */
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 1000 + 300000), -1);
	/* and reclaimed by that lookup (serve-expired is off) */
	ck_assert_uint_eq(stat_entries(), 0);
}
END_TEST

START_TEST(ttl_is_minimum_of_rrset)
{
	ck_assert_int_eq(store(rrl("a.example. 300 IN A 192.0.2.1",
				   "a.example. 100 IN A 192.0.2.2", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(lookup_ttl("a.example.", LDNS_RR_TYPE_A, 0), 100);
}
END_TEST

START_TEST(ttl_policy_clamp)
{
	pol.min_ttl = 60;
	pol.max_ttl = 3600;
	cache_set_policy(c, &pol);
	store1("lo.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("hi.example. 100000 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("zero.example. 0 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	/* 2^31 is "negative" (RFC 2181 8): 0, then clamped up to min_ttl */
	store1("neg.example. 2147483648 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	/* 2^31-1 is legal, then clamped down to max_ttl */
	store1("big.example. 2147483647 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup_ttl("lo.example.", LDNS_RR_TYPE_A, 0), 60);
	ck_assert_int_eq(lookup_ttl("hi.example.", LDNS_RR_TYPE_A, 0), 3600);
	ck_assert_int_eq(lookup_ttl("zero.example.", LDNS_RR_TYPE_A, 0), 60);
	ck_assert_int_eq(lookup_ttl("neg.example.", LDNS_RR_TYPE_A, 0), 60);
	ck_assert_int_eq(lookup_ttl("big.example.", LDNS_RR_TYPE_A, 0), 3600);
}
END_TEST

START_TEST(ttl_zero_not_stored)
{
	/* default policy: min 0 */
	ck_assert_int_eq(store1("z.example. 0 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(store1("n.example. 4294967295 IN A 192.0.2.1",
				CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(lookup_ttl("z.example.", LDNS_RR_TYPE_A, 0), -1);
	ck_assert_int_eq(lookup_ttl("n.example.", LDNS_RR_TYPE_A, 0), -1);
	ck_assert_uint_eq(stat_entries(), 0);
	/* a TTL-0 answer replaces (removes) what it outranks */
	store1("z.example. 300 IN A 192.0.2.1", CACHE_TRUST_GLUE, 0);
	ck_assert_int_eq(store1("z.example. 0 IN A 192.0.2.2", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(lookup_ttl("z.example.", LDNS_RR_TYPE_A, 0), -1);
	/* ...but not what outranks it */
	store1("z.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(store1("z.example. 0 IN A 192.0.2.2", CACHE_TRUST_GLUE, 0), 1);
	ck_assert_int_eq(lookup_ttl("z.example.", LDNS_RR_TYPE_A, 0), 300);
}
END_TEST

START_TEST(max_ttl_zero_caches_nothing)
{
	pol.max_ttl = 0;
	cache_set_policy(c, &pol);
	ck_assert_int_eq(store1("a.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_uint_eq(stat_entries(), 0);
}
END_TEST

/* ---- trust ---------------------------------------------------------- */

static void assert_a(const char *name, enum cache_trust min, const char *want_addr,
		     enum cache_trust want_trust)
{
	struct cache_result res;
	char want[128];

	ck_assert_int_ge(lookup_full(name, LDNS_RR_TYPE_A, min, false, 0, &res), 1);
	snprintf(want, sizeof(want), "%s 1 IN A %s", name, want_addr);
	assert_same_rr(ldns_rr_list_rr(res.rrset, 0), want);
	ck_assert_int_eq(res.trust, want_trust);
	cache_result_clear(&res);
}

START_TEST(trust_ranking)
{
	struct cache_stats st;
	struct cache_result res;

	ck_assert_int_eq(store1("ns.example. 300 IN A 192.0.2.1", CACHE_TRUST_GLUE, 0), 0);
	assert_a("ns.example.", CACHE_TRUST_GLUE, "192.0.2.1", CACHE_TRUST_GLUE);
	/* answers are not served from glue */
	ck_assert_int_eq(lookup_full("ns.example.", LDNS_RR_TYPE_A, CACHE_TRUST_ANSWER_NONAUTH,
				     false, 0, &res), -1);
	/* answer overwrites glue */
	ck_assert_int_eq(store1("ns.example. 300 IN A 192.0.2.2", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	assert_a("ns.example.", CACHE_TRUST_ANSWER_NONAUTH, "192.0.2.2",
		 CACHE_TRUST_ANSWER_AUTH);
	/* glue cannot overwrite the answer */
	ck_assert_int_eq(store1("ns.example. 300 IN A 192.0.2.3", CACHE_TRUST_GLUE, 0), 1);
	ck_assert_int_eq(store1("ns.example. 300 IN A 192.0.2.3", CACHE_TRUST_REFERRAL, 0), 1);
	assert_a("ns.example.", CACHE_TRUST_NONE, "192.0.2.2", CACHE_TRUST_ANSWER_AUTH);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.rejected_by_trust, 2);
	/* equal trust replaces */
	ck_assert_int_eq(store1("ns.example. 300 IN A 192.0.2.4", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	assert_a("ns.example.", CACHE_TRUST_NONE, "192.0.2.4", CACHE_TRUST_ANSWER_AUTH);
}
END_TEST

START_TEST(trust_expired_replaced_by_anything)
{
	ck_assert_int_eq(store1("x.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(store1("x.example. 300 IN A 192.0.2.2", CACHE_TRUST_GLUE, 9999), 1);
	ck_assert_int_eq(store1("x.example. 300 IN A 192.0.2.2", CACHE_TRUST_GLUE, 10000), 0);
	ck_assert_int_eq(lookup_ttl("x.example.", LDNS_RR_TYPE_A, 10000), 300);
}
END_TEST

/* ---- negative ------------------------------------------------------- */

START_TEST(negative_ttl_math)
{
	bool nxd = false;

	/* min(SOA TTL 3600, MINIMUM 300) = 300 */
	ck_assert_int_eq(store_neg("a.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_neg("a.example.com.", LDNS_RR_TYPE_A, false, 0, &nxd), 300);
	ck_assert(nxd);
	/* min(SOA TTL 60, MINIMUM 300) = 60 */
	ck_assert_int_eq(store_neg("b.example.com.", LDNS_RR_TYPE_AAAA, false,
				   "example.com. 60 IN SOA ns.example.com. h.example.com. "
				   "1 7200 900 1209600 300", 0), 0);
	ck_assert_int_eq(lookup_neg("b.example.com.", LDNS_RR_TYPE_AAAA, false, 0, &nxd), 60);
	ck_assert(!nxd);
	/* TTL > 2^31-1 counts as 0: nothing kept */
	ck_assert_int_eq(store_neg("c.example.com.", 0, true,
				   "example.com. 2147483648 IN SOA ns.example.com. "
				   "h.example.com. 1 7200 900 1209600 300", 0), 0);
	ck_assert_int_eq(lookup_neg("c.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	/* and so does a MINIMUM > 2^31-1 */
	ck_assert_int_eq(store_neg("c.example.com.", 0, true,
				   "example.com. 300 IN SOA ns.example.com. "
				   "h.example.com. 1 7200 900 1209600 4294967295", 0), 0);
	ck_assert_int_eq(lookup_neg("c.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	/* capped by max_negative_ttl */
	pol.max_negative_ttl = 100;
	cache_set_policy(c, &pol);
	ck_assert_int_eq(store_neg("d.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_neg("d.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), 100);
	/* counts down and dies at the exact millisecond */
	ck_assert_int_eq(lookup_neg("d.example.com.", LDNS_RR_TYPE_A, false, 99001, NULL), 1);
	ck_assert_int_eq(lookup_neg("d.example.com.", LDNS_RR_TYPE_A, false, 100000, NULL), -1);
}
END_TEST

START_TEST(negative_soa_content)
{
	ldns_rdf *q = dn("Nope.Example.COM.");
	ldns_rr *soa = NULL, *want = rr(SOA_EX);
	bool nxd;

	ck_assert_int_eq(store_neg("NOPE.example.com.", 0, true,
				   "EXAMPLE.com. 3600 IN SOA ns.example.com. host.example.com. "
				   "1 7200 900 1209600 300", 0), 0);
	ck_assert_int_eq(cache_lookup_negative(c, q, LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN,
					       false, 5000, &nxd, &soa), 1);
	ck_assert(nxd);
	ck_assert_uint_eq(ldns_rr_ttl(soa), 295);
	ldns_rr_set_ttl(want, 295);
	/* owner lowercased, rdata intact */
	ck_assert_int_eq(ldns_rr_compare(soa, want), 0);
	ck_assert_mem_eq(ldns_rdf_data(ldns_rr_owner(soa)), "\x07" "example\x03" "com", 12);
	ldns_rr_free(soa);
	/* soa_out may be NULL */
	ck_assert_int_eq(cache_lookup_negative(c, q, LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN,
					       false, 5000, &nxd, NULL), 1);
	ldns_rr_free(want);
	ldns_rdf_deep_free(q);
}
END_TEST

START_TEST(nodata_is_per_type)
{
	bool nxd = true;

	ck_assert_int_eq(store_neg("www.example.com.", LDNS_RR_TYPE_AAAA, false, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_neg("www.example.com.", LDNS_RR_TYPE_AAAA, false, 0, &nxd), 300);
	ck_assert(!nxd);
	ck_assert_int_eq(lookup_neg("www.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_neg("sub.www.example.com.", LDNS_RR_TYPE_AAAA, false, 0, NULL),
			 -1);
	/* a NODATA is not a positive hit */
	ck_assert_int_eq(lookup_ttl("www.example.com.", LDNS_RR_TYPE_AAAA, 0), -1);
}
END_TEST

START_TEST(negative_bad_input)
{
	ldns_rdf *q = dn("a.example.com.");
	ldns_rr *a = rr("example.com. 300 IN A 192.0.2.1");

	/* SOA outside the qname's ancestry */
	ck_assert_int_eq(store_neg("a.example.net.", 0, true, SOA_EX, 0), -1);
	/* not an SOA */
	ck_assert_int_eq(cache_store_negative(c, q, 0, LDNS_RR_CLASS_IN, true, a, 0), -1);
	/* class mismatch */
	ck_assert_int_eq(store_neg("a.example.com.", 0, true,
				   "example.com. 300 CH SOA ns.example.com. h.example.com. "
				   "1 2 3 4 5", 0), -1);
	/* the root never is NXDOMAIN; NODATA for a meta type is not data */
	ck_assert_int_eq(store_neg(".", 0, true,
				   ". 300 IN SOA a.root-servers.net. h.example. 1 2 3 4 5", 0), -1);
	ck_assert_int_eq(store_neg("a.example.com.", LDNS_RR_TYPE_ANY, false, SOA_EX, 0), -1);
	ck_assert_int_eq(cache_store_negative(c, q, 0, LDNS_RR_CLASS_IN, true, NULL, 0), -1);
	ck_assert_uint_eq(stat_entries(), 0);
	ldns_rr_free(a);
	ldns_rdf_deep_free(q);
}
END_TEST

START_TEST(rfc8020_nxdomain_covers_subtree)
{
	bool nxd = false;

	ck_assert_int_eq(store_neg("b.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_neg("c.b.example.com.", LDNS_RR_TYPE_A, false, 1000, &nxd), 299);
	ck_assert(nxd);
	ck_assert_int_eq(lookup_neg("x.y.c.B.example.com.", LDNS_RR_TYPE_TXT, false, 0, &nxd),
			 300);
	ck_assert(nxd);
	ck_assert_int_eq(lookup_neg("b.example.com.", LDNS_RR_TYPE_A, false, 0, &nxd), 300);
	/* not siblings, not the parent, not a label that merely ends in "b" */
	ck_assert_int_eq(lookup_neg("d.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_neg("example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_neg("xb.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_neg(".", LDNS_RR_TYPE_NS, false, 0, NULL), -1);
}
END_TEST

START_TEST(positive_after_negative)
{
	/* NODATA then the data: the positive wins */
	ck_assert_int_eq(store_neg("n.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0), 0);
	ck_assert_int_eq(store1("n.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0),
			 0);
	ck_assert_int_eq(lookup_ttl("n.example.com.", LDNS_RR_TYPE_A, 0), 300);
	ck_assert_int_eq(lookup_neg("n.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);

	/* NXDOMAIN for the exact name, then data for it */
	ck_assert_int_eq(store_neg("x.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(store1("x.example.com. 300 IN TXT \"hi\"", CACHE_TRUST_ANSWER_AUTH, 0),
			 0);
	ck_assert_int_eq(lookup_neg("x.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);

	/* NXDOMAIN for an ancestor dies when a name below it proves to exist */
	ck_assert_int_eq(store_neg("b.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(store1("c.b.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH,
				0), 0);
	ck_assert_int_eq(lookup_neg("b.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	/* ...and so does a NODATA below it */
	ck_assert_int_eq(store_neg("e.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(store_neg("f.e.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_neg("g.e.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_neg("f.e.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), 300);
}
END_TEST

START_TEST(negative_and_trust)
{
	/* glue does not override a live NODATA nor remove an NXDOMAIN */
	ck_assert_int_eq(store_neg("ns.example.com.", LDNS_RR_TYPE_AAAA, false, SOA_EX, 0), 0);
	ck_assert_int_eq(store1("ns.example.com. 300 IN AAAA 2001:db8::1", CACHE_TRUST_GLUE, 0),
			 1);
	ck_assert_int_eq(lookup_neg("ns.example.com.", LDNS_RR_TYPE_AAAA, false, 0, NULL), 300);
	ck_assert_int_eq(store_neg("gone.example.com.", 0, true, SOA_EX, 0), 0);
	ck_assert_int_eq(store1("ns.gone.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_GLUE, 0),
			 0);
	ck_assert_int_eq(lookup_neg("gone.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), 300);

	/* a negative replaces lower-trust positive data for its key... */
	ck_assert_int_eq(store1("g.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_NONAUTH,
				0), 0);
	ck_assert_int_eq(store_neg("g.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0), 0);
	ck_assert_int_eq(lookup_ttl("g.example.com.", LDNS_RR_TYPE_A, 0), -1);
	/* ...but does not wipe a live authoritative answer */
	ck_assert_int_eq(store1("h.example.com. 600 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0),
			 0);
	ck_assert_int_eq(store_neg("h.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0), 1);
	ck_assert_int_eq(lookup_ttl("h.example.com.", LDNS_RR_TYPE_A, 0), 600);
	ck_assert_int_eq(lookup_neg("h.example.com.", LDNS_RR_TYPE_A, false, 0, NULL), -1);
	/* once that answer expired, the negative goes in */
	ck_assert_int_eq(store_neg("h.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 600000), 0);
	ck_assert_int_eq(lookup_neg("h.example.com.", LDNS_RR_TYPE_A, false, 600000, NULL), 300);
}
END_TEST

/* ---- flush ---------------------------------------------------------- */

START_TEST(flush_name_and_type)
{
	ldns_rdf *n = dn("WWW.example.com.");

	store1("www.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("www.example.com. 300 IN AAAA 2001:db8::1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("www.example.com. 300 IN TXT \"x\"", CACHE_TRUST_ANSWER_AUTH, 0);
	store_neg("www.example.com.", LDNS_RR_TYPE_MX, false, SOA_EX, 0);
	store1("mail.example.com. 300 IN A 192.0.2.2", CACHE_TRUST_ANSWER_AUTH, 0);

	ck_assert_uint_eq(cache_flush_name(c, n, LDNS_RR_TYPE_A), 1);
	ck_assert_int_eq(lookup_ttl("www.example.com.", LDNS_RR_TYPE_A, 0), -1);
	ck_assert_int_eq(lookup_ttl("www.example.com.", LDNS_RR_TYPE_AAAA, 0), 300);
	ck_assert_uint_eq(cache_flush_name(c, n, LDNS_RR_TYPE_A), 0);
	ck_assert_uint_eq(cache_flush_name(c, n, 0), 3);
	ck_assert_int_eq(lookup_neg("www.example.com.", LDNS_RR_TYPE_MX, false, 0, NULL), -1);
	ck_assert_int_eq(lookup_ttl("mail.example.com.", LDNS_RR_TYPE_A, 0), 300);
	ck_assert_uint_eq(stat_entries(), 1);
	ldns_rdf_deep_free(n);
}
END_TEST

START_TEST(flush_zone_exact_subtree)
{
	ldns_rdf *z = dn("Example.COM.");

	store1("example.com. 300 IN NS ns.example.com.", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("www.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("a.b.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store_neg("gone.example.com.", 0, true, SOA_EX, 0);
	store1("xexample.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("com. 300 IN NS a.gtld-servers.net.", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("example.net. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("example.com.example.net. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);

	ck_assert_uint_eq(cache_flush_zone(c, z), 4);
	ck_assert_int_eq(lookup_ttl("example.com.", LDNS_RR_TYPE_NS, 0), -1);
	ck_assert_int_eq(lookup_ttl("a.b.example.com.", LDNS_RR_TYPE_A, 0), -1);
	ck_assert_int_eq(lookup_ttl("xexample.com.", LDNS_RR_TYPE_A, 0), 300);
	ck_assert_int_eq(lookup_ttl("com.", LDNS_RR_TYPE_NS, 0), 300);
	ck_assert_int_eq(lookup_ttl("example.net.", LDNS_RR_TYPE_A, 0), 300);
	ck_assert_int_eq(lookup_ttl("example.com.example.net.", LDNS_RR_TYPE_A, 0), 300);
	ck_assert_uint_eq(stat_entries(), 4);
	ldns_rdf_deep_free(z);

	/* the root zone is everything */
	z = dn(".");
	ck_assert_uint_eq(cache_flush_zone(c, z), 4);
	ldns_rdf_deep_free(z);
}
END_TEST

/* A label holding the bytes "\001b" makes the wire form of x\001b.example.com.
 * end in the wire form of b.example.com.: only label-wise comparison tells
 * them apart. */
START_TEST(flush_zone_label_boundary)
{
	ldns_rdf *z = dn("b.example.com.");

	store1("x\\001b.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("a.b.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_uint_eq(cache_flush_zone(c, z), 1);
	ck_assert_int_eq(lookup_ttl("x\\001b.example.com.", LDNS_RR_TYPE_A, 0), 300);
	ldns_rdf_deep_free(z);
}
END_TEST

START_TEST(flush_all_empties)
{
	char name[64];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "h%d.example. 300 IN A 192.0.2.1", i);
		ck_assert_int_eq(store1(name, CACHE_TRUST_ANSWER_AUTH, 0), 0);
	}
	ck_assert_uint_eq(stat_entries(), 1000);
	cache_flush_all(c);
	ck_assert_uint_eq(stat_entries(), 0);
	ck_assert_int_eq(lookup_ttl("h1.example.", LDNS_RR_TYPE_A, 0), -1);
	/* still usable */
	ck_assert_int_eq(store1("h1.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ck_assert_int_eq(lookup_ttl("h1.example.", LDNS_RR_TYPE_A, 0), 300);
}
END_TEST

/* ---- eviction ------------------------------------------------------- */

static void store_host(int i, uint64_t now)
{
	char s[96];

	snprintf(s, sizeof(s), "host%d.example.org. 3600 IN A 10.%d.%d.%d", i,
		 (i >> 16) & 255, (i >> 8) & 255, i & 255);
	ck_assert_int_eq(store1(s, CACHE_TRUST_ANSWER_AUTH, now), 0);
}

static long lookup_host(int i, uint64_t now)
{
	char s[64];

	snprintf(s, sizeof(s), "host%d.example.org.", i);
	return lookup_ttl(s, LDNS_RR_TYPE_A, now);
}

/* A cache made with a budget this small has a single shard (cache.h), so
 * CLOCK's order over every entry is what these tests see; a large cache
 * keeps the same order within each shard. */
static void remake_cache(size_t max_bytes)
{
	cache_free(c);
	c = cache_new(max_bytes, &pol);
	ck_assert_ptr_nonnull(c);
}

START_TEST(eviction_bounds_bytes)
{
	const size_t limit = 64 * 1024;
	struct cache_stats st;

	remake_cache(limit);
	for (int i = 0; i < 100000; i++) {
		store_host(i, 0);
		cache_get_stats(c, &st);
		ck_assert_uint_le(st.bytes, limit);
	}
	ck_assert_uint_gt(st.evictions, 90000);
	ck_assert_uint_gt(st.entries, 200);
	ck_assert_uint_eq(st.inserts, 100000);
	ck_assert_uint_eq(st.evictions + st.entries, 100000);
	/* the newest is there, the oldest long gone */
	ck_assert_int_eq(lookup_host(99999, 0), 3600);
	ck_assert_int_eq(lookup_host(0, 0), -1);
}
END_TEST

START_TEST(eviction_spares_recently_used)
{
	struct cache_stats st;
	int n;

	remake_cache(32 * 1024);
	/* fill until the first eviction, then use the oldest survivor */
	for (n = 0;; n++) {
		store_host(n, 0);
		cache_get_stats(c, &st);
		if (st.evictions)
			break;
	}
	ck_assert_int_eq(lookup_host(0, 0), -1);
	ck_assert_int_eq(lookup_host(1, 0), 3600);   /* oldest left; now recently used */
	/* a few more inserts evict the old, unused ones but not host1 */
	for (int i = 0; i < 8; i++)
		store_host(n + 1 + i, 0);
	ck_assert_int_eq(lookup_host(1, 0), 3600);
	ck_assert_int_eq(lookup_host(2, 0), -1);
	ck_assert_int_eq(lookup_host(3, 0), -1);
	/* shrinking the budget evicts, least recently used first */
	cache_set_max_bytes(c, 16 * 1024);
	cache_get_stats(c, &st);
	ck_assert_uint_le(st.bytes, 16 * 1024);
	ck_assert_int_eq(lookup_host(n + 8, 0), 3600);
}
END_TEST

START_TEST(eviction_prefers_expired)
{
	struct cache_stats st;
	char s[64];
	int n;

	remake_cache(32 * 1024);
	store1("short.example. 1 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	/* referenced, so a live "short" would get a second chance... */
	ck_assert_int_eq(lookup_ttl("short.example.", LDNS_RR_TYPE_A, 0), 1);
	for (n = 0;; n++) {
		store_host(n, 2000);
		cache_get_stats(c, &st);
		if (st.evictions)
			break;
	}
	/* ...but it expired, so it was the one victim and host0 stays */
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_uint_eq(st.entries, (uint64_t)n + 1);
	for (int i = 0; i <= n; i++) {
		snprintf(s, sizeof(s), "host%d.example.org.", i);
		ck_assert_int_eq(lookup_ttl(s, LDNS_RR_TYPE_A, 2000), 3600);
	}
}
END_TEST

START_TEST(tiny_budget_holds_nothing)
{
	struct cache_stats st;

	cache_set_max_bytes(c, 0);
	ck_assert_int_eq(store1("a.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0), 0);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.evictions, 1);
}
END_TEST

/* ---- serve-expired -------------------------------------------------- */

START_TEST(serve_stale_window)
{
	struct cache_result res;
	struct cache_stats st;
	bool nxd;

	pol.serve_expired = true;
	pol.serve_expired_window = 3600;
	cache_set_policy(c, &pol);
	store1("s.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store_neg("gone.example.com.", 0, true, SOA_EX, 0);

	ck_assert_int_eq(lookup_full("s.example.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, true, 9999,
				     &res), 1);
	ck_assert(!res.stale);
	cache_result_clear(&res);
	/* expired: never without allow_stale */
	ck_assert_int_eq(lookup_ttl("s.example.", LDNS_RR_TYPE_A, 10000), -1);
	ck_assert_uint_eq(stat_entries(), 2);
	/* with it: stale, TTL 30, on the RRs too */
	ck_assert_int_eq(lookup_full("s.example.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, true, 10000,
				     &res), 30);
	ck_assert(res.stale);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(res.rrset, 0)), 30);
	cache_result_clear(&res);
	ck_assert_int_eq(lookup_full("s.example.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, true,
				     10000 + 3600000 - 1, &res), 30);
	cache_result_clear(&res);
	/* negative data too */
	ck_assert_int_eq(lookup_neg("x.gone.example.com.", LDNS_RR_TYPE_A, false, 300000, NULL),
			 -1);
	ck_assert_int_eq(lookup_neg("x.gone.example.com.", LDNS_RR_TYPE_A, true, 300000, &nxd),
			 30);
	ck_assert(nxd);
	/* past the window: gone for good, and reclaimed */
	ck_assert_int_eq(lookup_full("s.example.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, true,
				     10000 + 3600000, &res), -1);
	ck_assert_int_eq(lookup_neg("x.gone.example.com.", LDNS_RR_TYPE_A, true, 3900000, NULL),
			 -1);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
}
END_TEST

START_TEST(stale_off_reclaims_expired)
{
	struct cache_result res;

	store1("s.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup_full("s.example.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, true, 10000,
				     &res), -1);
	ck_assert_uint_eq(stat_entries(), 0);
}
END_TEST

/* ---- walk ----------------------------------------------------------- */

struct walk_acc {
	int pos, neg, nxd, stop_after, calls;
	uint32_t ttl_sum;
};

static int walk_cb(void *ud, const struct cache_entry_view *e)
{
	struct walk_acc *a = ud;
	char *owner = ldns_rdf2str(e->owner);

	/* every owner handed out is lowercase */
	for (char *p = owner; *p; p++)
		ck_assert(!(*p >= 'A' && *p <= 'Z'));
	free(owner);
	a->calls++;
	a->ttl_sum += e->ttl;
	if (e->negative) {
		ck_assert_ptr_nonnull(e->soa);
		ck_assert_ptr_null(e->rrset);
		ck_assert_uint_eq(ldns_rr_ttl(e->soa), e->ttl);
		if (e->nxdomain)
			a->nxd++;
		else
			a->neg++;
	} else {
		ck_assert_ptr_nonnull(e->rrset);
		ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(e->rrset, 0)), e->ttl);
		a->pos++;
	}
	return a->stop_after && a->calls >= a->stop_after;
}

START_TEST(walk_visits_live)
{
	struct walk_acc a = { 0 };
	ldns_rdf *below;

	store1("A.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("b.example.com. 300 IN A 192.0.2.1", CACHE_TRUST_GLUE, 0);
	store1("example.net. 300 IN NS ns.example.net.", CACHE_TRUST_REFERRAL, 0);
	store1("old.example.com. 1 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store_neg("c.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0);
	store_neg("d.example.com.", 0, true, SOA_EX, 0);

	cache_walk(c, NULL, 2000, walk_cb, &a);
	ck_assert_int_eq(a.pos, 3);
	ck_assert_int_eq(a.neg, 1);
	ck_assert_int_eq(a.nxd, 1);
	ck_assert_uint_eq(a.ttl_sum, 3 * 298 + 2 * 298);

	memset(&a, 0, sizeof(a));
	below = dn("example.com.");
	cache_walk(c, below, 0, walk_cb, &a);
	ck_assert_int_eq(a.calls, 5);
	ldns_rdf_deep_free(below);

	memset(&a, 0, sizeof(a));
	a.stop_after = 2;
	cache_walk(c, NULL, 0, walk_cb, &a);
	ck_assert_int_eq(a.calls, 2);
}
END_TEST

/* A stepped walk visits every entry present throughout exactly once,
 * although the table doubles several times between its steps. */
static int count_cb(void *ud, const struct cache_entry_view *e)
{
	int *seen = ud;
	char *s = ldns_rdf2str(e->owner);
	int i = -1;

	if (s && sscanf(s, "n%d.", &i) == 1 && i >= 0 && i < 100)
		seen[i]++;
	free(s);
	return 0;
}

START_TEST(walk_step_resumes_across_growth)
{
	int seen[100] = { 0 };
	struct cache_cursor cur = { 0 };
	char buf[80];
	int added = 0, steps = 0;

	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "n%d.example. 300 IN A 192.0.2.1", i);
		store1(buf, CACHE_TRUST_ANSWER_AUTH, 0);
	}
	while (!cur.done) {
		ck_assert_uint_le(cache_walk_step(c, NULL, 0, &cur, 3, count_cb, seen), 3 + 8);
		for (int k = 0; k < 40 && added < 2000; k++, added++) {
			snprintf(buf, sizeof(buf), "m%d.example. 300 IN A 192.0.2.1", added);
			store1(buf, CACHE_TRUST_ANSWER_AUTH, 0);
		}
		ck_assert_int_lt(++steps, 100000);
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_uint_eq(cache_walk_step(c, NULL, 0, &cur, 3, count_cb, seen), 0);
}
END_TEST

/* ---- stats ---------------------------------------------------------- */

START_TEST(stats_counters)
{
	struct cache_stats st;

	store1("a.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("b.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("b.example. 300 IN A 192.0.2.2", CACHE_TRUST_GLUE, 0);  /* rejected */
	store_neg("n.example.com.", LDNS_RR_TYPE_A, false, SOA_EX, 0);
	lookup_ttl("a.example.", LDNS_RR_TYPE_A, 0);
	lookup_ttl("a.example.", LDNS_RR_TYPE_A, 0);
	lookup_ttl("zz.example.", LDNS_RR_TYPE_A, 0);
	lookup_neg("n.example.com.", LDNS_RR_TYPE_A, false, 0, NULL);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.inserts, 3);
	ck_assert_uint_eq(st.rejected_by_trust, 1);
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.max_bytes, 64u << 20);
	ck_assert_uint_gt(st.bytes, 3 * 64);
	ck_assert_str_eq(cache_trust_str(CACHE_TRUST_GLUE), "glue");
	ck_assert_str_eq(cache_trust_str(CACHE_TRUST_ANSWER_AUTH), "answer-auth");
}
END_TEST

/* ---- RRSIGs --------------------------------------------------------- */

#define SIG_A "www.example.com. 300 IN RRSIG A 8 3 300 20300101000000 20200101000000 " \
	"12345 example.com. dGVzdHNpZ25hdHVyZQ=="
#define SIG_A2 "www.example.com. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 " \
	"54321 example.com. YW5vdGhlcnNpZw=="

START_TEST(rrsig_roundtrip)
{
	ldns_rr_list *set = rrl("www.example.com. 300 IN A 192.0.2.1", NULL);
	ldns_rr_list *sigs = rrl(SIG_A, SIG_A2, NULL);
	struct cache_result res;

	ck_assert_int_eq(cache_store_rrset(c, set, sigs, CACHE_TRUST_ANSWER_AUTH, 0), 0);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ck_assert_int_eq(lookup_full("www.example.com.", LDNS_RR_TYPE_A, CACHE_TRUST_NONE, false,
				     1000, &res), 299);
	ck_assert_ptr_nonnull(res.rrsigs);
	ck_assert_uint_eq(ldns_rr_list_rr_count(res.rrsigs), 2);
	assert_same_rr(ldns_rr_list_rr(res.rrsigs, 0), SIG_A);
	assert_same_rr(ldns_rr_list_rr(res.rrsigs, 1), SIG_A2);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(res.rrsigs, 0)), 299);
	cache_result_clear(&res);
}
END_TEST

START_TEST(rrsig_must_match)
{
	ldns_rr_list *set = rrl("www.example.com. 300 IN A 192.0.2.1", NULL);
	ldns_rr_list *wrong_type = rrl("www.example.com. 300 IN RRSIG AAAA 8 3 300 "
				       "20300101000000 20200101000000 1 example.com. AAAA",
				       NULL);
	ldns_rr_list *wrong_owner = rrl("ftp.example.com. 300 IN RRSIG A 8 3 300 "
					"20300101000000 20200101000000 1 example.com. AAAA",
					NULL);
	ldns_rr_list *not_sig = rrl("www.example.com. 300 IN A 192.0.2.2", NULL);

	ck_assert_int_eq(cache_store_rrset(c, set, wrong_type, CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(cache_store_rrset(c, set, wrong_owner, CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(cache_store_rrset(c, set, not_sig, CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_uint_eq(stat_entries(), 0);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(wrong_type);
	ldns_rr_list_deep_free(wrong_owner);
	ldns_rr_list_deep_free(not_sig);
}
END_TEST

/* ---- input validation and table growth ------------------------------ */

START_TEST(bad_rrsets_rejected)
{
	ldns_rr_list *empty = ldns_rr_list_new();
	struct cache_result res;
	ldns_rdf *notname = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");

	ck_assert_int_eq(cache_store_rrset(c, NULL, NULL, CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(cache_store_rrset(c, empty, NULL, CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ldns_rr_list_free(empty);
	ck_assert_int_eq(store(rrl("a.example. 300 IN A 192.0.2.1",
				   "b.example. 300 IN A 192.0.2.1", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(store(rrl("a.example. 300 IN A 192.0.2.1",
				   "a.example. 300 IN AAAA ::1", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(store(rrl("a.example. 300 IN A 192.0.2.1",
				   "a.example. 300 CH A 192.0.2.1", NULL),
			       CACHE_TRUST_ANSWER_AUTH, 0), -1);
	ck_assert_int_eq(store1("a.example. 300 IN A 192.0.2.1", (enum cache_trust)9, 0), -1);
	ck_assert_uint_eq(stat_entries(), 0);
	ck_assert_ptr_nonnull(notname);
	ck_assert_int_eq(cache_lookup_rrset(c, notname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
					    CACHE_TRUST_NONE, false, 0, &res), 0);
	ldns_rdf_deep_free(notname);
}
END_TEST

START_TEST(many_entries_all_found)
{
	char s[96];

	/* grows the table many times; every key stays reachable */
	for (int i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "n%d.example. 300 IN TXT \"%d\"", i, i);
		ck_assert_int_eq(store1(s, CACHE_TRUST_ANSWER_AUTH, 0), 0);
	}
	for (int i = 0; i < 20000; i++) {
		struct cache_result res;

		snprintf(s, sizeof(s), "N%d.EXAMPLE.", i);
		ck_assert_int_eq(lookup_full(s, LDNS_RR_TYPE_TXT, CACHE_TRUST_NONE, false, 0,
					     &res), 300);
		snprintf(s, sizeof(s), "n%d.example. 300 IN TXT \"%d\"", i, i);
		assert_same_rr(ldns_rr_list_rr(res.rrset, 0), s);
		cache_result_clear(&res);
	}
	ck_assert_uint_eq(stat_entries(), 20000);
}
END_TEST

START_TEST(classes_are_distinct)
{
	store1("v.example. 300 IN TXT \"in\"", CACHE_TRUST_ANSWER_AUTH, 0);
	store1("v.example. 300 CH TXT \"ch\"", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_uint_eq(stat_entries(), 2);
	ck_assert_int_eq(lookup_ttl("v.example.", LDNS_RR_TYPE_TXT, 0), 300);
}
END_TEST

/* cache_siphash.h reads a 1-7 byte tail of a long input with one load of
 * its last eight bytes: the result must be SipHash-1-3 of the same bytes,
 * here computed with the tail gathered byte by byte, for every tail
 * length, at several lengths and alignments. */
static uint64_t siphash13_bytewise(const struct siphash_key *key, uint64_t prefix,
				   const uint8_t *p, size_t len)
{
	struct siphash_state s = {
		.v0 = key->k0 ^ 0x736f6d6570736575ull,
		.v1 = key->k1 ^ 0x646f72616e646f6dull,
		.v2 = key->k0 ^ 0x6c7967656e657261ull,
		.v3 = key->k1 ^ 0x7465646279746573ull,
	};
	uint64_t last = (uint64_t)(len + 8) << 56;
	size_t i = 0;

	siphash_block(&s, prefix);
	for (; i + 8 <= len; i += 8) {
		uint64_t m = 0;

		for (size_t j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		siphash_block(&s, m);
	}
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)p[i + j] << (8 * j);
	siphash_block(&s, last);
	s.v2 ^= 0xff;
	siphash_round(&s);
	siphash_round(&s);
	siphash_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

START_TEST(siphash_tail_load_matches_bytewise)
{
	const struct siphash_key key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
	uint8_t buf[64 + 8];
	unsigned distinct = 0;
	uint64_t prev = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t align = 0; align < 8; align++) {
		for (size_t len = 0; len <= 64; len++) {
			uint64_t prefix = 0x1c0000ull * len + align;
			uint64_t h = siphash13(&key, prefix, buf + align, len);

			ck_assert_uint_eq(h, siphash13_bytewise(&key, prefix, buf + align, len));
			distinct += h != prev;
			prev = h;
		}
	}
	ck_assert_uint_eq(distinct, 8 * 65);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, roundtrip_several_rrs);
	tcase_add_test(t, roundtrip_rdata_types);
	tcase_add_test(t, case_insensitive_lowercase_owner);
	tcase_add_test(t, ttl_decrement_and_exact_expiry);
	tcase_add_test(t, ttl_is_minimum_of_rrset);
	tcase_add_test(t, ttl_policy_clamp);
	tcase_add_test(t, ttl_zero_not_stored);
	tcase_add_test(t, max_ttl_zero_caches_nothing);
	tcase_add_test(t, trust_ranking);
	tcase_add_test(t, trust_expired_replaced_by_anything);
	tcase_add_test(t, negative_ttl_math);
	tcase_add_test(t, negative_soa_content);
	tcase_add_test(t, nodata_is_per_type);
	tcase_add_test(t, negative_bad_input);
	tcase_add_test(t, rfc8020_nxdomain_covers_subtree);
	tcase_add_test(t, positive_after_negative);
	tcase_add_test(t, negative_and_trust);
	tcase_add_test(t, flush_name_and_type);
	tcase_add_test(t, flush_zone_exact_subtree);
	tcase_add_test(t, flush_zone_label_boundary);
	tcase_add_test(t, flush_all_empties);
	tcase_add_test(t, eviction_bounds_bytes);
	tcase_add_test(t, eviction_spares_recently_used);
	tcase_add_test(t, eviction_prefers_expired);
	tcase_add_test(t, tiny_budget_holds_nothing);
	tcase_add_test(t, serve_stale_window);
	tcase_add_test(t, stale_off_reclaims_expired);
	tcase_add_test(t, walk_visits_live);
	tcase_add_test(t, walk_step_resumes_across_growth);
	tcase_add_test(t, stats_counters);
	tcase_add_test(t, rrsig_roundtrip);
	tcase_add_test(t, rrsig_must_match);
	tcase_add_test(t, bad_rrsets_rejected);
	tcase_add_test(t, many_entries_all_found);
	tcase_add_test(t, classes_are_distinct);
	tcase_add_test(t, siphash_tail_load_matches_bytewise);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
