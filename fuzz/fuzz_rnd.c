/* fuzz_rnd.c — rnd.h for the fuzz targets: a seeded, repeatable stream.
 *
 * The daemon's rnd.c is a CSPRNG, as it must be.  Under a fuzzer that
 * makes every run different: a crash input would not reproduce, and the
 * stack's random ISNs and ports would hide the handshake from the fuzzer.
 * Each target reseeds at the start of every input, so one input always
 * takes one path.  Never linked into the daemon. */
#include <string.h>

#include "fuzz_common.h"
#include "rnd.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;

void fuzz_rnd_seed(uint64_t seed)
{
	g_state = seed ^ 0x9e3779b97f4a7c15ull;
}

/* splitmix64: small, fast, good enough to spread values. */
static uint64_t next64(void)
{
	uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t rnd_u32(void)
{
	return (uint32_t)(next64() >> 32);
}

uint16_t rnd_u16(void)
{
	return (uint16_t)(next64() >> 48);
}

uint32_t rnd_uniform(uint32_t upper)
{
	return upper ? (uint32_t)(next64() % upper) : 0;
}

void rnd_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t v = next64();
		size_t n = len < sizeof(v) ? len : sizeof(v);

		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
