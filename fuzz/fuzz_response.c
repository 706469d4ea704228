/* fuzz_response.c — libFuzzer target: upstream replies through the
 * iterator (iter.c + iter_scrub.c + iter_classify.c + iter_deleg.c), into
 * the cache (cache.c) and infra (infra.c).
 *
 * Why: an authoritative server — or anyone who can spoof one — chooses
 * every byte of a reply, and what the iterator believes ends up in the
 * cache and in every later answer.  Parsing is ldns's job; what is ours is
 * classification, bailiwick scrubbing, caching and the state machine that
 * acts on the result, so that is what this target drives.
 *
 * One input is one resolution.  The first byte picks the starting
 * situation (cold cache with priming, root NS cached, a cached
 * delegation for example.com with glue, or one without glue that needs
 * a sub-resolution), the question type and name.  Then for every
 * ITER_SEND the iterator asks for, the next record of the input answers:
 *
 *     u8 ctl   bit 0: time out instead (no more bytes are read)
 *              bit 1: keep the reply's question section as it is
 *                     (otherwise it is set to the question sent, as the
 *                     transport only delivers replies that match)
 *              bits 3-7: RTT in units of 16 ms
 *     u16 len, then len octets of DNS message (ldns_wire2pkt)
 *
 * A reply that ldns cannot parse counts as a timeout, as in the daemon.
 * When the input runs out every further query times out, so each run
 * ends in ITER_DONE.  Cache and infra are fresh for every input (no state
 * between runs, so a crash file reproduces alone).
 *
 * The invariant — the reason for this target.  The server the iterator
 * sends a query to is asked as authoritative for one zone Z (iter_out.zone).
 * Whatever that reply contains, processing it may only create or change
 * cache entries whose owner is at or below Z: a server for example.com
 * must not be able to put data for example.net (or for the root, or for
 * "com") in our cache.  For negative entries, the SOA proving them must
 * also be at or below Z, and the entry's name must be inside the SOA's
 * zone (RFC 2308: the SOA is the zone's own).  A reply without AA must
 * not create entries ranked above answer-nonauth.  A timeout changes no
 * cache entry.  Entries are compared before and after each reply by a
 * fingerprint over owner, type, class, kind, trust, remaining TTL and the
 * records, walked at the same clock, so a refresh of an existing entry
 * counts as a change too.
 *
 * Also checked: every RR in a cached RRset has the entry's owner, type
 * and class; the final answer is a coherent chain (each record owned by
 * the question name, a CNAME target seen before it, or a DNAME above
 * one); iter_step finishes without the "no progress" backstop; no module
 * logs an error (they only do so for "cannot happen" states).
 *
 * Then the result goes where the daemon sends it: the answer and
 * authority the iterator collected are written for the client with
 * msg_build_response() (as request.c does), over TCP and over UDP, and the
 * bytes must parse again.  And when bit 7 of the first byte is set, the
 * cache — filled from the wire by the replies — is written with the
 * control socket's "cache dump" and read into an empty cache with
 * "cache load" (control_cache.c): a dump the daemon wrote must load
 * without error and without skipping anything, every entry its ";!end"
 * line counts accounted for as loaded, refused or expired, every record
 * line must read back with ldns, and when every entry was taken, a second
 * dump must equal the first.  A record that prints but does not parse
 * back (or reads back as another record) would lose a warm restart to one
 * odd record from any server; control_rr_str() writes such records in
 * RFC 3597 generic form (fuzz/README.md findings 3 and 5). */
#include <ctype.h>
#include <ldns/ldns.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cache.h"
#include "control_int.h"
#include "fuzz_common.h"
#include "hints.h"
#include "infra.h"
#include "iter.h"
#include "log.h"
#include "msg.h"

#define MAX_SENDS 40
#define T0_MS 1000000000ull

