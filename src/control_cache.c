/* control_cache.c — the cache and infra commands: lookup, flush, dump, load.
 *
 * "cache lookup" answers the operator's two questions about a name: what
 * is cached at it (and for how long, and how trusted), and where the
 * resolver would go to ask (the deepest cached delegation, its servers'
 * addresses and what infra knows about each).
 *
 * "cache dump" writes zone-file text; the annotations "cache load" needs
 * (trust, negative entries) are comment lines starting ";!", so the dump
 * stays valid zone-file text for other tools.  It is streamed: the cache
 * is walked in bounded steps (cache_walk_step) and each step's text is
 * written before the next step runs, so a dump of any size neither stalls
 * DNS nor copies the cache.  Records ldns cannot print, or prints as text
 * it cannot read back, are written in RFC 3597 generic form
 * (control_rr_str), so that a dump always loads again.  The load reads
 * CTL_LOAD_LINES lines per step; an entry it cannot read is skipped,
 * counted and logged with its line number, and the rest still loads.
 *
 * Our own cache lookups would count as resolver hits and misses; their
 * effect on the counters is measured and kept out of "stats". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_int.h"
#include "log.h"

/* One dump step (one loop iteration) ends after the first of these.  Its
 * cost is the records it formats (~38k instructions each with the
 * read-back check, callgrind), so that is the main bound: 32 records are
 * about 1.2M instructions, well under a millisecond of CPU.  Empty buckets
 * cost a few instructions each. */
#define CTL_DUMP_STEP_RRS 32
#define CTL_DUMP_STEP_UNITS 256            /* entries and empty buckets */
#define CTL_DUMP_STEP_BYTES (16u * 1024u)
#define CTL_DUMP_SUBSTEP 4                 /* units per cache_walk_step() call */
#define CTL_LOAD_LINES 512
#define CTL_LOAD_MAX_LINE (1u << 20)
#define CTL_DUMP_VERSION 2  /* 2: no count in the header, ";!end entries=N" */
#define CTL_DUMP_OLDEST 1
#define CTL_LOAD_SKIPS_LISTED 10          /* skipped lines named in the answer and log */
#define DNS_PORT 53
#define CTL_MAX_LABELS 128  /* a 255-byte name has at most 127 labels, plus the root */

static const char *sec_str(enum cache_security s)
{
	switch (s) {
	case CACHE_SEC_UNCHECKED: return "unchecked";
	case CACHE_SEC_SECURE: return "secure";
	case CACHE_SEC_INSECURE: return "insecure";
	case CACHE_SEC_BOGUS: return "bogus";
	}
	return "unknown";
}

static int need_cache(struct ctl_req *r)
{
	return r->ctl->env.cache ? 0 : control_fail(r, "no cache in this process");
}

/* Bracket for cache lookups made on the operator's behalf. */
static void own_begin(struct control *c, struct cache_stats *before)
{
	cache_get_stats(c->env.cache, before);
}

static void own_end(struct control *c, const struct cache_stats *before)
{
	struct cache_stats after;

	cache_get_stats(c->env.cache, &after);
	c->own_hits += after.hits - before->hits;
	c->own_misses += after.misses - before->misses;
}

/* ---- emitting one entry ------------------------------------------------- */

static void emit_dup(struct ctl_emit *e, const char *key, char *heap)
{
	if (!heap) {
		e->b->oom = true;
		return;
	}
	control_emit_str(e, key, heap);
	free(heap);
}

static void emit_rr_list(struct ctl_emit *e, const char *arr, const char *item,
			 const ldns_rr_list *l)
{
	control_emit_arr(e, arr);
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++)
		emit_dup(e, item, control_rr_str(ldns_rr_list_rr(l, i)));
	control_emit_end(e);
}

/* The members of one entry, into the object the caller opened. */
static void emit_entry(struct ctl_emit *e, const struct cache_entry_view *v)
{
	emit_dup(e, "owner", control_name_str(v->owner));
	if (!(v->negative && v->nxdomain))
		emit_dup(e, "type", control_type_str(v->type));
	emit_dup(e, "class", ldns_rr_class2str(v->cls));
	control_emit_u64(e, "ttl", v->ttl);
	control_emit_str(e, "trust", cache_trust_str(v->trust));
	control_emit_str(e, "security", sec_str(v->security));
	if (v->negative) {
		control_emit_str(e, "negative", v->nxdomain ? "nxdomain" : "nodata");
		emit_dup(e, "soa", control_rr_str(v->soa));
		return;
	}
	emit_rr_list(e, "rrs", "rr", v->rrset);
	if (v->rrsigs && ldns_rr_list_rr_count(v->rrsigs))
		emit_rr_list(e, "rrsigs", "rrsig", v->rrsigs);
}

/* ---- cache lookup ------------------------------------------------------ */

struct lookup_walk {
	struct ctl_emit *e;
	const ldns_rdf *name;
	bool nxdomain_here;
	size_t count;
};

static int lookup_walk_cb(void *ud, const struct cache_entry_view *v)
{
	struct lookup_walk *w = ud;

	if (ldns_dname_compare(v->owner, w->name) != 0)
		return 0;  /* below the name: not asked for */
	control_emit_obj(w->e, "entry");
	emit_entry(w->e, v);
	control_emit_end(w->e);
	w->nxdomain_here |= v->negative && v->nxdomain;
	w->count++;
	return 0;
}

