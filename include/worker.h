/* worker.h — one resolver worker: an event loop with its own sockets.
 *
 * A worker owns a libuv loop, its transport (net), listeners (server),
 * upstream queries and client requests (request_ctx).  Workers share what
 * is worth sharing and safe to share: the cache (sharded, a lock per
 * shard: cache.h), infra (one mutex: infra.h), the root hints (read only)
 * and the configuration (read only while workers run).  Every worker
 * binds its own listeners on the same addresses with SO_REUSEPORT, so the
 * kernel spreads clients over them by address and port.
 *
 * Threads: worker 0 runs on the main loop (uv_default_loop(), beside the
 * control socket and the signal handlers), so one worker costs no thread
 * and no cross-thread hop; workers 1..N-1 each run their own loop on a
 * thread of their own.  Nothing but worker_call() reaches into a worker
 * from another thread, and everything a worker owns is only touched on
 * its thread.
 *
 * Lifetime, as main.c uses it (all calls from the main thread):
 *
 *     worker_new(&env, i, i ? NULL : main_loop, &w);  // build, nothing bound
 *     worker_listen(w);          // bind (before dropping privileges)
 *     worker_start(w);           // threaded workers: start the thread
 *     ... uv_run(main_loop) ...
 *     worker_stop(w);            // threaded: stop its loop, join; it tore itself down
 *     worker_close(w);           // worker 0: close its handles (main loop runs next)
 *     worker_free(w);            // after the main loop has run the close callbacks
 */
#ifndef RW_WORKER_H
#define RW_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "iter.h"
#include "request.h"
#include "server.h"
#include "upstream.h"

struct net;
struct rrl;
struct worker;

/* What every worker is built from; copied by worker_new.  The pointers
 * must outlive every worker. */
struct worker_env {
	const struct config *cfg;
	struct iter_env iter;        /* cache, infra, hints and limits (shared) */
	struct rrl *rrl;             /* response rate limiting (shared); NULL: off */
	struct upstream_opts up;
};

/* Counters of one worker, read on its own thread. */
struct worker_stats {
	struct request_stats req;
	struct upstream_stats up;
	struct server_stats srv;
};

/* Build worker `index` on `loop`, or on a new loop of its own (loop NULL:
 * the worker will run it on its own thread).  Raw mode (the userspace
 * stack) must be worker 0 on the main loop.  Returns 0, or -1 after
 * logging; either way *out (NULL only when even the struct could not be
 * allocated) is torn down as usual: stop, close, run the loop, free. */
int worker_new(const struct worker_env *env, unsigned index, uv_loop_t *loop,
	       struct worker **out);
/* Bind every listener.  0, or -errno after logging. */
int worker_listen(struct worker *w);
/* A worker with a loop of its own: start its thread (signals blocked in
 * it; the main loop handles them).  A worker on the main loop: nothing to
 * do.  0, or -1 after logging. */
int worker_start(struct worker *w);

/* Run fn(w, ud) on w's thread and wait until it returned.  From w's own
 * thread (worker 0 from the main thread) it is a direct call.  Returns 0,
 * or -1 when the worker's loop no longer runs (fn was not called).  fn
 * must not block; it runs between two events of the worker's loop. */
int worker_call(struct worker *w, void (*fn)(struct worker *w, void *ud), void *ud);

/* Snapshot w's counters (worker_call; on failure zeros and -1). */
int worker_get_stats(struct worker *w, struct worker_stats *st);

/* The transport, for the control's raw-mode listing (worker 0 only: it is
 * the one whose thread is the control's). */
struct net *worker_net(const struct worker *w);
unsigned worker_index(const struct worker *w);

/* A threaded worker: stop its loop, let it close and free everything it
 * owns on its thread, and join it.  Idempotent; nothing for worker 0. */
void worker_stop(struct worker *w);
/* Worker 0: close its requests, listeners, upstream sockets and transport
 * on the main loop, which must then run before worker_free.  Nothing for
 * a threaded worker (worker_stop did it). */
void worker_close(struct worker *w);
void worker_free(struct worker *w);

/* The number of workers to run: the configured one, 0 meaning the number
 * of CPUs this process may use; raw mode runs exactly one (logged). */
unsigned worker_count(const struct config *cfg);

#endif
