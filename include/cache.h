/* cache.h — the RRset and negative cache.
 *
 * Keyed by (owner, type, class), owner compared case-insensitively.  Each
 * entry holds one RRset (and the RRSIGs that cover it, kept for DNSSEC
 * later), its absolute expiry, its trust rank (RFC 2181 5.4.1) and a
 * security status.  Negative entries (RFC 2308) hold the SOA that proves
 * them.  Every call takes `now` in milliseconds from a clock the caller
 * owns (tests move a fake one).  Memory is bounded by max_bytes, counted
 * from the allocations the cache really makes; least recently used
 * entries are evicted first.
 *
 * Thread-safe: the workers share one cache.  Every call may run on any
 * thread at any time, concurrently with any other call, and each call on
 * a single key (store, lookup, the hit path) is atomic.  Inside, the cache
 * is split into up to 256 shards by key hash, each with its own lock,
 * table, CLOCK ring and an equal share of max_bytes, so no call takes a
 * global lock and "least recently used first" holds within a shard.  A
 * cache made with max_bytes under 512 KiB has a single shard; the shard
 * count is fixed at cache_new (at most max_bytes / 256 KiB).  Calls that
 * span keys (RFC 8020 ancestor lookups, the side effects of a store,
 * flushes, walks, stats) visit the shards one at a time and are not
 * atomic as a whole: a flush removes what was there when it reached each
 * shard, a stats read sums the shards as it finds them.  Callbacks of
 * cache_walk and cache_walk_step run under a shard's lock and must not
 * call into the cache. */
#ifndef RW_CACHE_H
#define RW_CACHE_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

/* Trust, lowest first.  Lower never overwrites higher while the higher
 * one is alive; equal or higher replaces.  Answers to clients only come
 * from CACHE_TRUST_ANSWER_NONAUTH and up: glue and referral NS are used
 * for the walk only. */
enum cache_trust {
	CACHE_TRUST_NONE = 0,
	CACHE_TRUST_GLUE = 1,             /* additional section */
	CACHE_TRUST_REFERRAL = 2,         /* authority section of a non-AA reply (delegation NS) */
	CACHE_TRUST_ANSWER_NONAUTH = 3,   /* answer section of a non-AA reply */
	CACHE_TRUST_AUTHORITY_AUTH = 4,   /* authority section of an AA reply */
	CACHE_TRUST_ANSWER_AUTH = 5,      /* answer section of an AA reply */
};

/* DNSSEC status, kept now so validation can slot in later. */
enum cache_security {
	CACHE_SEC_UNCHECKED = 0,
	CACHE_SEC_SECURE,
	CACHE_SEC_INSECURE,
	CACHE_SEC_BOGUS,
};

struct cache_policy {
	uint32_t min_ttl;          /* cache-min-ttl */
	uint32_t max_ttl;          /* cache-max-ttl */
	uint32_t max_negative_ttl; /* cache-max-negative-ttl */
	bool serve_expired;        /* keep expired entries for serve-stale */
	uint32_t serve_expired_window; /* seconds past expiry they may still serve */
};

struct cache_stats {
	uint64_t entries;      /* live entries (positive + negative) */
	uint64_t bytes;        /* bytes allocated for entries and index */
	uint64_t max_bytes;
	uint64_t hits, misses; /* counted by the lookup calls */
	uint64_t evictions;    /* removed to stay under max_bytes */
	uint64_t inserts, rejected_by_trust;
	/* Added: whole answers in wire form (cache_store_answer), held in the
	 * same budget.  They are not in `entries`; their bytes are part of
	 * `bytes`, and answer_bytes says how much. */
	uint64_t answers;
	uint64_t answer_bytes;
};

/* A looked-up RRset.  rrset (and rrsigs, may be NULL) are fresh copies
 * with TTLs set to the remaining lifetime (>= 1 s); the caller frees them
 * with cache_result_clear(). */
struct cache_result {
	ldns_rr_list *rrset;
	ldns_rr_list *rrsigs;
	enum cache_trust trust;
	enum cache_security security;
	bool stale;        /* served past expiry (serve-expired); TTL is 30 */
	uint32_t ttl;      /* remaining TTL handed out */
	uint32_t orig_ttl; /* TTL the entry was stored with */
};

struct cache *cache_new(size_t max_bytes, const struct cache_policy *policy);
void cache_free(struct cache *c);
void cache_set_policy(struct cache *c, const struct cache_policy *policy);
void cache_set_max_bytes(struct cache *c, size_t max_bytes);