/* name's ancestors, root first: out[0] = ".", out[n-1] = name. */
static size_t ancestors(const ldns_rdf *name, ldns_rdf **out, size_t max)
{
	size_t n = ldns_dname_label_count(name) + 1;

	if (n > max)
		return 0;
	out[n - 1] = ldns_rdf_clone(name);
	for (size_t i = n - 1; i > 0; i--)
		out[i - 1] = out[i] ? ldns_dname_left_chop(out[i]) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (!out[i]) {
			for (size_t j = 0; j < n; j++)
				ldns_rdf_deep_free(out[j]);
			return 0;
		}
	}
	return n;
}

static void free_ancestors(ldns_rdf **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ldns_rdf_deep_free(a[i]);
}

/* An NXDOMAIN at an ancestor denies the name too (RFC 8020).  Probing
 * root-first finds where it is cached: the first of anc[0..upto-1] that a
 * negative lookup calls NXDOMAIN holds it, none above having answered. */
static void emit_covering_nxdomain(struct control *c, struct ctl_emit *e,
				   ldns_rdf **anc, size_t upto, const ldns_rdf *name,
				   uint64_t now)
{
	for (size_t i = 0; i < upto; i++) {
		ldns_rr *soa = NULL;
		bool nx = false;
		int hit = cache_lookup_negative(c->env.cache, anc[i], LDNS_RR_TYPE_A,
						LDNS_RR_CLASS_IN, false, now, &nx, &soa);

		if (hit && nx) {
			struct cache_entry_view v = {
				.owner = anc[i], .cls = LDNS_RR_CLASS_IN, .negative = true,
				.nxdomain = true, .soa = soa, .trust = CACHE_NEGATIVE_TRUST,
				.ttl = ldns_rr_ttl(soa),
			};

			control_emit_obj(e, "entry");
			emit_entry(e, &v);
			if (ldns_dname_compare(anc[i], name) != 0)
				control_emit_str(e, "covers", "the name is below this NXDOMAIN");
			control_emit_end(e);
			ldns_rr_free(soa);
			return;
		}
		ldns_rr_free(soa);
	}
}

/* The entries at name with the type asked: from the lookup calls, which
 * need no scan of the cache. */
static void emit_typed(struct control *c, struct ctl_emit *e, const ldns_rdf *name,
		       ldns_rr_type type, uint64_t now)
{
	struct cache_result res;
	ldns_rr *soa = NULL;
	bool nx = false;

	if (cache_lookup_rrset(c->env.cache, name, type, LDNS_RR_CLASS_IN, CACHE_TRUST_NONE,
			       false, now, &res)) {
		struct cache_entry_view v = {
			.owner = ldns_rr_owner(ldns_rr_list_rr(res.rrset, 0)), .type = type,
			.cls = LDNS_RR_CLASS_IN, .rrset = res.rrset, .rrsigs = res.rrsigs,
			.trust = res.trust, .security = res.security, .ttl = res.ttl,
		};

		control_emit_obj(e, "entry");
		emit_entry(e, &v);
		control_emit_end(e);
		cache_result_clear(&res);
	}
	if (cache_lookup_negative(c->env.cache, name, type, LDNS_RR_CLASS_IN, false, now, &nx,
				  &soa) && !nx) {
		struct cache_entry_view v = {
			.owner = name, .type = type, .cls = LDNS_RR_CLASS_IN, .negative = true,
			.soa = soa, .trust = CACHE_NEGATIVE_TRUST, .ttl = ldns_rr_ttl(soa),
		};

		control_emit_obj(e, "entry");
		emit_entry(e, &v);
		control_emit_end(e);
	}
	ldns_rr_free(soa);  /* an NXDOMAIN is for emit_covering_nxdomain */
}

static void emit_infra(struct control *c, struct ctl_emit *e, const struct sockaddr *sa,
		       const ldns_rdf *zone, uint64_t now)
{
	struct infra_info info;

	if (!c->env.infra)
		return;
	if (!infra_get(c->env.infra, sa, now, &info)) {
		control_emit_bool(e, "infra-known", false);
		return;
	}
	control_emit_bool(e, "infra-known", true);
	control_emit_u64(e, "srtt-ms", info.srtt_ms);
	control_emit_u64(e, "rttvar-ms", info.rttvar_ms);
	control_emit_u64(e, "rto-ms", info.rto_ms);
	control_emit_u64(e, "timeouts", info.timeouts);
	control_emit_bool(e, "down", infra_is_down(c->env.infra, sa, now));
	control_emit_bool(e, "lame", infra_is_lame(c->env.infra, sa, zone, now));
	control_emit_bool(e, "edns-broken", info.edns_broken);
	control_emit_bool(e, "caps-broken", info.caps_broken);
	control_emit_bool(e, "tcp-only", info.tcp_only);
	control_emit_u64(e, "queries", info.queries);
	control_emit_u64(e, "replies", info.replies);
}

