/* test_iter.c — unit tests for the iterator and its helpers.
 *
 * The iterator does no I/O, so the tests play the network: a table of
 * fake servers (address -> zones served and a behaviour) answers every
 * ITER_SEND in-process, like a tiny authoritative server would (referrals
 * with glue, AA answers, CNAME/DNAME chains, NXDOMAIN/NODATA with SOA),
 * or misbehaves on purpose (timeouts, REFUSED, SERVFAIL, upward
 * referrals, poisoned sections).  The clock is a plain integer.  Each test
 * counts what was sent to whom, which is how "went straight to the
 * example.com servers" or "answered from cache" is checked.
 *
 * Standalone tests cover scrubbing, classification, the delegation point
 * and the name helpers on hand-built packets.
 *
 * Check forks a child per test and the child's exit skips LeakSanitizer's
 * end-of-process check, so teardown runs it explicitly (as test_cache.c). */
#include "iter.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iter_priv.h"
#include "log.h"

#include "leak.h"

/* ------------------------------------------------------------------ */
/* The simulated hierarchy                                             */
/* ------------------------------------------------------------------ */

#define SOA_TAIL " 1 3600 900 604800 300"

static const char *const z_root[] = {
	". 86400 IN SOA a.root-servers.net. nstld.example. 1 1800 900 604800 86400",
	". 518400 IN NS a.root-servers.net.",
	". 518400 IN NS b.root-servers.net.",
	"a.root-servers.net. 518400 IN A 127.0.0.1",
	"b.root-servers.net. 518400 IN A 127.0.0.2",
	"com. 172800 IN NS a.gtld-servers.net.",
	"com. 172800 IN NS b.gtld-servers.net.",
	"a.gtld-servers.net. 172800 IN A 127.0.1.1",
	"b.gtld-servers.net. 172800 IN A 127.0.1.2",
	"net. 172800 IN NS ns.nic.net.",
	"ns.nic.net. 172800 IN A 127.0.2.1",
	NULL,
};

static const char *const z_com[] = {
	"com. 86400 IN SOA a.gtld-servers.net. nstld.example." SOA_TAIL,
	"com. 172800 IN NS a.gtld-servers.net.",
	"com. 172800 IN NS b.gtld-servers.net.",
	"example.com. 172800 IN NS ns1.example.com.",
	"example.com. 172800 IN NS ns2.example.com.",
	"ns1.example.com. 172800 IN A 127.0.3.1",
	"ns2.example.com. 172800 IN A 127.0.3.2",
	"example.com. 86400 IN DS 12345 8 1 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE",
	"glueless.com. 172800 IN NS ns.glueless-host.net.",
	"deep.com. 172800 IN NS ns.deep.com.",
	"ns.deep.com. 172800 IN A 127.0.6.1",
	"lame.com. 172800 IN NS ns1.lame.com.",
	"lame.com. 172800 IN NS ns2.lame.com.",
	"ns1.lame.com. 172800 IN A 127.0.7.1",
	"ns2.lame.com. 172800 IN A 127.0.7.2",
	"err.com. 172800 IN NS ns1.err.com.",
	"err.com. 172800 IN NS ns2.err.com.",
	"err.com. 172800 IN NS ns3.err.com.",
	"ns1.err.com. 172800 IN A 127.0.10.1",
	"ns2.err.com. 172800 IN A 127.0.10.2",
	"ns3.err.com. 172800 IN A 127.0.10.3",
	"slow.com. 172800 IN NS ns1.slow.com.",
	"slow.com. 172800 IN NS ns2.slow.com.",
	"ns1.slow.com. 172800 IN A 127.0.11.1",
	"ns2.slow.com. 172800 IN A 127.0.11.2",
	"dead.com. 172800 IN NS ns1.dead.com.",
	"dead.com. 172800 IN NS ns2.dead.com.",
	"ns1.dead.com. 172800 IN A 127.0.12.1",
	"ns2.dead.com. 172800 IN A 127.0.12.2",
	"mute.com. 172800 IN NS ns1.mute.com.",
	"mute.com. 172800 IN NS ns2.mute.com.",
	"ns1.mute.com. 172800 IN A 127.0.15.1",
	"ns2.mute.com. 172800 IN A 127.0.15.2",
	"oob.com. 172800 IN NS ns.oob.net.",
	"ns.oob.net. 172800 IN A 6.6.6.6", /* out-of-bailiwick "glue" */
	"poison.com. 172800 IN NS ns.poison.com.",
	"ns.poison.com. 172800 IN A 127.0.14.1",
	"v6only.com. 172800 IN NS ns.v6host.net.",
	"intzone.com. 172800 IN NS ns.intzone.com.", /* in-zone NS, no glue */
	"nxns.com. 172800 IN NS ns01.sink.net.",
	"nxns.com. 172800 IN NS ns02.sink.net.",
	"nxns.com. 172800 IN NS ns03.sink.net.",
	"nxns.com. 172800 IN NS ns04.sink.net.",
	"nxns.com. 172800 IN NS ns05.sink.net.",
	"nxns.com. 172800 IN NS ns06.sink.net.",
	"nxns.com. 172800 IN NS ns07.sink.net.",
	"nxns.com. 172800 IN NS ns08.sink.net.",
	"nxns.com. 172800 IN NS ns09.sink.net.",
	"nxns.com. 172800 IN NS ns10.sink.net.",
	"nxns.com. 172800 IN NS ns11.sink.net.",
	"nxns.com. 172800 IN NS ns12.sink.net.",
	"nxns.com. 172800 IN NS ns13.sink.net.",
	"nxns.com. 172800 IN NS ns14.sink.net.",
	"nxns.com. 172800 IN NS ns15.sink.net.",
	"nxns.com. 172800 IN NS ns16.sink.net.",
	"nxns.com. 172800 IN NS ns17.sink.net.",
	"nxns.com. 172800 IN NS ns18.sink.net.",
	"nxns.com. 172800 IN NS ns19.sink.net.",
	"nxns.com. 172800 IN NS ns20.sink.net.",
	NULL,
};

static const char *const z_net[] = {
	"net. 86400 IN SOA ns.nic.net. nstld.example." SOA_TAIL,
	"net. 172800 IN NS ns.nic.net.",
	"ns.nic.net. 172800 IN A 127.0.2.1",
	"example.net. 172800 IN NS ns1.example.net.",
	"ns1.example.net. 172800 IN A 127.0.4.1",
	"glueless-host.net. 172800 IN NS ns1.glueless-host.net.",
	"ns1.glueless-host.net. 172800 IN A 127.0.5.9",
	"oob.net. 172800 IN NS ns1.oob.net.",
	"ns1.oob.net. 172800 IN A 127.0.8.9",
	"sink.net. 172800 IN NS ns1.sink.net.",
	"ns1.sink.net. 172800 IN A 127.0.13.1",
	"v6host.net. 172800 IN NS ns1.v6host.net.",
	"ns1.v6host.net. 172800 IN A 127.0.16.1",
	NULL,
};

static const char *const z_example_com[] = {
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com." SOA_TAIL,
	"example.com. 3600 IN NS ns1.example.com.",
	"example.com. 3600 IN NS ns2.example.com.",
	"ns1.example.com. 3600 IN A 127.0.3.1",
	"ns2.example.com. 3600 IN A 127.0.3.2",
	"www.example.com. 3600 IN A 192.0.2.1",
	"mail.example.com. 3600 IN A 192.0.2.2",
	"alias.example.com. 3600 IN CNAME www.example.net.",
	"alias2.example.com. 3600 IN CNAME alias.example.com.",
	"loop.example.com. 3600 IN CNAME loop.example.net.",
	"self1.example.com. 3600 IN CNAME self2.example.com.",
	"self2.example.com. 3600 IN CNAME self1.example.com.",
	"nxalias.example.com. 3600 IN CNAME nothere.example.net.",
	"dn.example.com. 3600 IN DNAME example.net.",
	NULL,
};

static const char *const z_example_net[] = {
	"example.net. 3600 IN SOA ns1.example.net. hostmaster.example.net." SOA_TAIL,
	"example.net. 3600 IN NS ns1.example.net.",
	"ns1.example.net. 3600 IN A 127.0.4.1",
	"www.example.net. 3600 IN A 192.0.2.10",
	"loop.example.net. 3600 IN CNAME loop.example.com.",
	NULL,
};

static const char *const z_glueless_host_net[] = {
	"glueless-host.net. 3600 IN SOA ns1.glueless-host.net. h.glueless-host.net." SOA_TAIL,
	"glueless-host.net. 3600 IN NS ns1.glueless-host.net.",
	"ns1.glueless-host.net. 3600 IN A 127.0.5.9",
	"ns.glueless-host.net. 3600 IN A 127.0.5.1",
	NULL,
};

static const char *const z_glueless_com[] = {
	"glueless.com. 3600 IN SOA ns.glueless-host.net. h.glueless.com." SOA_TAIL,
	"glueless.com. 3600 IN NS ns.glueless-host.net.",
	"www.glueless.com. 3600 IN A 192.0.2.50",
	NULL,
};

static const char *const z_deep_com[] = {
	"deep.com. 3600 IN SOA ns.deep.com. h.deep.com." SOA_TAIL,
	"deep.com. 3600 IN NS ns.deep.com.",
	"ns.deep.com. 3600 IN A 127.0.6.1",
	"b.deep.com. 3600 IN NS ns.b.deep.com.",
	"ns.b.deep.com. 3600 IN A 127.0.6.2",
	NULL,
};

static const char *const z_b_deep_com[] = {
	"b.deep.com. 3600 IN SOA ns.b.deep.com. h.deep.com." SOA_TAIL,
	"b.deep.com. 3600 IN NS ns.b.deep.com.",
	"ns.b.deep.com. 3600 IN A 127.0.6.2",
	"c.b.deep.com. 3600 IN NS ns.c.b.deep.com.",
	"ns.c.b.deep.com. 3600 IN A 127.0.6.3",
	NULL,
};

static const char *const z_c_b_deep_com[] = {
	"c.b.deep.com. 3600 IN SOA ns.c.b.deep.com. h.deep.com." SOA_TAIL,
	"c.b.deep.com. 3600 IN NS ns.c.b.deep.com.",
	"ns.c.b.deep.com. 3600 IN A 127.0.6.3",
	"www.c.b.deep.com. 3600 IN A 192.0.2.40",
	NULL,
};

static const char *const z_lame_com[] = {
	"lame.com. 3600 IN SOA ns2.lame.com. h.lame.com." SOA_TAIL,
	"lame.com. 3600 IN NS ns1.lame.com.",
	"lame.com. 3600 IN NS ns2.lame.com.",
	"www.lame.com. 3600 IN A 192.0.2.20",
	"mail.lame.com. 3600 IN A 192.0.2.21",
	NULL,
};

static const char *const z_err_com[] = {
	"err.com. 3600 IN SOA ns3.err.com. h.err.com." SOA_TAIL,
	"err.com. 3600 IN NS ns1.err.com.",
	"www.err.com. 3600 IN A 192.0.2.30",
	NULL,
};

static const char *const z_slow_com[] = {
	"slow.com. 3600 IN SOA ns2.slow.com. h.slow.com." SOA_TAIL,
	"slow.com. 3600 IN NS ns1.slow.com.",
	"www.slow.com. 3600 IN A 192.0.2.31",
	NULL,
};

static const char *const z_oob_net[] = {
	"oob.net. 3600 IN SOA ns1.oob.net. h.oob.net." SOA_TAIL,
	"oob.net. 3600 IN NS ns1.oob.net.",
	"ns1.oob.net. 3600 IN A 127.0.8.9",
	"ns.oob.net. 3600 IN A 127.0.8.1",
	NULL,
};

static const char *const z_oob_com[] = {
	"oob.com. 3600 IN SOA ns.oob.net. h.oob.com." SOA_TAIL,
	"oob.com. 3600 IN NS ns.oob.net.",
	"www.oob.com. 3600 IN A 192.0.2.60",
	NULL,
};

static const char *const z_sink_net[] = {
	"sink.net. 3600 IN SOA ns1.sink.net. h.sink.net." SOA_TAIL,
	"sink.net. 3600 IN NS ns1.sink.net.",
	"ns1.sink.net. 3600 IN A 127.0.13.1",
	NULL,
};

static const char *const z_poison_com[] = {
	"poison.com. 3600 IN SOA ns.poison.com. h.poison.com." SOA_TAIL,
	"poison.com. 3600 IN NS ns.poison.com.",
	"ns.poison.com. 3600 IN A 127.0.14.1",
	"www.poison.com. 3600 IN A 192.0.2.70",
	NULL,
};

static const char *const z_v6host_net[] = {
	"v6host.net. 3600 IN SOA ns1.v6host.net. h.v6host.net." SOA_TAIL,
	"v6host.net. 3600 IN NS ns1.v6host.net.",
	"ns1.v6host.net. 3600 IN A 127.0.16.1",
	"ns.v6host.net. 3600 IN AAAA ::1",
	NULL,
};

