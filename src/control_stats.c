/* control_stats.c — "status" and "stats".
 *
 * Counters live in their modules and are only read here.  "stats --reset"
 * must not reach into them (no module offers a reset, and zeroing would
 * race with other readers later), so the control keeps a snapshot taken at
 * the last reset and reports the difference; gauges (in flight, entries,
 * bytes, open connections) are reported as they are.  Every metric is
 * built once into a list of samples and then written in one of three
 * forms: "name=value" text, JSON, or Prometheus text exposition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "control_int.h"
#include "log.h"

/* ---- status ------------------------------------------------------------ */

static const char *mode_name(const struct control *c)
{
	if (c->env.mode)
		return c->env.mode;
	return c->env.cfg->mode == CFG_MODE_RAW ? "raw" : "kernel";
}

int control_cmd_status(struct ctl_req *r)
{
	struct control *c = r->ctl;
	const struct config *cfg = c->env.cfg;
	struct ctl_emit e;
	char addr[64];

	if (r->argc != 1)
		return control_fail(r, "usage: status");
	control_emit_begin(&e, r->out, r->json);
	control_emit_str(&e, "version", ROOTWALK_VERSION);
	control_emit_u64(&e, "pid", (uint64_t)getpid());
	control_emit_u64(&e, "uptime", (control_now_ms(c) - c->env.start_ms) / 1000);
	control_emit_str(&e, "config", cfg->file ? cfg->file : "(none)");
	control_emit_str(&e, "mode", mode_name(c));
	control_emit_u64(&e, "workers", cfg->workers);
	control_emit_u64(&e, "verbosity", (uint64_t)log_get_verbosity());
	control_emit_arr(&e, "listeners");
	for (size_t i = 0; i < cfg->n_listen; i++) {
		control_addr_str((const struct sockaddr *)&cfg->listen[i].addr, addr, sizeof(addr));
		control_emit_str(&e, "listener", addr);
	}
	control_emit_end(&e);
	control_emit_str(&e, "control-socket", c->path);
	control_emit_u64(&e, "control-clients", c->n_conns);
	control_emit_u64(&e, "control-queued-bytes", control_queued_bytes(c));
	control_emit_finish(&e);
	return 0;
}

/* ---- snapshot ---------------------------------------------------------- */

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void control_snapshot_take(struct control *c, struct ctl_snapshot *s)
{
	const struct control_env *env = &c->env;

	memset(s, 0, sizeof(*s));
	s->at_ms = control_now_ms(c);
	if ((s->has_req = env->req != NULL))
		request_get_stats(env->req, &s->req);
	if ((s->has_cache = env->cache != NULL)) {
		cache_get_stats(env->cache, &s->cache);
		/* our own lookups ("cache lookup") are not the resolver's */
		s->cache.hits = sub_sat(s->cache.hits, c->own_hits);
		s->cache.misses = sub_sat(s->cache.misses, c->own_misses);
	}
	if ((s->has_up = env->up != NULL))
		upstream_get_stats(env->up, &s->up);
	if ((s->has_srv = env->server != NULL))
		server_get_stats(env->server, &s->srv);
	if ((s->has_infra = env->infra != NULL))
		s->infra_entries = infra_count(env->infra);
}

/* ---- the metric list --------------------------------------------------- */

enum ctl_kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

/* One sample.  Samples of a family are consecutive and share name, help,
 * kind and label key.  Histogram samples are cumulative buckets. */
struct ctl_sample {
	const char *name;    /* family, no "rootwalk_" prefix nor "_total" */
	const char *help;
	enum ctl_kind kind;
	const char *label;   /* label key, NULL for a single sample */
	char lval[24];
	uint64_t v;
};

struct ctl_metrics {
	struct ctl_sample *s;
	size_t n, cap;
	bool oom;
};

static struct ctl_sample *add(struct ctl_metrics *m, const char *name, const char *help,
			      enum ctl_kind kind, uint64_t v)
{
	struct ctl_sample *s;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 128;
		struct ctl_sample *p = realloc(m->s, cap * sizeof(*p));

		if (!p) {
			m->oom = true;
			return NULL;
		}
		m->s = p;
		m->cap = cap;
	}
	s = &m->s[m->n++];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->help = help;
	s->kind = kind;
	s->v = v;
	return s;
}

