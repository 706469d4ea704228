/* server.c — the client-facing listeners (see server.h).
 *
 * One UDP and one TCP socket per configured address.  The sockets are
 * opened here rather than by uv_*_bind so that SO_REUSEPORT (for workers
 * sharing a port; libuv only sets SO_REUSEADDR on Linux) and IPV6_V6ONLY
 * (so 0.0.0.0 and :: can both take a port) are set before bind(); libuv
 * then adopts them with uv_udp_open/uv_tcp_open.  UDP reads use recvmmsg
 * when libuv offers it, into one buffer per listener that lives as long
 * as the listener.
 *
 * Every message, datagram or TCP frame, takes the same path: ACL (deny:
 * drop; refuse: REFUSED), msg_parse_query, errors answered here, and a
 * valid query goes to the callback with a server_client from a free list.
 *
 * TCP (RFC 7766): each connection has a read buffer that grows with what
 * the client actually sends (up to one 65535-byte message), frames are
 * taken out as they complete, several can be in flight, and answers go
 * out as they finish, each with its length prefix.  The idle timer runs
 * only while no query is pending and restarts after each message.
 *
 * Lifetimes: a connection is refcounted (its handles + one per query in
 * flight), so a client stays valid after its connection died and its
 * reply is then discarded.  Memory goes once every libuv handle has
 * reported its close and server_free() was called, in either order:
 * server_stop(); run the loop; server_free() — or server_stop();
 * server_free(); run the loop (the last close callback frees). */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define UDP_CHUNK 65536       /* libuv slices a recvmmsg buffer in 64 KiB */
#define UDP_MMSG_CHUNKS 8     /* datagrams per recvmmsg call */
#define TCP_BACKLOG 256
#define TCP_RBUF_INIT 4096
#define TCP_RBUF_MAX (2 + MSG_MAX_TCP)
#define TCP_WQUEUE_MAX (256 * 1024) /* a client that reads slower is cut */
#define CLIENT_POOL_MAX 1024  /* released clients kept for reuse */
#define ERR_WIRE_MAX 512      /* header + question + OPT always fit */
#define ADDR_STR_MAX 64       /* "[v6 address]@port" */

struct udp_listener {
	uv_udp_t h;
	struct server *s;
	uint8_t *rbuf;
	size_t rbuf_len;
	bool open; /* handle initialised: it must be closed */
	char name[ADDR_STR_MAX];
};

struct tcp_listener {
	uv_tcp_t h;
	struct server *s;
	bool open;
	char name[ADDR_STR_MAX];
};

struct tcp_conn {
	uv_tcp_t h;
	uv_timer_t idle;
	struct server *s;
	struct tcp_conn *prev, *next; /* s->conns: every conn not yet freed */
	struct sockaddr_storage peer;
	char name[ADDR_STR_MAX];
	enum acl_action acl;
	uint8_t *rbuf;
	size_t rlen, rcap;
	size_t wqueued;   /* bytes handed to uv_write, not yet written */
	unsigned refs;    /* 1 until both handles closed, +1 per pending client */
	unsigned pending; /* queries given to the callback, not answered */
	unsigned closes;  /* close callbacks still due (handle, timer) */
	bool counted;     /* counted in tcp_open */
	bool closing;
	bool eof;         /* client sent FIN: answer what is pending, then close */
};

struct server_client {
	struct server *s;
	struct server_client *prev, *next; /* s->busy, or s->free (next only) */
	struct udp_listener *ul;
	struct tcp_conn *conn;
	struct sockaddr_storage peer;
};

/* Where a message came from and where its answer goes. */
struct origin {
	struct udp_listener *ul;
	struct tcp_conn *conn;
	const struct sockaddr *peer;
};

struct udp_send {
	uv_udp_send_t req;
	uint8_t data[];
};

struct tcp_write {
	uv_write_t req;
	struct tcp_conn *conn;
	size_t len;
	uint8_t data[];
};

