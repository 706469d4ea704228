/* cache_int.h — what cache.c (RRsets, negatives, the table, CLOCK,
 * accounting, flushes) and cache_answer.c (whole answers in wire form)
 * share.  Nothing here is part of the cache's contract (include/cache.h).
 *
 * Both kinds of entry live in one hash table and one CLOCK ring per shard
 * so that one cache-size bounds them together, one eviction policy
 * arbitrates between them, and the flush functions reach both.  An
 * entry's kind is part of its key (EF_ANSWER is folded into the hash and
 * compared), so an answer for (name, type, class) never shadows the RRset
 * with that key.
 *
 * Sharding, for workers sharing one cache: the key hash's top byte picks
 * a shard; each shard is a complete small cache (table, CLOCK ring, its
 * share of the byte budget, counters) behind its own lock.  So a hit
 * locks one shard and nothing global, and two workers collide only when
 * their keys fall in the same shard.  Rules that keep this deadlock-free
 * and simple: a thread holds at most one shard lock at a time; every
 * field of a shard and of the entries in it is read and written only
 * under that shard's lock; what is cache-wide is either fixed at
 * cache_new (nshards, the SipHash key), or atomic (the policy, published
 * as an immutable copy; the NXDOMAIN count, a hint only). */
#ifndef RW_CACHE_INT_H
#define RW_CACHE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache.h"
#include "cache_siphash.h"

#define CACHE_NAME_WIRE_MAX 255

/* Entry flags. */
enum {
	EF_NEGATIVE = 1,   /* NODATA or NXDOMAIN: holds an SOA, not an RRset */
	EF_NXDOMAIN = 2,
	EF_REFERENCED = 4, /* CLOCK bit: looked up since the hand last passed */
	EF_ANSWER = 8,     /* a whole answer in wire form (cache_answer.c) */
};

/* One allocation per entry.  The lowercased owner always comes first in
 * data: the table and the flushes compare it without knowing the kind.
 * For EF_ANSWER entries some fields mean something else: nrr/nsig are
 * ANCOUNT/NSCOUNT, trust holds the rcode, orig_ttl is the smallest TTL of
 * the answer (its lifetime, for prefetch), and data is laid out as
 * cache_answer.c says. */
struct entry {
	struct entry *chain;       /* next in the hash bucket */
	struct entry *prev, *next; /* CLOCK ring */
	uint64_t hash;
	uint64_t expiry_ms;        /* dead when now >= expiry_ms */
	uint32_t size;             /* malloc_usable_size() of this entry */
	uint32_t orig_ttl;         /* TTL when stored, for prefetch decisions */
	uint16_t type, cls;
	uint16_t nrr, nsig;        /* negative entries: nrr = 1 (the SOA) */
	uint8_t namelen, trust, security, flags;
	/* owner[namelen], then nrr + nsig records [rdlen:2][rdata];
	 * negative: owner, [apexlen:1][apex], one SOA record. */
	uint8_t data[];
};

/* Sharding: at most 256 shards (the top byte of the hash), and never so
 * many that a shard's share of cache-size falls below 256 KiB: a share
 * must hold enough entries for CLOCK to mean something, so a small cache
 * (unit tests, cache-size: 1m) has one shard and behaves exactly like the
 * unsharded cache, eviction order included. */
#define CACHE_SHARDS_MAX 256u
#define CACHE_SHARD_MIN_BYTES ((size_t)256 << 10)

struct cache_shard {
	atomic_int lock;           /* 0 free, 1 held, 2 held with sleepers */
	struct entry **table;
	size_t nbuckets;           /* power of two */
	size_t count;              /* every entry, answers included */
	size_t table_bytes, entry_bytes, max_bytes; /* max_bytes: this shard's share */
	size_t n_answers, answer_bytes; /* the EF_ANSWER part of count and entry_bytes */
	struct entry *hand;        /* CLOCK hand; NULL when empty */
	uint64_t last_now_ms;      /* for evictions triggered without a clock */
	struct cache_stats st;     /* hits, misses, evictions, inserts, rejected_by_trust */
} __attribute__((aligned(64)));   /* no false sharing between shards */

/* The policy in force: replaced whole (cache_set_policy), never changed in
 * place, so a reader needs one atomic load and no lock.  Replaced copies
 * stay allocated until cache_free (a reload makes one, ~40 bytes). */
struct cache_policy_node {
	struct cache_policy pol;
	struct cache_policy_node *older;
};

struct cache {
	struct cache_shard *shards;
	unsigned nshards;          /* power of two, fixed at cache_new */
	struct siphash_key key;    /* fixed at cache_new */
	_Atomic(struct cache_policy_node *) pol;
	atomic_size_t n_nxdomain;  /* lets negative lookups skip the ancestor walk */
	atomic_size_t max_bytes;
	pthread_mutex_t admin;     /* serialises set_policy and set_max_bytes */
};

static inline const struct cache_policy *cache_pol(const struct cache *c)
{
	return &atomic_load_explicit(&((struct cache *)c)->pol, memory_order_acquire)->pol;
}

/* The top byte of the hash picks the shard; the bucket comes from the low
 * bits, so the two choices are independent. */
static inline struct cache_shard *cache_shard_of(const struct cache *c, uint64_t hash)
{
	return &c->shards[(hash >> 56) & (c->nshards - 1)];
}

