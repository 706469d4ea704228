/* iter_scrub.c — bailiwick scrubbing of upstream replies.
 *
 * A server asked as authoritative for zone Z may only tell us about names
 * at or below Z, and only what bears on the question: anything else in a
 * reply is how cache poisoning works (Kaminsky-style additional records,
 * answers for unrelated names).  So before the iterator classifies or
 * caches a reply, this file cuts it down, in place, to:
 *   answer     — the CNAME/DNAME chain that starts at qname and the final
 *                RRsets of the chain's names (plus RRSIGs covering them);
 *   authority  — SOA/NS/DS owned by an ancestor of a chain name, NSEC and
 *                NSEC3 proofs, RRSIGs covering what is kept;
 *   additional — A/AAAA of names that are NS targets in what was kept.
 * Every RR must be in qclass and owned by a name at or below Z, and exact
 * duplicates are collapsed.  Unbound's iterator/iter_scrub.c does the same
 * job; this is our own, smaller take on it.
 *
 * The name helpers shared by the iterator's files live here too. */
#include "iter_priv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- name helpers ---- */

/* Offsets of the labels of a wire-format name, root excluded.  Returns
 * the label count or -1 if the name is malformed. */
static int label_offsets(const ldns_rdf *name, size_t off[LDNS_MAX_DOMAINLEN])
{
	const uint8_t *d = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name), pos = 0;
	int n = 0;

	while (pos < len && d[pos] != 0) {
		if (d[pos] > LDNS_MAX_LABELLEN || n >= LDNS_MAX_DOMAINLEN)
			return -1;
		off[n++] = pos;
		pos += (size_t)d[pos] + 1;
	}
	if (pos >= len)
		return -1;
	return n;
}

static uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Compare wire-format names from the given offsets to their ends,
 * ignoring ASCII case (label lengths are < 64, so lowering leaves them).
 * Names the iterator compares are mostly canonical already: an exact
 * match is checked first, and the C library's locale-aware tolower() is
 * not used (this runs a few dozen times per reply). */
static bool wire_tail_eq(const ldns_rdf *a, size_t aoff, const ldns_rdf *b, size_t boff)
{
	size_t alen = ldns_rdf_size(a) - aoff, blen = ldns_rdf_size(b) - boff;
	const uint8_t *ad = ldns_rdf_data(a) + aoff, *bd = ldns_rdf_data(b) + boff;

	if (alen != blen)
		return false;
	if (memcmp(ad, bd, alen) == 0)
		return true;
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower(ad[i]) != ascii_lower(bd[i]))
			return false;
	return true;
}

static bool is_dname(const ldns_rdf *r)
{
	return r && ldns_rdf_get_type(r) == LDNS_RDF_TYPE_DNAME && ldns_rdf_size(r) > 0;
}

bool iter_name_at_or_below(const ldns_rdf *name, const ldns_rdf *zone)
{
	size_t noff[LDNS_MAX_DOMAINLEN], zoff[LDNS_MAX_DOMAINLEN];
	int nl, zl;

	if (!is_dname(name) || !is_dname(zone))
		return false;
	nl = label_offsets(name, noff);
	zl = label_offsets(zone, zoff);
	if (nl < 0 || zl < 0 || nl < zl)
		return false;
	if (zl == 0)
		return true;
	return wire_tail_eq(name, noff[nl - zl], zone, 0);
}

bool iter_name_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	if (!is_dname(a) || !is_dname(b))
		return false;
	return wire_tail_eq(a, 0, b, 0);
}

bool iter_name_parent_view(const ldns_rdf *name, ldns_rdf *view)
{
	const uint8_t *d;
	size_t len, skip;

	if (!is_dname(name))
		return false;
	d = ldns_rdf_data(name);
	len = ldns_rdf_size(name);
	skip = (size_t)d[0] + 1;
	if (d[0] == 0 || d[0] > LDNS_MAX_LABELLEN || skip >= len)
		return false;
	ldns_rdf_set_type(view, LDNS_RDF_TYPE_DNAME);
	ldns_rdf_set_size(view, len - skip);
	ldns_rdf_set_data(view, (void *)(d + skip));
	return true;
}