/* One NS name: its cached addresses (glue included) and their infra. */
static void emit_ns(struct control *c, struct ctl_emit *e, const ldns_rdf *ns,
		    const ldns_rdf *zone, uint64_t now)
{
	static const ldns_rr_type types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
	size_t found = 0;
	char addr[64];

	control_emit_obj(e, "nameserver");
	emit_dup(e, "name", control_name_str(ns));
	control_emit_arr(e, "addresses");
	for (size_t t = 0; t < 2; t++) {
		struct cache_result res;

		if (!cache_lookup_rrset(c->env.cache, ns, types[t], LDNS_RR_CLASS_IN,
					CACHE_TRUST_NONE, false, now, &res))
			continue;
		for (size_t i = 0; i < ldns_rr_list_rr_count(res.rrset); i++) {
			const ldns_rdf *rd = ldns_rr_rdf(ldns_rr_list_rr(res.rrset, i), 0);
			size_t salen = 0;
			struct sockaddr_storage *ss = rd ?
				ldns_rdf2native_sockaddr_storage(rd, DNS_PORT, &salen) : NULL;

			if (!ss)
				continue;
			control_addr_str((struct sockaddr *)ss, addr, sizeof(addr));
			control_emit_obj(e, "address");
			control_emit_str(e, "addr", addr);
			control_emit_u64(e, "ttl", res.ttl);
			control_emit_str(e, "trust", cache_trust_str(res.trust));
			emit_infra(c, e, (struct sockaddr *)ss, zone, now);
			control_emit_end(e);
			LDNS_FREE(ss);
			found++;
		}
		cache_result_clear(&res);
	}
	control_emit_end(e);
	if (!found)
		control_emit_str(e, "note", "no cached address");
	control_emit_end(e);
}

/* The deepest cached NS RRset at or above name: where the iterator would
 * start.  None cached means the root hints. */
static void emit_delegation(struct control *c, struct ctl_emit *e, ldns_rdf **anc,
			    size_t n, uint64_t now)
{
	for (size_t i = n; i-- > 0;) {
		struct cache_result res;

		if (!cache_lookup_rrset(c->env.cache, anc[i], LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN,
					CACHE_TRUST_NONE, false, now, &res))
			continue;
		control_emit_obj(e, "delegation");
		emit_dup(e, "zone", control_name_str(anc[i]));
		control_emit_u64(e, "ttl", res.ttl);
		control_emit_str(e, "trust", cache_trust_str(res.trust));
		control_emit_arr(e, "nameservers");
		for (size_t k = 0; k < ldns_rr_list_rr_count(res.rrset); k++) {
			const ldns_rdf *ns = ldns_rr_rdf(ldns_rr_list_rr(res.rrset, k), 0);

			if (ns)
				emit_ns(c, e, ns, anc[i], now);
		}
		control_emit_end(e);
		control_emit_end(e);
		cache_result_clear(&res);
		return;
	}
	control_emit_null(e, "delegation", "none cached (the root hints would be used)");
}

int control_cmd_cache_lookup(struct ctl_req *r)
{
	struct control *c = r->ctl;
	ldns_rdf *anc[CTL_MAX_LABELS];
	struct cache_stats before;
	struct lookup_walk w = { 0 };
	ldns_rr_type type = 0;
	struct ctl_emit e;
	ldns_rdf *name;
	uint64_t now = control_now_ms(c);
	size_t n;

	if (need_cache(r) < 0)
		return -1;
	if (r->argc < 3 || r->argc > 4)
		return control_fail(r, "usage: cache lookup NAME [TYPE]");
	if (r->argc == 4 && !(type = control_parse_type(r->argv[3])))
		return control_fail(r, "unknown type '%.32s'", r->argv[3]);
	name = control_parse_name(r->argv[2]);
	if (!name)
		return control_fail(r, "bad name '%.300s'", r->argv[2]);
	n = ancestors(name, anc, sizeof(anc) / sizeof(anc[0]));
	if (!n) {
		ldns_rdf_deep_free(name);
		return control_fail(r, "out of memory");
	}
	own_begin(c, &before);
	control_emit_begin(&e, r->out, r->json);
	emit_dup(&e, "name", control_name_str(name));
	control_emit_arr(&e, "entries");
	if (type) {
		/* every ancestor including the name: the walk is skipped */
		emit_typed(c, &e, name, type, now);
		emit_covering_nxdomain(c, &e, anc, n, name, now);
	} else {
		/* the walk lists an NXDOMAIN at the name; look above it */
		w.e = &e;
		w.name = name;
		cache_walk(c->env.cache, name, now, lookup_walk_cb, &w);
		if (!w.nxdomain_here)
			emit_covering_nxdomain(c, &e, anc, n - 1, name, now);
	}
	control_emit_end(&e);
	emit_delegation(c, &e, anc, n, now);
	control_emit_finish(&e);
	own_end(c, &before);
	free_ancestors(anc, n);
	ldns_rdf_deep_free(name);
	return 0;
}

/* ---- flushes ------------------------------------------------------------ */

static int report_removed(struct ctl_req *r, size_t n)
{
	struct ctl_emit e;

	control_emit_begin(&e, r->out, r->json);
	control_emit_u64(&e, "removed", n);
	control_emit_finish(&e);
	return 0;
}

int control_cmd_cache_flush(struct ctl_req *r)
{
	ldns_rr_type type = 0;
	ldns_rdf *name;
	size_t n;

	if (need_cache(r) < 0)
		return -1;
	if (r->argc < 3 || r->argc > 4)
		return control_fail(r, "usage: cache flush NAME [TYPE]");
	if (r->argc == 4 && !(type = control_parse_type(r->argv[3])))
		return control_fail(r, "unknown type '%.32s'", r->argv[3]);
	name = control_parse_name(r->argv[2]);
	if (!name)
		return control_fail(r, "bad name '%.300s'", r->argv[2]);
	n = cache_flush_name(r->ctl->env.cache, name, type);
	ldns_rdf_deep_free(name);
	log_info("control: flushed %zu entries at %s%s%s", n, r->argv[2], type ? " " : "",
		 type ? r->argv[3] : "");
	return report_removed(r, n);
}

