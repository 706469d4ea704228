/* net_kernel.c — the transport seam over kernel sockets, through libuv
 * (the default mode; see transport.h).
 *
 * What used to live in server.c and upstream.c, kept as it was:
 * - Listening sockets are opened here rather than by uv_*_bind so that
 *   SO_REUSEPORT (for workers sharing a port; libuv only sets SO_REUSEADDR
 *   on Linux) and IPV6_V6ONLY (so 0.0.0.0 and :: can both take a port) are
 *   set before bind(); libuv then adopts them with uv_udp_open/uv_tcp_open.
 * - UDP listeners do not go through uv_udp_t: libuv has recvmmsg but no
 *   sendmmsg, and after every batch it calls recvmmsg once more only to
 *   see EAGAIN.  A listener is a uv_poll_t on its socket instead, with its
 *   own loop (klisten_*): one recvmmsg takes up to KNET_BATCH queries,
 *   each goes to the recv callback, the replies sent from inside those
 *   callbacks are queued, and one sendmmsg sends them all.  A cache hit
 *   thus costs the kernel a share of one epoll_wait, one recvmmsg and one
 *   sendmmsg.  Replies sent at other times (resolved misses) go out at
 *   once with sendto; what the socket refuses (EAGAIN) waits in the same
 *   queue until the socket is writable.  Listeners ask for large socket
 *   buffers (KNET_LISTEN_SOCKBUF, capped by net.core.rmem_max) so that a
 *   burst arriving while the process is not scheduled is not dropped.
 * - Upstream sockets bind a source port drawn from the CSPRNG over
 *   1024-65535 (RFC 5452 section 10); a port taken by someone else costs a
 *   redraw, a bounded number of times.
 * - Sends and writes go straight to the socket when it takes them
 *   (uv_udp_try_send, uv_try_write); only what the socket refused waits,
 *   copied, in libuv's queue.
 *
 * Every other read (streams, upstream datagrams) lands in one buffer per
 * transport: libuv calls alloc, read and the read callback back to back,
 * and the callback gets the bytes only for its duration.
 *
 * Handles free themselves in their libuv close callbacks, which touch
 * nothing but the handle; a handle marked closed never calls its user
 * again (libuv still runs cancelled write callbacks before the close). */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rnd.h"

#define KNET_RBUF 65536u       /* one datagram or one read's worth */
#define KNET_BATCH 32          /* datagrams per listener recvmmsg */
#define KNET_BATCH_ROUNDS 4    /* recvmmsg calls per readable event, at most */
#define KNET_QUERY_MAX 4096    /* a larger UDP query is dropped (see klisten_read) */
#define KNET_OUT_MAX 256       /* replies queued on a listener */
#define KNET_OUT_ARENA (256u * 1024) /* their bytes (>= 2 largest datagrams) */
#define KNET_LISTEN_SOCKBUF (4 << 20)
#define KNET_PORT_MIN 1024u
#define KNET_BIND_TRIES 16
#define KNET_NAME_MAX 64       /* "[v6 address]@port" */

struct knet {
	struct net base;
	uv_loop_t *loop;
	uint8_t rbuf[KNET_RBUF];
};

union ksa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* A reply waiting for sendmmsg: its bytes are arena[off, off + len). */
struct kout {
	union ksa to;
	uint32_t off, len;
};

/* A UDP listener's batch machinery (see the head of the file). */
struct klisten {
	uv_poll_t poll;
	int fd;
	bool in_batch;     /* inside the recv callbacks of a batch */
	bool want_write;   /* the socket said EAGAIN: wait for POLLOUT */
	int filled;        /* in[] entries the last recvmmsg wrote to */
	struct mmsghdr in[KNET_BATCH];
	struct iovec iov[KNET_BATCH];
	union ksa from[KNET_BATCH];
	struct mmsghdr out[KNET_OUT_MAX];
	struct iovec oiov[KNET_OUT_MAX];
	struct kout q[KNET_OUT_MAX];
	size_t nq;         /* replies queued */
	size_t arena_used;
	uint8_t *arena;    /* KNET_OUT_ARENA bytes */
	uint8_t *rbuf;     /* KNET_BATCH slots of KNET_QUERY_MAX bytes */
};