const char *iter_name_str(const ldns_rdf *name, char *buf, size_t len)
{
	const uint8_t *d;
	size_t n, pos = 0, w = 0;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	if (!is_dname(name)) {
		snprintf(buf, len, "(none)");
		return buf;
	}
	d = ldns_rdf_data(name);
	n = ldns_rdf_size(name);
	if (d[0] == 0) {
		snprintf(buf, len, ".");
		return buf;
	}
	while (pos < n && d[pos] != 0) {
		size_t ll = d[pos];

		for (size_t i = 1; i <= ll && pos + i < n; i++) {
			uint8_t c = d[pos + i];

			if (w + 5 >= len)
				goto out;
			if (c == '.' || c == '\\' || c == '"' || c == ';')
				w += (size_t)snprintf(buf + w, len - w, "\\%c", c);
			else if (!isgraph(c))
				w += (size_t)snprintf(buf + w, len - w, "\\%03u", c);
			else
				buf[w++] = (char)c;
		}
		if (w + 2 >= len)
			goto out;
		buf[w++] = '.';
		pos += ll + 1;
	}
out:
	buf[w] = '\0';
	return buf;
}

const char *iter_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!sa || len == 0)
		return "";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		if (!inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)))
			snprintf(host, sizeof(host), "?");
		if (ntohs(s4->sin_port) == 53)
			snprintf(buf, len, "%s", host);
		else
			snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (!inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)))
			snprintf(host, sizeof(host), "?");
		if (ntohs(s6->sin6_port) == 53)
			snprintf(buf, len, "%s", host);
		else
			snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

const ldns_rdf *iter_rr_target(const ldns_rr *rr)
{
	const ldns_rdf *t;

	if (ldns_rr_rd_count(rr) < 1)
		return NULL;
	t = ldns_rr_rdf(rr, 0);
	return is_dname(t) ? t : NULL;
}

/* RFC 6672 2.2: replace the DNAME owner suffix of name by the target.  In
 * wire format the owner is a byte suffix of name, so the prefix is simply
 * the first size(name) - size(owner) octets. */
ldns_rdf *iter_dname_substitute(const ldns_rr *dname, const ldns_rdf *name)
{
	const ldns_rdf *owner = ldns_rr_owner(dname), *target = iter_rr_target(dname);
	size_t plen, tlen;
	uint8_t wire[LDNS_MAX_DOMAINLEN + 64];

	if (ldns_rr_get_type(dname) != LDNS_RR_TYPE_DNAME || !target ||
	    !iter_name_at_or_below(name, owner) || iter_name_eq(name, owner))
		return NULL;
	plen = ldns_rdf_size(name) - ldns_rdf_size(owner);
	tlen = ldns_rdf_size(target);
	if (plen + tlen > LDNS_MAX_DOMAINLEN)
		return NULL;
	memcpy(wire, ldns_rdf_data(name), plen);
	memcpy(wire + plen, ldns_rdf_data(target), tlen);
	return ldns_dname_new_frm_data((uint16_t)(plen + tlen), wire);
}

/* ---- scrubbing ---- */

/* ldns_rr_type2str allocates; logs must not. */
const char *iter_type_str(ldns_rr_type t, char *buf, size_t len)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(t);

	if (d && d->_name)
		return d->_name;
	snprintf(buf, len, "TYPE%u", (unsigned)t);
	return buf;
}

/* The chain of names the answer section may speak about: qname, then
 * every CNAME/DNAME target reached from it.  Names are owned copies. */
struct chain_names {
	ldns_rdf **v;
	size_t n, cap;
};

static void chain_names_free(struct chain_names *c)
{
	for (size_t i = 0; i < c->n; i++)
		ldns_rdf_deep_free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static bool chain_names_has(const struct chain_names *c, const ldns_rdf *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (iter_name_eq(c->v[i], name))
			return true;
	return false;
}

/* Takes ownership of name (freed on failure). */
static int chain_names_push(struct chain_names *c, ldns_rdf *name)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		ldns_rdf **nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv) {
			ldns_rdf_deep_free(name);
			return -1;
		}
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = name;
	return 0;
}

/* Everything a scrub pass needs to know about the question. */
struct scrub_ctx {
	const ldns_rdf *qname, *zone;
	ldns_rr_type qtype;
	ldns_rr_class qclass;
	struct chain_names names;
};