int control_cmd_cache_flush_zone(struct ctl_req *r)
{
	ldns_rdf *name;
	size_t n;

	if (need_cache(r) < 0)
		return -1;
	if (r->argc != 3)
		return control_fail(r, "usage: cache flush-zone NAME");
	name = control_parse_name(r->argv[2]);
	if (!name)
		return control_fail(r, "bad name '%.300s'", r->argv[2]);
	n = cache_flush_zone(r->ctl->env.cache, name);
	ldns_rdf_deep_free(name);
	log_info("control: flushed %zu entries at and below %s", n, r->argv[2]);
	return report_removed(r, n);
}

int control_cmd_cache_flush_all(struct ctl_req *r)
{
	struct cache_stats st;

	if (need_cache(r) < 0)
		return -1;
	if (r->argc != 2)
		return control_fail(r, "usage: cache flush-all");
	cache_get_stats(r->ctl->env.cache, &st);
	cache_flush_all(r->ctl->env.cache);
	log_info("control: flushed the whole cache (%llu entries)",
		 (unsigned long long)st.entries);
	return report_removed(r, st.entries);
}

int control_cmd_flush_infra(struct ctl_req *r)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t n;

	if (!r->ctl->env.infra)
		return control_fail(r, "no infra cache in this process");
	if (r->argc > 2)
		return control_fail(r, "usage: flush-infra [ADDR|all]");
	if (r->argc == 1 || strcmp(r->argv[1], "all") == 0) {
		n = infra_flush(r->ctl->env.infra, NULL);
		log_info("control: flushed the infra cache (%zu servers)", n);
		return report_removed(r, n);
	}
	if (config_parse_addr(r->argv[1], DNS_PORT, &ss, &sslen) != 0)
		return control_fail(r, "bad address '%.64s' (want 192.0.2.1, 2001:db8::1 "
				    "or ADDR@PORT)", r->argv[1]);
	n = infra_flush(r->ctl->env.infra, (struct sockaddr *)&ss);
	log_info("control: flushed infra for %s (%zu entries)", r->argv[1], n);
	return report_removed(r, n);
}

/* ---- dump --------------------------------------------------------------- */

/* The dump walks the cache in steps with cache_walk_step() and formats
 * each entry as the walk visits it: no copy of the cache is made, and one
 * step (one loop iteration; control.c runs a job's steps from an idle
 * handle and pauses them while the client has more than CTL_QUEUE_HIGH
 * unread) formats about CTL_DUMP_STEP_RRS records, CTL_DUMP_STEP_UNITS
 * walk units or CTL_DUMP_STEP_BYTES of text, whichever comes first.  The
 * walk is re-entered in sub-steps of CTL_DUMP_SUBSTEP units, so a step
 * overshoots its bounds by a few entries at most (one big RRset can still
 * make a step longer: an entry is never split).  Every step uses the
 * clock of the moment the dump started, so each
 * TTL is the one left at the header's `time`, whichever step wrote it,
 * and "cache load" ages them all alike. */
struct dump_job {
	struct ctl_job job;
	struct control *ctl;
	struct cache_cursor cur;
	uint64_t start_ms;         /* the cache clock at `time` */
	int64_t time;              /* wall clock, Unix seconds */
	size_t entries;            /* written so far */
	size_t step_rrs;           /* records formatted in this step */
	bool json, header_sent;
	struct ctl_buf *out;       /* the step's output, for the callback */
};

static void put_rrs_text(struct ctl_buf *b, const ldns_rr_list *l)
{
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		char *s = control_rr_str(ldns_rr_list_rr(l, i));

		if (!s) {
			b->oom = true;
			return;
		}
		control_buf_printf(b, "%s\n", s);
		free(s);
	}
}

/* ";!negative nxdomain|nodata OWNER CLASS TYPE|-" and ";!soa SOA". */
static void dump_text_negative(struct ctl_buf *b, const struct cache_entry_view *v)
{
	char *owner = control_name_str(v->owner), *type = control_type_str(v->type);
	char *cls = ldns_rr_class2str(v->cls), *soa = control_rr_str(v->soa);

	if (!owner || !type || !cls || !soa)
		b->oom = true;
	else
		control_buf_printf(b, ";!negative %s %s %s %s\n;!soa %s\n",
				   v->nxdomain ? "nxdomain" : "nodata", owner, cls,
				   v->nxdomain ? "-" : type, soa);
	free(owner);
	free(type);
	free(cls);
	free(soa);
}

/* Trust names are words ("answer-auth"); load also takes the number. */
static void dump_text_entry(struct ctl_buf *b, const struct cache_entry_view *v)
{
	if (v->negative) {
		dump_text_negative(b, v);
		return;
	}
	control_buf_printf(b, ";!rrset trust=%s rrs=%zu sigs=%zu\n", cache_trust_str(v->trust),
			   ldns_rr_list_rr_count(v->rrset),
			   v->rrsigs ? ldns_rr_list_rr_count(v->rrsigs) : 0);
	put_rrs_text(b, v->rrset);
	put_rrs_text(b, v->rrsigs);
}