static const char hints_text[] =
	".                   3600000 NS   a.root-servers.net.\n"
	".                   3600000 NS   b.root-servers.net.\n"
	"a.root-servers.net. 3600000 A    192.0.2.1\n"
	"a.root-servers.net. 3600000 AAAA 2001:db8::1\n"
	"b.root-servers.net. 3600000 A    192.0.2.2\n";

static struct hints *hints;

static int dump_fd = -1;
static char dump_path[64];
static uint8_t wire[MSG_MAX_TCP];

static void parse_seeds(void);

/* Cache contents to start from, by scenario. */
static const char *const seed_root[] = {
	". 86400 IN NS a.root-servers.net.",
	". 86400 IN NS b.root-servers.net.",
};
static const char *const seed_root_glue[] = {
	"a.root-servers.net. 86400 IN A 192.0.2.1",
	"b.root-servers.net. 86400 IN A 192.0.2.2",
};
static const char *const seed_deleg[] = {
	"example.com. 86400 IN NS ns1.example.com.",
	"example.com. 86400 IN NS ns.example.net.",
};
static const char *const seed_deleg_glue[] = {
	"ns1.example.com. 86400 IN A 192.0.2.53",
};
static const char *const seed_glueless[] = {
	"example.com. 86400 IN NS ns.example.net.",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const ldns_rr_type qtypes[8] = {
	LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_DS,
	LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_ANY,
};

static void on_error_log(const char *line)
{
	FUZZ_CHECK(0, "a module logged an error: %s", line);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/rootwalk-fuzz-hints-XXXXXX";
	char err[256];
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, hints_text, sizeof(hints_text) - 1) !=
			      (ssize_t)(sizeof(hints_text) - 1)) {
		perror("fuzz_response: hints file");
		abort();
	}
	close(fd);
	hints = hints_load(path, err, sizeof(err));
	unlink(path);
	if (!hints) {
		fprintf(stderr, "fuzz_response: hints: %s\n", err);
		abort();
	}
	parse_seeds();
	dump_fd = memfd_create("rootwalk-fuzz-dump", MFD_CLOEXEC);
	if (dump_fd < 0) {
		perror("fuzz_response: memfd_create");
		abort();
	}
	snprintf(dump_path, sizeof(dump_path), "/proc/self/fd/%d", dump_fd);
	msg_set_edns_size(1232);
	fuzz_log_set_hook(on_error_log);
	return 0;
}

/* ---- names, independent of the iterator's own helpers ---- */

FUZZ_ORACLE static int label_count(const uint8_t *d, size_t len, size_t off[256])
{
	size_t pos = 0;
	int n = 0;

	while (pos < len && d[pos]) {
		if (n >= 255)
			return -1;
		off[n++] = pos;
		pos += 1 + (size_t)d[pos];
	}
	return pos < len ? n : -1;
}

/* name at or below zone, ASCII case-insensitive. */
FUZZ_ORACLE static bool below(const ldns_rdf *name, const ldns_rdf *zone)
{
	size_t no[256], zo[256];
	const uint8_t *n = ldns_rdf_data(name), *z = ldns_rdf_data(zone);
	int nl = label_count(n, ldns_rdf_size(name), no);
	int zl = label_count(z, ldns_rdf_size(zone), zo);
	size_t tail;

	if (nl < 0 || zl < 0 || nl < zl)
		return false;
	if (zl == 0)
		return true;
	tail = ldns_rdf_size(name) - no[nl - zl];
	if (tail != ldns_rdf_size(zone))
		return false;
	for (size_t i = 0; i < tail; i++)
		if (tolower(n[no[nl - zl] + i]) != tolower(z[i]))
			return false;
	return true;
}

FUZZ_ORACLE static bool same_name(const ldns_rdf *a, const ldns_rdf *b)
{
	return below(a, b) && below(b, a);
}

/* For messages: a few rotating buffers, as one message names two names. */
static char *name_str(const ldns_rdf *r)
{
	static char buf[4][1100];
	static unsigned next;
	char *out = buf[next++ % 4], *s = ldns_rdf2str(r);

	snprintf(out, sizeof(buf[0]), "%s", s ? s : "?");
	free(s);
	return out;
}

