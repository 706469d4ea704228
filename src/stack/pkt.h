/* pkt.h — packet buffers with headroom, from a bounded pool.
 *
 * Like an lwIP pbuf but always a single segment: a payload is written first
 * and each layer below prepends its header with pkt_push(), so nothing is
 * copied on the way down.  On the way up, pkt_pull() strips a header.  A
 * pool hands out at most `count` buffers; allocation never touches malloc
 * after pkt_pool_new().  pkt_wrap() makes a read-only view of a received
 * frame (no pool buffer, nothing to free). */
#ifndef RW_STACK_PKT_H
#define RW_STACK_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt {
	struct pkt *next;   /* free list, or the queue that holds it */
	uint8_t *data;      /* first valid byte */
	size_t len;         /* valid bytes from data */
	uint8_t *start;     /* storage */
	size_t cap;         /* storage size */
	uint32_t next_hop;  /* ARP queue: address being resolved */
	bool pooled;        /* false for pkt_wrap() views */
};

struct pkt_pool;

/* count buffers of bufsize bytes each; NULL on allocation failure. */
struct pkt_pool *pkt_pool_new(unsigned count, size_t bufsize);
/* Every buffer must have been freed; returns how many were not. */
unsigned pkt_pool_free(struct pkt_pool *pool);
unsigned pkt_pool_in_use(const struct pkt_pool *pool);
size_t pkt_pool_bufsize(const struct pkt_pool *pool);

/* An empty packet with `headroom` bytes reserved in front; NULL if the pool
 * is exhausted or headroom exceeds the buffer. */
struct pkt *pkt_alloc(struct pkt_pool *pool, size_t headroom);
void pkt_free(struct pkt_pool *pool, struct pkt *p);

/* View of received bytes; the caller keeps them alive and must not push. */
void pkt_wrap(struct pkt *p, const uint8_t *data, size_t len);

/* Grows the packet at the front by n bytes; returns the new data pointer
 * or NULL when the headroom is too small. */
uint8_t *pkt_push(struct pkt *p, size_t n);
/* Strips n bytes at the front; returns the stripped header or NULL if the
 * packet is shorter than n. */
const uint8_t *pkt_pull(struct pkt *p, size_t n);
/* Appends n bytes at the tail; returns where to write them or NULL. */
uint8_t *pkt_put(struct pkt *p, size_t n);
/* Shortens the packet to len bytes (no-op if already shorter). */
void pkt_trim(struct pkt *p, size_t len);
size_t pkt_headroom(const struct pkt *p);
size_t pkt_tailroom(const struct pkt *p);

#endif
