/* control.h — the operator's control socket (rootwalkctl speaks to it).
 *
 * A Unix stream socket served on the daemon's libuv loop.  Each request is
 * one text line; each answer is zero or more body lines ended by a status
 * line, "ok" or "error: message".  docs/CONTROL.md is the protocol.  The
 * socket never slows DNS down: every write is asynchronous, each client's
 * output queue is bounded, large answers (cache dump, cache load) are made
 * a chunk per loop iteration, and silent clients time out.
 *
 * Lifetime, as main.c uses it:
 *
 *     c = control_new(loop, &env, err, sizeof(err));   // before dropping privileges
 *     uv_run(loop, UV_RUN_DEFAULT);
 *     control_close(c);     // before any uv_walk() that closes every handle
 *     uv_run(loop, UV_RUN_DEFAULT);                    // lets the handles close
 *     control_free(c);      // then free what env points to
 */
#ifndef RW_CONTROL_H
#define RW_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "cache.h"
#include "config.h"
#include "infra.h"
#include "request.h"
#include "server.h"
#include "transport.h"
#include "upstream.h"
#include "worker.h"

struct control;

#define CONTROL_MAX_LINE 4096u        /* longest request, newline included */
#define CONTROL_IDLE_TIMEOUT_MS 60000u

/* What the control socket inspects and drives.  control_new() copies the
 * struct; the objects it points to must outlive the control.  Every
 * pointer but cfg may be NULL: commands needing a missing part answer
 * "error: no <part> in this process" and stats leave its counters out. */
struct control_env {
	const struct config *cfg;   /* socket path and group, status fields */
	struct cache *cache;
	struct infra *infra;
	struct server *server;
	struct request_ctx *req;
	struct upstream *up;
	struct net *net;            /* transport.h; a raw one adds the stack's part */
	/* Workers (worker.h).  When n_workers > 0, "stats" sums the counters
	 * of every worker, each read on its own thread (worker_get_stats), and
	 * req/up/server above are not used; "status" shows n_workers.  cache
	 * and infra are shared by the workers and thread-safe, so the cache
	 * and infra commands use them directly.  net must then be worker 0's
	 * (it runs on the control's loop). */
	struct worker *const *workers;
	size_t n_workers;
	const char *mode;           /* "kernel"/"raw" for status; NULL: from cfg->mode */
	uint64_t start_ms;          /* now_ms() when the daemon started (uptime) */
	/* The clock every cache/infra call is given.  NULL: uv_now(loop). */
	uint64_t (*now_ms)(void *ud);
	/* Wall clock stamped into dumps so a load can age the TTLs by the time
	 * that passed between dump and load.  NULL: time(NULL). */
	time_t (*wall_now)(void *ud);
	/* "reload": re-read the configuration.  0, or -1 with a message in
	 * err.  NULL: reload answers an error. */
	int (*reload)(void *ud, char *err, size_t errlen);
	/* "stop": called once the "ok" reached the client (or it left). */
	void (*stop)(void *ud);
	void *ud;                   /* for the four callbacks above */
	uint32_t idle_timeout_ms;   /* 0: CONTROL_IDLE_TIMEOUT_MS */
};

/* Create the socket at cfg->control_socket (ROOTWALK_DEFAULT_CONTROL when
 * unset): make its directory (0755) if missing, replace a stale socket
 * file, refuse to start if a live daemon answers on it, bind with mode
 * 0600 (0660 and the group when cfg->control_group is set), and listen.
 * Running as root with cfg->username set, the socket (and a directory made
 * here) is handed to that user so the daemon can remove it after dropping
 * privileges.  Returns NULL with a message in err on failure; the loop must
 * then run once more before it is closed, to release a half-made handle. */
struct control *control_new(uv_loop_t *loop, const struct control_env *env,
			    char *err, size_t errlen);

/* Stop listening, drop every client (their pending output is discarded)
 * and remove the socket file.  Idempotent.  Handles close through the loop. */
void control_close(struct control *c);

/* Free everything.  The handles must be closed (control_close, or a
 * uv_walk closing all handles) and the loop run since.  Removes the socket
 * file if control_close was not called. */
void control_free(struct control *c);

#endif