static const char *const z_v6only_com[] = {
	"v6only.com. 3600 IN SOA ns.v6host.net. h.v6only.com." SOA_TAIL,
	"v6only.com. 3600 IN NS ns.v6host.net.",
	"www.v6only.com. 3600 IN A 192.0.2.80",
	NULL,
};

struct zone {
	const char *apex;
	const char *const *text;
	ldns_rdf *name;     /* parsed in setup */
	ldns_rr_list *rrs;
};

static struct zone zones[] = {
	{ ".", z_root, NULL, NULL },
	{ "com.", z_com, NULL, NULL },
	{ "net.", z_net, NULL, NULL },
	{ "example.com.", z_example_com, NULL, NULL },
	{ "example.net.", z_example_net, NULL, NULL },
	{ "glueless-host.net.", z_glueless_host_net, NULL, NULL },
	{ "glueless.com.", z_glueless_com, NULL, NULL },
	{ "deep.com.", z_deep_com, NULL, NULL },
	{ "b.deep.com.", z_b_deep_com, NULL, NULL },
	{ "c.b.deep.com.", z_c_b_deep_com, NULL, NULL },
	{ "lame.com.", z_lame_com, NULL, NULL },
	{ "err.com.", z_err_com, NULL, NULL },
	{ "slow.com.", z_slow_com, NULL, NULL },
	{ "oob.net.", z_oob_net, NULL, NULL },
	{ "oob.com.", z_oob_com, NULL, NULL },
	{ "sink.net.", z_sink_net, NULL, NULL },
	{ "poison.com.", z_poison_com, NULL, NULL },
	{ "v6host.net.", z_v6host_net, NULL, NULL },
	{ "v6only.com.", z_v6only_com, NULL, NULL },
};
#define NZONES (sizeof(zones) / sizeof(zones[0]))

enum behaviour {
	B_AUTH,     /* answers from its zones like an authoritative server */
	B_TIMEOUT,  /* never answers */
	B_REFUSED,
	B_SERVFAIL,
	B_UPWARD,   /* lame: refers back up to the root */
	B_NOPRIME,  /* SERVFAIL for ". NS", authoritative otherwise */
};

typedef void (*tamper_fn)(ldns_pkt *reply, const ldns_rdf *qname);

struct server {
	const char *addr;
	enum behaviour b;
	const char *zones[3];
	tamper_fn tamper;
	unsigned hits;
};

static void tamper_com(ldns_pkt *reply, const ldns_rdf *qname);
static void tamper_poison(ldns_pkt *reply, const ldns_rdf *qname);

static struct server servers[] = {
	{ "127.0.0.1", B_AUTH, { "." }, NULL, 0 },
	{ "127.0.0.2", B_AUTH, { "." }, NULL, 0 },
	{ "127.0.1.1", B_AUTH, { "com." }, tamper_com, 0 },
	{ "127.0.1.2", B_AUTH, { "com." }, tamper_com, 0 },
	{ "127.0.2.1", B_AUTH, { "net." }, NULL, 0 },
	{ "127.0.3.1", B_AUTH, { "example.com." }, NULL, 0 },
	{ "127.0.3.2", B_AUTH, { "example.com." }, NULL, 0 },
	{ "127.0.4.1", B_AUTH, { "example.net." }, NULL, 0 },
	{ "127.0.5.9", B_AUTH, { "glueless-host.net." }, NULL, 0 },
	{ "127.0.5.1", B_AUTH, { "glueless.com." }, NULL, 0 },
	{ "127.0.6.1", B_AUTH, { "deep.com." }, NULL, 0 },
	{ "127.0.6.2", B_AUTH, { "b.deep.com." }, NULL, 0 },
	{ "127.0.6.3", B_AUTH, { "c.b.deep.com." }, NULL, 0 },
	{ "127.0.7.1", B_UPWARD, { NULL }, NULL, 0 },
	{ "127.0.7.2", B_AUTH, { "lame.com." }, NULL, 0 },
	{ "127.0.10.1", B_REFUSED, { NULL }, NULL, 0 },
	{ "127.0.10.2", B_SERVFAIL, { NULL }, NULL, 0 },
	{ "127.0.10.3", B_AUTH, { "err.com." }, NULL, 0 },
	{ "127.0.11.1", B_TIMEOUT, { NULL }, NULL, 0 },
	{ "127.0.11.2", B_AUTH, { "slow.com." }, NULL, 0 },
	{ "127.0.12.1", B_REFUSED, { NULL }, NULL, 0 },
	{ "127.0.12.2", B_UPWARD, { NULL }, NULL, 0 },
	{ "127.0.15.1", B_TIMEOUT, { NULL }, NULL, 0 },
	{ "127.0.15.2", B_TIMEOUT, { NULL }, NULL, 0 },
	{ "127.0.8.9", B_AUTH, { "oob.net." }, NULL, 0 },
	{ "127.0.8.1", B_AUTH, { "oob.com." }, NULL, 0 },
	{ "127.0.13.1", B_AUTH, { "sink.net." }, NULL, 0 },
	{ "127.0.14.1", B_AUTH, { "poison.com." }, tamper_poison, 0 },
	{ "127.0.16.1", B_AUTH, { "v6host.net." }, NULL, 0 },
	{ "::1", B_AUTH, { "v6only.com." }, NULL, 0 },
};
#define NSERVERS (sizeof(servers) / sizeof(servers[0]))

/* Every query the iterator sent, in order. */
struct sent {
	char addr[ITER_ADDR_STRLEN];
	char qname[ITER_NAME_STRLEN];
	ldns_rr_type qtype;
	char zone[ITER_NAME_STRLEN];
	bool tcp;
};
#define MAX_SENT 512
static struct sent sent_log[MAX_SENT];
static unsigned nsent, unknown_hits;

/* ------------------------------------------------------------------ */
/* Test environment                                                    */
/* ------------------------------------------------------------------ */

static struct iter_env env;
static struct hints *hints;
static uint64_t now;
static char tmpdir[64], hintspath[128];

static const char hints_text[] =
	"; two root servers for the simulated hierarchy\n"
	".                    3600000 NS a.root-servers.net.\n"
	"a.root-servers.net.  3600000 A  127.0.0.1\n"
	".                    3600000 NS b.root-servers.net.\n"
	"b.root-servers.net.  3600000 A  127.0.0.2\n";

static ldns_rdf *dn(const char *s)
{
	ldns_rdf *r = ldns_dname_new_frm_str(s);

	ck_assert_msg(r != NULL, "bad name %s", s);
	return r;
}

static ldns_rr *rr_from(const char *s)
{
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, s, 3600, NULL, NULL);

	ck_assert_msg(st == LDNS_STATUS_OK, "bad RR '%s': %s", s, ldns_get_errorstr_by_id(st));
	return rr;
}

static void parse_zones(void)
{
	for (size_t i = 0; i < NZONES; i++) {
		zones[i].name = dn(zones[i].apex);
		zones[i].rrs = ldns_rr_list_new();
		ck_assert_ptr_nonnull(zones[i].rrs);
		for (size_t j = 0; zones[i].text[j]; j++)
			ck_assert(ldns_rr_list_push_rr(zones[i].rrs, rr_from(zones[i].text[j])));
	}
}

static void free_zones(void)
{
	for (size_t i = 0; i < NZONES; i++) {
		ldns_rdf_deep_free(zones[i].name);
		ldns_rr_list_deep_free(zones[i].rrs);
		zones[i].name = NULL;
		zones[i].rrs = NULL;
	}
}

static void write_hints(void)
{
	FILE *fp;
	char err[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rw_iter_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(hintspath, sizeof(hintspath), "%s/root.hints", tmpdir);
	fp = fopen(hintspath, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(hints_text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	hints = hints_load(hintspath, err, sizeof(err));
	ck_assert_msg(hints != NULL, "hints_load: %s", err);
}

static void setup(void)
{
	const char *v = getenv("ROOTWALK_TEST_VERBOSE");

	log_set_verbosity(v ? atoi(v) : LOGL_ERR);
	parse_zones();
	write_hints();
	memset(&env, 0, sizeof(env));
	env.cache = cache_new(32u << 20, NULL);
	env.infra = infra_new(10000, 15u * 60 * 1000);
	ck_assert_ptr_nonnull(env.cache);
	ck_assert_ptr_nonnull(env.infra);
	env.hints = hints;
	env.lim.max_referrals = 10;
	env.lim.max_cname_chain = 8;
	env.lim.max_glueless_per_referral = 5;
	env.lim.max_upstream_queries = 64;
	env.lim.max_subquery_depth = 3;
	env.lim.max_target_nx = 5;
	env.do_ip4 = true;
	env.do_ip6 = false;
	now = 1000000;
	nsent = unknown_hits = 0;
	for (size_t i = 0; i < NSERVERS; i++)
		servers[i].hits = 0;
}

static void teardown(void)
{
	cache_free(env.cache);
	infra_free(env.infra);
	hints_free(hints);
	hints = NULL;
	free_zones();
	unlink(hintspath);
	rmdir(tmpdir);
	assert_no_leaks();
}

/* ------------------------------------------------------------------ */
/* The fake authoritative server                                       */
/* ------------------------------------------------------------------ */

static struct zone *zone_by_apex(const char *apex)
{
	for (size_t i = 0; i < NZONES; i++)
		if (strcmp(zones[i].apex, apex) == 0)
			return &zones[i];
	return NULL;
}

static ldns_pkt *reply_new(const ldns_rdf *qname, ldns_rr_type qtype, ldns_pkt_rcode rc)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	ldns_rr_set_owner(q, ldns_rdf_clone(qname));
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ck_assert(ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rc);
	return p;
}

static void push(ldns_pkt *p, ldns_pkt_section sec, const ldns_rr *rr)
{
	ck_assert(ldns_pkt_push_rr(p, sec, ldns_rr_clone(rr)));
}

static void push_str(ldns_pkt *p, ldns_pkt_section sec, const char *s)
{
	ck_assert(ldns_pkt_push_rr(p, sec, rr_from(s)));
}

/* Copy RRs of zone at owner with type t (0: any type) into a section. */
static size_t copy_rrs(const struct zone *z, const ldns_rdf *owner, ldns_rr_type t, ldns_pkt *p,
		       ldns_pkt_section sec)
{
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		if (iter_name_eq(ldns_rr_owner(rr), owner) &&
		    (t == 0 || ldns_rr_get_type(rr) == t)) {
			push(p, sec, rr);
			n++;
		}
	}
	return n;
}

static const ldns_rr *find_rr(const struct zone *z, const ldns_rdf *owner, ldns_rr_type t)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		if (ldns_rr_get_type(rr) == t && iter_name_eq(ldns_rr_owner(rr), owner))
			return rr;
	}
	return NULL;
}

/* The highest zone cut below the apex on the way to qname (the parent
 * side answers DS for a cut itself). */
static ldns_rdf *find_cut(const struct zone *z, const ldns_rdf *qname, ldns_rr_type qtype)
{
	ldns_rdf *best = NULL, *n = ldns_rdf_clone(qname);

	while (n && !iter_name_eq(n, z->name)) {
		ldns_rdf *up;

		if (find_rr(z, n, LDNS_RR_TYPE_NS) &&
		    !(qtype == LDNS_RR_TYPE_DS && iter_name_eq(n, qname))) {
			ldns_rdf_deep_free(best);
			best = ldns_rdf_clone(n);
		}
		up = ldns_dname_left_chop(n);
		ldns_rdf_deep_free(n);
		n = up;
	}
	ldns_rdf_deep_free(n);
	return best;
}

static void add_glue(const struct zone *z, ldns_pkt *p, const ldns_rdf *cut)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    !iter_name_eq(ldns_rr_owner(rr), cut))
			continue;
		copy_rrs(z, ldns_rr_rdf(rr, 0), LDNS_RR_TYPE_A, p, LDNS_SECTION_ADDITIONAL);
		copy_rrs(z, ldns_rr_rdf(rr, 0), LDNS_RR_TYPE_AAAA, p, LDNS_SECTION_ADDITIONAL);
	}
}

static bool name_exists(const struct zone *z, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++)
		if (iter_name_at_or_below(ldns_rr_owner(ldns_rr_list_rr(z->rrs, i)), name))
			return true;
	return false;
}

static const ldns_rr *find_dname(const struct zone *z, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME &&
		    iter_name_at_or_below(name, ldns_rr_owner(rr)) &&
		    !iter_name_eq(name, ldns_rr_owner(rr)))
			return rr;
	}
	return NULL;
}

/* Authoritative data: chase CNAME/DNAME inside the zone, then answer,
 * or say NXDOMAIN/NODATA with the SOA. */