struct server {
	uv_loop_t *loop;
	const struct config *cfg;
	server_query_fn fn;
	void *ud;
	struct udp_listener *udp; /* n_listen of each */
	struct tcp_listener *tcp;
	size_t n_listen;
	struct tcp_conn *conns;
	struct server_client *busy, *free;
	size_t n_free;
	size_t handles; /* initialised handles whose close callback is due */
	struct server_stats st;
	bool started, stopped, freed;
};

static void server_maybe_destroy(struct server *s);

/* ---- small helpers ---------------------------------------------------- */

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

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, len, "%s@%u", ip, port);
}

static void count_error(struct server *s, uint16_t rcode)
{
	switch (rcode) {
	case LDNS_RCODE_FORMERR: s->st.formerr++; break;
	case LDNS_RCODE_NOTIMPL: s->st.notimp++; break;
	case LDNS_RCODE_REFUSED: s->st.refused++; break;
	case 16: s->st.badvers++; break;
	default: break;
	}
}

static void count_reply(struct server *s, const uint8_t *wire, size_t len)
{
	s->st.replies++;
	if (len > 2 && (wire[2] & 0x02))
		s->st.truncated++;
}

/* ---- sockets ---------------------------------------------------------- */

static int sock_on(int fd, int level, int opt)
{
	int one = 1;
	return setsockopt(fd, level, opt, &one, sizeof(one));
}

/* A bound socket with our options, or -errno (logged with the step). */
static int open_bound_socket(const struct cfg_listen *l, int type, const char *name)
{
	int family = l->addr.ss_family;
	const char *step = "socket";
	int fd, err;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	step = "IPV6_V6ONLY";
	if (family == AF_INET6 && sock_on(fd, IPPROTO_IPV6, IPV6_V6ONLY))
		goto fail;
	step = "bind";
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen))
		goto fail;
	return fd;
fail:
	err = errno;
	log_err("listen %s: %s: %s", name, step, strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

/* ---- sending ---------------------------------------------------------- */

static void udp_send_cb(uv_udp_send_t *req, int status)
{
	struct udp_send *us = (struct udp_send *)req;

	if (status < 0 && status != UV_ECANCELED) {
		struct udp_listener *ul = req->handle->data;
		log_detail("udp %s: queued send failed: %s", ul->name, uv_strerror(status));
	}
	free(us);
}

/* Straight to the socket when it takes it; a copy waits in libuv's queue
 * only when the socket is full (EAGAIN). */
static int udp_send(struct udp_listener *ul, const struct sockaddr *peer,
		    const uint8_t *wire, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)wire, (unsigned)len);
	char who[ADDR_STR_MAX];
	int r = uv_udp_try_send(&ul->h, &b, 1, peer);

	if (r >= 0)
		return 0;
	if (r == UV_EAGAIN) {
		struct udp_send *us = malloc(sizeof(*us) + len);
		if (!us) {
			r = UV_ENOMEM;
		} else {
			memcpy(us->data, wire, len);
			b = uv_buf_init((char *)us->data, (unsigned)len);
			r = uv_udp_send(&us->req, &ul->h, &b, 1, peer, udp_send_cb);
			if (r == 0)
				return 0;
			free(us);
		}
	}
	addr_str(peer, who, sizeof(who));
	log_detail("udp %s: send to %s failed: %s", ul->name, who, uv_strerror(r));
	return r;
}

static void conn_close(struct tcp_conn *c);
static void conn_maybe_finish(struct tcp_conn *c);

static void conn_write_cb(uv_write_t *req, int status)
{
	struct tcp_write *tw = (struct tcp_write *)req;
	struct tcp_conn *c = tw->conn;

	c->wqueued -= tw->len;
	free(tw);
	if (status < 0) {
		if (status != UV_ECANCELED) {
			log_detail("tcp %s: write: %s", c->name, uv_strerror(status));
			conn_close(c);
		}
		return;
	}
	conn_maybe_finish(c);
}

/* Queue the part of a framed message that uv_try_write did not take.
 * A client that lets more than TCP_WQUEUE_MAX pile up is not reading:
 * it loses the connection rather than our memory. */
