/* test_infra.c — unit tests for the upstream server table.
 *
 * Fake clock (plain milliseconds), no sleeping.  Each test gets a fresh
 * table; the teardown flushes it, checks it is empty, frees it and (in
 * sanitizer builds) runs LeakSanitizer, because Check's forked children
 * exit without LSan's end-of-process check. */
#include "infra.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leak.h"

#define TTL_MS 900000u

static struct infra *inf;

static void setup(void)
{
	inf = infra_new(1000, TTL_MS);
	ck_assert_ptr_nonnull(inf);
}

static void teardown(void)
{
	infra_flush(inf, NULL);
	ck_assert_uint_eq(infra_count(inf), 0);
	infra_free(inf);
	inf = NULL;
	assert_no_leaks();
}

/* ---- helpers ---------------------------------------------------------- */

static struct sockaddr_storage ss4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage ss6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static struct infra_info info_of(const struct sockaddr *sa, uint64_t now)
{
	struct infra_info i;

	ck_assert_int_eq(infra_get(inf, sa, now, &i), 1);
	return i;
}

static ldns_rdf *dn(const char *s)
{
	ldns_rdf *d = ldns_dname_new_frm_str(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

/* ---- RTT estimator -------------------------------------------------- */

START_TEST(unknown_server_defaults)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	struct infra_info i;

	ck_assert_uint_eq(infra_rto(inf, SA(a), 0), INFRA_INITIAL_RTO_MS);
	ck_assert(!infra_is_down(inf, SA(a), 0));
	ck_assert_int_eq(infra_get(inf, SA(a), 0, &i), 0);
	ck_assert_uint_eq(infra_count(inf), 0); /* asking does not create */
}
END_TEST

START_TEST(estimator_math)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	struct infra_info i;

	/* first sample: srtt = r, rttvar = r/2, rto = 80 + 4*40 */
	infra_note_rtt(inf, SA(a), 80, 0);
	i = info_of(SA(a), 0);
	ck_assert_uint_eq(i.srtt_ms, 80);
	ck_assert_uint_eq(i.rttvar_ms, 40);
	ck_assert_uint_eq(i.rto_ms, 240);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 0), 240);
	/* rttvar = 3/4*40 + 1/4*|80-160| = 50; srtt = 7/8*80 + 1/8*160 = 90 */
	infra_note_rtt(inf, SA(a), 160, 1);
	i = info_of(SA(a), 1);
	ck_assert_uint_eq(i.rttvar_ms, 50);
	ck_assert_uint_eq(i.srtt_ms, 90);
	ck_assert_uint_eq(i.rto_ms, 290);
	/* rttvar = 3/4*50 + 1/4*|90-90| = 37.5; srtt = 90; rto = 240 */
	infra_note_rtt(inf, SA(a), 90, 2);
	i = info_of(SA(a), 2);
	ck_assert_uint_eq(i.srtt_ms, 90);
	ck_assert_uint_eq(i.rttvar_ms, 38);     /* 37.5 rounds to 38 */
	ck_assert_uint_eq(i.rto_ms, 240);
	ck_assert_uint_eq(i.replies, 3);
	ck_assert_uint_eq(i.queries, 3);
	ck_assert_uint_eq(i.timeouts, 0);
}
END_TEST

START_TEST(rto_floor_and_cap)
{
	struct sockaddr_storage fast = ss4("192.0.2.1", 53), slow = ss4("192.0.2.2", 53);

	infra_note_rtt(inf, SA(fast), 1, 0);
	ck_assert_uint_eq(infra_rto(inf, SA(fast), 0), INFRA_MIN_RTO_MS);
	/* converges toward 0 ms: still the floor */
	for (int k = 0; k < 50; k++)
		infra_note_rtt(inf, SA(fast), 0, 0);
	ck_assert_uint_eq(infra_rto(inf, SA(fast), 0), INFRA_MIN_RTO_MS);
	infra_note_rtt(inf, SA(slow), 10000, 0);
	ck_assert_uint_eq(infra_rto(inf, SA(slow), 0), INFRA_MAX_RTO_MS);
	/* an absurd sample is capped before it enters the estimator */
	infra_note_rtt(inf, SA(slow), 4000000000u, 0);
	ck_assert_uint_le(info_of(SA(slow), 0).srtt_ms, INFRA_MAX_RTO_MS);
}
END_TEST

