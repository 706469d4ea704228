/* transport.h — the transport seam: how the server and upstream modules
 * move bytes, whichever network is underneath.
 *
 * One small interface, two implementations picked at start-up (as Redis's
 * ae.c picks epoll or kqueue, and Knot Resolver's cache its kr_cdb_api):
 *   - net_kernel.c: kernel sockets through libuv (the default);
 *   - net_raw.c: rootwalk's own TCP/IP stack on a TAP device (mode: raw),
 *     driven by the same libuv loop (stack_uv).
 * server.c and upstream.c speak only this interface, so everything they
 * do (UDP and TCP clients, TCP fallback upstream, random ports, timeouts)
 * works the same in both modes.  Timers stay libuv timers in both: the
 * loop is the same, only the bytes travel differently.
 *
 * Handles are opaque (struct net_dgram, struct net_stream).  The rules
 * every implementation keeps, and callers rely on:
 *   - Callbacks run from the loop, never from inside the call that
 *     created the handle or sent the data.
 *   - After *_close() no callback is called for that handle any more;
 *     close may be called from inside one of the handle's own callbacks.
 *     The implementation frees the handle's memory when it is safe.
 *   - Data handed to a callback is valid during the call only.
 *   - Writes and sends copy what they cannot hand over at once.
 *   - Errors are -errno (libuv's codes are the same numbers on Linux).
 *   - Every handle is closed before net_free().
 *
 * Addresses are struct sockaddr (AF_INET/AF_INET6, network byte order), as
 * the rest of the daemon keeps them. */
#ifndef RW_TRANSPORT_H
#define RW_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

#include "config.h"

struct net;
struct net_dgram;
struct net_stream;
struct stack;

/* ---- callbacks ---------------------------------------------------------- */

struct net_dgram_cbs {
	/* One datagram from `from`. */
	void (*recv)(struct net_dgram *d, const uint8_t *data, size_t len,
		     const struct sockaddr *from, void *ud);
	/* A send that could not go out at once (and was queued) failed later.
	 * May be NULL. */
	void (*send_error)(struct net_dgram *d, int err, void *ud);
};

/* Any may be NULL.
 *  accept:    (listeners) a new connection; it starts with the listener's
 *             callbacks and ud, and is already reading.  Change its ud
 *             with net_stream_set_ud() or close it.
 *  connected: an active open finished: status 0, or -errno (then close it).
 *  read:      nread > 0: data; 0: the peer closed its side (EOF); < 0:
 *             -errno, the connection is gone.  After EOF or an error no
 *             more reads come; close the stream.
 *  written:   a write that had to queue `len` bytes finished handing them
 *             over: status 0, or -errno. */
struct net_stream_cbs {
	void (*accept)(struct net_stream *listener, struct net_stream *conn, void *ud);
	void (*connected)(struct net_stream *s, int status, void *ud);
	void (*read)(struct net_stream *s, const uint8_t *data, ssize_t nread, void *ud);
	void (*written)(struct net_stream *s, size_t len, int status, void *ud);
};

/* net_dgram_open() flags. */
#define NET_DGRAM_LISTEN 0x1u      /* a server socket: shareable port, big batched reads */
#define NET_DGRAM_RANDOM_PORT 0x2u /* bind a port drawn from rnd.h (RFC 5452) */

/* ---- the table ------------------------------------------------------------ */

struct net_ops {
	const char *name; /* "kernel", "raw" */
	/* Where a configured listen address really binds (0, *out set), or
	 * -errno when this transport cannot serve it (raw mode: IPv6). */
	int (*bind_addr)(struct net *n, const struct sockaddr *want, struct sockaddr_storage *out);
	int (*dgram_open)(struct net *n, const struct sockaddr *local, unsigned flags,
			  const struct net_dgram_cbs *cbs, void *ud, struct net_dgram **out);
	int (*dgram_send)(struct net_dgram *d, const void *data, size_t len,
			  const struct sockaddr *to);
	int (*dgram_local)(const struct net_dgram *d, struct sockaddr_storage *out);
	void (*dgram_close)(struct net_dgram *d);
	int (*stream_listen)(struct net *n, const struct sockaddr *local, int backlog,
			     const struct net_stream_cbs *cbs, void *ud, struct net_stream **out);
	int (*stream_connect)(struct net *n, const struct sockaddr *to,
			      const struct net_stream_cbs *cbs, void *ud, struct net_stream **out);
	void (*stream_set_ud)(struct net_stream *s, void *ud);
	int (*stream_peer)(const struct net_stream *s, struct sockaddr_storage *out);
	ssize_t (*stream_write)(struct net_stream *s, const struct iovec *iov, int iovcnt);
	void (*stream_close)(struct net_stream *s);
	void (*close)(struct net *n, void (*on_closed)(void *ud), void *ud);
	void (*free)(struct net *n);
};

/* Every implementation's structs start with these, so that the calls
 * below find the table; nothing else in them is public. */
struct net {
	const struct net_ops *ops;
};