static ldns_pkt *auth_answer(const struct zone *z, const ldns_rdf *qname, ldns_rr_type qtype)
{
	ldns_pkt *p = reply_new(qname, qtype, LDNS_RCODE_NOERROR);
	ldns_rdf *name = ldns_rdf_clone(qname);

	ldns_pkt_set_aa(p, true);
	for (int hop = 0; hop < 8; hop++) {
		const ldns_rr *d, *c;
		ldns_rdf *next;

		if (copy_rrs(z, name, qtype, p, LDNS_SECTION_ANSWER) > 0) {
			if (qtype == LDNS_RR_TYPE_NS)
				add_glue(z, p, name);
			goto out;
		}
		d = find_dname(z, name);
		c = qtype == LDNS_RR_TYPE_CNAME ? NULL : find_rr(z, name, LDNS_RR_TYPE_CNAME);
		if (d) {
			ldns_rr *syn;

			next = iter_dname_substitute(d, name);
			ck_assert_ptr_nonnull(next);
			push(p, LDNS_SECTION_ANSWER, d);
			syn = iter_synth_cname(name, next, LDNS_RR_CLASS_IN, ldns_rr_ttl(d));
			ck_assert(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, syn));
		} else if (c) {
			push(p, LDNS_SECTION_ANSWER, c);
			next = ldns_rdf_clone(ldns_rr_rdf(c, 0));
		} else {
			break;
		}
		ldns_rdf_deep_free(name);
		name = next;
		if (!iter_name_at_or_below(name, z->name))
			goto out;
	}
	if (!name_exists(z, name))
		ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
	copy_rrs(z, z->name, LDNS_RR_TYPE_SOA, p, LDNS_SECTION_AUTHORITY);
out:
	ldns_rdf_deep_free(name);
	return p;
}

static ldns_pkt *zone_reply(const struct zone *z, const ldns_rdf *qname, ldns_rr_type qtype)
{
	ldns_rdf *cut = find_cut(z, qname, qtype);
	ldns_pkt *p;

	if (!cut)
		return auth_answer(z, qname, qtype);
	p = reply_new(qname, qtype, LDNS_RCODE_NOERROR);
	copy_rrs(z, cut, LDNS_RR_TYPE_NS, p, LDNS_SECTION_AUTHORITY);
	copy_rrs(z, cut, LDNS_RR_TYPE_DS, p, LDNS_SECTION_AUTHORITY);
	add_glue(z, p, cut);
	ldns_rdf_deep_free(cut);
	return p;
}

static ldns_pkt *server_reply(struct server *s, const ldns_rdf *qname, ldns_rr_type qtype)
{
	const struct zone *best = NULL;
	ldns_pkt *p;

	switch (s->b) {
	case B_TIMEOUT:
		return NULL;
	case B_REFUSED:
		return reply_new(qname, qtype, LDNS_RCODE_REFUSED);
	case B_SERVFAIL:
		return reply_new(qname, qtype, LDNS_RCODE_SERVFAIL);
	case B_UPWARD:
		p = reply_new(qname, qtype, LDNS_RCODE_NOERROR);
		push_str(p, LDNS_SECTION_AUTHORITY, ". 518400 IN NS ns.upward.test.");
		push_str(p, LDNS_SECTION_ADDITIONAL, "ns.upward.test. 518400 IN A 6.6.6.6");
		return p;
	case B_NOPRIME:
		if (qtype == LDNS_RR_TYPE_NS && ldns_dname_label_count(qname) == 0)
			return reply_new(qname, qtype, LDNS_RCODE_SERVFAIL);
		break;
	case B_AUTH:
		break;
	}
	for (size_t i = 0; i < 3 && s->zones[i]; i++) {
		const struct zone *z = zone_by_apex(s->zones[i]);

		ck_assert_ptr_nonnull(z);
		if (iter_name_at_or_below(qname, z->name) &&
		    (!best || ldns_rdf_size(z->name) > ldns_rdf_size(best->name)))
			best = z;
	}
	if (!best)
		return reply_new(qname, qtype, LDNS_RCODE_REFUSED);
	p = zone_reply(best, qname, qtype);
	if (s->tamper)
		s->tamper(p, qname);
	return p;
}

static bool under(const ldns_rdf *name, const char *zone)
{
	ldns_rdf *z = dn(zone);
	bool r = iter_name_at_or_below(name, z);

	ldns_rdf_deep_free(z);
	return r;
}

/* A com server that tries to sneak in data about other TLDs. */
static void tamper_com(ldns_pkt *p, const ldns_rdf *qname)
{
	if (!under(qname, "poison.com."))
		return;
	push_str(p, LDNS_SECTION_ANSWER, "www.victim.net. 3600 IN A 6.6.6.6");
	push_str(p, LDNS_SECTION_AUTHORITY, "victim.net. 3600 IN NS ns.evil.org.");
	push_str(p, LDNS_SECTION_ADDITIONAL, "www.victim.net. 3600 IN A 6.6.6.6");
	push_str(p, LDNS_SECTION_ADDITIONAL, "ns.evil.org. 3600 IN A 6.6.6.6");
}

/* A zone server adding unrelated names, in and out of its zone. */
static void tamper_poison(ldns_pkt *p, const ldns_rdf *qname)
{
	push_str(p, LDNS_SECTION_ANSWER, "other.poison.com. 3600 IN A 6.6.6.6");
	push_str(p, LDNS_SECTION_ANSWER, "www.victim.net. 3600 IN A 6.6.6.6");
	push_str(p, LDNS_SECTION_AUTHORITY, "com. 3600 IN NS ns.evil.org.");
	push_str(p, LDNS_SECTION_ADDITIONAL, "ns.victim.net. 3600 IN A 6.6.6.6");
	push_str(p, LDNS_SECTION_ADDITIONAL, "other.poison.com. 3600 IN A 6.6.6.6");
}

static struct server *server_by_addr(const char *addr)
{
	for (size_t i = 0; i < NSERVERS; i++)
		if (strcmp(servers[i].addr, addr) == 0)
			return &servers[i];
	return NULL;
}

static unsigned hits(const char *addr)
{
	struct server *s = server_by_addr(addr);

	ck_assert_msg(s != NULL, "no server %s", addr);
	return s->hits;
}

/* ------------------------------------------------------------------ */
/* Driving the iterator                                                */
/* ------------------------------------------------------------------ */

/* What upstream.c would do: deliver the reply or the timeout, and tell
 * infra about it. */
static void deliver(struct iter_q *q, const struct iter_out *out)
{
	const struct sockaddr *sa = (const struct sockaddr *)&out->addr;
	struct sent *s = &sent_log[nsent < MAX_SENT ? nsent : MAX_SENT - 1];
	struct server *srv;
	ldns_pkt *reply;

	ck_assert_ptr_nonnull(out->qname);
	ck_assert_ptr_nonnull(out->zone);
	ck_assert_uint_gt(out->timeout_ms, 0);
	ck_assert_uint_eq(out->qclass, LDNS_RR_CLASS_IN);
	ck_assert(iter_name_at_or_below(out->qname, out->zone) ||
		  out->qtype == LDNS_RR_TYPE_DS);
	iter_addr_str(sa, s->addr, sizeof(s->addr));
	iter_name_str(out->qname, s->qname, sizeof(s->qname));
	iter_name_str(out->zone, s->zone, sizeof(s->zone));
	s->qtype = out->qtype;
	s->tcp = out->tcp;
	nsent++;
	ck_assert_uint_lt(nsent, MAX_SENT);
	srv = server_by_addr(s->addr);
	if (srv)
		srv->hits++;
	else
		unknown_hits++;
	reply = srv ? server_reply(srv, out->qname, out->qtype) : NULL;
	if (reply) {
		now += 5;
		infra_note_rtt(env.infra, sa, 5, now);
		iter_response(q, now, reply, 5);
	} else {
		now += out->timeout_ms;
		infra_note_timeout(env.infra, sa, now);
		iter_timeout(q, now);
	}
}

static struct iter_q *resolve(const char *name, ldns_rr_type type)
{
	ldns_rdf *qn = dn(name);
	struct iter_q *q = iter_new(&env, qn, type, LDNS_RR_CLASS_IN, now);
	struct iter_out out;

	ldns_rdf_deep_free(qn);
	ck_assert_ptr_nonnull(q);
	while (iter_step(q, now, &out) == ITER_SEND)
		deliver(q, &out);
	ck_assert_int_eq(iter_step(q, now, &out), ITER_DONE);
	return q;
}

/* Sends since mark that went to addresses starting with prefix. */
static unsigned sent_to_prefix(unsigned mark, const char *prefix)
{
	unsigned n = 0;

	for (unsigned i = mark; i < nsent; i++)
		if (strncmp(sent_log[i].addr, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static bool is_root_addr(const char *a)
{
	return strcmp(a, "127.0.0.1") == 0 || strcmp(a, "127.0.0.2") == 0;
}

/* Does the list hold owner/type with this rdata (NULL: any)? */
static bool list_has(const ldns_rr_list *l, const char *owner, ldns_rr_type t, const char *rdata)
{
	ldns_rdf *o = dn(owner);
	bool found = false;

	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l) && !found; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		char *txt;

		if (ldns_rr_get_type(rr) != t || !iter_name_eq(ldns_rr_owner(rr), o))
			continue;
		if (!rdata) {
			found = true;
			break;
		}
		txt = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		found = txt && strcmp(txt, rdata) == 0;
		free(txt);
	}
	ldns_rdf_deep_free(o);
	return found;
}

static bool cached(const char *owner, ldns_rr_type t, const char *rdata)
{
	struct cache_result res;
	ldns_rdf *o = dn(owner);
	bool r;

	memset(&res, 0, sizeof(res));
	r = cache_lookup_rrset(env.cache, o, t, LDNS_RR_CLASS_IN, CACHE_TRUST_NONE, false, now,
			       &res) == 1;
	if (r && rdata)
		r = list_has(res.rrset, owner, t, rdata);
	if (res.rrset || res.rrsigs)
		cache_result_clear(&res);
	ldns_rdf_deep_free(o);
	return r;
}

static void set_rtt(const char *addr, uint32_t rtt)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(53);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	for (int i = 0; i < 8; i++)
		infra_note_rtt(env.infra, (struct sockaddr *)&sa, rtt, now);
}

static bool lame(const char *addr, const char *zone)
{
	struct sockaddr_in sa;
	ldns_rdf *z = dn(zone);
	bool r;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(53);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	r = infra_is_lame(env.infra, (struct sockaddr *)&sa, z, now);
	ldns_rdf_deep_free(z);
	return r;
}

/* ------------------------------------------------------------------ */
/* Resolution tests                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_priming_and_walk)
{
	struct iter_q *q = resolve("www.example.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_str_eq(iter_failure_reason(q), "");
	ck_assert(list_has(iter_answer(q), "www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1"));
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 1);
	ck_assert(!iter_from_cache(q));
	/* prime, root, com, example.com */
	ck_assert_uint_eq(iter_upstream_count(q), 4);
	ck_assert_uint_eq(nsent, 4);
	ck_assert(is_root_addr(sent_log[0].addr));
	ck_assert_str_eq(sent_log[0].qname, ".");
	ck_assert_uint_eq(sent_log[0].qtype, LDNS_RR_TYPE_NS);
	ck_assert(is_root_addr(sent_log[1].addr));
	ck_assert_str_eq(sent_log[1].zone, ".");
	ck_assert_str_eq(sent_log[2].zone, "com.");
	ck_assert_uint_eq(sent_to_prefix(2, "127.0.1."), 1);
	ck_assert_str_eq(sent_log[3].zone, "example.com.");
	ck_assert_uint_eq(sent_to_prefix(3, "127.0.3."), 1);
	/* What the walk learned: root NS from priming, the delegations, and
	 * the answer at answer trust. */
	ck_assert(cached(".", LDNS_RR_TYPE_NS, "a.root-servers.net."));
	ck_assert(cached("com.", LDNS_RR_TYPE_NS, NULL));
	ck_assert(cached("example.com.", LDNS_RR_TYPE_NS, NULL));
	ck_assert(cached("ns1.example.com.", LDNS_RR_TYPE_A, "127.0.3.1"));
	ck_assert(cached("www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1"));
	iter_free(q);
}
END_TEST

START_TEST(test_cached_delegation_and_answer)
{
	struct iter_q *q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	unsigned mark = nsent;

	iter_free(q);
	/* Another name in example.com: straight to its servers. */
	q = resolve("mail.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "mail.example.com.", LDNS_RR_TYPE_A, "192.0.2.2"));
	ck_assert_uint_eq(iter_upstream_count(q), 1);
	ck_assert_uint_eq(nsent - mark, 1);
	ck_assert_uint_eq(sent_to_prefix(mark, "127.0.3."), 1);
	ck_assert(!iter_from_cache(q));
	iter_free(q);

	/* The same question again, 100 s later: from cache, nothing sent,
	 * with the remaining TTL. */
	mark = nsent;
	now += 100 * 1000;
	q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1"));
	ck_assert_uint_le(ldns_rr_ttl(ldns_rr_list_rr(iter_answer(q), 0)), 3500);
	ck_assert_uint_ge(ldns_rr_ttl(ldns_rr_list_rr(iter_answer(q), 0)), 3499);
	ck_assert(iter_from_cache(q));
	ck_assert_uint_eq(iter_upstream_count(q), 0);
	ck_assert_uint_eq(nsent, mark);
	iter_free(q);

	/* Case does not matter for the cache. */
	q = resolve("WWW.Example.COM.", LDNS_RR_TYPE_A);
	ck_assert(iter_from_cache(q));
	iter_free(q);
}
END_TEST

START_TEST(test_glueless_delegation)
{
	struct iter_q *q = resolve("www.glueless.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.glueless.com.", LDNS_RR_TYPE_A, "192.0.2.50"));
	/* The NS name was resolved through net. and glueless-host.net. */
	ck_assert_uint_eq(hits("127.0.2.1"), 1);
	ck_assert_uint_eq(hits("127.0.5.9"), 1);
	ck_assert_uint_eq(hits("127.0.5.1"), 1);
	ck_assert(cached("ns.glueless-host.net.", LDNS_RR_TYPE_A, "127.0.5.1"));
	/* The address of the NS name is not part of the client's answer. */
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 1);
	/* prime, root, com, [root, net, glueless-host], glueless */
	ck_assert_uint_eq(iter_upstream_count(q), 7);
	iter_free(q);
}
END_TEST