START_TEST(backoff_doubles_to_cap)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	static const uint32_t want[] = { 752, 1504, 3008, 6016, 12000, 12000 };

	uint64_t t = 1;

	/* one timeout per RTO period: each doubles */
	for (unsigned k = 0; k < 6; k++) {
		infra_note_timeout(inf, SA(a), t);
		ck_assert_uint_eq(infra_rto(inf, SA(a), t), want[k]);
		ck_assert_uint_eq(info_of(SA(a), t).timeouts, k + 1);
		t += want[k];
	}
	ck_assert_uint_eq(info_of(SA(a), 6).srtt_ms, 0);  /* never measured */
	ck_assert_uint_eq(info_of(SA(a), 6).queries, 6);
	ck_assert_uint_eq(info_of(SA(a), 6).replies, 0);
}
END_TEST

START_TEST(reply_resets_backoff)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);

	infra_note_rtt(inf, SA(a), 80, 0);
	infra_note_timeout(inf, SA(a), 1);
	infra_note_timeout(inf, SA(a), 481);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 481), 960);
	ck_assert_uint_eq(info_of(SA(a), 481).timeouts, 2);
	/* srtt and rttvar survived the back-off: same sample, same math */
	infra_note_rtt(inf, SA(a), 160, 482);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 482), 290);
	ck_assert_uint_eq(info_of(SA(a), 482).timeouts, 0);
}
END_TEST

/* A burst of queries lost together is one piece of evidence: the RTO
 * doubles once, not once per query, so one burst of loss cannot push it
 * past the client's deadline. */
START_TEST(burst_of_timeouts_backs_off_once)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);

	infra_note_rtt(inf, SA(a), 10, 0);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 0), INFRA_MIN_RTO_MS);
	for (int k = 0; k < 200; k++)
		infra_note_timeout(inf, SA(a), 100);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 100), 2 * INFRA_MIN_RTO_MS);
	ck_assert_uint_eq(info_of(SA(a), 100).timeouts, 200);
	ck_assert(!infra_is_down(inf, SA(a), 100));
	/* a period later, the next loss counts again */
	infra_note_timeout(inf, SA(a), 100 + 2 * INFRA_MIN_RTO_MS);
	ck_assert_uint_eq(infra_rto(inf, SA(a), 200), 4 * INFRA_MIN_RTO_MS);
}
END_TEST

/* ---- down detection ------------------------------------------------- */

START_TEST(down_after_backoff_to_cap)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	uint64_t t = 1000;

	/* 376 -> 752 -> 1504 -> 3008 -> 6016: not yet at the cap */
	for (int k = 0; k < 4; k++) {
		infra_note_timeout(inf, SA(a), t);
		t += infra_rto(inf, SA(a), t);
	}
	ck_assert(!infra_is_down(inf, SA(a), t));
	infra_note_timeout(inf, SA(a), t);    /* 12000, 5 in a row */
	ck_assert(infra_is_down(inf, SA(a), t));
	/* a reply revives it */
	infra_note_rtt(inf, SA(a), 100, t + 1);
	ck_assert(!infra_is_down(inf, SA(a), t + 1));
}
END_TEST

START_TEST(slow_server_needs_several_timeouts)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);

	infra_note_rtt(inf, SA(a), 5000, 0);   /* rto already at the cap */
	ck_assert_uint_eq(infra_rto(inf, SA(a), 0), INFRA_MAX_RTO_MS);
	infra_note_timeout(inf, SA(a), 1);
	infra_note_timeout(inf, SA(a), 2);
	ck_assert(!infra_is_down(inf, SA(a), 2));
	infra_note_timeout(inf, SA(a), 3);
	ck_assert(infra_is_down(inf, SA(a), 3));
}
END_TEST

START_TEST(down_probe_interval)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	uint64_t t = 5000;

	for (int k = 0; k < 5; k++) {
		infra_note_timeout(inf, SA(a), t);
		if (k < 4)
			t += infra_rto(inf, SA(a), t);
	}
	ck_assert(infra_is_down(inf, SA(a), t + INFRA_PROBE_DOWN_MS - 1));
	/* time for a probe */
	ck_assert(!infra_is_down(inf, SA(a), t + INFRA_PROBE_DOWN_MS));
	/* the probe timed out: down again */
	infra_note_timeout(inf, SA(a), t + INFRA_PROBE_DOWN_MS);
	ck_assert(infra_is_down(inf, SA(a), t + INFRA_PROBE_DOWN_MS + 1));
}
END_TEST

