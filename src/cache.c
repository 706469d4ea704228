/* cache.c — the RRset and negative cache (see cache.h).
 *
 * Shape, and why:
 *  - One malloc per entry holding everything: the lowercased owner in
 *    wire form, the key, expiry, trust and the RRs as length-prefixed
 *    rdata blobs (then the RRSIGs).  No ldns objects live in the cache:
 *    an ldns RR costs ~6 allocations and ~200 bytes, a blob a few bytes
 *    of header; lookups build fresh ldns copies, which the contract asks
 *    for anyway.  Each record is stored as [rdlength(2, big-endian)]
 *    [rdata], exactly what ldns_wire2rdf() reads back.
 *  - A chained hash table keyed by SipHash(type, class, lowercased owner)
 *    with a secret random key (cache_siphash.h says why SipHash).  Chains
 *    keep the full 64-bit hash so most mismatches cost one compare, and
 *    rehashing on growth never rehashes names.
 *  - CLOCK (second chance) instead of a strict LRU list for eviction.  A
 *    hit only sets a bit in the entry it already touched; a strict LRU
 *    must relink the entry at the head on every hit, writing to two
 *    neighbours' cache lines and, once workers share this cache, taking a
 *    global lock on the read path (Unbound's lruhash does exactly that).
 *    CLOCK evicts an entry that was not used during the last sweep of the
 *    hand, which is LRU's behaviour to within one revolution.  Expired
 *    entries are evicted without a second chance.
 *  - Negative answers are entries of their own: NODATA under (qname,
 *    qtype), NXDOMAIN under (qname, TYPE_NXDOMAIN).  Type 0 is reserved
 *    (RFC 6895) and never stored as data, so it serves as the marker.
 *  - Whole answers in wire form (cache_answer.c) are entries too, flagged
 *    EF_ANSWER, in the same table, ring and budget: cache-size covers
 *    them, CLOCK weighs them against RRsets, and the flushes reach them.
 *    Since they are derived from the RRsets, every store for their key
 *    drops them and the walk skips them.  The struct layouts shared with
 *    cache_answer.c are in cache_int.h.
 *
 * Memory is counted with malloc_usable_size() of every entry and of the
 * bucket array, so max_bytes bounds what the allocator really handed us
 * (minus its own per-chunk header, which the allocator does not report).
 *
 * Threads (workers share one cache): the cache is split into shards by
 * the key hash's top byte, each a table + CLOCK ring + budget share +
 * counters behind its own lock (cache_int.h has the rules).  A lookup or
 * a store of one key locks one shard; what spans keys (the RFC 8020
 * ancestor walk, dropping answers and NXDOMAINs a store contradicts,
 * flushes, walks, stats) visits shards one after the other, never holding
 * two locks, so there is no lock order to get wrong.  Such operations are
 * not atomic across shards: a store's side effects land just after its
 * entry does, a flush-all empties shard after shard.  Each interleaving
 * is one that two single-threaded callers could also produce in some
 * order, except that a reader may briefly see a new RRset beside an
 * NXDOMAIN above it that is about to go. */
#include "cache.h"
#include "cache_int.h"
#include "log.h"

#include <linux/futex.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NAME_WIRE_MAX CACHE_NAME_WIRE_MAX
#define LABELS_MAX 128
#define TYPE_NXDOMAIN 0
#define TTL_SANE_MAX 0x7fffffffu
#define TABLE_MIN_BUCKETS 64u
#define RRSET_MAX_RRS 0xffffu
/* A DNS message holds at most 64 KiB, so no real RRset comes near this;
 * the bound keeps entry sizes well inside the 32-bit size field. */
#define ENTRY_DATA_MAX (1u << 20)

/* A validated, lowercased owner name and where its labels start, so that
 * the ancestors of a name are just suffixes of the same buffer. */
struct lname {
	size_t len;
	unsigned nlabels;          /* not counting the root label */
	uint8_t off[LABELS_MAX];
	uint8_t wire[NAME_WIRE_MAX];
};

static const struct cache_policy default_policy = {
	.min_ttl = 0,
	.max_ttl = 86400,
	.max_negative_ttl = 3600,
	.serve_expired = false,
	.serve_expired_window = 86400,
};

/* ---- names ---------------------------------------------------------- */

/* Validate an uncompressed absolute wire name and copy it lowercased.
 * Lowercasing the whole buffer bytewise is safe: label lengths are <= 63,
 * below 'A'. */
static int lname_from_wire(struct lname *n, const uint8_t *w, size_t len)
{
	size_t pos = 0;

	if (len == 0 || len > NAME_WIRE_MAX)
		return -1;
	n->nlabels = 0;
	while (w[pos] != 0) {
		if (w[pos] > 63 || pos + 1 + w[pos] >= len)
			return -1;
		n->off[n->nlabels++] = (uint8_t)pos;
		pos += 1u + w[pos];
	}
	if (pos != len - 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		n->wire[i] = cache_ascii_lower(w[i]);
	n->len = len;
	return 0;
}

static int lname_from_rdf(struct lname *n, const ldns_rdf *rdf)
{
	if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return -1;
	return lname_from_wire(n, ldns_rdf_data(rdf), ldns_rdf_size(rdf));
}

static bool rdf_is_name(const ldns_rdf *rdf, const struct lname *n)
{
	const uint8_t *d;

	if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME ||
	    ldns_rdf_size(rdf) != n->len)
		return false;
	d = ldns_rdf_data(rdf);
	for (size_t i = 0; i < n->len; i++)
		if (cache_ascii_lower(d[i]) != n->wire[i])
			return false;
	return true;
}

/* True when the (valid, lowercase) name is zone or below it; compares
 * whole labels only, so "xexample.com" is not below "example.com". */
static bool name_at_or_below(const uint8_t *name, size_t len, const uint8_t *zone,
			     size_t zlen)
{
	size_t pos = 0;

	while (len - pos > zlen)
		pos += 1u + name[pos];
	return len - pos == zlen && memcmp(name + pos, zone, zlen) == 0;
}

/* ---- TTL arithmetic ------------------------------------------------- */

/* RFC 2181 8: a TTL with the top bit set is treated as zero. */
static uint32_t ttl_sane(uint32_t ttl)
{
	return ttl > TTL_SANE_MAX ? 0 : ttl;
}

static uint32_t ttl_clamp(uint32_t ttl, uint32_t lo, uint32_t hi)
{
	if (ttl < lo)
		ttl = lo;
	if (ttl > hi)
		ttl = hi;
	return ttl;
}