/* The walk's callback: one entry, formatted into the step's output.  It
 * only reads the view (the callback must not touch the cache). */
static int dump_entry_cb(void *ud, const struct cache_entry_view *v)
{
	struct dump_job *j = ud;

	if (j->json) {
		struct ctl_emit e;

		control_emit_begin(&e, j->out, true);
		emit_entry(&e, v);
		control_emit_finish(&e);
	} else {
		dump_text_entry(j->out, v);
	}
	j->entries++;
	j->step_rrs += v->negative ? 1 : ldns_rr_list_rr_count(v->rrset) +
		       (v->rrsigs ? ldns_rr_list_rr_count(v->rrsigs) : 0);
	return j->out->oom;  /* stop: the step reports it */
}

static void dump_header(struct dump_job *j, struct ctl_buf *out)
{
	if (j->json) {
		control_buf_printf(out, "{\"dump\":{\"version\":%d,\"time\":%lld}}\n",
				   CTL_DUMP_VERSION, (long long)j->time);
		return;
	}
	control_buf_printf(out, ";!rootwalk-dump version=%d time=%lld\n"
			   "; rootwalkd cache dump: TTLs are the seconds left at 'time'.\n"
			   "; Lines starting ';!' are annotations for 'cache load'.\n",
			   CTL_DUMP_VERSION, (long long)j->time);
}

/* The last line: how many entries the dump holds, so that a reader can
 * tell a complete dump from one cut short. */
static void dump_trailer(struct dump_job *j, struct ctl_buf *out)
{
	if (j->json)
		control_buf_printf(out, "{\"dump-end\":{\"entries\":%zu}}\n", j->entries);
	else
		control_buf_printf(out, ";!end entries=%zu\n", j->entries);
}

static int dump_step(struct ctl_job *job, struct ctl_buf *out, char *err, size_t errlen)
{
	struct dump_job *j = (struct dump_job *)job;
	size_t units = 0;

	if (!j->header_sent) {
		dump_header(j, out);
		j->header_sent = true;
	}
	j->out = out;
	j->step_rrs = 0;
	while (!j->cur.done && units < CTL_DUMP_STEP_UNITS && j->step_rrs < CTL_DUMP_STEP_RRS &&
	       out->len < CTL_DUMP_STEP_BYTES)
		units += cache_walk_step(j->ctl->env.cache, NULL, j->start_ms, &j->cur,
					 CTL_DUMP_SUBSTEP, dump_entry_cb, j);
	j->out = NULL;
	if (out->oom) {
		snprintf(err, errlen, "out of memory after %zu entries", j->entries);
		return -1;
	}
	if (!j->cur.done)
		return 1;
	dump_trailer(j, out);
	log_detail("control: dumped %zu cache entries", j->entries);
	return 0;
}

static void dump_free(struct ctl_job *job)
{
	free(job);
}

static time_t wall_now(const struct control *c)
{
	return c->env.wall_now ? c->env.wall_now(c->env.ud) : time(NULL);
}

int control_cmd_cache_dump(struct ctl_req *r)
{
	struct control *c = r->ctl;
	struct dump_job *j;

	if (need_cache(r) < 0)
		return -1;
	if (r->argc != 2)
		return control_fail(r, "usage: cache dump");
	j = calloc(1, sizeof(*j));
	if (!j)
		return control_fail(r, "out of memory");
	j->job.step = dump_step;
	j->job.free = dump_free;
	j->ctl = c;
	j->json = r->json;
	j->time = (int64_t)wall_now(c);
	j->start_ms = control_now_ms(c);
	log_detail("control: dumping the cache");
	r->job = &j->job;
	return CTL_JOB;
}

/* ---- load --------------------------------------------------------------- */

/* The reader is a small state machine over lines.  An entry is a ";!rrset"
 * line and its records, or a ";!negative" and its ";!soa" line.  Whatever
 * is wrong inside one entry (a record ldns cannot parse, a count that does
 * not match, records that do not form one RRset) loses that entry only: it
 * counts in `skipped`, its line number is logged and reported, and the
 * lines up to the next ";!" annotation, where the next entry starts, are
 * passed over (L_SKIP).  A warm restart should not be lost to one bad line.
 * Only what concerns the whole file stops the load: a header of a version
 * this daemon does not read, a read error, no memory. */
enum load_state { L_IDLE, L_RRSET, L_SOA, L_SKIP };

struct load_job {
	struct ctl_job job;
	struct control *ctl;
	FILE *f;
	char *path;
	char *line;
	size_t linecap;
	unsigned long lineno;
	bool json;
	int64_t elapsed;           /* seconds between dump and now */
	int version;               /* of the header; 0 without one */
	bool end_seen;             /* ";!end entries=N" */
	unsigned long long end_entries;
	/* the entry being read */
	enum load_state state;
	unsigned long entry_line;
	enum cache_trust trust;
	size_t want_rrs, want_sigs;
	ldns_rr_list *rrset, *rrsigs;
	ldns_rdf *neg_name;
	ldns_rr_type neg_type;
	ldns_rr_class neg_class;
	bool neg_nxdomain;
	uint64_t loaded, expired, refused, skipped;
	unsigned long skip_lines[CTL_LOAD_SKIPS_LISTED];
};

static void load_entry_clear(struct load_job *j)
{
	ldns_rr_list_deep_free(j->rrset);
	ldns_rr_list_deep_free(j->rrsigs);
	ldns_rdf_deep_free(j->neg_name);
	j->rrset = j->rrsigs = NULL;
	j->neg_name = NULL;
	j->state = L_IDLE;
}