/* ---- blocked servers: fail fast, one probe per interval -------------- */

/* Silent over INFRA_BLOCK_SILENCE_MS with INFRA_BLOCK_TIMEOUTS timeouts:
 * blocked.  One claim per probe interval goes through; a reply unblocks. */
START_TEST(blocked_after_silence_then_probes)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	uint64_t t = 1000;
	uint32_t iv;

	infra_note_rtt(inf, SA(a), 10, t);
	for (unsigned k = 1; k < INFRA_BLOCK_TIMEOUTS; k++)
		infra_note_timeout(inf, SA(a), t + 100 + 50 * k);
	/* enough timeouts but for the last, silent for less than 1 s */
	ck_assert(!infra_is_blocked(inf, SA(a), t + 700));
	infra_note_timeout(inf, SA(a), t + 700);
	ck_assert(!infra_is_silent(inf, SA(a), t + 700));
	ck_assert(!infra_is_blocked(inf, SA(a), t + 700));
	ck_assert(infra_claim_query(inf, SA(a), t + 700));
	t += 200 + INFRA_BLOCK_SILENCE_MS;
	infra_note_timeout(inf, SA(a), t);
	/* blocked, but no probe was sent yet: the first claim is the probe */
	ck_assert(infra_is_silent(inf, SA(a), t));
	ck_assert(!infra_is_blocked(inf, SA(a), t));
	ck_assert(infra_claim_query(inf, SA(a), t));
	ck_assert(infra_is_blocked(inf, SA(a), t));
	ck_assert(!infra_claim_query(inf, SA(a), t));
	/* the probe interval is the backoff interval, at most 1 s */
	iv = infra_rto(inf, SA(a), t);
	if (iv > INFRA_PROBE_INTERVAL_MS)
		iv = INFRA_PROBE_INTERVAL_MS;
	ck_assert(!infra_claim_query(inf, SA(a), t + iv - 1));
	/* next interval: one more probe */
	ck_assert(!infra_is_blocked(inf, SA(a), t + iv));
	ck_assert(infra_claim_query(inf, SA(a), t + iv));
	ck_assert(!infra_claim_query(inf, SA(a), t + iv));
	/* the probe is answered: usable by everyone at once */
	infra_note_rtt(inf, SA(a), 10, t + iv + 5);
	ck_assert(!infra_is_blocked(inf, SA(a), t + iv + 5));
	ck_assert(infra_claim_query(inf, SA(a), t + iv + 5));
	ck_assert(infra_claim_query(inf, SA(a), t + iv + 5));
}
END_TEST

/* A burst of queries lost together (no time spread) or a lossy server
 * (replies between the losses) is not blocked; an unknown one is not. */
START_TEST(burst_or_lossy_not_blocked)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	struct sockaddr_storage b = ss4("192.0.2.2", 53);
	struct sockaddr_storage c = ss4("192.0.2.3", 53);
	uint64_t t = 1000;

	ck_assert(!infra_is_blocked(inf, SA(c), t));
	ck_assert(infra_claim_query(inf, SA(c), t));
	for (int k = 0; k < 200; k++)
		infra_note_timeout(inf, SA(a), t);
	ck_assert(!infra_is_blocked(inf, SA(a), t + 10));
	for (int k = 0; k < 30; k++) {
		infra_note_timeout(inf, SA(b), t + 200 * (uint64_t)k);
		infra_note_timeout(inf, SA(b), t + 200 * (uint64_t)k + 50);
		infra_note_rtt(inf, SA(b), 5, t + 200 * (uint64_t)k + 100);
	}
	ck_assert(!infra_is_blocked(inf, SA(b), t + 6000));
	ck_assert(infra_claim_query(inf, SA(b), t + 6000));
}
END_TEST

/* The evidence goes stale with the "down" state's probe interval. */
START_TEST(blocked_evidence_goes_stale)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	uint64_t t = 1000;

	for (unsigned k = 0; k < INFRA_BLOCK_TIMEOUTS; k++)
		infra_note_timeout(inf, SA(a), t + 200 * (uint64_t)k);
	t += 200 * INFRA_BLOCK_TIMEOUTS;
	ck_assert(infra_claim_query(inf, SA(a), t));
	ck_assert(infra_is_blocked(inf, SA(a), t));
	ck_assert(!infra_is_blocked(inf, SA(a), t + INFRA_PROBE_DOWN_MS));
}
END_TEST