/* Min first, then max: max wins if they cross. */
uint32_t cache_ttl_positive(const struct cache *c, uint32_t ttl)
{
	const struct cache_policy *p = cache_pol(c);

	return ttl_clamp(ttl_sane(ttl), p->min_ttl, p->max_ttl);
}

uint32_t cache_ttl_negative(const struct cache *c, uint32_t soa_ttl, uint32_t soa_minimum)
{
	uint32_t t = ttl_sane(soa_ttl);

	uint32_t max = cache_pol(c)->max_negative_ttl;

	if (ttl_sane(soa_minimum) < t)
		t = ttl_sane(soa_minimum);
	return t < max ? t : max;
}

/* Seconds left, rounded up so a live entry never shows TTL 0 (a TTL of 0
 * handed to a client means "do not cache", which the data does not say). */
static uint32_t ttl_remaining(const struct entry *e, uint64_t now_ms)
{
	return (uint32_t)((e->expiry_ms - now_ms + 999) / 1000);
}

static bool entry_live(const struct entry *e, uint64_t now_ms)
{
	return now_ms < e->expiry_ms;
}

/* Expired but still inside the serve-expired window (RFC 8767). */
static bool entry_stale_ok(const struct cache *c, const struct entry *e, uint64_t now_ms)
{
	const struct cache_policy *p = cache_pol(c);

	return p->serve_expired &&
	       now_ms < e->expiry_ms + (uint64_t)p->serve_expired_window * 1000;
}

/* ---- table and CLOCK ring (one shard, its lock held) ----------------- */

static uint64_t key_hash(const struct cache *c, const uint8_t *name, size_t len,
			 uint16_t type, uint16_t cls)
{
	return cache_key_hash(c, name, len, type, cls, 0);
}

/* Double the bucket array when the load passes 1.  On allocation failure
 * the old table stays: chains get longer, nothing breaks. */
static void table_grow(struct cache_shard *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **t = calloc(n, sizeof(*t));

	if (!t)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry *e = s->table[i], *next;

		for (; e; e = next) {
			next = e->chain;
			e->chain = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
		}
	}
	free(s->table);
	s->table = t;
	s->nbuckets = n;
	s->table_bytes = malloc_usable_size(t);
}

static void table_unlink(struct cache_shard *s, struct entry *e)
{
	struct entry **pp = &s->table[e->hash & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
}

/* New entries go just behind the hand: the last the hand will reach. */
static void ring_insert(struct cache_shard *s, struct entry *e)
{
	if (!s->hand) {
		e->prev = e->next = e;
		s->hand = e;
		return;
	}
	e->next = s->hand;
	e->prev = s->hand->prev;
	e->prev->next = e;
	s->hand->prev = e;
}

static void ring_unlink(struct cache_shard *s, struct entry *e)
{
	if (e->next == e) {
		s->hand = NULL;
		return;
	}
	if (s->hand == e)
		s->hand = e->next;
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void entry_insert(struct cache *c, struct cache_shard *s, struct entry *e)
{
	size_t b = e->hash & (s->nbuckets - 1);

	e->chain = s->table[b];
	s->table[b] = e;
	ring_insert(s, e);
	s->count++;
	s->entry_bytes += e->size;
	if (e->flags & EF_NXDOMAIN)
		atomic_fetch_add_explicit(&c->n_nxdomain, 1, memory_order_relaxed);
	if (e->flags & EF_ANSWER) {
		s->n_answers++;
		s->answer_bytes += e->size;
	}
	if (s->count > s->nbuckets)
		table_grow(s);
}

void cache_entry_remove(struct cache *c, struct cache_shard *s, struct entry *e)
{
	table_unlink(s, e);
	ring_unlink(s, e);
	s->count--;
	s->entry_bytes -= e->size;
	if (e->flags & EF_NXDOMAIN)
		atomic_fetch_sub_explicit(&c->n_nxdomain, 1, memory_order_relaxed);
	if (e->flags & EF_ANSWER) {
		s->n_answers--;
		s->answer_bytes -= e->size;
	}
	free(e);
}

static size_t shard_bytes(const struct cache_shard *s)
{
	return s->entry_bytes + s->table_bytes;
}

/* Second-chance sweep: a referenced live entry loses its bit and is
 * skipped; the first unreferenced or expired one goes.  Ends within two
 * revolutions. */
static void evict_one(struct cache *c, struct cache_shard *s, uint64_t now_ms)
{
	for (;;) {
		struct entry *e = s->hand;

		if (!entry_live(e, now_ms) || !(e->flags & EF_REFERENCED)) {
			cache_entry_remove(c, s, e);
			s->st.evictions++;
			return;
		}
		e->flags &= (uint8_t)~EF_REFERENCED;
		s->hand = e->next;
	}
}

static void evict_to_limit(struct cache *c, struct cache_shard *s, uint64_t now_ms)
{
	while (s->count && shard_bytes(s) > s->max_bytes)
		evict_one(c, s, now_ms);
}

/* Lock the shard of (name, type, cls) among the RRset/negative entries
 * and find the entry there; *sp is the locked shard, *hp the hash. */
static struct entry *find_locked(struct cache *c, const uint8_t *name, size_t len,
				 uint16_t type, uint16_t cls, struct cache_shard **sp,
				 uint64_t *hp)
{
	uint64_t h = key_hash(c, name, len, type, cls);
	struct cache_shard *s = cache_shard_of(c, h);

	cache_shard_lock(s);
	*sp = s;
	if (hp)
		*hp = h;
	return cache_table_find(s, name, len, type, cls, 0, h);
}

/* ---- entry construction --------------------------------------------- */

static size_t rdata_len(const ldns_rr *rr)
{
	size_t len = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		len += ldns_rdf_size(ldns_rr_rdf(rr, i));
	return len;
}

/* Append [rdlen][rdata] for rr at p; returns the end. */
static uint8_t *put_record(uint8_t *p, const ldns_rr *rr, size_t rdlen)
{
	*p++ = (uint8_t)(rdlen >> 8);
	*p++ = (uint8_t)rdlen;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);

		memcpy(p, ldns_rdf_data(f), ldns_rdf_size(f));
		p += ldns_rdf_size(f);
	}
	return p;
}

struct entry *cache_entry_alloc(size_t datalen)
{
	struct entry *e = malloc(sizeof(*e) + datalen);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->size = (uint32_t)malloc_usable_size(e);
	return e;
}

static void entry_set_key(struct cache *c, struct entry *e, const struct lname *n,
			  uint16_t type, uint16_t cls)
{
	memcpy(e->data, n->wire, n->len);
	e->namelen = (uint8_t)n->len;
	e->type = type;
	e->cls = cls;
	e->hash = key_hash(c, n->wire, n->len, type, cls);
}