/* ldns takes RDATA that ends before the fields its type requires (an SOA
 * with only MNAME, an A with none) as a record with fewer fields.  Such a
 * record is malformed; cached, it would print as text that does not
 * parse back, and a "cache load" stops at it.  Types ldns holds as opaque
 * data (unknown ones, NULL) may have any length, empty included. */
static bool rdata_complete(const ldns_rr *rr)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));

	if (!d || ldns_rr_descriptor_field_type(d, 0) == LDNS_RDF_TYPE_UNKNOWN)
		return true;
	return ldns_rr_rd_count(rr) >= ldns_rr_descriptor_minimum(d);
}

/* The common test for every section: right class, owner in bailiwick,
 * all the fields of its type. */
static const char *basic_reject(const struct scrub_ctx *s, const ldns_rr *rr)
{
	if (ldns_rr_get_class(rr) != s->qclass)
		return "wrong class";
	if (!rdata_complete(rr))
		return "malformed rdata";
	if (!iter_name_at_or_below(ldns_rr_owner(rr), s->zone))
		return "out of bailiwick";
	return NULL;
}

static ldns_rr_type sig_covered(const ldns_rr *rr)
{
	const ldns_rdf *tc;

	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG)
		return 0;
	tc = ldns_rr_rrsig_typecovered(rr);
	return tc ? ldns_rdf2rr_type(tc) : 0;
}

/* Mark every in-bailiwick RR (and RRSIG over it) at owner with type t. */
static size_t keep_rrset(const struct scrub_ctx *s, const ldns_rr_list *l, bool *keep,
			 const ldns_rdf *owner, ldns_rr_type t)
{
	size_t found = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		ldns_rr_type rt = ldns_rr_get_type(rr);

		if (basic_reject(s, rr) || !iter_name_eq(ldns_rr_owner(rr), owner))
			continue;
		if (t == LDNS_RR_TYPE_ANY ? rt != LDNS_RR_TYPE_RRSIG : rt == t) {
			keep[i] = true;
			found++;
		} else if (rt == LDNS_RR_TYPE_RRSIG &&
			   (t == LDNS_RR_TYPE_ANY || sig_covered(rr) == t)) {
			keep[i] = true;
		}
	}
	return found;
}

/* The first in-bailiwick RR of type t owned by name, or -1. */
static int find_at(const struct scrub_ctx *s, const ldns_rr_list *l, const ldns_rdf *name,
		   ldns_rr_type t)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == t && !basic_reject(s, rr) &&
		    iter_name_eq(ldns_rr_owner(rr), name))
			return (int)i;
	}
	return -1;
}

/* The in-bailiwick DNAME owned by the closest proper ancestor of name. */
static int find_dname_above(const struct scrub_ctx *s, const ldns_rr_list *l,
			    const ldns_rdf *name)
{
	int best = -1;
	size_t best_len = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME || basic_reject(s, rr) ||
		    !iter_name_at_or_below(name, o) || iter_name_eq(name, o))
			continue;
		if (best < 0 || ldns_rdf_size(o) > best_len) {
			best = (int)i;
			best_len = ldns_rdf_size(o);
		}
	}
	return best;
}

/* Keep the chain: at each name the final RRset if present; otherwise
 * follow a DNAME above it (and a server-synthesized CNAME only when it
 * agrees with the DNAME) or a CNAME at it. */
