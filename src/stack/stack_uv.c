/* stack_uv.c — runs a stack on a TAP device inside a libuv loop.
 *
 * The TAP fd is watched with uv_poll (as Knot Resolver watches its AF_XDP
 * socket): on readable, every queued frame is read and fed to
 * stack_input().  A uv_prepare handle calls stack_poll() before the loop
 * blocks, so whatever the callbacks of this iteration changed is accounted
 * for, and arms a uv_timer for the returned deadline; the timer callback
 * only has to wake the loop.  Output frames are written straight to the fd.
 *
 * Fault injection (tests): each frame crossing the TAP boundary, in either
 * direction, may be dropped, duplicated, or held back and released after
 * the next frame in the same direction (or after FAULT_HOLD_MS), decided by
 * a seeded xorshift generator so that a failing run can be repeated. */
#include "stack.h"

#include "log.h"
#include "stack_int.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAP_FRAME_MAX 65536u
#define TAP_READS_PER_WAKEUP 256 /* then let other handles run */
#define FAULT_HOLD_MS 20u

enum fault_dir { FAULT_IN, FAULT_OUT };

struct fault_hold {
	uint8_t *buf;
	size_t len;
	bool held;
	uint64_t since;
};

struct stack_uv {
	uv_loop_t *loop;
	int fd;
	struct stack *st;
	uv_poll_t poll;
	uv_timer_t timer;
	uv_prepare_t prepare;
	uint8_t *rxbuf;
	bool faults_on;
	struct stack_faults faults;
	uint32_t rng;
	struct fault_hold hold[2];
	unsigned open_handles;
	bool has_poll, has_timer, has_prepare;
	void (*on_closed)(void *ud);
	void *closed_ud;
};