/* Bytes of the records of a list, or 0 when one is unstorable. */
static size_t list_bytes(const ldns_rr_list *l)
{
	size_t total = 0;

	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		size_t len = rdata_len(ldns_rr_list_rr(l, i));

		if (len > 0xffff)
			return 0;
		total += 2 + len;
	}
	return total;
}

static uint8_t *put_list(uint8_t *p, const ldns_rr_list *l)
{
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		p = put_record(p, rr, rdata_len(rr));
	}
	return p;
}

/* ---- result construction -------------------------------------------- */

/* One ldns RR from a stored record; *pp advances past it. */
static ldns_rr *record_to_rr(const uint8_t *owner, size_t ownerlen, uint16_t type,
			     uint16_t cls, uint32_t ttl, const uint8_t **pp)
{
	const uint8_t *p = *pp;
	size_t reclen = 2 + ((size_t)p[0] << 8 | p[1]), pos = 0;
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o;

	if (!rr)
		return NULL;
	o = ldns_dname_new_frm_data((uint16_t)ownerlen, owner);
	if (!o) {
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (ldns_wire2rdf(rr, p, reclen, &pos) != LDNS_STATUS_OK) {
		ldns_rr_free(rr);
		return NULL;
	}
	*pp = p + reclen;
	return rr;
}

static ldns_rr_list *records_to_list(const struct entry *e, uint16_t type, unsigned n,
				     uint32_t ttl, const uint8_t **pp)
{
	ldns_rr_list *l = ldns_rr_list_new();

	if (!l)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		ldns_rr *rr = record_to_rr(e->data, e->namelen, type, e->cls, ttl, pp);

		if (!rr || !ldns_rr_list_push_rr(l, rr)) {
			ldns_rr_free(rr);
			ldns_rr_list_deep_free(l);
			return NULL;
		}
	}
	return l;
}

/* Fresh ldns copies of a positive entry's RRset and RRSIGs. */
static int entry_to_lists(const struct entry *e, uint32_t ttl, ldns_rr_list **rrset,
			  ldns_rr_list **rrsigs)
{
	const uint8_t *p = e->data + e->namelen;

	*rrsigs = NULL;
	*rrset = records_to_list(e, e->type, e->nrr, ttl, &p);
	if (!*rrset)
		return -1;
	if (!e->nsig)
		return 0;
	*rrsigs = records_to_list(e, LDNS_RR_TYPE_RRSIG, e->nsig, ttl, &p);
	if (!*rrsigs) {
		ldns_rr_list_deep_free(*rrset);
		*rrset = NULL;
		return -1;
	}
	return 0;
}

/* The SOA of a negative entry, owned by the zone apex stored with it. */
static ldns_rr *entry_to_soa(const struct entry *e, uint32_t ttl)
{
	const uint8_t *apex = e->data + e->namelen + 1;
	size_t apexlen = e->data[e->namelen];
	const uint8_t *p = apex + apexlen;

	return record_to_rr(apex, apexlen, LDNS_RR_TYPE_SOA, e->cls, ttl, &p);
}

/* ---- lifecycle ------------------------------------------------------ */

/* The number of shards for a budget: see CACHE_SHARD_MIN_BYTES. */
static unsigned shards_for(size_t max_bytes)
{
	unsigned n = 1;

	while (n < CACHE_SHARDS_MAX && max_bytes / (2u * n) >= CACHE_SHARD_MIN_BYTES)
		n *= 2;
	return n;
}

/* ---- the shard lock's slow path (cache_int.h) -------------------------- */

#define SHARD_LOCK_SPINS 100   /* a hit holds a shard for well under 1 us */

static long futex(atomic_int *addr, int op, int val)
{
	return syscall(SYS_futex, (int *)addr, op, val, NULL, NULL, 0);
}

/* The lock was not free: spin a little (the holder is most likely on the
 * other core, about to let go), then mark it contended (2) and sleep
 * until the holder's unlock wakes us.  Whoever takes it here takes it as
 * 2, which may cost one needless wake later, never a lost one. */