/* The one-call summary for server selection says what the four calls say. */
START_TEST(select_info_matches_single_calls)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	ldns_rdf *z = ldns_dname_new_frm_str("example.com.");
	uint64_t t = 1000;
	struct infra_sel st;

	ck_assert_ptr_nonnull(z);
	for (int round = 0; round < 3; round++) {
		infra_select_info(inf, SA(a), z, t, &st);
		ck_assert_uint_eq(st.rto_ms, infra_rto(inf, SA(a), t));
		ck_assert_int_eq(st.down, infra_is_down(inf, SA(a), t));
		ck_assert_int_eq(st.lame, infra_is_lame(inf, SA(a), z, t));
		ck_assert_int_eq(st.blocked, infra_is_blocked(inf, SA(a), t));
		if (round == 0)
			infra_note_lame(inf, SA(a), z, t);
		for (unsigned k = 0; round == 1 && k < INFRA_BLOCK_TIMEOUTS; k++)
			infra_note_timeout(inf, SA(a), t + 200 * (uint64_t)k);
		t += 200 * INFRA_BLOCK_TIMEOUTS;
		if (round == 1)
			ck_assert(infra_claim_query(inf, SA(a), t));
	}
	ck_assert(st.lame && st.blocked);
	ldns_rdf_deep_free(z);
}
END_TEST

START_TEST(lifetime_expiry_gives_fresh_chance)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	struct infra_info i;

	/* keep timing it out: the lifetime is not extended by events */
	for (int k = 0; k < 5; k++)
		infra_note_timeout(inf, SA(a), 0);
	for (uint64_t t = 0; t < TTL_MS; t += INFRA_PROBE_DOWN_MS / 2)
		infra_note_timeout(inf, SA(a), t);
	ck_assert(infra_is_down(inf, SA(a), TTL_MS - 1));
	ck_assert_uint_eq(infra_rto(inf, SA(a), TTL_MS - 1), INFRA_MAX_RTO_MS);
	/* forgotten at the exact lifetime */
	ck_assert(!infra_is_down(inf, SA(a), TTL_MS));
	ck_assert_uint_eq(infra_rto(inf, SA(a), TTL_MS), INFRA_INITIAL_RTO_MS);
	ck_assert_int_eq(infra_get(inf, SA(a), TTL_MS, &i), 0);
	/* and a new event starts from scratch */
	infra_note_timeout(inf, SA(a), TTL_MS);
	i = info_of(SA(a), TTL_MS);
	ck_assert_uint_eq(i.timeouts, 1);
	ck_assert_uint_eq(i.rto_ms, 2 * INFRA_INITIAL_RTO_MS);
	ck_assert_uint_eq(i.queries, 1);
}
END_TEST

/* ---- lameness ------------------------------------------------------- */

START_TEST(lame_per_zone)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53), b = ss4("192.0.2.2", 53);
	ldns_rdf *com = dn("Example.COM."), *net = dn("example.net."),
		 *lower = dn("example.com."), *sub = dn("sub.example.com.");

	infra_note_lame(inf, SA(a), com, 0);
	ck_assert(infra_is_lame(inf, SA(a), lower, 1));
	ck_assert(infra_is_lame(inf, SA(a), com, 1));
	ck_assert(!infra_is_lame(inf, SA(a), net, 1));
	ck_assert(!infra_is_lame(inf, SA(a), sub, 1));  /* per zone, not subtree */
	ck_assert(!infra_is_lame(inf, SA(b), lower, 1));
	/* lameness does not touch the RTT state */
	ck_assert_uint_eq(infra_rto(inf, SA(a), 1), INFRA_INITIAL_RTO_MS);
	ck_assert(!infra_is_down(inf, SA(a), 1));
	/* each record expires on its own */
	infra_note_lame(inf, SA(a), net, 500000);
	ck_assert(!infra_is_lame(inf, SA(a), com, TTL_MS));
	ck_assert(infra_is_lame(inf, SA(a), net, TTL_MS));
	ck_assert(infra_is_lame(inf, SA(a), net, 500000 + TTL_MS - 1));
	ck_assert(!infra_is_lame(inf, SA(a), net, 500000 + TTL_MS));
	/* noting again refreshes */
	infra_note_lame(inf, SA(a), com, 2000000);
	ck_assert(infra_is_lame(inf, SA(a), com, 2000000 + TTL_MS - 1));
	ldns_rdf_deep_free(com);
	ldns_rdf_deep_free(net);
	ldns_rdf_deep_free(lower);
	ldns_rdf_deep_free(sub);
}
END_TEST