static int conn_queue(struct tcp_conn *c, const uint8_t *pfx, const uint8_t *wire,
		      size_t len, size_t done)
{
	size_t total = len + 2, rest = total - done;
	struct tcp_write *tw;
	int r;

	if (c->wqueued + rest > TCP_WQUEUE_MAX) {
		log_detail("tcp %s: client not reading (%zu bytes queued), closing", c->name,
			   c->wqueued);
		c->s->st.tcp_slow_closed++;
		conn_close(c);
		return UV_ENOBUFS;
	}
	tw = malloc(sizeof(*tw) + rest);
	if (!tw) {
		log_err("tcp %s: out of memory queueing a reply, closing", c->name);
		conn_close(c);
		return UV_ENOMEM;
	}
	size_t at = 0, woff = done > 2 ? done - 2 : 0;
	if (done < 2) {
		memcpy(tw->data, pfx + done, 2 - done);
		at = 2 - done;
	}
	memcpy(tw->data + at, wire + woff, len - woff);
	tw->conn = c;
	tw->len = rest;
	uv_buf_t b = uv_buf_init((char *)tw->data, (unsigned)rest);
	r = uv_write(&tw->req, (uv_stream_t *)&c->h, &b, 1, conn_write_cb);
	if (r) {
		free(tw);
		log_detail("tcp %s: write: %s", c->name, uv_strerror(r));
		conn_close(c);
		return r;
	}
	c->wqueued += rest;
	return 0;
}