void cache_shard_lock_wait(atomic_int *lock)
{
	int c;

	for (int i = 0; i < SHARD_LOCK_SPINS; i++) {
		c = 0;
		if (atomic_load_explicit(lock, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(lock, &c, 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	while ((c = atomic_exchange_explicit(lock, 2, memory_order_acquire)) != 0)
		futex(lock, FUTEX_WAIT_PRIVATE, 2); /* EAGAIN/EINTR: look again */
}

void cache_shard_lock_wake(atomic_int *lock)
{
	futex(lock, FUTEX_WAKE_PRIVATE, 1);
}

static int shard_init(struct cache_shard *s, size_t max_bytes)
{
	memset(s, 0, sizeof(*s));
	s->table = calloc(TABLE_MIN_BUCKETS, sizeof(*s->table));
	if (!s->table)
		return -1;
	atomic_init(&s->lock, 0);
	s->nbuckets = TABLE_MIN_BUCKETS;
	s->table_bytes = malloc_usable_size(s->table);
	s->max_bytes = max_bytes;
	return 0;
}

static void shard_free_entries(struct cache *c, struct cache_shard *s)
{
	while (s->hand)
		cache_entry_remove(c, s, s->hand);
}

static void shard_destroy(struct cache *c, struct cache_shard *s)
{
	shard_free_entries(c, s);
	free(s->table);
}

static struct cache_policy_node *policy_node(const struct cache_policy *policy)
{
	struct cache_policy_node *p = calloc(1, sizeof(*p));

	if (p)
		p->pol = policy ? *policy : default_policy;
	return p;
}

static void free_policies(struct cache_policy_node *p)
{
	while (p) {
		struct cache_policy_node *older = p->older;

		free(p);
		p = older;
	}
}

struct cache *cache_new(size_t max_bytes, const struct cache_policy *policy)
{
	struct cache *c = calloc(1, sizeof(*c));
	unsigned n = shards_for(max_bytes), i = 0;
	struct cache_policy_node *p = policy_node(policy);

	if (!c || !p)
		goto fail_early;
	c->shards = aligned_alloc(64, n * sizeof(*c->shards));
	if (!c->shards || pthread_mutex_init(&c->admin, NULL) != 0)
		goto fail_early;
	for (; i < n; i++)
		if (shard_init(&c->shards[i], max_bytes / n) != 0)
			goto fail;
	c->nshards = n;
	atomic_init(&c->pol, p);
	atomic_init(&c->n_nxdomain, 0);
	atomic_init(&c->max_bytes, max_bytes);
	/* arc4random is seeded from getrandom() and cannot fail. */
	arc4random_buf(&c->key, sizeof(c->key));
	return c;
fail:
	while (i--)
		shard_destroy(c, &c->shards[i]);
	pthread_mutex_destroy(&c->admin);
fail_early:
	if (c)
		free(c->shards);
	free(c);
	free(p);
	return NULL;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nshards; i++)
		shard_destroy(c, &c->shards[i]);
	free(c->shards);
	free_policies(atomic_load(&c->pol));
	pthread_mutex_destroy(&c->admin);
	free(c);
}

/* Publish a fresh copy; the old one stays readable (a store running now
 * may hold it) until cache_free. */
void cache_set_policy(struct cache *c, const struct cache_policy *policy)
{
	struct cache_policy_node *p = policy_node(policy);

	if (!p) {
		log_err("cache: out of memory changing the cache policy; keeping the old one");
		return;
	}
	pthread_mutex_lock(&c->admin);
	p->older = atomic_load_explicit(&c->pol, memory_order_relaxed);
	atomic_store_explicit(&c->pol, p, memory_order_release);
	pthread_mutex_unlock(&c->admin);
}

/* Each shard gets an equal share; a shrunk share evicts at once, by the
 * clock the shard saw last. */
void cache_set_max_bytes(struct cache *c, size_t max_bytes)
{
	pthread_mutex_lock(&c->admin);
	atomic_store_explicit(&c->max_bytes, max_bytes, memory_order_relaxed);
	for (unsigned i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		cache_shard_lock(s);
		s->max_bytes = max_bytes / c->nshards;
		evict_to_limit(c, s, s->last_now_ms);
		cache_shard_unlock(s);
	}
	pthread_mutex_unlock(&c->admin);
}

void cache_get_policy_defaults(struct cache_policy *policy)
{
	*policy = default_policy;
}

/* ---- answer entries: invalidation ----------------------------------
 *
 * The answers themselves are built and served by cache_answer.c, which
 * needs msg.c's encoder; what invalidates them lives here, beside the
 * stores and flushes that trigger it, so cache.c still links alone. */

#define ANSWER_HDR_LEN 12u

typedef bool (*name_pred)(const uint8_t *name, size_t len, const void *ud);

/* A store for (name, type, cls) replaces what the answer with that key
 * was built from: drop it.  Locks the answer's shard. */
static void answer_drop(struct cache *c, const uint8_t *name, size_t len, uint16_t type,
			uint16_t cls)
{
	uint64_t h = cache_key_hash(c, name, len, type, cls, EF_ANSWER);
	struct cache_shard *s = cache_shard_of(c, h);
	struct entry *e;

	cache_shard_lock(s);
	if (s->n_answers) {
		e = cache_table_find(s, name, len, type, cls, EF_ANSWER, h);
		if (e)
			cache_entry_remove(c, s, e);
	}
	cache_shard_unlock(s);
}

/* Decode the (lowercased) name at message offset off of e's message into
 * out.  Offsets before the blob are the question, which is e's key.  Our
 * own encoder wrote these bytes; the bounds are checked all the same.
 * Returns the offset just past the name where it sits, or 0. */
static size_t answer_name(const struct entry *e, size_t off, uint8_t *out, size_t *outlen)
{
	const uint8_t *blob = cache_answer_blob(e);
	size_t start = cache_answer_start(e), end = start + cache_answer_bloblen(e);
	size_t n = 0, after = 0;

	for (unsigned hops = 0; hops < 128;) {
		const uint8_t *p;
		size_t room;

		if (off >= ANSWER_HDR_LEN && off < ANSWER_HDR_LEN + e->namelen) {
			p = e->data + (off - ANSWER_HDR_LEN);
			room = ANSWER_HDR_LEN + e->namelen - off;
		} else if (off >= start && off < end) {
			p = blob + (off - start);
			room = end - off;
		} else {
			return 0;
		}
		if ((p[0] & 0xc0) == 0xc0) {
			if (room < 2)
				return 0;
			if (!after)
				after = off + 2;
			off = (size_t)(p[0] & 0x3f) << 8 | p[1];
			hops++;
			continue;
		}
		if (p[0] > 63 || room < 1u + p[0] || n + 1u + p[0] > CACHE_NAME_WIRE_MAX)
			return 0;
		for (size_t i = 0; i <= p[0]; i++)
			out[n + i] = i ? cache_ascii_lower(p[i]) : p[0];
		n += 1u + p[0];
		off += 1u + p[0];
		if (p[0] == 0) {
			*outlen = n;
			return after ? after : off;
		}
	}
	return 0;
}

/* Does answer entry e hold a record whose (lowercased) owner satisfies
 * pred and whose type is type (any type when 0)?  For the flushes. */
static bool answer_holds(const struct entry *e, uint16_t type, name_pred pred, const void *ud)
{
	size_t off = cache_answer_start(e), end = off + cache_answer_bloblen(e);
	uint8_t name[CACHE_NAME_WIRE_MAX];
	size_t len;

	for (size_t i = 0; i < cache_answer_nttl(e) && off < end; i++) {
		const uint8_t *f;

		off = answer_name(e, off, name, &len);
		if (!off || end - off < 10)
			return true; /* unreadable: flushing it is the safe side */
		f = cache_answer_blob(e) + (off - cache_answer_start(e));
		if ((!type || cache_rd16(f) == type) && pred(name, len, ud))
			return true;
		off += 10u + cache_rd16(f + 8);
	}
	return false;
}

/* ---- storing -------------------------------------------------------- */

/* Types that are never data: reserved 0 (our NXDOMAIN marker), OPT and
 * the query-only meta types (TSIG, IXFR, AXFR, MAILB, MAILA, ANY). */
static bool type_storable(uint16_t type)
{
	return type != 0 && type != LDNS_RR_TYPE_OPT && !(type >= 250 && type <= 255);
}

static bool rrset_consistent(const ldns_rr_list *rrset, const struct lname *owner,
			     uint16_t type, uint16_t cls)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrset, i);

		if (ldns_rr_get_type(rr) != type || ldns_rr_get_class(rr) != cls ||
		    !rdf_is_name(ldns_rr_owner(rr), owner))
			return false;
	}
	return true;
}

/* RRSIGs must sit at the owner and cover the RRset's type. */
static bool rrsigs_consistent(const ldns_rr_list *sigs, const struct lname *owner,
			      uint16_t type, uint16_t cls)
{
	if (!sigs)
		return true;
	if (ldns_rr_list_rr_count(sigs) > RRSET_MAX_RRS ||
	    !rrset_consistent(sigs, owner, LDNS_RR_TYPE_RRSIG, cls))
		return false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		const ldns_rdf *tc = ldns_rr_rrsig_typecovered(ldns_rr_list_rr(sigs, i));

		if (!tc || ldns_rdf_size(tc) != 2 || ldns_rdf2rr_type(tc) != type)
			return false;
	}
	return true;
}