static void add_labelled(struct ctl_metrics *m, const char *name, const char *help,
			 enum ctl_kind kind, const char *label, const char *lval, uint64_t v)
{
	struct ctl_sample *s = add(m, name, help, kind, v);

	if (!s)
		return;
	s->label = label;
	snprintf(s->lval, sizeof(s->lval), "%s", lval);
}

#define CTR(m, name, help, v) add(m, name, help, K_COUNTER, v)
#define GAUGE(m, name, help, v) add(m, name, help, K_GAUGE, v)

static const char *rcode_label(unsigned i, char *buf, size_t len)
{
	const ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)i);

	if (i == 16)
		return "BADVERS";
	if (i == 23) /* request.c counts 23 and above in the last slot */
		return "OTHER";
	if (t && t->name)
		return t->name;
	snprintf(buf, len, "RCODE%u", i);
	return buf;
}

static void add_request(struct ctl_metrics *m, const struct request_stats *cur,
			const struct request_stats *base)
{
	static const char *qt_help = "Client queries by query type "
		"(ANY includes every type above 255)";
	static const char *rc_help = "Answers sent to clients by rcode";
	static const char *lat_help = "Time from client query to answer";
	uint64_t cum = 0;
	char buf[24];

	CTR(m, "queries", "Valid client queries received", sub_sat(cur->queries, base->queries));
	for (unsigned t = 0; t < 256; t++) {
		uint64_t v = sub_sat(cur->by_qtype[t], base->by_qtype[t]);
		char *name;

		if (!v)
			continue;
		name = t == 255 ? NULL : control_type_str((ldns_rr_type)t);
		add_labelled(m, "queries_by_type", qt_help, K_COUNTER, "type",
			     t == 255 ? "ANY" : name ? name : "?", v);
		free(name);
	}
	for (unsigned i = 0; i < 24; i++) {
		uint64_t v = sub_sat(cur->by_rcode[i], base->by_rcode[i]);

		if (v || i <= 5)
			add_labelled(m, "answers_by_rcode", rc_help, K_COUNTER, "rcode",
				     rcode_label(i, buf, sizeof(buf)), v);
	}
	CTR(m, "cache_answers", "Queries answered from cache without upstream work",
	    sub_sat(cur->cache_answers, base->cache_answers));
	CTR(m, "coalesced", "Queries that joined a resolution already running",
	    sub_sat(cur->coalesced, base->coalesced));
	CTR(m, "resolutions", "Resolutions that went upstream",
	    sub_sat(cur->resolutions, base->resolutions));
	CTR(m, "servfail_deadline", "SERVFAIL because query-timeout passed",
	    sub_sat(cur->servfail_deadline, base->servfail_deadline));
	CTR(m, "servfail_overload", "SERVFAIL because max-queries-in-flight was reached",
	    sub_sat(cur->servfail_overload, base->servfail_overload));
	CTR(m, "stale_answers", "Answers from expired data (serve-expired)",
	    sub_sat(cur->stale_answers, base->stale_answers));
	CTR(m, "prefetches", "Background refreshes started (prefetch)",
	    sub_sat(cur->prefetches, base->prefetches));
	GAUGE(m, "queries_in_flight", "Resolutions running now", cur->in_flight);
	for (unsigned i = 0; i < 12; i++) {
		cum += sub_sat(cur->latency_hist[i], base->latency_hist[i]);
		if (i == 11)
			snprintf(buf, sizeof(buf), "+Inf");
		else
			snprintf(buf, sizeof(buf), "%g", request_latency_bounds_ms[i] / 1000.0);
		add_labelled(m, "answer_latency_seconds", lat_help, K_HISTOGRAM, "le", buf, cum);
	}
}

static void add_cache(struct ctl_metrics *m, const struct cache_stats *cur,
		      const struct cache_stats *base)
{
	CTR(m, "cache_hits", "Cache lookups that found an entry", sub_sat(cur->hits, base->hits));
	CTR(m, "cache_misses", "Cache lookups that found nothing",
	    sub_sat(cur->misses, base->misses));
	CTR(m, "cache_inserts", "Entries stored", sub_sat(cur->inserts, base->inserts));
	CTR(m, "cache_rejected_by_trust", "Stores refused because a more trusted entry lives",
	    sub_sat(cur->rejected_by_trust, base->rejected_by_trust));
	CTR(m, "cache_evictions", "Entries evicted to stay under cache-size",
	    sub_sat(cur->evictions, base->evictions));
	GAUGE(m, "cache_entries", "Entries held", cur->entries);
	GAUGE(m, "cache_bytes", "Bytes held by the cache", cur->bytes);
	GAUGE(m, "cache_max_bytes", "cache-size", cur->max_bytes);
}

