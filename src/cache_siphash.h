/* cache_siphash.h — SipHash-1-3, the keyed hash behind the cache and infra
 * tables.
 *
 * Why SipHash and not a faster seeded mixer (murmur, xxhash, wyhash): the
 * keys are names and addresses an attacker chooses (any zone can hand us
 * names; any delegation can name addresses), and those mixers have
 * seed-independent multicollisions, so a seed alone does not stop someone
 * from filling one chain.  SipHash is a PRF under its 128-bit key; the 1-3
 * variant (one compression round, three finalisation rounds, as Python and
 * Rust use for their tables) costs ~15 ns for a typical 20-byte name.
 *
 * The message hashed is le64(prefix) || data: callers fold small fixed
 * fields (type and class, or family and port) into `prefix`, so no key has
 * to be copied into a contiguous buffer first.
 *
 * Header-only (static inline) so that cache.c and infra.c, which are linked
 * into different unit tests, share it without a source file of its own. */
#ifndef RW_CACHE_SIPHASH_H
#define RW_CACHE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct siphash_key {
	uint64_t k0, k1;
};

static inline uint64_t siphash_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

struct siphash_state {
	uint64_t v0, v1, v2, v3;
};

static inline void siphash_round(struct siphash_state *s)
{
	s->v0 += s->v1;
	s->v1 = siphash_rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = siphash_rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = siphash_rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = siphash_rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = siphash_rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = siphash_rotl(s->v2, 32);
}

static inline void siphash_block(struct siphash_state *s, uint64_t m)
{
	s->v3 ^= m;
	siphash_round(s);
	s->v0 ^= m;
}

static inline uint64_t siphash_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* SipHash-1-3 of le64(prefix) || data[0..len). */
static inline uint64_t siphash13(const struct siphash_key *key, uint64_t prefix,
				 const void *data, size_t len)
{
	const uint8_t *p = data;
	struct siphash_state s = {
		.v0 = key->k0 ^ 0x736f6d6570736575ull,
		.v1 = key->k1 ^ 0x646f72616e646f6dull,
		.v2 = key->k0 ^ 0x6c7967656e657261ull,
		.v3 = key->k1 ^ 0x7465646279746573ull,
	};
	uint64_t last = (uint64_t)(len + 8) << 56;
	size_t tail = len & 7;

	siphash_block(&s, prefix);
	for (const uint8_t *end = p + (len - tail); p < end; p += 8)
		siphash_block(&s, siphash_le64(p));
	/* The tail (0-7 bytes): past 8 bytes of input, one load of the last
	 * eight, shifted, instead of a byte loop (a fifth of the hash). */
	if (tail && len >= 8)
		last |= siphash_le64(p + tail - 8) >> (64 - 8 * tail);
	else
		for (size_t i = 0; i < tail; i++)
			last |= (uint64_t)p[i] << (8 * i);
	siphash_block(&s, last);
	s.v2 ^= 0xff;
	siphash_round(&s);
	siphash_round(&s);
	siphash_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

#endif