/* The RRset's TTL: the minimum over its RRs, sanitised, then clamped by
 * policy (min first, then max: max wins if they cross). */
static uint32_t rrset_ttl(const struct cache *c, const ldns_rr_list *rrset)
{
	const struct cache_policy *p = cache_pol(c);
	uint32_t ttl = TTL_SANE_MAX;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); i++) {
		uint32_t t = ttl_sane(ldns_rr_ttl(ldns_rr_list_rr(rrset, i)));

		if (t < ttl)
			ttl = t;
	}
	return ttl_clamp(ttl, p->min_ttl, p->max_ttl);
}

/* RFC 2181 5.4.1: may data of `trust` replace e?  Anything replaces an
 * expired entry; a live one only yields to equal or higher trust. */
static bool may_replace(const struct entry *e, uint8_t trust, uint64_t now_ms)
{
	return !e || !entry_live(e, now_ms) || e->trust <= trust;
}

static bool any_nxdomain(const struct cache *c)
{
	return atomic_load_explicit(&((struct cache *)c)->n_nxdomain, memory_order_relaxed) != 0;
}

/* A name that has data, or a NODATA, exists, and so do all its ancestors:
 * drop NXDOMAIN entries for it and above that `trust` may replace, or
 * RFC 8020 would deny the very name we just learned.  One shard at a time. */
static void drop_nxdomain_above(struct cache *c, const struct lname *n, uint16_t cls,
				uint8_t trust, uint64_t now_ms)
{
	for (unsigned i = 0; any_nxdomain(c) && i < n->nlabels; i++) {
		struct cache_shard *s;
		struct entry *e = find_locked(c, n->wire + n->off[i], n->len - n->off[i],
					      TYPE_NXDOMAIN, cls, &s, NULL);

		if (e && may_replace(e, trust, now_ms))
			cache_entry_remove(c, s, e);
		cache_shard_unlock(s);
	}
}

/* Put a built entry in place of `old` (may be NULL) and enforce the budget. */
void cache_entry_commit(struct cache *c, struct cache_shard *s, struct entry *old,
			struct entry *e, uint64_t now_ms)
{
	if (old)
		cache_entry_remove(c, s, old);
	entry_insert(c, s, e);
	s->st.inserts++;
	evict_to_limit(c, s, now_ms);
}

/* Store e (built, key set) unless a live entry with its key outranks
 * `trust`, which replaces the old one.  e NULL: only remove what trust
 * outranks (a zero lifetime).  Returns 0, or 1 when refused (e freed). */
static int commit_ranked(struct cache *c, struct entry *e, const struct lname *n,
			 uint16_t type, uint16_t cls, uint8_t trust, uint64_t now_ms)
{
	struct cache_shard *s;
	struct entry *old = find_locked(c, n->wire, n->len, type, cls, &s, NULL);

	s->last_now_ms = now_ms;
	if (!may_replace(old, trust, now_ms)) {
		s->st.rejected_by_trust++;
		cache_shard_unlock(s);
		free(e);
		return 1;
	}
	if (e)
		cache_entry_commit(c, s, old, e, now_ms);
	else if (old)
		cache_entry_remove(c, s, old);
	cache_shard_unlock(s);
	return 0;
}

static int store_positive(struct cache *c, const struct lname *n, const ldns_rr_list *rrset,
			  const ldns_rr_list *rrsigs, uint8_t trust, uint64_t now_ms)
{
	const ldns_rr *first = ldns_rr_list_rr(rrset, 0);
	uint16_t type = (uint16_t)ldns_rr_get_type(first);
	uint16_t cls = (uint16_t)ldns_rr_get_class(first);
	size_t nrr = ldns_rr_list_rr_count(rrset), rbytes, sbytes;
	struct entry *e = NULL;
	uint32_t ttl;

	if (!type_storable(type) || nrr > RRSET_MAX_RRS ||
	    !rrset_consistent(rrset, n, type, cls) ||
	    !rrsigs_consistent(rrsigs, n, type, cls))
		return -1;
	rbytes = list_bytes(rrset);
	sbytes = list_bytes(rrsigs);
	if (!rbytes || (rrsigs && ldns_rr_list_rr_count(rrsigs) && !sbytes) ||
	    rbytes + sbytes > ENTRY_DATA_MAX)
		return -1;

	/* Zero lifetime (e stays NULL): keep nothing, but the reply still
	 * replaces what it outranks instead of leaving older data in place. */
	ttl = rrset_ttl(c, rrset);
	if (ttl) {
		e = cache_entry_alloc(n->len + rbytes + sbytes);
		if (!e) {
			log_err("cache: out of memory storing an RRset");
			return -1;
		}
		entry_set_key(c, e, n, type, cls);
		e->expiry_ms = now_ms + (uint64_t)ttl * 1000;
		e->orig_ttl = ttl;
		e->trust = trust;
		e->security = CACHE_SEC_UNCHECKED;
		e->nrr = (uint16_t)nrr;
		e->nsig = (uint16_t)(rrsigs ? ldns_rr_list_rr_count(rrsigs) : 0);
		put_list(put_list(e->data + n->len, rrset), rrsigs);
	}
	if (commit_ranked(c, e, n, type, cls, trust, now_ms))
		return 1;
	if (trust >= CACHE_NEGATIVE_TRUST)
		drop_nxdomain_above(c, n, cls, trust, now_ms);
	/* The answer built from the old data must not outlive it. */
	answer_drop(c, n->wire, n->len, type, cls);
	return 0;
}

int cache_store_rrset(struct cache *c, const ldns_rr_list *rrset,
		      const ldns_rr_list *rrsigs, enum cache_trust trust,
		      uint64_t now_ms)
{
	struct lname n;

	if (!c || !rrset || ldns_rr_list_rr_count(rrset) == 0 ||
	    trust < CACHE_TRUST_NONE || trust > CACHE_TRUST_ANSWER_AUTH)
		return -1;
	if (lname_from_rdf(&n, ldns_rr_owner(ldns_rr_list_rr(rrset, 0))) < 0)
		return -1;
	return store_positive(c, &n, rrset, rrsigs, (uint8_t)trust, now_ms);
}

