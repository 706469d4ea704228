/* cache_answer.c — whole answers in wire form: the allocation-free hit
 * path (see cache.h, "The answer cache").
 *
 * Why: answering a hit through the iterator costs a dozen mallocs (the
 * qname rdf, the iter_q, the ldns copies of every RRset, the encoder's
 * input) and re-encodes the same bytes on every query.  Here the answer
 * and authority sections are encoded once, by msg.c's own encoder, as
 * they sit after a question of this name; a hit then copies the client's
 * question (same length, so every compression pointer stays valid, and
 * owners equal to the question, being pointers to offset 12, come out in
 * the client's case) and those bytes, and counts the TTLs down in place.
 *
 * The entry layout is in cache_int.h; the TTL fields of the stored
 * message hold each record's TTL as stored (clamped), and a hit writes
 * TTL - elapsed.  Dropping and flushing answers lives in cache.c with
 * the other invalidation.
 *
 * Threads: the name is lowercased and hashed before any lock; the find,
 * the copy out and the counters run under the lock of the key's shard
 * only (cache_int.h), the same lock a store of that key takes. */
#include "wire_be.h"
#include "cache.h"
#include "cache_int.h"
#include "log.h"
#include "msg.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define HDR_LEN 12u
#define OPT_LEN 11u             /* root owner, type, class, TTL, RDLEN=0 */
#define SOA_FIXED_TAIL 20       /* SERIAL .. MINIMUM */
#define SCRATCH_MSG (MSG_MAX_TCP + 1)

#define FLAG_QR 0x8000u
#define FLAG_OPCODE 0x7800u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u
#define FLAG_CD 0x0010u
#define EDNS_DO 0x8000u


/* Same rule as the RRset cache (cache.c: type_storable). */
static bool qtype_storable(uint16_t type)
{
	return type != 0 && type != LDNS_RR_TYPE_OPT && !(type >= 250 && type <= 255);
}