static void load_free(struct ctl_job *job)
{
	struct load_job *j = (struct load_job *)job;

	load_entry_clear(j);
	if (j->f)
		fclose(j->f);
	free(j->line);
	free(j->path);
	free(j);
}

/* A failure that ends the load. */
static int load_err(struct load_job *j, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int load_err(struct load_job *j, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%lu: %s (%llu entries loaded before it)", j->path,
		 j->lineno, msg, (unsigned long long)j->loaded);
	return -1;
}

/* The entry being read (or the stray line at `line`) cannot be loaded:
 * count it, say where and why, and pass over what is left of it. */
static int load_skip(struct load_job *j, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int load_skip(struct load_job *j, unsigned long line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (j->skipped < CTL_LOAD_SKIPS_LISTED) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_warn("control: cache load %s:%lu: %s; entry skipped", j->path, line, msg);
		j->skip_lines[j->skipped] = line;
	}
	j->skipped++;
	load_entry_clear(j);
	j->state = L_SKIP;
	return 0;
}

/* Age a TTL by the time since the dump; false when it ran out. */
static bool age_ttl(const struct load_job *j, ldns_rr *rr)
{
	uint32_t ttl = ldns_rr_ttl(rr);

	if ((int64_t)ttl <= j->elapsed)
		return false;
	ldns_rr_set_ttl(rr, (uint32_t)(ttl - j->elapsed));
	return true;
}

static bool age_list(const struct load_job *j, ldns_rr_list *l)
{
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++)
		if (!age_ttl(j, ldns_rr_list_rr(l, i)))
			return false;
	return true;
}

/* The cache's answer to a store: 0 stored, 1 outranked, -1 not taken. */
static void count_store(struct load_job *j, int rc)
{
	if (rc < 0) {
		load_skip(j, j->entry_line, "the cache did not take this entry");
		return;
	}
	if (rc == 1)
		j->refused++;
	else
		j->loaded++;
	load_entry_clear(j);
}

/* cache_store_rrset() trusts its caller to group records: the file's
 * entry must be one RRset (one owner, type and class) and its RRSIGs. */
static bool one_rrset(const struct load_job *j)
{
	const ldns_rr *first = ldns_rr_list_rr(j->rrset, 0);

	for (size_t i = 1; i < ldns_rr_list_rr_count(j->rrset); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(j->rrset, i);

		if (ldns_rr_get_type(rr) != ldns_rr_get_type(first) ||
		    ldns_rr_get_class(rr) != ldns_rr_get_class(first) ||
		    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(first)) != 0)
			return false;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(j->rrsigs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(j->rrsigs, i);

		if (ldns_rr_get_class(rr) != ldns_rr_get_class(first) ||
		    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(first)) != 0)
			return false;
	}
	return true;
}

static void store_rrset(struct load_job *j)
{
	struct control *c = j->ctl;

	if (!one_rrset(j)) {
		load_skip(j, j->entry_line, "its records differ in owner, type or class");
		return;
	}
	if (!age_list(j, j->rrset) || !age_list(j, j->rrsigs)) {
		j->expired++;
		load_entry_clear(j);
		return;
	}
	count_store(j, cache_store_rrset(c->env.cache, j->rrset, j->rrsigs, j->trust,
					 control_now_ms(c)));
}

/* A record as the dump writes it (ldns's text or RFC 3597 generic form).
 * NULL with *why set when ldns cannot read it. */
static ldns_rr *parse_rr(const char *text, const char **why)
{
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);

	if (st == LDNS_STATUS_OK)
		return rr;
	ldns_rr_free(rr);
	*why = ldns_get_errorstr_by_id(st);
	if (!*why)
		*why = "unreadable";
	return NULL;
}

static int load_idle_line(struct load_job *j, char *line, char *err, size_t errlen);

/* A line inside a ";!rrset" entry: the RRs first, then the RRSIGs. */
static int load_rr_line(struct load_job *j, char *line, char *err, size_t errlen)
{
	bool sig = ldns_rr_list_rr_count(j->rrset) == j->want_rrs;
	ldns_rr_list *to = sig ? j->rrsigs : j->rrset;
	const char *why = NULL;
	ldns_rr *rr;

	if (line[0] == ';' || line[strspn(line, " \t")] == '\0') {
		/* the entry is short of records: lose it, and read this line
		 * as the start of whatever comes next */
		load_skip(j, j->entry_line, "entry ends early: %zu records and %zu signatures "
			  "announced", j->want_rrs, j->want_sigs);
		j->state = L_IDLE;
		return load_idle_line(j, line, err, errlen);
	}
	rr = parse_rr(line, &why);
	if (!rr)
		return load_skip(j, j->lineno, "bad record: %s", why);
	if (sig && ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG) {
		ldns_rr_free(rr);
		return load_skip(j, j->lineno, "an RRSIG was announced here");
	}
	if (!ldns_rr_list_push_rr(to, rr)) {
		ldns_rr_free(rr);
		return load_err(j, err, errlen, "out of memory");
	}
	if (ldns_rr_list_rr_count(j->rrset) == j->want_rrs &&
	    ldns_rr_list_rr_count(j->rrsigs) == j->want_sigs)
		store_rrset(j);
	return 0;
}