/* RFC 2308 5: min(SOA TTL, SOA MINIMUM), each sanitised, then capped. */
static int negative_ttl(const struct cache *c, const ldns_rr *soa, uint32_t *ttl)
{
	const ldns_rdf *min;

	if (ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(soa) < 7)
		return -1;
	min = ldns_rr_rdf(soa, 6);
	if (ldns_rdf_size(min) != 4)
		return -1;
	*ttl = cache_ttl_negative(c, ldns_rr_ttl(soa), ldns_rdf2native_int32(min));
	return 0;
}

static int build_negative(struct cache *c, const struct lname *q, uint16_t keytype,
			  uint16_t cls, bool nxdomain, const ldns_rr *soa,
			  const struct lname *apex, uint32_t ttl, uint64_t now_ms,
			  struct entry **out)
{
	size_t rdlen = rdata_len(soa);
	struct entry *e;
	uint8_t *p;

	if (rdlen > 0xffff)
		return -1;
	e = cache_entry_alloc(q->len + 1 + apex->len + 2 + rdlen);
	if (!e) {
		log_err("cache: out of memory storing a negative answer");
		return -1;
	}
	entry_set_key(c, e, q, keytype, cls);
	e->expiry_ms = now_ms + (uint64_t)ttl * 1000;
	e->orig_ttl = ttl;
	e->trust = CACHE_NEGATIVE_TRUST;
	e->security = CACHE_SEC_UNCHECKED;
	e->flags = EF_NEGATIVE | (nxdomain ? EF_NXDOMAIN : 0);
	e->nrr = 1;
	p = e->data + q->len;
	*p++ = (uint8_t)apex->len;
	memcpy(p, apex->wire, apex->len);
	put_record(p + apex->len, soa, rdlen);
	*out = e;
	return 0;
}

/* A negative answer is stored with CACHE_NEGATIVE_TRUST (authority section
 * of an authoritative reply, which is where the proving SOA comes from).
 * So it replaces glue, referrals, non-AA answers and older negatives, but
 * a live authoritative answer for the same key outranks it and stays: the
 * denial then is either a zone change that the positive TTL will catch up
 * with, or a forgery, and RFC 2181 ranking says keep the better data.  An
 * NXDOMAIN does not remove positive data below the name (RFC 8020 allows
 * but does not require it); lookups of positive data do not consult it. */
int cache_store_negative(struct cache *c, const ldns_rdf *qname,
			 ldns_rr_type qtype, ldns_rr_class cls, bool nxdomain,
			 const ldns_rr *soa, uint64_t now_ms)
{
	uint16_t keytype = nxdomain ? TYPE_NXDOMAIN : (uint16_t)qtype;
	struct lname q, apex;
	struct entry *e = NULL;
	uint32_t ttl;

	if (!c || !soa || lname_from_rdf(&q, qname) < 0 ||
	    lname_from_rdf(&apex, ldns_rr_owner(soa)) < 0)
		return -1;
	if ((nxdomain && q.nlabels == 0) || (!nxdomain && !type_storable(keytype)) ||
	    ldns_rr_get_class(soa) != cls || negative_ttl(c, soa, &ttl) < 0 ||
	    !name_at_or_below(q.wire, q.len, apex.wire, apex.len))
		return -1;
	if (ttl && build_negative(c, &q, keytype, (uint16_t)cls, nxdomain, soa, &apex, ttl,
				  now_ms, &e) < 0)
		return -1;
	if (commit_ranked(c, e, &q, keytype, (uint16_t)cls, CACHE_NEGATIVE_TRUST, now_ms))
		return 1;
	if (!nxdomain)
		drop_nxdomain_above(c, &q, (uint16_t)cls, CACHE_NEGATIVE_TRUST, now_ms);
	/* For an NXDOMAIN the key type is the marker, but the question's
	 * type names the answer this denial replaces. */
	answer_drop(c, q.wire, q.len, (uint16_t)qtype, (uint16_t)cls);
	return 0;
}

/* ---- lookups -------------------------------------------------------- */

/* Can e answer now?  Sets *stale when only serve-expired allows it.  An
 * entry that can never answer again is freed on the spot.  s is e's
 * shard, locked. */
static bool entry_usable(struct cache *c, struct cache_shard *s, struct entry *e,
			 bool allow_stale, uint64_t now_ms, bool *stale)
{
	*stale = false;
	if (entry_live(e, now_ms))
		return true;
	if (!entry_stale_ok(c, e, now_ms)) {
		cache_entry_remove(c, s, e);
		return false;
	}
	*stale = true;
	return allow_stale;
}

/* The copies are built under the shard lock: the entry may go the moment
 * the lock is released. */
int cache_lookup_rrset(struct cache *c, const ldns_rdf *owner,
		       ldns_rr_type type, ldns_rr_class cls,
		       enum cache_trust min_trust, bool allow_stale,
		       uint64_t now_ms, struct cache_result *res)
{
	struct cache_shard *s;
	struct lname n;
	struct entry *e;
	bool stale;
	uint32_t ttl;

	memset(res, 0, sizeof(*res));
	if (lname_from_rdf(&n, owner) < 0) {
		/* counted in the shard of the root's key: any shard will do */
		s = &c->shards[0];
		cache_shard_lock(s);
		goto miss;
	}
	e = find_locked(c, n.wire, n.len, (uint16_t)type, (uint16_t)cls, &s, NULL);
	s->last_now_ms = now_ms;
	if (!e || (e->flags & EF_NEGATIVE) || e->trust < min_trust ||
	    !entry_usable(c, s, e, allow_stale, now_ms, &stale))
		goto miss;
	ttl = stale ? CACHE_STALE_TTL : ttl_remaining(e, now_ms);
	if (entry_to_lists(e, ttl, &res->rrset, &res->rrsigs) < 0) {
		log_err("cache: out of memory building a cached RRset");
		goto miss;
	}
	cache_entry_touch(e);
	res->trust = e->trust;
	res->security = e->security;
	res->stale = stale;
	res->ttl = ttl;
	res->orig_ttl = e->orig_ttl;
	s->st.hits++;
	cache_shard_unlock(s);
	return 1;
miss:
	s->st.misses++;
	cache_shard_unlock(s);
	return 0;
}

void cache_result_clear(struct cache_result *res)
{
	if (!res)
		return;
	ldns_rr_list_deep_free(res->rrset);
	ldns_rr_list_deep_free(res->rrsigs);
	memset(res, 0, sizeof(*res));
}

/* One negative key: when a usable negative entry sits at (name, keytype),
 * count the hit in its shard and copy what the caller asked for, all under
 * that shard's lock.  Returns 1 on a hit, 0 when there is none, -1 when
 * the SOA copy ran out of memory. */
