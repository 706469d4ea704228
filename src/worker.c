/* worker.c — resolver workers (see worker.h).
 *
 * Design, and why:
 *  - A worker is what the daemon was before workers: transport, server,
 *    upstream and request_ctx on one libuv loop.  Those modules stay
 *    single-threaded; a worker only ever runs them on its own thread.
 *  - Shared between workers: the cache (a name resolved by one worker is
 *    a hit for every other; sharded with a lock per shard so the hit path
 *    takes no global lock), infra (one mutex; touched only on the cold
 *    path, and sharing it means a timeout seen by one worker steers all),
 *    hints and the configuration (read only while workers run).
 *  - Per-worker caches were measured as the alternative (bench/bench_hit,
 *    docs/HACKING.md has the figures); a shared cache is also what makes
 *    "resolved once, a hit everywhere" true without copying stores.
 *  - Worker 0 runs on the main loop: with one worker (raw mode, or
 *    workers: 1) the daemon has a single thread as before, and the
 *    control socket reads worker 0 directly.  The others run on threads.
 *  - Everything is built and bound on the main thread before any worker
 *    thread starts (thread creation orders those writes before the
 *    thread's reads), so privileges are dropped after every listener is
 *    bound and setup errors are reported synchronously.
 *  - The only way into a running threaded worker is worker_call(): a
 *    uv_async_t wakes its loop, which runs the function and signals a
 *    condition variable.  The control socket reads counters that way (a
 *    consistent snapshot per worker, no torn or racy reads of counters
 *    that their modules increment without atomics), and stop goes the
 *    same way. */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "transport.h"

/* A function to run on the worker's thread, and whether it has run. */
struct worker_job {
	void (*fn)(struct worker *w, void *ud);
	void *ud;
	bool done;
};

struct worker {
	unsigned index;
	struct worker_env env;
	uv_loop_t *loop;
	bool own_loop;               /* threaded: loop and thread are ours */
	struct net *net;
	struct upstream *up;
	struct request_ctx *req;
	struct server *srv;
	bool closed;

	/* Threaded workers only. */
	uv_loop_t own;
	bool loop_inited, async_inited;
	uv_async_t wake;
	pthread_t thread;
	bool thread_started, joined;
	pthread_mutex_t mu;          /* guards the fields below */
	pthread_cond_t cond;
	bool running;                /* its loop may still run jobs */
	bool stop_requested;
	struct worker_job *job;      /* at most one pending: callers queue on mu */
	bool sync_inited;
};

unsigned worker_count(const struct config *cfg)
{
	unsigned n = cfg->workers;

	if (cfg->mode == CFG_MODE_RAW) {
		if (n == 0)
			log_info("raw mode runs 1 worker, not one per CPU: the userspace stack "
				 "and its TAP device belong to one event loop");
		else if (n != 1)
			log_info("raw mode runs 1 worker, not %u: the userspace stack and its "
				 "TAP device belong to one event loop", n);
		return 1;
	}
	if (n == 0)
		n = uv_available_parallelism();
	return n ? n : 1;
}

/* ---- building ---------------------------------------------------------- */

static int net_setup(struct worker *w)
{
	if (w->env.cfg->mode == CFG_MODE_RAW)
		return net_raw_open(w->loop, w->env.cfg, &w->net) == 0 ? 0 : -1;
	w->net = net_kernel_new(w->loop);
	if (!w->net) {
		log_err("worker %u: out of memory setting up the sockets", w->index);
		return -1;
	}
	return 0;
}

static void on_wake(uv_async_t *a);

/* The thread side of a threaded worker: its loop, the wake-up handle and
 * the lock and condition variable that worker_call waits on. */
static int threading_setup(struct worker *w)
{
	int rc = uv_loop_init(&w->own);

	if (rc != 0) {
		log_err("worker %u: cannot make an event loop: %s", w->index, uv_strerror(rc));
		return -1;
	}
	w->loop_inited = true;
	w->loop = &w->own;
	rc = uv_async_init(w->loop, &w->wake, on_wake);
	if (rc != 0) {
		log_err("worker %u: cannot make its wake-up handle: %s", w->index,
			uv_strerror(rc));
		return -1;
	}
	w->wake.data = w;
	w->async_inited = true;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return -1;
	}
	w->sync_inited = true;
	return 0;
}

int worker_new(const struct worker_env *env, unsigned index, uv_loop_t *loop,
	       struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));

	*out = w;
	if (!w) {
		log_err("worker %u: out of memory", index);
		return -1;
	}
	w->index = index;
	w->env = *env;
	w->loop = loop;
	w->own_loop = loop == NULL;
	if (w->own_loop && threading_setup(w) != 0)
		return -1;
	if (net_setup(w) != 0)
		return -1;
	w->up = upstream_new_net(w->loop, w->net, w->env.iter.infra, &w->env.up);
	w->req = w->up ? request_ctx_new(w->loop, &w->env.iter, w->up, w->env.cfg) : NULL;
	w->srv = w->req ? server_new_net(w->loop, w->net, w->env.cfg, request_handle, w->req)
			: NULL;
	if (!w->srv) {
		log_err("worker %u: out of memory setting up the resolver", index);
		return -1;
	}
	server_set_rrl(w->srv, w->env.rrl);
	return 0;
}