START_TEST(test_cross_zone_cname)
{
	struct iter_q *q = resolve("alias.example.com.", LDNS_RR_TYPE_A);
	const ldns_rr_list *an = iter_answer(q);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(an), 2);
	ck_assert_uint_eq(ldns_rr_get_type(ldns_rr_list_rr(an, 0)), LDNS_RR_TYPE_CNAME);
	ck_assert(list_has(an, "alias.example.com.", LDNS_RR_TYPE_CNAME, "www.example.net."));
	ck_assert(list_has(an, "www.example.net.", LDNS_RR_TYPE_A, "192.0.2.10"));
	ck_assert_uint_eq(hits("127.0.4.1"), 1);
	iter_free(q);

	/* Two hops, the first inside the reply, then from cache entirely. */
	q = resolve("alias2.example.com.", LDNS_RR_TYPE_A);
	an = iter_answer(q);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(an), 3);
	ck_assert(list_has(an, "alias2.example.com.", LDNS_RR_TYPE_CNAME, "alias.example.com."));
	ck_assert(list_has(an, "alias.example.com.", LDNS_RR_TYPE_CNAME, "www.example.net."));
	ck_assert(list_has(an, "www.example.net.", LDNS_RR_TYPE_A, "192.0.2.10"));
	ck_assert_uint_eq(iter_upstream_count(q), 1);
	iter_free(q);

	q = resolve("alias2.example.com.", LDNS_RR_TYPE_A);
	ck_assert(iter_from_cache(q));
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 3);
	iter_free(q);
}
END_TEST

START_TEST(test_cname_loop)
{
	struct iter_q *q = resolve("loop.example.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(q), "CNAME loop"));
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 0);
	ck_assert_uint_le(iter_upstream_count(q), 10);
	iter_free(q);

	/* A loop inside one zone, served in one reply (with an SOA). */
	q = resolve("self1.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "CNAME loop at self1.example.com.");
	iter_free(q);
}
END_TEST

START_TEST(test_cname_chain_limit)
{
	struct iter_q *q;

	env.lim.max_cname_chain = 1;
	q = resolve("alias2.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "CNAME chain longer than 1");
	iter_free(q);
}
END_TEST

START_TEST(test_nxdomain_and_nodata)
{
	struct iter_q *q = resolve("nx.example.com.", LDNS_RR_TYPE_A);
	unsigned mark;

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 0);
	ck_assert(list_has(iter_authority(q), "example.com.", LDNS_RR_TYPE_SOA, NULL));
	iter_free(q);

	q = resolve("www.example.com.", LDNS_RR_TYPE_AAAA);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 0);
	ck_assert(list_has(iter_authority(q), "example.com.", LDNS_RR_TYPE_SOA, NULL));
	ck_assert(!iter_from_cache(q));
	iter_free(q);

	/* Both again: negative cache, nothing sent. */
	mark = nsent;
	q = resolve("nx.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert(list_has(iter_authority(q), "example.com.", LDNS_RR_TYPE_SOA, NULL));
	ck_assert(iter_from_cache(q));
	iter_free(q);
	q = resolve("www.example.com.", LDNS_RR_TYPE_AAAA);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 0);
	ck_assert(list_has(iter_authority(q), "example.com.", LDNS_RR_TYPE_SOA, NULL));
	ck_assert(iter_from_cache(q));
	iter_free(q);
	ck_assert_uint_eq(nsent, mark);

	/* Past the negative TTL (SOA minimum 300 s) it is asked again. */
	now += 301 * 1000;
	q = resolve("nx.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert(!iter_from_cache(q));
	ck_assert_uint_eq(nsent - mark, 1);
	iter_free(q);
}
END_TEST

START_TEST(test_cname_then_nxdomain)
{
	struct iter_q *q = resolve("nxalias.example.com.", LDNS_RR_TYPE_A);

	/* RFC 6604: the chain stays, the rcode is the target's. */
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert(list_has(iter_answer(q), "nxalias.example.com.", LDNS_RR_TYPE_CNAME,
			   "nothere.example.net."));
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 1);
	ck_assert(list_has(iter_authority(q), "example.net.", LDNS_RR_TYPE_SOA, NULL));
	iter_free(q);

	q = resolve("nxalias.example.com.", LDNS_RR_TYPE_A);
	ck_assert(iter_from_cache(q));
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 1);
	iter_free(q);
}
END_TEST

START_TEST(test_four_zone_cuts)
{
	struct iter_q *q = resolve("www.c.b.deep.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.c.b.deep.com.", LDNS_RR_TYPE_A, "192.0.2.40"));
	ck_assert_uint_eq(iter_upstream_count(q), 6);
	ck_assert_uint_eq(hits("127.0.6.1"), 1);
	ck_assert_uint_eq(hits("127.0.6.2"), 1);
	ck_assert_uint_eq(hits("127.0.6.3"), 1);
	ck_assert_str_eq(sent_log[5].zone, "c.b.deep.com.");
	iter_free(q);
}
END_TEST

START_TEST(test_referral_limit)
{
	struct iter_q *q;

	env.lim.max_referrals = 2; /* root->com, com->deep.com, then no more */
	q = resolve("www.c.b.deep.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(q), "referral limit 2"));
	iter_free(q);
}
END_TEST

START_TEST(test_lame_server_skipped)
{
	struct iter_q *q = resolve("www.example.com.", LDNS_RR_TYPE_A);

	iter_free(q);
	/* Make the lame server the obvious first choice. */
	set_rtt("127.0.7.1", 1);
	set_rtt("127.0.7.2", 3000);
	q = resolve("www.lame.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.lame.com.", LDNS_RR_TYPE_A, "192.0.2.20"));
	ck_assert_uint_eq(hits("127.0.7.1"), 1);
	ck_assert_uint_eq(hits("127.0.7.2"), 1);
	ck_assert(lame("127.0.7.1", "lame.com."));
	ck_assert(!lame("127.0.7.2", "lame.com."));
	/* The upward referral taught us nothing about the root. */
	ck_assert(!cached(".", LDNS_RR_TYPE_NS, "ns.upward.test."));
	ck_assert(!cached("ns.upward.test.", LDNS_RR_TYPE_A, NULL));
	ck_assert(cached(".", LDNS_RR_TYPE_NS, "a.root-servers.net."));
	iter_free(q);

	/* Next question in the zone: the lame server is not asked again. */
	q = resolve("mail.lame.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(hits("127.0.7.1"), 1);
	ck_assert_uint_eq(hits("127.0.7.2"), 2);
	ck_assert_uint_eq(iter_upstream_count(q), 1);
	iter_free(q);
}
END_TEST

START_TEST(test_refused_servfail_skipped)
{
	struct iter_q *q;

	set_rtt("127.0.10.1", 1);
	set_rtt("127.0.10.2", 2);
	set_rtt("127.0.10.3", 3000);
	q = resolve("www.err.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.err.com.", LDNS_RR_TYPE_A, "192.0.2.30"));
	ck_assert_uint_eq(hits("127.0.10.1"), 1);
	ck_assert_uint_eq(hits("127.0.10.2"), 1);
	ck_assert_uint_eq(hits("127.0.10.3"), 1);
	ck_assert(lame("127.0.10.1", "err.com."));   /* REFUSED */
	ck_assert(!lame("127.0.10.2", "err.com."));  /* SERVFAIL may be passing */
	iter_free(q);
}
END_TEST

START_TEST(test_timeout_then_next_server)
{
	struct iter_q *q;

	set_rtt("127.0.11.1", 1);
	set_rtt("127.0.11.2", 3000);
	q = resolve("www.slow.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.slow.com.", LDNS_RR_TYPE_A, "192.0.2.31"));
	ck_assert_uint_eq(hits("127.0.11.1"), 1);
	ck_assert_uint_eq(hits("127.0.11.2"), 1);
	iter_free(q);
}
END_TEST

START_TEST(test_all_servers_failing)
{
	struct iter_q *q = resolve("www.dead.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "all servers for dead.com. failed");
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 0);
	ck_assert_uint_eq(hits("127.0.12.1"), 1);
	ck_assert_uint_eq(hits("127.0.12.2"), 1);
	ck_assert(lame("127.0.12.1", "dead.com."));
	ck_assert(lame("127.0.12.2", "dead.com."));
	iter_free(q);
}
END_TEST

START_TEST(test_all_servers_timeout)
{
	struct iter_q *q = resolve("www.mute.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	/* Rounds over servers that timed out, until infra calls them all
	 * dead (blocked) or ITER_TIMEOUT_RETRY_ROUNDS were made. */
	ck_assert_str_eq(iter_failure_reason(q),
			 "all servers for mute.com. are down (no reply for 1000 ms or more; probing)");
	ck_assert_uint_ge(hits("127.0.15.1"), 2);
	ck_assert_uint_le(hits("127.0.15.1"), 1 + ITER_TIMEOUT_RETRY_ROUNDS);
	ck_assert_uint_ge(hits("127.0.15.2"), 2);
	ck_assert_uint_le(hits("127.0.15.2"), 1 + ITER_TIMEOUT_RETRY_ROUNDS);
	iter_free(q);
}
END_TEST

/* A dead zone fails fast: once both servers are blocked, concurrent
 * questions get one probe per server through and the rest SERVFAIL at
 * once, without any query (instead of each waiting for timeouts). */
START_TEST(test_dead_zone_fails_fast)
{
	struct iter_q *q = resolve("www.mute.com.", LDNS_RR_TYPE_A);
	struct iter_q *p1, *p2, *fast;
	struct iter_out o1, o2, o3;
	ldns_rdf *n = dn("other.mute.com.");
	unsigned mark;

	iter_free(q);
	p1 = iter_new(&env, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	p2 = iter_new(&env, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	fast = iter_new(&env, n, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	ldns_rdf_deep_free(n);
	ck_assert(p1 && p2 && fast);
	/* the first two questions carry the probes, one per server */
	ck_assert_int_eq(iter_step(p1, now, &o1), ITER_SEND);
	ck_assert_int_eq(iter_step(p2, now, &o2), ITER_SEND);
	ck_assert_int_ne(memcmp(&o1.addr, &o2.addr, sizeof(o1.addr)), 0);
	mark = nsent;
	ck_assert_int_eq(iter_step(fast, now, &o3), ITER_DONE);
	ck_assert_int_eq(iter_rcode(fast), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(iter_upstream_count(fast), 0);
	ck_assert_uint_eq(nsent, mark);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(fast), "are down"));
	/* the probes time out: their questions end without retry rounds */
	deliver(p1, &o1);
	while (iter_step(p1, now, &o1) == ITER_SEND)
		deliver(p1, &o1);
	ck_assert_int_eq(iter_rcode(p1), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_le(iter_upstream_count(p1), 2);
	iter_free(p1);
	iter_free(p2);
	iter_free(fast);
}
END_TEST

START_TEST(test_poison_never_cached)
{
	struct iter_q *q = resolve("www.poison.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.poison.com.", LDNS_RR_TYPE_A, "192.0.2.70"));
	ck_assert_uint_eq(ldns_rr_list_rr_count(iter_answer(q)), 1);
	ck_assert(!cached("www.victim.net.", LDNS_RR_TYPE_A, NULL));
	ck_assert(!cached("victim.net.", LDNS_RR_TYPE_NS, NULL));
	ck_assert(!cached("ns.evil.org.", LDNS_RR_TYPE_A, NULL));
	ck_assert(!cached("ns.victim.net.", LDNS_RR_TYPE_A, NULL));
	ck_assert(!cached("other.poison.com.", LDNS_RR_TYPE_A, NULL));
	ck_assert(!cached("com.", LDNS_RR_TYPE_NS, "ns.evil.org."));
	ck_assert(cached("com.", LDNS_RR_TYPE_NS, "a.gtld-servers.net."));
	ck_assert_uint_eq(unknown_hits, 0);
	iter_free(q);
}
END_TEST

START_TEST(test_out_of_bailiwick_glue)
{
	struct iter_q *q = resolve("www.oob.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.oob.com.", LDNS_RR_TYPE_A, "192.0.2.60"));
	/* Nothing went to 6.6.6.6: the NS name was resolved instead. */
	ck_assert_uint_eq(unknown_hits, 0);
	ck_assert_uint_eq(hits("127.0.8.9"), 1);
	ck_assert_uint_eq(hits("127.0.8.1"), 1);
	ck_assert(cached("ns.oob.net.", LDNS_RR_TYPE_A, "127.0.8.1"));
	ck_assert(!cached("ns.oob.net.", LDNS_RR_TYPE_A, "6.6.6.6"));
	iter_free(q);
}
END_TEST

START_TEST(test_dname)
{
	struct iter_q *q = resolve("www.dn.example.com.", LDNS_RR_TYPE_A);
	const ldns_rr_list *an = iter_answer(q);
	unsigned mark;

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(an), 3);
	ck_assert(list_has(an, "dn.example.com.", LDNS_RR_TYPE_DNAME, "example.net."));
	ck_assert(list_has(an, "www.dn.example.com.", LDNS_RR_TYPE_CNAME, "www.example.net."));
	ck_assert(list_has(an, "www.example.net.", LDNS_RR_TYPE_A, "192.0.2.10"));
	iter_free(q);

	/* Another name under the DNAME: the cached DNAME rewrites it, and
	 * only example.net.'s server is asked. */
	mark = nsent;
	q = resolve("nope.dn.example.com.", LDNS_RR_TYPE_A);
	an = iter_answer(q);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NXDOMAIN);
	ck_assert(list_has(an, "dn.example.com.", LDNS_RR_TYPE_DNAME, "example.net."));
	ck_assert(list_has(an, "nope.dn.example.com.", LDNS_RR_TYPE_CNAME, "nope.example.net."));
	ck_assert_uint_eq(nsent - mark, 1);
	ck_assert_str_eq(sent_log[mark].addr, "127.0.4.1");
	iter_free(q);
}
END_TEST