/* ---- cache fingerprints ---- */

struct fp_set {
	uint64_t *v;
	size_t n, cap;
};

FUZZ_ORACLE static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

FUZZ_ORACLE static uint64_t fnv_name(uint64_t h, const ldns_rdf *r)
{
	for (size_t i = 0; r && i < ldns_rdf_size(r); i++) {
		uint8_t c = (uint8_t)tolower(ldns_rdf_data(r)[i]);

		h = fnv(h, &c, 1);
	}
	return h;
}

FUZZ_ORACLE static uint64_t fnv_rr(uint64_t h, const ldns_rr *rr)
{
	uint32_t f[3] = { ldns_rr_get_type(rr), ldns_rr_get_class(rr), ldns_rr_ttl(rr) };

	h = fnv_name(h, ldns_rr_owner(rr));
	h = fnv(h, f, sizeof(f));
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *d = ldns_rr_rdf(rr, i);

		if (d)
			h = fnv(h, ldns_rdf_data(d), ldns_rdf_size(d));
	}
	return h;
}

FUZZ_ORACLE static uint64_t fingerprint(const struct cache_entry_view *e)
{
	uint32_t f[7] = { e->type, e->cls, e->negative, e->nxdomain, e->trust, e->security,
			  e->ttl };
	uint64_t h = fnv_name(0xcbf29ce484222325ull, e->owner);

	h = fnv(h, f, sizeof(f));
	for (size_t i = 0; e->rrset && i < ldns_rr_list_rr_count(e->rrset); i++)
		h = fnv_rr(h, ldns_rr_list_rr(e->rrset, i));
	for (size_t i = 0; e->rrsigs && i < ldns_rr_list_rr_count(e->rrsigs); i++)
		h = fnv_rr(h, ldns_rr_list_rr(e->rrsigs, i));
	if (e->soa)
		h = fnv_rr(h, e->soa);
	return h;
}

FUZZ_ORACLE static int collect_cb(void *ud, const struct cache_entry_view *e)
{
	struct fp_set *s = ud;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		FUZZ_CHECK(v, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = fingerprint(e);
	return 0;
}

FUZZ_ORACLE static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void snapshot(struct cache *c, uint64_t now, struct fp_set *s)
{
	s->n = 0;
	cache_walk(c, NULL, now, collect_cb, s);
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
}

/* What one reply was allowed to touch. */
struct reply_ctx {
	const struct fp_set *before;
	const ldns_rdf *zone; /* NULL: a timeout, nothing may change */
	bool aa;
	size_t changed;
};

FUZZ_ORACLE static void check_entry_shape(const struct cache_entry_view *e)
{
	for (size_t i = 0; e->rrset && i < ldns_rr_list_rr_count(e->rrset); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(e->rrset, i);

		FUZZ_CHECK(same_name(ldns_rr_owner(rr), e->owner) &&
			   ldns_rr_get_type(rr) == e->type && ldns_rr_get_class(rr) == e->cls,
			   "RRset at %s holds a foreign record", name_str(e->owner));
	}
	FUZZ_CHECK(!e->negative || e->soa, "negative entry without SOA");
	FUZZ_CHECK(e->negative || (e->rrset && ldns_rr_list_rr_count(e->rrset) > 0),
		   "positive entry without records at %s", name_str(e->owner));
}

FUZZ_ORACLE static int check_cb(void *ud, const struct cache_entry_view *e)
{
	struct reply_ctx *r = ud;
	uint64_t fp = fingerprint(e);

	check_entry_shape(e);
	if (r->before->n && bsearch(&fp, r->before->v, r->before->n, sizeof(fp), cmp_u64))
		return 0;
	r->changed++;
	FUZZ_CHECK(r->zone, "a timeout changed the cache entry at %s", name_str(e->owner));
	FUZZ_CHECK(below(e->owner, r->zone), "bailiwick: reply from a server for %s made "
		   "a %s entry at %s (type %u)", name_str(r->zone),
		   e->negative ? "negative" : "positive", name_str(e->owner), e->type);
	if (e->negative) {
		const ldns_rdf *apex = ldns_rr_owner(e->soa);

		FUZZ_CHECK(below(apex, r->zone), "bailiwick: negative entry proven by an SOA "
			   "at %s from a server for %s", name_str(apex), name_str(r->zone));
		FUZZ_CHECK(below(e->owner, apex), "negative entry at %s proven by the SOA of "
			   "another zone", name_str(e->owner));
	}
	FUZZ_CHECK(r->aa || e->trust <= CACHE_TRUST_ANSWER_NONAUTH,
		   "non-AA reply stored %s at trust %s", name_str(e->owner),
		   cache_trust_str(e->trust));
	return 0;
}

/* ---- the run ---- */

/* The seed RRsets, parsed once; each store is of copies. */
struct seed_set {
	ldns_rr_list *rrs;
	enum cache_trust trust;
};

static ldns_rr_list *parse_list(const char *const *text, size_t n)
{
	ldns_rr_list *set = ldns_rr_list_new();

	FUZZ_CHECK(set, "out of memory");
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;

		FUZZ_CHECK(ldns_rr_new_frm_str(&rr, text[i], 0, NULL, NULL) == LDNS_STATUS_OK &&
			   ldns_rr_list_push_rr(set, rr), "seed record %s", text[i]);
	}
	return set;
}

