/* test_answer.c — the cache's wire-form answers (cache_store_answer and
 * the hit path, cache_answer_hit).
 *
 * Queries are built byte by byte and parsed with msg_parse_query, as the
 * server does.  A hit's response is checked two ways: byte for byte
 * against msg_build_response() given the same records (the slow path's
 * encoder, so both paths must agree exactly), and read back with
 * ldns_wire2pkt, an independent decoder, for IDs, flags, case and TTLs.
 * The clock is fake (milliseconds); nothing sleeps.
 *
 * "No allocation on the hit path" is proven by counting allocations
 * during 10000 parse + hit rounds:
 *   - in ASan builds with ASan's own hooks
 *     (__sanitizer_install_malloc_and_free_hooks), since replacing malloc
 *     under ASan would take the allocator away from it;
 *   - otherwise by defining malloc/calloc/realloc in this test binary
 *     (the executable's definitions win over libc's for every caller,
 *     shared libraries included) and forwarding to glibc's __libc_*
 *     entry points.  mallinfo2() was not enough: a malloc/free pair per
 *     hit leaves the arena unchanged.
 * The counter only runs while a test turns it on. */
#include "cache.h"
#include "msg.h"
#include "leak.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation counting ------------------------------------------------ */

static volatile int counting;
static volatile unsigned long n_allocs;

#if defined(__SANITIZE_ADDRESS__) || defined(RW_ASAN)
/* From sanitizer/allocator_interface.h, which GCC does not install. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));

static void count_malloc(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
	if (counting)
		n_allocs++;
}

static void count_free(const volatile void *p)
{
	(void)p;
}

static void alloc_counter_install(void)
{
	static int installed;

	if (!installed)
		ck_assert_int_ne(__sanitizer_install_malloc_and_free_hooks(count_malloc,
									    count_free), 0);
	installed = 1;
}
#else
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
	if (counting)
		n_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (counting)
		n_allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		n_allocs++;
	return __libc_realloc(p, n);
}

static void alloc_counter_install(void)
{
}
#endif

/* ---- fixture ------------------------------------------------------------ */

#define T0 1000000u /* ms: the fake clock's start */

static struct cache *c;
static struct cache_policy pol;

static void setup(void)
{
	msg_set_edns_size(1232);
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
	ck_assert_uint_eq(st.answers, 0);
	ck_assert_uint_eq(st.answer_bytes, 0);
	cache_free(c);
	c = NULL;
	assert_no_leaks();
}

/* ---- helpers ------------------------------------------------------------ */

static ldns_rr *rr(const char *s)
{
	ldns_rr *r = NULL;

	ck_assert_msg(ldns_rr_new_frm_str(&r, s, 3600, NULL, NULL) == LDNS_STATUS_OK,
		      "bad RR text: %s", s);
	return r;
}

/* A list from NULL-terminated RR strings (none: an empty list). */
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

/* Dotted name ("www.Example.com", case kept) to wire form; returns length. */
static size_t wname(const char *dotted, uint8_t *out)
{
	size_t n = 0;

	for (const char *s = dotted; *s && strcmp(s, ".") != 0;) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		out[n++] = (uint8_t)l;
		memcpy(out + n, s, l);
		n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	return n;
}

struct qopt {
	uint16_t id;
	bool rd, cd, edns, do_bit;
	uint16_t udp;
};