START_TEST(lame_list_bounded)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	char name[32];
	unsigned n = INFRA_MAX_LAME_ZONES + 3;
	unsigned lame = 0;

	for (unsigned k = 0; k < n; k++) {
		ldns_rdf *z;

		snprintf(name, sizeof(name), "z%u.example.", k);
		z = dn(name);
		infra_note_lame(inf, SA(a), z, k);
		ldns_rdf_deep_free(z);
	}
	for (unsigned k = 0; k < n; k++) {
		ldns_rdf *z;

		snprintf(name, sizeof(name), "z%u.example.", k);
		z = dn(name);
		if (infra_is_lame(inf, SA(a), z, n)) {
			lame++;
			ck_assert_uint_ge(k, 3);  /* the oldest made room */
		}
		ldns_rdf_deep_free(z);
	}
	ck_assert_uint_eq(lame, INFRA_MAX_LAME_ZONES);
}
END_TEST

START_TEST(lame_bad_zone_ignored)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	ldns_rdf *notname = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");

	ck_assert_ptr_nonnull(notname);
	infra_note_lame(inf, SA(a), notname, 0);
	infra_note_lame(inf, SA(a), NULL, 0);
	ck_assert(!infra_is_lame(inf, SA(a), notname, 0));
	ck_assert_uint_eq(infra_count(inf), 0);
	ldns_rdf_deep_free(notname);
}
END_TEST

/* ---- flags ---------------------------------------------------------- */

START_TEST(flags_live_with_entry)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53);
	struct infra_info i;

	ck_assert(!infra_has_flag(inf, SA(a), INFRA_EDNS_BROKEN, 0));
	infra_set_flag(inf, SA(a), INFRA_EDNS_BROKEN, 0);
	infra_set_flag(inf, SA(a), INFRA_TCP_ONLY, 10);
	ck_assert(infra_has_flag(inf, SA(a), INFRA_EDNS_BROKEN, 10));
	ck_assert(infra_has_flag(inf, SA(a), INFRA_TCP_ONLY, 10));
	ck_assert(!infra_has_flag(inf, SA(a), INFRA_CAPS_BROKEN, 10));
	i = info_of(SA(a), 10);
	ck_assert(i.edns_broken && i.tcp_only && !i.caps_broken);
	/* set at 10 but the entry's lifetime started at 0 */
	ck_assert(infra_has_flag(inf, SA(a), INFRA_TCP_ONLY, TTL_MS - 1));
	ck_assert(!infra_has_flag(inf, SA(a), INFRA_TCP_ONLY, TTL_MS));
	ck_assert(!infra_has_flag(inf, SA(a), INFRA_EDNS_BROKEN, TTL_MS));
	/* a new lifetime starts clean */
	infra_set_flag(inf, SA(a), INFRA_CAPS_BROKEN, TTL_MS);
	ck_assert(infra_has_flag(inf, SA(a), INFRA_CAPS_BROKEN, TTL_MS));
	ck_assert(!infra_has_flag(inf, SA(a), INFRA_EDNS_BROKEN, TTL_MS));
}
END_TEST

/* ---- keys, eviction, flush, walk ------------------------------------ */