/* Store an RRset: every RR in rrset has the same owner/type/class (the
 * caller groups them).  The TTL stored is the minimum of the RRs' TTLs,
 * TTLs > 2^31-1 become 0 (RFC 2181 8), then clamped to [min_ttl, max_ttl].
 * Returns 0 when stored, 1 when refused because a higher-trust live entry
 * exists, -1 on bad input or no memory. */
int cache_store_rrset(struct cache *c, const ldns_rr_list *rrset,
		      const ldns_rr_list *rrsigs, enum cache_trust trust,
		      uint64_t now_ms);

/* Look up (owner, type, class) with at least min_trust.  Returns 1 and
 * fills *res on a hit, 0 on a miss.  allow_stale lets an expired entry
 * inside the serve-expired window answer (res->stale set, TTL 30). */
int cache_lookup_rrset(struct cache *c, const ldns_rdf *owner,
		       ldns_rr_type type, ldns_rr_class cls,
		       enum cache_trust min_trust, bool allow_stale,
		       uint64_t now_ms, struct cache_result *res);

void cache_result_clear(struct cache_result *res);

/* Negative caching (RFC 2308).  soa is the SOA from the authority section
 * (its owner is the zone apex).  The lifetime is min(SOA TTL, SOA MINIMUM),
 * clamped to max_negative_ttl.  For NXDOMAIN qtype is ignored: the whole
 * name (and, RFC 8020, everything below it) does not exist. */
int cache_store_negative(struct cache *c, const ldns_rdf *qname,
			 ldns_rr_type qtype, ldns_rr_class cls, bool nxdomain,
			 const ldns_rr *soa, uint64_t now_ms);

/* Returns 1 on a negative hit: *nxdomain tells which kind, *soa_out is a
 * fresh SOA copy with the remaining TTL (caller ldns_rr_free()s it).  A
 * cached NXDOMAIN for an ancestor of qname answers too (RFC 8020). */
int cache_lookup_negative(struct cache *c, const ldns_rdf *qname,
			  ldns_rr_type qtype, ldns_rr_class cls, bool allow_stale,
			  uint64_t now_ms, bool *nxdomain, ldns_rr **soa_out);

/* Removal.  type 0 removes every type (and negative entries) at name. */
size_t cache_flush_name(struct cache *c, const ldns_rdf *name, ldns_rr_type type);
/* Everything at and below name. */
size_t cache_flush_zone(struct cache *c, const ldns_rdf *name);
void cache_flush_all(struct cache *c);

/* Walk every live entry (for dump and lookup listings).  For a positive
 * entry rrset is set; for a negative entry soa is set and qtype/nxdomain
 * describe it.  TTLs in the lists are the remaining ones.  Return non-zero
 * from the callback to stop.  The lists are only valid during the call. */
struct cache_entry_view {
	const ldns_rdf *owner;
	ldns_rr_type type;       /* qtype for negative entries */
	ldns_rr_class cls;
	bool negative, nxdomain;
	const ldns_rr_list *rrset;   /* positive */
	const ldns_rr_list *rrsigs;  /* positive, may be NULL */
	const ldns_rr *soa;          /* negative */
	enum cache_trust trust;
	enum cache_security security;
	uint32_t ttl;                /* remaining, seconds */
};
typedef int (*cache_walk_fn)(void *ud, const struct cache_entry_view *e);
/* Walk entries whose owner is at or below `below` (NULL: all). */
void cache_walk(struct cache *c, const ldns_rdf *below, uint64_t now_ms,
		cache_walk_fn fn, void *ud);

/* The same walk in steps, so a long one (cache dump) can yield to the
 * event loop between them.  Start with a zeroed cursor; each call visits
 * whole hash buckets until `budget` units are spent (an entry or an empty
 * bucket is one unit) and returns the units spent; cur->done is set after
 * the last bucket or when the callback returns non-zero.  The cache may
 * change between steps: an entry present for the whole walk is visited
 * exactly once unless cache_flush_all() ran in between (then it may be
 * visited twice); entries added or removed meanwhile may or may not be. */
struct cache_cursor {
	uint64_t pos;
	bool done;
};
size_t cache_walk_step(struct cache *c, const ldns_rdf *below, uint64_t now_ms,
		       struct cache_cursor *cur, size_t budget, cache_walk_fn fn, void *ud);

void cache_get_stats(const struct cache *c, struct cache_stats *st);