START_TEST(test_nxns_bounded)
{
	struct iter_q *q = resolve("www.nxns.com.", LDNS_RR_TYPE_A);

	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(q), "nxns.com."));
	/* At most max_glueless_per_referral NS names were looked up. */
	ck_assert_uint_le(hits("127.0.13.1"), env.lim.max_glueless_per_referral);
	ck_assert_uint_ge(hits("127.0.13.1"), 1);
	/* prime, root, com, then root+net for sink.net and the lookups. */
	ck_assert_uint_le(iter_upstream_count(q), 5 + env.lim.max_glueless_per_referral);
	iter_free(q);
}
END_TEST

/* max-target-nx: once that many NS names came back without an address,
 * no further glue-less name is looked up for the client query, below the
 * per-delegation limit too; the failure says why. */
START_TEST(test_nxns_target_nx_cap)
{
	struct iter_q *q;

	env.lim.max_target_nx = 2;
	q = resolve("www.nxns.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(hits("127.0.13.1"), 2);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(q), "max-target-nx 2"));
	iter_free(q);

	/* The same question again: the names' cached NXDOMAINs count too,
	 * so the victim is not asked about further names. */
	q = resolve("www.nxns.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(hits("127.0.13.1"), 2);
	ck_assert_ptr_nonnull(strstr(iter_failure_reason(q), "max-target-nx 2"));
	iter_free(q);
}
END_TEST

START_TEST(test_in_zone_ns_without_glue)
{
	struct iter_q *q = resolve("www.intzone.com.", LDNS_RR_TYPE_A);

	/* ns.intzone.com can only be found through intzone.com itself. */
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "no usable server address for intzone.com.");
	ck_assert_uint_eq(iter_upstream_count(q), 3);
	iter_free(q);
}
END_TEST

START_TEST(test_upstream_limit)
{
	struct iter_q *q;

	env.lim.max_upstream_queries = 3;
	q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "upstream query limit 3 reached");
	ck_assert_uint_eq(iter_upstream_count(q), 3);
	ck_assert_uint_eq(nsent, 3);
	iter_free(q);

	/* The limit also binds inside a sub-resolution. */
	env.lim.max_upstream_queries = 4;
	q = resolve("www.glueless.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "upstream query limit 4 reached");
	ck_assert_uint_eq(iter_upstream_count(q), 4);
	iter_free(q);
}
END_TEST

START_TEST(test_subquery_depth_zero)
{
	struct iter_q *q;

	env.lim.max_subquery_depth = 0;
	q = resolve("www.glueless.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(hits("127.0.5.9"), 0);
	iter_free(q);
}
END_TEST

START_TEST(test_ds_goes_to_parent)
{
	struct iter_q *q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	unsigned mark = nsent, child = hits("127.0.3.1") + hits("127.0.3.2");

	iter_free(q);
	q = resolve("example.com.", LDNS_RR_TYPE_DS);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "example.com.", LDNS_RR_TYPE_DS, NULL));
	ck_assert_uint_eq(nsent - mark, 1);
	ck_assert_uint_eq(sent_to_prefix(mark, "127.0.1."), 1);
	ck_assert_str_eq(sent_log[mark].zone, "com.");
	ck_assert_uint_eq(hits("127.0.3.1") + hits("127.0.3.2"), child);
	iter_free(q);

	/* The NS of the zone itself comes from the child. */
	mark = nsent;
	q = resolve("example.com.", LDNS_RR_TYPE_NS);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "example.com.", LDNS_RR_TYPE_NS, "ns1.example.com."));
	ck_assert_uint_eq(sent_to_prefix(mark, "127.0.3."), 1);
	iter_free(q);
}
END_TEST

START_TEST(test_glue_not_an_answer)
{
	struct iter_q *q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	unsigned mark = nsent;

	iter_free(q);
	/* ns1.example.com A is cached as glue only: must be asked for. */
	q = resolve("ns1.example.com.", LDNS_RR_TYPE_A);
	ck_assert_uint_eq(nsent - mark, 1);
	ck_assert(!iter_from_cache(q));
	ck_assert(list_has(iter_answer(q), "ns1.example.com.", LDNS_RR_TYPE_A, "127.0.3.1"));
	iter_free(q);
}
END_TEST

START_TEST(test_ipv6_fallback_for_ns)
{
	struct iter_q *q;

	env.do_ip6 = true;
	q = resolve("www.v6only.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.v6only.com.", LDNS_RR_TYPE_A, "192.0.2.80"));
	ck_assert_uint_eq(hits("::1"), 1);
	/* A first (NODATA), then AAAA for the NS name. */
	ck_assert_uint_eq(hits("127.0.16.1"), 2);
	iter_free(q);

	/* Without IPv6 the same zone cannot be reached. */
	cache_flush_all(env.cache);
	env.do_ip6 = false;
	q = resolve("www.v6only.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(hits("::1"), 1);
	iter_free(q);
}
END_TEST