/* A query as a client sends it, parsed as the server parses it. */
static size_t mkquery(uint8_t *b, const char *name, uint16_t type, const struct qopt *o)
{
	size_t n = 12;

	memset(b, 0, 12);
	b[0] = (uint8_t)(o->id >> 8);
	b[1] = (uint8_t)o->id;
	b[2] = o->rd ? 0x01 : 0;
	b[3] = o->cd ? 0x10 : 0;
	b[5] = 1;
	b[11] = o->edns ? 1 : 0;
	n += wname(name, b + n);
	b[n++] = (uint8_t)(type >> 8);
	b[n++] = (uint8_t)type;
	b[n++] = 0;
	b[n++] = 1;
	if (o->edns) {
		uint8_t opt[11] = { 0, 0, 41, (uint8_t)(o->udp >> 8), (uint8_t)o->udp, 0, 0,
				    o->do_bit ? 0x80 : 0, 0, 0, 0 };
		memcpy(b + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

static struct msg_query query(const char *name, uint16_t type, const struct qopt *o)
{
	uint8_t b[512];
	struct msg_query q;
	uint16_t rcode;
	size_t n = mkquery(b, name, type, o);

	ck_assert_int_eq(msg_parse_query(b, n, &q, &rcode), MSG_OK);
	return q;
}

static const struct qopt plain = { .id = 0x1234, .rd = true };

/* Store under the lowercased wire form of name. */
static int store(const char *name, uint16_t type, uint16_t rcode, ldns_rr_list *an,
		 ldns_rr_list *ns, uint64_t now)
{
	uint8_t w[256];
	size_t n = wname(name, w);
	int r = cache_store_answer(c, w, n, type, LDNS_RR_CLASS_IN, rcode, an, ns, now);

	ldns_rr_list_deep_free(an);
	ldns_rr_list_deep_free(ns);
	return r;
}

static size_t hit(const struct msg_query *q, uint64_t now, uint8_t *out, size_t max_len)
{
	bool due;

	return cache_answer_hit(c, q, now, out, 65535, max_len, &due);
}

static ldns_pkt *read_back(const uint8_t *wire, size_t len)
{
	ldns_pkt *p = NULL;

	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
	return p;
}

static uint32_t ttl_of(const ldns_rr_list *l, size_t i)
{
	return ldns_rr_ttl(ldns_rr_list_rr(l, i));
}

/* The slow path's bytes for the same records must be ours exactly. */
static void expect_same_as_builder(const struct msg_query *q, uint16_t rcode,
				   const char *const *an, const char *const *ns,
				   const uint8_t *got, size_t len)
{
	ldns_rr_list *a = ldns_rr_list_new(), *s = ldns_rr_list_new();
	static uint8_t want[65535];
	size_t n;

	for (; an && *an; an++)
		ck_assert(ldns_rr_list_push_rr(a, rr(*an)));
	for (; ns && *ns; ns++)
		ck_assert(ldns_rr_list_push_rr(s, rr(*ns)));
	n = msg_build_response(q, rcode, a, s, NULL, 65535, want, sizeof(want));
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(want, got, n);
	ldns_rr_list_deep_free(a);
	ldns_rr_list_deep_free(s);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(a_answer_byte_exact)
{
	static const char *const an[] = { "www.example.com. 300 IN A 192.0.2.1",
					  "www.example.com. 300 IN A 192.0.2.2", NULL };
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl(an[0], an[1], NULL), NULL, T0), 0);
	n = hit(&q, T0, out, 512);
	expect_same_as_builder(&q, 0, an, NULL, out, n);

	ldns_pkt *p = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x1234);
	ck_assert(ldns_pkt_qr(p));
	ck_assert(ldns_pkt_rd(p));
	ck_assert(ldns_pkt_ra(p));
	ck_assert(!ldns_pkt_aa(p) && !ldns_pkt_tc(p) && !ldns_pkt_cd(p));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 2);
	ck_assert_uint_eq(ldns_pkt_nscount(p), 0);
	ck_assert_uint_eq(ldns_pkt_arcount(p), 0);
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 300);
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 1), 300);
	/* the owner is a pointer to the question */
	ck_assert_uint_eq(out[12 + q.qname_len + 4], 0xc0);
	ck_assert_uint_eq(out[12 + q.qname_len + 5], 12);
	ldns_pkt_free(p);

	/* another type, class or name misses */
	struct msg_query q2 = query("www.example.com", LDNS_RR_TYPE_AAAA, &plain);
	ck_assert_uint_eq(hit(&q2, T0, out, 512), 0);
	q2 = query("ww.example.com", LDNS_RR_TYPE_A, &plain);
	ck_assert_uint_eq(hit(&q2, T0, out, 512), 0);
}
END_TEST

START_TEST(flags_copied)
{
	struct qopt o = { .id = 0xbeef, .rd = false, .cd = true };
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &o);
	uint8_t out[65535];
	size_t n;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	n = hit(&q, T0, out, 512);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(out[0], 0xbe);
	ck_assert_uint_eq(out[1], 0xef);
	ck_assert_uint_eq(out[2], 0x80);        /* QR, no RD */
	ck_assert_uint_eq(out[3], 0x80 | 0x10); /* RA, CD */
}
END_TEST

