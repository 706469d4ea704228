/* rnd.c — see rnd.h.
 *
 * Why a pool: glibc 2.36's arc4random makes one getrandom() system call
 * per draw, and the cold path draws for every upstream query (source port,
 * ID, 0x20 bits).  Each thread keeps RND_POOL_SIZE bytes of getrandom()
 * output and hands them out; a refill is one system call per
 * RND_POOL_SIZE bytes.  The bytes are the kernel CSPRNG's own output, so
 * this is exactly as unpredictable; a byte is wiped once handed out, so a
 * later memory disclosure does not reveal past draws.
 *
 * Thread-local: workers draw without sharing or locking anything.  After
 * fork() the child's pool (a copy of the parent's calling thread's) is
 * emptied by a pthread_atfork handler, so parent and child never hand out
 * the same bytes. */
#include "rnd.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RND_POOL_SIZE 512u

struct rnd_pool {
	size_t pos;                     /* next unused byte; SIZE = empty */
	uint8_t buf[RND_POOL_SIZE];
};

static _Thread_local struct rnd_pool pool = { .pos = RND_POOL_SIZE };
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
	explicit_bzero(pool.buf, sizeof(pool.buf));
	pool.pos = RND_POOL_SIZE;
}

static void register_atfork(void)
{
	/* Failure only means ENOMEM at start-up; then the child could repeat
	 * the parent's unused bytes, so fall back to never pooling. */
	if (pthread_atfork(NULL, NULL, pool_forget) != 0)
		abort();
}

/* getrandom() until len bytes came; arc4random_buf (which aborts rather
 * than return weak bytes) if the call itself is unavailable. */
static void fill_from_kernel(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			arc4random_buf(p, len);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void pool_take(void *out, size_t len)
{
	uint8_t *o = out;

	while (len > 0) {
		size_t n;

		if (pool.pos >= RND_POOL_SIZE) {
			pthread_once(&atfork_once, register_atfork);
			fill_from_kernel(pool.buf, sizeof(pool.buf));
			pool.pos = 0;
		}
		n = RND_POOL_SIZE - pool.pos;
		if (n > len)
			n = len;
		memcpy(o, pool.buf + pool.pos, n);
		explicit_bzero(pool.buf + pool.pos, n);
		pool.pos += n;
		o += n;
		len -= n;
	}
}

uint32_t rnd_u32(void)
{
	uint32_t v;

	pool_take(&v, sizeof(v));
	return v;
}

uint16_t rnd_u16(void)
{
	uint16_t v;

	pool_take(&v, sizeof(v));
	return v;
}

/* Rejection sampling: draws below 2^32 mod upper would make the low
 * results more likely; they are thrown away (at most half of the draws). */
uint32_t rnd_uniform(uint32_t upper)
{
	uint32_t min, r;

	if (upper < 2)
		return 0;
	min = (uint32_t)(-upper % upper);
	do
		r = rnd_u32();
	while (r < min);
	return r % upper;
}

void rnd_bytes(void *buf, size_t len)
{
	/* Large requests go straight to the kernel, not through the pool. */
	if (len > RND_POOL_SIZE / 2)
		fill_from_kernel(buf, len);
	else
		pool_take(buf, len);
}