START_TEST(test_priming_failure_uses_hints)
{
	struct iter_q *q;

	/* Both roots fail ". NS" but answer everything else. */
	servers[0].b = B_NOPRIME;
	servers[1].b = B_NOPRIME;
	q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert(list_has(iter_answer(q), "www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1"));
	/* Priming asked each root once, then the hints were used directly. */
	ck_assert_uint_eq(iter_upstream_count(q), 5);
	ck_assert_uint_eq(sent_log[0].qtype, LDNS_RR_TYPE_NS);
	ck_assert_uint_eq(sent_log[1].qtype, LDNS_RR_TYPE_NS);
	ck_assert_str_eq(sent_log[2].qname, "www.example.com.");
	ck_assert(is_root_addr(sent_log[2].addr));
	ck_assert(!cached(".", LDNS_RR_TYPE_NS, NULL));
	iter_free(q);

	/* The next question needs no root: the cached example.com.
	 * delegation is used directly, no priming. */
	q = resolve("mail.example.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(iter_upstream_count(q), 1);
	iter_free(q);
	servers[0].b = B_AUTH;
	servers[1].b = B_AUTH;
}
END_TEST

START_TEST(test_root_lame_everywhere)
{
	struct iter_q *q;

	servers[0].b = B_UPWARD;
	servers[1].b = B_UPWARD;
	q = resolve("www.example.com.", LDNS_RR_TYPE_A);
	servers[0].b = B_AUTH;
	servers[1].b = B_AUTH;
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	ck_assert_str_eq(iter_failure_reason(q), "all servers for . failed");
	/* Each root asked once: lame for "." after priming, so skipped. */
	ck_assert_uint_eq(iter_upstream_count(q), 2);
	ck_assert(!cached(".", LDNS_RR_TYPE_NS, NULL));
	iter_free(q);
}
END_TEST

START_TEST(test_free_mid_resolution)
{
	ldns_rdf *qn = dn("www.glueless.com.");
	struct iter_q *q = iter_new(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	struct iter_out out;
	int sends = 0;

	ck_assert_ptr_nonnull(q);
	/* Stop while the glue-less NS name is being resolved (the fifth
	 * query goes to the glueless-host.net server), with it outstanding. */
	while (iter_step(q, now, &out) == ITER_SEND) {
		if (++sends == 6)
			break;
		deliver(q, &out);
	}
	ck_assert_int_eq(sends, 6);
	ck_assert_uint_eq(hits("127.0.5.9"), 0);
	iter_free(q);

	/* And with a reply delivered but not yet processed. */
	q = iter_new(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(iter_step(q, now, &out), ITER_SEND);
	deliver(q, &out);
	iter_free(q);
	ldns_rdf_deep_free(qn);
	iter_free(NULL);
}
END_TEST

START_TEST(test_misuse_is_harmless)
{
	ldns_rdf *qn = dn("www.example.com.");
	struct iter_q *q = iter_new(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	struct iter_out out;

	ck_assert_ptr_nonnull(q);
	/* A reply with nothing outstanding is dropped (and freed), a
	 * timeout ignored. */
	iter_response(q, now, reply_new(qn, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR), 1);
	iter_timeout(q, now);
	ck_assert_int_eq(iter_step(q, now, &out), ITER_SEND);
	/* No packet is a timeout. */
	iter_response(q, now, NULL, 0);
	ck_assert_int_eq(iter_step(q, now, &out), ITER_SEND);
	/* Stepping without delivering anything counts as a timeout too:
	 * both roots timed out, so this is the extra round. */
	ck_assert_int_eq(iter_step(q, now, &out), ITER_SEND);
	ck_assert_uint_eq(iter_upstream_count(q), 3);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL); /* not done yet */
	ck_assert(!iter_from_cache(q));
	iter_free(q);
	ldns_rdf_deep_free(qn);
	/* Bad arguments. */
	ck_assert_ptr_null(iter_new(&env, NULL, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now));
	ck_assert_ptr_null(iter_new(NULL, NULL, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now));
}
END_TEST

START_TEST(test_tcp_flag_and_timeout)
{
	struct sockaddr_in sa;
	struct iter_out out;
	ldns_rdf *qn = dn("www.example.com.");
	struct iter_q *q;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(53);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	infra_set_flag(env.infra, (struct sockaddr *)&sa, INFRA_TCP_ONLY, now);
	inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
	infra_set_flag(env.infra, (struct sockaddr *)&sa, INFRA_CAPS_BROKEN, now);
	q = iter_new(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now);
	ck_assert_int_eq(iter_step(q, now, &out), ITER_SEND);
	ck_assert(out.tcp);
	ck_assert_uint_eq(out.timeout_ms,
			  infra_rto(env.infra, (struct sockaddr *)&out.addr, now));
	ck_assert_uint_eq(out.addrlen, sizeof(struct sockaddr_in));
	iter_free(q);
	ldns_rdf_deep_free(qn);
}
END_TEST

START_TEST(test_verbose_logging)
{
	struct iter_q *q;

	/* Every log line of a full walk is formatted (ASan checks the
	 * buffers); output goes to stderr. */
	log_set_verbosity(LOGL_TRACE);
	q = resolve("www.glueless.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	iter_free(q);
	q = resolve("www.poison.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_NOERROR);
	iter_free(q);
	q = resolve("www.dead.com.", LDNS_RR_TYPE_A);
	ck_assert_int_eq(iter_rcode(q), LDNS_RCODE_SERVFAIL);
	iter_free(q);
	log_set_verbosity(LOGL_ERR);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Standalone: classification                                          */
/* ------------------------------------------------------------------ */

/* Build a reply from RR strings; sections end at NULL. */
static ldns_pkt *mkpkt(ldns_pkt_rcode rc, bool aa, const char *const *an, const char *const *ns,
		       const char *const *ar)
{
	ldns_rdf *q = dn("www.example.com.");
	ldns_pkt *p = reply_new(q, LDNS_RR_TYPE_A, rc);

	ldns_rdf_deep_free(q);
	ldns_pkt_set_aa(p, aa);
	for (size_t i = 0; an && an[i]; i++)
		push_str(p, LDNS_SECTION_ANSWER, an[i]);
	for (size_t i = 0; ns && ns[i]; i++)
		push_str(p, LDNS_SECTION_AUTHORITY, ns[i]);
	for (size_t i = 0; ar && ar[i]; i++)
		push_str(p, LDNS_SECTION_ADDITIONAL, ar[i]);
	return p;
}

/* Classify for qname/qtype asked of zone; returns the type and keeps the
 * details in *c (caller clears). */
static enum iter_resp classify(ldns_pkt *p, const char *qname, ldns_rr_type qt, const char *zone,
			       struct iter_class *c)
{
	ldns_rdf *qn = dn(qname), *z = dn(zone);

	ck_assert_int_eq(iter_classify(p, qn, qt, z, c), 0);
	ldns_rdf_deep_free(qn);
	ldns_rdf_deep_free(z);
	return c->type;
}

static bool name_is(const ldns_rdf *n, const char *s)
{
	ldns_rdf *x = dn(s);
	bool r = iter_name_eq(n, x);

	ldns_rdf_deep_free(x);
	return r;
}

#define SOA_EX "example.com. 300 IN SOA ns1.example.com. h.example.com." SOA_TAIL
#define SOA_NET "example.net. 300 IN SOA ns1.example.net. h.example.net." SOA_TAIL

START_TEST(test_classify_answers)
{
	struct iter_class c;
	ldns_pkt *p;

	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN A 192.0.2.1", NULL }, NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_ANSWER);
	ck_assert_uint_eq(c.hops, 0);
	ck_assert(name_is(c.target, "www.example.com."));
	iter_class_clear(&c);
	/* A non-AA answer is still an answer (cached at lower trust). */
	ldns_pkt_set_aa(p, false);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_ANSWER);
	iter_class_clear(&c);
	/* ANY: whatever is at the name. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_ANY, "example.com.", &c),
			 ITER_RESP_ANSWER);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* In-reply chain to the final answer. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME a.example.com.",
				    "a.example.com. 300 IN CNAME b.example.com.",
				    "b.example.com. 300 IN A 192.0.2.2", NULL },
		  NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_ANSWER);
	ck_assert_uint_eq(c.hops, 2);
	ck_assert_uint_eq(ldns_rr_list_rr_count(c.chain), 2);
	ck_assert(name_is(c.target, "b.example.com."));
	iter_class_clear(&c);
	/* Asking for the CNAME itself is an answer, not a chain. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_CNAME, "example.com.", &c),
			 ITER_RESP_ANSWER);
	ck_assert_uint_eq(c.hops, 0);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* Chain leaving the reply: CNAME, restart at the target. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME www.example.net.", NULL },
		  NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_CNAME);
	ck_assert(name_is(c.target, "www.example.net."));
	ck_assert_uint_eq(c.hops, 1);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* A CNAME loop inside one reply ends at a name already seen. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME a.example.com.",
				    "a.example.com. 300 IN CNAME www.example.com.", NULL },
		  NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_CNAME);
	ck_assert(name_is(c.target, "www.example.com."));
	iter_class_clear(&c);
	/* ... even when an SOA would make the end look like NODATA. */
	push_str(p, LDNS_SECTION_AUTHORITY, SOA_EX);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_CNAME);
	iter_class_clear(&c);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(test_classify_dname)
{
	struct iter_class c;
	ldns_pkt *p;

	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "example.com. 300 IN DNAME example.org.", NULL }, NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_DNAME);
	ck_assert(name_is(c.target, "www.example.org."));
	ck_assert_uint_eq(ldns_rr_list_rr_count(c.chain), 2);
	ck_assert_uint_eq(ldns_rr_get_type(ldns_rr_list_rr(c.chain, 0)), LDNS_RR_TYPE_DNAME);
	ck_assert_uint_eq(ldns_rr_get_type(ldns_rr_list_rr(c.chain, 1)), LDNS_RR_TYPE_CNAME);
	ck_assert(name_is(ldns_rr_owner(ldns_rr_list_rr(c.chain, 1)), "www.example.com."));
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(c.chain, 1)), 300);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* DNAME whose target is answered in the same reply; a server CNAME
	 * that disagrees with the DNAME is ignored. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "example.com. 300 IN DNAME sub.example.com.",
				    "www.example.com. 300 IN CNAME evil.example.com.",
				    "www.sub.example.com. 300 IN A 192.0.2.9", NULL },
		  NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_ANSWER);
	ck_assert(name_is(c.target, "www.sub.example.com."));
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* A DNAME outside the zone asked does not apply. */
	p = mkpkt(LDNS_RCODE_NOERROR, false,
		  (const char *[]){ "com. 300 IN DNAME example.org.", NULL }, NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(test_classify_negative)
{
	struct iter_class c;
	ldns_pkt *p;

	p = mkpkt(LDNS_RCODE_NXDOMAIN, true, NULL, (const char *[]){ SOA_EX, NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_NXDOMAIN);
	ck_assert_ptr_nonnull(c.soa);
	iter_class_clear(&c);
	/* From a parent asked: the SOA of a zone below the one asked. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "com.", &c),
			 ITER_RESP_NXDOMAIN);
	ck_assert_ptr_nonnull(c.soa);
	iter_class_clear(&c);
	/* An SOA above the zone asked proves nothing. */
	ck_assert_int_eq(classify(p, "www.sub.example.com.", LDNS_RR_TYPE_A, "sub.example.com.",
				  &c),
			 ITER_RESP_NXDOMAIN);
	ck_assert_ptr_null(c.soa);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	p = mkpkt(LDNS_RCODE_NOERROR, true, NULL, (const char *[]){ SOA_EX, NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_NODATA);
	ck_assert_ptr_nonnull(c.soa);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* AA with empty sections is NODATA too. */
	p = mkpkt(LDNS_RCODE_NOERROR, true, NULL, NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_NODATA);
	ck_assert_ptr_null(c.soa);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* A chain then NXDOMAIN proven for the target (RFC 6604). */
	p = mkpkt(LDNS_RCODE_NXDOMAIN, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME x.example.net.", NULL },
		  (const char *[]){ SOA_NET, NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, ".", &c),
			 ITER_RESP_NXDOMAIN);
	ck_assert(name_is(c.target, "x.example.net."));
	ck_assert_uint_eq(c.hops, 1);
	iter_class_clear(&c);
	/* ... but a SOA outside the zone asked does not prove it: chase. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_CNAME);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* A chain then NODATA for the target. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME x.example.com.", NULL },
		  (const char *[]){ SOA_EX, NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_NODATA);
	iter_class_clear(&c);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(test_classify_referral_and_lame)
{
	struct iter_class c;
	ldns_pkt *p;

	p = mkpkt(LDNS_RCODE_NOERROR, false, NULL,
		  (const char *[]){ "example.com. 300 IN NS ns1.example.com.", NULL },
		  (const char *[]){ "ns1.example.com. 300 IN A 192.0.2.53", NULL });
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "com.", &c),
			 ITER_RESP_REFERRAL);
	ck_assert(name_is(c.referral_zone, "example.com."));
	iter_class_clear(&c);
	/* From the root: still a step down. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, ".", &c),
			 ITER_RESP_REFERRAL);
	iter_class_clear(&c);
	/* Asked example.com. itself: a referral to itself is lame. */
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	/* Asked a deeper zone: upward. */
	ck_assert_int_eq(classify(p, "www.sub.example.com.", LDNS_RR_TYPE_A, "sub.example.com.",
				  &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	/* Sideways: the NS is not above qname. */
	ck_assert_int_eq(classify(p, "www.example.org.", LDNS_RR_TYPE_A, ".", &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	/* DS for the child lives at the parent: referral to it is useless... */
	ck_assert_int_eq(classify(p, "example.com.", LDNS_RR_TYPE_DS, "com.", &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	/* ... but a referral above the DS owner is fine. */
	ck_assert_int_eq(classify(p, "sub.example.com.", LDNS_RR_TYPE_DS, "com.", &c),
			 ITER_RESP_REFERRAL);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* The deepest of several NS owners wins. */
	p = mkpkt(LDNS_RCODE_NOERROR, false, NULL,
		  (const char *[]){ "example.com. 300 IN NS ns1.example.com.",
				    "sub.example.com. 300 IN NS ns1.sub.example.com.", NULL },
		  NULL);
	ck_assert_int_eq(classify(p, "www.sub.example.com.", LDNS_RR_TYPE_A, "com.", &c),
			 ITER_RESP_REFERRAL);
	ck_assert(name_is(c.referral_zone, "sub.example.com."));
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* Upward referral to the root. */
	p = mkpkt(LDNS_RCODE_NOERROR, false, NULL,
		  (const char *[]){ ". 300 IN NS a.root-servers.net.", NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_LAME);
	ck_assert_str_eq(c.why, "upward or sideways referral");
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* Non-AA, nothing useful. */
	p = mkpkt(LDNS_RCODE_NOERROR, false, NULL, NULL, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_LAME);
	iter_class_clear(&c);
	ldns_pkt_free(p);

	/* AA with the zone's own NS in authority and no SOA: NODATA. */
	p = mkpkt(LDNS_RCODE_NOERROR, true, NULL,
		  (const char *[]){ "example.com. 300 IN NS ns1.example.com.", NULL }, NULL);
	ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", &c),
			 ITER_RESP_NODATA);
	iter_class_clear(&c);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(test_classify_errors)
{
	static const ldns_pkt_rcode rcodes[] = {
		LDNS_RCODE_SERVFAIL, LDNS_RCODE_REFUSED, LDNS_RCODE_NOTIMPL,
		LDNS_RCODE_FORMERR, LDNS_RCODE_YXDOMAIN, LDNS_RCODE_NOTAUTH,
	};

	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		struct iter_class c;
		ldns_pkt *p = mkpkt(rcodes[i], true,
				    (const char *[]){ "www.example.com. 300 IN A 192.0.2.1", NULL },
				    NULL, NULL);

		ck_assert_int_eq(classify(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
					  &c),
				 ITER_RESP_SERVER_ERROR);
		ck_assert(c.refused == (rcodes[i] == LDNS_RCODE_REFUSED));
		ck_assert_int_eq(c.rcode, rcodes[i]);
		iter_class_clear(&c);
		ldns_pkt_free(p);
	}
	ck_assert_str_eq(iter_resp_str(ITER_RESP_REFERRAL), "REFERRAL");
	ck_assert_str_eq(iter_resp_str(ITER_RESP_DNAME), "DNAME");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Standalone: scrubbing                                               */
/* ------------------------------------------------------------------ */

static int scrub(ldns_pkt *p, const char *qname, ldns_rr_type qt, const char *zone)
{
	ldns_rdf *qn = dn(qname), *z = dn(zone);
	int r = iter_scrub(p, qn, qt, LDNS_RR_CLASS_IN, z);

	ldns_rdf_deep_free(qn);
	ldns_rdf_deep_free(z);
	return r;
}

static size_t count(const ldns_rr_list *l)
{
	return l ? ldns_rr_list_rr_count(l) : 0;
}

START_TEST(test_scrub_answer)
{
	ldns_pkt *p = mkpkt(LDNS_RCODE_NOERROR, true,
			    (const char *[]){
				    "www.example.com. 300 IN CNAME a.example.com.",
				    "a.example.com. 300 IN A 192.0.2.1",
				    "a.example.com. 300 IN A 192.0.2.1",     /* duplicate */
				    "other.example.com. 300 IN A 6.6.6.6",   /* unrelated */
				    "www.victim.net. 300 IN A 6.6.6.6",      /* out of zone */
				    "a.example.com. 300 CH A 192.0.2.1",     /* wrong class */
				    "a.example.com. 300 IN AAAA ::1",        /* other type */
				    NULL },
			    NULL, NULL);

	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 5);
	ck_assert_uint_eq(count(ldns_pkt_answer(p)), 2);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 2);
	ck_assert(list_has(ldns_pkt_answer(p), "www.example.com.", LDNS_RR_TYPE_CNAME, NULL));
	ck_assert(list_has(ldns_pkt_answer(p), "a.example.com.", LDNS_RR_TYPE_A, "192.0.2.1"));
	ldns_pkt_free(p);

	/* The chain's target in another zone: its data is dropped. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME www.example.net.",
				    "www.example.net. 300 IN A 6.6.6.6", NULL },
		  NULL, NULL);
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 1);
	ck_assert_uint_eq(count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);

	/* A CNAME that contradicts the DNAME above it goes; the DNAME and
	 * the consistent data stay. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "dn.example.com. 300 IN DNAME sub.example.com.",
				    "www.dn.example.com. 300 IN CNAME evil.example.com.",
				    "www.sub.example.com. 300 IN A 192.0.2.9",
				    "evil.example.com. 300 IN A 6.6.6.6", NULL },
		  NULL, NULL);
	ck_assert_int_eq(scrub(p, "www.dn.example.com.", LDNS_RR_TYPE_A, "example.com."), 2);
	ck_assert(list_has(ldns_pkt_answer(p), "dn.example.com.", LDNS_RR_TYPE_DNAME, NULL));
	ck_assert(list_has(ldns_pkt_answer(p), "www.sub.example.com.", LDNS_RR_TYPE_A, NULL));
	ck_assert(!list_has(ldns_pkt_answer(p), "evil.example.com.", LDNS_RR_TYPE_A, NULL));
	ldns_pkt_free(p);

	/* A CNAME loop in the reply terminates. */
	p = mkpkt(LDNS_RCODE_NOERROR, true,
		  (const char *[]){ "www.example.com. 300 IN CNAME a.example.com.",
				    "a.example.com. 300 IN CNAME www.example.com.", NULL },
		  NULL, NULL);
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 0);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(test_scrub_authority_additional)
{
	ldns_pkt *p = mkpkt(LDNS_RCODE_NOERROR, false, NULL,
			    (const char *[]){
				    "example.com. 300 IN NS ns1.example.com.",
				    "example.com. 300 IN NS ns.example.net.",
				    "example.com. 300 IN DS 1 8 1 "
				    "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE",
				    "other.com. 300 IN NS ns.evil.org.",     /* sideways */
				    ". 300 IN NS a.root-servers.net.",       /* above zone */
				    "com. 300 IN TXT \"junk\"",              /* type */
				    NULL },
			    (const char *[]){
				    "ns1.example.com. 300 IN A 192.0.2.53",
				    "ns1.example.com. 300 IN AAAA 2001:db8::53",
				    "ns.example.net. 300 IN A 6.6.6.6",      /* out of zone */
				    "www.example.com. 300 IN A 6.6.6.6",     /* not an NS */
				    "ns1.example.com. 300 IN TXT \"x\"",     /* type */
				    NULL });

	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "com."), 6);
	ck_assert_uint_eq(count(ldns_pkt_authority(p)), 3);
	ck_assert_uint_eq(ldns_pkt_nscount(p), 3);
	ck_assert(list_has(ldns_pkt_authority(p), "example.com.", LDNS_RR_TYPE_DS, NULL));
	ck_assert_uint_eq(count(ldns_pkt_additional(p)), 2);
	ck_assert(list_has(ldns_pkt_additional(p), "ns1.example.com.", LDNS_RR_TYPE_AAAA, NULL));
	ldns_pkt_free(p);

	/* Negative answer: the SOA of an ancestor stays, others go. */
	p = mkpkt(LDNS_RCODE_NXDOMAIN, true, NULL,
		  (const char *[]){ SOA_EX, SOA_NET,
				    "example.com. 300 IN NSEC z.example.com. A NS SOA", NULL },
		  NULL);
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 1);
	ck_assert(list_has(ldns_pkt_authority(p), "example.com.", LDNS_RR_TYPE_SOA, NULL));
	ck_assert(list_has(ldns_pkt_authority(p), "example.com.", LDNS_RR_TYPE_NSEC, NULL));
	ldns_pkt_free(p);

	/* The root may speak about anything. */
	p = mkpkt(LDNS_RCODE_NOERROR, false, NULL,
		  (const char *[]){ "com. 300 IN NS a.gtld-servers.net.", NULL },
		  (const char *[]){ "a.gtld-servers.net. 300 IN A 192.0.2.1", NULL });
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "."), 0);
	ldns_pkt_free(p);

	/* Hand-built packets may lack sections. */
	p = ldns_pkt_new();
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "."), 0);
	ldns_pkt_free(p);
}
END_TEST

/* A record with fewer RDATA fields than its type has, as ldns parses a
 * wire record whose RDATA ends early. */
static ldns_rr *short_rr(const char *owner, ldns_rr_type t, const char *first_field)
{
	ldns_rr *rr = ldns_rr_new();

	ck_assert_ptr_nonnull(rr);
	ldns_rr_set_owner(rr, dn(owner));
	ldns_rr_set_type(rr, t);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, 300);
	if (first_field)
		ck_assert(ldns_rr_push_rdf(rr, dn(first_field)));
	return rr;
}

