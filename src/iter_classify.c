/* iter_classify.c — what kind of reply did a server give us?
 *
 * Everything the iterator does with a reply hangs on one decision: is it
 * the answer, a redirection (CNAME/DNAME) to chase, a proof that the name
 * or type does not exist, a step down the tree, or a sign the server is
 * lame or broken?  Making that decision in one pure function over the
 * packet keeps the state machine simple and lets the tests enumerate the
 * cases (the same split as Unbound's iter_resptype.c and Knot Resolver's
 * lib/layer/iterate.c, written our own way).
 *
 * The packet is expected to be scrubbed (iter_scrub.c) already, but the
 * relations that decide between referral and lameness (is the NS owner
 * strictly below the zone asked and above qname?) are checked here again
 * so the function is correct on its own. */
#include "iter_priv.h"

#include <string.h>

const char *iter_resp_str(enum iter_resp t)
{
	switch (t) {
	case ITER_RESP_ANSWER: return "ANSWER";
	case ITER_RESP_CNAME: return "CNAME";
	case ITER_RESP_DNAME: return "DNAME";
	case ITER_RESP_NXDOMAIN: return "NXDOMAIN";
	case ITER_RESP_NODATA: return "NODATA";
	case ITER_RESP_REFERRAL: return "REFERRAL";
	case ITER_RESP_LAME: return "LAME";
	case ITER_RESP_SERVER_ERROR: return "SERVER_ERROR";
	}
	return "?";
}

void iter_class_clear(struct iter_class *c)
{
	if (!c)
		return;
	ldns_rr_list_deep_free(c->chain);
	ldns_rdf_deep_free(c->target);
	ldns_rdf_deep_free(c->referral_zone);
	memset(c, 0, sizeof(*c));
}

static size_t count(const ldns_rr_list *l)
{
	return l ? ldns_rr_list_rr_count(l) : 0;
}

/* Is there an RR of type t (any non-RRSIG type for ANY) owned by name? */
static bool has_rrset(const ldns_rr_list *l, const ldns_rdf *name, ldns_rr_type t)
{
	for (size_t i = 0; i < count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		ldns_rr_type rt = ldns_rr_get_type(rr);

		if (!iter_name_eq(ldns_rr_owner(rr), name))
			continue;
		if (t == LDNS_RR_TYPE_ANY ? rt != LDNS_RR_TYPE_RRSIG : rt == t)
			return true;
	}
	return false;
}

static const ldns_rr *find_at(const ldns_rr_list *l, const ldns_rdf *name, ldns_rr_type t)
{
	for (size_t i = 0; i < count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == t && iter_name_eq(ldns_rr_owner(rr), name))
			return rr;
	}
	return NULL;
}

/* The DNAME at the closest proper ancestor of name, inside zone. */
static const ldns_rr *find_dname_above(const ldns_rr_list *l, const ldns_rdf *name,
				       const ldns_rdf *zone)
{
	const ldns_rr *best = NULL;

	for (size_t i = 0; i < count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME ||
		    !iter_name_at_or_below(o, zone) || !iter_name_at_or_below(name, o) ||
		    iter_name_eq(name, o))
			continue;
		if (!best || ldns_rdf_size(o) > ldns_rdf_size(ldns_rr_owner(best)))
			best = rr;
	}
	return best;
}

/* Was name already an owner (or the start) of the chain?  Then the chain
 * loops and chasing further is pointless. */
static bool chain_visited(const struct iter_class *c, const ldns_rdf *qname,
			  const ldns_rdf *name)
{
	if (iter_name_eq(qname, name))
		return true;
	for (size_t i = 0; i < count(c->chain); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(c->chain, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    iter_name_eq(ldns_rr_owner(rr), name))
			return true;
	}
	return false;
}

ldns_rr *iter_synth_cname(const ldns_rdf *owner, const ldns_rdf *target, ldns_rr_class cls,
			  uint32_t ttl)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_rdf_clone(owner), *t = ldns_rdf_clone(target);

	if (!rr || !o || !t) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		ldns_rdf_deep_free(t);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_CNAME);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (!ldns_rr_push_rdf(rr, t)) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(t);
		return NULL;
	}
	return rr;
}

static int push_copy(ldns_rr_list *l, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);

	if (!c || !ldns_rr_list_push_rr(l, c)) {
		ldns_rr_free(c);
		return -1;
	}
	return 0;
}

/* One hop from c->target: through a DNAME above it (preferred, RFC 6672
 * says the DNAME governs) or a CNAME at it.  Returns 1 when a hop was
 * taken, 0 when the chain ends, -1 on allocation failure. */
static int chain_hop(struct iter_class *c, const ldns_rr_list *an, ldns_rr_type qtype,
		     const ldns_rdf *zone, bool *via_dname)
{
	const ldns_rr *d = find_dname_above(an, c->target, zone);
	const ldns_rr *cn;
	ldns_rdf *next;

	if (d) {
		ldns_rr *syn;

		next = iter_dname_substitute(d, c->target);
		if (!next)
			return 0; /* would exceed 255 octets: nothing to follow */
		/* RFC 6672 3.4: the synthesized CNAME has the DNAME's TTL. */
		syn = iter_synth_cname(c->target, next, ldns_rr_get_class(d), ldns_rr_ttl(d));
		if (!syn || push_copy(c->chain, d) < 0 || !ldns_rr_list_push_rr(c->chain, syn)) {
			ldns_rr_free(syn);
			ldns_rdf_deep_free(next);
			return -1;
		}
		*via_dname = true;
	} else {
		cn = qtype == LDNS_RR_TYPE_CNAME ? NULL
						 : find_at(an, c->target, LDNS_RR_TYPE_CNAME);
		if (!cn || !iter_rr_target(cn))
			return 0;
		next = ldns_rdf_clone(iter_rr_target(cn));
		if (!next || push_copy(c->chain, cn) < 0) {
			ldns_rdf_deep_free(next);
			return -1;
		}
		*via_dname = false;
	}
	ldns_rdf_deep_free(c->target);
	c->target = next;
	c->hops++;
	return 1;
}

