/* request.c — see request.h.  One struct request per distinct question in
 * flight; clients asking the same question while it runs wait on it.
 *
 * A question is first offered to the cache's wire-form answers
 * (cache_answer_hit): a hit is answered there and then, without a
 * malloc, an ldns object, or the iterator.  Only a miss takes the path
 * below, and every NOERROR/NXDOMAIN answer that path produces is stored
 * back in wire form for the next client. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"
#include "rnd.h"
#include "stale.h"

#define REQ_KEY_EXTRA 5 /* type, class, CD after the name */
#define REQ_KEY_MAX (MSG_MAX_NAME + REQ_KEY_EXTRA)

/* One client waiting for an answer. */
struct waiter {
	struct waiter *next;
	struct server_client *client;
	struct msg_query q;
	uint64_t start_ms;
};

struct request {
	struct request *hnext;            /* hash chain */
	struct request_ctx *rc;
	uint8_t key[REQ_KEY_MAX];
	size_t keylen;
	uint32_t hash;
	struct iter_q *iq;
	struct upstream_query *uq;        /* the query now outstanding, if any */
	struct waiter *waiters;
	uv_timer_t deadline;              /* client-response timer, then the deadline */
	bool past_client_timer;           /* serve-stale timer has fired */
	ldns_rdf *qname;                  /* lower-cased, for serve-stale lookups */
	uint16_t qclass;
	char name[LDNS_MAX_DOMAINLEN + 1]; /* for logs: "" until one needs it */
	uint16_t qtype;
};

struct request_ctx {
	uv_loop_t *loop;
	struct iter_env *env;
	struct upstream *up;
	const struct config *cfg;
	struct request **table;
	size_t nbuckets;                  /* power of two */
	uint32_t seed;
	struct request_stats st;
	uint8_t wire[MSG_MAX_TCP];        /* answer encoding buffer */
};

const uint32_t request_latency_bounds_ms[12] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, UINT32_MAX,
};

static void drive(struct request *r);

/* The question's name for log lines, formatted the first time one needs
 * it: ldns_rdf2str costs as much as a good part of a resolution, and at
 * the default verbosity no line is written.  From the key, so lower-case. */
static const char *req_name(struct request *r)
{
	ldns_rdf *rdf;
	char *s;

	if (r->name[0])
		return r->name;
	rdf = ldns_dname_new_frm_data((uint16_t)(r->keylen - REQ_KEY_EXTRA), r->key);
	s = rdf ? ldns_rdf2str(rdf) : NULL;
	snprintf(r->name, sizeof(r->name), "%s", s ? s : "?");
	free(s);
	ldns_rdf_deep_free(rdf);
	return r->name;
}

/* The coalescing key: lower-cased wire name, type, class and CD (a CD=1
 * client may later get data a validating resolver would hold back). */