START_TEST(ttl_counts_down_and_expires_exactly)
{
	struct msg_query q = query("alias.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;
	ldns_pkt *p;

	/* the CNAME lives longer than the A: the answer lives as long as the A */
	ck_assert_int_eq(store("alias.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("alias.example.com. 600 IN CNAME www.example.com.",
				   "www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	p = read_back(out, hit(&q, T0 + 1, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 600);
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 1), 300);
	ldns_pkt_free(p);
	p = read_back(out, hit(&q, T0 + 1000, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 599);
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 1), 299);
	ldns_pkt_free(p);
	p = read_back(out, hit(&q, T0 + 299999, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 301);
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 1), 1);
	ldns_pkt_free(p);

	n = hit(&q, T0 + 300000, out, 512);
	ck_assert_uint_eq(n, 0);

	struct cache_stats st;
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.answers, 0); /* the dead entry went on the spot */
}
END_TEST

START_TEST(prefetch_due_in_last_tenth)
{
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	bool due = true;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 100 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_uint_gt(cache_answer_hit(c, &q, T0, out, sizeof(out), 512, &due), 0);
	ck_assert(!due);
	/* 10 s of 100 left: not yet (iter's rule is remaining * 10 < orig) */
	ck_assert_uint_gt(cache_answer_hit(c, &q, T0 + 90000, out, sizeof(out), 512, &due), 0);
	ck_assert(!due);
	ck_assert_uint_gt(cache_answer_hit(c, &q, T0 + 91000, out, sizeof(out), 512, &due), 0);
	ck_assert(due);
}
END_TEST

START_TEST(cname_chain)
{
	static const char *const an[] = {
		"alias2.example.com. 3600 IN CNAME chain.example.org.",
		"chain.example.org. 3600 IN CNAME www.example.net.",
		"www.example.net. 1800 IN A 192.0.2.9", NULL };
	struct msg_query q = query("ALIAS2.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;

	ck_assert_int_eq(store("alias2.example.com", LDNS_RR_TYPE_A, 0,
			       rrl(an[0], an[1], an[2], NULL), NULL, T0), 0);
	n = hit(&q, T0, out, 512);
	expect_same_as_builder(&q, 0, an, NULL, out, n);

	ldns_pkt *p = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 3);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
			 LDNS_RR_TYPE_CNAME);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 2)),
			 LDNS_RR_TYPE_A);
	ldns_pkt_free(p);
	/* the chain lives as long as its shortest TTL */
	ck_assert_uint_gt(hit(&q, T0 + 1799999, out, 512), 0);
	ck_assert_uint_eq(hit(&q, T0 + 1800000, out, 512), 0);
}
END_TEST

START_TEST(nxdomain_with_soa)
{
	static const char *const soa =
		"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. "
		"2024010101 7200 3600 1209600 300";
	struct msg_query q = query("nope.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;

	ck_assert_int_eq(store("nope.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN,
			       rrl(NULL), rrl(soa, NULL), T0), 0);
	n = hit(&q, T0, out, 512);
	ldns_pkt *p = read_back(out, n);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 0);
	ck_assert_uint_eq(ldns_pkt_nscount(p), 1);
	/* RFC 2308: min(SOA TTL, MINIMUM), as the negative cache hands out */
	ck_assert_uint_eq(ttl_of(ldns_pkt_authority(p), 0), 300);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), 0)),
			 LDNS_RR_TYPE_SOA);
	ldns_pkt_free(p);
	/* the same bytes as the builder, once the TTL is the negative one */
	static const char *const ns300[] = {
		"example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. "
		"2024010101 7200 3600 1209600 300", NULL };
	expect_same_as_builder(&q, LDNS_RCODE_NXDOMAIN, NULL, ns300, out, n);
	ck_assert_uint_eq(hit(&q, T0 + 300000, out, 512), 0);
}
END_TEST

START_TEST(nodata_after_cname)
{
	struct msg_query q = query("alias.example.com", LDNS_RR_TYPE_AAAA, &plain);
	uint8_t out[65535];
	ldns_pkt *p;

	ck_assert_int_eq(store("alias.example.com", LDNS_RR_TYPE_AAAA, 0,
			       rrl("alias.example.com. 3600 IN CNAME www.example.org.", NULL),
			       rrl("example.org. 3600 IN SOA ns.example.org. h.example.org. "
				   "1 2 3 4 60", NULL), T0), 0);
	p = read_back(out, hit(&q, T0, out, 512));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ck_assert_uint_eq(ldns_pkt_nscount(p), 1);
	ck_assert_uint_eq(ttl_of(ldns_pkt_authority(p), 0), 60);
	ldns_pkt_free(p);
	ck_assert_uint_eq(hit(&q, T0 + 60000, out, 512), 0);
}
END_TEST

