/* test_stale.c — serve-stale answers from a real cache with a fake clock. */
#include "stale.h"

#include <check.h>
#include <stdlib.h>

#include "leak.h"

static struct cache *c;

static void setup(void)
{
	struct cache_policy pol;

	cache_get_policy_defaults(&pol);
	pol.serve_expired = true;
	pol.serve_expired_window = 100;
	c = cache_new(1u << 20, &pol);
	ck_assert_ptr_nonnull(c);
}

static void teardown(void)
{
	cache_free(c);
	assert_no_leaks();
}

static void store(const char *text, enum cache_trust trust, uint64_t now)
{
	ldns_rr *rr = NULL;
	ldns_rr_list *l = ldns_rr_list_new();

	ck_assert_int_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
	ldns_rr_list_push_rr(l, rr);
	ck_assert_int_eq(cache_store_rrset(c, l, NULL, trust, now), 0);
	ldns_rr_list_deep_free(l);
}

static int lookup(const char *name, ldns_rr_type t, uint64_t now, struct stale_answer *sa)
{
	ldns_rdf *n = ldns_dname_new_frm_str(name);
	int rc = stale_lookup(c, n, t, LDNS_RR_CLASS_IN, 8, now, sa);

	ldns_rdf_deep_free(n);
	return rc;
}

START_TEST(expired_chain_answers_with_stale_ttl)
{
	struct stale_answer sa;

	store("alias.example. 10 IN CNAME www.example.", CACHE_TRUST_ANSWER_AUTH, 0);
	store("www.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup("alias.example.", LDNS_RR_TYPE_A, 50000, &sa), 1);
	ck_assert_uint_eq(sa.rcode, LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(sa.answer), 2);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(sa.answer, 0)), CACHE_STALE_TTL);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(sa.answer, 1)), LDNS_RR_TYPE_A);
	stale_answer_clear(&sa);
}
END_TEST

START_TEST(fresh_data_keeps_its_ttl)
{
	struct stale_answer sa;

	store("www.example. 300 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup("www.example.", LDNS_RR_TYPE_A, 100000, &sa), 1);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(sa.answer, 0)), 200);
	stale_answer_clear(&sa);
}
END_TEST

START_TEST(past_the_window_nothing)
{
	struct stale_answer sa;

	store("www.example. 10 IN A 192.0.2.1", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup("www.example.", LDNS_RR_TYPE_A, 111000, &sa), 0);
	ck_assert_ptr_null(sa.answer);
}
END_TEST

START_TEST(glue_is_never_an_answer)
{
	struct stale_answer sa;

	store("ns.example. 10 IN A 192.0.2.53", CACHE_TRUST_GLUE, 0);
	ck_assert_int_eq(lookup("ns.example.", LDNS_RR_TYPE_A, 20000, &sa), 0);
}
END_TEST

START_TEST(chain_to_nothing_fails)
{
	struct stale_answer sa;

	store("alias.example. 10 IN CNAME gone.example.", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup("alias.example.", LDNS_RR_TYPE_A, 20000, &sa), 0);
}
END_TEST

START_TEST(cname_loop_is_bounded)
{
	struct stale_answer sa;

	store("a.example. 10 IN CNAME b.example.", CACHE_TRUST_ANSWER_AUTH, 0);
	store("b.example. 10 IN CNAME a.example.", CACHE_TRUST_ANSWER_AUTH, 0);
	ck_assert_int_eq(lookup("a.example.", LDNS_RR_TYPE_A, 20000, &sa), 0);
}
END_TEST

START_TEST(stale_nxdomain)
{
	struct stale_answer sa;
	ldns_rr *soa = NULL;
	ldns_rdf *q = ldns_dname_new_frm_str("nope.example.");

	ck_assert_int_eq(ldns_rr_new_frm_str(&soa,
		"example. 60 IN SOA ns.example. host.example. 1 3600 900 604800 30",
		0, NULL, NULL), LDNS_STATUS_OK);
	ck_assert_int_eq(cache_store_negative(c, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
					      true, soa, 0), 0);
	ck_assert_int_eq(lookup("nope.example.", LDNS_RR_TYPE_A, 40000, &sa), 1);
	ck_assert_uint_eq(sa.rcode, LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ldns_rr_list_rr_count(sa.authority), 1);
	stale_answer_clear(&sa);
	ldns_rr_free(soa);
	ldns_rdf_deep_free(q);
}
END_TEST

static Suite *stale_suite(void)
{
	Suite *s = suite_create("stale");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, expired_chain_answers_with_stale_ttl);
	tcase_add_test(tc, fresh_data_keeps_its_ttl);
	tcase_add_test(tc, past_the_window_nothing);
	tcase_add_test(tc, glue_is_never_an_answer);
	tcase_add_test(tc, chain_to_nothing_fails);
	tcase_add_test(tc, cname_loop_is_bounded);
	tcase_add_test(tc, stale_nxdomain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stale_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