/* An uncompressed absolute wire name, copied lowercased into out. */
static bool qname_lower(const uint8_t *name, size_t len, uint8_t *out)
{
	size_t pos = 0;

	if (len == 0 || len > CACHE_NAME_WIRE_MAX)
		return false;
	while (name[pos] != 0) {
		if (name[pos] > 63 || pos + 1 + name[pos] >= len)
			return false;
		pos += 1u + name[pos];
	}
	if (pos != len - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = cache_ascii_lower(name[i]);
	return true;
}

/* ---- storing ---------------------------------------------------------- */

/* Give every encoded RR the TTL the RRset cache would give it, write it
 * into the message, and return the smallest.  The record's type sits 4
 * bytes before its TTL, RDLENGTH right after; an SOA in the authority
 * section is a negative answer's proof and gets RFC 2308's lifetime (its
 * MINIMUM is the last 4 bytes of its RDATA, whatever its names' form). */
static uint32_t clamp_ttls(const struct cache *c, uint8_t *wire, const uint16_t *offs,
			   size_t nttl, size_t ancount)
{
	uint32_t min = UINT32_MAX;

	for (size_t i = 0; i < nttl; i++) {
		uint8_t *p = wire + offs[i];
		uint16_t type = rd16(p - 4);
		uint16_t rdlen = rd16(p + 4);
		uint32_t t;

		if (i >= ancount && type == LDNS_RR_TYPE_SOA && rdlen >= SOA_FIXED_TAIL)
			t = cache_ttl_negative(c, rd32(p), rd32(p + 6 + rdlen - 4));
		else
			t = cache_ttl_positive(c, rd32(p));
		wr32(p, t);
		if (t < min)
			min = t;
	}
	return min;
}

static size_t list_count(const ldns_rr_list *l)
{
	return l ? ldns_rr_list_rr_count(l) : 0;
}

/* Build the entry from an encoded message. */
static struct entry *answer_build(struct cache *c, const uint8_t *name, size_t len,
				  uint16_t qtype, uint16_t qclass, uint16_t rcode,
				  const uint8_t *wire, const struct msg_sections *ms,
				  const uint16_t *offs, uint32_t ttl, uint64_t now_ms)
{
	size_t bloblen = ms->len - ms->start;
	struct entry *e = cache_entry_alloc(len + 2 + 2 * ms->nttl + bloblen);
	uint8_t *p;

	if (!e)
		return NULL;
	memcpy(e->data, name, len);
	e->namelen = (uint8_t)len;
	e->type = qtype;
	e->cls = qclass;
	e->flags = EF_ANSWER;
	e->hash = cache_key_hash(c, name, len, qtype, qclass, EF_ANSWER);
	e->expiry_ms = now_ms + (uint64_t)ttl * 1000;
	e->orig_ttl = ttl;
	e->trust = (uint8_t)rcode;
	e->nrr = ms->ancount;
	e->nsig = ms->nscount;
	p = e->data + len;
	wr16(p, (uint16_t)bloblen);
	p += 2;
	for (size_t i = 0; i < ms->nttl; i++, p += 2)
		wr16(p, offs[i]);
	memcpy(p, wire + ms->start, bloblen);
	return e;
}

/* Encode into a scratch message (a store follows a resolution, which
 * allocated far more; the hit path is the one that must not), clamp the
 * TTLs, and commit. */
static int store_encoded(struct cache *c, const uint8_t *name, size_t len, uint16_t qtype,
			 uint16_t qclass, uint16_t rcode, const ldns_rr_list *answer,
			 const ldns_rr_list *authority, uint64_t now_ms)
{
	size_t nrr = list_count(answer) + list_count(authority);
	/* the offsets follow the message, at an even (aligned) offset */
	uint8_t *wire = malloc(SCRATCH_MSG + 2 * nrr);
	uint16_t *offs = (uint16_t *)(wire + SCRATCH_MSG);
	struct msg_sections ms;
	struct cache_shard *s;
	struct entry *old, *e;
	uint64_t hash;
	uint32_t ttl;
	int r = -1;

	if (!wire) {
		log_err("cache: out of memory encoding an answer");
		return -1;
	}
	if (msg_encode_sections(name, len, qtype, qclass, answer, authority, wire, MSG_MAX_TCP,
				offs, nrr, &ms) < 0 || ms.nttl == 0 ||
	    ms.nttl != (size_t)ms.ancount + ms.nscount)
		goto out;
	ttl = clamp_ttls(c, wire, offs, ms.nttl, ms.ancount);
	e = NULL;
	if (ttl) {
		e = answer_build(c, name, len, qtype, qclass, rcode, wire, &ms, offs, ttl,
				 now_ms);
		if (!e) {
			log_err("cache: out of memory storing an answer");
			goto out;
		}
	}
	hash = cache_key_hash(c, name, len, qtype, qclass, EF_ANSWER);
	s = cache_shard_of(c, hash);
	cache_shard_lock(s);
	s->last_now_ms = now_ms;
	old = cache_table_find(s, name, len, qtype, qclass, EF_ANSWER, hash);
	/* ttl 0: nothing to keep, and the older answer is superseded */
	if (e)
		cache_entry_commit(c, s, old, e, now_ms);
	else if (old)
		cache_entry_remove(c, s, old);
	cache_shard_unlock(s);
	r = 0;
out:
	free(wire);
	return r;
}

int cache_store_answer(struct cache *c, const uint8_t *qname, size_t qname_len,
		       uint16_t qtype, uint16_t qclass, uint16_t rcode,
		       const ldns_rr_list *answer, const ldns_rr_list *authority,
		       uint64_t now_ms)
{
	uint8_t name[CACHE_NAME_WIRE_MAX];
	size_t nrr = list_count(answer) + list_count(authority);

	if (!c || !qname || !qname_lower(qname, qname_len, name) || !qtype_storable(qtype) ||
	    (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) ||
	    nrr == 0 || nrr > 0xffff)
		return -1;
	return store_encoded(c, name, qname_len, qtype, qclass, rcode, answer, authority,
			     now_ms);
}

/* ---- the hit path ----------------------------------------------------- */

static void put_header(uint8_t *out, const struct msg_query *q, const struct entry *e)
{
	uint16_t flags = FLAG_QR | FLAG_RA | (q->flags & FLAG_OPCODE) | (e->trust & 0xf);

	uint64_t w0;
	uint32_t w1;

	flags |= (q->rd ? FLAG_RD : 0) | (q->cd ? FLAG_CD : 0);
	/* two big-endian stores instead of six 16-bit ones */
	w0 = (uint64_t)q->id << 48 | (uint64_t)flags << 32 | (uint64_t)1 << 16 | e->nrr;
	w1 = (uint32_t)e->nsig << 16 | (q->edns ? 1u : 0u);
	w0 = htobe64(w0);
	w1 = htobe32(w1);
	memcpy(out, &w0, 8);
	memcpy(out + 8, &w1, 4);
}

/* Our OPT, as msg.c writes it: our UDP size, version 0, DO echoed; the
 * rcodes stored here need no extended bits. */
static void put_opt(uint8_t *p, const struct msg_query *q)
{
	p[0] = 0;
	wr16(p + 1, LDNS_RR_TYPE_OPT);
	wr16(p + 3, msg_get_edns_size());
	wr32(p + 5, q->do_bit ? EDNS_DO : 0);
	wr16(p + 9, 0);
}

/* Every TTL becomes stored - whole seconds elapsed: the rounded-up
 * remaining lifetime of a record stored with that TTL (ceil((t*1000 -
 * el)/1000) = t - floor(el/1000)), >= 1 while the entry lives.  A clock
 * earlier than the store (a caller's clock is its own) counts as none
 * elapsed rather than wrapping. */
static void patch_ttls(uint8_t *out, const struct entry *e, uint64_t now_ms)
{
	uint64_t stored_ms = e->expiry_ms - (uint64_t)e->orig_ttl * 1000;
	uint32_t el = now_ms > stored_ms ? (uint32_t)((now_ms - stored_ms) / 1000) : 0;
	const uint8_t *offs = cache_answer_offs(e);
	size_t n = cache_answer_nttl(e);

	for (size_t i = 0; i < n; i++) {
		uint8_t *p = out + rd16(offs + 2 * i);

		wr32(p, rd32(p) - el);
	}
}

/* ASCII-lowercase eight bytes at once: byte-wise, lowercasing was a third
 * of the hit path.  Per byte (top bit masked off first, so no carry
 * crosses bytes): h + (0x80 - 'A') has its top bit set iff h >= 'A',
 * h + (0x80 - 'Z' - 1) iff h > 'Z'; a byte with its own top bit set is
 * not a letter.  The resulting 0x80 per upper-case letter, shifted right
 * by 2, is the 0x20 that lowercases it. */
static inline void lower8(uint8_t *dst, const uint8_t *src)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t x, h, ge_a, gt_z;

	memcpy(&x, src, 8);
	h = x & (0x7f * ones);
	ge_a = h + (0x80 - 'A') * ones;
	gt_z = h + (0x80 - 'Z' - 1) * ones;
	x |= ((ge_a & ~gt_z & ~x) & (0x80 * ones)) >> 2;
	memcpy(dst, &x, 8);
}

