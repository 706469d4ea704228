/* iter_priv.h — the interfaces between the iterator's own files.
 *
 * iter.c drives the state machine; it leans on three helpers that know
 * nothing about frames or states, so each can be unit-tested alone:
 *   iter_deleg.c    — the delegation point (zone, NS names, addresses,
 *                     per-question "tried" marks) and server selection;
 *   iter_scrub.c    — bailiwick scrubbing of a reply before anything in it
 *                     is believed or cached;
 *   iter_classify.c — what kind of reply a scrubbed packet is.
 * Nothing here is part of the resolver's public contract (include/iter.h). */
#ifndef RW_ITER_PRIV_H
#define RW_ITER_PRIV_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cache.h"
#include "hints.h"
#include "infra.h"
#include "iter.h"

/* ---- small shared helpers (iter_scrub.c) ---- */

/* Room for any domain name in presentation format, every octet escaped. */
#define ITER_NAME_STRLEN (LDNS_MAX_DOMAINLEN * 4 + 2)
/* Room for an address with port ("[ffff:...]:53"). */
#define ITER_ADDR_STRLEN 64

/* name equals zone or lies below it (case-insensitive). */
bool iter_name_at_or_below(const ldns_rdf *name, const ldns_rdf *zone);
/* Both names are equal (case-insensitive). */
bool iter_name_eq(const ldns_rdf *a, const ldns_rdf *b);
/* Point *view (a caller's struct, never freed) at the parent of name,
 * inside name's own bytes: walking up a name costs no allocation.  The
 * view is valid while name is.  False at the root or for a malformed
 * name. */
bool iter_name_parent_view(const ldns_rdf *name, ldns_rdf *view);
/* Presentation form of a name into buf (never allocates, for logs). */
const char *iter_name_str(const ldns_rdf *name, char *buf, size_t len);
/* "addr" or "[addr]:port" form of a socket address, for logs. */
const char *iter_addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* Mnemonic of an RR type ("A", "TYPE65280"), never allocating. */
const char *iter_type_str(ldns_rr_type t, char *buf, size_t len);
/* The target name of a CNAME or DNAME RR (NULL if malformed). */
const ldns_rdf *iter_rr_target(const ldns_rr *rr);
/* For a DNAME RR owned by an ancestor of name: the name it rewrites to
 * (RFC 6672 2.2), freshly allocated; NULL if it does not apply or the
 * result would exceed 255 octets. */
ldns_rdf *iter_dname_substitute(const ldns_rr *dname, const ldns_rdf *name);

/* ---- bailiwick scrubbing (iter_scrub.c) ---- */

/* Remove from resp, in place, everything a server asked about
 * qname/qtype/qclass as authoritative for zone has no business telling us
 * (see iter_scrub.c for the rules).  Returns the number of RRs dropped, or
 * -1 on allocation failure (resp is then left unmodified). */
int iter_scrub(ldns_pkt *resp, const ldns_rdf *qname, ldns_rr_type qtype,
	       ldns_rr_class qclass, const ldns_rdf *zone);

/* ---- response classification (iter_classify.c) ---- */

enum iter_resp {
	ITER_RESP_ANSWER = 1,   /* qname/qtype answered, maybe after a chain */
	ITER_RESP_CNAME,        /* chain ends at an unanswered CNAME target */
	ITER_RESP_DNAME,        /* chain ends at an unanswered DNAME-synthesized target */
	ITER_RESP_NXDOMAIN,     /* the (final) name does not exist */
	ITER_RESP_NODATA,       /* the (final) name exists, not with qtype */
	ITER_RESP_REFERRAL,     /* delegation to a zone strictly below the one asked */
	ITER_RESP_LAME,         /* server is not authoritative for the zone asked */
	ITER_RESP_SERVER_ERROR, /* SERVFAIL, REFUSED, NOTIMP, FORMERR, ... */
};

struct iter_class {
	enum iter_resp type;
	ldns_pkt_rcode rcode;
	/* CNAME/DNAME chain from qname, in order (owned copies).  A DNAME is
	 * always followed by the CNAME synthesized from it (RFC 6672). */
	ldns_rr_list *chain;
	uint32_t hops;          /* redirections in the chain */
	ldns_rdf *target;       /* last name of the chain (qname if none), owned */
	const ldns_rr *soa;     /* negative answers: SOA in authority (in the packet) */
	ldns_rdf *referral_zone; /* REFERRAL: the child zone, owned */
	bool refused;           /* SERVER_ERROR caused by REFUSED */
	const char *why;        /* short explanation for logs (static) */
};

/* Classify resp as an answer to qname/qtype from a server asked as
 * authoritative for zone.  Meant for scrubbed replies but safe on any.
 * Returns 0, or -1 on allocation failure.  Free with iter_class_clear(). */
int iter_classify(const ldns_pkt *resp, const ldns_rdf *qname, ldns_rr_type qtype,
		  const ldns_rdf *zone, struct iter_class *out);
void iter_class_clear(struct iter_class *c);
/* A CNAME owner -> target (both copied), as a DNAME implies it. */
ldns_rr *iter_synth_cname(const ldns_rdf *owner, const ldns_rdf *target, ldns_rr_class cls,
			  uint32_t ttl);
const char *iter_resp_str(enum iter_resp t);

/* ---- delegation points (iter_deleg.c) ---- */

struct iter_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	size_t ns;        /* index of the first NS name that listed it */
	bool tried;       /* already asked for this question (this round) */
	bool timed_out;   /* that attempt timed out: may get one more round */
};

/* What the cache held for one address family of an NS name when the
 * delegation was built from it (see iter_deleg_has_cached). */