/* The shard lock: a futex lock (Drepper, "Futexes Are Tricky", mutex 3)
 * whose uncontended path is inline: one compare-and-swap to take it, one
 * exchange to give it back.  Why not pthread_mutex_t: on the hit path the
 * two library calls (type checks, owner and count bookkeeping) were ~64 of
 * ~1,000 instructions per answer (callgrind, bench_hit), for a lock that
 * is almost never contended (a shard is one of up to 256).  A contended
 * taker spins briefly, then sleeps in the kernel (cache.c), so a holder
 * preempted in a long section (a walk step, an RRset copy) costs the
 * waiters no CPU.  Not recursive; a thread holds at most one. */
void cache_shard_lock_wait(atomic_int *lock);
void cache_shard_lock_wake(atomic_int *lock);

static inline void cache_shard_lock(struct cache_shard *s)
{
	int free_ = 0;

	if (!atomic_compare_exchange_strong_explicit(&s->lock, &free_, 1,
						     memory_order_acquire, memory_order_relaxed))
		cache_shard_lock_wait(&s->lock);
}

static inline void cache_shard_unlock(struct cache_shard *s)
{
	if (atomic_exchange_explicit(&s->lock, 0, memory_order_release) == 2)
		cache_shard_lock_wake(&s->lock);
}

/* CLOCK's reference bit, written only when it changes so that a hot
 * entry's cache line is not dirtied on every hit.  Shard lock held. */
static inline void cache_entry_touch(struct entry *e)
{
	if (!(e->flags & EF_REFERENCED))
		e->flags |= EF_REFERENCED;
}

static inline uint8_t cache_ascii_lower(uint8_t c)
{
	return (uint8_t)(c - 'A') < 26u ? (uint8_t)(c + 32) : c;
}

/* The kind (EF_ANSWER or 0) goes into the hashed prefix above type and
 * class, so an answer and the RRset of the same name and type land in
 * unrelated buckets. */
static inline uint64_t cache_key_hash(const struct cache *c, const uint8_t *name, size_t len,
				      uint16_t type, uint16_t cls, uint8_t kind)
{
	return siphash13(&c->key, (uint64_t)type | (uint64_t)cls << 16 | (uint64_t)kind << 32,
			 name, len);
}

/* Equal wire names of len bytes, in 8-byte steps (the last one overlapping
 * when len is not a multiple of 8): the memcmp call cost ~25 instructions
 * per hit for a 20-byte name. */
static inline bool cache_name_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t x, y;
	size_t i = 0;

	if (len < 8)
		return memcmp(a, b, len) == 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	if (i == len)
		return true;
	memcpy(&x, a + len - 8, 8);
	memcpy(&y, b + len - 8, 8);
	return x == y;
}

/* Inline because the answer-cache hit path is one hash and this walk.
 * s is the shard of hash, locked. */
static inline struct entry *cache_table_find(const struct cache_shard *s, const uint8_t *name,
					     size_t len, uint16_t type, uint16_t cls,
					     uint8_t kind, uint64_t hash)
{
	struct entry *e = s->table[hash & (s->nbuckets - 1)];

	for (; e; e = e->chain)
		if (e->hash == hash && e->type == type && e->cls == cls &&
		    (e->flags & EF_ANSWER) == kind && e->namelen == len &&
		    cache_name_eq(e->data, name, len))
			return e;
	return NULL;
}

static inline uint16_t cache_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* An EF_ANSWER entry's data, after the lowercased qname:
 *     [blob length:2][TTL field offsets:2 each, nrr + nsig of them][blob]
 * all big-endian.  The offsets are message offsets; the blob is the
 * message from offset 12 + qname length + 4 (header, question) on, and
 * its TTL fields hold each record's TTL as stored. */
static inline size_t cache_answer_nttl(const struct entry *e)
{
	return (size_t)e->nrr + e->nsig;
}

static inline const uint8_t *cache_answer_offs(const struct entry *e)
{
	return e->data + e->namelen + 2;
}

static inline size_t cache_answer_bloblen(const struct entry *e)
{
	return cache_rd16(e->data + e->namelen);
}

static inline const uint8_t *cache_answer_blob(const struct entry *e)
{
	return cache_answer_offs(e) + 2 * cache_answer_nttl(e);
}

/* Message offset where the blob starts: after the header and question. */
static inline size_t cache_answer_start(const struct entry *e)
{
	return 12u + (size_t)e->namelen + 4u;
}

/* cache.c (which links without cache_answer.c: storing and serving
 * answers needs msg.c's encoder, dropping and flushing them does not) */
struct entry *cache_entry_alloc(size_t datalen);
/* Put e (key and hash set, s its shard, locked) in place of old (may be
 * NULL), then evict the shard down to its share of max_bytes. */
void cache_entry_commit(struct cache *c, struct cache_shard *s, struct entry *old,
			struct entry *e, uint64_t now_ms);
/* Unlink and free e; s is its shard, locked. */
void cache_entry_remove(struct cache *c, struct cache_shard *s, struct entry *e);
/* RFC 2181 8 and the cache-min/max-ttl policy, as RRsets get them. */
uint32_t cache_ttl_positive(const struct cache *c, uint32_t ttl);
/* RFC 2308 5: min(SOA TTL, SOA MINIMUM), capped by cache-max-negative-ttl. */
uint32_t cache_ttl_negative(const struct cache *c, uint32_t soa_ttl, uint32_t soa_minimum);


#endif