/* A name of 8 bytes or more ends with one more 8-byte step over its last
 * eight bytes (overlapping what is done: the same bytes come out), not a
 * byte loop: the loops over the 1-7 leftover bytes cost as much as the
 * rest of the name.  Shorter names (the root, "a.b") go byte by byte. */
static void lower_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t i = 0;

	if (len < 8) {
		for (; i < len; i++)
			dst[i] = cache_ascii_lower(src[i]);
		return;
	}
	for (; i + 8 <= len; i += 8)
		lower8(dst + i, src + i);
	if (i < len)
		lower8(dst + len - 8, src + len - 8);
}

/* memcpy for a name, in the same 8-byte steps: GCC inlines a memcpy it
 * knows is under 256 bytes as "rep movsq", whose start-up cost made it a
 * tenth of the hit path. */
static void copy_name(uint8_t *dst, const uint8_t *src, size_t len)
{
	uint64_t x;
	size_t i = 0;

	if (len < 8) {
		for (; i < len; i++)
			dst[i] = src[i];
		return;
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(&x, src + i, 8);
		memcpy(dst + i, &x, 8);
	}
	if (i < len) {
		memcpy(&x, src + len - 8, 8);
		memcpy(dst + len - 8, &x, 8);
	}
}

/* Lowercase and hash the client's name as it lies in q: no ldns, no
 * allocation, nothing parsed beyond what msg_parse_query already did.
 * On a find, returns with *sp (the key's shard) locked. */
