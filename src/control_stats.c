/* control_stats.c — "status", "stats" and "stack".
 *
 * Counters live in their modules and are only read here.  "stats --reset"
 * must not reach into them (no module offers a reset, and zeroing would
 * race with other readers later), so the control keeps a snapshot taken at
 * the last reset and reports the difference; gauges (in flight, entries,
 * bytes, open connections) are reported as they are.  Every metric is
 * built once into a list of samples and then written in one of three
 * forms: "name=value" text, JSON, or Prometheus text exposition.
 *
 * Raw mode adds the stack's side: its interface in "status", its counters
 * (frames, packets per protocol, drops by reason) in "stats", and "stack",
 * a netstat-like listing of the ARP cache and every TCP connection with
 * its state, read from the stack at the moment of asking. */
#include <arpa/inet.h>
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

/* The raw transport's stack, if this process runs one that is still up. */
static bool raw_info(const struct control *c, struct net_raw_info *ri)
{
	return c->env.net && net_raw_get_info(c->env.net, ri) && ri->st;
}

static void ip4_text(uint32_t addr, char *buf, size_t len)
{
	struct in_addr ia = { htonl(addr) };

	if (!inet_ntop(AF_INET, &ia, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void mac_text(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

/* Interface, MAC and addresses: shared by "status" and "stack". */
static void emit_raw_link(struct ctl_emit *e, const struct net_raw_info *ri)
{
	char buf[64], ip[INET_ADDRSTRLEN];
	uint8_t mac[6];

	control_emit_str(e, "raw-interface", ri->ifname);
	stack_get_mac(ri->st, mac);
	mac_text(mac, buf, sizeof(buf));
	control_emit_str(e, "raw-mac", buf);
	ip4_text(ri->addr, ip, sizeof(ip));
	snprintf(buf, sizeof(buf), "%s/%u", ip, ri->prefix_len);
	control_emit_str(e, "raw-address", buf);
	if (ri->gateway) {
		ip4_text(ri->gateway, ip, sizeof(ip));
		control_emit_str(e, "raw-gateway", ip);
	} else {
		control_emit_null(e, "raw-gateway", "none");
	}
	control_emit_u64(e, "raw-mtu", ri->mtu);
	control_emit_bool(e, "raw-faults", ri->faults);
}

/* Client queries each worker received (UDP and TCP, since start): shows
 * how SO_REUSEPORT spreads the clients. */
static void emit_worker_queries(struct ctl_emit *e, struct control *c)
{
	struct worker_stats ws;

	if (!c->env.n_workers)
		return;
	control_emit_arr(e, "worker-queries");
	for (size_t i = 0; i < c->env.n_workers; i++) {
		if (worker_get_stats(c->env.workers[i], &ws) != 0)
			control_emit_null(e, "worker", "stopped");
		else
			control_emit_u64(e, "worker", ws.srv.udp_queries + ws.srv.tcp_queries);
	}
	control_emit_end(e);
}

int control_cmd_status(struct ctl_req *r)
{
	struct control *c = r->ctl;
	const struct config *cfg = c->env.cfg;
	struct net_raw_info ri;
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
	if (raw_info(c, &ri))
		emit_raw_link(&e, &ri);
	control_emit_u64(&e, "workers", c->env.n_workers ? c->env.n_workers : 1);
	emit_worker_queries(&e, c);
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

static void count_arp(const struct stack_arp_info *info, void *ud)
{
	(*(uint64_t *)ud)++;
}

static void count_tcp(const struct stack_tcp_info *info, void *ud)
{
	(*(uint64_t *)ud)++;
}

static void add_u64s(uint64_t *sum, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum[i] += v[i];
}

/* Every counter struct summed is all uint64_t (gauges such as in_flight
 * and tcp_open add up too), so adding them field by field is adding
 * them as arrays. */
#define ADD_STATS(sum, v) \
	add_u64s((uint64_t *)&(sum), (const uint64_t *)&(v), sizeof(v) / sizeof(uint64_t))

_Static_assert(sizeof(struct request_stats) % sizeof(uint64_t) == 0, "request_stats: u64s");
_Static_assert(sizeof(struct upstream_stats) % sizeof(uint64_t) == 0, "upstream_stats: u64s");
_Static_assert(sizeof(struct server_stats) % sizeof(uint64_t) == 0, "server_stats: u64s");

/* The workers' counters, each read on its worker's thread, summed.  A
 * worker whose loop has already stopped (shutdown) adds nothing. */
static void snapshot_workers(struct control *c, struct ctl_snapshot *s)
{
	struct worker_stats ws;

	s->has_req = s->has_up = s->has_srv = true;
	for (size_t i = 0; i < c->env.n_workers; i++) {
		if (worker_get_stats(c->env.workers[i], &ws) != 0)
			continue;
		ADD_STATS(s->req, ws.req);
		ADD_STATS(s->up, ws.up);
		ADD_STATS(s->srv, ws.srv);
	}
}

void control_snapshot_take(struct control *c, struct ctl_snapshot *s)
{
	const struct control_env *env = &c->env;
	struct net_raw_info ri;

	memset(s, 0, sizeof(*s));
	s->at_ms = control_now_ms(c);
	if (env->n_workers)
		snapshot_workers(c, s);
	else if ((s->has_req = env->req != NULL))
		request_get_stats(env->req, &s->req);
	if ((s->has_cache = env->cache != NULL)) {
		cache_get_stats(env->cache, &s->cache);
		/* our own lookups ("cache lookup") are not the resolver's */
		s->cache.hits = sub_sat(s->cache.hits, c->own_hits);
		s->cache.misses = sub_sat(s->cache.misses, c->own_misses);
	}
	if (!env->n_workers && (s->has_up = env->up != NULL))
		upstream_get_stats(env->up, &s->up);
	if (!env->n_workers && (s->has_srv = env->server != NULL))
		server_get_stats(env->server, &s->srv);
	if ((s->has_infra = env->infra != NULL))
		s->infra_entries = infra_count(env->infra);
	if ((s->has_stack = raw_info(c, &ri))) {
		stack_get_stats(ri.st, &s->stack);
		stack_arp_walk(ri.st, count_arp, &s->stack_arp_entries);
		stack_tcp_walk(ri.st, count_tcp, &s->stack_tcp_conns);
	}
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
	GAUGE(m, "cache_answers", "Whole answers held in wire form (the hit path)", cur->answers);
	GAUGE(m, "cache_answer_bytes", "Bytes of those answers", cur->answer_bytes);
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
	SRV(rrl_dropped, "UDP replies dropped by response rate limiting");
	SRV(rrl_slipped, "UDP replies sent empty with TC by response rate limiting");
#undef SRV
	GAUGE(m, "server_tcp_open", "TCP client connections open", cur->tcp_open);
}

/* Raw mode: the stack's counters, labelled by direction or protocol, and
 * every drop reason (zeros included, so that a rate is always defined). */
static void add_stack(struct ctl_metrics *m, const struct stack_stats *cur,
		      const struct stack_stats *base, const struct ctl_snapshot *now)
{
	static const char *fr = "Ethernet frames through the TAP device";
	static const char *by = "Bytes of Ethernet frames through the TAP device";
	static const char *pin = "Packets received by the stack, by protocol";
	static const char *pout = "Packets sent by the stack, by protocol";
	static const char *dr = "Frames or packets the stack dropped, by reason";
	const struct {
		const char *proto;
		uint64_t in, bin, out, bout;
	} p[] = {
		{ "arp", cur->arp_in, base->arp_in, cur->arp_out, base->arp_out },
		{ "ip", cur->ip_in, base->ip_in, cur->ip_out, base->ip_out },
		{ "icmp", cur->icmp_in, base->icmp_in, cur->icmp_out, base->icmp_out },
		{ "udp", cur->udp_in, base->udp_in, cur->udp_out, base->udp_out },
		{ "tcp", cur->tcp_in, base->tcp_in, cur->tcp_out, base->tcp_out },
	};
	size_t np = sizeof(p) / sizeof(p[0]);

#define STK(field, help_text) \
	CTR(m, "stack_" #field, help_text, sub_sat(cur->field, base->field))
	add_labelled(m, "stack_frames", fr, K_COUNTER, "direction", "in",
		     sub_sat(cur->frames_in, base->frames_in));
	add_labelled(m, "stack_frames", fr, K_COUNTER, "direction", "out",
		     sub_sat(cur->frames_out, base->frames_out));
	add_labelled(m, "stack_bytes", by, K_COUNTER, "direction", "in",
		     sub_sat(cur->bytes_in, base->bytes_in));
	add_labelled(m, "stack_bytes", by, K_COUNTER, "direction", "out",
		     sub_sat(cur->bytes_out, base->bytes_out));
	for (size_t i = 0; i < np; i++)
		add_labelled(m, "stack_packets_in", pin, K_COUNTER, "protocol", p[i].proto,
			     sub_sat(p[i].in, p[i].bin));
	for (size_t i = 0; i < np; i++)
		add_labelled(m, "stack_packets_out", pout, K_COUNTER, "protocol", p[i].proto,
			     sub_sat(p[i].out, p[i].bout));
	STK(tcp_active_opens, "TCP connections the stack opened (upstream TCP)");
	STK(tcp_passive_opens, "TCP connections the stack accepted (clients)");
	STK(tcp_retransmits, "TCP segments retransmitted");
	STK(tcp_resets_out, "TCP resets sent");
	STK(tcp_resets_in, "TCP resets received");
	STK(tcp_timeouts, "TCP connections aborted after too many retransmissions");
	STK(tcp_tw_recycled, "TIME_WAIT connections given up to a full TCP table");
#undef STK
	for (int i = 0; i < STACK_DROP_MAX; i++)
		add_labelled(m, "stack_drops", dr, K_COUNTER, "reason",
			     stack_drop_name((enum stack_drop)i),
			     sub_sat(cur->drops[i], base->drops[i]));
	GAUGE(m, "stack_arp_entries", "Entries in the stack's ARP cache", now->stack_arp_entries);
	GAUGE(m, "stack_tcp_connections", "TCP connections and listeners in the stack",
	      now->stack_tcp_conns);
}

static void build_metrics(struct control *c, const struct ctl_snapshot *cur,
			  struct ctl_metrics *m)
{
	static const struct stack_stats zero_stack;
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
	if (cur->has_stack)
		add_stack(m, &cur->stack, base->has_stack ? &base->stack : &zero_stack, cur);
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

/* ---- stack -------------------------------------------------------------- */

struct stack_list {
	struct ctl_emit *e;
	uint64_t now;
};

/* Text: "198.18.0.1 at 4a:1f:fe:51:37:f9 resolved expires-in 58s queued 0". */
static void emit_arp(const struct stack_arp_info *a, void *ud)
{
	struct stack_list *l = ud;
	char ip[INET_ADDRSTRLEN], mac[24], line[160];
	uint64_t left = a->expires_ms > l->now ? a->expires_ms - l->now : 0;

	ip4_text(a->addr, ip, sizeof(ip));
	mac_text(a->mac, mac, sizeof(mac));
	if (!l->e->json) {
		snprintf(line, sizeof(line), "%s at %s %s %s %llums queued %u", ip,
			 a->resolved ? mac : "(incomplete)",
			 a->resolved ? "resolved" : "resolving",
			 a->resolved ? "expires-in" : "retry-in", (unsigned long long)left,
			 a->queued);
		control_emit_str(l->e, "arp", line);
		return;
	}
	control_emit_obj(l->e, "arp");
	control_emit_str(l->e, "address", ip);
	if (a->resolved)
		control_emit_str(l->e, "mac", mac);
	else
		control_emit_null(l->e, "mac", "(incomplete)");
	control_emit_bool(l->e, "resolved", a->resolved);
	control_emit_u64(l->e, "expires-in-ms", left);
	control_emit_u64(l->e, "queued", a->queued);
	control_emit_end(l->e);
}

/* Text, netstat's columns: "198.18.0.2:53 198.18.0.1:41234 ESTABLISHED
 * sendq 0 rto 1000 retries 0". */
static void emit_tcp(const struct stack_tcp_info *t, void *ud)
{
	struct stack_list *l = ud;
	char la[INET_ADDRSTRLEN], ra[INET_ADDRSTRLEN], loc[32], rem[32], line[200];

	ip4_text(t->local_addr, la, sizeof(la));
	ip4_text(t->remote_addr, ra, sizeof(ra));
	snprintf(loc, sizeof(loc), "%s:%u", la, t->local_port);
	snprintf(rem, sizeof(rem), "%s:%u", ra, t->remote_port);
	if (!l->e->json) {
		snprintf(line, sizeof(line), "%s %s %s sendq %u rto %u retries %u%s", loc, rem,
			 stack_tcp_state_name(t->state), t->send_queued, t->rto_ms, t->retries,
			 t->user_attached ? "" : " (closing)");
		control_emit_str(l->e, "tcp", line);
		return;
	}
	control_emit_obj(l->e, "tcp");
	control_emit_str(l->e, "local", loc);
	control_emit_str(l->e, "remote", rem);
	control_emit_str(l->e, "state", stack_tcp_state_name(t->state));
	control_emit_u64(l->e, "send-queued", t->send_queued);
	control_emit_u64(l->e, "rto-ms", t->rto_ms);
	control_emit_u64(l->e, "retries", t->retries);
	control_emit_bool(l->e, "attached", t->user_attached);
	control_emit_end(l->e);
}

/* "stack": the raw-mode link, ARP cache and TCP table (JSON: arrays
 * "arps" and "tcps" of objects). */
int control_cmd_stack(struct ctl_req *r)
{
	struct control *c = r->ctl;
	struct net_raw_info ri;
	struct ctl_emit e;
	struct stack_list l = { &e, control_now_ms(c) };

	if (r->argc != 1)
		return control_fail(r, "usage: stack");
	if (!raw_info(c, &ri))
		return control_fail(r, "no raw-mode stack in this process (mode %s)",
				    mode_name(c));
	control_emit_begin(&e, r->out, r->json);
	emit_raw_link(&e, &ri);
	control_emit_arr(&e, "arps");
	stack_arp_walk(ri.st, emit_arp, &l);
	control_emit_end(&e);
	control_emit_arr(&e, "tcps");
	stack_tcp_walk(ri.st, emit_tcp, &l);
	control_emit_end(&e);
	control_emit_finish(&e);
	return 0;
}