static size_t make_key(const struct msg_query *q, uint8_t *key)
{
	for (size_t i = 0; i < q->qname_len; i++) {
		uint8_t ch = q->qname[i];
		key[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
	}
	size_t n = q->qname_len;
	key[n++] = (uint8_t)(q->qtype >> 8);
	key[n++] = (uint8_t)q->qtype;
	key[n++] = (uint8_t)(q->qclass >> 8);
	key[n++] = (uint8_t)q->qclass;
	key[n++] = q->cd ? 1 : 0;
	return n;
}

/* FNV-1a with a per-process random seed, so an attacker cannot aim many
 * questions at one chain. */
static uint32_t key_hash(const struct request_ctx *rc, const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u ^ rc->seed;
	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

static struct request *table_find(struct request_ctx *rc, const uint8_t *key,
				  size_t len, uint32_t hash)
{
	struct request *r = rc->table[hash & (rc->nbuckets - 1)];
	for (; r; r = r->hnext)
		if (r->hash == hash && r->keylen == len && memcmp(r->key, key, len) == 0)
			return r;
	return NULL;
}

static void table_insert(struct request_ctx *rc, struct request *r)
{
	struct request **b = &rc->table[r->hash & (rc->nbuckets - 1)];
	r->hnext = *b;
	*b = r;
	rc->st.in_flight++;
}

static void table_remove(struct request_ctx *rc, struct request *r)
{
	struct request **p = &rc->table[r->hash & (rc->nbuckets - 1)];
	for (; *p; p = &(*p)->hnext) {
		if (*p == r) {
			*p = r->hnext;
			rc->st.in_flight--;
			return;
		}
	}
}

static void count_answer(struct request_ctx *rc, uint16_t rcode, uint64_t start_ms)
{
	uint64_t ms = uv_now(rc->loop) - start_ms;
	size_t i = 0;

	rc->st.by_rcode[rcode < 24 ? rcode : 23]++;
	while (i < 11 && ms > request_latency_bounds_ms[i])
		i++;
	rc->st.latency_hist[i]++;
}

/* Encode and send one answer to one client, then release the client. */
static void answer_client(struct request_ctx *rc, struct server_client *c,
			  const struct msg_query *q, uint16_t rcode,
			  const ldns_rr_list *an, const ldns_rr_list *ns,
			  uint64_t start_ms)
{
	size_t max = server_client_max_len(c, q);
	size_t len = msg_build_response(q, rcode, an, ns, NULL, max, rc->wire,
					sizeof(rc->wire));

	if (len == 0) {
		rcode = LDNS_RCODE_SERVFAIL;
		len = msg_build_error(q, rcode, rc->wire, sizeof(rc->wire));
	}
	count_answer(rc, rcode, start_ms);
	if (len == 0) {
		log_err("request: could not encode an answer");
		server_drop(c);
		return;
	}
	server_reply(c, rc->wire, len);
}

/* Keep the iterator's answer in wire form for cache_answer_hit().  key
 * starts with the lowercased qname (make_key).  Only a real resolution's
 * NOERROR or NXDOMAIN is kept: never SERVFAIL, never stale data (which
 * does not come through the iterator), never an empty message. */
static void store_answer(struct request_ctx *rc, const uint8_t *key, size_t keylen,
			 uint16_t qtype, uint16_t qclass, const struct iter_q *iq)
{
	uint16_t rcode = (uint16_t)iter_rcode(iq);
	const ldns_rr_list *an = iter_answer(iq), *ns = iter_authority(iq);

	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN)
		return;
	if (ldns_rr_list_rr_count(an) == 0 && ldns_rr_list_rr_count(ns) == 0)
		return;
	if (cache_store_answer(rc->env->cache, key, keylen - REQ_KEY_EXTRA, qtype, qclass,
			       rcode, an, ns, uv_now(rc->loop)) < 0)
		log_query("request: type %u: answer not kept in wire form", qtype);
}

static void deadline_closed(uv_handle_t *h)
{
	struct request *r = h->data;

	iter_free(r->iq);
	ldns_rdf_deep_free(r->qname);
	free(r);
}

/* Answer every waiter on r with one result and release them. */
static void answer_waiters(struct request *r, uint16_t rcode,
			   const ldns_rr_list *an, const ldns_rr_list *ns)
{
	while (r->waiters) {
		struct waiter *w = r->waiters;
		r->waiters = w->next;
		answer_client(r->rc, w->client, &w->q, rcode, an, ns, w->start_ms);
		free(w);
	}
}

/* Serve-stale (RFC 8767): answer the waiters from expired data if the
 * cache still has it.  Returns true when they were answered. */
static bool answer_stale(struct request *r)
{
	struct request_ctx *rc = r->rc;
	struct stale_answer sa;

	if (!rc->cfg->serve_expired || !r->waiters || !r->qname)
		return false;
	if (!stale_lookup(rc->env->cache, r->qname, r->qtype, r->qclass,
			  rc->cfg->max_cname_chain, uv_now(rc->loop), &sa))
		return false;
	log_query("request: %s type %u: answered from expired cache data", req_name(r),
		  r->qtype);
	rc->st.stale_answers++;
	answer_waiters(r, sa.rcode, sa.answer, sa.authority);
	stale_answer_clear(&sa);
	return true;
}

/* Answer every waiter with the iterator's result (or SERVFAIL when
 * use_iter is false; a SERVFAIL becomes stale data where allowed) and
 * free the request. */
static void finish(struct request *r, bool use_iter)
{
	struct request_ctx *rc = r->rc;
	uint16_t rcode = LDNS_RCODE_SERVFAIL;
	const ldns_rr_list *an = NULL, *ns = NULL;

	if (use_iter) {
		rcode = (uint16_t)iter_rcode(r->iq);
		an = iter_answer(r->iq);
		ns = iter_authority(r->iq);
		store_answer(rc, r->key, r->keylen, r->qtype, r->qclass, r->iq);
	}
	if (r->uq) {
		upstream_cancel(r->uq);
		r->uq = NULL;
	}
	table_remove(rc, r);
	if (rcode != LDNS_RCODE_SERVFAIL || !answer_stale(r))
		answer_waiters(r, rcode, an, ns);
	uv_timer_stop(&r->deadline);
	uv_close((uv_handle_t *)&r->deadline, deadline_closed);
}

static void on_deadline(uv_timer_t *t)
{
	struct request *r = t->data;
	const struct config *cfg = r->rc->cfg;

	if (!r->past_client_timer) {
		/* The client-response timer: answer stale now if we can, and
		 * keep resolving so the cache gets refreshed. */
		r->past_client_timer = true;
		answer_stale(r);
		uv_timer_start(&r->deadline, on_deadline,
			       cfg->query_timeout_ms - cfg->serve_expired_client_timeout_ms, 0);
		return;
	}

	log_query("request: %s type %u: deadline of %u ms passed, SERVFAIL",
		  req_name(r), r->qtype, r->rc->cfg->query_timeout_ms);
	r->rc->st.servfail_deadline++;
	finish(r, false);
}

static void on_upstream(void *ud, enum upstream_status status, ldns_pkt *resp,
			uint32_t rtt_ms)
{
	struct request *r = ud;
	uint64_t now = uv_now(r->rc->loop);

	r->uq = NULL;
	if (status == UPSTREAM_OK)
		iter_response(r->iq, now, resp, rtt_ms);
	else
		iter_timeout(r->iq, now);
	drive(r);
}

/* Act on what the iterator said: send its query, or answer and finish.
 * A query that cannot even be sent counts as a failed server. */
static void act(struct request *r, enum iter_act a, struct iter_out *out)
{
	struct request_ctx *rc = r->rc;

	for (;;) {
		if (a == ITER_DONE) {
			if (iter_rcode(r->iq) == LDNS_RCODE_SERVFAIL)
				log_query("request: %s type %u: SERVFAIL: %s", req_name(r),
					  r->qtype, iter_failure_reason(r->iq));
			finish(r, true);
			return;
		}
		r->uq = upstream_send(rc->up, (struct sockaddr *)&out->addr, out->qname,
				      out->qtype, out->qclass, out->timeout_ms, out->tcp,
				      on_upstream, r);
		if (r->uq)
			return;
		iter_timeout(r->iq, uv_now(rc->loop));
		a = iter_step(r->iq, uv_now(rc->loop), out);
	}
}

/* Run the iterator until it needs the network or is done. */
static void drive(struct request *r)
{
	struct iter_out out;

	act(r, iter_step(r->iq, uv_now(r->rc->loop), &out), &out);
}

static struct waiter *waiter_new(struct server_client *c, const struct msg_query *q,
				 uint64_t now)
{
	struct waiter *w = malloc(sizeof(*w));

	if (!w)
		return NULL;
	w->next = NULL;
	w->client = c;
	w->q = *q;
	w->start_ms = now;
	return w;
}

static void servfail_now(struct request_ctx *rc, struct server_client *c,
			 const struct msg_query *q, uint64_t now)
{
	answer_client(rc, c, q, LDNS_RCODE_SERVFAIL, NULL, NULL, now);
}

/* Start a resolution that could not be answered from cache at once. */
static void start_resolution(struct request_ctx *rc, struct iter_q *iq,
			     struct iter_out *first, struct server_client *c,
			     const struct msg_query *q, const uint8_t *key,
			     size_t keylen, uint32_t hash)
{
	uint64_t now = uv_now(rc->loop);
	struct request *r = calloc(1, sizeof(*r));
	struct waiter *w = c ? waiter_new(c, q, now) : NULL;

	if (!r || (c && !w)) {
		free(r);
		free(w);
		iter_free(iq);
		if (c)
			servfail_now(rc, c, q, now);
		return;
	}
	r->rc = rc;
	memcpy(r->key, key, keylen);
	r->keylen = keylen;
	r->hash = hash;
	r->iq = iq;
	r->waiters = w;
	r->qtype = q->qtype;
	uv_timer_init(rc->loop, &r->deadline);
	r->deadline.data = r;
	if (rc->cfg->serve_expired) /* only answer_stale() needs it */
		r->qname = msg_qname_rdf(q, true);
	r->qclass = q->qclass;
	r->past_client_timer = !rc->cfg->serve_expired ||
		rc->cfg->serve_expired_client_timeout_ms >= rc->cfg->query_timeout_ms;
	uv_timer_start(&r->deadline, on_deadline,
		       r->past_client_timer ? rc->cfg->query_timeout_ms
					    : rc->cfg->serve_expired_client_timeout_ms, 0);
	table_insert(rc, r);
	rc->st.resolutions++;
	log_query("request: %s type %u: resolving", req_name(r), r->qtype);
	act(r, ITER_SEND, first);
}

/* Refresh a popular answer in the background before it expires: the
 * same resolution a miss would do, with the cache skipped for the question
 * itself and nobody waiting.  Clients asking meanwhile join it. */
static void prefetch(struct request_ctx *rc, const struct msg_query *q,
		     const uint8_t *key, size_t keylen, uint32_t hash)
{
	uint64_t now = uv_now(rc->loop);
	ldns_rdf *qname;
	struct iter_q *iq;
	struct iter_out out;

	if (rc->st.in_flight >= rc->cfg->max_queries_in_flight / 2)
		return; /* under load, answering beats refreshing */
	qname = msg_qname_rdf(q, true);
	iq = qname ? iter_new(rc->env, qname, q->qtype, q->qclass, now) : NULL;
	ldns_rdf_deep_free(qname);
	if (!iq)
		return;
	iter_set_refresh(iq);
	if (iter_step(iq, now, &out) == ITER_DONE) {
		iter_free(iq);
		return;
	}
	rc->st.prefetches++;
	start_resolution(rc, iq, &out, NULL, q, key, keylen, hash);
}

/* A wire-form answer is due for refresh: start the background
 * resolution unless one for this question already runs. */
static void prefetch_hit(struct request_ctx *rc, const struct msg_query *q)
{
	uint8_t key[REQ_KEY_MAX];
	size_t keylen = make_key(q, key);
	uint32_t hash = key_hash(rc, key, keylen);

	if (!table_find(rc, key, keylen, hash))
		prefetch(rc, q, key, keylen, hash);
}

/* The fast path: the whole response comes from the cache's wire-form
 * answers into rc->wire.  Returns false on a miss (or an answer too big
 * for this client's limit, which the slow path truncates properly). */
static bool answer_hit(struct request_ctx *rc, struct server_client *c,
		       const struct msg_query *q, uint64_t now)
{
	bool due = false;
	size_t len = cache_answer_hit(rc->env->cache, q, now, rc->wire, sizeof(rc->wire),
				      server_client_max_len(c, q), &due);

	if (!len)
		return false;
	rc->st.cache_answers++;
	count_answer(rc, rc->wire[3] & 0xf, now);
	server_reply(c, rc->wire, len);
	if (due && rc->cfg->prefetch)
		prefetch_hit(rc, q);
	return true;
}

void request_handle(void *ud, struct server_client *c, const struct msg_query *q)
{
	struct request_ctx *rc = ud;
	uint64_t now = uv_now(rc->loop);
	uint8_t key[REQ_KEY_MAX];
	size_t keylen;
	uint32_t hash;
	struct request *r;

	rc->st.queries++;
	rc->st.by_qtype[q->qtype < 255 ? q->qtype : 255]++;
	if (answer_hit(rc, c, q, now))
		return;

	keylen = make_key(q, key);
	hash = key_hash(rc, key, keylen);
	r = table_find(rc, key, keylen, hash);
	if (r) {
		struct waiter *w = waiter_new(c, q, now);
		if (!w) {
			servfail_now(rc, c, q, now);
			return;
		}
		w->next = r->waiters;
		r->waiters = w;
		rc->st.coalesced++;
		return;
	}

	ldns_rdf *qname = msg_qname_rdf(q, true);
	struct iter_q *iq = qname ? iter_new(rc->env, qname, q->qtype, q->qclass, now) : NULL;
	ldns_rdf_deep_free(qname);
	if (!iq) {
		servfail_now(rc, c, q, now);
		return;
	}

	struct iter_out out;
	if (iter_step(iq, now, &out) == ITER_DONE) {
		bool refresh = rc->cfg->prefetch && iter_prefetch_due(iq);
		rc->st.cache_answers += iter_from_cache(iq);
		answer_client(rc, c, q, (uint16_t)iter_rcode(iq), iter_answer(iq),
			      iter_authority(iq), now);
		/* Assembled from cached RRsets (say, after the answer entry was
		 * dropped by a store for its key): keep it for the next client. */
		store_answer(rc, key, keylen, q->qtype, q->qclass, iq);
		iter_free(iq);
		if (refresh)
			prefetch(rc, q, key, keylen, hash);
		return;
	}
	if (rc->st.in_flight >= rc->cfg->max_queries_in_flight) {
		rc->st.servfail_overload++;
		iter_free(iq);
		servfail_now(rc, c, q, now);
		return;
	}
	start_resolution(rc, iq, &out, c, q, key, keylen, hash);
}

struct request_ctx *request_ctx_new(uv_loop_t *loop, struct iter_env *env,
				    struct upstream *up, const struct config *cfg)
{
	struct request_ctx *rc = calloc(1, sizeof(*rc));
	size_t n = 64;

	if (!rc)
		return NULL;
	while (n < cfg->max_queries_in_flight)
		n <<= 1;
	rc->table = calloc(n, sizeof(*rc->table));
	if (!rc->table) {
		free(rc);
		return NULL;
	}
	rc->nbuckets = n;
	rc->loop = loop;
	rc->env = env;
	rc->up = up;
	rc->cfg = cfg;
	rc->seed = rnd_u32();
	return rc;
}

void request_ctx_free(struct request_ctx *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->nbuckets; i++)
		while (rc->table[i])
			finish(rc->table[i], false);
	free(rc->table);
	free(rc);
}

void request_get_stats(const struct request_ctx *rc, struct request_stats *st)
{
	*st = rc->st;
}