static struct entry *answer_find(struct cache *c, const struct msg_query *q,
				 struct cache_shard **sp)
{
	uint8_t name[CACHE_NAME_WIRE_MAX];
	size_t len = q->qname_len;
	struct cache_shard *s;
	struct entry *e;
	uint64_t hash;

	if (len == 0 || len > CACHE_NAME_WIRE_MAX)
		return NULL;
	lower_copy(name, q->qname, len);
	hash = cache_key_hash(c, name, len, q->qtype, q->qclass, EF_ANSWER);
	s = cache_shard_of(c, hash);
	cache_shard_lock(s);
	e = s->n_answers ? cache_table_find(s, name, len, q->qtype, q->qclass, EF_ANSWER, hash)
			 : NULL;
	if (!e) {
		cache_shard_unlock(s);
		return NULL;
	}
	*sp = s;
	return e;
}

/* The hit itself, under the shard lock (s, e's shard): the answer cannot
 * be replaced or freed while its bytes are copied out. */
static size_t answer_serve(struct cache *c, struct cache_shard *s, struct entry *e,
			   const struct msg_query *q, uint64_t now_ms, uint8_t *out,
			   size_t cap, size_t max_len, bool *prefetch_due)
{
	size_t start, total;
	uint32_t left;

	if (now_ms >= e->expiry_ms) {
		cache_entry_remove(c, s, e); /* answers are never served stale */
		return 0;
	}
	start = cache_answer_start(e);
	total = start + cache_answer_bloblen(e) + (q->edns ? OPT_LEN : 0);
	if (total > cap || total > max_len)
		return 0;
	put_header(out, q, e);
	copy_name(out + HDR_LEN, q->qname, e->namelen);
	wr16(out + HDR_LEN + e->namelen, q->qtype);
	wr16(out + HDR_LEN + e->namelen + 2, q->qclass);
	memcpy(out + start, cache_answer_blob(e), cache_answer_bloblen(e));
	patch_ttls(out, e, now_ms);
	if (q->edns)
		put_opt(out + start + cache_answer_bloblen(e), q);
	left = (uint32_t)((e->expiry_ms - now_ms + 999) / 1000);
	*prefetch_due = (uint64_t)left * 10 < e->orig_ttl;
	cache_entry_touch(e);
	s->st.hits++;
	return total;
}

size_t cache_answer_hit(struct cache *c, const struct msg_query *q, uint64_t now_ms,
			uint8_t *out, size_t cap, size_t max_len, bool *prefetch_due)
{
	struct cache_shard *s;
	struct entry *e;
	size_t n;

	*prefetch_due = false;
	e = answer_find(c, q, &s);
	if (!e)
		return 0;
	s->last_now_ms = now_ms;
	n = answer_serve(c, s, e, q, now_ms, out, cap, max_len, prefetch_due);
	cache_shard_unlock(s);
	return n;
}
