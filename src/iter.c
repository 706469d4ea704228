/* iter.c — the iterative resolution state machine (see iter.h).
 *
 * Shaped like Unbound's iter_handle(): each frame has an explicit state,
 * one function per state, and a while/switch driver that runs states
 * until one needs the network (ITER_SEND) or the client's frame is done.
 * The iterator never does I/O; the caller sends what ITER_SEND describes
 * and hands back the reply or the timeout.
 *
 * Nested work is a stack of frames inside one iter_q:
 *   FRAME_CLIENT — the client's question; CNAME/DNAME restarts stay in it
 *                  (new name, same frame) and its answer collects the chain;
 *   FRAME_PRIME  — ". NS" to a hint address (RFC 8109), at most once per
 *                  query, when nothing usable is cached for the root;
 *   FRAME_NSADDR — A (then AAAA) of a glue-less NS name of the delegation
 *                  of the frame below it.
 * All frames share the query's budget (struct iter_limits), so one client
 * question can never cause unbounded work.
 *
 * Every reply is scrubbed for bailiwick (iter_scrub.c) and classified
 * (iter_classify.c) before anything in it is cached or acted upon. */
#include "iter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iter_priv.h"
#include "log.h"

/* Driver iterations per iter_step call before we call it a bug: every
 * state either sends, finishes a frame, or is bounded by a limit, so this
 * is only a backstop. */
#define ITER_MAX_STEPS 100000u

enum iter_state {
	/* Look in the cache: the answer, a CNAME or DNAME to follow, or a
	 * negative entry.  Otherwise find a delegation. */
	ITER_ST_INIT,
	/* Pick the deepest usable cached zone cut; prime the root (once) or
	 * fall back to the hints when nothing is cached. */
	ITER_ST_FIND_DELEG,
	/* Choose the next server and send; when no address is left, resolve
	 * a glue-less NS name, give timed-out servers one more round, or
	 * give up on the delegation. */
	ITER_ST_QUERY_TARGETS,
	/* A query is out: only iter_response()/iter_timeout() move on. */
	ITER_ST_WAIT,
	/* A reply arrived: scrub, classify, cache, then act on it. */
	ITER_ST_RESPONSE,
	/* The frame has its result: hand it to the frame below, or finish. */
	ITER_ST_FINISHED,
};

enum frame_kind { FRAME_CLIENT, FRAME_PRIME, FRAME_NSADDR };

struct frame {
	struct frame *parent;
	enum frame_kind kind;
	enum iter_state state;
	ldns_rdf *start_name;    /* the name the frame was created for */
	ldns_rdf *qname;         /* current name (a CNAME/DNAME target after a restart) */
	ldns_rr_type qtype;
	struct iter_deleg *dp;   /* zone cut being asked */
	size_t cur;              /* dp->addrs index of the outstanding query */
	ldns_rdf *sent_qname;    /* what next_question() sent */
	ldns_rr_type sent_qtype;
	ldns_pkt *resp;          /* reply waiting for ITER_ST_RESPONSE */
	uint32_t referrals;      /* zone cuts followed for the current name */
	uint32_t cname_hops;     /* CNAME/DNAME redirections so far */
	size_t parent_ns;        /* FRAME_NSADDR: NS index in parent->dp */
	ldns_rr_list *answer;    /* chain, then the final RRset */
	ldns_rr_list *authority; /* SOA of a negative answer */
	ldns_pkt_rcode rcode;
	bool ok;                 /* finished with a usable result */
};

struct iter_q {
	struct iter_env *env;
	ldns_rr_class qclass;
	struct frame *client;    /* bottom of the stack; kept until iter_free */
	struct frame *top;
	uint32_t nsaddr_depth;   /* FRAME_NSADDR frames on the stack */
	uint32_t sent;           /* upstream queries */
	uint32_t target_nx;      /* NS-name lookups that ended without an address */
	bool prime_done;         /* priming was attempted for this query */
	bool prefetch_due;       /* a cached answer RRset is in its last 10% of TTL */
	bool refresh;            /* skip the cache for the client question once */
	bool done;
	char reason[256];
};

enum step { STEP_NEXT, STEP_SEND, STEP_DONE };

/* ---- frames ---- */

static struct frame *frame_new(enum frame_kind kind, const ldns_rdf *name, ldns_rr_type qtype)
{
	struct frame *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->kind = kind;
	f->qtype = qtype;
	f->state = ITER_ST_INIT;
	f->rcode = LDNS_RCODE_SERVFAIL;
	f->start_name = ldns_rdf_clone(name);
	f->qname = ldns_rdf_clone(name);
	f->answer = ldns_rr_list_new();
	f->authority = ldns_rr_list_new();
	if (!f->start_name || !f->qname || !f->answer || !f->authority) {
		ldns_rdf_deep_free(f->start_name);
		ldns_rdf_deep_free(f->qname);
		ldns_rr_list_free(f->answer);
		ldns_rr_list_free(f->authority);
		free(f);
		return NULL;
	}
	ldns_dname2canonical(f->start_name);
	ldns_dname2canonical(f->qname);
	return f;
}

static void frame_free(struct frame *f)
{
	iter_deleg_free(f->dp);
	ldns_rdf_deep_free(f->start_name);
	ldns_rdf_deep_free(f->qname);
	ldns_rdf_deep_free(f->sent_qname);
	ldns_pkt_free(f->resp);
	ldns_rr_list_deep_free(f->answer);
	ldns_rr_list_deep_free(f->authority);
	free(f);
}

static void push_frame(struct iter_q *q, struct frame *f)
{
	f->parent = q->top;
	q->top = f;
	if (f->kind == FRAME_NSADDR)
		q->nsaddr_depth++;
}

static void pop_frame(struct iter_q *q)
{
	struct frame *f = q->top;

	q->top = f->parent;
	if (f->kind == FRAME_NSADDR)
		q->nsaddr_depth--;
	frame_free(f);
}