START_TEST(edns_gets_opt)
{
	static const char *const an[] = { "www.example.com. 300 IN A 192.0.2.1", NULL };
	struct qopt o = { .id = 7, .rd = true, .edns = true, .udp = 4096, .do_bit = true };
	struct msg_query qe = query("www.example.com", LDNS_RR_TYPE_A, &o);
	struct msg_query qn = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;
	ldns_pkt *p;

	msg_set_edns_size(1400);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0, rrl(an[0], NULL), NULL,
			       T0), 0);
	n = hit(&qe, T0, out, 4096);
	expect_same_as_builder(&qe, 0, an, NULL, out, n);
	p = read_back(out, n);
	ck_assert_uint_eq(out[11], 1); /* ARCOUNT: ldns takes the OPT out of it */
	ck_assert(ldns_pkt_edns(p));
	ck_assert_uint_eq(ldns_pkt_edns_udp_size(p), 1400);
	ck_assert(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);

	o.do_bit = false;
	qe = query("www.example.com", LDNS_RR_TYPE_A, &o);
	n = hit(&qe, T0, out, 4096);
	expect_same_as_builder(&qe, 0, an, NULL, out, n);
	p = read_back(out, n);
	ck_assert(!ldns_pkt_edns_do(p));
	ldns_pkt_free(p);

	n = hit(&qn, T0, out, 512);
	expect_same_as_builder(&qn, 0, an, NULL, out, n);
	p = read_back(out, n);
	ck_assert_uint_eq(out[11], 0);
	ck_assert(!ldns_pkt_edns(p));
	ldns_pkt_free(p);
}
END_TEST

START_TEST(max_len_too_small_misses)
{
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	struct qopt o = { .id = 1, .edns = true, .udp = 1232 };
	struct msg_query qe = query("www.example.com", LDNS_RR_TYPE_A, &o);
	uint8_t out[65535];
	size_t n;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1",
				   "www.example.com. 300 IN A 192.0.2.2", NULL), NULL, T0), 0);
	n = hit(&q, T0, out, 512);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(hit(&q, T0, out, n - 1), 0);
	ck_assert_uint_eq(hit(&q, T0, out, n), n);
	/* the OPT counts against the limit */
	ck_assert_uint_eq(hit(&qe, T0, out, n), 0);
	ck_assert_uint_eq(hit(&qe, T0, out, n + 11), n + 11);
	/* and so does the caller's buffer */
	bool due;
	ck_assert_uint_eq(cache_answer_hit(c, &q, T0, out, n - 1, 512, &due), 0);
	/* a miss for lack of room leaves the entry in place */
	ck_assert_uint_eq(hit(&q, T0, out, 512), n);
}
END_TEST

START_TEST(big_answer_for_tcp_only)
{
	char text[400], blob[201];
	ldns_rr_list *an = ldns_rr_list_new();
	struct msg_query q = query("big.example.com", LDNS_RR_TYPE_TXT, &plain);
	uint8_t out[65535];
	size_t n;

	for (int i = 0; i < 10; i++) {
		memset(blob, 'a' + i, 200);
		blob[200] = 0;
		snprintf(text, sizeof(text), "big.example.com. 300 IN TXT \"%s\"", blob);
		ck_assert(ldns_rr_list_push_rr(an, rr(text)));
	}
	ck_assert_int_eq(store("big.example.com", LDNS_RR_TYPE_TXT, 0, an, NULL, T0), 0);
	ck_assert_uint_eq(hit(&q, T0, out, 512), 0);
	n = hit(&q, T0, out, 65535);
	ck_assert_uint_gt(n, 2000);
	ldns_pkt *p = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 10);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(too_big_for_a_message_refused)
{
	char text[400], blob[256];
	ldns_rr_list *an = ldns_rr_list_new();

	for (int i = 0; i < 300; i++) {
		memset(blob, 'a' + i % 26, 250);
		snprintf(blob + 250, 6, "%05d", i);
		snprintf(text, sizeof(text), "big.example.com. 300 IN TXT \"%s\"", blob);
		ck_assert(ldns_rr_list_push_rr(an, rr(text)));
	}
	ck_assert_int_eq(store("big.example.com", LDNS_RR_TYPE_TXT, 0, an, NULL, T0), -1);
	struct cache_stats st;
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.answers, 0);
}
END_TEST

