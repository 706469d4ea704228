/* stale.h — serve-stale answers (RFC 8767) built from the cache.
 *
 * When resolution fails, or takes longer than the client-response timer,
 * and serve-expired is on, the resolver may answer from expired data still
 * inside the serve-expired window.  This follows cached CNAMEs from the
 * question as the iterator would, but accepts stale entries, and falls
 * back to a stale negative entry. */
#ifndef RW_STALE_H
#define RW_STALE_H

#include <ldns/ldns.h>
#include <stdint.h>

#include "cache.h"

struct stale_answer {
	uint16_t rcode;          /* NOERROR or NXDOMAIN */
	ldns_rr_list *answer;    /* the chain and final RRset (may be empty) */
	ldns_rr_list *authority; /* SOA for negative answers */
};

/* Returns 1 and fills *out when the cache (stale entries allowed) can
 * answer qname/qtype completely; 0 otherwise.  max_chain bounds CNAME
 * hops.  Free with stale_answer_clear(). */
int stale_lookup(struct cache *c, const ldns_rdf *qname, ldns_rr_type qtype,
		 ldns_rr_class qclass, uint32_t max_chain, uint64_t now_ms,
		 struct stale_answer *out);
void stale_answer_clear(struct stale_answer *a);

#endif