static int conn_send(struct tcp_conn *c, const uint8_t *wire, size_t len)
{
	uint8_t pfx[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	uv_buf_t bufs[2] = { uv_buf_init((char *)pfx, 2), uv_buf_init((char *)wire, (unsigned)len) };
	int r;

	if (len > MSG_MAX_TCP) {
		log_err("tcp %s: reply of %zu bytes cannot be framed, dropped", c->name, len);
		return UV_EMSGSIZE;
	}
	r = uv_try_write((uv_stream_t *)&c->h, bufs, 2);
	if (r == (int)len + 2)
		return 0;
	if (r < 0 && r != UV_EAGAIN) {
		log_detail("tcp %s: write: %s", c->name, uv_strerror(r));
		conn_close(c);
		return r;
	}
	return conn_queue(c, pfx, wire, len, r < 0 ? 0 : (size_t)r);
}

static bool origin_alive(const struct server *s, const struct origin *o)
{
	if (s->stopped)
		return false;
	return o->conn ? !o->conn->closing : true;
}

static void send_to(struct server *s, const struct origin *o, const uint8_t *wire, size_t len)
{
	int r = o->conn ? conn_send(o->conn, wire, len) : udp_send(o->ul, o->peer, wire, len);

	if (r == 0)
		count_reply(s, wire, len);
}

static void answer_error(struct server *s, const struct origin *o, const struct msg_query *q,
			 uint16_t rcode)
{
	uint8_t wire[ERR_WIRE_MAX];
	size_t n = msg_build_error(q, rcode, wire, sizeof(wire));

	if (!n) {
		char who[ADDR_STR_MAX];
		addr_str(o->peer, who, sizeof(who));
		log_err("%s: could not build rcode %u reply", who, rcode);
		return;
	}
	send_to(s, o, wire, n);
}

/* ---- clients ---------------------------------------------------------- */

static struct server_client *client_get(struct server *s)
{
	struct server_client *c = s->free;

	if (c) {
		s->free = c->next;
		s->n_free--;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->next = s->busy;
	if (s->busy)
		s->busy->prev = c;
	s->busy = c;
	return c;
}

static void conn_unref(struct tcp_conn *c);
static void conn_arm_idle(struct tcp_conn *c);

static void client_release(struct server_client *c)
{
	struct server *s = c->s;
	struct tcp_conn *conn = c->conn;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->busy = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (s->n_free < CLIENT_POOL_MAX) {
		c->next = s->free;
		s->free = c;
		s->n_free++;
	} else {
		free(c);
	}
	if (conn) {
		conn->pending--;
		conn_arm_idle(conn);
		conn_maybe_finish(conn);
		conn_unref(conn);
	}
	server_maybe_destroy(s);
}

static struct origin client_origin(const struct server_client *c)
{
	struct origin o = { c->ul, c->conn, (const struct sockaddr *)&c->peer };
	return o;
}

/* ---- the path every message takes ------------------------------------- */

static void dispatch(struct server *s, const struct origin *o, const struct msg_query *q)
{
	struct server_client *c = client_get(s);

	if (!c) {
		char who[ADDR_STR_MAX];
		addr_str(o->peer, who, sizeof(who));
		log_err("%s: out of memory for a client, SERVFAIL", who);
		answer_error(s, o, q, LDNS_RCODE_SERVFAIL);
		return;
	}
	c->ul = o->ul;
	c->conn = o->conn;
	memcpy(&c->peer, o->peer, sa_len(o->peer));
	if (c->conn) {
		c->conn->refs++;
		c->conn->pending++;
	}
	s->fn(s->ud, c, q);
}

/* ACL first (a denied client costs us nothing more), then the parser.  A
 * refused client gets REFUSED only if its packet is at least a query we
 * could answer; garbage from it is dropped like anyone's. */
static void handle_message(struct server *s, const struct origin *o, const uint8_t *pkt,
			   size_t len)
{
	enum acl_action acl = o->conn ? o->conn->acl : config_acl_check(s->cfg, o->peer);
	struct msg_query q;
	uint16_t rcode;
	enum msg_verdict v;
	char who[ADDR_STR_MAX];

	if (acl == ACL_DENY) {
		s->st.acl_denied++;
		return;
	}
	v = msg_parse_query(pkt, len, &q, &rcode);
	if (v == MSG_DROP) {
		s->st.dropped++;
		if (log_get_verbosity() >= LOGL_QUERY) {
			addr_str(o->peer, who, sizeof(who));
			log_query("%s: not a query (%zu bytes), dropped", who, len);
		}
		return;
	}
	if (acl == ACL_REFUSE) {
		s->st.acl_refused++;
		answer_error(s, o, &q, LDNS_RCODE_REFUSED);
		return;
	}
	if (v == MSG_ERROR) {
		count_error(s, rcode);
		if (log_get_verbosity() >= LOGL_QUERY) {
			addr_str(o->peer, who, sizeof(who));
			log_query("%s: malformed or unsupported query, rcode %u", who, rcode);
		}
		answer_error(s, o, &q, rcode);
		return;
	}
	dispatch(s, o, &q);
}

/* ---- UDP -------------------------------------------------------------- */

static void udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct udp_listener *ul = h->data;

	buf->base = (char *)ul->rbuf;
	buf->len = ul->rbuf_len;
}

static void udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct udp_listener *ul = h->data;
	struct server *s = ul->s;

	if (flags & UV_UDP_MMSG_FREE)
		return; /* the buffer is the listener's, nothing to free */
	if (nread < 0) {
		log_detail("udp %s: receive: %s", ul->name, uv_strerror((int)nread));
		return;
	}
	if (!addr)
		return; /* nothing (more) to read */
	s->st.udp_queries++;
	if (flags & UV_UDP_PARTIAL) {
		s->st.dropped++;
		return;
	}
	struct origin o = { ul, NULL, addr };
	handle_message(s, &o, (const uint8_t *)buf->base, (size_t)nread);
}

static void udp_listener_closed(uv_handle_t *h)
{
	struct udp_listener *ul = h->data;
	struct server *s = ul->s;

	s->handles--;
	server_maybe_destroy(s);
}