static int probe_negative(struct cache *c, const uint8_t *name, size_t len, uint16_t keytype,
			  uint16_t cls, bool allow_stale, uint64_t now_ms, bool *nxdomain,
			  ldns_rr **soa_out)
{
	struct cache_shard *s;
	struct entry *e = find_locked(c, name, len, keytype, cls, &s, NULL);
	bool stale = false;
	int rc = 0;

	s->last_now_ms = now_ms;
	if (!e || !(e->flags & EF_NEGATIVE) ||
	    !entry_usable(c, s, e, allow_stale, now_ms, &stale))
		goto out;
	if (soa_out) {
		*soa_out = entry_to_soa(e, stale ? CACHE_STALE_TTL : ttl_remaining(e, now_ms));
		if (!*soa_out) {
			log_err("cache: out of memory building a cached SOA");
			rc = -1;
			goto out;
		}
	}
	if (nxdomain)
		*nxdomain = (e->flags & EF_NXDOMAIN) != 0;
	cache_entry_touch(e);
	s->st.hits++;
	rc = 1;
out:
	cache_shard_unlock(s);
	return rc;
}

static void count_miss(struct cache *c, const uint8_t *name, size_t len, uint16_t type,
		       uint16_t cls)
{
	struct cache_shard *s = cache_shard_of(c, key_hash(c, name, len, type, cls));

	cache_shard_lock(s);
	s->st.misses++;
	cache_shard_unlock(s);
}

/* The negative entry answering (qname, qtype): an NXDOMAIN at qname or an
 * ancestor (RFC 8020; the root is never denied), else a NODATA at qname.
 * NXDOMAIN is looked at first: a later NODATA or positive store removes
 * the NXDOMAINs it contradicts, so whichever is present is the newest.
 * Each key is probed under its own shard's lock, one after the other. */
int cache_lookup_negative(struct cache *c, const ldns_rdf *qname,
			  ldns_rr_type qtype, ldns_rr_class cls, bool allow_stale,
			  uint64_t now_ms, bool *nxdomain, ldns_rr **soa_out)
{
	static const uint8_t root = 0;
	struct lname q;
	int rc = 0;

	if (soa_out)
		*soa_out = NULL;
	if (lname_from_rdf(&q, qname) < 0) {
		count_miss(c, &root, 1, (uint16_t)qtype, (uint16_t)cls);
		return 0;
	}
	for (unsigned i = 0; rc == 0 && any_nxdomain(c) && i < q.nlabels; i++)
		rc = probe_negative(c, q.wire + q.off[i], q.len - q.off[i], TYPE_NXDOMAIN,
				    (uint16_t)cls, allow_stale, now_ms, nxdomain, soa_out);
	if (rc == 0 && qtype != TYPE_NXDOMAIN)
		rc = probe_negative(c, q.wire, q.len, (uint16_t)qtype, (uint16_t)cls,
				    allow_stale, now_ms, nxdomain, soa_out);
	if (rc == 1)
		return 1;
	count_miss(c, q.wire, q.len, (uint16_t)qtype, (uint16_t)cls);
	return 0;
}

/* ---- removal -------------------------------------------------------- */

/* Remove every entry of shard s (locked) whose key matches pred (and
 * type, unless 0); a full scan, which is fine for the control-socket
 * operations that use it.  An answer entry also goes when any record it
 * holds matches: it was built from what is being flushed.  Answers are not
 * counted: the count is of the RRsets and negatives an operator sees. */
static size_t remove_matching_shard(struct cache *c, struct cache_shard *s, name_pred pred,
				    const struct lname *n, uint16_t type)
{
	size_t removed = 0;

	for (size_t b = 0; b < s->nbuckets; b++) {
		struct entry *e = s->table[b], *next;

		for (; e; e = next) {
			bool match = (!type || e->type == type) && pred(e->data, e->namelen, n);

			next = e->chain;
			if (!match && (e->flags & EF_ANSWER))
				match = answer_holds(e, type, pred, n);
			if (!match)
				continue;
			if (!(e->flags & EF_ANSWER))
				removed++;
			cache_entry_remove(c, s, e);
		}
	}
	return removed;
}

static size_t remove_matching(struct cache *c, name_pred pred, const struct lname *n,
			      uint16_t type)
{
	size_t removed = 0;

	for (unsigned i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		cache_shard_lock(s);
		removed += remove_matching_shard(c, s, pred, n, type);
		cache_shard_unlock(s);
	}
	return removed;
}

static bool pred_same_name(const uint8_t *name, size_t len, const void *ud)
{
	const struct lname *n = ud;

	return len == n->len && memcmp(name, n->wire, n->len) == 0;
}

static bool pred_at_or_below(const uint8_t *name, size_t len, const void *ud)
{
	const struct lname *n = ud;

	return name_at_or_below(name, len, n->wire, n->len);
}

/* A type is flushed in every class we hold it in.  The answer for
 * (name, type) goes with it, and so does every answer holding a record of
 * that name and type (a CNAME chain keyed at an alias, say). */
size_t cache_flush_name(struct cache *c, const ldns_rdf *name, ldns_rr_type type)
{
	struct lname n;

	if (!c || lname_from_rdf(&n, name) < 0)
		return 0;
	return remove_matching(c, pred_same_name, &n, (uint16_t)type);
}

size_t cache_flush_zone(struct cache *c, const ldns_rdf *name)
{
	struct lname n;

	if (!c || lname_from_rdf(&n, name) < 0)
		return 0;
	return remove_matching(c, pred_at_or_below, &n, 0);
}

/* Drops every entry and shrinks the bucket arrays back to their first
 * size, shard after shard. */
void cache_flush_all(struct cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];
		struct entry **t;

		cache_shard_lock(s);
		shard_free_entries(c, s);
		t = calloc(TABLE_MIN_BUCKETS, sizeof(*t));
		if (t) {
			free(s->table);
			s->table = t;
			s->nbuckets = TABLE_MIN_BUCKETS;
			s->table_bytes = malloc_usable_size(t);
		} else {
			memset(s->table, 0, s->nbuckets * sizeof(*s->table));
		}
		cache_shard_unlock(s);
	}
}

/* ---- walk and stats ------------------------------------------------- */