/* Found by fuzz_response: an SOA whose RDATA held only MNAME was cached,
 * and the cache dump then failed to load ("value expected"). */
START_TEST(test_scrub_malformed_rdata)
{
	ldns_pkt *p = mkpkt(LDNS_RCODE_NXDOMAIN, true, NULL, NULL, NULL);
	ldns_rr *rr = short_rr("example.com.", LDNS_RR_TYPE_SOA, "ns1.example.com.");

	push(p, LDNS_SECTION_AUTHORITY, rr);
	ldns_rr_free(rr);
	push_str(p, LDNS_SECTION_AUTHORITY, SOA_EX);
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 1);
	ck_assert_uint_eq(count(ldns_pkt_authority(p)), 1);
	ck_assert_uint_eq(ldns_rr_rd_count(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 7);
	ldns_pkt_free(p);

	/* An A without its address goes; empty RDATA of an unknown type is
	 * well-formed (RFC 3597) and stays. */
	p = mkpkt(LDNS_RCODE_NOERROR, true, NULL, NULL, NULL);
	rr = short_rr("www.example.com.", LDNS_RR_TYPE_A, NULL);
	push(p, LDNS_SECTION_ANSWER, rr);
	ldns_rr_free(rr);
	ck_assert_int_eq(scrub(p, "www.example.com.", LDNS_RR_TYPE_A, "example.com."), 1);
	ck_assert_uint_eq(count(ldns_pkt_answer(p)), 0);
	ldns_pkt_free(p);
	p = mkpkt(LDNS_RCODE_NOERROR, true, NULL, NULL, NULL);
	rr = short_rr("www.example.com.", (ldns_rr_type)65400, NULL);
	push(p, LDNS_SECTION_ANSWER, rr);
	ldns_rr_free(rr);
	ck_assert_int_eq(scrub(p, "www.example.com.", (ldns_rr_type)65400, "example.com."), 0);
	ck_assert_uint_eq(count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Standalone: delegation point and helpers                            */
/* ------------------------------------------------------------------ */

START_TEST(test_name_helpers)
{
	ldns_rdf *a = dn("www.Example.COM."), *z = dn("example.com."), *r = dn(".");
	ldns_rdf *other = dn("wexample.com."), *n;
	ldns_rr *d = rr_from("example.com. 300 IN DNAME example.org.");
	char buf[ITER_NAME_STRLEN];

	ck_assert(iter_name_at_or_below(a, z));
	ck_assert(iter_name_at_or_below(z, z));
	ck_assert(iter_name_at_or_below(a, r));
	ck_assert(!iter_name_at_or_below(z, a));
	ck_assert(!iter_name_at_or_below(other, z));
	ck_assert(!iter_name_at_or_below(r, z));
	ck_assert(!iter_name_eq(a, z));
	ck_assert_str_eq(iter_name_str(a, buf, sizeof(buf)), "www.Example.COM.");
	ck_assert_str_eq(iter_name_str(r, buf, sizeof(buf)), ".");
	ck_assert_str_eq(iter_name_str(NULL, buf, sizeof(buf)), "(none)");
	/* Truncation never overflows. */
	ck_assert_uint_lt(strlen(iter_name_str(a, buf, 8)), 8);

	n = iter_dname_substitute(d, a);
	ck_assert_ptr_nonnull(n);
	ck_assert(name_is(n, "www.example.org."));
	ldns_rdf_deep_free(n);
	ck_assert_ptr_null(iter_dname_substitute(d, z)); /* owner itself */
	ck_assert_ptr_null(iter_dname_substitute(d, other));
	ldns_rr_free(d);

	/* Walking up without copies: views into the name's own bytes. */
	{
		ldns_rdf v1, v2, v3, v4;

		ck_assert(iter_name_parent_view(a, &v1));
		ck_assert(iter_name_eq(&v1, z));
		ck_assert(ldns_rdf_data(&v1) == ldns_rdf_data(a) + 4);
		ck_assert(iter_name_parent_view(&v1, &v2));
		ck_assert(name_is(&v2, "com."));
		ck_assert(iter_name_parent_view(&v2, &v3));
		ck_assert(iter_name_eq(&v3, r));
		ck_assert(!iter_name_parent_view(&v3, &v4));
		ck_assert(!iter_name_parent_view(r, &v4));
		ck_assert(!iter_name_parent_view(NULL, &v4));
		ck_assert(iter_name_eq(a, a) && iter_name_eq(z, &v1));
		ck_assert(!iter_name_eq(other, &v1));
	}

	/* Escapes for odd octets. */
	n = dn("a\\.b\\032c.example.");
	ck_assert_str_eq(iter_name_str(n, buf, sizeof(buf)), "a\\.b\\032c.example.");
	ldns_rdf_deep_free(n);

	ldns_rdf_deep_free(a);
	ldns_rdf_deep_free(z);
	ldns_rdf_deep_free(r);
	ldns_rdf_deep_free(other);
}
END_TEST

START_TEST(test_dname_substitute_too_long)
{
	char longname[300];
	ldns_rdf *n;
	ldns_rr *d = rr_from("example.com. 300 IN DNAME "
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org.");

	snprintf(longname, sizeof(longname), "%s.%s.example.com.",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	n = dn(longname);
	ck_assert_ptr_null(iter_dname_substitute(d, n));
	ldns_rdf_deep_free(n);
	ldns_rr_free(d);
}
END_TEST

static void add_addr(struct iter_deleg *dp, const char *rr)
{
	ldns_rr *r = rr_from(rr);

	ck_assert_int_ge(iter_deleg_add_addr_rr(dp, r), 0);
	ldns_rr_free(r);
}

/* An RRset from RR strings (NULL-terminated); the caller deep-frees it. */
static ldns_rr_list *rrset_of(const char *const *rrs)
{
	ldns_rr_list *l = ldns_rr_list_new();

	ck_assert_ptr_nonnull(l);
	for (; *rrs; rrs++)
		ck_assert(ldns_rr_list_push_rr(l, rr_from(*rrs)));
	return l;
}

static void store_set(const char *const *rrs, enum cache_trust trust)
{
	ldns_rr_list *l = rrset_of(rrs);

	ck_assert_int_eq(cache_store_rrset(env.cache, l, NULL, trust, now), 0);
	ldns_rr_list_deep_free(l);
}

static bool has_cached(const struct iter_deleg *dp, const char *const *rrs,
		       enum cache_trust trust)
{
	ldns_rr_list *l = rrset_of(rrs);
	bool r = iter_deleg_has_cached(dp, l, trust);

	ldns_rr_list_deep_free(l);
	return r;
}

/* What a delegation built from the cache remembers of it, so that an
 * answer repeating the zone's NS RRset and glue does not store them again
 * (iter.c: store_section): only the same set, at no more trust. */
START_TEST(test_deleg_has_cached)
{
	static const char *const ns[] = { "hc.example. 300 IN NS ns1.hc.example.",
					  "hc.example. 300 IN NS ns2.hc.example.", NULL };
	static const char *const ns_swapped[] = { "hc.example. 100 IN NS NS2.hc.example.",
						  "hc.example. 100 IN NS ns1.hc.example.", NULL };
	static const char *const ns_other[] = { "hc.example. 300 IN NS ns1.hc.example.",
						"hc.example. 300 IN NS ns3.hc.example.", NULL };
	static const char *const ns_fewer[] = { "hc.example. 300 IN NS ns1.hc.example.", NULL };
	static const char *const a1[] = { "ns1.hc.example. 300 IN A 127.0.40.1",
					  "ns1.hc.example. 300 IN A 127.0.40.2", NULL };
	static const char *const a1_swapped[] = { "ns1.hc.example. 300 IN A 127.0.40.2",
						  "ns1.hc.example. 300 IN A 127.0.40.1", NULL };
	static const char *const a1_other[] = { "ns1.hc.example. 300 IN A 127.0.40.1",
						"ns1.hc.example. 300 IN A 127.0.40.3", NULL };
	static const char *const a1_dup[] = { "ns1.hc.example. 300 IN A 127.0.40.1",
					      "ns1.hc.example. 300 IN A 127.0.40.1", NULL };
	static const char *const a2[] = { "ns2.hc.example. 300 IN A 127.0.40.9", NULL };
	static const char *const aaaa1[] = { "ns1.hc.example. 300 IN AAAA 2001:db8::1", NULL };
	static const char *const stranger[] = { "www.hc.example. 300 IN A 127.0.40.1", NULL };
	ldns_rdf *z = dn("hc.example.");
	struct iter_deleg *dp = NULL, *fresh = iter_deleg_new(z);

	store_set(ns, CACHE_TRUST_AUTHORITY_AUTH);
	store_set(a1, CACHE_TRUST_GLUE);
	store_set(a2, CACHE_TRUST_ANSWER_AUTH);
	ck_assert_int_eq(iter_deleg_from_cache(&env, z, LDNS_RR_CLASS_IN, now, &dp), 1);

	/* The NS RRset: the same names in any order and case, any TTL, at
	 * the cached trust or below. */
	ck_assert(has_cached(dp, ns, CACHE_TRUST_AUTHORITY_AUTH));
	ck_assert(has_cached(dp, ns_swapped, CACHE_TRUST_REFERRAL));
	ck_assert(!has_cached(dp, ns, CACHE_TRUST_ANSWER_AUTH));
	ck_assert(!has_cached(dp, ns_other, CACHE_TRUST_AUTHORITY_AUTH));
	ck_assert(!has_cached(dp, ns_fewer, CACHE_TRUST_AUTHORITY_AUTH));
	/* Addresses: the same set per NS name and family. */
	ck_assert(has_cached(dp, a1, CACHE_TRUST_GLUE));
	ck_assert(has_cached(dp, a1_swapped, CACHE_TRUST_GLUE));
	ck_assert(!has_cached(dp, a1, CACHE_TRUST_ANSWER_NONAUTH));
	ck_assert(!has_cached(dp, a1_other, CACHE_TRUST_GLUE));
	ck_assert(!has_cached(dp, a1_dup, CACHE_TRUST_GLUE));
	ck_assert(has_cached(dp, a2, CACHE_TRUST_ANSWER_AUTH));
	ck_assert(!has_cached(dp, aaaa1, CACHE_TRUST_GLUE)); /* none was cached */
	ck_assert(!has_cached(dp, stranger, CACHE_TRUST_GLUE));
	/* A delegation that did not come from the cache knows nothing. */
	ck_assert_ptr_nonnull(fresh);
	ck_assert_int_ge(iter_deleg_add_ns(fresh, dp->ns[0].name), 0);
	ck_assert(!has_cached(fresh, ns_fewer, CACHE_TRUST_NONE + 1));
	ck_assert(!has_cached(NULL, ns, CACHE_TRUST_GLUE));

	iter_deleg_free(fresh);
	iter_deleg_free(dp);
	ldns_rdf_deep_free(z);
}
END_TEST

START_TEST(test_deleg_select)
{
	ldns_rdf *z = dn("example.com."), *n1 = dn("ns1.example.com.");
	ldns_rdf *n2 = dn("ns2.example.com."), *n3 = dn("ns.other.net.");
	struct iter_deleg *dp = iter_deleg_new(z);
	bool seen[4] = { false };
	int i;

	ck_assert_ptr_nonnull(dp);
	ck_assert_int_eq(iter_deleg_add_ns(dp, n1), 0);
	ck_assert_int_eq(iter_deleg_add_ns(dp, n2), 1);
	ck_assert_int_eq(iter_deleg_add_ns(dp, n1), 0); /* deduplicated */
	ck_assert_int_eq(iter_deleg_add_ns(dp, n3), 2);
	add_addr(dp, "ns1.example.com. 300 IN A 127.0.20.1");
	add_addr(dp, "ns1.example.com. 300 IN A 127.0.20.1"); /* same address */
	add_addr(dp, "ns2.example.com. 300 IN A 127.0.20.2");
	add_addr(dp, "ns2.example.com. 300 IN AAAA 2001:db8::2");
	add_addr(dp, "unknown.example.com. 300 IN A 127.0.20.9");  /* not an NS */
	ck_assert_uint_eq(dp->naddrs, 3);
	ck_assert(iter_deleg_ns_in_zone(dp, 0));
	ck_assert(!iter_deleg_ns_in_zone(dp, 2));
	ck_assert(iter_deleg_ns_needs_lookup(dp, 2, &env));
	ck_assert(!iter_deleg_ns_needs_lookup(dp, 0, &env));
	ck_assert(iter_deleg_usable(dp, &env));

	/* Both IPv4 servers are unknown (same RTO): random between them,
	 * the IPv6 one is never picked (do_ip6 off). */
	for (int k = 0; k < 200; k++) {
		i = iter_deleg_select(dp, &env, now);
		ck_assert_int_ge(i, 0);
		ck_assert_int_lt(i, 2);
		seen[i] = true;
	}
	ck_assert(seen[0] && seen[1]);

	/* Far apart in RTO: always the faster. */
	set_rtt("127.0.20.1", 3000);
	set_rtt("127.0.20.2", 5);
	for (int k = 0; k < 50; k++)
		ck_assert_int_eq(iter_deleg_select(dp, &env, now), 1);
	/* Lame for this zone: skipped. */
	infra_note_lame(env.infra, (struct sockaddr *)&dp->addrs[1].ss, z, now);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), 0);
	/* Tried: skipped; then nothing left. */
	iter_deleg_mark_tried(dp, 0, true);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), -1);
	/* One more round for what timed out. */
	ck_assert_uint_eq(iter_deleg_retry_timed_out(dp), 1);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), 0);
	/* IPv6 allowed now. */
	env.do_ip6 = true;
	iter_deleg_mark_tried(dp, 0, false);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), 2);
	iter_deleg_mark_tried(dp, 2, false);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), -1);
	ck_assert_uint_eq(iter_deleg_retry_timed_out(dp), 0);

	iter_deleg_free(dp);
	ldns_rdf_deep_free(z);
	ldns_rdf_deep_free(n1);
	ldns_rdf_deep_free(n2);
	ldns_rdf_deep_free(n3);
}
END_TEST

