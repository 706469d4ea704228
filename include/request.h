/* request.h — the lifecycle of client questions on one event loop.
 *
 * The server hands over each valid query; request looks for the same
 * question already in flight (coalescing: one resolution answers every
 * client that asked it), otherwise starts an iterator and drives it:
 * each ITER_SEND becomes an upstream query, each reply or timeout goes
 * back into the iterator, and ITER_DONE is encoded once per waiting
 * client.  A per-question deadline (query-timeout) turns runaway work into
 * SERVFAIL.  This file is the only place where iterator and I/O meet. */
#ifndef RW_REQUEST_H
#define RW_REQUEST_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "iter.h"
#include "server.h"
#include "upstream.h"

struct request_ctx;

struct request_stats {
	uint64_t queries;          /* valid client queries handed to us */
	uint64_t cache_answers;    /* answered without any upstream query */
	uint64_t coalesced;        /* joined a resolution already in flight */
	uint64_t resolutions;      /* iterators started that went upstream */
	uint64_t servfail_deadline, servfail_overload;
	uint64_t stale_answers;
	uint64_t prefetches;       /* background refreshes started (prefetch) */    /* answered from expired data (serve-expired) */
	uint64_t in_flight;        /* resolutions now running */
	uint64_t by_rcode[24];     /* answers sent, by rcode */
	uint64_t by_qtype[256];    /* queries by type (types > 255 in [255]) */
	uint64_t latency_hist[12]; /* answer latency buckets, see request.c */
};

struct request_ctx *request_ctx_new(uv_loop_t *loop, struct iter_env *env,
				    struct upstream *up, const struct config *cfg);
/* Answers SERVFAIL to every waiting client and frees all resolutions.
 * Their timers close through the loop: run it once more before freeing
 * what env points to. */
void request_ctx_free(struct request_ctx *rc);

/* server_query_fn: takes a parsed, access-checked client query. */
void request_handle(void *rc, struct server_client *c, const struct msg_query *q);

void request_get_stats(const struct request_ctx *rc, struct request_stats *st);
/* Bucket upper bounds in ms for latency_hist (last bucket is open). */
extern const uint32_t request_latency_bounds_ms[12];

#endif