struct kdgram {
	struct net_dgram base;
	uv_udp_t h;           /* clients (upstream sockets) */
	struct klisten *l;    /* listeners: h is not used */
	struct knet *kn;
	struct net_dgram_cbs cbs;
	void *ud;
	uint8_t *rbuf;        /* clients: kn->rbuf */
	size_t rbuf_len;
	bool closed;
	char name[KNET_NAME_MAX];
};

struct kdgram_send {
	uv_udp_send_t req;
	struct kdgram *d;
	uint8_t data[];
};

struct kstream {
	struct net_stream base;
	uv_tcp_t h;
	uv_connect_t creq;
	struct knet *kn;
	struct net_stream_cbs cbs;
	void *ud;
	bool closed;
	char name[KNET_NAME_MAX];
};

struct kstream_write {
	uv_write_t req;
	struct kstream *s;
	size_t len;
	uint8_t data[];
};

static const struct net_ops knet_ops;

/* ---- helpers ------------------------------------------------------------ */

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* "127.0.0.1@53" / "::1@53", the config file's own spelling. */
static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
	} else if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, len, "%s@%u", ip, port);
}

static int sock_on(int fd, int level, int opt)
{
	int one = 1;

	return setsockopt(fd, level, opt, &one, sizeof(one));
}

/* Large buffers for a UDP listener: the receive buffer is what absorbs a
 * burst while we are not scheduled (the default, ~200 KiB, holds a few
 * hundred small datagrams).  The kernel caps the request at rmem_max /
 * wmem_max; a failure only costs drops under bursts, so it is logged. */
static void set_sockbufs(int fd, const char *name)
{
	int size = KNET_LISTEN_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)))
		log_detail("listen %s: socket buffers: %s", name, strerror(errno));
}

/* A bound listening socket with our options, or -errno (logged with the
 * step that failed). */
static int open_bound_socket(const struct sockaddr *sa, int type, const char *name)
{
	const char *step = "socket";
	int fd, err;

	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	step = "SO_REUSEADDR";
	if (type == SOCK_STREAM && sock_on(fd, SOL_SOCKET, SO_REUSEADDR))
		goto fail;
#ifdef SO_REUSEPORT
	step = "SO_REUSEPORT";
	if (sock_on(fd, SOL_SOCKET, SO_REUSEPORT))
		goto fail;
#endif
	if (type == SOCK_DGRAM)
		set_sockbufs(fd, name);
	step = "IPV6_V6ONLY";
	if (sa->sa_family == AF_INET6 && sock_on(fd, IPPROTO_IPV6, IPV6_V6ONLY))
		goto fail;
	step = "bind";
	if (bind(fd, sa, sa_len(sa)))
		goto fail;
	return fd;
fail:
	err = errno;
	log_err("listen %s: %s: %s", name, step, strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

/* ---- datagrams ---------------------------------------------------------- */

static void kdgram_closed(uv_handle_t *h)
{
	free(h->data);
}

static void kdgram_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kdgram *d = h->data;

	*buf = uv_buf_init((char *)d->rbuf, (unsigned)d->rbuf_len);
}

static void kdgram_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *from, unsigned flags)
{
	struct kdgram *d = h->data;
	char who[KNET_NAME_MAX];

	if (d->closed)
		return;
	if (nread < 0) {
		/* Unconnected socket: nothing here proves a peer is
		 * unreachable; whoever waits for an answer has a timeout. */
		log_detail("udp %s: receive: %s", d->name, uv_strerror((int)nread));
		return;
	}
	if (!from)
		return; /* nothing (more) to read */
	if (flags & UV_UDP_PARTIAL) {
		addr_str(from, who, sizeof(who));
		log_detail("udp %s: datagram from %s larger than %zu bytes, dropped", d->name,
			   who, d->rbuf_len);
		return;
	}
	if (d->cbs.recv)
		d->cbs.recv(&d->base, (const uint8_t *)buf->base, (size_t)nread, from, d->ud);
}