START_TEST(distinct_keys)
{
	struct sockaddr_storage v4 = ss4("192.0.2.1", 53), v4port = ss4("192.0.2.1", 5353);
	struct sockaddr_storage v4other = ss4("192.0.2.2", 53), v6 = ss6("2001:db8::1", 53);
	struct sockaddr_storage v6port = ss6("2001:db8::1", 54), mapped = ss6("::ffff:192.0.2.1", 53);
	struct sockaddr_storage scoped = ss6("fe80::1", 53), scoped2 = ss6("fe80::1", 53);
	struct sockaddr_storage bad;

	((struct sockaddr_in6 *)&scoped)->sin6_scope_id = 1;
	((struct sockaddr_in6 *)&scoped2)->sin6_scope_id = 2;
	infra_note_rtt(inf, SA(v4), 100, 0);
	infra_note_rtt(inf, SA(v4port), 200, 0);
	infra_note_rtt(inf, SA(v4other), 300, 0);
	infra_note_rtt(inf, SA(v6), 400, 0);
	infra_note_rtt(inf, SA(v6port), 500, 0);
	infra_note_rtt(inf, SA(scoped), 600, 0);
	infra_note_rtt(inf, SA(scoped2), 700, 0);
	ck_assert_uint_eq(infra_count(inf), 7);
	ck_assert_uint_eq(info_of(SA(v4), 0).srtt_ms, 100);
	ck_assert_uint_eq(info_of(SA(v4port), 0).srtt_ms, 200);
	ck_assert_uint_eq(info_of(SA(v4other), 0).srtt_ms, 300);
	ck_assert_uint_eq(info_of(SA(v6), 0).srtt_ms, 400);
	ck_assert_uint_eq(info_of(SA(v6port), 0).srtt_ms, 500);
	ck_assert_uint_eq(info_of(SA(scoped), 0).srtt_ms, 600);
	ck_assert_uint_eq(info_of(SA(scoped2), 0).srtt_ms, 700);
	/* an IPv4-mapped address is the IPv4 server */
	ck_assert_uint_eq(info_of(SA(mapped), 0).srtt_ms, 100);
	/* unsupported families are ignored, never crash */
	memset(&bad, 0, sizeof(bad));
	bad.ss_family = AF_UNIX;
	infra_note_rtt(inf, SA(bad), 1, 0);
	infra_note_timeout(inf, SA(bad), 0);
	ck_assert_uint_eq(infra_rto(inf, SA(bad), 0), INFRA_INITIAL_RTO_MS);
	ck_assert_uint_eq(infra_rto(inf, NULL, 0), INFRA_INITIAL_RTO_MS);
	ck_assert_uint_eq(infra_count(inf), 7);
}
END_TEST

static struct sockaddr_storage nth_addr(unsigned k)
{
	struct sockaddr_storage ss = ss4("10.0.0.0", 53);

	((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(0x0a000000u + k);
	return ss;
}

START_TEST(eviction_at_max_entries)
{
	struct infra *small = infra_new(100, TTL_MS);
	struct sockaddr_storage a;
	struct infra_info i;

	ck_assert_ptr_nonnull(small);
	for (unsigned k = 0; k < 100; k++) {
		a = nth_addr(k);
		infra_note_rtt(small, SA(a), k + 1, 0);
	}
	ck_assert_uint_eq(infra_count(small), 100);
	/* use server 0, so server 1 is now the least recently used */
	a = nth_addr(0);
	ck_assert_uint_eq(infra_rto(small, SA(a), 0), INFRA_MIN_RTO_MS);
	for (unsigned k = 100; k < 150; k++) {
		a = nth_addr(k);
		infra_note_timeout(small, SA(a), 0);
		ck_assert_uint_le(infra_count(small), 100);
	}
	ck_assert_uint_eq(infra_count(small), 100);
	a = nth_addr(0);
	ck_assert_int_eq(infra_get(small, SA(a), 0, &i), 1);
	for (unsigned k = 1; k <= 50; k++) {
		a = nth_addr(k);
		ck_assert_int_eq(infra_get(small, SA(a), 0, &i), 0);
	}
	a = nth_addr(51);
	ck_assert_int_eq(infra_get(small, SA(a), 0, &i), 1);
	ck_assert_uint_eq(i.srtt_ms, 52);
	ck_assert_uint_eq(infra_flush(small, NULL), 100);
	infra_free(small);
}
END_TEST

START_TEST(zero_max_entries_means_one)
{
	struct infra *one = infra_new(0, TTL_MS);
	struct sockaddr_storage a = ss4("192.0.2.1", 53), b = ss4("192.0.2.2", 53);

	ck_assert_ptr_nonnull(one);
	infra_note_rtt(one, SA(a), 10, 0);
	infra_note_rtt(one, SA(b), 10, 0);
	ck_assert_uint_eq(infra_count(one), 1);
	infra_free(one);
}
END_TEST

START_TEST(flush_one_and_all)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53), b = ss6("2001:db8::53", 53);
	ldns_rdf *z = dn("example.com.");
	struct infra_info i;

	infra_note_rtt(inf, SA(a), 10, 0);
	infra_note_lame(inf, SA(a), z, 0);
	infra_note_rtt(inf, SA(b), 10, 0);
	ck_assert_uint_eq(infra_flush(inf, SA(a)), 1);
	ck_assert_uint_eq(infra_flush(inf, SA(a)), 0);
	ck_assert(!infra_is_lame(inf, SA(a), z, 0));
	ck_assert_int_eq(infra_get(inf, SA(b), 0, &i), 1);
	ck_assert_uint_eq(infra_flush(inf, NULL), 1);
	ck_assert_uint_eq(infra_count(inf), 0);
	ldns_rdf_deep_free(z);
}
END_TEST