static int parse_trust(const char *s, enum cache_trust *out)
{
	char *end;
	long v;

	for (int t = CACHE_TRUST_NONE; t <= CACHE_TRUST_ANSWER_AUTH; t++) {
		if (strcmp(s, cache_trust_str((enum cache_trust)t)) == 0) {
			*out = (enum cache_trust)t;
			return 0;
		}
	}
	v = strtol(s, &end, 10);
	if (*s && !*end && v > CACHE_TRUST_NONE && v <= CACHE_TRUST_ANSWER_AUTH) {
		*out = (enum cache_trust)v;
		return 0;
	}
	return -1;
}

/* ";!rrset trust=answer-auth rrs=2 sigs=0" */
static int load_rrset_head(struct load_job *j, char *args, char *err, size_t errlen)
{
	char trust[32];
	size_t rrs, sigs;

	if (sscanf(args, " trust=%31s rrs=%zu sigs=%zu", trust, &rrs, &sigs) != 3 ||
	    rrs == 0 || rrs > 65535 || sigs > 65535)
		return load_skip(j, j->lineno, "bad ;!rrset annotation");
	if (parse_trust(trust, &j->trust) < 0)
		return load_skip(j, j->lineno, "unknown trust '%s'", trust);
	j->rrset = ldns_rr_list_new();
	j->rrsigs = ldns_rr_list_new();
	if (!j->rrset || !j->rrsigs)
		return load_err(j, err, errlen, "out of memory");
	j->want_rrs = rrs;
	j->want_sigs = sigs;
	j->state = L_RRSET;
	return 0;
}

/* ";!negative nxdomain|nodata OWNER CLASS TYPE|-" */
static int load_negative_head(struct load_job *j, char *args)
{
	char kind[16], owner[1024], cls[16], type[32];

	if (sscanf(args, " %15s %1023s %15s %31s", kind, owner, cls, type) != 4)
		return load_skip(j, j->lineno, "bad ;!negative annotation");
	if (strcmp(kind, "nxdomain") != 0 && strcmp(kind, "nodata") != 0)
		return load_skip(j, j->lineno, "unknown negative kind '%s'", kind);
	j->neg_nxdomain = kind[1] == 'x';
	j->neg_class = ldns_get_rr_class_by_name(cls);
	j->neg_type = j->neg_nxdomain ? 0 : ldns_get_rr_type_by_name(type);
	j->neg_name = control_parse_name(owner);
	if (!j->neg_name || !j->neg_class || (!j->neg_nxdomain && !j->neg_type))
		return load_skip(j, j->lineno, "bad name, class or type in ;!negative");
	j->state = L_SOA;
	return 0;
}

/* ";!soa <SOA record>", right after ";!negative". */
static int load_soa_line(struct load_job *j, char *line, char *err, size_t errlen)
{
	struct control *c = j->ctl;
	const char *why = NULL;
	ldns_rr *soa;

	if (strncmp(line, ";!soa ", 6) != 0) {
		load_skip(j, j->entry_line, "no ';!soa' line after ';!negative'");
		j->state = L_IDLE;
		return load_idle_line(j, line, err, errlen);
	}
	soa = parse_rr(line + 6, &why);
	if (!soa)
		return load_skip(j, j->lineno, "bad SOA record: %s", why);
	if (ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA) {
		ldns_rr_free(soa);
		return load_skip(j, j->lineno, "';!soa' holds no SOA record");
	}
	if (age_ttl(j, soa)) {
		count_store(j, cache_store_negative(c->env.cache, j->neg_name, j->neg_type,
						    j->neg_class, j->neg_nxdomain, soa,
						    control_now_ms(c)));
	} else {
		j->expired++;
		load_entry_clear(j);
	}
	ldns_rr_free(soa);
	return 0;
}

/* ";!rootwalk-dump version=2 time=T" (version 1 had " entries=N" too). */
static int load_header(struct load_job *j, char *args, char *err, size_t errlen)
{
	long long t;
	int version;

	if (sscanf(args, " version=%d time=%lld", &version, &t) != 2)
		return load_err(j, err, errlen, "bad ;!rootwalk-dump header");
	if (version < CTL_DUMP_OLDEST || version > CTL_DUMP_VERSION)
		return load_err(j, err, errlen, "dump version %d; this daemon reads %d to %d",
				version, CTL_DUMP_OLDEST, CTL_DUMP_VERSION);
	j->version = version;
	j->elapsed = (int64_t)wall_now(j->ctl) - t;
	if (j->elapsed < 0)
		j->elapsed = 0;  /* clock stepped back: keep the TTLs as they are */
	return 0;
}

/* ";!end entries=N": the dump's last line. */
static int load_end(struct load_job *j, char *args)
{
	if (sscanf(args, " entries=%llu", &j->end_entries) != 1)
		return load_skip(j, j->lineno, "bad ;!end annotation");
	j->end_seen = true;
	return 0;
}

static bool is_annotation(const char *line, const char *word)
{
	size_t n = strlen(word);

	return strncmp(line, word, n) == 0 && (line[n] == ' ' || line[n] == '\0');
}