/* ---- UDP listeners: recvmmsg / sendmmsg batches ------------------------- */

static void klisten_closed(uv_handle_t *h)
{
	struct kdgram *d = h->data;
	struct klisten *l = d->l;

	close(l->fd);
	free(l->rbuf);
	free(l->arena);
	free(l);
	free(d);
}

static void klisten_on_poll(uv_poll_t *h, int status, int events);

static int klisten_watch(struct kdgram *d)
{
	int events = UV_READABLE | (d->l->want_write ? UV_WRITABLE : 0);
	int r = uv_poll_start(&d->l->poll, events, klisten_on_poll);

	if (r)
		log_err("udp %s: poll: %s", d->name, uv_strerror(r));
	return r;
}

/* (Re)point out[i] at queue entry i. */
static void klisten_msg(struct klisten *l, size_t i)
{
	struct kout *o = &l->q[i];

	l->oiov[i].iov_base = l->arena + o->off;
	l->oiov[i].iov_len = o->len;
	l->out[i].msg_hdr = (struct msghdr){
		.msg_name = &o->to,
		.msg_namelen = sa_len(&o->to.sa),
		.msg_iov = &l->oiov[i],
		.msg_iovlen = 1,
	};
}

/* Forget the first n queued replies (sent or dropped).  A partial send
 * only happens when the socket is full, so moving the rest down is rare. */
static void klisten_dequeue(struct klisten *l, size_t n)
{
	size_t base;

	if (n == l->nq) {
		l->nq = 0;
		l->arena_used = 0;
		return;
	}
	if (n == 0)
		return;
	base = l->q[n].off;
	memmove(l->arena, l->arena + base, l->arena_used - base);
	l->arena_used -= base;
	memmove(l->q, l->q + n, (l->nq - n) * sizeof(l->q[0]));
	l->nq -= n;
	for (size_t i = 0; i < l->nq; i++) {
		l->q[i].off -= (uint32_t)base;
		klisten_msg(l, i);
	}
}

static void klisten_send_failed(struct kdgram *d, const struct kout *o, int err)
{
	char who[KNET_NAME_MAX];

	addr_str(&o->to.sa, who, sizeof(who));
	log_detail("udp %s: send of %u bytes to %s failed: %s", d->name, o->len, who,
		   strerror(-err));
	if (!d->closed && d->cbs.send_error)
		d->cbs.send_error(&d->base, err, d->ud);
}

/* Send the queue, in order, in as few sendmmsg calls as the socket allows.
 * sendmmsg reports an error only for its first message: that reply is
 * dropped and the rest go on; on EAGAIN the rest waits for POLLOUT. */