static void add_upstream(struct ctl_metrics *m, const struct upstream_stats *cur,
			 const struct upstream_stats *base)
{
	static const char *help = "Queries sent to authoritative servers";

	add_labelled(m, "upstream_queries", help, K_COUNTER, "transport", "udp",
		     sub_sat(cur->sent_udp, base->sent_udp));
	add_labelled(m, "upstream_queries", help, K_COUNTER, "transport", "tcp",
		     sub_sat(cur->sent_tcp, base->sent_tcp));
	CTR(m, "upstream_tcp_fallbacks", "UDP queries re-asked over TCP",
	    sub_sat(cur->tcp_fallbacks, base->tcp_fallbacks));
	CTR(m, "upstream_timeouts", "Upstream queries that timed out",
	    sub_sat(cur->timeouts, base->timeouts));
	CTR(m, "upstream_replies", "Upstream replies accepted",
	    sub_sat(cur->replies, base->replies));
	CTR(m, "upstream_mismatched", "Replies ignored: wrong source, ID or question",
	    sub_sat(cur->mismatched, base->mismatched));
	CTR(m, "upstream_near_misses", "Replies with the right ID but wrong 0x20 case",
	    sub_sat(cur->near_misses, base->near_misses));
	GAUGE(m, "upstream_in_flight", "Upstream queries outstanding", cur->in_flight);
}

static void add_server(struct ctl_metrics *m, const struct server_stats *cur,
		       const struct server_stats *base)
{
	static const char *help = "Client queries received, by transport";

#define SRV(field, help_text) \
	CTR(m, "server_" #field, help_text, sub_sat(cur->field, base->field))
	add_labelled(m, "server_queries", help, K_COUNTER, "transport", "udp",
		     sub_sat(cur->udp_queries, base->udp_queries));
	add_labelled(m, "server_queries", help, K_COUNTER, "transport", "tcp",
		     sub_sat(cur->tcp_queries, base->tcp_queries));
	SRV(dropped, "Client messages dropped without an answer");
	SRV(formerr, "FORMERR answers to malformed queries");
	SRV(notimp, "NOTIMP answers to unsupported opcodes");
	SRV(refused, "REFUSED answers to unsupported classes");
	SRV(badvers, "BADVERS answers to unknown EDNS versions");
	SRV(acl_denied, "Queries dropped by access-control deny");
	SRV(acl_refused, "Queries refused by access-control");
	SRV(tcp_accepted, "TCP connections accepted");
	SRV(tcp_rejected_limit, "TCP connections refused at max-tcp-clients");
	SRV(tcp_idle_closed, "TCP connections closed for idleness");
	SRV(replies, "Replies sent to clients");
	SRV(truncated, "UDP replies sent truncated");
#undef SRV
	GAUGE(m, "server_tcp_open", "TCP client connections open", cur->tcp_open);
}

static void build_metrics(struct control *c, const struct ctl_snapshot *cur,
			  struct ctl_metrics *m)
{
	const struct ctl_snapshot *base = &c->base;

	GAUGE(m, "uptime_seconds", "Seconds since the daemon started",
	      (cur->at_ms - c->env.start_ms) / 1000);
	GAUGE(m, "stats_period_seconds", "Seconds the counters cover (since the last reset)",
	      sub_sat(cur->at_ms, base->at_ms) / 1000);
	if (cur->has_req)
		add_request(m, &cur->req, &base->req);
	if (cur->has_cache)
		add_cache(m, &cur->cache, &base->cache);
	if (cur->has_up)
		add_upstream(m, &cur->up, &base->up);
	if (cur->has_srv)
		add_server(m, &cur->srv, &base->srv);
	if (cur->has_infra)
		GAUGE(m, "infra_entries", "Upstream servers known to the infra cache",
		      cur->infra_entries);
	GAUGE(m, "control_clients", "Control socket clients connected", c->n_conns);
}

/* ---- three renderings --------------------------------------------------- */

static bool family_start(const struct ctl_metrics *m, size_t i)
{
	return i == 0 || strcmp(m->s[i - 1].name, m->s[i].name) != 0;
}

static bool family_end(const struct ctl_metrics *m, size_t i)
{
	return i + 1 == m->n || strcmp(m->s[i + 1].name, m->s[i].name) != 0;
}

/* "cache_hits=5", "queries_by_type.A=12", "answer_latency_seconds.le_0.005=3". */
static void render_text(const struct ctl_metrics *m, struct ctl_buf *b)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct ctl_sample *s = &m->s[i];

		if (!s->label)
			control_buf_printf(b, "%s=%llu\n", s->name, (unsigned long long)s->v);
		else
			control_buf_printf(b, "%s.%s%s=%llu\n", s->name,
					   s->kind == K_HISTOGRAM ? "le_" : "", s->lval,
					   (unsigned long long)s->v);
	}
}