/* Empty a result list in place (the list itself stays). */
static void clear_list(ldns_rr_list *l)
{
	while (ldns_rr_list_rr_count(l) > 0)
		ldns_rr_free(ldns_rr_list_pop_rr(l));
}

/* ---- failure ---- */

static void set_reason(struct iter_q *q, const char *why)
{
	if (q->reason[0] == '\0')
		snprintf(q->reason, sizeof(q->reason), "%s", why);
}

/* The frame cannot get its result.  For the client that is SERVFAIL with
 * a reason; for the others the frame below decides what it means. */
static void frame_fail(struct iter_q *q, struct frame *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void frame_fail(struct iter_q *q, struct frame *f, const char *fmt, ...)
{
	char why[256], nb[ITER_NAME_STRLEN], tb[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_query("%s %s: failed: %s", iter_name_str(f->qname, nb, sizeof(nb)),
		  iter_type_str(f->qtype, tb, sizeof(tb)), why);
	if (f->kind == FRAME_CLIENT)
		set_reason(q, why);
	clear_list(f->answer);
	clear_list(f->authority);
	f->rcode = LDNS_RCODE_SERVFAIL;
	f->ok = false;
	f->state = ITER_ST_FINISHED;
}

/* A limit on the whole query was hit: drop every nested frame and fail
 * the client's. */
static void fail_query(struct iter_q *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_query(struct iter_q *q, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	while (q->top != q->client)
		pop_frame(q);
	frame_fail(q, q->client, "%s", why);
}

/* ---- helpers over RR lists ---- */

static int append_copy(ldns_rr_list *dst, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);

	if (!c || !ldns_rr_list_push_rr(dst, c)) {
		ldns_rr_free(c);
		return -1;
	}
	return 0;
}

static int append_copies(ldns_rr_list *dst, const ldns_rr_list *src)
{
	for (size_t i = 0; src && i < ldns_rr_list_rr_count(src); i++)
		if (append_copy(dst, ldns_rr_list_rr(src, i)) < 0)
			return -1;
	return 0;
}

/* Is name the owner of a CNAME already in the chain?  Then following it
 * again would loop. */
static bool chain_has_owner(const ldns_rr_list *l, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    iter_name_eq(ldns_rr_owner(rr), name))
			return true;
	}
	return false;
}

/* Look up an answer-grade RRset and append copies.  Returns 1 on a hit
 * (with *ttl the remaining TTL), 0 on a miss, -1 on allocation failure. */
static int append_cached(struct iter_q *q, ldns_rr_list *dst, const ldns_rdf *owner,
			 ldns_rr_type type, uint64_t now_ms, uint32_t *ttl)
{
	struct cache_result res;
	int r;

	memset(&res, 0, sizeof(res));
	if (cache_lookup_rrset(q->env->cache, owner, type, q->qclass,
			       CACHE_TRUST_ANSWER_NONAUTH, false, now_ms, &res) != 1)
		return 0;
	r = append_copies(dst, res.rrset);
	if (ttl)
		*ttl = res.ttl;
	if ((uint64_t)res.ttl * 10 < res.orig_ttl)
		q->prefetch_due = true;
	cache_result_clear(&res);
	return r < 0 ? -1 : 1;
}

/* ---- the CNAME/DNAME budget and restarts ---- */

/* Count n more redirections; fails the frame past max_cname_chain. */
static bool count_hops(struct iter_q *q, struct frame *f, uint32_t n)
{
	f->cname_hops += n;
	if (f->cname_hops <= q->env->lim.max_cname_chain)
		return true;
	frame_fail(q, f, "CNAME chain longer than %u", q->env->lim.max_cname_chain);
	return false;
}

/* Resolution of this frame continues at target: from the cache, in
 * another zone, anywhere.  The chain so far stays in f->answer. */
static void restart_at(struct iter_q *q, struct frame *f, const ldns_rdf *target)
{
	char ob[ITER_NAME_STRLEN], tb[ITER_NAME_STRLEN];
	ldns_rdf *n;

	if (chain_has_owner(f->answer, target)) {
		frame_fail(q, f, "CNAME loop at %s", iter_name_str(target, tb, sizeof(tb)));
		return;
	}
	n = ldns_rdf_clone(target);
	if (!n) {
		frame_fail(q, f, "out of memory");
		return;
	}
	ldns_dname2canonical(n);
	log_trace("%s: following the chain to %s", iter_name_str(f->qname, ob, sizeof(ob)),
		  iter_name_str(n, tb, sizeof(tb)));
	ldns_rdf_deep_free(f->qname);
	f->qname = n;
	iter_deleg_free(f->dp);
	f->dp = NULL;
	f->referrals = 0;
	f->state = ITER_ST_INIT;
}

/* ---- ITER_ST_INIT: the cache ---- */

/* A cached DNAME at an ancestor of f->qname rewrites it (RFC 6672): add
 * the DNAME and the CNAME it implies to the chain and follow it.  Returns
 * true when the frame moved on, false when the DNAME does not apply (the
 * rewritten name would be too long). */
static bool follow_cached_dname(struct iter_q *q, struct frame *f,
				const struct cache_result *res)
{
	const ldns_rr *d = ldns_rr_list_rr(res->rrset, 0);
	ldns_rdf *next = d ? iter_dname_substitute(d, f->qname) : NULL;
	ldns_rr *syn;

	if (!next)
		return false;
	syn = iter_synth_cname(f->qname, next, q->qclass, res->ttl);
	if (!syn || append_copies(f->answer, res->rrset) < 0 ||
	    !ldns_rr_list_push_rr(f->answer, syn)) {
		ldns_rr_free(syn);
		ldns_rdf_deep_free(next);
		frame_fail(q, f, "out of memory");
		return true;
	}
	if (count_hops(q, f, 1))
		restart_at(q, f, next);
	ldns_rdf_deep_free(next);
	return true;
}