static void klisten_flush(struct kdgram *d)
{
	struct klisten *l = d->l;
	bool was_waiting = l->want_write;
	size_t sent = 0;

	while (sent < l->nq) {
		int r = sendmmsg(l->fd, l->out + sent, (unsigned)(l->nq - sent), 0);

		if (r > 0) {
			sent += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		klisten_send_failed(d, &l->q[sent], -errno);
		sent++;
	}
	klisten_dequeue(l, sent);
	l->want_write = l->nq > 0;
	if (l->want_write != was_waiting && !d->closed)
		klisten_watch(d);
}

/* Copy a reply into the queue; when full, send what is there first
 * (unless the socket is what holds it up). */
static int klisten_queue(struct kdgram *d, const void *data, size_t len,
			 const struct sockaddr *to)
{
	struct klisten *l = d->l;
	struct kout *o;

	if (len > KNET_RBUF)
		return -EMSGSIZE;
	if ((l->nq == KNET_OUT_MAX || KNET_OUT_ARENA - l->arena_used < len) && !l->want_write)
		klisten_flush(d);
	if (l->nq == KNET_OUT_MAX || KNET_OUT_ARENA - l->arena_used < len)
		return -ENOBUFS;
	o = &l->q[l->nq];
	if (to->sa_family == AF_INET6)
		o->to.in6 = *(const struct sockaddr_in6 *)to;
	else
		o->to.in = *(const struct sockaddr_in *)to;
	o->off = (uint32_t)l->arena_used;
	o->len = (uint32_t)len;
	memcpy(l->arena + l->arena_used, data, len);
	l->arena_used += len;
	klisten_msg(l, l->nq++);
	return 0;
}

/* Inside a batch every reply is queued for the batch's sendmmsg; behind
 * a full socket it queues too (order kept); otherwise it goes at once. */
static int klisten_send(struct kdgram *d, const void *data, size_t len,
			const struct sockaddr *to)
{
	struct klisten *l = d->l;
	ssize_t r;

	if (to->sa_family != AF_INET && to->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (l->in_batch || l->want_write)
		return klisten_queue(d, data, len, to);
	do
		r = sendto(l->fd, data, len, 0, to, sa_len(to));
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -errno;
	r = klisten_queue(d, data, len, to);
	if (r == 0) {
		l->want_write = true;
		klisten_watch(d);
	}
	return (int)r;
}

/* One received datagram to the user.  Slots are KNET_QUERY_MAX bytes: a
 * longer datagram (MSG_TRUNC) is no query a client sends (EDNS sizes are
 * what a client can receive, not what it sends) and is dropped. */
static void klisten_deliver(struct kdgram *d, size_t i)
{
	struct klisten *l = d->l;
	const struct msghdr *h = &l->in[i].msg_hdr;
	char who[KNET_NAME_MAX];

	if (h->msg_namelen < sizeof(struct sockaddr_in) ||
	    (l->from[i].sa.sa_family != AF_INET && l->from[i].sa.sa_family != AF_INET6))
		return;
	if (h->msg_flags & MSG_TRUNC) {
		addr_str(&l->from[i].sa, who, sizeof(who));
		log_detail("udp %s: datagram from %s larger than %u bytes, dropped", d->name,
			   who, KNET_QUERY_MAX);
		return;
	}
	d->cbs.recv(&d->base, l->rbuf + i * KNET_QUERY_MAX, l->in[i].msg_len, &l->from[i].sa,
		    d->ud);
}

/* Readable: a few batches at most (other handles get their turn; the
 * poll is level-triggered, so what is left wakes us again), each answered
 * with one sendmmsg.  A short batch means the socket is empty: no extra
 * recvmmsg just to hear EAGAIN. */
static void klisten_read(struct kdgram *d)
{
	struct klisten *l = d->l;

	for (int round = 0; round < KNET_BATCH_ROUNDS && !d->closed; round++) {
		int n;

		/* the kernel shortened the address lengths it wrote */
		for (int i = 0; i < l->filled; i++)
			l->in[i].msg_hdr.msg_namelen = sizeof(l->from[i]);
		n = recvmmsg(l->fd, l->in, KNET_BATCH, 0, NULL);
		l->filled = n > 0 ? n : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_detail("udp %s: receive: %s", d->name, strerror(errno));
			return;
		}
		l->in_batch = true;
		for (int i = 0; i < n && !d->closed; i++)
			klisten_deliver(d, (size_t)i);
		l->in_batch = false;
		if (l->nq && !l->want_write)
			klisten_flush(d);
		if (n < KNET_BATCH)
			return;
	}
}

/* libuv reports POLLERR as UV_EBADF and stops the handle.  An unconnected
 * UDP socket's pending error (SO_ERROR) says nothing about the next
 * client: clear it and go on listening. */
static void klisten_error(struct kdgram *d, int status)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(d->l->fd, SOL_SOCKET, SO_ERROR, &err, &len) || !err)
		err = -status;
	log_detail("udp %s: socket error: %s", d->name, strerror(err));
	klisten_watch(d);
}