static int load_idle_line(struct load_job *j, char *line, char *err, size_t errlen)
{
	j->entry_line = j->lineno;
	if (is_annotation(line, ";!rrset"))
		return load_rrset_head(j, line + 7, err, errlen);
	if (is_annotation(line, ";!negative"))
		return load_negative_head(j, line + 10);
	if (is_annotation(line, ";!rootwalk-dump"))
		return load_header(j, line + 15, err, errlen);
	if (is_annotation(line, ";!end"))
		return load_end(j, line + 5);
	if (strncmp(line, ";!", 2) == 0)
		return load_skip(j, j->lineno, "unknown annotation");
	if (line[0] == ';' || line[strspn(line, " \t")] == '\0')
		return 0;
	return load_skip(j, j->lineno, "record outside an entry (no ';!rrset' before it)");
}

static int load_line(struct load_job *j, char *line, char *err, size_t errlen)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	switch (j->state) {
	case L_RRSET:
		return load_rr_line(j, line, err, errlen);
	case L_SOA:
		return load_soa_line(j, line, err, errlen);
	case L_SKIP:
		if (strncmp(line, ";!", 2) != 0)
			return 0;  /* the rest of a skipped entry */
		j->state = L_IDLE;
		break;
	case L_IDLE:
		break;
	}
	return load_idle_line(j, line, err, errlen);
}

/* Say whether the file was the whole dump: a dump cut short (the client
 * that wrote it died) still loads, but the operator should know. */
static void load_check_end(struct load_job *j)
{
	uint64_t read = j->loaded + j->expired + j->refused + j->skipped;

	if (j->end_seen && j->end_entries != read)
		log_warn("control: cache load %s: the dump says %llu entries, %llu were read",
			 j->path, j->end_entries, (unsigned long long)read);
	else if (!j->end_seen && j->version >= 2)
		log_warn("control: cache load %s: no ';!end' line; the dump was cut short",
			 j->path);
}

static int load_finish(struct load_job *j, struct ctl_buf *out, char *err, size_t errlen)
{
	struct ctl_emit e;
	size_t listed;

	if (ferror(j->f))
		return load_err(j, err, errlen, "read error: %s", strerror(errno));
	if (j->state == L_RRSET || j->state == L_SOA)
		load_skip(j, j->entry_line, "the file ends inside this entry");
	listed = j->skipped < CTL_LOAD_SKIPS_LISTED ? j->skipped : CTL_LOAD_SKIPS_LISTED;
	load_check_end(j);
	log_info("control: loaded %llu cache entries from %s (%llu expired, %llu refused, "
		 "%llu skipped%s)", (unsigned long long)j->loaded, j->path,
		 (unsigned long long)j->expired, (unsigned long long)j->refused,
		 (unsigned long long)j->skipped,
		 j->skipped > CTL_LOAD_SKIPS_LISTED ? "; the first ones logged above" : "");
	control_emit_begin(&e, out, j->json);
	control_emit_u64(&e, "loaded", j->loaded);
	control_emit_u64(&e, "expired", j->expired);
	control_emit_u64(&e, "refused", j->refused);
	control_emit_u64(&e, "skipped", j->skipped);
	control_emit_arr(&e, "skipped-lines");
	for (size_t i = 0; i < listed; i++)
		control_emit_u64(&e, "skipped-line", j->skip_lines[i]);
	control_emit_end(&e);
	control_emit_finish(&e);
	return 0;
}

static int load_step(struct ctl_job *job, struct ctl_buf *out, char *err, size_t errlen)
{
	struct load_job *j = (struct load_job *)job;

	for (int k = 0; k < CTL_LOAD_LINES; k++) {
		ssize_t n = getline(&j->line, &j->linecap, j->f);

		if (n < 0)
			return load_finish(j, out, err, errlen);
		j->lineno++;
		if ((size_t)n > CTL_LOAD_MAX_LINE || memchr(j->line, '\0', (size_t)n)) {
			/* not a line a dump has: lose what it belongs to */
			if (j->state == L_IDLE)
				j->entry_line = j->lineno;
			load_skip(j, j->lineno, (size_t)n > CTL_LOAD_MAX_LINE ?
				  "line too long" : "NUL byte in line");
			continue;
		}
		if (load_line(j, j->line, err, errlen) < 0)
			return -1;
	}
	return 1;
}

/* Open a regular file only: a FIFO or device would block the loop. */
static FILE *open_regular(const char *path, char *why, size_t len)
{
	struct stat st;
	FILE *f = NULL;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		snprintf(why, len, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, len, "not a regular file");
	else if (fcntl(fd, F_SETFL, 0) != 0 || !(f = fdopen(fd, "r")))
		snprintf(why, len, "%s", strerror(errno));
	if (!f)
		close(fd);
	return f;
}

int control_cmd_cache_load(struct ctl_req *r)
{
	struct load_job *j;
	char why[128];

	if (need_cache(r) < 0)
		return -1;
	if (r->argc != 3)
		return control_fail(r, "usage: cache load /ABSOLUTE/FILE");
	if (r->argv[2][0] != '/')
		return control_fail(r, "the file must be an absolute path (the daemon's working "
				    "directory is not yours)");
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(r->argv[2]))) {
		free(j);
		return control_fail(r, "out of memory");
	}
	j->job.step = load_step;
	j->job.free = load_free;
	j->ctl = r->ctl;
	j->json = r->json;
	j->f = open_regular(j->path, why, sizeof(why));
	if (!j->f) {
		control_fail(r, "cannot open %.300s: %s", j->path, why);
		load_free(&j->job);
		return -1;
	}
	log_info("control: loading cache entries from %s", j->path);
	r->job = &j->job;
	return CTL_JOB;
}