static int scrub_answer(struct scrub_ctx *s, const ldns_rr_list *an, bool *keep)
{
	ldns_rdf *first = ldns_rdf_clone(s->qname);
	size_t limit = ldns_rr_list_rr_count(an) + 1;

	if (!first || chain_names_push(&s->names, first) < 0)
		return -1;
	for (size_t step = 0; step < limit; step++) {
		const ldns_rdf *name = s->names.v[s->names.n - 1];
		ldns_rdf *next = NULL;
		int d, c;

		if (keep_rrset(s, an, keep, name, s->qtype) > 0)
			break;
		d = find_dname_above(s, an, name);
		c = s->qtype == LDNS_RR_TYPE_CNAME ? -1 : find_at(s, an, name, LDNS_RR_TYPE_CNAME);
		if (d >= 0) {
			const ldns_rr *drr = ldns_rr_list_rr(an, (size_t)d);

			next = iter_dname_substitute(drr, name);
			if (!next)
				break;
			keep_rrset(s, an, keep, ldns_rr_owner(drr), LDNS_RR_TYPE_DNAME);
			if (c >= 0 &&
			    iter_name_eq(iter_rr_target(ldns_rr_list_rr(an, (size_t)c)), next))
				keep_rrset(s, an, keep, name, LDNS_RR_TYPE_CNAME);
		} else if (c >= 0) {
			const ldns_rdf *t = iter_rr_target(ldns_rr_list_rr(an, (size_t)c));

			if (!t)
				break;
			next = ldns_rdf_clone(t);
			if (!next)
				return -1;
			/* Only the first CNAME: a name has at most one. */
			keep[c] = true;
			for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
				const ldns_rr *rr = ldns_rr_list_rr(an, i);

				if (sig_covered(rr) == LDNS_RR_TYPE_CNAME && !basic_reject(s, rr) &&
				    iter_name_eq(ldns_rr_owner(rr), name))
					keep[i] = true;
			}
		} else {
			break;
		}
		if (chain_names_has(&s->names, next)) {
			ldns_rdf_deep_free(next);
			break;
		}
		if (chain_names_push(&s->names, next) < 0)
			return -1;
	}
	return 0;
}

/* Owner is an ancestor of (or equal to) one of the chain's names. */
static bool above_chain(const struct scrub_ctx *s, const ldns_rdf *owner)
{
	for (size_t i = 0; i < s->names.n; i++)
		if (iter_name_at_or_below(s->names.v[i], owner))
			return true;
	return false;
}

static void scrub_authority(const struct scrub_ctx *s, const ldns_rr_list *ns, bool *keep)
{
	size_t n = ldns_rr_list_rr_count(ns);

	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);

		if (basic_reject(s, rr))
			continue;
		switch (ldns_rr_get_type(rr)) {
		case LDNS_RR_TYPE_SOA:
		case LDNS_RR_TYPE_NS:
		case LDNS_RR_TYPE_DS:
			keep[i] = above_chain(s, ldns_rr_owner(rr));
			break;
		case LDNS_RR_TYPE_NSEC:
		case LDNS_RR_TYPE_NSEC3:
			keep[i] = true;
			break;
		default:
			break;
		}
	}
	/* Signatures only over what survived. */
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *sig = ldns_rr_list_rr(ns, i);
		ldns_rr_type cov = sig_covered(sig);

		if (cov == 0 || basic_reject(s, sig))
			continue;
		for (size_t j = 0; j < n; j++) {
			const ldns_rr *rr = ldns_rr_list_rr(ns, j);

			if (keep[j] && ldns_rr_get_type(rr) == cov &&
			    iter_name_eq(ldns_rr_owner(rr), ldns_rr_owner(sig))) {
				keep[i] = true;
				break;
			}
		}
	}
}

/* Is name the target of a kept NS RR in l? */
static bool is_kept_ns_target(const ldns_rr_list *l, const bool *keep, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (keep[i] && ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    iter_name_eq(iter_rr_target(rr), name))
			return true;
	}
	return false;
}

static void scrub_additional(const struct scrub_ctx *s, const ldns_rr_list *an,
			     const bool *kan, const ldns_rr_list *ns, const bool *kns,
			     const ldns_rr_list *ar, bool *keep)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(ar); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ar, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (t == LDNS_RR_TYPE_RRSIG)
			t = sig_covered(rr);
		if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA) || basic_reject(s, rr))
			continue;
		keep[i] = is_kept_ns_target(an, kan, o) || is_kept_ns_target(ns, kns, o);
	}
}

static bool rdf_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	if (ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME &&
	    ldns_rdf_get_type(b) == LDNS_RDF_TYPE_DNAME)
		return iter_name_eq(a, b);
	return ldns_rdf_compare(a, b) == 0;
}

/* Same owner, type, class and data; the TTL does not matter. */
static bool rr_equal(const ldns_rr *a, const ldns_rr *b)
{
	if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
	    ldns_rr_get_class(a) != ldns_rr_get_class(b) ||
	    ldns_rr_rd_count(a) != ldns_rr_rd_count(b) ||
	    !iter_name_eq(ldns_rr_owner(a), ldns_rr_owner(b)))
		return false;
	for (size_t i = 0; i < ldns_rr_rd_count(a); i++)
		if (!rdf_equal(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i)))
			return false;
	return true;
}