static void klisten_on_poll(uv_poll_t *h, int status, int events)
{
	struct kdgram *d = h->data;

	if (d->closed)
		return;
	if (status < 0) {
		klisten_error(d, status);
		return;
	}
	if ((events & UV_WRITABLE) && d->l->want_write)
		klisten_flush(d);
	if (events & UV_READABLE)
		klisten_read(d);
}

/* A server socket: our options, its buffers, polled by libuv, read and
 * written by us.  Failures are logged here, with the step; d is freed
 * on failure. */
static int kdgram_listen(struct kdgram *d, const struct sockaddr *local)
{
	struct klisten *l = calloc(1, sizeof(*l));
	int r = UV_ENOMEM, fd = -1;

	if (!l || !(l->rbuf = malloc(KNET_BATCH * KNET_QUERY_MAX)) ||
	    !(l->arena = malloc(KNET_OUT_ARENA)))
		goto fail;
	fd = open_bound_socket(local, SOCK_DGRAM, d->name);
	if (fd < 0) {
		r = fd;
		goto fail_logged;
	}
	r = uv_poll_init_socket(d->kn->loop, &l->poll, fd);
	if (r)
		goto fail;
	l->fd = fd;
	l->poll.data = d;
	d->l = l;
	for (size_t i = 0; i < KNET_BATCH; i++) {
		l->iov[i].iov_base = l->rbuf + i * KNET_QUERY_MAX;
		l->iov[i].iov_len = KNET_QUERY_MAX;
		l->in[i].msg_hdr.msg_name = &l->from[i];
		l->in[i].msg_hdr.msg_namelen = sizeof(l->from[i]);
		l->in[i].msg_hdr.msg_iov = &l->iov[i];
		l->in[i].msg_hdr.msg_iovlen = 1;
	}
	r = klisten_watch(d);
	if (r) {
		d->closed = true;
		uv_close((uv_handle_t *)&l->poll, klisten_closed);
		return r;
	}
	log_detail("udp %s: reading with recvmmsg, answering with sendmmsg", d->name);
	return 0;
fail:
	log_err("listen udp %s: %s", d->name, uv_strerror(r));
fail_logged:
	if (fd >= 0)
		close(fd);
	if (l) {
		free(l->rbuf);
		free(l->arena);
	}
	free(l);
	free(d);
	return r;
}

/* Draw ports until one binds (or KNET_BIND_TRIES were taken). */
static int kdgram_bind_random(struct kdgram *d, const struct sockaddr *local)
{
	struct sockaddr_storage ss;
	int rc = UV_EADDRINUSE;

	for (int i = 0; i < KNET_BIND_TRIES && rc == UV_EADDRINUSE; i++) {
		uint16_t port = (uint16_t)(KNET_PORT_MIN + rnd_uniform(65536u - KNET_PORT_MIN));

		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, local, sa_len(local));
		if (local->sa_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		rc = uv_udp_bind(&d->h, (const struct sockaddr *)&ss, 0);
	}
	return rc;
}

/* A client socket: shares the transport's buffer. */
static int kdgram_client(struct kdgram *d, const struct sockaddr *local, unsigned flags)
{
	int r = uv_udp_init(d->kn->loop, &d->h);

	if (r)
		return r;
	d->h.data = d;
	d->rbuf = d->kn->rbuf;
	d->rbuf_len = KNET_RBUF;
	if (flags & NET_DGRAM_RANDOM_PORT)
		return kdgram_bind_random(d, local);
	return uv_udp_bind(&d->h, local, 0);
}