/* Glue comes one RRset per owner, so one store per record. */
static void seed(struct cache *c, const ldns_rr_list *set, enum cache_trust t)
{
	if (t == CACHE_TRUST_GLUE) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(set); i++) {
			ldns_rr_list *one = ldns_rr_list_new();

			FUZZ_CHECK(one && ldns_rr_list_push_rr(one, ldns_rr_list_rr(set, i)), "oom");
			FUZZ_CHECK(cache_store_rrset(c, one, NULL, t, T0_MS) == 0, "seed store");
			ldns_rr_list_free(one);
		}
	} else {
		FUZZ_CHECK(cache_store_rrset(c, set, NULL, t, T0_MS) == 0, "seed store");
	}
}

static ldns_rr_list *l_root, *l_root_glue, *l_deleg, *l_deleg_glue, *l_glueless;

static void parse_seeds(void)
{
	l_root = parse_list(seed_root, N(seed_root));
	l_root_glue = parse_list(seed_root_glue, N(seed_root_glue));
	l_deleg = parse_list(seed_deleg, N(seed_deleg));
	l_deleg_glue = parse_list(seed_deleg_glue, N(seed_deleg_glue));
	l_glueless = parse_list(seed_glueless, N(seed_glueless));
}

static void seed_scenario(struct cache *c, unsigned scenario)
{
	if (scenario == 0)
		return; /* cold: the iterator primes the root */
	seed(c, l_root, CACHE_TRUST_ANSWER_AUTH);
	seed(c, l_root_glue, CACHE_TRUST_GLUE);
	if (scenario == 2) {
		seed(c, l_deleg, CACHE_TRUST_REFERRAL);
		seed(c, l_deleg_glue, CACHE_TRUST_GLUE);
	} else if (scenario == 3) {
		seed(c, l_glueless, CACHE_TRUST_REFERRAL);
	}
}

/* The transport delivers only replies whose question matches the one sent. */
static void set_question(ldns_pkt *p, const struct iter_out *out)
{
	ldns_rr_list *ql = ldns_rr_list_new();
	ldns_rr *q = ldns_rr_new();
	ldns_rdf *owner = ldns_rdf_clone(out->qname);

	FUZZ_CHECK(ql && q && owner, "out of memory");
	ldns_rr_set_owner(q, owner);
	ldns_rr_set_type(q, out->qtype);
	ldns_rr_set_class(q, out->qclass);
	ldns_rr_set_question(q, true);
	FUZZ_CHECK(ldns_rr_list_push_rr(ql, q), "out of memory");
	ldns_rr_list_deep_free(ldns_pkt_question(p));
	ldns_pkt_set_question(p, ql);
	ldns_pkt_set_qdcount(p, 1);
	ldns_pkt_set_qr(p, true);
}