struct walk_acc {
	int n, v4, v6, stop_after;
	uint32_t srtt_sum;
};

static int walk_cb(void *ud, const struct sockaddr *sa, const struct infra_info *i)
{
	struct walk_acc *w = ud;

	w->n++;
	w->srtt_sum += i->srtt_ms;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		ck_assert_uint_eq(ntohs(in->sin_port), 53);
		w->v4++;
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		struct sockaddr_storage want = ss6("2001:db8::1", 853);

		ck_assert_int_eq(sa->sa_family, AF_INET6);
		ck_assert_mem_eq(in6, &want, sizeof(*in6));
		w->v6++;
	}
	return w->stop_after && w->n >= w->stop_after;
}

START_TEST(walk_visits_known)
{
	struct sockaddr_storage a = ss4("192.0.2.1", 53), b = ss4("192.0.2.2", 53);
	struct sockaddr_storage c6 = ss6("2001:db8::1", 853);
	struct walk_acc w = { 0 };

	infra_note_rtt(inf, SA(a), 10, 0);
	infra_note_rtt(inf, SA(b), 20, 0);
	infra_note_rtt(inf, SA(c6), 30, 500000);
	infra_walk(inf, 1000, walk_cb, &w);
	ck_assert_int_eq(w.n, 3);
	ck_assert_int_eq(w.v4, 2);
	ck_assert_int_eq(w.v6, 1);
	ck_assert_uint_eq(w.srtt_sum, 60);
	/* after a and b's lifetime only c6 is left */
	memset(&w, 0, sizeof(w));
	infra_walk(inf, TTL_MS, walk_cb, &w);
	ck_assert_int_eq(w.n, 1);
	ck_assert_int_eq(w.v6, 1);
	/* stop early */
	memset(&w, 0, sizeof(w));
	w.stop_after = 1;
	infra_walk(inf, 1000, walk_cb, &w);
	ck_assert_int_eq(w.n, 1);
}
END_TEST

START_TEST(many_servers)
{
	struct infra *big = infra_new(20000, TTL_MS);
	struct sockaddr_storage a;

	ck_assert_ptr_nonnull(big);
	for (unsigned k = 0; k < 20000; k++) {
		a = nth_addr(k);
		infra_note_rtt(big, SA(a), k % 1000 + 10, 0);
	}
	for (unsigned k = 0; k < 20000; k++) {
		a = nth_addr(k);
		struct infra_info i;

		ck_assert_int_eq(infra_get(big, SA(a), 0, &i), 1);
		ck_assert_uint_eq(i.srtt_ms, k % 1000 + 10);
	}
	infra_free(big);
}
END_TEST

static Suite *infra_suite(void)
{
	Suite *s = suite_create("infra");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, unknown_server_defaults);
	tcase_add_test(t, estimator_math);
	tcase_add_test(t, rto_floor_and_cap);
	tcase_add_test(t, backoff_doubles_to_cap);
	tcase_add_test(t, reply_resets_backoff);
	tcase_add_test(t, burst_of_timeouts_backs_off_once);
	tcase_add_test(t, down_after_backoff_to_cap);
	tcase_add_test(t, slow_server_needs_several_timeouts);
	tcase_add_test(t, down_probe_interval);
	tcase_add_test(t, blocked_after_silence_then_probes);
	tcase_add_test(t, burst_or_lossy_not_blocked);
	tcase_add_test(t, blocked_evidence_goes_stale);
	tcase_add_test(t, select_info_matches_single_calls);
	tcase_add_test(t, lifetime_expiry_gives_fresh_chance);
	tcase_add_test(t, lame_per_zone);
	tcase_add_test(t, lame_list_bounded);
	tcase_add_test(t, lame_bad_zone_ignored);
	tcase_add_test(t, flags_live_with_entry);
	tcase_add_test(t, distinct_keys);
	tcase_add_test(t, eviction_at_max_entries);
	tcase_add_test(t, zero_max_entries_means_one);
	tcase_add_test(t, flush_one_and_all);
	tcase_add_test(t, walk_visits_known);
	tcase_add_test(t, many_servers);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(infra_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
