/* rnd.h — unpredictable numbers for query IDs, source ports and 0x20.
 * Backed by the C library's arc4random (ChaCha20, kernel-seeded). */
#ifndef RW_RND_H
#define RW_RND_H

#include <stddef.h>
#include <stdint.h>

uint32_t rnd_u32(void);
uint16_t rnd_u16(void);
/* Uniform in [0, upper), upper > 0, without modulo bias. */
uint32_t rnd_uniform(uint32_t upper);
void rnd_bytes(void *buf, size_t len);

#endif