/* An SOA proving something about name: owned by an ancestor of name
 * (or name) inside the zone asked. */
static const ldns_rr *find_soa(const ldns_rr_list *ns, const ldns_rdf *name,
			       const ldns_rdf *zone)
{
	for (size_t i = 0; i < count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && iter_name_at_or_below(o, zone) &&
		    iter_name_at_or_below(name, o))
			return rr;
	}
	return NULL;
}

/* The deepest NS owner that is a real step down towards qname: strictly
 * below zone, at or above qname, and for DS strictly above qname (the DS
 * lives on the parent side of qname's cut, so a referral to qname itself
 * leads away from it). */
static const ldns_rdf *find_referral(const ldns_rr_list *ns, const ldns_rdf *qname,
				     ldns_rr_type qtype, const ldns_rdf *zone)
{
	const ldns_rdf *best = NULL;

	for (size_t i = 0; i < count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS)
			continue;
		if (!iter_name_at_or_below(o, zone) || iter_name_eq(o, zone) ||
		    !iter_name_at_or_below(qname, o))
			continue;
		if (qtype == LDNS_RR_TYPE_DS && iter_name_eq(o, qname))
			continue;
		if (!best || ldns_rdf_size(o) > ldns_rdf_size(best))
			best = o;
	}
	return best;
}

static bool has_type(const ldns_rr_list *l, ldns_rr_type t)
{
	for (size_t i = 0; i < count(l); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t)
			return true;
	return false;
}

/* No answer and no chain: NODATA, referral or lame. */
static void classify_empty(const ldns_pkt *resp, const ldns_rdf *qname, ldns_rr_type qtype,
			   const ldns_rdf *zone, struct iter_class *c)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	const ldns_rdf *ref;

	if (c->soa) {
		c->type = ITER_RESP_NODATA;
		c->why = "no data, SOA in authority";
		return;
	}
	ref = find_referral(ns, qname, qtype, zone);
	if (ref) {
		c->referral_zone = ldns_rdf_clone(ref);
		c->type = c->referral_zone ? ITER_RESP_REFERRAL : ITER_RESP_SERVER_ERROR;
		c->why = c->referral_zone ? "delegation below the zone asked" : "out of memory";
		return;
	}
	if (ldns_pkt_aa(resp)) {
		c->type = ITER_RESP_NODATA;
		c->why = "authoritative empty answer without SOA";
		return;
	}
	c->type = ITER_RESP_LAME;
	c->why = has_type(ns, LDNS_RR_TYPE_NS) ? "upward or sideways referral"
					       : "not authoritative and no data";
}

int iter_classify(const ldns_pkt *resp, const ldns_rdf *qname, ldns_rr_type qtype,
		  const ldns_rdf *zone, struct iter_class *c)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	size_t limit = count(an) + 1;
	bool final = false, via_dname = false, loop = false;

	memset(c, 0, sizeof(*c));
	c->rcode = ldns_pkt_get_rcode(resp);
	if (c->rcode != LDNS_RCODE_NOERROR && c->rcode != LDNS_RCODE_NXDOMAIN) {
		c->type = ITER_RESP_SERVER_ERROR;
		c->refused = c->rcode == LDNS_RCODE_REFUSED;
		c->why = c->refused ? "REFUSED" : "error rcode";
		return 0;
	}
	c->chain = ldns_rr_list_new();
	c->target = ldns_rdf_clone(qname);
	if (!c->chain || !c->target)
		goto oom;
	for (size_t step = 0; step < limit; step++) {
		int r;

		if (has_rrset(an, c->target, qtype)) {
			final = true;
			break;
		}
		r = chain_hop(c, an, qtype, zone, &via_dname);
		if (r < 0)
			goto oom;
		if (r == 0)
			break;
		loop = chain_visited(c, qname, c->target);
		if (loop || count(c->chain) > 2 * limit)
			break;
	}
	if (final) {
		c->type = ITER_RESP_ANSWER;
		c->why = c->hops ? "answer after a chain" : "answer";
		return 0;
	}
	c->soa = find_soa(ldns_pkt_authority(resp), c->target, zone);
	if (c->hops > 0) {
		/* RFC 6604: the rcode speaks about the last name of the chain,
		 * but only an SOA for that name's zone makes it believable;
		 * without one the target is chased like any other name.  A
		 * looping chain is handed on as a chain: the iterator, which
		 * sees the whole chain, reports the loop. */
		if (c->soa && !loop) {
			c->type = c->rcode == LDNS_RCODE_NXDOMAIN ? ITER_RESP_NXDOMAIN
								  : ITER_RESP_NODATA;
			c->why = "negative answer at the end of a chain";
		} else {
			c->type = via_dname ? ITER_RESP_DNAME : ITER_RESP_CNAME;
			c->why = "chain leaves what this reply answers";
		}
		return 0;
	}
	if (c->rcode == LDNS_RCODE_NXDOMAIN) {
		c->type = ITER_RESP_NXDOMAIN;
		c->why = c->soa ? "name does not exist" : "name does not exist (no SOA)";
		return 0;
	}
	classify_empty(resp, qname, qtype, zone, c);
	if (c->type == ITER_RESP_SERVER_ERROR)
		goto oom;
	return 0;
oom:
	iter_class_clear(c);
	c->type = ITER_RESP_SERVER_ERROR;
	c->why = "out of memory";
	return -1;
}
