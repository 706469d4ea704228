/* bench_hit.c — in-process benchmark of the cache hit path (no sockets).
 *
 * What a cache hit costs the resolver itself, without the kernel, libuv
 * or dnsperf in the way: a prebuilt client query in wire form goes through
 * msg_parse_query() and cache_answer_hit(), which writes the complete
 * response.  Printed, on one thread:
 *   - answers/s of that path for plain A questions (2 records each, the
 *     client's 0x20 case), and for a mixed list (A, a CNAME chain,
 *     NXDOMAIN with its SOA, half of the queries with EDNS);
 *   - the peer measured in the same run: the RRset path the daemon took
 *     for every hit before the answer cache (parse, the qname as an ldns
 *     rdf, cache_lookup_rrset building ldns copies, msg_build_response,
 *     frees).  It leaves out the iterator (iter_new/iter_step/iter_free)
 *     that the old path also ran, so the ratio understates the gain;
 *   - the same answer path on 1 and 2 threads sharing ONE cache, as the
 *     workers share it (each thread its own queries and output buffer),
 *     and the ratio 2 threads / 1 thread; then the same with a cache per
 *     thread, the alternative design (per-worker caches), to show what
 *     sharing costs.  Threads run for a fixed wall-clock time; the rate is
 *     answers over that time, so it is only meaningful on an otherwise
 *     idle machine with 2 cores.
 *
 * Not wired into meson (bench/run owns the benchmark runs); build by hand
 * from the source root:
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc -pthread -o bench_hit bench/bench_hit.c \
 *      src/cache.c src/cache_answer.c src/msg.c src/log.c -lldns && ./bench_hit [MILLIONS [SECS]]
 * MILLIONS (default 10) is the queries per measured one-thread run, SECS
 * (default 3) the wall-clock length of each threaded run. */
#include "cache.h"
#include "msg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAMES 1000
#define T_NOW 1000000u /* ms: entries stored at T_NOW live for an hour */

struct query {
	uint8_t wire[300];
	size_t len;
};

/* One thread's world: its cache (shared or its own) and its queries. */
struct world {
	struct cache *c;
	bool own_cache;
	struct query plain[NAMES], mixed[NAMES];
	unsigned long iters;
	double secs, cpu;       /* wall clock and this thread's CPU time */
	unsigned long long sum; /* keeps the work from being optimised away */
	pthread_barrier_t *bar;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time: the one-thread figures use it, so a busy
 * machine that takes the CPU away now and then does not show up as a
 * slower hit path (it still shows up through the caches it pollutes). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_hit: %s\n", what);
	exit(1);
}

static ldns_rr_list *list_of(const char *a, const char *b, const char *c3)
{
	const char *s[3] = { a, b, c3 };
	ldns_rr_list *l = ldns_rr_list_new();

	if (!l)
		die("out of memory");
	for (int i = 0; i < 3 && s[i]; i++) {
		ldns_rr *rr = NULL;

		if (ldns_rr_new_frm_str(&rr, s[i], 3600, NULL, NULL) != LDNS_STATUS_OK ||
		    !ldns_rr_list_push_rr(l, rr))
			die("bad record");
	}
	return l;
}

/* Dotted name to wire form, case kept; returns the length. */
static size_t wire_name(const char *dotted, uint8_t *out)
{
	size_t n = 0;

	for (const char *s = dotted; *s;) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		out[n++] = (uint8_t)l;
		memcpy(out + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

/* 0x20: flip the case of every other letter, as a client would. */
static void mix_case(char *s)
{
	for (int i = 0; s[i]; i++)
		if (i % 2 && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 32);
}

static void make_query(struct query *q, const char *name, uint16_t type, bool edns,
		       uint16_t id)
{
	char n[128];
	uint8_t *b = q->wire;
	size_t len = 12;

	snprintf(n, sizeof(n), "%s", name);
	mix_case(n);
	memset(b, 0, 12);
	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = 0x01; /* RD */
	b[5] = 1;
	b[11] = edns ? 1 : 0;
	len += wire_name(n, b + len);
	b[len++] = (uint8_t)(type >> 8);
	b[len++] = (uint8_t)type;
	b[len++] = 0;
	b[len++] = 1;
	if (edns) {
		static const uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };

		memcpy(b + len, opt, sizeof(opt));
		len += sizeof(opt);
	}
	q->len = len;
}

static void store(struct cache *c, const char *name, uint16_t type, uint16_t rcode,
		  ldns_rr_list *an, ldns_rr_list *ns)
{
	uint8_t w[256];
	size_t n = wire_name(name, w);

	if (cache_store_answer(c, w, n, type, LDNS_RR_CLASS_IN, rcode, an, ns, T_NOW) != 0)
		die("store failed");
	ldns_rr_list_deep_free(an);
	ldns_rr_list_deep_free(ns);
}

/* Names i: hostI.example.com A (2 records) for the plain list; the mixed
 * list swaps every 4th for a CNAME chain and every 8th for an NXDOMAIN. */
static void fill(struct world *w, bool store_answers)
{
	char name[96], r1[160], r2[160];

	if (store_answers) {
		w->c = cache_new((size_t)1 << 30, NULL);
		if (!w->c)
			die("out of memory");
	}
	for (unsigned i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "host%u.example.com", i);
		snprintf(r1, sizeof(r1), "%s. 3600 IN A 10.0.%u.%u", name, i >> 8, i & 255);
		snprintf(r2, sizeof(r2), "%s. 3600 IN A 10.1.%u.%u", name, i >> 8, i & 255);
		if (store_answers)
			store(w->c, name, LDNS_RR_TYPE_A, 0, list_of(r1, r2, NULL), NULL);
		make_query(&w->plain[i], name, LDNS_RR_TYPE_A, false, (uint16_t)i);
		if (i % 8 == 7) {
			snprintf(name, sizeof(name), "gone%u.example.com", i);
			if (store_answers)
				store(w->c, name, LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, NULL,
			      list_of("example.com. 3600 IN SOA ns1.example.com. "
				      "hostmaster.example.com. 1 7200 3600 1209600 300", NULL,
				      NULL));
		} else if (i % 4 == 3) {
			snprintf(name, sizeof(name), "alias%u.example.com", i);
			snprintf(r1, sizeof(r1), "%s. 3600 IN CNAME host%u.example.org.", name, i);
			snprintf(r2, sizeof(r2), "host%u.example.org. 3600 IN A 10.2.%u.%u", i,
				 i >> 8, i & 255);
			if (store_answers)
				store(w->c, name, LDNS_RR_TYPE_A, 0, list_of(r1, r2, NULL), NULL);
		}
		make_query(&w->mixed[i], name, LDNS_RR_TYPE_A, i % 2, (uint16_t)i);
	}
}