static int knet_dgram_open(struct net *n, const struct sockaddr *local, unsigned flags,
			   const struct net_dgram_cbs *cbs, void *ud, struct net_dgram **out)
{
	struct knet *kn = (struct knet *)n;
	struct kdgram *d;
	int r;

	*out = NULL;
	if (local->sa_family != AF_INET && local->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.net = n;
	d->kn = kn;
	d->cbs = *cbs;
	d->ud = ud;
	addr_str(local, d->name, sizeof(d->name));
	if (flags & NET_DGRAM_LISTEN) {
		r = kdgram_listen(d, local);
		if (r == 0)
			*out = &d->base;
		return r;
	}
	r = kdgram_client(d, local, flags);
	if (r == 0)
		r = uv_udp_recv_start(&d->h, kdgram_alloc, kdgram_recv);
	if (r == 0) {
		*out = &d->base;
		return 0;
	}
	/* Clients are logged by their caller. */
	d->closed = true;
	if (d->h.data) /* initialised: libuv must close it (and then frees d) */
		uv_close((uv_handle_t *)&d->h, kdgram_closed);
	else
		free(d);
	return r;
}

static void kdgram_send_cb(uv_udp_send_t *req, int status)
{
	struct kdgram_send *ks = (struct kdgram_send *)req;
	struct kdgram *d = ks->d;

	free(ks);
	if (d->closed || status == 0 || status == UV_ECANCELED)
		return;
	log_detail("udp %s: queued send failed: %s", d->name, uv_strerror(status));
	if (d->cbs.send_error)
		d->cbs.send_error(&d->base, status, d->ud);
}

static int knet_dgram_send(struct net_dgram *nd, const void *data, size_t len,
			   const struct sockaddr *to)
{
	struct kdgram *d = (struct kdgram *)nd;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	struct kdgram_send *ks;
	int r;

	if (d->l)
		return klisten_send(d, data, len, to);
	r = uv_udp_try_send(&d->h, &b, 1, to);
	if (r >= 0)
		return 0;
	if (r != UV_EAGAIN)
		return r;
	ks = malloc(sizeof(*ks) + len);
	if (!ks)
		return -ENOMEM;
	memcpy(ks->data, data, len);
	ks->d = d;
	b = uv_buf_init((char *)ks->data, (unsigned)len);
	r = uv_udp_send(&ks->req, &d->h, &b, 1, to, kdgram_send_cb);
	if (r)
		free(ks);
	return r;
}

static int knet_dgram_local(const struct net_dgram *nd, struct sockaddr_storage *out)
{
	const struct kdgram *d = (const struct kdgram *)nd;
	int len = sizeof(*out);

	if (d->l) {
		socklen_t slen = sizeof(*out);

		return getsockname(d->l->fd, (struct sockaddr *)out, &slen) ? -errno : 0;
	}
	return uv_udp_getsockname(&d->h, (struct sockaddr *)out, &len);
}

static void knet_dgram_close(struct net_dgram *nd)
{
	struct kdgram *d = (struct kdgram *)nd;

	if (d->closed)
		return;
	d->closed = true;
	if (d->l)
		uv_close((uv_handle_t *)&d->l->poll, klisten_closed);
	else
		uv_close((uv_handle_t *)&d->h, kdgram_closed);
}

/* ---- streams ------------------------------------------------------------- */

static void kstream_closed(uv_handle_t *h)
{
	free(h->data);
}

static struct kstream *kstream_new(struct knet *kn, const struct net_stream_cbs *cbs, void *ud)
{
	struct kstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.net = &kn->base;
	s->kn = kn;
	s->cbs = *cbs;
	s->ud = ud;
	return s;
}

static void kstream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kstream *s = h->data;

	*buf = uv_buf_init((char *)s->kn->rbuf, KNET_RBUF);
}

static void kstream_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct kstream *s = h->data;

	if (nread == 0 || s->closed)
		return; /* EAGAIN */
	if (nread == UV_EOF) {
		uv_read_stop(h);
		nread = 0;
	} else if (nread < 0) {
		uv_read_stop(h);
	}
	if (s->cbs.read)
		s->cbs.read(&s->base, nread > 0 ? (const uint8_t *)buf->base : NULL, nread, s->ud);
}