struct net_dgram {
	struct net *net;
};

struct net_stream {
	struct net *net;
};

/* ---- implementations ------------------------------------------------------- */

/* Kernel sockets on loop.  NULL when out of memory. */
struct net *net_kernel_new(uv_loop_t *loop);

/* Raw mode: opens (creating if absent) cfg->raw_interface and runs the
 * stack on it in loop, with the raw-* settings of cfg.  Test-only fault
 * injection at the TAP boundary comes from the environment variable
 * ROOTWALK_RAW_FAULTS (README, "Raw mode").  0, or -errno after logging
 * why. */
int net_raw_open(uv_loop_t *loop, const struct config *cfg, struct net **out);
/* A raw transport over a stack the caller drives and frees afterwards
 * (unit tests); addr is the stack's address, host byte order. */
struct net *net_raw_wrap(uv_loop_t *loop, struct stack *st, uint32_t addr);

/* What the control socket shows of a raw transport. */
struct net_raw_info {
	const char *ifname;      /* "" for a wrapped stack */
	uint32_t addr, gateway;  /* host byte order */
	uint8_t prefix_len;
	unsigned mtu;
	bool faults;             /* fault injection on (tests) */
	struct stack *st;
};

/* false (and *out untouched) for a transport that is not raw. */
bool net_raw_get_info(const struct net *n, struct net_raw_info *out);

/* ---- calls ------------------------------------------------------------------ */

static inline const char *net_name(const struct net *n)
{
	return n->ops->name;
}

static inline int net_bind_addr(struct net *n, const struct sockaddr *want,
				struct sockaddr_storage *out)
{
	return n->ops->bind_addr(n, want, out);
}

/* A datagram socket bound to local (its port, or a random one with
 * NET_DGRAM_RANDOM_PORT; then only local's family and address count). */
static inline int net_dgram_open(struct net *n, const struct sockaddr *local, unsigned flags,
				 const struct net_dgram_cbs *cbs, void *ud,
				 struct net_dgram **out)
{
	return n->ops->dgram_open(n, local, flags, cbs, ud, out);
}

/* 0 when sent or queued (a later failure goes to send_error), else -errno.
 * A send made on a listener from inside its recv callback may be held
 * until the callback returns: kernel mode reads a listener's datagrams in
 * batches (recvmmsg) and sends the replies made during a batch together
 * (sendmmsg) when the batch ends, still from the same loop turn. */
static inline int net_dgram_send(struct net_dgram *d, const void *data, size_t len,
				 const struct sockaddr *to)
{
	return d->net->ops->dgram_send(d, data, len, to);
}

static inline int net_dgram_local(const struct net_dgram *d, struct sockaddr_storage *out)
{
	return d->net->ops->dgram_local(d, out);
}

static inline void net_dgram_close(struct net_dgram *d)
{
	d->net->ops->dgram_close(d);
}

static inline int net_stream_listen(struct net *n, const struct sockaddr *local, int backlog,
				    const struct net_stream_cbs *cbs, void *ud,
				    struct net_stream **out)
{
	return n->ops->stream_listen(n, local, backlog, cbs, ud, out);
}

/* Starts an active open from a random local port; `connected` follows.
 * An error returned here means no handle was made. */
static inline int net_stream_connect(struct net *n, const struct sockaddr *to,
				     const struct net_stream_cbs *cbs, void *ud,
				     struct net_stream **out)
{
	return n->ops->stream_connect(n, to, cbs, ud, out);
}

static inline void net_stream_set_ud(struct net_stream *s, void *ud)
{
	s->net->ops->stream_set_ud(s, ud);
}

static inline int net_stream_peer(const struct net_stream *s, struct sockaddr_storage *out)
{
	return s->net->ops->stream_peer(s, out);
}

/* Writes the buffers in order.  Returns how many bytes had to be queued
 * (0: all handed over, no `written` callback; > 0: `written` reports them
 * later), or -errno when nothing more can be written. */
static inline ssize_t net_stream_write(struct net_stream *s, const struct iovec *iov,
				       int iovcnt)
{
	return s->net->ops->stream_write(s, iov, iovcnt);
}

/* Releases the handle: queued writes are dropped, the connection closes
 * (FIN) on its own, a listener stops listening. */
static inline void net_stream_close(struct net_stream *s)
{
	s->net->ops->stream_close(s);
}

/* Teardown, after every handle is closed.  net_close() stops what the
 * transport itself runs on the loop (raw: the TAP poll and the stack's
 * timer) and calls on_closed (may be NULL) once those have closed, from
 * the loop; kernel mode has nothing to stop and calls it at once.
 * net_free() releases the transport; a raw one not closed yet is closed
 * first and its memory goes once the loop has run. */
static inline void net_close(struct net *n, void (*on_closed)(void *ud), void *ud)
{
	n->ops->close(n, on_closed, ud);
}

static inline void net_free(struct net *n)
{
	if (n)
		n->ops->free(n);
}

#endif