START_TEST(client_case_kept)
{
	static const char *const an[] = { "www.example.com. 300 IN A 192.0.2.1", NULL };
	struct msg_query q = query("wWw.ExAmPlE.cOm", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	size_t n;

	/* stored from a lowercase question and lowercase records */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0, rrl(an[0], NULL), NULL,
			       T0), 0);
	n = hit(&q, T0, out, 512);
	ck_assert_mem_eq(out + 12, "\3wWw\7ExAmPlE\3cOm", 17);
	expect_same_as_builder(&q, 0, an, NULL, out, n);

	ldns_pkt *p = read_back(out, n);
	const ldns_rdf *owner = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 0));
	ck_assert_uint_eq(ldns_rdf_size(owner), 17);
	ck_assert_mem_eq(ldns_rdf_data(owner), "\3wWw\7ExAmPlE\3cOm", 17);
	ldns_pkt_free(p);

	/* and the upper-case question of a store finds the same key */
	ck_assert_int_eq(store("WWW.EXAMPLE.COM", LDNS_RR_TYPE_A, 0,
			       rrl("WWW.EXAMPLE.COM. 300 IN A 192.0.2.3", NULL), NULL, T0), 0);
	struct cache_stats st;
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.answers, 1);
	n = hit(&q, T0, out, 512);
	ck_assert_mem_eq(out + 12 + 17 + 4, "\xc0\x0c", 2);
}
END_TEST

/* The hit path lowercases eight bytes at a time; names with every kind
 * of byte next to the letters must match exactly as the store's
 * byte-wise lowering says, and only then. */
START_TEST(odd_bytes_in_names)
{
	/* labels: "@AZ[`az{" + 0xc1 0xda 0x7f, "Mixed-Case_0", "com" */
	static const uint8_t stored[] = { 11, '@', 'a', 'z', '[', '`', 'a', 'z', '{', 0xc1, 0xda, 0x7f,
					  12, 'm', 'i', 'x', 'e', 'd', '-', 'c', 'a', 's', 'e', '_', '0',
					  3, 'c', 'o', 'm', 0 };
	uint8_t asked[sizeof(stored)], pkt[512], out[65535];
	struct msg_query q;
	uint16_t rcode;
	size_t n = 0;

	ck_assert_int_eq(cache_store_answer(c, stored, sizeof(stored), LDNS_RR_TYPE_TXT, 1, 0,
					    NULL, NULL, T0), -1);
	ldns_rr_list *an = rrl("example.com. 300 IN TXT \"x\"", NULL);
	ldns_rdf *owner = ldns_dname_new_frm_data(sizeof(stored), stored);
	ck_assert_ptr_nonnull(owner);
	ldns_rdf *old = ldns_rr_owner(ldns_rr_list_rr(an, 0));
	ldns_rr_set_owner(ldns_rr_list_rr(an, 0), owner);
	ldns_rdf_deep_free(old);
	ck_assert_int_eq(cache_store_answer(c, stored, sizeof(stored), LDNS_RR_TYPE_TXT, 1, 0,
					    an, NULL, T0), 0);
	ldns_rr_list_deep_free(an);

	for (int variant = 0; variant < 3; variant++) {
		memcpy(asked, stored, sizeof(stored));
		for (size_t i = 0; i < sizeof(asked); i++) {
			bool letter = asked[i] >= 'a' && asked[i] <= 'z' && i != 0 && i != 12 &&
				      i != 25;
			if (letter && (variant == 1 || (variant == 2 && i % 2)))
				asked[i] = (uint8_t)(asked[i] - 32);
		}
		memset(pkt, 0, 12);
		pkt[2] = 1;
		pkt[5] = 1;
		memcpy(pkt + 12, asked, sizeof(asked));
		n = 12 + sizeof(asked);
		pkt[n++] = 0;
		pkt[n++] = LDNS_RR_TYPE_TXT;
		pkt[n++] = 0;
		pkt[n++] = 1;
		ck_assert_int_eq(msg_parse_query(pkt, n, &q, &rcode), MSG_OK);
		ck_assert_uint_gt(hit(&q, T0, out, 512), 0);
		ck_assert_mem_eq(out + 12, asked, sizeof(asked));
	}
	/* the bytes next to the letters are not letters: changing one misses */
	const uint8_t flips[][2] = { { 1, '`' }, { 4, '{' }, { 5, '@' }, { 8, '[' },
				     { 9, 0xe1 }, { 10, 0xfa }, { 11, 0x5f } };
	for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
		memcpy(pkt + 12, stored, sizeof(stored));
		pkt[12 + flips[f][0]] = flips[f][1];
		ck_assert_int_eq(msg_parse_query(pkt, n, &q, &rcode), MSG_OK);
		ck_assert_uint_eq(hit(&q, T0, out, 512), 0);
	}
}
END_TEST