/* One object: plain families are numbers, labelled ones objects keyed by
 * the label value. */
static void render_json(const struct ctl_metrics *m, struct ctl_buf *b)
{
	control_buf_puts(b, "{");
	for (size_t i = 0; i < m->n; i++) {
		const struct ctl_sample *s = &m->s[i];

		if (family_start(m, i)) {
			if (i)
				control_buf_puts(b, ",");
			control_buf_put_json(b, s->name);
			control_buf_puts(b, s->label ? ":{" : ":");
		} else {
			control_buf_puts(b, ",");
		}
		if (s->label) {
			control_buf_put_json(b, s->lval);
			control_buf_puts(b, ":");
		}
		control_buf_printf(b, "%llu", (unsigned long long)s->v);
		if (s->label && family_end(m, i))
			control_buf_puts(b, "}");
	}
	control_buf_puts(b, "}\n");
}

static void prom_family_header(const struct ctl_sample *s, struct ctl_buf *b)
{
	static const char *const type[] = { "counter", "gauge", "histogram" };
	const char *suffix = s->kind == K_COUNTER ? "_total" : "";

	control_buf_printf(b, "# HELP rootwalk_%s%s %s\n", s->name, suffix, s->help);
	control_buf_printf(b, "# TYPE rootwalk_%s%s %s\n", s->name, suffix, type[s->kind]);
}

/* Prometheus text exposition (version 0.0.4).  The histogram has buckets
 * and _count; request_stats keeps no latency sum, so there is no _sum. */
static void render_prometheus(const struct ctl_metrics *m, struct ctl_buf *b)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct ctl_sample *s = &m->s[i];
		const char *suffix = s->kind == K_COUNTER ? "_total" :
				     s->kind == K_HISTOGRAM ? "_bucket" : "";

		if (family_start(m, i))
			prom_family_header(s, b);
		control_buf_printf(b, "rootwalk_%s%s", s->name, suffix);
		if (s->label) {
			control_buf_printf(b, "{%s=", s->label);
			control_buf_put_json(b, s->lval); /* same escaping rules */
			control_buf_puts(b, "}");
		}
		control_buf_printf(b, " %llu\n", (unsigned long long)s->v);
		if (s->kind == K_HISTOGRAM && family_end(m, i))
			control_buf_printf(b, "rootwalk_%s_count %llu\n", s->name,
					   (unsigned long long)s->v);
	}
}

int control_cmd_stats(struct ctl_req *r)
{
	struct control *c = r->ctl;
	bool reset = false, prom = false;
	struct ctl_metrics m = { 0 };
	struct ctl_snapshot cur;

	for (int i = 1; i < r->argc; i++) {
		if (strcmp(r->argv[i], "--reset") == 0)
			reset = true;
		else if (strcmp(r->argv[i], "--prometheus") == 0)
			prom = true;
		else
			return control_fail(r, "usage: stats [--reset] [--prometheus]");
	}
	if (prom && r->json)
		return control_fail(r, "--prometheus and JSON output exclude each other");
	control_snapshot_take(c, &cur);
	build_metrics(c, &cur, &m);
	if (m.oom) {
		free(m.s);
		return control_fail(r, "out of memory");
	}
	if (prom)
		render_prometheus(&m, r->out);
	else if (r->json)
		render_json(&m, r->out);
	else
		render_text(&m, r->out);
	free(m.s);
	if (reset)
		c->base = cur;
	return 0;
}