/* Look for a cached DNAME at every proper ancestor of f->qname.  The
 * ancestors are views into f->qname's bytes; once a DNAME is followed,
 * f->qname is replaced and the walk stops at once. */
static bool cache_dname(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	ldns_rdf anc, up;

	if (!iter_name_parent_view(f->qname, &anc))
		return false;
	for (;;) {
		struct cache_result res;

		memset(&res, 0, sizeof(res));
		if (cache_lookup_rrset(q->env->cache, &anc, LDNS_RR_TYPE_DNAME, q->qclass,
				       CACHE_TRUST_ANSWER_NONAUTH, false, now_ms, &res) == 1) {
			bool moved = follow_cached_dname(q, f, &res);

			cache_result_clear(&res);
			if (moved)
				return true;
		}
		if (!iter_name_parent_view(&anc, &up))
			return false;
		anc = up;
	}
}

/* Answer f from the cache if it can be.  Returns true when the frame
 * moved on (finished, failed, or restarted at a new name). */
static bool answer_from_cache(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	struct cache_result res;
	char nb[ITER_NAME_STRLEN], tb[16];
	ldns_rr *soa = NULL;
	bool nx = false;
	int r;

	r = append_cached(q, f->answer, f->qname, f->qtype, now_ms, NULL);
	if (r != 0) {
		if (r < 0) {
			frame_fail(q, f, "out of memory");
			return true;
		}
		log_trace("%s %s: answered from cache", iter_name_str(f->qname, nb, sizeof(nb)),
			  iter_type_str(f->qtype, tb, sizeof(tb)));
		f->rcode = LDNS_RCODE_NOERROR;
		f->ok = true;
		f->state = ITER_ST_FINISHED;
		return true;
	}
	memset(&res, 0, sizeof(res));
	if (f->qtype != LDNS_RR_TYPE_CNAME &&
	    cache_lookup_rrset(q->env->cache, f->qname, LDNS_RR_TYPE_CNAME, q->qclass,
			       CACHE_TRUST_ANSWER_NONAUTH, false, now_ms, &res) == 1) {
		const ldns_rr *cn = ldns_rr_list_rr(res.rrset, 0);
		const ldns_rdf *t = cn ? iter_rr_target(cn) : NULL;

		if (!t || append_copies(f->answer, res.rrset) < 0)
			frame_fail(q, f, "out of memory");
		else if (count_hops(q, f, 1))
			restart_at(q, f, t);
		cache_result_clear(&res);
		return true;
	}
	if (cache_lookup_negative(q->env->cache, f->qname, f->qtype, q->qclass, false, now_ms,
				  &nx, &soa) == 1) {
		if (!ldns_rr_list_push_rr(f->authority, soa)) {
			ldns_rr_free(soa);
			frame_fail(q, f, "out of memory");
			return true;
		}
		log_trace("%s %s: %s from cache", iter_name_str(f->qname, nb, sizeof(nb)),
			  iter_type_str(f->qtype, tb, sizeof(tb)), nx ? "NXDOMAIN" : "NODATA");
		f->rcode = nx ? LDNS_RCODE_NXDOMAIN : LDNS_RCODE_NOERROR;
		f->ok = true;
		f->state = ITER_ST_FINISHED;
		return true;
	}
	if (f->qtype != LDNS_RR_TYPE_DNAME && ldns_dname_label_count(f->qname) > 0)
		return cache_dname(q, f, now_ms);
	return false;
}

static enum step process_init(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	if (q->refresh && f == q->client) {
		q->refresh = false; /* CNAME restarts use the cache again */
		f->state = ITER_ST_FIND_DELEG;
		return STEP_NEXT;
	}
	if (!answer_from_cache(q, f, now_ms))
		f->state = ITER_ST_FIND_DELEG;
	return STEP_NEXT;
}

/* ---- ITER_ST_FIND_DELEG ---- */

/* RFC 8109: ask a hint server for the current root NS set.  Done at most
 * once per query; on failure the hints are used directly. */
static void push_prime(struct iter_q *q, struct frame *f)
{
	ldns_rdf *root = ldns_dname_new_frm_str(".");
	struct frame *p = root ? frame_new(FRAME_PRIME, root, LDNS_RR_TYPE_NS) : NULL;

	ldns_rdf_deep_free(root);
	q->prime_done = true;
	if (p)
		p->dp = iter_deleg_from_hints(q->env->hints);
	if (!p || !p->dp) {
		if (p)
			frame_free(p);
		frame_fail(q, f, "out of memory priming the root");
		return;
	}
	log_query("priming the root: no usable root NS in cache");
	p->state = ITER_ST_QUERY_TARGETS;
	push_frame(q, p);
}

static enum step process_find_deleg(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	char nb[ITER_NAME_STRLEN], zb[ITER_NAME_STRLEN];
	struct iter_deleg *dp = NULL;
	int r = iter_deleg_find(q->env, f->qname, f->qtype, q->qclass, now_ms, &dp);

	if (r < 0) {
		frame_fail(q, f, "out of memory finding a delegation");
		return STEP_NEXT;
	}
	if (r == 0) {
		if (!q->env->hints) {
			frame_fail(q, f, "no root hints");
			return STEP_NEXT;
		}
		if (!q->prime_done) {
			push_prime(q, f);
			return STEP_NEXT;
		}
		dp = iter_deleg_from_hints(q->env->hints);
		if (!dp) {
			frame_fail(q, f, "out of memory using the root hints");
			return STEP_NEXT;
		}
	}
	log_trace("%s: starting at zone %s (%zu NS names, %zu addresses)",
		  iter_name_str(f->qname, nb, sizeof(nb)), iter_name_str(dp->zone, zb, sizeof(zb)),
		  dp->nns, dp->naddrs);
	iter_deleg_free(f->dp);
	f->dp = dp;
	f->state = ITER_ST_QUERY_TARGETS;
	return STEP_NEXT;
}