/* The answer a client would get: each record owned by the question name,
 * by a CNAME target met earlier, or a DNAME above one of those. */
FUZZ_ORACLE static void check_answer_chain(const ldns_rr_list *an, const ldns_rdf *qname)
{
	const ldns_rdf *names[64];
	size_t nn = 0;

	names[nn++] = qname;
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *o = ldns_rr_owner(rr);
		bool ok = false;

		FUZZ_CHECK(o, "answer record without owner");
		for (size_t k = 0; k < nn && !ok; k++)
			ok = same_name(o, names[k]) ||
			     (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME && below(names[k], o));
		FUZZ_CHECK(ok, "answer record at %s is not on the chain from the question",
			   name_str(o));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1 &&
		    nn < N(names))
			names[nn++] = ldns_rr_rdf(rr, 0);
	}
}

/* ---- where the result goes next ---- */

/* The client's side: the iterator's answer written as request.c writes
 * it, for a query as a stub resolver would send it. */
static void check_client_answer(struct iter_q *q, const ldns_rdf *qname, ldns_rr_type qtype)
{
	ldns_pkt *query = ldns_pkt_query_new(ldns_rdf_clone(qname), qtype, LDNS_RR_CLASS_IN,
					     LDNS_RD);
	uint8_t *qwire = NULL;
	size_t qlen = 0, lens[2] = { MSG_MAX_TCP, 512 };
	struct msg_query mq;
	uint16_t rcode;

	FUZZ_CHECK(query, "out of memory");
	ldns_pkt_set_edns_udp_size(query, 1232);
	FUZZ_CHECK(ldns_pkt2wire(&qwire, query, &qlen) == LDNS_STATUS_OK, "query to wire");
	FUZZ_CHECK(msg_parse_query(qwire, qlen, &mq, &rcode) == MSG_OK, "our query refused");
	for (int i = 0; i < 2; i++) {
		size_t len = msg_build_response(&mq, (uint16_t)iter_rcode(q), iter_answer(q),
						iter_authority(q), NULL, lens[i], wire,
						sizeof(wire));
		ldns_pkt *p = NULL;

		FUZZ_CHECK(len > 0, "the iterator's answer cannot be written for the client "
			   "(%zu answer, %zu authority records)",
			   ldns_rr_list_rr_count(iter_answer(q)),
			   ldns_rr_list_rr_count(iter_authority(q)));
		FUZZ_CHECK(len <= lens[i], "answer of %zu octets over %zu", len, lens[i]);
		FUZZ_CHECK(ldns_wire2pkt(&p, wire, len) == LDNS_STATUS_OK,
			   "the answer for the client does not parse");
		ldns_pkt_free(p);
	}
	free(qwire);
	ldns_pkt_free(query);
}

static uint64_t rt_now;

static uint64_t rt_now_cb(void *ud)
{
	(void)ud;
	return rt_now;
}

static time_t rt_wall_cb(void *ud)
{
	(void)ud;
	return 1700000000; /* the same at dump and load: no TTL ages */
}