/* The hit path as request_handle() now runs it. */
static unsigned long long run_answers(struct cache *c, const struct query *qs,
				      unsigned long iters)
{
	static __thread uint8_t out[MSG_MAX_TCP];
	unsigned long long sum = 0;

	for (unsigned long i = 0; i < iters; i++) {
		const struct query *pq = &qs[i % NAMES];
		struct msg_query q;
		uint16_t rcode;
		bool due;
		size_t n;

		if (msg_parse_query(pq->wire, pq->len, &q, &rcode) != MSG_OK)
			die("query does not parse");
		n = cache_answer_hit(c, &q, T_NOW + 1000, out, sizeof(out),
				     msg_udp_limit(&q, 1232), &due);
		if (!n)
			die("answer cache miss");
		sum += n + out[n - 1];
	}
	return sum;
}

/* The peer: the RRset path of a hit before the answer cache. */
static unsigned long long run_rrsets(struct cache *c, const struct query *qs,
				     unsigned long iters)
{
	static uint8_t out[MSG_MAX_TCP];
	unsigned long long sum = 0;

	for (unsigned long i = 0; i < iters; i++) {
		const struct query *pq = &qs[i % NAMES];
		struct cache_result res;
		struct msg_query q;
		uint16_t rcode;
		ldns_rdf *name;
		size_t n;

		if (msg_parse_query(pq->wire, pq->len, &q, &rcode) != MSG_OK)
			die("query does not parse");
		name = msg_qname_rdf(&q, true);
		if (!name || cache_lookup_rrset(c, name, q.qtype, q.qclass,
						CACHE_TRUST_ANSWER_NONAUTH, false, T_NOW + 1000,
						&res) != 1)
			die("RRset cache miss");
		n = msg_build_response(&q, 0, res.rrset, NULL, NULL, msg_udp_limit(&q, 1232),
				       out, sizeof(out));
		cache_result_clear(&res);
		ldns_rdf_deep_free(name);
		if (!n)
			die("could not build");
		sum += n + out[n - 1];
	}
	return sum;
}

/* The peer's cache holds the same A RRsets. */
static struct cache *rrset_cache(void)
{
	struct cache *c = cache_new((size_t)1 << 30, NULL);
	char name[96], r1[160], r2[160];

	if (!c)
		die("out of memory");
	for (unsigned i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "host%u.example.com", i);
		snprintf(r1, sizeof(r1), "%s. 3600 IN A 10.0.%u.%u", name, i >> 8, i & 255);
		snprintf(r2, sizeof(r2), "%s. 3600 IN A 10.1.%u.%u", name, i >> 8, i & 255);
		ldns_rr_list *l = list_of(r1, r2, NULL);

		if (cache_store_rrset(c, l, NULL, CACHE_TRUST_ANSWER_AUTH, T_NOW) != 0)
			die("store failed");
		ldns_rr_list_deep_free(l);
	}
	return c;
}

/* Answers until the wall-clock time is up, in rounds of NAMES queries,
 * so threads that start together also stop together (a fixed count would
 * let the faster one finish alone and count its solo time as scaling). */
static void *thread_main(void *ud)
{
	struct world *w = ud;
	double t0, c0, end;
	unsigned long n = 0;

	fill(w, w->own_cache);
	run_answers(w->c, w->plain, NAMES * 10); /* warm */
	pthread_barrier_wait(w->bar);
	t0 = now_s();
	c0 = cpu_s();
	end = t0 + w->secs;
	do {
		w->sum += run_answers(w->c, w->plain, NAMES * 100);
		n += NAMES * 100;
	} while (now_s() < end);
	w->secs = now_s() - t0;
	w->cpu = cpu_s() - c0;
	w->iters = n;
	return NULL;
}