/* ---- ITER_ST_QUERY_TARGETS ---- */

/* The one place that decides which name and type go on the wire.  QNAME
 * minimisation (RFC 9156) will change this function only; for now the
 * full question is sent. */
static int next_question(struct frame *f)
{
	ldns_rdf *n = ldns_rdf_clone(f->qname);

	if (!n)
		return -1;
	ldns_rdf_deep_free(f->sent_qname);
	f->sent_qname = n;
	f->sent_qtype = f->qtype;
	return 0;
}

static enum step send_query(struct iter_q *q, struct frame *f, size_t idx, uint64_t now_ms,
			    struct iter_out *out)
{
	const struct iter_addr *a = &f->dp->addrs[idx];
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
	struct infra *inf = q->env->infra;
	char nb[ITER_NAME_STRLEN], zb[ITER_NAME_STRLEN], ab[ITER_ADDR_STRLEN], tb[16];

	if (next_question(f) < 0) {
		frame_fail(q, f, "out of memory");
		return STEP_NEXT;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->addr, &a->ss, a->len);
	out->addrlen = a->len;
	out->qname = f->sent_qname;
	out->qtype = f->sent_qtype;
	out->qclass = q->qclass;
	out->zone = f->dp->zone;
	out->timeout_ms = infra_rto(inf, sa, now_ms);
	out->tcp = infra_has_flag(inf, sa, INFRA_TCP_ONLY, now_ms) ||
		   infra_has_flag(inf, sa, INFRA_CAPS_BROKEN, now_ms);
	f->cur = idx;
	f->state = ITER_ST_WAIT;
	q->sent++;
	log_query("%s %s: asking %s (zone %s)%s", iter_name_str(out->qname, nb, sizeof(nb)),
		  iter_type_str(out->qtype, tb, sizeof(tb)), iter_addr_str(sa, ab, sizeof(ab)),
		  iter_name_str(out->zone, zb, sizeof(zb)), out->tcp ? " over TCP" : "");
	return STEP_SEND;
}

/* Is name being resolved by some frame on the stack already?  Starting
 * it again would chase our own tail. */
static bool name_in_stack(const struct iter_q *q, const ldns_rdf *name)
{
	for (const struct frame *f = q->top; f; f = f->parent)
		if (iter_name_eq(f->qname, name) || iter_name_eq(f->start_name, name))
			return true;
	return false;
}

/* Has this client query seen enough NS names without an address?  A
 * referral full of names that do not exist (NXNSAttack) makes every lookup
 * a query to the victim zone, and nested referrals multiply the per-
 * delegation limit; this one cap holds for the whole client query. */
static bool target_nx_reached(const struct iter_q *q)
{
	return q->env->lim.max_target_nx && q->target_nx >= q->env->lim.max_target_nx;
}

/* Start a sub-resolution for the next glue-less NS name, within the
 * per-delegation and nesting limits.  Returns 1 when one was pushed, 0
 * when none may be, -1 on allocation failure. */