static int udp_listener_start(struct server *s, struct udp_listener *ul,
			      const struct cfg_listen *l)
{
	int fd = open_bound_socket(l, SOCK_DGRAM, ul->name);
	int r;

	if (fd < 0)
		return fd;
	r = uv_udp_init_ex(s->loop, &ul->h, AF_UNSPEC | UV_UDP_RECVMMSG);
	if (r) {
		close(fd);
		goto fail;
	}
	ul->h.data = ul;
	ul->open = true;
	s->handles++;
	r = uv_udp_open(&ul->h, fd);
	if (r) {
		close(fd);
		goto fail;
	}
	ul->rbuf_len = uv_udp_using_recvmmsg(&ul->h) ? UDP_MMSG_CHUNKS * UDP_CHUNK : UDP_CHUNK;
	ul->rbuf = malloc(ul->rbuf_len);
	if (!ul->rbuf) {
		r = UV_ENOMEM;
		goto fail;
	}
	r = uv_udp_recv_start(&ul->h, udp_alloc_cb, udp_recv_cb);
	if (r)
		goto fail;
	return 0;
fail:
	log_err("listen udp %s: %s", ul->name, uv_strerror(r));
	return r;
}

/* ---- TCP connections -------------------------------------------------- */

static void conn_free(struct tcp_conn *c)
{
	free(c->rbuf);
	free(c);
}

static void conn_unref(struct tcp_conn *c)
{
	struct server *s = c->s;

	if (--c->refs)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	conn_free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	struct server *s = c->s;

	s->handles--;
	if (--c->closes == 0)
		conn_unref(c);
	server_maybe_destroy(s);
}

/* Close both handles; pending clients keep the struct alive, and their
 * replies are discarded. */
static void conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->counted)
		c->s->st.tcp_open--;
	uv_close((uv_handle_t *)&c->h, conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void conn_idle_cb(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;

	if (c->pending)
		return;
	log_detail("tcp %s: idle, closing", c->name);
	c->s->st.tcp_idle_closed++;
	conn_close(c);
}

/* The idle clock runs only while nothing is pending; every call restarts
 * it, which is what "resets on each message" needs. */
static void conn_arm_idle(struct tcp_conn *c)
{
	if (c->closing)
		return;
	if (c->pending)
		uv_timer_stop(&c->idle);
	else
		uv_timer_start(&c->idle, conn_idle_cb, c->s->cfg->tcp_idle_timeout_ms, 0);
}

/* After the client's FIN: close once every answer is out. */
static void conn_maybe_finish(struct tcp_conn *c)
{
	if (!c->closing && c->eof && !c->pending && !c->wqueued)
		conn_close(c);
}

/* Grow the read buffer only when it is full, i.e. when a frame longer than
 * it is arriving: memory follows bytes received, not lengths claimed. */
static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;

	if (c->rlen == c->rcap) {
		size_t ncap = c->rcap ? c->rcap * 2 : TCP_RBUF_INIT;
		if (ncap > TCP_RBUF_MAX)
			ncap = TCP_RBUF_MAX;
		uint8_t *nb = ncap > c->rcap ? realloc(c->rbuf, ncap) : NULL;
		if (!nb) {
			buf->base = NULL;
			buf->len = 0; /* read_cb gets UV_ENOBUFS */
			return;
		}
		c->rbuf = nb;
		c->rcap = ncap;
	}
	buf->base = (char *)c->rbuf + c->rlen;
	buf->len = c->rcap - c->rlen;
}

static void conn_message(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	struct origin o = { NULL, c, (const struct sockaddr *)&c->peer };

	c->s->st.tcp_queries++;
	handle_message(c->s, &o, msg, len);
	conn_arm_idle(c);
}

/* Take every complete frame out of the buffer.  The callback may answer
 * (and even close the connection) synchronously, so closing is checked
 * after each; the buffer itself lives until the handles have closed. */
