/* rnd.c — see rnd.h.  glibc 2.36+ provides arc4random, a ChaCha20 CSPRNG
 * seeded from getrandom(); it is the right tool and needs no state here. */
#include "rnd.h"

#include <stdlib.h>

uint32_t rnd_u32(void)
{
	return arc4random();
}

uint16_t rnd_u16(void)
{
	return (uint16_t)(arc4random() & 0xffffu);
}

uint32_t rnd_uniform(uint32_t upper)
{
	return arc4random_uniform(upper);
}

void rnd_bytes(void *buf, size_t len)
{
	arc4random_buf(buf, len);
}