static size_t answers(void)
{
	struct cache_stats st;

	cache_get_stats(c, &st);
	return st.answers;
}

static void store_fixture(void)
{
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_AAAA, 0,
			       rrl("www.example.com. 300 IN AAAA 2001:db8::1", NULL), NULL, T0), 0);
	ck_assert_int_eq(store("alias.example.org", LDNS_RR_TYPE_A, 0,
			       rrl("alias.example.org. 300 IN CNAME www.example.com.",
				   "www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_int_eq(store("other.test", LDNS_RR_TYPE_A, 0,
			       rrl("other.test. 300 IN A 192.0.2.5", NULL), NULL, T0), 0);
	ck_assert_uint_eq(answers(), 4);
}

START_TEST(flush_name_type)
{
	ldns_rdf *n = dn("www.example.com.");

	store_fixture();
	/* answers are not counted in what a flush reports */
	ck_assert_uint_eq(cache_flush_name(c, n, LDNS_RR_TYPE_MX), 0);
	ck_assert_uint_eq(answers(), 4);
	ck_assert_uint_eq(cache_flush_name(c, n, LDNS_RR_TYPE_A), 0);
	/* www A, and the chain at alias.example.org that holds www A */
	ck_assert_uint_eq(answers(), 2);
	ck_assert_uint_eq(cache_flush_name(c, n, 0), 0);
	ck_assert_uint_eq(answers(), 1);
	ldns_rdf_deep_free(n);
}
END_TEST

START_TEST(flush_alias_cname)
{
	ldns_rdf *n = dn("alias.example.org.");

	store_fixture();
	ck_assert_uint_eq(cache_flush_name(c, n, LDNS_RR_TYPE_CNAME), 0);
	ck_assert_uint_eq(answers(), 3);
	ldns_rdf_deep_free(n);
}
END_TEST

START_TEST(flush_zone_and_all)
{
	ldns_rdf *z = dn("example.com.");
	ldns_rdf *t = dn("test.");

	store_fixture();
	ck_assert_uint_eq(cache_flush_zone(c, t), 0);
	ck_assert_uint_eq(answers(), 3);
	ck_assert_uint_eq(cache_flush_zone(c, z), 0);
	ck_assert_uint_eq(answers(), 0);
	store_fixture();
	cache_flush_all(c);
	ck_assert_uint_eq(answers(), 0);
	ldns_rdf_deep_free(z);
	ldns_rdf_deep_free(t);
}
END_TEST

START_TEST(rrset_store_drops_answer)
{
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	ldns_rr_list *l;

	store_fixture();
	/* another type at the name leaves it */
	l = rrl("www.example.com. 300 IN MX 10 mail.example.com.", NULL);
	ck_assert_int_eq(cache_store_rrset(c, l, NULL, CACHE_TRUST_ANSWER_AUTH, T0), 0);
	ldns_rr_list_deep_free(l);
	ck_assert_uint_eq(answers(), 4);
	/* the RRset of its key replaces it (a refresh, a trust upgrade) */
	l = rrl("www.example.com. 300 IN A 192.0.2.99", NULL);
	ck_assert_int_eq(cache_store_rrset(c, l, NULL, CACHE_TRUST_ANSWER_AUTH, T0 + 5), 0);
	ldns_rr_list_deep_free(l);
	ck_assert_uint_eq(answers(), 3);
	ck_assert_uint_eq(hit(&q, T0 + 5, out, 512), 0);
	/* a refused (lower-trust) store changes nothing, answers included */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.99", NULL), NULL, T0 + 5), 0);
	l = rrl("www.example.com. 300 IN A 192.0.2.66", NULL);
	ck_assert_int_eq(cache_store_rrset(c, l, NULL, CACHE_TRUST_GLUE, T0 + 6), 1);
	ldns_rr_list_deep_free(l);
	ck_assert_uint_eq(answers(), 4);
}
END_TEST