/* With FUZZ_VERBOSE, the cache as ldns prints it (NULL: unprintable). */
FUZZ_ORACLE static int debug_print_cb(void *ud, const struct cache_entry_view *e)
{
	(void)ud;
	for (size_t i = 0; e->rrset && i < ldns_rr_list_rr_count(e->rrset); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(e->rrset, i);
		char *t = ldns_rr2str(rr);

		if (t)
			fprintf(stderr, "cache: %s", t);
		else
			fprintf(stderr, "cache: %s type %u: ldns_rr2str failed\n",
				name_str(e->owner), ldns_rr_get_type(rr));
		for (size_t k = 0; !t && k < ldns_rr_rd_count(rr); k++) {
			const ldns_rdf *d = ldns_rr_rdf(rr, k);

			fprintf(stderr, "  rdf %zu: type %d, %zu octets:", k, ldns_rdf_get_type(d),
				ldns_rdf_size(d));
			for (size_t b = 0; b < ldns_rdf_size(d); b++)
				fprintf(stderr, " %02x", ldns_rdf_data(d)[b]);
			fputc('\n', stderr);
		}
		free(t);
	}
	return 0;
}

/* Run a control command handler to its end, body into out; its rc. */
static int run_cmd(struct control *ctl, int argc, char **argv, struct ctl_buf *out,
		   char *err, size_t errlen)
{
	struct ctl_req r = { .ctl = ctl, .out = out, .argc = argc };
	int rc;

	FUZZ_CHECK(ctl->env.cache && argc <= CTL_MAX_ARGS, "bad command setup");
	for (int i = 0; i < argc; i++)
		r.argv[i] = argv[i];
	if (strcmp(argv[1], "dump") == 0)
		rc = control_cmd_cache_dump(&r);
	else
		rc = control_cmd_cache_load(&r);
	if (rc == CTL_JOB) {
		struct ctl_job *j = r.job;

		do {
			rc = j->step(j, out, err, errlen);
		} while (rc == 1);
		j->free(j);
	} else if (rc < 0) {
		snprintf(err, errlen, "%s", r.err);
	}
	if (out->oom && getenv("FUZZ_VERBOSE"))
		cache_walk(ctl->env.cache, NULL, rt_now, debug_print_cb, NULL);
	FUZZ_CHECK(!out->oom, "'cache %s' output marked out of memory (a record ldns cannot "
		   "print?  FUZZ_VERBOSE=1 lists them)", argv[1]);
	return rc;
}

static unsigned long long field(const struct ctl_buf *b, const char *key)
{
	const char *p = b->data ? strstr(b->data, key) : NULL;

	FUZZ_CHECK(p, "no '%s' in the load report", key);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Every record line of the dump reads back with ldns, as "cache load"
 * reads it. */
FUZZ_ORACLE static void check_dump_lines_parse(const struct ctl_buf *d)
{
	char *text = strndup(d->data, d->len), *save = NULL;

	FUZZ_CHECK(text, "out of memory");
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;
		ldns_status st;

		if (l[0] == ';')
			continue;
		st = ldns_rr_new_frm_str(&rr, l, 0, NULL, NULL);
		FUZZ_CHECK(st == LDNS_STATUS_OK, "a dump line does not read back (%s): %s",
			   ldns_get_errorstr_by_id(st), l);
		ldns_rr_free(rr);
	}
	free(text);
}

FUZZ_ORACLE static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dump's entries (from one ";!rrset" or ";!negative" line to the
 * next annotation), sorted, joined: equal for two dumps of the same
 * entries whatever the order the hash table walks them in. */
FUZZ_ORACLE static char *dump_entries_sorted(const struct ctl_buf *d)
{
	char *text = strndup(d->data, d->len), **blocks, *out, *p;
	size_t n = 0, cap = 16, len = 0;

	blocks = malloc(cap * sizeof(*blocks));
	FUZZ_CHECK(text && blocks, "out of memory");
	for (p = text; (p = strstr(p, "\n;!")); p++)
		*p = '\x01';   /* cut before each annotation */
	for (p = strtok(text, "\x01"); p; p = strtok(NULL, "\x01")) {
		if (strncmp(p, ";!rrset ", 8) != 0 && strncmp(p, ";!negative ", 11) != 0)
			continue;
		if (n == cap) {
			cap *= 2;
			blocks = realloc(blocks, cap * sizeof(*blocks));
			FUZZ_CHECK(blocks, "out of memory");
		}
		blocks[n++] = p;
		len += strlen(p) + 2;
	}
	qsort(blocks, n, sizeof(*blocks), cmp_strp);
	out = calloc(1, len + 1);
	FUZZ_CHECK(out, "out of memory");
	for (size_t i = 0; i < n; i++) {
		strcat(out, blocks[i]);
		strcat(out, "\n|");
	}
	free(blocks);
	free(text);
	return out;
}