static int start_glueless(struct iter_q *q, struct frame *f)
{
	const struct iter_env *env = q->env;
	struct iter_deleg *dp = f->dp;
	char nb[ITER_NAME_STRLEN], zb[ITER_NAME_STRLEN];

	for (size_t i = 0; i < dp->nns; i++) {
		struct frame *sub;

		if (!iter_deleg_ns_needs_lookup(dp, i, env))
			continue;
		if (q->nsaddr_depth >= env->lim.max_subquery_depth) {
			log_detail("zone %s: not resolving NS %s: nesting limit %u",
				   iter_name_str(dp->zone, zb, sizeof(zb)),
				   iter_name_str(dp->ns[i].name, nb, sizeof(nb)),
				   env->lim.max_subquery_depth);
			return 0;
		}
		if (target_nx_reached(q)) {
			log_detail("zone %s: not resolving NS %s: %u NS-name lookups found no address (max-target-nx)",
				   iter_name_str(dp->zone, zb, sizeof(zb)),
				   iter_name_str(dp->ns[i].name, nb, sizeof(nb)), q->target_nx);
			return 0;
		}
		if (dp->glueless_started >= env->lim.max_glueless_per_referral) {
			log_detail("zone %s: glue-less NS limit %u reached",
				   iter_name_str(dp->zone, zb, sizeof(zb)),
				   env->lim.max_glueless_per_referral);
			return 0;
		}
		dp->ns[i].lookup_done = true;
		if (name_in_stack(q, dp->ns[i].name)) {
			log_detail("zone %s: not resolving NS %s: already being resolved",
				   iter_name_str(dp->zone, zb, sizeof(zb)),
				   iter_name_str(dp->ns[i].name, nb, sizeof(nb)));
			continue;
		}
		sub = frame_new(FRAME_NSADDR, dp->ns[i].name,
				env->do_ip4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
		if (!sub)
			return -1;
		sub->parent_ns = i;
		dp->glueless_started++;
		log_query("zone %s: resolving glue-less NS %s",
			  iter_name_str(dp->zone, zb, sizeof(zb)),
			  iter_name_str(dp->ns[i].name, nb, sizeof(nb)));
		push_frame(q, sub);
		return 1;
	}
	return 0;
}

/* Nothing to ask: say why in terms an operator can act on. */
static void fail_exhausted(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	char zb[ITER_NAME_STRLEN];
	bool any = false;

	for (size_t i = 0; i < f->dp->naddrs && !any; i++) {
		sa_family_t fam = f->dp->addrs[i].ss.ss_family;

		any = (fam == AF_INET && q->env->do_ip4) || (fam == AF_INET6 && q->env->do_ip6);
	}
	if (any && iter_deleg_all_blocked(f->dp, q->env, now_ms))
		frame_fail(q, f, "all servers for %s are down (no reply for %u ms or more; probing)",
			   iter_name_str(f->dp->zone, zb, sizeof(zb)), INFRA_BLOCK_SILENCE_MS);
	else if (any)
		frame_fail(q, f, "all servers for %s failed",
			   iter_name_str(f->dp->zone, zb, sizeof(zb)));
	else if (target_nx_reached(q))
		frame_fail(q, f, "no usable server address for %s: %u NS-name lookups found no address (max-target-nx %u)",
			   iter_name_str(f->dp->zone, zb, sizeof(zb)), q->target_nx,
			   q->env->lim.max_target_nx);
	else
		frame_fail(q, f, "no usable server address for %s",
			   iter_name_str(f->dp->zone, zb, sizeof(zb)));
}

static enum step process_query_targets(struct iter_q *q, struct frame *f, uint64_t now_ms,
				       struct iter_out *out)
{
	int idx = iter_deleg_select(f->dp, q->env, now_ms);

	if (idx >= 0) {
		if (q->sent >= q->env->lim.max_upstream_queries) {
			fail_query(q, "upstream query limit %u reached",
				   q->env->lim.max_upstream_queries);
			return STEP_NEXT;
		}
		return send_query(q, f, (size_t)idx, now_ms, out);
	}
	switch (start_glueless(q, f)) {
	case 1:
		return STEP_NEXT;
	case -1:
		frame_fail(q, f, "out of memory");
		return STEP_NEXT;
	default:
		break;
	}
	/* Retrying servers that are all known dead (a probe of them just
	 * timed out, or another query's did) would only hold the client. */
	if (f->dp->retry_rounds < ITER_TIMEOUT_RETRY_ROUNDS &&
	    !iter_deleg_all_blocked(f->dp, q->env, now_ms) &&
	    iter_deleg_retry_timed_out(f->dp) > 0) {
		char zb[ITER_NAME_STRLEN];

		f->dp->retry_rounds++;
		log_query("zone %s: every server tried, again for those that timed out",
			  iter_name_str(f->dp->zone, zb, sizeof(zb)));
		return STEP_NEXT;
	}
	fail_exhausted(q, f, now_ms);
	return STEP_NEXT;
}

/* ---- ITER_ST_WAIT ---- */

/* iter_step() while a query is out means the caller lost the reply:
 * treat it as a timeout so the query still ends. */
static enum step process_wait(struct iter_q *q, struct frame *f)
{
	log_err("iterator stepped with a query outstanding; treating it as a timeout");
	iter_deleg_mark_tried(f->dp, f->cur, true);
	f->state = ITER_ST_QUERY_TARGETS;
	return STEP_NEXT;
}

/* ---- ITER_ST_RESPONSE ---- */

static bool same_rrset(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	       ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	       iter_name_eq(ldns_rr_owner(a), ldns_rr_owner(b));
}

static bool sig_covers(const ldns_rr *sig, const ldns_rr *rr)
{
	const ldns_rdf *tc;

	if (ldns_rr_get_type(sig) != LDNS_RR_TYPE_RRSIG ||
	    ldns_rr_get_class(sig) != ldns_rr_get_class(rr) ||
	    !iter_name_eq(ldns_rr_owner(sig), ldns_rr_owner(rr)))
		return false;
	tc = ldns_rr_rrsig_typecovered(sig);
	return tc && ldns_rdf2rr_type(tc) == ldns_rr_get_type(rr);
}

/* A CNAME that a DNAME in the same section implies (RFC 6672 3.1): it is
 * not cached on its own, or a later answer from cache would carry the
 * CNAME without the DNAME that justifies it. */
static bool synthesized_cname(const ldns_rr_list *l, const ldns_rr *rr)
{
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME)
		return false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *d = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(d) == LDNS_RR_TYPE_DNAME &&
		    !iter_name_eq(ldns_rr_owner(d), ldns_rr_owner(rr)) &&
		    iter_name_at_or_below(ldns_rr_owner(rr), ldns_rr_owner(d)))
			return true;
	}
	return false;
}

/* Group a section into RRsets (with their RRSIGs) and store each at
 * trust.  The lists built here only borrow the packet's RRs.  With known
 * (the delegation the reply came through), an unsigned RRset the cache
 * already held as it is, at this trust or better, is not stored again:
 * every answer from a zone repeats its NS RRset and glue, and storing them
 * would cost more than the rest of the reply's caching and only extend
 * their TTL (which a zone's own answers should not do: "ghost domain
 * names", CVE-2012-1033). */
static void store_section(struct iter_q *q, const ldns_rr_list *l, enum cache_trust trust,
			  const struct iter_deleg *known, uint64_t now_ms)
{
	size_t n = ldns_rr_list_rr_count(l);
	bool *used = calloc(n + 1, sizeof(bool));

	if (!used) {
		log_err("out of memory caching a reply");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *first = ldns_rr_list_rr(l, i);
		ldns_rr_list *set, *sigs;

		if (used[i] || ldns_rr_get_type(first) == LDNS_RR_TYPE_RRSIG ||
		    synthesized_cname(l, first))
			continue;
		set = ldns_rr_list_new();
		sigs = ldns_rr_list_new();
		if (!set || !sigs) {
			ldns_rr_list_free(set);
			ldns_rr_list_free(sigs);
			log_err("out of memory caching a reply");
			break;
		}
		for (size_t j = i; j < n; j++) {
			ldns_rr *rr = ldns_rr_list_rr(l, j);

			if (!used[j] && same_rrset(first, rr) && ldns_rr_list_push_rr(set, rr))
				used[j] = true;
		}
		/* Signatures may come before or after the RRset they cover. */
		for (size_t j = 0; j < n; j++) {
			ldns_rr *rr = ldns_rr_list_rr(l, j);

			if (sig_covers(rr, first))
				ldns_rr_list_push_rr(sigs, rr);
		}
		if (ldns_rr_list_rr_count(sigs) == 0) {
			ldns_rr_list_free(sigs);
			sigs = NULL;
		}
		if (!sigs && iter_deleg_has_cached(known, set, trust)) {
			ldns_rr_list_free(set);
			continue;
		}
		if (cache_store_rrset(q->env->cache, set, sigs, trust, now_ms) < 0) {
			char nb[ITER_NAME_STRLEN], tb[16];

			log_detail("cache: could not store %s %s",
				   iter_name_str(ldns_rr_owner(first), nb, sizeof(nb)),
				   iter_type_str(ldns_rr_get_type(first), tb, sizeof(tb)));
		}
		ldns_rr_list_free(set);
		ldns_rr_list_free(sigs);
	}
	free(used);
}