static int walk_entry(const struct entry *e, uint64_t now_ms, cache_walk_fn fn, void *ud)
{
	struct cache_entry_view v = {
		.type = e->type,
		.cls = e->cls,
		.negative = (e->flags & EF_NEGATIVE) != 0,
		.nxdomain = (e->flags & EF_NXDOMAIN) != 0,
		.trust = e->trust,
		.security = e->security,
		.ttl = ttl_remaining(e, now_ms),
	};
	ldns_rdf *owner = ldns_dname_new_frm_data(e->namelen, e->data);
	ldns_rr_list *rrset = NULL, *rrsigs = NULL;
	ldns_rr *soa = NULL;
	int rc = 0;

	if (!owner)
		return 0;
	v.owner = owner;
	if (v.negative) {
		soa = entry_to_soa(e, v.ttl);
		v.soa = soa;
	} else if (entry_to_lists(e, v.ttl, &rrset, &rrsigs) == 0) {
		v.rrset = rrset;
		v.rrsigs = rrsigs;
	}
	if (v.soa || v.rrset)
		rc = fn(ud, &v);
	else
		log_err("cache: out of memory walking the cache");
	ldns_rr_free(soa);
	ldns_rr_list_deep_free(rrset);
	ldns_rr_list_deep_free(rrsigs);
	ldns_rdf_deep_free(owner);
	return rc;
}

/* Reverse the bits of v: within a shard the walk's cursor counts with the
 * high bit of the bucket index as its lowest digit (reverse binary
 * iteration), so doubling the table between two steps neither skips nor
 * repeats a bucket: a bucket's entries move to buckets whose reversed
 * index is the same prefix.  Halving (flush-all) may repeat some, never
 * skips one. */
static uint64_t rev64(uint64_t v)
{
	v = (v >> 1 & 0x5555555555555555ull) | (v & 0x5555555555555555ull) << 1;
	v = (v >> 2 & 0x3333333333333333ull) | (v & 0x3333333333333333ull) << 2;
	v = (v >> 4 & 0x0f0f0f0f0f0f0f0full) | (v & 0x0f0f0f0f0f0f0f0full) << 4;
	return __builtin_bswap64(v);
}

static uint64_t cursor_next(uint64_t v, size_t nbuckets)
{
	v |= ~(uint64_t)(nbuckets - 1);
	return rev64(rev64(v) + 1);
}

/* The cursor across shards: the shard in the top 16 bits, the reverse-
 * binary bucket position inside it below (tables never reach 2^48
 * buckets).  Shards are fixed for the cache's life, so a shard's position
 * keeps the single-table guarantees above. */
#define CURSOR_SHARD_SHIFT 48
#define CURSOR_BUCKET_MASK ((UINT64_C(1) << CURSOR_SHARD_SHIFT) - 1)
/* Buckets visited per taking of a shard's lock: a long walk (a lookup
 * listing, a dump) lets the workers' hits on that shard through between
 * runs of this many buckets instead of holding the lock for the shard. */
#define WALK_BUCKETS_PER_LOCK 256

/* Visit the live RRset and negative entries of one bucket (shard locked).
 * Returns the number visited, or -1 when the callback asked to stop. */
static long walk_bucket(const struct cache_shard *s, size_t b, const struct lname *zone,
			uint64_t now_ms, cache_walk_fn fn, void *ud)
{
	long n = 0;

	for (const struct entry *e = s->table[b]; e; e = e->chain) {
		/* answers are derived from the entries walked */
		if (!entry_live(e, now_ms) || (e->flags & EF_ANSWER))
			continue;
		if (zone && !name_at_or_below(e->data, e->namelen, zone->wire, zone->len))
			continue;
		n++;
		if (walk_entry(e, now_ms, fn, ud))
			return -1;
	}
	return n;
}

/* Walk shard by shard; the callback runs under the current shard's lock,
 * so it must not call into the cache (it would deadlock on that shard). */
size_t cache_walk_step(struct cache *c, const ldns_rdf *below, uint64_t now_ms,
		       struct cache_cursor *cur, size_t budget, cache_walk_fn fn, void *ud)
{
	struct lname zone;
	size_t visited = 0;

	if (!c || !fn || !cur || cur->done ||
	    (below && lname_from_rdf(&zone, below) < 0)) {
		if (cur)
			cur->done = true;
		return 0;
	}
	while (visited < budget && !cur->done) {
		uint64_t shard = cur->pos >> CURSOR_SHARD_SHIFT, pos;
		unsigned held = 0;
		struct cache_shard *s;
		long n;

		if (shard >= c->nshards) {
			cur->done = true;
			break;
		}
		s = &c->shards[shard];
		cache_shard_lock(s);
		pos = cur->pos & CURSOR_BUCKET_MASK;
		do {
			n = walk_bucket(s, pos & (s->nbuckets - 1), below ? &zone : NULL,
					now_ms, fn, ud);
			pos = cursor_next(pos, s->nbuckets);
			if (n < 0)
				cur->done = true;
			else
				visited += (size_t)n + 1; /* an empty bucket costs too */
		} while (!cur->done && pos != 0 && visited < budget &&
			 ++held < WALK_BUCKETS_PER_LOCK);
		cache_shard_unlock(s);
		cur->pos = pos ? shard << CURSOR_SHARD_SHIFT | pos
			       : (shard + 1) << CURSOR_SHARD_SHIFT;
		if (!pos && shard + 1 >= c->nshards)
			cur->done = true;
	}
	return visited;
}

void cache_walk(struct cache *c, const ldns_rdf *below, uint64_t now_ms,
		cache_walk_fn fn, void *ud)
{
	struct cache_cursor cur = {0};

	cache_walk_step(c, below, now_ms, &cur, SIZE_MAX, fn, ud);
}

/* Sums the shards one by one: each shard's figures are consistent, the
 * total is as of some moment during the call. */
void cache_get_stats(const struct cache *c, struct cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		cache_shard_lock(s);
		st->hits += s->st.hits;
		st->misses += s->st.misses;
		st->evictions += s->st.evictions;
		st->inserts += s->st.inserts;
		st->rejected_by_trust += s->st.rejected_by_trust;
		st->entries += s->count - s->n_answers;
		st->bytes += shard_bytes(s);
		st->answers += s->n_answers;
		st->answer_bytes += s->answer_bytes;
		cache_shard_unlock(s);
	}
	st->max_bytes = atomic_load_explicit(&((struct cache *)c)->max_bytes,
					     memory_order_relaxed);
}

const char *cache_trust_str(enum cache_trust t)
{
	switch (t) {
	case CACHE_TRUST_NONE:
		return "none";
	case CACHE_TRUST_GLUE:
		return "glue";
	case CACHE_TRUST_REFERRAL:
		return "referral";
	case CACHE_TRUST_ANSWER_NONAUTH:
		return "answer-nonauth";
	case CACHE_TRUST_AUTHORITY_AUTH:
		return "authority-auth";
	case CACHE_TRUST_ANSWER_AUTH:
		return "answer-auth";
	}
	return "unknown";
}