int worker_listen(struct worker *w)
{
	return server_start(w->srv);
}

/* ---- the worker's thread ---------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The order daemon teardown always had: requests (they answer SERVFAIL
 * through the server), listeners, upstream sockets, then the transport
 * they all borrowed.  Memory goes in release_parts, after the loop ran. */
static void close_parts(struct worker *w)
{
	if (w->closed)
		return;
	w->closed = true;
	if (w->req)
		request_ctx_free(w->req);
	if (w->srv)
		server_stop(w->srv);
	if (w->up)
		upstream_free(w->up);
	if (w->net)
		net_close(w->net, NULL, NULL);
	w->req = NULL;
	w->up = NULL;
}

static void release_parts(struct worker *w)
{
	if (w->srv)
		server_free(w->srv);
	net_free(w->net);
	w->srv = NULL;
	w->net = NULL;
}

/* Close everything on the worker's own loop and let the loop finish. */
static void teardown_own_loop(struct worker *w)
{
	close_parts(w);
	uv_walk(w->loop, close_walk, NULL);
	uv_run(w->loop, UV_RUN_DEFAULT);
	release_parts(w);
	if (uv_loop_close(w->loop) != 0)
		log_err("worker %u: event loop still busy at exit", w->index);
	w->loop_inited = false;
}

/* Runs on the worker's thread: the pending job, then a stop if asked. */
static void on_wake(uv_async_t *a)
{
	struct worker *w = a->data;
	struct worker_job *job;
	bool stop;

	pthread_mutex_lock(&w->mu);
	job = w->job;
	stop = w->stop_requested;
	pthread_mutex_unlock(&w->mu);
	if (job) {
		job->fn(w, job->ud);
		pthread_mutex_lock(&w->mu);
		job->done = true;
		w->job = NULL;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
	}
	if (stop)
		uv_stop(w->loop);
}

static void *worker_main(void *ud)
{
	struct worker *w = ud;

	log_detail("worker %u: running", w->index);
	uv_run(w->loop, UV_RUN_DEFAULT);
	/* No job may start after this: the wake-up handle closes below. */
	pthread_mutex_lock(&w->mu);
	w->running = false;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	teardown_own_loop(w);
	log_detail("worker %u: stopped", w->index);
	return NULL;
}

/* Signals stay with the main thread: its loop has the handlers, and a
 * worker interrupted by one would only retry its system call. */
int worker_start(struct worker *w)
{
	sigset_t all, old;
	int rc;

	if (!w->own_loop)
		return 0;
	sigfillset(&all);
	pthread_mutex_lock(&w->mu);
	w->running = true;
	pthread_mutex_unlock(&w->mu);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_lock(&w->mu);
		w->running = false;
		pthread_mutex_unlock(&w->mu);
		log_err("worker %u: cannot start its thread: %s", w->index, strerror(rc));
		return -1;
	}
	w->thread_started = true;
	return 0;
}

/* ---- reaching a running worker ---------------------------------------- */

int worker_call(struct worker *w, void (*fn)(struct worker *w, void *ud), void *ud)
{
	struct worker_job job = { .fn = fn, .ud = ud };

	if (!w->own_loop || pthread_equal(pthread_self(), w->thread)) {
		fn(w, ud);
		return 0;
	}
	pthread_mutex_lock(&w->mu);
	/* one job at a time: wait for the slot */
	while (w->running && w->job)
		pthread_cond_wait(&w->cond, &w->mu);
	if (!w->running) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	w->job = &job;
	/* under mu: the thread cannot close the handle before this send */
	uv_async_send(&w->wake);
	while (!job.done && w->running)
		pthread_cond_wait(&w->cond, &w->mu);
	if (!job.done && w->job == &job)
		w->job = NULL;
	pthread_mutex_unlock(&w->mu);
	return job.done ? 0 : -1;
}

static void read_stats(struct worker *w, void *ud)
{
	struct worker_stats *st = ud;

	request_get_stats(w->req, &st->req);
	upstream_get_stats(w->up, &st->up);
	server_get_stats(w->srv, &st->srv);
}

int worker_get_stats(struct worker *w, struct worker_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (w->closed || worker_call(w, read_stats, st) != 0) {
		memset(st, 0, sizeof(*st));
		return -1;
	}
	return 0;
}

struct net *worker_net(const struct worker *w)
{
	return w->net;
}

unsigned worker_index(const struct worker *w)
{
	return w->index;
}

/* ---- stopping --------------------------------------------------------- */

void worker_stop(struct worker *w)
{
	if (!w || !w->own_loop || w->joined)
		return;
	if (!w->thread_started) {
		/* never ran (a failed setup): tear down here instead */
		if (w->loop_inited)
			teardown_own_loop(w);
		w->joined = true;
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stop_requested = true;
	if (w->running)
		uv_async_send(&w->wake);
	pthread_mutex_unlock(&w->mu);
	/* fails only for a thread that is not joinable, which ours always is */
	if (pthread_join(w->thread, NULL) != 0)
		log_err("worker %u: cannot join its thread", w->index);
	w->joined = true;
}

void worker_close(struct worker *w)
{
	if (!w || w->own_loop)
		return;
	close_parts(w);
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (!w->own_loop)
		release_parts(w);
	if (w->sync_inited) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->mu);
	}
	free(w);
}