/* Everything a useful reply holds goes to the cache, at the trust its
 * section deserves (RFC 2181 5.4.1).  Negative answers are cached only
 * from authoritative replies: that is where the SOA proof comes from. */
static void cache_reply(struct iter_q *q, struct frame *f, const ldns_pkt *resp,
			const struct iter_class *c, uint64_t now_ms)
{
	bool aa = ldns_pkt_aa(resp);
	enum cache_trust auth_trust = (c->type == ITER_RESP_REFERRAL || !aa)
					      ? CACHE_TRUST_REFERRAL : CACHE_TRUST_AUTHORITY_AUTH;

	store_section(q, ldns_pkt_answer(resp),
		      aa ? CACHE_TRUST_ANSWER_AUTH : CACHE_TRUST_ANSWER_NONAUTH, NULL, now_ms);
	store_section(q, ldns_pkt_authority(resp), auth_trust, f->dp, now_ms);
	store_section(q, ldns_pkt_additional(resp), CACHE_TRUST_GLUE, f->dp, now_ms);
	if ((c->type == ITER_RESP_NXDOMAIN || c->type == ITER_RESP_NODATA) && c->soa && aa &&
	    cache_store_negative(q->env->cache, c->target, f->sent_qtype, q->qclass,
				 c->type == ITER_RESP_NXDOMAIN, c->soa, now_ms) < 0) {
		char nb[ITER_NAME_STRLEN];

		log_detail("cache: could not store negative answer for %s",
			   iter_name_str(c->target, nb, sizeof(nb)));
	}
}

/* Append the reply's chain to f->answer, preferring the cache's copy
 * (clamped TTLs, canonical owners).  A CNAME right after a DNAME was
 * synthesized (iter_classify.c) and takes the DNAME's TTL. */
static int append_chain(struct iter_q *q, struct frame *f, const ldns_rr_list *chain,
			uint64_t now_ms)
{
	uint32_t dname_ttl = 0;
	bool after_dname = false;

	for (size_t i = 0; i < ldns_rr_list_rr_count(chain); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(chain, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		uint32_t ttl = ldns_rr_ttl(rr);
		int r = append_cached(q, f->answer, ldns_rr_owner(rr), t, now_ms, &ttl);

		if (r < 0)
			return -1;
		if (r == 0) {
			size_t last = ldns_rr_list_rr_count(f->answer);

			if (append_copy(f->answer, rr) < 0)
				return -1;
			if (t == LDNS_RR_TYPE_CNAME && after_dname)
				ldns_rr_set_ttl(ldns_rr_list_rr(f->answer, last), dname_ttl);
		}
		after_dname = t == LDNS_RR_TYPE_DNAME;
		if (after_dname)
			dname_ttl = ttl;
	}
	return 0;
}

/* The final RRset: from the cache if it holds it, else the reply's. */
static int append_final(struct iter_q *q, struct frame *f, const ldns_pkt *resp,
			const ldns_rdf *target, uint64_t now_ms)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	int r = append_cached(q, f->answer, target, f->sent_qtype, now_ms, NULL);

	if (r != 0)
		return r < 0 ? -1 : 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (!iter_name_eq(ldns_rr_owner(rr), target))
			continue;
		if (f->sent_qtype == LDNS_RR_TYPE_ANY ? t != LDNS_RR_TYPE_RRSIG
						       : t == f->sent_qtype)
			if (append_copy(f->answer, rr) < 0)
				return -1;
	}
	return 0;
}

/* The SOA for a negative answer: the cache's (negative TTL) if stored,
 * else the reply's. */
static int add_negative_soa(struct iter_q *q, struct frame *f, const struct iter_class *c,
			    uint64_t now_ms)
{
	bool nx = false, want = c->type == ITER_RESP_NXDOMAIN;
	ldns_rr *soa = NULL;

	if (!c->soa)
		return 0;
	if (cache_lookup_negative(q->env->cache, c->target, f->sent_qtype, q->qclass, false,
				  now_ms, &nx, &soa) == 1 && nx == want) {
		if (!ldns_rr_list_push_rr(f->authority, soa)) {
			ldns_rr_free(soa);
			return -1;
		}
		return 0;
	}
	ldns_rr_free(soa);
	return append_copy(f->authority, c->soa);
}

static void handle_answer(struct iter_q *q, struct frame *f, const ldns_pkt *resp,
			  const struct iter_class *c, uint64_t now_ms)
{
	if (append_chain(q, f, c->chain, now_ms) < 0) {
		frame_fail(q, f, "out of memory");
		return;
	}
	if (!count_hops(q, f, c->hops))
		return;
	switch (c->type) {
	case ITER_RESP_ANSWER:
		if (append_final(q, f, resp, c->target, now_ms) < 0) {
			frame_fail(q, f, "out of memory");
			return;
		}
		f->rcode = LDNS_RCODE_NOERROR;
		break;
	case ITER_RESP_NXDOMAIN:
	case ITER_RESP_NODATA:
		if (add_negative_soa(q, f, c, now_ms) < 0) {
			frame_fail(q, f, "out of memory");
			return;
		}
		f->rcode = c->type == ITER_RESP_NXDOMAIN ? LDNS_RCODE_NXDOMAIN : LDNS_RCODE_NOERROR;
		break;
	default: /* CNAME, DNAME: the target is not answered here */
		restart_at(q, f, c->target);
		return;
	}
	f->ok = true;
	f->state = ITER_ST_FINISHED;
}