START_TEST(test_deleg_prefers_up_servers)
{
	ldns_rdf *z = dn("example.com."), *n1 = dn("ns1.example.com.");
	struct iter_deleg *dp = iter_deleg_new(z);
	const struct sockaddr *first;

	ck_assert_int_eq(iter_deleg_add_ns(dp, n1), 0);
	add_addr(dp, "ns1.example.com. 300 IN A 127.0.21.1");
	add_addr(dp, "ns1.example.com. 300 IN A 127.0.21.2");
	/* Back the first one off until infra calls it down. */
	first = (const struct sockaddr *)&dp->addrs[0].ss;
	for (int k = 0; k < 20 && !infra_is_down(env.infra, first, now); k++) {
		infra_note_timeout(env.infra, first, now);
		now += infra_rto(env.infra, first, now); /* one back-off per RTO */
	}
	ck_assert(infra_is_down(env.infra, first, now));
	set_rtt("127.0.21.2", 2000);
	for (int k = 0; k < 20; k++)
		ck_assert_int_eq(iter_deleg_select(dp, &env, now), 1);
	/* With only the down one left it is still tried. */
	iter_deleg_mark_tried(dp, 1, false);
	ck_assert_int_eq(iter_deleg_select(dp, &env, now), 0);
	iter_deleg_free(dp);
	ldns_rdf_deep_free(z);
	ldns_rdf_deep_free(n1);
}
END_TEST

static void store(const char *const *rrs, enum cache_trust t)
{
	ldns_rr_list *l = ldns_rr_list_new();

	for (size_t i = 0; rrs[i]; i++)
		ck_assert(ldns_rr_list_push_rr(l, rr_from(rrs[i])));
	ck_assert_int_eq(cache_store_rrset(env.cache, l, NULL, t, now), 0);
	ldns_rr_list_deep_free(l);
}

START_TEST(test_deleg_find)
{
	struct iter_deleg *dp = NULL;
	ldns_rdf *qn = dn("www.sub.example.com."), *sub = dn("sub.example.com.");

	/* Nothing cached at all. */
	ck_assert_int_eq(iter_deleg_find(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now, &dp), 0);
	ck_assert_ptr_null(dp);

	store((const char *[]){ "com. 300 IN NS a.gtld-servers.net.", NULL }, CACHE_TRUST_REFERRAL);
	store((const char *[]){ "a.gtld-servers.net. 300 IN A 127.0.1.1", NULL }, CACHE_TRUST_GLUE);
	store((const char *[]){ "example.com. 300 IN NS ns1.example.com.", NULL },
	      CACHE_TRUST_REFERRAL);
	/* example.com.'s only NS is in-zone with no address: unusable. */
	ck_assert_int_eq(iter_deleg_find(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now, &dp), 1);
	ck_assert(name_is(dp->zone, "com."));
	ck_assert_uint_eq(dp->naddrs, 1);
	iter_deleg_free(dp);

	store((const char *[]){ "ns1.example.com. 300 IN A 127.0.3.1", NULL }, CACHE_TRUST_GLUE);
	store((const char *[]){ "sub.example.com. 300 IN NS ns.elsewhere.net.", NULL },
	      CACHE_TRUST_REFERRAL);
	/* sub.example.com.'s NS is out of zone: resolvable, so usable. */
	ck_assert_int_eq(iter_deleg_find(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now, &dp), 1);
	ck_assert(name_is(dp->zone, "sub.example.com."));
	ck_assert_uint_eq(dp->naddrs, 0);
	iter_deleg_free(dp);

	/* DS for sub.example.com. starts at its parent. */
	ck_assert_int_eq(iter_deleg_find(&env, sub, LDNS_RR_TYPE_DS, LDNS_RR_CLASS_IN, now, &dp),
			 1);
	ck_assert(name_is(dp->zone, "example.com."));
	ck_assert_uint_eq(dp->naddrs, 1);
	iter_deleg_free(dp);

	/* The root gets its addresses from the hints. */
	store((const char *[]){ ". 300 IN NS a.root-servers.net.", NULL }, CACHE_TRUST_ANSWER_AUTH);
	ldns_rdf_deep_free(qn);
	qn = dn("www.example.org.");
	ck_assert_int_eq(iter_deleg_find(&env, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, now, &dp), 1);
	ck_assert(name_is(dp->zone, "."));
	ck_assert_uint_eq(dp->naddrs, 1);
	iter_deleg_free(dp);

	dp = iter_deleg_from_hints(hints);
	ck_assert_ptr_nonnull(dp);
	ck_assert_uint_eq(dp->nns, 2);
	ck_assert_uint_eq(dp->naddrs, 2);
	iter_deleg_free(dp);

	ldns_rdf_deep_free(qn);
	ldns_rdf_deep_free(sub);
}
END_TEST

static Suite *iter_suite(void)
{
	Suite *s = suite_create("iter");
	TCase *res = tcase_create("resolve"), *cls = tcase_create("classify");
	TCase *scr = tcase_create("scrub"), *dl = tcase_create("deleg");

	tcase_add_checked_fixture(res, setup, teardown);
	tcase_add_test(res, test_priming_and_walk);
	tcase_add_test(res, test_cached_delegation_and_answer);
	tcase_add_test(res, test_glueless_delegation);
	tcase_add_test(res, test_cross_zone_cname);
	tcase_add_test(res, test_cname_loop);
	tcase_add_test(res, test_cname_chain_limit);
	tcase_add_test(res, test_nxdomain_and_nodata);
	tcase_add_test(res, test_cname_then_nxdomain);
	tcase_add_test(res, test_four_zone_cuts);
	tcase_add_test(res, test_referral_limit);
	tcase_add_test(res, test_lame_server_skipped);
	tcase_add_test(res, test_refused_servfail_skipped);
	tcase_add_test(res, test_timeout_then_next_server);
	tcase_add_test(res, test_all_servers_failing);
	tcase_add_test(res, test_all_servers_timeout);
	tcase_add_test(res, test_poison_never_cached);
	tcase_add_test(res, test_out_of_bailiwick_glue);
	tcase_add_test(res, test_dname);
	tcase_add_test(res, test_nxns_bounded);
	tcase_add_test(res, test_nxns_target_nx_cap);
	tcase_add_test(res, test_dead_zone_fails_fast);
	tcase_add_test(res, test_in_zone_ns_without_glue);
	tcase_add_test(res, test_upstream_limit);
	tcase_add_test(res, test_subquery_depth_zero);
	tcase_add_test(res, test_ds_goes_to_parent);
	tcase_add_test(res, test_glue_not_an_answer);
	tcase_add_test(res, test_ipv6_fallback_for_ns);
	tcase_add_test(res, test_priming_failure_uses_hints);
	tcase_add_test(res, test_root_lame_everywhere);
	tcase_add_test(res, test_free_mid_resolution);
	tcase_add_test(res, test_misuse_is_harmless);
	tcase_add_test(res, test_tcp_flag_and_timeout);
	tcase_add_test(res, test_verbose_logging);
	suite_add_tcase(s, res);

	tcase_add_checked_fixture(cls, setup, teardown);
	tcase_add_test(cls, test_classify_answers);
	tcase_add_test(cls, test_classify_dname);
	tcase_add_test(cls, test_classify_negative);
	tcase_add_test(cls, test_classify_referral_and_lame);
	tcase_add_test(cls, test_classify_errors);
	suite_add_tcase(s, cls);

	tcase_add_checked_fixture(scr, setup, teardown);
	tcase_add_test(scr, test_scrub_answer);
	tcase_add_test(scr, test_scrub_authority_additional);
	tcase_add_test(scr, test_scrub_malformed_rdata);
	suite_add_tcase(s, scr);

	tcase_add_checked_fixture(dl, setup, teardown);
	tcase_add_test(dl, test_name_helpers);
	tcase_add_test(dl, test_dname_substitute_too_long);
	tcase_add_test(dl, test_deleg_select);
	tcase_add_test(dl, test_deleg_has_cached);
	tcase_add_test(dl, test_deleg_prefers_up_servers);
	tcase_add_test(dl, test_deleg_find);
	suite_add_tcase(s, dl);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(iter_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
