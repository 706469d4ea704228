/* iter.h — the iterative resolution state machine.  It does no I/O.
 *
 * A client question becomes one struct iter_q.  The caller loops:
 *
 *     while (iter_step(q, now, &out) == ITER_SEND) {
 *         send out.qname/out.qtype to out.addr (UDP, TCP if out.tcp)
 *         ...later: iter_response(q, now, pkt, rtt) or iter_timeout(q, now)
 *     }
 *     ITER_DONE: read iter_rcode()/iter_answer()/iter_authority()
 *
 * At most one upstream query is outstanding per iter_q.  Everything the
 * iterator learns goes into the cache (scrubbed for bailiwick first) and
 * every server fact into infra, so the next question starts from the
 * deepest cached zone cut.  Glue-less NS names, priming (RFC 8109) and
 * CNAME/DNAME chasing are nested frames inside the same iter_q, so the
 * limits in struct iter_limits bound the whole work for one client query.
 *
 * Which name and type to send next is decided in one place
 * (iter.c: next_question) so QNAME minimisation can slot in there. */
#ifndef RW_ITER_H
#define RW_ITER_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cache.h"
#include "hints.h"
#include "infra.h"

struct iter_limits {
	uint32_t max_referrals;        /* zone cuts followed for one name */
	uint32_t max_cname_chain;      /* CNAME/DNAME hops */
	uint32_t max_glueless_per_referral; /* NS names resolved per delegation */
	uint32_t max_upstream_queries; /* total sends for one client query */
	uint32_t max_subquery_depth;   /* nesting of NS-address sub-resolutions */
	/* NS-name lookups that found no address (NXDOMAIN, NODATA, failure)
	 * before no new glue-less lookup is started for this client query
	 * (Unbound's MAX_TARGET_NX; bounds nested NXNSAttack fan-out).
	 * 0: no such cap. */
	uint32_t max_target_nx;
};

/* What the iterator reads and writes; owned by the caller (one per loop). */
struct iter_env {
	struct cache *cache;
	struct infra *infra;
	const struct hints *hints;
	struct iter_limits lim;
	bool do_ip4, do_ip6;
};

enum iter_act {
	ITER_SEND = 1, /* send the query described in struct iter_out */
	ITER_DONE = 2, /* finished: read the result */
};

struct iter_out {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const ldns_rdf *qname;   /* owned by the iter_q; valid until the next call */
	ldns_rr_type qtype;
	ldns_rr_class qclass;
	const ldns_rdf *zone;    /* zone cut the server is asked as authoritative for */
	uint32_t timeout_ms;     /* from infra: how long to wait for this server */
	bool tcp;                /* use TCP from the start (server known TCP-only/caps-broken) */
};

struct iter_q;

/* Begin resolving qname/qtype/qclass.  Never NULL except out of memory. */
struct iter_q *iter_new(struct iter_env *env, const ldns_rdf *qname,
			ldns_rr_type qtype, ldns_rr_class qclass, uint64_t now_ms);
void iter_free(struct iter_q *q);

/* Advance.  Returns ITER_SEND with *out filled, or ITER_DONE. */
enum iter_act iter_step(struct iter_q *q, uint64_t now_ms, struct iter_out *out);

/* Deliver the reply to the last ITER_SEND.  The transport has already
 * checked source address, ID and question (and retried TC over TCP).  The
 * iterator takes ownership of resp. rtt_ms is for infra. */
void iter_response(struct iter_q *q, uint64_t now_ms, ldns_pkt *resp, uint32_t rtt_ms);
/* The last ITER_SEND got no usable reply in time (or a network error). */
void iter_timeout(struct iter_q *q, uint64_t now_ms);

/* Results, valid after ITER_DONE until iter_free.  The answer holds the
 * whole CNAME/DNAME chain then the final RRset; authority holds the SOA
 * for NXDOMAIN/NODATA.  TTLs are the remaining ones. */
ldns_pkt_rcode iter_rcode(const struct iter_q *q);
const ldns_rr_list *iter_answer(const struct iter_q *q);
const ldns_rr_list *iter_authority(const struct iter_q *q);
/* True if the whole answer came from cache with no upstream query. */
bool iter_from_cache(const struct iter_q *q);
/* True when an RRset of a cached answer had less than 10% of its TTL
 * left: the caller may refresh it in the background (prefetch). */
bool iter_prefetch_due(const struct iter_q *q);
/* Before the first iter_step: resolve the client question upstream even
 * if the cache holds an answer (used by prefetch to refresh it). */
void iter_set_refresh(struct iter_q *q);
/* Upstream queries this iter_q sent. */
uint32_t iter_upstream_count(const struct iter_q *q);
/* Why it failed, for logs ("all servers timed out for example.com."). */
const char *iter_failure_reason(const struct iter_q *q);

#endif