static void conn_process(struct tcp_conn *c)
{
	size_t off = 0;

	while (!c->closing && c->rlen - off >= 2) {
		size_t flen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];
		if (flen == 0) {
			log_detail("tcp %s: zero-length message, closing", c->name);
			conn_close(c);
			return;
		}
		if (c->rlen - off < 2 + flen)
			break;
		conn_message(c, c->rbuf + off + 2, flen);
		off += 2 + flen;
	}
	if (c->closing || off == 0)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = st->data;

	if (nread == 0 || c->closing)
		return;
	if (nread == UV_EOF) {
		c->eof = true;
		uv_read_stop(st);
		conn_maybe_finish(c);
		return;
	}
	if (nread < 0) {
		log_detail("tcp %s: read: %s", c->name, uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	c->rlen += (size_t)nread;
	conn_process(c);
}

static struct tcp_conn *conn_new(struct server *s)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->refs = 1;
	if (uv_tcp_init(s->loop, &c->h)) {
		free(c);
		return NULL;
	}
	/* uv_timer_init cannot fail; both handles are now owed a close. */
	uv_timer_init(s->loop, &c->idle);
	c->h.data = c->idle.data = c;
	c->closes = 2;
	s->handles += 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	return c;
}

/* Accept, then decide: over the limit or denied by the ACL -> closed at
 * once (accepting first keeps the listen queue moving). */
static bool conn_admit(struct server *s, struct tcp_conn *c)
{
	int len = sizeof(c->peer);

	if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &len))
		return false;
	addr_str((struct sockaddr *)&c->peer, c->name, sizeof(c->name));
	if (s->st.tcp_open >= s->cfg->max_tcp_clients) {
		s->st.tcp_rejected_limit++;
		log_detail("tcp %s: %" PRIu64 " connections open, rejected", c->name,
			   s->st.tcp_open);
		return false;
	}
	c->acl = config_acl_check(s->cfg, (struct sockaddr *)&c->peer);
	if (c->acl == ACL_DENY) {
		s->st.acl_denied++;
		return false;
	}
	return true;
}

static void tcp_on_connection(uv_stream_t *ls, int status)
{
	struct tcp_listener *tl = ls->data;
	struct server *s = tl->s;
	struct tcp_conn *c;
	int r;

	if (status < 0) {
		log_err("tcp %s: accept: %s", tl->name, uv_strerror(status));
		return;
	}
	c = conn_new(s);
	if (!c) {
		log_err("tcp %s: out of memory for a connection", tl->name);
		return;
	}
	r = uv_accept(ls, (uv_stream_t *)&c->h);
	if (r) {
		log_err("tcp %s: accept: %s", tl->name, uv_strerror(r));
		conn_close(c);
		return;
	}
	if (!conn_admit(s, c)) {
		conn_close(c);
		return;
	}
	r = uv_read_start((uv_stream_t *)&c->h, conn_alloc_cb, conn_read_cb);
	if (r) {
		log_err("tcp %s: read: %s", c->name, uv_strerror(r));
		conn_close(c);
		return;
	}
	c->counted = true;
	s->st.tcp_open++;
	s->st.tcp_accepted++;
	conn_arm_idle(c);
}

static void tcp_listener_closed(uv_handle_t *h)
{
	struct tcp_listener *tl = h->data;
	struct server *s = tl->s;

	s->handles--;
	server_maybe_destroy(s);
}

static int tcp_listener_start(struct server *s, struct tcp_listener *tl,
			      const struct cfg_listen *l)
{
	int fd = open_bound_socket(l, SOCK_STREAM, tl->name);
	int r;

	if (fd < 0)
		return fd;
	r = uv_tcp_init_ex(s->loop, &tl->h, AF_UNSPEC);
	if (r) {
		close(fd);
		goto fail;
	}
	tl->h.data = tl;
	tl->open = true;
	s->handles++;
	r = uv_tcp_open(&tl->h, fd);
	if (r) {
		close(fd);
		goto fail;
	}
	r = uv_listen((uv_stream_t *)&tl->h, TCP_BACKLOG, tcp_on_connection);
	if (r)
		goto fail;
	return 0;
fail:
	log_err("listen tcp %s: %s", tl->name, uv_strerror(r));
	return r;
}

/* ---- public ----------------------------------------------------------- */