struct iter_cached_set {
	uint8_t trust;    /* enum cache_trust; CACHE_TRUST_NONE: nothing */
	uint32_t count;   /* RRs in the cached RRset */
	uint64_t sum;     /* order-independent fingerprint of their addresses */
};

struct iter_nsname {
	ldns_rdf *name;
	uint32_t n4, n6;  /* addresses known for it, by family */
	bool lookup_done; /* a sub-resolution ran for it (or was ruled out) */
	struct iter_cached_set cached[2]; /* A, AAAA */
};

struct iter_deleg {
	ldns_rdf *zone;
	struct iter_nsname *ns;
	size_t nns, ns_cap;
	struct iter_addr *addrs;
	size_t naddrs, addr_cap;
	uint32_t glueless_started; /* NS-name sub-resolutions begun */
	uint32_t retry_rounds;     /* extra rounds over timed-out servers */
	uint8_t ns_trust;          /* trust of the cached NS RRset it came from, or NONE */
};

/* Extra rounds over the servers of a zone that timed out, after each was
 * tried once: a zone's only server losing a third of its queries cost a
 * client a SERVFAIL one time in nine with a single extra round (two
 * tries), and one in 729 with five (six tries, all within ~0.3 s: the
 * RTO floor is 50 ms) - 0.5% of 3000 names in tests/integration/
 * test_faults.py under load.  Eleven tries make it ~1e-5.  Dead servers
 * are not asked more for it: their RTO backs off (infra), so query-timeout
 * ends the resolution first; max-upstream-queries bounds it as well. */
#define ITER_TIMEOUT_RETRY_ROUNDS 10u

struct iter_deleg *iter_deleg_new(const ldns_rdf *zone);
void iter_deleg_free(struct iter_deleg *dp);
/* Add an NS name (deduplicated).  Returns its index or -1. */
int iter_deleg_add_ns(struct iter_deleg *dp, const ldns_rdf *name);
/* Add the address in an A/AAAA RR to the NS name that owns it; RRs of
 * other types or for unknown names are ignored.  Returns 1 when added, 0
 * when ignored or already known, -1 on allocation failure. */
int iter_deleg_add_addr_rr(struct iter_deleg *dp, const ldns_rr *rr);
/* The address in an A/AAAA RR for NS name ns whatever the RR's owner
 * (a sub-resolution may have gone through a CNAME).  Same returns. */
int iter_deleg_add_addr_for(struct iter_deleg *dp, size_t ns, const ldns_rr *rr);
/* Every A/AAAA in list, as above.  Returns addresses added or -1. */
int iter_deleg_add_addr_list(struct iter_deleg *dp, const ldns_rr_list *list);
/* Addresses for every NS name from the cache at any trust (glue too). */
int iter_deleg_add_cached_addrs(struct iter_deleg *dp, struct cache *c,
				ldns_rr_class cls, uint64_t now_ms);
/* Root hint addresses for NS names the hints know (root zone only). */
int iter_deleg_add_hint_addrs(struct iter_deleg *dp, const struct hints *h);
/* The root delegation straight from the hints file. */
struct iter_deleg *iter_deleg_from_hints(const struct hints *h);
/* The delegation for exactly `zone` from cached NS (any trust) plus cached
 * addresses.  Returns 1 and *out, 0 when no NS RRset is cached, -1 on
 * error. */
int iter_deleg_from_cache(const struct iter_env *env, const ldns_rdf *zone,
			  ldns_rr_class cls, uint64_t now_ms, struct iter_deleg **out);
/* The deepest usable cached delegation for qname (from the parent of qname
 * for DS).  Returns 1 and *out, 0 when nothing usable is cached, -1 on
 * error. */
int iter_deleg_find(const struct iter_env *env, const ldns_rdf *qname,
		    ldns_rr_type qtype, ldns_rr_class cls, uint64_t now_ms,
		    struct iter_deleg **out);
/* An NS name lies inside the zone it serves: without glue it cannot be
 * resolved except through that very zone. */
bool iter_deleg_ns_in_zone(const struct iter_deleg *dp, size_t ns);
/* Addresses of ns in a family we may use. */
size_t iter_deleg_ns_usable_addrs(const struct iter_deleg *dp, size_t ns,
				  const struct iter_env *env);
/* ns has no usable address, may be resolved, and has not been yet. */
bool iter_deleg_ns_needs_lookup(const struct iter_deleg *dp, size_t ns,
				const struct iter_env *env);
/* Some address is usable, or some NS name could be resolved. */
bool iter_deleg_usable(const struct iter_deleg *dp, const struct iter_env *env);
/* Pick the server to ask next (see iter_deleg.c), or -1 when none is left. */
int iter_deleg_select(struct iter_deleg *dp, const struct iter_env *env, uint64_t now_ms);
void iter_deleg_mark_tried(struct iter_deleg *dp, size_t idx, bool timed_out);
/* Clear the marks of servers that only timed out, for one more round.
 * Returns how many became eligible again. */
/* True when every address of a usable family is blocked in infra (no
 * reply for a while, probe due or not): the zone is dead for now. */
bool iter_deleg_all_blocked(const struct iter_deleg *dp, const struct iter_env *env,
			    uint64_t now_ms);
size_t iter_deleg_retry_timed_out(struct iter_deleg *dp);
/* Did the cache, when dp was built from it, already hold exactly this
 * RRset (dp's own NS RRset, or the A/AAAA RRset of one of its NS names) at
 * trust or higher?  Then storing it again could only extend its TTL. */
bool iter_deleg_has_cached(const struct iter_deleg *dp, const ldns_rr_list *set,
			   enum cache_trust trust);

#endif