START_TEST(negative_store_drops_answer)
{
	ldns_rr *soa = rr("example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300");
	ldns_rdf *n = dn("www.example.com.");

	store_fixture();
	ck_assert_int_eq(cache_store_negative(c, n, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, false,
					      soa, T0), 0);
	ck_assert_uint_eq(answers(), 3);
	ck_assert_int_eq(cache_store_negative(c, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true,
					      soa, T0), 0);
	ck_assert_uint_eq(answers(), 2);
	ldns_rr_free(soa);
	ldns_rdf_deep_free(n);
}
END_TEST

START_TEST(replaced_by_new_store)
{
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	ldns_pkt *p;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 60 IN A 192.0.2.2", NULL), NULL, T0 + 10), 0);
	ck_assert_uint_eq(answers(), 1);
	p = read_back(out, hit(&q, T0 + 10, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 60);
	ldns_pkt_free(p);
	/* a zero lifetime stores nothing and drops what was there */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 0 IN A 192.0.2.2", NULL), NULL, T0 + 20), 0);
	ck_assert_uint_eq(answers(), 0);
}
END_TEST

START_TEST(policy_clamps)
{
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	ldns_pkt *p;

	pol.max_ttl = 100;
	pol.min_ttl = 10;
	cache_set_policy(c, &pol);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	p = read_back(out, hit(&q, T0, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 100);
	ldns_pkt_free(p);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 0 IN A 192.0.2.1", NULL), NULL, T0), 0);
	p = read_back(out, hit(&q, T0, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 10);
	ldns_pkt_free(p);
	/* RFC 2181 8: a TTL with the top bit set counts as 0 */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 2147483648 IN A 192.0.2.1", NULL), NULL,
			       T0), 0);
	p = read_back(out, hit(&q, T0, out, 512));
	ck_assert_uint_eq(ttl_of(ldns_pkt_answer(p), 0), 10);
	ldns_pkt_free(p);
	/* cache-max-ttl 0 caches nothing */
	pol.min_ttl = 0;
	pol.max_ttl = 0;
	cache_set_policy(c, &pol);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_uint_eq(answers(), 0);
}
END_TEST

START_TEST(bad_input_refused)
{
	uint8_t w[8] = { 3, 'w', 'w', 'w', 0 };

	/* SERVFAIL and REFUSED are never kept */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), -1);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), -1);
	/* nothing to say, or meta types */
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0, rrl(NULL), rrl(NULL), T0),
			 -1);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0, NULL, NULL, T0), -1);
	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_ANY, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), -1);
	/* a name that is not one */
	ck_assert_int_eq(cache_store_answer(c, w, 4, LDNS_RR_TYPE_A, 1, 0, NULL, NULL, T0), -1);
	w[0] = 64;
	ck_assert_int_eq(cache_store_answer(c, w, 5, LDNS_RR_TYPE_A, 1, 0, NULL, NULL, T0), -1);
	ck_assert_uint_eq(answers(), 0);
}
END_TEST

static int count_walk(void *ud, const struct cache_entry_view *v)
{
	(void)v;
	(*(int *)ud)++;
	return 0;
}

START_TEST(walk_and_stats)
{
	ldns_rr_list *l = rrl("www.example.com. 300 IN A 192.0.2.1", NULL);
	struct cache_stats st;
	int n = 0;

	ck_assert_int_eq(cache_store_rrset(c, l, NULL, CACHE_TRUST_ANSWER_AUTH, T0), 0);
	ldns_rr_list_deep_free(l);
	store_fixture();
	cache_walk(c, NULL, T0, count_walk, &n);
	ck_assert_int_eq(n, 1); /* answers are derived: not walked */
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.answers, 4);
	ck_assert_uint_gt(st.answer_bytes, 4 * 64);
	ck_assert_uint_gt(st.bytes, st.answer_bytes);

	/* a hit counts as a cache hit; an answer miss counts nothing */
	struct msg_query q = query("www.example.com", LDNS_RR_TYPE_A, &plain);
	struct msg_query qm = query("nothere.example.com", LDNS_RR_TYPE_A, &plain);
	uint8_t out[65535];
	uint64_t hits = st.hits, misses = st.misses;
	ck_assert_uint_gt(hit(&q, T0, out, 512), 0);
	ck_assert_uint_eq(hit(&qm, T0, out, 512), 0);
	cache_get_stats(c, &st);
	ck_assert_uint_eq(st.hits, hits + 1);
	ck_assert_uint_eq(st.misses, misses);
}
END_TEST