const char *cache_trust_str(enum cache_trust t);

/* ---- Additions by the cache module (not part of the first contract) ----
 *
 * TTL handed out with stale data (RFC 8767 4 recommends 30 s). */
#define CACHE_STALE_TTL 30u
/* Trust rank of negative entries: their SOA proof comes from the authority
 * section of an authoritative reply.  A positive store needs at least this
 * rank to override a live negative for the same key (or an NXDOMAIN above
 * it); a live CACHE_TRUST_ANSWER_AUTH RRset is not wiped by a negative. */
#define CACHE_NEGATIVE_TRUST CACHE_TRUST_AUTHORITY_AUTH

/* The policy cache_new(..., NULL) uses: min 0, max 86400, negative max
 * 3600, serve-expired off with a 86400 s window (config.h defaults). */
void cache_get_policy_defaults(struct cache_policy *policy);

/* ---- The answer cache (added) ----
 *
 * Whole answers kept in wire form, so that a cache hit is one hash, one
 * memcpy and a TTL patch, with no ldns objects and no malloc.  An answer
 * is keyed by (lowercased qname, qtype, qclass) and derived from the
 * RRset cache's data: it expires at the smallest TTL it holds, it is
 * dropped whenever an RRset or negative entry with its exact key is
 * stored, and the flush functions remove it along with the name it is
 * keyed at and with any record it holds (so flushing a CNAME chain's
 * target removes the answers keyed at its aliases).  A chain answer keyed
 * at the alias is not dropped when an RRset further down the chain is
 * re-stored; its lifetime (the chain's smallest TTL) bounds how long it
 * may lag behind.  Answers
 * are never served stale and never appear in cache_walk().  Keyed
 * without CD and DO: nothing is validated and no RRSIG is served yet;
 * both belong in the key once DNSSEC arrives.
 *
 * Store the answer the resolver just sent for a question: rcode NOERROR or
 * NXDOMAIN only, never stale data.  qname is in wire form, lowercased.
 * Each TTL gets the clamps the RRset cache applies (an SOA in the
 * authority section the negative-caching ones); the entry lives until the
 * smallest of them.  An entry already held for the key is replaced.
 * Returns 0 when stored (or, for a zero lifetime, deliberately not), -1
 * on bad input, an answer larger than a message, or no memory. */
int cache_store_answer(struct cache *c, const uint8_t *qname, size_t qname_len,
		       uint16_t qtype, uint16_t qclass, uint16_t rcode,
		       const ldns_rr_list *answer, const ldns_rr_list *authority,
		       uint64_t now_ms);

/* The hit path.  Looks q up and, on a live answer, writes the complete
 * response into out: q's ID, QR, opcode, RD and CD copied, RA, the rcode;
 * q's question byte for byte (the client's case, also in every owner that
 * equals the question, as those are pointers to it); the stored sections
 * with each TTL counted down (whole seconds rounded up, so >= 1); an OPT
 * (msg_get_edns_size(), DO echoed) when q had one.  Returns the length,
 * or 0 on a miss or when the response would exceed max_len or cap (the
 * caller then takes the slow path, which truncates properly).
 * *prefetch_due is set when the answer is in the last 10% of its life.
 * Reads only q's parsed fields; allocates nothing. */
struct msg_query;
size_t cache_answer_hit(struct cache *c, const struct msg_query *q, uint64_t now_ms,
			uint8_t *out, size_t cap, size_t max_len, bool *prefetch_due);

/* Notes on the contract above, as implemented:
 * - An RRset whose TTL is 0 after the policy clamp is not stored; the
 *   store still returns 0 and removes the entry it outranks.  Negative
 *   lifetimes of 0 behave the same.
 * - cache_stats.entries counts entries held, including expired ones kept
 *   for serve-expired or not reclaimed yet (stats take no clock).
 *   A negative lookup counts a hit or a miss just as an RRset lookup does.
 * - In cache_walk, an NXDOMAIN entry has type 0 (there is no qtype).  The
 *   callback must not modify the cache.
 * - cache_flush_name(name, type) removes that type in every class, and a
 *   NODATA for it; only type 0 removes an NXDOMAIN at name.
 * - The flush functions return (and flush-all's stats show) the RRsets
 *   and negatives removed; answer entries go with them uncounted.
 * - An answer-cache hit counts in cache_stats.hits; an answer-cache miss
 *   counts nothing (the lookups of the slow path that follows count). */

#endif