/* Every entry was taken: a dump of the loaded cache is the same text,
 * so every record came back exactly (generic form included). */
static void check_same_dump(struct control *ctl2, const struct ctl_buf *first)
{
	struct ctl_buf again = { 0 };
	char err[CTL_ERR_MAX] = "", *argv_dump[] = { "cache", "dump" };
	char *a, *b;

	FUZZ_CHECK(run_cmd(ctl2, 2, argv_dump, &again, err, sizeof(err)) == 0,
		   "cache dump of the loaded cache failed: %s", err);
	a = dump_entries_sorted(first);
	b = dump_entries_sorted(&again);
	if (strcmp(a, b) != 0 && getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "---- first ----\n%s\n---- after load ----\n%s\n", a, b);
	FUZZ_CHECK(strcmp(a, b) == 0, "the loaded cache dumps differently (FUZZ_VERBOSE=1 "
		   "shows both)");
	free(a);
	free(b);
	control_buf_free(&again);
}

static void check_dump_load(struct cache *c, uint64_t now)
{
	struct control ctl = { 0 }, ctl2 = { 0 };
	struct ctl_buf dump = { 0 }, rep = { 0 };
	char err[CTL_ERR_MAX] = "", *argv_dump[] = { "cache", "dump" };
	char *argv_load[] = { "cache", "load", dump_path };
	struct cache_stats st;
	unsigned long long n;
	const char *h;
	int rc;

	rt_now = now;
	ctl.env.cache = c;
	ctl.env.now_ms = rt_now_cb;
	ctl.env.wall_now = rt_wall_cb;
	ctl2.env = ctl.env;
	ctl2.env.cache = cache_new(1u << 21, NULL);
	FUZZ_CHECK(ctl2.env.cache, "out of memory");
	rc = run_cmd(&ctl, 2, argv_dump, &dump, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "cache dump failed: %s", err);
	h = dump.data ? strstr(dump.data, "\n;!end entries=") : NULL;
	FUZZ_CHECK(h, "dump without its ;!end line");
	n = strtoull(h + 15, NULL, 10);
	check_dump_lines_parse(&dump);
	FUZZ_CHECK(ftruncate(dump_fd, 0) == 0 &&
		   pwrite(dump_fd, dump.data, dump.len, 0) == (ssize_t)dump.len, "memfd write");
	rc = run_cmd(&ctl2, 3, argv_load, &rep, err, sizeof(err));
	if (rc != 0 && getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "---- dump ----\n%.*s---- end ----\n", (int)dump.len, dump.data);
	FUZZ_CHECK(rc == 0, "our own cache dump does not load: %s", err);
	FUZZ_CHECK(field(&rep, "skipped: ") == 0, "our own dump did not load whole: %.*s",
		   (int)rep.len, rep.data);
	FUZZ_CHECK(field(&rep, "loaded: ") + field(&rep, "expired: ") +
		   field(&rep, "refused: ") == n, "%llu entries dumped, report: %.*s", n,
		   (int)rep.len, rep.data);
	cache_get_stats(ctl2.env.cache, &st);
	FUZZ_CHECK(st.entries <= n, "%llu entries from a dump of %llu",
		   (unsigned long long)st.entries, n);
	if (field(&rep, "loaded: ") == n && st.entries == n)
		check_same_dump(&ctl2, &dump);
	control_buf_free(&dump);
	control_buf_free(&rep);
	cache_free(ctl2.env.cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { .p = data, .len = size };
	struct iter_env env = { 0 };
	struct fp_set before = { 0 };
	struct iter_out out;
	struct iter_q *q;
	ldns_rdf *qname;
	uint64_t now = T0_MS;
	enum iter_act act;
	unsigned sends = 0;
	uint8_t mode = 0;

	fuzz_rnd_seed(size);
	fuzz_log_reset();
	fuzz_u8(&in, &mode);
	env.cache = cache_new(1u << 20, NULL);
	env.infra = infra_new(64, 900000);
	FUZZ_CHECK(env.cache && env.infra, "out of memory");
	env.hints = hints;
	env.lim = (struct iter_limits){ .max_referrals = 8, .max_cname_chain = 8,
					.max_glueless_per_referral = 2,
					.max_upstream_queries = 32, .max_subquery_depth = 3 };
	env.do_ip4 = true;
	env.do_ip6 = !(mode & 0x40);
	seed_scenario(env.cache, mode & 3);
	qname = ldns_dname_new_frm_str(mode & 0x20 ? "example.com." : "www.example.com.");
	FUZZ_CHECK(qname, "out of memory");
	q = iter_new(&env, qname, qtypes[(mode >> 2) & 7], LDNS_RR_CLASS_IN, now);
	FUZZ_CHECK(q, "iter_new failed");

	act = iter_step(q, now, &out);
	while (act == ITER_SEND) {
		struct reply_ctx rc = { .before = &before };
		ldns_rdf *zone = ldns_rdf_clone(out.zone);
		ldns_pkt *pkt = NULL;
		const uint8_t *msg;
		uint16_t len = 0;
		uint8_t ctl = 1;

		FUZZ_CHECK(zone, "out of memory");
		FUZZ_CHECK(++sends <= MAX_SENDS, "more than %d sends for one query", MAX_SENDS);
		FUZZ_CHECK(out.qname && below(out.qname, out.zone),
			   "asked a server for %s about %s", name_str(out.zone),
			   out.qname ? name_str(out.qname) : "(null)");
		FUZZ_CHECK(out.addrlen > 0 && out.timeout_ms > 0, "bad iter_out");
		fuzz_u8(&in, &ctl);
		if (!(ctl & 1) && fuzz_u16(&in, &len) == 0) {
			size_t n = fuzz_take(&in, len, &msg);

			if (ldns_wire2pkt(&pkt, msg, n) != LDNS_STATUS_OK)
				pkt = NULL;
		}
		/* Both walks at the clock the reply is processed with, so that
		 * remaining TTLs of untouched entries compare equal. */
		now += pkt ? (uint64_t)(ctl >> 3) * 16 : out.timeout_ms;
		snapshot(env.cache, now, &before);
		if (pkt) {
			if (!(ctl & 2))
				set_question(pkt, &out);
			rc.zone = zone;
			rc.aa = ldns_pkt_aa(pkt);
			iter_response(q, now, pkt, (uint32_t)(ctl >> 3) * 16);
		} else {
			iter_timeout(q, now);
		}
		/* The reply is scrubbed, classified and cached in this call. */
		act = iter_step(q, now, &out);
		cache_walk(env.cache, NULL, now, check_cb, &rc);
		ldns_rdf_deep_free(zone);
	}

	FUZZ_CHECK(strncmp(iter_failure_reason(q), "internal", 8) != 0, "%s",
		   iter_failure_reason(q));
	if (iter_rcode(q) == LDNS_RCODE_NOERROR)
		check_answer_chain(iter_answer(q), qname);
	check_client_answer(q, qname, qtypes[(mode >> 2) & 7]);
	if (mode & 0x80)
		check_dump_load(env.cache, now);
	FUZZ_CHECK(fuzz_log_errors() == 0, "errors logged");

	iter_free(q);
	ldns_rdf_deep_free(qname);
	cache_free(env.cache);
	infra_free(env.infra);
	free(before.v);
	return 0;
}