START_TEST(eviction_under_small_budget)
{
	char name[64], text[128];
	struct cache_stats st;
	uint8_t out[65535];

	cache_free(c);
	c = cache_new(16384, &pol);
	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "host%d.example.com", i);
		snprintf(text, sizeof(text), "%s. 300 IN A 192.0.2.%d", name, i % 250);
		ck_assert_int_eq(store(name, LDNS_RR_TYPE_A, 0, rrl(text, NULL), NULL, T0), 0);
		cache_get_stats(c, &st);
		ck_assert_uint_le(st.bytes, st.max_bytes);
	}
	cache_get_stats(c, &st);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_gt(st.answers, 10);
	ck_assert_uint_lt(st.answers, 1000);
	ck_assert_uint_le(st.answer_bytes, st.bytes);
	/* the newest survives, the oldest went */
	struct msg_query q = query("host999.example.com", LDNS_RR_TYPE_A, &plain);
	ck_assert_uint_gt(hit(&q, T0, out, 512), 0);
	q = query("host0.example.com", LDNS_RR_TYPE_A, &plain);
	ck_assert_uint_eq(hit(&q, T0, out, 512), 0);
}
END_TEST

START_TEST(hit_path_allocates_nothing)
{
	uint8_t pkt[3][512], out[65535];
	size_t plen[3];
	struct qopt o = { .id = 9, .rd = true, .edns = true, .udp = 1232, .do_bit = true };
	unsigned long allocs;
	size_t total = 0;

	ck_assert_int_eq(store("www.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	ck_assert_int_eq(store("alias.example.com", LDNS_RR_TYPE_A, 0,
			       rrl("alias.example.com. 300 IN CNAME www.example.com.",
				   "www.example.com. 300 IN A 192.0.2.1", NULL), NULL, T0), 0);
	plen[0] = mkquery(pkt[0], "WWW.example.com", LDNS_RR_TYPE_A, &plain);
	plen[1] = mkquery(pkt[1], "alias.example.com", LDNS_RR_TYPE_A, &o);
	plen[2] = mkquery(pkt[2], "missing.example.com", LDNS_RR_TYPE_A, &plain);
	alloc_counter_install();

	/* the counter works at all */
	n_allocs = 0;
	counting = 1;
	void *volatile probe = malloc(16);
	counting = 0;
	free(probe);
	ck_assert_uint_eq(n_allocs, 1);

	n_allocs = 0;
	counting = 1;
	for (int i = 0; i < 10000; i++) {
		struct msg_query q;
		uint16_t rcode;
		bool due;

		if (msg_parse_query(pkt[i % 3], plen[i % 3], &q, &rcode) != MSG_OK)
			break;
		total += cache_answer_hit(c, &q, T0 + (uint64_t)i, out, sizeof(out),
					  msg_udp_limit(&q, 1232), &due);
	}
	counting = 0;
	allocs = n_allocs;
	ck_assert_uint_eq(allocs, 0);
	ck_assert_uint_gt(total, 0);
}
END_TEST

static Suite *answer_suite(void)
{
	Suite *s = suite_create("answer");
	TCase *t = tcase_create("answer");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, a_answer_byte_exact);
	tcase_add_test(t, flags_copied);
	tcase_add_test(t, ttl_counts_down_and_expires_exactly);
	tcase_add_test(t, prefetch_due_in_last_tenth);
	tcase_add_test(t, cname_chain);
	tcase_add_test(t, nxdomain_with_soa);
	tcase_add_test(t, nodata_after_cname);
	tcase_add_test(t, edns_gets_opt);
	tcase_add_test(t, max_len_too_small_misses);
	tcase_add_test(t, big_answer_for_tcp_only);
	tcase_add_test(t, too_big_for_a_message_refused);
	tcase_add_test(t, client_case_kept);
	tcase_add_test(t, odd_bytes_in_names);
	tcase_add_test(t, flush_name_type);
	tcase_add_test(t, flush_alias_cname);
	tcase_add_test(t, flush_zone_and_all);
	tcase_add_test(t, rrset_store_drops_answer);
	tcase_add_test(t, negative_store_drops_answer);
	tcase_add_test(t, replaced_by_new_store);
	tcase_add_test(t, policy_clamps);
	tcase_add_test(t, bad_input_refused);
	tcase_add_test(t, walk_and_stats);
	tcase_add_test(t, eviction_under_small_budget);
	tcase_add_test(t, hit_path_allocates_nothing);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(answer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
