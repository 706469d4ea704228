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
 * (minus its own per-chunk header, which the allocator does not report). */
#include "cache.h"
#include "cache_int.h"
#include "log.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

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
	return ttl_clamp(ttl_sane(ttl), c->pol.min_ttl, c->pol.max_ttl);
}

uint32_t cache_ttl_negative(const struct cache *c, uint32_t soa_ttl, uint32_t soa_minimum)
{
	uint32_t t = ttl_sane(soa_ttl);

	if (ttl_sane(soa_minimum) < t)
		t = ttl_sane(soa_minimum);
	return t < c->pol.max_negative_ttl ? t : c->pol.max_negative_ttl;
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
	return c->pol.serve_expired &&
	       now_ms < e->expiry_ms + (uint64_t)c->pol.serve_expired_window * 1000;
}

/* ---- table and CLOCK ring ------------------------------------------- */

static uint64_t key_hash(const struct cache *c, const uint8_t *name, size_t len,
			 uint16_t type, uint16_t cls)
{
	return cache_key_hash(c, name, len, type, cls, 0);
}

static struct entry *find_name(const struct cache *c, const uint8_t *name, size_t len,
			       uint16_t type, uint16_t cls)
{
	return cache_table_find(c, name, len, type, cls, 0, key_hash(c, name, len, type, cls));
}

/* Double the bucket array when the load passes 1.  On allocation failure
 * the old table stays: chains get longer, nothing breaks. */
static void table_grow(struct cache *c)
{
	size_t n = c->nbuckets * 2;
	struct entry **t = calloc(n, sizeof(*t));

	if (!t)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->table[i], *next;

		for (; e; e = next) {
			next = e->chain;
			e->chain = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
		}
	}
	free(c->table);
	c->table = t;
	c->nbuckets = n;
	c->table_bytes = malloc_usable_size(t);
}