/* Two rates per run: answers per wall-clock second (what an idle 2-core
 * machine would show), and answers per CPU second of each thread, summed
 * (what the threads would do with a core each: on a shared, loaded
 * machine the wall clock mostly measures the other processes; contention
 * between the threads, lock and cache-line traffic, still shows up as
 * CPU time while they run at the same time). */
struct rates {
	double wall, cpu;
};

/* nthreads threads on one shared cache (shared != NULL) or on a cache
 * each, for secs of wall clock. */
static struct rates run_threads(unsigned nthreads, double secs, struct cache *shared)
{
	pthread_t tid[8];
	struct world *w = calloc(nthreads, sizeof(*w));
	pthread_barrier_t bar;
	struct rates rate = { 0, 0 };

	if (!w || nthreads > 8 || pthread_barrier_init(&bar, NULL, nthreads) != 0)
		die("threads");
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].c = shared;
		w[i].own_cache = !shared;
		w[i].secs = secs;
		w[i].bar = &bar;
		if (pthread_create(&tid[i], NULL, thread_main, &w[i]) != 0)
			die("pthread_create");
	}
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_join(tid[i], NULL) != 0)
			die("pthread_join");
		rate.wall += (double)w[i].iters / w[i].secs;
		rate.cpu += (double)w[i].iters / w[i].cpu;
		if (w[i].own_cache)
			cache_free(w[i].c);
	}
	pthread_barrier_destroy(&bar);
	free(w);
	return rate;
}

int main(int argc, char **argv)
{
	unsigned long iters = (argc > 1 ? strtoul(argv[1], NULL, 10) : 10) * 1000000ul;
	double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
	static struct world w;
	struct cache *peer;
	double t0, t_plain, t_mixed, t_peer;
	struct rates s1, s2, o1, o2;
	unsigned long long sum = 0;

	if (!iters)
		die("usage: bench_hit [MILLIONS]");
	msg_set_edns_size(1232);
	fill(&w, true);
	peer = rrset_cache();
	sum += run_answers(w.c, w.plain, NAMES * 10);
	sum += run_rrsets(peer, w.plain, NAMES * 10);

	t0 = cpu_s();
	sum += run_answers(w.c, w.plain, iters);
	t_plain = cpu_s() - t0;
	t0 = cpu_s();
	sum += run_answers(w.c, w.mixed, iters);
	t_mixed = cpu_s() - t0;
	t0 = cpu_s();
	sum += run_rrsets(peer, w.plain, iters / 10);
	t_peer = (cpu_s() - t0) * 10;
	cache_free(peer);

	/* one cache shared by the threads (as workers share it), then a cache
	 * per thread (the per-worker alternative) */
	s1 = run_threads(1, secs, w.c);
	s2 = run_threads(2, secs, w.c);
	o1 = run_threads(1, secs, NULL);
	o2 = run_threads(2, secs, NULL);
	cache_free(w.c);

	printf("bench_hit: %d names, %lu queries per run (checksum %llu)\n", NAMES, iters,
	       sum % 1000);
	printf("  answer cache, plain A (parse + cache_answer_hit):  %7.2f M answers/s  %6.1f ns\n",
	       (double)iters / t_plain / 1e6, t_plain / (double)iters * 1e9);
	printf("  answer cache, mixed (A, CNAME, NXDOMAIN, EDNS):     %7.2f M answers/s  %6.1f ns\n",
	       (double)iters / t_mixed / 1e6, t_mixed / (double)iters * 1e9);
	printf("  peer: RRset path, plain A (rdf, lookup, build):     %7.2f M answers/s  %6.1f ns\n",
	       (double)iters / t_peer / 1e6, t_peer / (double)iters * 1e9);
	printf("  ratio answer cache / RRset path:                    %7.1fx\n", t_peer / t_plain);
	printf("  threads, %.1f s each run         per wall-clock s            per thread CPU s\n",
	       secs);
	printf("  ONE shared cache:  1: %6.2f M/s  2: %6.2f M/s (%.2fx)   1: %6.2f  2: %6.2f (%.2fx)\n",
	       s1.wall / 1e6, s2.wall / 1e6, s2.wall / s1.wall, s1.cpu / 1e6, s2.cpu / 1e6,
	       s2.cpu / s1.cpu);
	printf("  a cache each:      1: %6.2f M/s  2: %6.2f M/s (%.2fx)   1: %6.2f  2: %6.2f (%.2fx)\n",
	       o1.wall / 1e6, o2.wall / 1e6, o2.wall / o1.wall, o1.cpu / 1e6, o2.cpu / 1e6,
	       o2.cpu / o1.cpu);
	printf("  shared / a cache each, 2 threads: wall %.2fx, CPU %.2fx\n", s2.wall / o2.wall,
	       s2.cpu / o2.cpu);
	return 0;
}