static void kstream_on_connection(uv_stream_t *lh, int status)
{
	struct kstream *l = lh->data;
	struct kstream *c;
	int r;

	if (l->closed)
		return;
	if (status < 0) {
		log_err("tcp %s: accept: %s", l->name, uv_strerror(status));
		return;
	}
	c = kstream_new(l->kn, &l->cbs, l->ud);
	if (!c || uv_tcp_init(l->kn->loop, &c->h)) {
		log_err("tcp %s: out of memory for a connection", l->name);
		free(c);
		return;
	}
	c->h.data = c;
	r = uv_accept(lh, (uv_stream_t *)&c->h);
	if (r == 0) {
		struct sockaddr_storage peer;
		int len = sizeof(peer);

		if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&peer, &len) == 0)
			addr_str((struct sockaddr *)&peer, c->name, sizeof(c->name));
		r = uv_read_start((uv_stream_t *)&c->h, kstream_alloc, kstream_read);
	}
	if (r) {
		log_err("tcp %s: accept: %s", l->name, uv_strerror(r));
		c->closed = true;
		uv_close((uv_handle_t *)&c->h, kstream_closed);
		return;
	}
	if (l->cbs.accept)
		l->cbs.accept(&l->base, &c->base, l->ud);
}

static int knet_stream_listen(struct net *n, const struct sockaddr *local, int backlog,
			      const struct net_stream_cbs *cbs, void *ud, struct net_stream **out)
{
	struct knet *kn = (struct knet *)n;
	struct kstream *s;
	int fd, r;

	*out = NULL;
	s = kstream_new(kn, cbs, ud);
	if (!s)
		return -ENOMEM;
	addr_str(local, s->name, sizeof(s->name));
	fd = open_bound_socket(local, SOCK_STREAM, s->name);
	if (fd < 0) {
		free(s);
		return fd;
	}
	r = uv_tcp_init_ex(kn->loop, &s->h, AF_UNSPEC);
	if (r) {
		close(fd);
		free(s);
		return r;
	}
	s->h.data = s;
	r = uv_tcp_open(&s->h, fd);
	if (r)
		close(fd);
	else
		r = uv_listen((uv_stream_t *)&s->h, backlog, kstream_on_connection);
	if (r) {
		log_err("listen tcp %s: %s", s->name, uv_strerror(r));
		s->closed = true;
		uv_close((uv_handle_t *)&s->h, kstream_closed);
		return r;
	}
	*out = &s->base;
	return 0;
}

static void kstream_connect_cb(uv_connect_t *req, int status)
{
	struct kstream *s = req->data;

	if (s->closed || status == UV_ECANCELED)
		return;
	if (status == 0)
		status = uv_read_start((uv_stream_t *)&s->h, kstream_alloc, kstream_read);
	if (s->cbs.connected)
		s->cbs.connected(&s->base, status, s->ud);
}

static int knet_stream_connect(struct net *n, const struct sockaddr *to,
			       const struct net_stream_cbs *cbs, void *ud, struct net_stream **out)
{
	struct knet *kn = (struct knet *)n;
	struct kstream *s;
	int r;

	*out = NULL;
	s = kstream_new(kn, cbs, ud);
	if (!s)
		return -ENOMEM;
	addr_str(to, s->name, sizeof(s->name));
	r = uv_tcp_init(kn->loop, &s->h);
	if (r) {
		free(s);
		return r;
	}
	s->h.data = s;
	s->creq.data = s;
	r = uv_tcp_connect(&s->creq, &s->h, to, kstream_connect_cb);
	if (r) {
		s->closed = true;
		uv_close((uv_handle_t *)&s->h, kstream_closed);
		return r;
	}
	*out = &s->base;
	return 0;
}

static void knet_stream_set_ud(struct net_stream *ns, void *ud)
{
	((struct kstream *)ns)->ud = ud;
}

static int knet_stream_peer(const struct net_stream *ns, struct sockaddr_storage *out)
{
	const struct kstream *s = (const struct kstream *)ns;
	int len = sizeof(*out);

	return uv_tcp_getpeername(&s->h, (struct sockaddr *)out, &len);
}