static void table_unlink(struct cache *c, struct entry *e)
{
	struct entry **pp = &c->table[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
}

/* New entries go just behind the hand: the last the hand will reach. */
static void ring_insert(struct cache *c, struct entry *e)
{
	if (!c->hand) {
		e->prev = e->next = e;
		c->hand = e;
		return;
	}
	e->next = c->hand;
	e->prev = c->hand->prev;
	e->prev->next = e;
	c->hand->prev = e;
}

static void ring_unlink(struct cache *c, struct entry *e)
{
	if (e->next == e) {
		c->hand = NULL;
		return;
	}
	if (c->hand == e)
		c->hand = e->next;
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void entry_insert(struct cache *c, struct entry *e)
{
	size_t b = e->hash & (c->nbuckets - 1);

	e->chain = c->table[b];
	c->table[b] = e;
	ring_insert(c, e);
	c->count++;
	c->entry_bytes += e->size;
	if (e->flags & EF_NXDOMAIN)
		c->n_nxdomain++;
	if (e->flags & EF_ANSWER) {
		c->n_answers++;
		c->answer_bytes += e->size;
	}
	if (c->count > c->nbuckets)
		table_grow(c);
}

void cache_entry_remove(struct cache *c, struct entry *e)
{
	table_unlink(c, e);
	ring_unlink(c, e);
	c->count--;
	c->entry_bytes -= e->size;
	if (e->flags & EF_NXDOMAIN)
		c->n_nxdomain--;
	if (e->flags & EF_ANSWER) {
		c->n_answers--;
		c->answer_bytes -= e->size;
	}
	free(e);
}

static size_t cache_bytes(const struct cache *c)
{
	return c->entry_bytes + c->table_bytes;
}

/* Second-chance sweep: a referenced live entry loses its bit and is
 * skipped; the first unreferenced or expired one goes.  Ends within two
 * revolutions. */
static void evict_one(struct cache *c, uint64_t now_ms)
{
	for (;;) {
		struct entry *e = c->hand;

		if (!entry_live(e, now_ms) || !(e->flags & EF_REFERENCED)) {
			cache_entry_remove(c, e);
			c->st.evictions++;
			return;
		}
		e->flags &= (uint8_t)~EF_REFERENCED;
		c->hand = e->next;
	}
}

static void evict_to_limit(struct cache *c, uint64_t now_ms)
{
	while (c->count && cache_bytes(c) > c->max_bytes)
		evict_one(c, now_ms);
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

struct cache *cache_new(size_t max_bytes, const struct cache_policy *policy)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->table = calloc(TABLE_MIN_BUCKETS, sizeof(*c->table));
	if (!c->table) {
		free(c);
		return NULL;
	}
	c->nbuckets = TABLE_MIN_BUCKETS;
	c->table_bytes = malloc_usable_size(c->table);
	c->max_bytes = max_bytes;
	c->pol = policy ? *policy : default_policy;
	/* arc4random is seeded from getrandom() and cannot fail. */
	arc4random_buf(&c->key, sizeof(c->key));
	return c;
}

static void free_all_entries(struct cache *c)
{
	while (c->hand)
		cache_entry_remove(c, c->hand);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	free_all_entries(c);
	free(c->table);
	free(c);
}

void cache_set_policy(struct cache *c, const struct cache_policy *policy)
{
	c->pol = policy ? *policy : default_policy;
}

void cache_set_max_bytes(struct cache *c, size_t max_bytes)
{
	c->max_bytes = max_bytes;
	evict_to_limit(c, c->last_now_ms);
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
 * was built from: drop it. */
static void answer_drop(struct cache *c, const uint8_t *name, size_t len, uint16_t type,
			uint16_t cls)
{
	struct entry *e;

	if (!c->n_answers)
		return;
	e = cache_table_find(c, name, len, type, cls, EF_ANSWER,
			     cache_key_hash(c, name, len, type, cls, EF_ANSWER));
	if (e)
		cache_entry_remove(c, e);
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
	uint32_t ttl = TTL_SANE_MAX;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); i++) {
		uint32_t t = ttl_sane(ldns_rr_ttl(ldns_rr_list_rr(rrset, i)));

		if (t < ttl)
			ttl = t;
	}
	return ttl_clamp(ttl, c->pol.min_ttl, c->pol.max_ttl);
}

/* RFC 2181 5.4.1: may data of `trust` replace e?  Anything replaces an
 * expired entry; a live one only yields to equal or higher trust. */
static bool may_replace(const struct entry *e, uint8_t trust, uint64_t now_ms)
{
	return !e || !entry_live(e, now_ms) || e->trust <= trust;
}

/* A name that has data, or a NODATA, exists, and so do all its ancestors:
 * drop NXDOMAIN entries for it and above that `trust` may replace, or
 * RFC 8020 would deny the very name we just learned. */
static void drop_nxdomain_above(struct cache *c, const struct lname *n, uint16_t cls,
				uint8_t trust, uint64_t now_ms)
{
	for (unsigned i = 0; c->n_nxdomain && i < n->nlabels; i++) {
		const uint8_t *s = n->wire + n->off[i];
		struct entry *e = find_name(c, s, n->len - n->off[i], TYPE_NXDOMAIN, cls);

		if (e && may_replace(e, trust, now_ms))
			cache_entry_remove(c, e);
	}
}

/* Put a built entry in place of `old` (may be NULL) and enforce the budget. */
void cache_entry_commit(struct cache *c, struct entry *old, struct entry *e,
			 uint64_t now_ms)
{
	if (old)
		cache_entry_remove(c, old);
	entry_insert(c, e);
	c->st.inserts++;
	evict_to_limit(c, now_ms);
}

static int store_positive(struct cache *c, const struct lname *n, const ldns_rr_list *rrset,
			  const ldns_rr_list *rrsigs, uint8_t trust, uint64_t now_ms)
{
	const ldns_rr *first = ldns_rr_list_rr(rrset, 0);
	uint16_t type = (uint16_t)ldns_rr_get_type(first);
	uint16_t cls = (uint16_t)ldns_rr_get_class(first);
	size_t nrr = ldns_rr_list_rr_count(rrset), rbytes, sbytes;
	struct entry *old, *e;
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

	old = find_name(c, n->wire, n->len, type, cls);
	if (!may_replace(old, trust, now_ms)) {
		c->st.rejected_by_trust++;
		return 1;
	}
	if (trust >= CACHE_NEGATIVE_TRUST)
		drop_nxdomain_above(c, n, cls, trust, now_ms);
	/* The answer built from the old data must not outlive it. */
	answer_drop(c, n->wire, n->len, type, cls);
	ttl = rrset_ttl(c, rrset);
	if (ttl == 0) {
		/* Zero lifetime: keep nothing, but the reply still replaces
		 * what it outranks instead of leaving older data in place. */
		if (old)
			cache_entry_remove(c, old);
		return 0;
	}

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
	cache_entry_commit(c, old, e, now_ms);
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
	c->last_now_ms = now_ms;
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
	struct entry *old, *e;
	uint32_t ttl;

	if (!c || !soa || lname_from_rdf(&q, qname) < 0 ||
	    lname_from_rdf(&apex, ldns_rr_owner(soa)) < 0)
		return -1;
	c->last_now_ms = now_ms;
	if ((nxdomain && q.nlabels == 0) || (!nxdomain && !type_storable(keytype)) ||
	    ldns_rr_get_class(soa) != cls || negative_ttl(c, soa, &ttl) < 0 ||
	    !name_at_or_below(q.wire, q.len, apex.wire, apex.len))
		return -1;

	old = find_name(c, q.wire, q.len, keytype, (uint16_t)cls);
	if (!may_replace(old, CACHE_NEGATIVE_TRUST, now_ms)) {
		c->st.rejected_by_trust++;
		return 1;
	}
	if (!nxdomain)
		drop_nxdomain_above(c, &q, (uint16_t)cls, CACHE_NEGATIVE_TRUST, now_ms);
	/* For an NXDOMAIN the key type is the marker, but the question's
	 * type names the answer this denial replaces. */
	answer_drop(c, q.wire, q.len, (uint16_t)qtype, (uint16_t)cls);
	if (ttl == 0) {
		if (old)
			cache_entry_remove(c, old);
		return 0;
	}
	if (build_negative(c, &q, keytype, (uint16_t)cls, nxdomain, soa, &apex, ttl,
			   now_ms, &e) < 0)
		return -1;
	cache_entry_commit(c, old, e, now_ms);
	return 0;
}

/* ---- lookups -------------------------------------------------------- */

/* Can e answer now?  Sets *stale when only serve-expired allows it.  An
 * entry that can never answer again is freed on the spot. */
static bool entry_usable(struct cache *c, struct entry *e, bool allow_stale,
			 uint64_t now_ms, bool *stale)
{
	*stale = false;
	if (entry_live(e, now_ms))
		return true;
	if (!entry_stale_ok(c, e, now_ms)) {
		cache_entry_remove(c, e);
		return false;
	}
	*stale = true;
	return allow_stale;
}

int cache_lookup_rrset(struct cache *c, const ldns_rdf *owner,
		       ldns_rr_type type, ldns_rr_class cls,
		       enum cache_trust min_trust, bool allow_stale,
		       uint64_t now_ms, struct cache_result *res)
{
	struct lname n;
	struct entry *e;
	bool stale;
	uint32_t ttl;

	memset(res, 0, sizeof(*res));
	c->last_now_ms = now_ms;
	if (lname_from_rdf(&n, owner) < 0)
		goto miss;
	e = find_name(c, n.wire, n.len, (uint16_t)type, (uint16_t)cls);
	if (!e || (e->flags & EF_NEGATIVE) || e->trust < min_trust ||
	    !entry_usable(c, e, allow_stale, now_ms, &stale))
		goto miss;
	ttl = stale ? CACHE_STALE_TTL : ttl_remaining(e, now_ms);
	if (entry_to_lists(e, ttl, &res->rrset, &res->rrsigs) < 0) {
		log_err("cache: out of memory building a cached RRset");
		goto miss;
	}
	e->flags |= EF_REFERENCED;
	res->trust = e->trust;
	res->security = e->security;
	res->stale = stale;
	res->ttl = ttl;
	res->orig_ttl = e->orig_ttl;
	c->st.hits++;
	return 1;
miss:
	c->st.misses++;
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

/* The negative entry answering (qname, qtype): an NXDOMAIN at qname or an
 * ancestor (RFC 8020; the root is never denied), else a NODATA at qname.
 * NXDOMAIN is looked at first: a later NODATA or positive store removes
 * the NXDOMAINs it contradicts, so whichever is present is the newest. */
static struct entry *find_negative(struct cache *c, const struct lname *q, uint16_t qtype,
				   uint16_t cls, bool allow_stale, uint64_t now_ms,
				   bool *stale)
{
	struct entry *e;

	for (unsigned i = 0; c->n_nxdomain && i < q->nlabels; i++) {
		e = find_name(c, q->wire + q->off[i], q->len - q->off[i], TYPE_NXDOMAIN, cls);
		if (e && entry_usable(c, e, allow_stale, now_ms, stale))
			return e;
	}
	if (qtype == TYPE_NXDOMAIN)
		return NULL;
	e = find_name(c, q->wire, q->len, qtype, cls);
	if (e && (e->flags & EF_NEGATIVE) && entry_usable(c, e, allow_stale, now_ms, stale))
		return e;
	return NULL;
}

int cache_lookup_negative(struct cache *c, const ldns_rdf *qname,
			  ldns_rr_type qtype, ldns_rr_class cls, bool allow_stale,
			  uint64_t now_ms, bool *nxdomain, ldns_rr **soa_out)
{
	struct lname q;
	struct entry *e;
	bool stale = false;

	if (soa_out)
		*soa_out = NULL;
	c->last_now_ms = now_ms;
	if (lname_from_rdf(&q, qname) < 0)
		goto miss;
	e = find_negative(c, &q, (uint16_t)qtype, (uint16_t)cls, allow_stale, now_ms, &stale);
	if (!e)
		goto miss;
	if (soa_out) {
		*soa_out = entry_to_soa(e, stale ? CACHE_STALE_TTL : ttl_remaining(e, now_ms));
		if (!*soa_out) {
			log_err("cache: out of memory building a cached SOA");
			goto miss;
		}
	}
	if (nxdomain)
		*nxdomain = (e->flags & EF_NXDOMAIN) != 0;
	e->flags |= EF_REFERENCED;
	c->st.hits++;
	return 1;
miss:
	c->st.misses++;
	return 0;
}

/* ---- removal -------------------------------------------------------- */

/* Remove every entry whose key matches pred (and type, unless 0); a full
 * scan, which is fine for the control-socket operations that use it.  An
 * answer entry also goes when any record it holds matches: it was built
 * from what is being flushed.  Answers are not counted: the count is of
 * the RRsets and negatives an operator sees. */
static size_t remove_matching(struct cache *c, name_pred pred, const struct lname *n,
			      uint16_t type)
{
	size_t removed = 0;

	for (size_t b = 0; b < c->nbuckets; b++) {
		struct entry *e = c->table[b], *next;

		for (; e; e = next) {
			bool match = (!type || e->type == type) && pred(e->data, e->namelen, n);

			next = e->chain;
			if (!match && (e->flags & EF_ANSWER))
				match = answer_holds(e, type, pred, n);
			if (!match)
				continue;
			if (!(e->flags & EF_ANSWER))
				removed++;
			cache_entry_remove(c, e);
		}
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

/* Drops every entry and shrinks the bucket array back to its first size. */
void cache_flush_all(struct cache *c)
{
	struct entry **t;

	if (!c)
		return;
	free_all_entries(c);
	t = calloc(TABLE_MIN_BUCKETS, sizeof(*t));
	if (!t) {
		memset(c->table, 0, c->nbuckets * sizeof(*c->table));
		return;
	}
	free(c->table);
	c->table = t;
	c->nbuckets = TABLE_MIN_BUCKETS;
	c->table_bytes = malloc_usable_size(t);
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

/* Reverse the bits of v: the walk's cursor counts with the high bit of
 * the bucket index as its lowest digit (reverse binary iteration), so
 * doubling the table between two steps neither skips nor repeats a bucket:
 * a bucket's entries move to buckets whose reversed index is the same
 * prefix.  Halving (flush-all) may repeat some, never skips one. */
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

/* Visit the live RRset and negative entries of one bucket.  Returns the
 * number visited, or -1 when the callback asked to stop. */
static long walk_bucket(const struct cache *c, size_t b, const struct lname *zone,
			uint64_t now_ms, cache_walk_fn fn, void *ud)
{
	long n = 0;

	for (const struct entry *e = c->table[b]; e; e = e->chain) {
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
	while (visited < budget) {
		long n = walk_bucket(c, cur->pos & (c->nbuckets - 1), below ? &zone : NULL,
				     now_ms, fn, ud);

		cur->pos = cursor_next(cur->pos, c->nbuckets);
		if (n < 0 || cur->pos == 0) {
			cur->done = true;
			break;
		}
		visited += (size_t)n + 1; /* an empty bucket costs too */
	}
	return visited;
}

void cache_walk(struct cache *c, const ldns_rdf *below, uint64_t now_ms,
		cache_walk_fn fn, void *ud)
{
	struct cache_cursor cur = {0};

	cache_walk_step(c, below, now_ms, &cur, SIZE_MAX, fn, ud);
}

void cache_get_stats(const struct cache *c, struct cache_stats *st)
{
	*st = c->st;
	st->entries = c->count - c->n_answers;
	st->bytes = cache_bytes(c);
	st->max_bytes = c->max_bytes;
	st->answers = c->n_answers;
	st->answer_bytes = c->answer_bytes;
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