static void log_drop(const struct scrub_ctx *s, const char *section, const ldns_rr *rr,
		     const char *why)
{
	char on[ITER_NAME_STRLEN], qn[ITER_NAME_STRLEN], zn[ITER_NAME_STRLEN], tb[16];

	log_detail("scrub %s (zone %s): dropped %s %s from %s: %s",
		   iter_name_str(s->qname, qn, sizeof(qn)), iter_name_str(s->zone, zn, sizeof(zn)),
		   iter_name_str(ldns_rr_owner(rr), on, sizeof(on)),
		   iter_type_str(ldns_rr_get_type(rr), tb, sizeof(tb)), section, why);
}

/* Compact l in place to the kept, non-duplicate RRs; free the rest.  In
 * place so that it cannot fail half-way. */
static size_t compact(const struct scrub_ctx *s, const char *section, ldns_rr_list *l,
		      const bool *keep)
{
	size_t n = ldns_rr_list_rr_count(l), w = 0, dropped = 0;

	for (size_t r = 0; r < n; r++) {
		ldns_rr *rr = ldns_rr_list_rr(l, r);
		const char *why = keep[r] ? NULL : basic_reject(s, rr);
		bool dup = false;

		if (keep[r]) {
			for (size_t i = 0; i < w && !dup; i++)
				dup = rr_equal(ldns_rr_list_rr(l, i), rr);
			if (!dup) {
				ldns_rr_list_set_rr(l, rr, w++);
				continue;
			}
			why = "duplicate";
		}
		log_drop(s, section, rr, why ? why : "unrelated to the question");
		ldns_rr_free(rr);
		dropped++;
	}
	ldns_rr_list_set_rr_count(l, w);
	return dropped;
}

/* Sections may be NULL in a hand-built packet; give them empty lists so
 * later code need not care. */
static int ensure_sections(ldns_pkt *p)
{
	if (!ldns_pkt_answer(p)) {
		ldns_rr_list *l = ldns_rr_list_new();

		if (!l)
			return -1;
		ldns_pkt_set_answer(p, l);
	}
	if (!ldns_pkt_authority(p)) {
		ldns_rr_list *l = ldns_rr_list_new();

		if (!l)
			return -1;
		ldns_pkt_set_authority(p, l);
	}
	if (!ldns_pkt_additional(p)) {
		ldns_rr_list *l = ldns_rr_list_new();

		if (!l)
			return -1;
		ldns_pkt_set_additional(p, l);
	}
	return 0;
}

int iter_scrub(ldns_pkt *resp, const ldns_rdf *qname, ldns_rr_type qtype,
	       ldns_rr_class qclass, const ldns_rdf *zone)
{
	struct scrub_ctx s = { .qname = qname, .zone = zone, .qtype = qtype, .qclass = qclass };
	ldns_rr_list *an, *ns, *ar;
	bool *kan = NULL, *kns = NULL, *kar = NULL;
	int ret = -1;

	if (!resp || !qname || !zone || ensure_sections(resp) < 0)
		return -1;
	an = ldns_pkt_answer(resp);
	ns = ldns_pkt_authority(resp);
	ar = ldns_pkt_additional(resp);
	kan = calloc(ldns_rr_list_rr_count(an) + 1, sizeof(bool));
	kns = calloc(ldns_rr_list_rr_count(ns) + 1, sizeof(bool));
	kar = calloc(ldns_rr_list_rr_count(ar) + 1, sizeof(bool));
	if (!kan || !kns || !kar)
		goto out;
	if (scrub_answer(&s, an, kan) < 0)
		goto out;
	scrub_authority(&s, ns, kns);
	scrub_additional(&s, an, kan, ns, kns, ar, kar);

	ret = (int)(compact(&s, "answer", an, kan) + compact(&s, "authority", ns, kns) +
		    compact(&s, "additional", ar, kar));
	ldns_pkt_set_ancount(resp, (uint16_t)ldns_rr_list_rr_count(an));
	ldns_pkt_set_nscount(resp, (uint16_t)ldns_rr_list_rr_count(ns));
	ldns_pkt_set_arcount(resp, (uint16_t)ldns_rr_list_rr_count(ar));
out:
	chain_names_free(&s.names);
	free(kan);
	free(kns);
	free(kar);
	return ret;
}
