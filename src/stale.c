/* stale.c — see stale.h.  Every lookup passes allow_stale, so fresh data is
 * used where it exists and expired data fills the gaps; whatever comes
 * back stale carries the RFC 8767 TTL the cache sets. */
#include "stale.h"

#include <string.h>

/* Move the RRs of src into dst (src is freed). */
static int append_rrs(ldns_rr_list *dst, ldns_rr_list *src)
{
	bool ok = ldns_rr_list_cat(dst, src);

	ldns_rr_list_free(src);
	return ok ? 0 : -1;
}

/* The last cached hop: a negative entry for name, turned into the answer's
 * rcode and authority.  Returns 1 when one was found. */
static int negative_tail(struct cache *c, const ldns_rdf *name, ldns_rr_type qtype,
			 ldns_rr_class qclass, uint64_t now_ms, struct stale_answer *out)
{
	bool nxdomain = false;
	ldns_rr *soa = NULL;

	if (cache_lookup_negative(c, name, qtype, qclass, true, now_ms, &nxdomain, &soa) != 1)
		return 0;
	if (!ldns_rr_list_push_rr(out->authority, soa)) {
		ldns_rr_free(soa);
		return 0;
	}
	out->rcode = nxdomain ? LDNS_RCODE_NXDOMAIN : LDNS_RCODE_NOERROR;
	return 1;
}

/* Take the RRset out of a cache result and append it to the answer. */
static int take_rrset(struct stale_answer *out, struct cache_result *res)
{
	int rc = append_rrs(out->answer, res->rrset);

	res->rrset = NULL;
	cache_result_clear(res);
	return rc;
}

/* Follow qname through cached CNAMEs until qtype is found (1), a negative
 * entry ends it (1), or the cache has nothing more (0). */
static int follow(struct cache *c, const ldns_rdf *qname, ldns_rr_type qtype,
		  ldns_rr_class qclass, uint32_t max_chain, uint64_t now_ms,
		  struct stale_answer *out)
{
	const ldns_rdf *name = qname;
	ldns_rdf *owned = NULL;
	struct cache_result res;
	int found = 0;

	for (uint32_t hop = 0; hop <= max_chain; hop++) {
		memset(&res, 0, sizeof(res));
		if (cache_lookup_rrset(c, name, qtype, qclass, CACHE_TRUST_ANSWER_NONAUTH,
				       true, now_ms, &res) == 1) {
			found = take_rrset(out, &res) == 0;
			break;
		}
		if (qtype == LDNS_RR_TYPE_CNAME ||
		    cache_lookup_rrset(c, name, LDNS_RR_TYPE_CNAME, qclass,
				       CACHE_TRUST_ANSWER_NONAUTH, true, now_ms, &res) != 1) {
			found = negative_tail(c, name, qtype, qclass, now_ms, out);
			break;
		}
		ldns_rr *cname = ldns_rr_list_rr(res.rrset, 0);
		ldns_rdf *target = cname ? ldns_rr_rdf(cname, 0) : NULL;
		ldns_rdf *next = target ? ldns_rdf_clone(target) : NULL;
		if (!next || take_rrset(out, &res) != 0) {
			ldns_rdf_deep_free(next);
			cache_result_clear(&res);
			break;
		}
		ldns_rdf_deep_free(owned);
		name = owned = next;
	}
	ldns_rdf_deep_free(owned);
	return found;
}

int stale_lookup(struct cache *c, const ldns_rdf *qname, ldns_rr_type qtype,
		 ldns_rr_class qclass, uint32_t max_chain, uint64_t now_ms,
		 struct stale_answer *out)
{
	memset(out, 0, sizeof(*out));
	out->rcode = LDNS_RCODE_NOERROR;
	out->answer = ldns_rr_list_new();
	out->authority = ldns_rr_list_new();
	if (out->answer && out->authority &&
	    follow(c, qname, qtype, qclass, max_chain, now_ms, out))
		return 1;
	stale_answer_clear(out);
	return 0;
}

void stale_answer_clear(struct stale_answer *a)
{
	ldns_rr_list_deep_free(a->answer);
	ldns_rr_list_deep_free(a->authority);
	a->answer = a->authority = NULL;
}