struct server *server_new(uv_loop_t *loop, const struct config *cfg, server_query_fn fn,
			  void *ud)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->cfg = cfg;
	s->fn = fn;
	s->ud = ud;
	s->n_listen = cfg->n_listen;
	if (s->n_listen) {
		s->udp = calloc(s->n_listen, sizeof(*s->udp));
		s->tcp = calloc(s->n_listen, sizeof(*s->tcp));
		if (!s->udp || !s->tcp) {
			free(s->udp);
			free(s->tcp);
			free(s);
			return NULL;
		}
	}
	for (size_t i = 0; i < s->n_listen; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen[i].addr;
		s->udp[i].s = s->tcp[i].s = s;
		addr_str(sa, s->udp[i].name, sizeof(s->udp[i].name));
		memcpy(s->tcp[i].name, s->udp[i].name, sizeof(s->tcp[i].name));
	}
	/* Our EDNS size to clients is the server's to decide. */
	msg_set_edns_size(cfg->max_udp_size > 0xffff ? 0xffff : (uint16_t)cfg->max_udp_size);
	return s;
}

int server_start(struct server *s)
{
	int r;

	if (s->started)
		return -EALREADY;
	s->started = true;
	if (!s->n_listen) {
		log_err("no listen address configured");
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n_listen; i++) {
		r = udp_listener_start(s, &s->udp[i], &s->cfg->listen[i]);
		if (r)
			return r;
		r = tcp_listener_start(s, &s->tcp[i], &s->cfg->listen[i]);
		if (r)
			return r;
		log_info("listening on %s (udp%s, tcp)", s->udp[i].name,
			 uv_udp_using_recvmmsg(&s->udp[i].h) ? " recvmmsg" : "");
	}
	return 0;
}

void server_stop(struct server *s)
{
	if (s->stopped)
		return;
	s->stopped = true;
	for (size_t i = 0; i < s->n_listen; i++) {
		if (s->udp[i].open)
			uv_close((uv_handle_t *)&s->udp[i].h, udp_listener_closed);
		if (s->tcp[i].open)
			uv_close((uv_handle_t *)&s->tcp[i].h, tcp_listener_closed);
		s->udp[i].open = s->tcp[i].open = false;
	}
	for (struct tcp_conn *c = s->conns; c; c = c->next)
		conn_close(c);
}

/* Everything goes at once: clients still held by the caller become invalid
 * (server.h: release them before server_free). */
static void server_destroy(struct server *s)
{
	while (s->conns) {
		struct tcp_conn *c = s->conns;
		s->conns = c->next;
		conn_free(c);
	}
	for (struct server_client *c = s->busy, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	for (struct server_client *c = s->free, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	for (size_t i = 0; i < s->n_listen; i++)
		free(s->udp[i].rbuf);
	free(s->udp);
	free(s->tcp);
	free(s);
}

static void server_maybe_destroy(struct server *s)
{
	if (s->freed && s->handles == 0)
		server_destroy(s);
}

void server_free(struct server *s)
{
	if (!s)
		return;
	server_stop(s);
	s->freed = true;
	server_maybe_destroy(s);
}

void server_reply(struct server_client *c, const uint8_t *wire, size_t len)
{
	struct server *s = c->s;
	struct origin o = client_origin(c);

	if (origin_alive(s, &o))
		send_to(s, &o, wire, len);
	else
		log_query("reply discarded: the client's connection is gone");
	client_release(c);
}

void server_drop(struct server_client *c)
{
	client_release(c);
}

bool server_client_is_tcp(const struct server_client *c)
{
	return c->conn != NULL;
}

size_t server_client_max_len(const struct server_client *c, const struct msg_query *q)
{
	if (c->conn)
		return MSG_MAX_TCP;
	return msg_udp_limit(q, c->s->cfg->max_udp_size);
}

const struct sockaddr *server_client_addr(const struct server_client *c)
{
	return (const struct sockaddr *)&c->peer;
}

void server_get_stats(const struct server *s, struct server_stats *st)
{
	*st = s->st;
}
