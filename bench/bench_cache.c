/* bench_cache.c — micro-benchmark of the RRset cache.
 *
 * Prints, for N typical RRsets (one or two A records under distinct
 * names): bytes per cached RRset as the cache accounts them and as the
 * heap grew (mallinfo2), stores/s, hit lookups/s (including building and
 * freeing the ldns copies handed out), miss lookups/s and NXDOMAIN walks.
 * The peer measured in the same run is the obvious alternative design, a
 * cache that keeps ldns_rr_list objects and clones one per hit: its heap
 * bytes per RRset and clones/s give the ratios.
 *
 * Not wired into meson; build by hand, e.g.:
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc -Ibuild bench/bench_cache.c \
 *      src/cache.c src/log.c -lldns -o bench_cache && ./bench_cache [N]
 */
#include "cache.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void)
{
	return mallinfo2().uordblks;
}

static ldns_rr_list *make_rrset(unsigned i)
{
	char s[128];
	ldns_rr_list *l = ldns_rr_list_new();
	unsigned n = 1 + (i & 1);

	if (!l)
		exit(1);
	for (unsigned k = 0; k < n; k++) {
		ldns_rr *rr = NULL;

		snprintf(s, sizeof(s), "www.host%u.example.com. 3600 IN A 10.%u.%u.%u",
			 i, (i >> 16) & 255, (i >> 8) & 255, (i + k) & 255);
		if (ldns_rr_new_frm_str(&rr, s, 3600, NULL, NULL) != LDNS_STATUS_OK ||
		    !ldns_rr_list_push_rr(l, rr))
			exit(1);
	}
	return l;
}

static ldns_rdf *make_name(const char *fmt, unsigned i)
{
	char s[96];
	ldns_rdf *d;

	snprintf(s, sizeof(s), fmt, i);
	d = ldns_dname_new_frm_str(s);
	if (!d)
		exit(1);
	return d;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	struct cache *c = cache_new((size_t)1 << 34, NULL);
	ldns_rr_list **sets = malloc(n * sizeof(*sets));
	ldns_rdf **names = malloc(n * sizeof(*names));
	ldns_rdf **missing = malloc(n * sizeof(*missing));
	ldns_rr_list **peer = malloc(n * sizeof(*peer));
	struct cache_result res;
	struct cache_stats st;
	size_t h0, h1;
	double t0, t_store, t_hit, t_miss, t_nx, t_peer;
	unsigned hits = 0;

	if (!c || !sets || !names || !missing || !peer)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		sets[i] = make_rrset(i);
		names[i] = make_name("WWW.host%u.example.com.", i);
		missing[i] = make_name("nope.host%u.example.com.", i);
	}

	h0 = heap_used();
	t0 = now_s();
	for (unsigned i = 0; i < n; i++)
		if (cache_store_rrset(c, sets[i], NULL, CACHE_TRUST_ANSWER_AUTH, 0) != 0)
			return 1;
	t_store = now_s() - t0;
	h1 = heap_used();
	cache_get_stats(c, &st);

	t0 = now_s();
	for (int round = 0; round < 3; round++)
		for (unsigned i = 0; i < n; i++) {
			hits += (unsigned)cache_lookup_rrset(c, names[i], LDNS_RR_TYPE_A,
							     LDNS_RR_CLASS_IN,
							     CACHE_TRUST_ANSWER_NONAUTH, false,
							     1000, &res);
			cache_result_clear(&res);
		}
	t_hit = now_s() - t0;
	if (hits != 3 * n)
		return 1;

	t0 = now_s();
	for (unsigned i = 0; i < n; i++)
		hits += (unsigned)cache_lookup_rrset(c, missing[i], LDNS_RR_TYPE_A,
						     LDNS_RR_CLASS_IN, CACHE_TRUST_NONE, false,
						     1000, &res);
	t_miss = now_s() - t0;

	/* One NXDOMAIN cached, so negative lookups walk every ancestor. */
	{
		ldns_rdf *q = make_name("gone%u.example.net.", 0);
		ldns_rr *soa = NULL;
		bool nx;

		if (ldns_rr_new_frm_str(&soa, "example.net. 3600 IN SOA ns.example.net. "
					"h.example.net. 1 2 3 4 300", 0, NULL, NULL) != LDNS_STATUS_OK ||
		    cache_store_negative(c, q, 0, LDNS_RR_CLASS_IN, true, soa, 0) != 0)
			return 1;
		ldns_rr_free(soa);
		ldns_rdf_deep_free(q);
		t0 = now_s();
		for (unsigned i = 0; i < n; i++)
			hits += (unsigned)cache_lookup_negative(c, missing[i], LDNS_RR_TYPE_A,
								LDNS_RR_CLASS_IN, false, 1000,
								&nx, NULL);
		t_nx = now_s() - t0;
	}

	/* Peer: keep ldns objects, clone per hit. */
	{
		size_t p0 = heap_used(), p1;

		for (unsigned i = 0; i < n; i++)
			peer[i] = ldns_rr_list_clone(sets[i]);
		p1 = heap_used();
		t0 = now_s();
		for (int round = 0; round < 3; round++)
			for (unsigned i = 0; i < n; i++)
				ldns_rr_list_deep_free(ldns_rr_list_clone(peer[i]));
		t_peer = now_s() - t0;

		printf("rootwalk cache, %u RRsets (avg 1.5 A RRs, 23-byte owner)\n", n);
		printf("  bytes/RRset  accounted %.1f   heap growth %.1f   "
		       "(ldns objects: %.1f, ratio %.2fx)\n",
		       (double)st.bytes / n, (double)(h1 - h0) / n, (double)(p1 - p0) / n,
		       (double)(p1 - p0) / (double)(h1 - h0));
	}
	printf("  stores/s             %10.0f\n", n / t_store);
	printf("  hit lookups/s        %10.0f   (ldns clone+free per hit: %.0f/s, ratio %.2fx)\n",
	       3.0 * n / t_hit, 3.0 * n / t_peer, t_peer / t_hit);
	printf("  miss lookups/s       %10.0f\n", n / t_miss);
	printf("  negative lookups/s   %10.0f   (5-label names, ancestor walk)\n", n / t_nx);

	for (unsigned i = 0; i < n; i++) {
		ldns_rr_list_deep_free(sets[i]);
		ldns_rr_list_deep_free(peer[i]);
		ldns_rdf_deep_free(names[i]);
		ldns_rdf_deep_free(missing[i]);
	}
	free(sets);
	free(peer);
	free(names);
	free(missing);
	cache_free(c);
	return 0;
}