/* A step down the tree: the delegation comes from the (scrubbed) reply —
 * its NS set and in-bailiwick glue — plus any addresses already cached
 * for those names. */
static void handle_referral(struct iter_q *q, struct frame *f, const ldns_pkt *resp,
			    const struct iter_class *c, uint64_t now_ms)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	char zb[ITER_NAME_STRLEN];
	struct iter_deleg *dp;
	bool ok;

	if (++f->referrals > q->env->lim.max_referrals) {
		frame_fail(q, f, "referral limit %u reached at %s", q->env->lim.max_referrals,
			   iter_name_str(c->referral_zone, zb, sizeof(zb)));
		return;
	}
	dp = iter_deleg_new(c->referral_zone);
	ok = dp != NULL;
	for (size_t i = 0; ok && i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && iter_rr_target(rr) &&
		    iter_name_eq(ldns_rr_owner(rr), c->referral_zone))
			ok = iter_deleg_add_ns(dp, iter_rr_target(rr)) >= 0;
	}
	ok = ok && iter_deleg_add_addr_list(dp, ldns_pkt_additional(resp)) >= 0 &&
	     iter_deleg_add_cached_addrs(dp, q->env->cache, q->qclass, now_ms) >= 0;
	if (!ok) {
		iter_deleg_free(dp);
		frame_fail(q, f, "out of memory");
		return;
	}
	log_trace("referral to %s: %zu NS names, %zu addresses",
		  iter_name_str(dp->zone, zb, sizeof(zb)), dp->nns, dp->naddrs);
	iter_deleg_free(f->dp);
	f->dp = dp;
	f->state = ITER_ST_QUERY_TARGETS;
}

/* The server cannot help with this zone: remember that in infra (so the
 * next question skips it too) and try the next one. */
static void handle_bad_server(struct iter_q *q, struct frame *f, const struct iter_class *c,
			      uint64_t now_ms)
{
	const struct sockaddr *sa = (const struct sockaddr *)&f->dp->addrs[f->cur].ss;

	if (c->type == ITER_RESP_LAME || c->refused)
		infra_note_lame(q->env->infra, sa, f->dp->zone, now_ms);
	iter_deleg_mark_tried(f->dp, f->cur, false);
	f->state = ITER_ST_QUERY_TARGETS;
}

static enum step process_response(struct iter_q *q, struct frame *f, uint64_t now_ms)
{
	char nb[ITER_NAME_STRLEN], zb[ITER_NAME_STRLEN], ab[ITER_ADDR_STRLEN], tb[16];
	ldns_pkt *resp = f->resp;
	struct iter_class c;

	f->resp = NULL;
	if (iter_scrub(resp, f->sent_qname, f->sent_qtype, q->qclass, f->dp->zone) < 0 ||
	    iter_classify(resp, f->sent_qname, f->sent_qtype, f->dp->zone, &c) < 0) {
		ldns_pkt_free(resp);
		frame_fail(q, f, "out of memory handling a reply");
		return STEP_NEXT;
	}
	log_query("%s %s from %s (zone %s): %s, %s", iter_name_str(f->sent_qname, nb, sizeof(nb)),
		  iter_type_str(f->sent_qtype, tb, sizeof(tb)),
		  iter_addr_str((const struct sockaddr *)&f->dp->addrs[f->cur].ss, ab, sizeof(ab)),
		  iter_name_str(f->dp->zone, zb, sizeof(zb)), iter_resp_str(c.type), c.why);
	switch (c.type) {
	case ITER_RESP_SERVER_ERROR:
	case ITER_RESP_LAME:
		handle_bad_server(q, f, &c, now_ms);
		break;
	case ITER_RESP_REFERRAL:
		cache_reply(q, f, resp, &c, now_ms);
		handle_referral(q, f, resp, &c, now_ms);
		break;
	default:
		cache_reply(q, f, resp, &c, now_ms);
		handle_answer(q, f, resp, &c, now_ms);
		break;
	}
	iter_class_clear(&c);
	ldns_pkt_free(resp);
	return STEP_NEXT;
}

/* ---- ITER_ST_FINISHED ---- */

/* A glue-less NS name's addresses go to the delegation that needed them.
 * With nothing for A, try AAAA when IPv6 may be used. */
static enum step finish_nsaddr(struct iter_q *q, struct frame *f)
{
	struct frame *p = f->parent;
	char nb[ITER_NAME_STRLEN];
	size_t found;

	for (size_t i = 0; f->ok && i < ldns_rr_list_rr_count(f->answer); i++)
		if (iter_deleg_add_addr_for(p->dp, f->parent_ns, ldns_rr_list_rr(f->answer, i)) < 0)
			break;
	found = iter_deleg_ns_usable_addrs(p->dp, f->parent_ns, q->env);
	if (found == 0)
		q->target_nx++;
	if (found == 0 && f->qtype == LDNS_RR_TYPE_A && q->env->do_ip6 && !target_nx_reached(q)) {
		ldns_rdf *n = ldns_rdf_clone(f->start_name);

		if (n) {
			ldns_rdf_deep_free(f->qname);
			f->qname = n;
			f->qtype = LDNS_RR_TYPE_AAAA;
			iter_deleg_free(f->dp);
			f->dp = NULL;
			clear_list(f->answer);
			clear_list(f->authority);
			f->referrals = f->cname_hops = 0;
			f->ok = false;
			f->rcode = LDNS_RCODE_SERVFAIL;
			f->state = ITER_ST_INIT;
			return STEP_NEXT;
		}
	}
	log_query("NS %s: %zu address%s found", iter_name_str(f->start_name, nb, sizeof(nb)),
		  found, found == 1 ? "" : "es");
	pop_frame(q);
	return STEP_NEXT;
}