static int tap_write(struct stack_uv *su, const uint8_t *frame, size_t len)
{
	ssize_t n = write(su->fd, frame, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static uint32_t fault_rand(struct stack_uv *su)
{
	uint32_t x = su->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	su->rng = x;
	return x;
}

static bool fault_roll(struct stack_uv *su, double p)
{
	if (p <= 0)
		return false;
	return (double)fault_rand(su) / 4294967296.0 < p;
}

/* Where a frame that survived the faults goes. */
static int fault_sink(struct stack_uv *su, enum fault_dir dir, const uint8_t *frame, size_t len)
{
	if (dir == FAULT_OUT)
		return tap_write(su, frame, len);
	stack_input(su->st, frame, len, uv_now(su->loop));
	return 0;
}

static void fault_release(struct stack_uv *su, enum fault_dir dir)
{
	struct fault_hold *h = &su->hold[dir];

	if (!h->held)
		return;
	h->held = false;
	(void)fault_sink(su, dir, h->buf, h->len);
}

static int fault_pass(struct stack_uv *su, enum fault_dir dir, const uint8_t *frame, size_t len)
{
	struct fault_hold *h = &su->hold[dir];
	int rc;

	if (!su->faults_on)
		return fault_sink(su, dir, frame, len);
	if (fault_roll(su, su->faults.drop)) {
		log_trace("stack_uv: fault: %s frame of %zu bytes dropped",
			  dir == FAULT_IN ? "inbound" : "outbound", len);
		return 0; /* lost on the wire: the sender cannot tell */
	}
	if (!h->held && len <= TAP_FRAME_MAX && fault_roll(su, su->faults.reorder)) {
		memcpy(h->buf, frame, len);
		h->len = len;
		h->held = true;
		h->since = uv_now(su->loop);
		log_trace("stack_uv: fault: %s frame of %zu bytes held back",
			  dir == FAULT_IN ? "inbound" : "outbound", len);
		return 0;
	}
	rc = fault_sink(su, dir, frame, len);
	fault_release(su, dir); /* the held frame now arrives after this one */
	if (fault_roll(su, su->faults.duplicate)) {
		log_trace("stack_uv: fault: %s frame of %zu bytes duplicated",
			  dir == FAULT_IN ? "inbound" : "outbound", len);
		(void)fault_sink(su, dir, frame, len);
	}
	return rc;
}

static int stack_uv_output(void *ud, const uint8_t *frame, size_t len)
{
	return fault_pass(ud, FAULT_OUT, frame, len);
}

static void on_tap_readable(uv_poll_t *handle, int status, int events)
{
	struct stack_uv *su = handle->data;

	if (status < 0) {
		log_err("tap: poll error: %s", uv_strerror(status));
		return;
	}
	if (!(events & UV_READABLE))
		return;
	for (int i = 0; i < TAP_READS_PER_WAKEUP; i++) {
		ssize_t n = read(su->fd, su->rxbuf, TAP_FRAME_MAX);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_err("tap: read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		(void)fault_pass(su, FAULT_IN, su->rxbuf, (size_t)n);
	}
}

static void on_timer(uv_timer_t *handle)
{
	struct stack_uv *su = handle->data;
	uint64_t now = uv_now(su->loop);

	for (int dir = FAULT_IN; dir <= FAULT_OUT; dir++)
		if (su->hold[dir].held && now >= su->hold[dir].since + FAULT_HOLD_MS)
			fault_release(su, (enum fault_dir)dir);
	/* stack_poll runs in on_prepare, later in this loop iteration. */
}

static void on_prepare(uv_prepare_t *handle)
{
	struct stack_uv *su = handle->data;
	uint64_t now = uv_now(su->loop);
	uint64_t next = stack_poll(su->st, now);

	for (int dir = FAULT_IN; dir <= FAULT_OUT; dir++)
		if (su->hold[dir].held && su->hold[dir].since + FAULT_HOLD_MS < next)
			next = su->hold[dir].since + FAULT_HOLD_MS;
	if (next == STACK_NEVER) {
		uv_timer_stop(&su->timer);
		return;
	}
	(void)uv_timer_start(&su->timer, on_timer, next > now ? next - now : 0, 0);
}

static void stack_uv_destroy(struct stack_uv *su)
{
	if (su->fd >= 0)
		close(su->fd);
	stack_free(su->st);
	free(su->rxbuf);
	free(su->hold[FAULT_IN].buf);
	free(su->hold[FAULT_OUT].buf);
	free(su);
}

int stack_uv_open(uv_loop_t *loop, const char *ifname, const struct stack_cfg *cfg,
		  struct stack_uv **out)
{
	struct stack_uv *su;
	int rc;

	*out = NULL;
	su = calloc(1, sizeof(*su));
	if (!su)
		return -ENOMEM;
	su->fd = -1;
	su->loop = loop;
	su->rxbuf = malloc(TAP_FRAME_MAX);
	su->hold[FAULT_IN].buf = malloc(TAP_FRAME_MAX);
	su->hold[FAULT_OUT].buf = malloc(TAP_FRAME_MAX);
	rc = -ENOMEM;
	if (!su->rxbuf || !su->hold[FAULT_IN].buf || !su->hold[FAULT_OUT].buf)
		goto fail;
	rc = stack_new(cfg, stack_uv_output, su, &su->st);
	if (rc < 0)
		goto fail;
	rc = tap_open(ifname, cfg->mtu);
	if (rc < 0)
		goto fail;
	su->fd = rc;
	/* Timer and prepare handles cannot fail to initialise (libuv returns 0);
	 * the poll handle can (bad fd).  Once one exists, teardown goes through
	 * uv_close and on_handle_closed. */
	rc = uv_timer_init(loop, &su->timer);
	if (rc < 0)
		goto fail;
	su->timer.data = su;
	su->has_timer = true;
	su->open_handles++;
	rc = uv_prepare_init(loop, &su->prepare);
	if (rc == 0) {
		su->prepare.data = su;
		su->has_prepare = true;
		su->open_handles++;
		rc = uv_poll_init(loop, &su->poll, su->fd);
	}
	if (rc == 0) {
		su->poll.data = su;
		su->has_poll = true;
		su->open_handles++;
		rc = uv_poll_start(&su->poll, UV_READABLE, on_tap_readable);
	}
	if (rc == 0)
		rc = uv_prepare_start(&su->prepare, on_prepare);
	if (rc < 0) {
		log_err("stack_uv: %s: %s", ifname, uv_strerror(rc));
		stack_uv_close(su, NULL, NULL);
		return rc;
	}
	rc = stack_start(su->st, uv_now(loop));
	if (rc < 0)
		log_warn("stack_uv: gratuitous ARP not sent: %d", rc);
	*out = su;
	return 0;
fail:
	stack_uv_destroy(su);
	return rc;
}

struct stack *stack_uv_stack(struct stack_uv *su)
{
	return su->st;
}

void stack_uv_set_faults(struct stack_uv *su, const struct stack_faults *faults)
{
	if (!faults) {
		su->faults_on = false;
		return;
	}
	su->faults = *faults;
	su->rng = faults->seed ? faults->seed : 0x9e3779b9u; /* xorshift needs nonzero */
	su->faults_on = faults->drop > 0 || faults->duplicate > 0 || faults->reorder > 0;
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct stack_uv *su = handle->data;
	void (*cb)(void *ud);
	void *ud;

	if (--su->open_handles > 0)
		return;
	cb = su->on_closed;
	ud = su->closed_ud;
	stack_uv_destroy(su);
	if (cb)
		cb(ud);
}

void stack_uv_close(struct stack_uv *su, void (*on_closed)(void *ud), void *ud)
{
	su->on_closed = on_closed;
	su->closed_ud = ud;
	if (su->has_poll)
		uv_close((uv_handle_t *)&su->poll, on_handle_closed);
	if (su->has_timer)
		uv_close((uv_handle_t *)&su->timer, on_handle_closed);
	if (su->has_prepare)
		uv_close((uv_handle_t *)&su->prepare, on_handle_closed);
}
