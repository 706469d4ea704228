/* pkt.c — see pkt.h.  The pool is one allocation: an array of struct pkt
 * and one array of storage, threaded on a free list.  Bounded by design: a
 * flood of traffic can exhaust the pool (the caller counts a drop) but
 * never the heap. */
#include "pkt.h"

#include <stdlib.h>
#include <string.h>

struct pkt_pool {
	struct pkt *free;
	struct pkt *pkts;
	uint8_t *storage;
	unsigned count;
	unsigned in_use;
	size_t bufsize;
};

struct pkt_pool *pkt_pool_new(unsigned count, size_t bufsize)
{
	struct pkt_pool *pool;

	if (count == 0 || bufsize == 0)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->pkts = calloc(count, sizeof(*pool->pkts));
	pool->storage = malloc((size_t)count * bufsize);
	if (!pool->pkts || !pool->storage) {
		free(pool->pkts);
		free(pool->storage);
		free(pool);
		return NULL;
	}
	pool->count = count;
	pool->bufsize = bufsize;
	for (unsigned i = count; i-- > 0;) {
		struct pkt *p = &pool->pkts[i];

		p->start = pool->storage + (size_t)i * bufsize;
		p->cap = bufsize;
		p->pooled = true;
		p->next = pool->free;
		pool->free = p;
	}
	return pool;
}

unsigned pkt_pool_free(struct pkt_pool *pool)
{
	unsigned leaked;

	if (!pool)
		return 0;
	leaked = pool->in_use;
	free(pool->pkts);
	free(pool->storage);
	free(pool);
	return leaked;
}

unsigned pkt_pool_in_use(const struct pkt_pool *pool)
{
	return pool->in_use;
}

size_t pkt_pool_bufsize(const struct pkt_pool *pool)
{
	return pool->bufsize;
}

struct pkt *pkt_alloc(struct pkt_pool *pool, size_t headroom)
{
	struct pkt *p = pool->free;

	if (!p || headroom > pool->bufsize)
		return NULL;
	pool->free = p->next;
	pool->in_use++;
	p->next = NULL;
	p->data = p->start + headroom;
	p->len = 0;
	p->next_hop = 0;
	return p;
}

void pkt_free(struct pkt_pool *pool, struct pkt *p)
{
	if (!p || !p->pooled)
		return;
	p->next = pool->free;
	pool->free = p;
	pool->in_use--;
}

void pkt_wrap(struct pkt *p, const uint8_t *data, size_t len)
{
	memset(p, 0, sizeof(*p));
	/* The view never writes: push is refused (no headroom), put too. */
	p->start = (uint8_t *)(uintptr_t)data;
	p->data = p->start;
	p->len = len;
	p->cap = len;
}

size_t pkt_headroom(const struct pkt *p)
{
	return p->pooled ? (size_t)(p->data - p->start) : 0;
}

size_t pkt_tailroom(const struct pkt *p)
{
	if (!p->pooled)
		return 0;
	return p->cap - (size_t)(p->data - p->start) - p->len;
}

uint8_t *pkt_push(struct pkt *p, size_t n)
{
	if (pkt_headroom(p) < n)
		return NULL;
	p->data -= n;
	p->len += n;
	return p->data;
}

const uint8_t *pkt_pull(struct pkt *p, size_t n)
{
	const uint8_t *hdr = p->data;

	if (p->len < n)
		return NULL;
	p->data += n;
	p->len -= n;
	return hdr;
}

uint8_t *pkt_put(struct pkt *p, size_t n)
{
	uint8_t *tail = p->data + p->len;

	if (pkt_tailroom(p) < n)
		return NULL;
	p->len += n;
	return tail;
}

void pkt_trim(struct pkt *p, size_t len)
{
	if (len < p->len)
		p->len = len;
}