static const char *rcode_str(ldns_pkt_rcode rc)
{
	const ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rc);

	return t && t->name ? t->name : "RCODE?";
}

static enum step process_finished(struct iter_q *q, struct frame *f)
{
	char nb[ITER_NAME_STRLEN], tb[16];

	switch (f->kind) {
	case FRAME_CLIENT:
		q->done = true;
		log_query("%s %s: done, %s, %zu answer RRs, %u upstream queries%s%s",
			  iter_name_str(f->start_name, nb, sizeof(nb)),
			  iter_type_str(f->qtype, tb, sizeof(tb)), rcode_str(f->rcode),
			  ldns_rr_list_rr_count(f->answer), q->sent, q->reason[0] ? ": " : "",
			  q->reason);
		return STEP_DONE;
	case FRAME_PRIME:
		if (!f->ok)
			log_info("priming the root failed; using the root hints directly");
		/* The root NS are cached now (or will come from the hints):
		 * the frame below starts over from the cache. */
		f->parent->state = ITER_ST_INIT;
		pop_frame(q);
		return STEP_NEXT;
	case FRAME_NSADDR:
		return finish_nsaddr(q, f);
	}
	return STEP_NEXT;
}

/* ---- public interface ---- */

struct iter_q *iter_new(struct iter_env *env, const ldns_rdf *qname, ldns_rr_type qtype,
			ldns_rr_class qclass, uint64_t now_ms)
{
	char nb[ITER_NAME_STRLEN], tb[16];
	struct iter_q *q;
	struct frame *f;

	if (!env || !qname || ldns_rdf_get_type(qname) != LDNS_RDF_TYPE_DNAME)
		return NULL;
	q = calloc(1, sizeof(*q));
	f = frame_new(FRAME_CLIENT, qname, qtype);
	if (!q || !f) {
		free(q);
		if (f)
			frame_free(f);
		return NULL;
	}
	q->env = env;
	q->qclass = qclass;
	q->client = f;
	push_frame(q, f);
	log_trace("%s %s: new query", iter_name_str(f->qname, nb, sizeof(nb)),
		  iter_type_str(qtype, tb, sizeof(tb)));
	return q;
}

void iter_free(struct iter_q *q)
{
	if (!q)
		return;
	while (q->top)
		pop_frame(q);
	free(q);
}

enum iter_act iter_step(struct iter_q *q, uint64_t now_ms, struct iter_out *out)
{
	for (uint32_t steps = 0; q && !q->done; steps++) {
		struct frame *f = q->top;
		enum step s = STEP_NEXT;

		if (steps >= ITER_MAX_STEPS) {
			fail_query(q, "internal: resolution made no progress");
			q->done = true;
			break;
		}
		switch (f->state) {
		case ITER_ST_INIT:
			s = process_init(q, f, now_ms);
			break;
		case ITER_ST_FIND_DELEG:
			s = process_find_deleg(q, f, now_ms);
			break;
		case ITER_ST_QUERY_TARGETS:
			s = process_query_targets(q, f, now_ms, out);
			break;
		case ITER_ST_WAIT:
			s = process_wait(q, f);
			break;
		case ITER_ST_RESPONSE:
			s = process_response(q, f, now_ms);
			break;
		case ITER_ST_FINISHED:
			s = process_finished(q, f);
			break;
		}
		if (s == STEP_SEND)
			return ITER_SEND;
		if (s == STEP_DONE)
			break;
	}
	return ITER_DONE;
}

void iter_response(struct iter_q *q, uint64_t now_ms, ldns_pkt *resp, uint32_t rtt_ms)
{
	struct frame *f = q ? q->top : NULL;

	/* rtt_ms is not used: upstream.c already told infra. */
	if (!f || f->state != ITER_ST_WAIT) {
		log_err("iterator: reply delivered with no query outstanding; dropped");
		ldns_pkt_free(resp);
		return;
	}
	if (!resp) {
		iter_timeout(q, now_ms);
		return;
	}
	f->resp = resp;
	f->state = ITER_ST_RESPONSE;
}

void iter_timeout(struct iter_q *q, uint64_t now_ms)
{
	struct frame *f = q ? q->top : NULL;
	char nb[ITER_NAME_STRLEN], ab[ITER_ADDR_STRLEN];

	/* upstream.c already told infra about the timeout. */
	if (!f || f->state != ITER_ST_WAIT) {
		log_err("iterator: timeout with no query outstanding; ignored");
		return;
	}
	log_query("%s: timeout from %s", iter_name_str(f->sent_qname, nb, sizeof(nb)),
		  iter_addr_str((const struct sockaddr *)&f->dp->addrs[f->cur].ss, ab, sizeof(ab)));
	iter_deleg_mark_tried(f->dp, f->cur, true);
	f->state = ITER_ST_QUERY_TARGETS;
}

ldns_pkt_rcode iter_rcode(const struct iter_q *q)
{
	return q && q->done ? q->client->rcode : LDNS_RCODE_SERVFAIL;
}

const ldns_rr_list *iter_answer(const struct iter_q *q)
{
	return q ? q->client->answer : NULL;
}

const ldns_rr_list *iter_authority(const struct iter_q *q)
{
	return q ? q->client->authority : NULL;
}

bool iter_from_cache(const struct iter_q *q)
{
	return q && q->done && q->sent == 0 && q->client->ok;
}

uint32_t iter_upstream_count(const struct iter_q *q)
{
	return q ? q->sent : 0;
}

const char *iter_failure_reason(const struct iter_q *q)
{
	return q ? q->reason : "";
}

bool iter_prefetch_due(const struct iter_q *q)
{
	return q->prefetch_due;
}

void iter_set_refresh(struct iter_q *q)
{
	q->refresh = true;
}