static void kstream_write_cb(uv_write_t *req, int status)
{
	struct kstream_write *w = (struct kstream_write *)req;
	struct kstream *s = w->s;
	size_t len = w->len;

	free(w);
	if (s->closed || status == UV_ECANCELED)
		return;
	if (s->cbs.written)
		s->cbs.written(&s->base, len, status, s->ud);
}

/* Copy what uv_try_write did not take (skip bytes of the buffers) into one
 * queued write. */
static ssize_t kstream_queue(struct kstream *s, const struct iovec *iov, int iovcnt,
			     size_t total, size_t skip)
{
	struct kstream_write *w = malloc(sizeof(*w) + (total - skip));
	size_t at = 0;
	uv_buf_t b;
	int r;

	if (!w)
		return -ENOMEM;
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;
		const uint8_t *p = iov[i].iov_base;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(w->data + at, p + skip, len - skip);
		at += len - skip;
		skip = 0;
	}
	w->s = s;
	w->len = at;
	b = uv_buf_init((char *)w->data, (unsigned)at);
	r = uv_write(&w->req, (uv_stream_t *)&s->h, &b, 1, kstream_write_cb);
	if (r) {
		free(w);
		return r;
	}
	return (ssize_t)at;
}

#define KSTREAM_IOV_MAX 8

static ssize_t knet_stream_write(struct net_stream *ns, const struct iovec *iov, int iovcnt)
{
	struct kstream *s = (struct kstream *)ns;
	uv_buf_t bufs[KSTREAM_IOV_MAX];
	size_t total = 0;
	int r;

	if (s->closed)
		return -EPIPE;
	if (iovcnt < 1 || iovcnt > KSTREAM_IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		bufs[i] = uv_buf_init(iov[i].iov_base, (unsigned)iov[i].iov_len);
		total += iov[i].iov_len;
	}
	r = uv_try_write((uv_stream_t *)&s->h, bufs, (unsigned)iovcnt);
	if (r >= 0 && (size_t)r == total)
		return 0;
	if (r < 0 && r != UV_EAGAIN)
		return r;
	return kstream_queue(s, iov, iovcnt, total, r < 0 ? 0 : (size_t)r);
}

static void knet_stream_close(struct net_stream *ns)
{
	struct kstream *s = (struct kstream *)ns;

	if (s->closed)
		return;
	s->closed = true;
	uv_close((uv_handle_t *)&s->h, kstream_closed);
}

/* ---- the transport -------------------------------------------------------- */

static int knet_bind_addr(struct net *n, const struct sockaddr *want,
			  struct sockaddr_storage *out)
{
	if (want->sa_family != AF_INET && want->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(out, 0, sizeof(*out));
	memcpy(out, want, sa_len(want));
	return 0;
}

static void knet_close(struct net *n, void (*on_closed)(void *ud), void *ud)
{
	if (on_closed)
		on_closed(ud);
}

static void knet_free(struct net *n)
{
	free(n);
}

static const struct net_ops knet_ops = {
	.name = "kernel",
	.bind_addr = knet_bind_addr,
	.dgram_open = knet_dgram_open,
	.dgram_send = knet_dgram_send,
	.dgram_local = knet_dgram_local,
	.dgram_close = knet_dgram_close,
	.stream_listen = knet_stream_listen,
	.stream_connect = knet_stream_connect,
	.stream_set_ud = knet_stream_set_ud,
	.stream_peer = knet_stream_peer,
	.stream_write = knet_stream_write,
	.stream_close = knet_stream_close,
	.close = knet_close,
	.free = knet_free,
};

struct net *net_kernel_new(uv_loop_t *loop)
{
	struct knet *kn = calloc(1, sizeof(*kn));

	if (!kn)
		return NULL;
	kn->base.ops = &knet_ops;
	kn->loop = loop;
	return &kn->base;
}
