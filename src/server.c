/* server.c — the client-facing listeners (see server.h).
 *
 * One UDP and one TCP listener per configured address, opened through the
 * transport seam (transport.h): kernel sockets (net_kernel.c keeps the
 * socket options and recvmmsg) or the raw-mode stack.  The transport says
 * where a listen address really binds (raw mode has one IPv4 address), and
 * an address bound twice is served once.
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
 * Lifetimes: a connection is refcounted (its idle timer + one per query in
 * flight), so a client stays valid after its connection died and its
 * reply is then discarded.  The transport never calls back for a closed
 * stream; the connection's memory waits for its timer's close callback,
 * so code running inside a stream callback may close it and go on
 * looking at it.  Memory goes once every timer has reported its close and
 * server_free() was called, in either order: server_stop(); run the loop;
 * server_free() — or server_stop(); server_free(); run the loop (the last
 * close callback frees). */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "rrl.h"
#include "transport.h"

#define TCP_BACKLOG 256
#define TCP_RBUF_INIT 4096
#define TCP_RBUF_MAX (2 + MSG_MAX_TCP)
#define TCP_WQUEUE_MAX (256 * 1024) /* a client that reads slower is cut */
#define CLIENT_POOL_MAX 1024  /* released clients kept for reuse */
#define ERR_WIRE_MAX 512      /* header + question + OPT always fit */
#define ADDR_STR_MAX 64       /* "[v6 address]@port" */

struct udp_listener {
	struct net_dgram *d; /* NULL: not open */
	struct server *s;
	char name[ADDR_STR_MAX];
};

struct tcp_listener {
	struct net_stream *st; /* NULL: not open */
	struct server *s;
	char name[ADDR_STR_MAX];
};

struct tcp_conn {
	struct net_stream *st; /* NULL once closed */
	uv_timer_t idle;
	struct server *s;
	struct tcp_conn *prev, *next; /* s->conns: every conn not yet freed */
	struct sockaddr_storage peer;
	char name[ADDR_STR_MAX];
	enum acl_action acl;
	uint8_t *rbuf;
	size_t rlen, rcap;
	size_t wqueued;   /* bytes the transport queued, not yet written */
	unsigned refs;    /* 1 until the timer closed, +1 per pending client */
	unsigned pending; /* queries given to the callback, not answered */
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

/* The last UDP client's ACL verdict.  Queries come in runs from the same
 * few addresses and the ACL is fixed while the server runs (a reload does
 * not change it), so a repeat costs one compare instead of a walk over
 * every rule.  Per server: each worker keeps its own. */
struct acl_memo {
	sa_family_t family; /* 0: empty */
	enum acl_action action;
	uint8_t addr[16];
};

/* Where a message came from and where its answer goes. */
struct origin {
	struct udp_listener *ul;
	struct tcp_conn *conn;
	const struct sockaddr *peer;
};

struct server {
	uv_loop_t *loop;
	struct net *net;
	bool own_net; /* made by server_new: freed with the server */
	const struct config *cfg;
	server_query_fn fn;
	void *ud;
	struct udp_listener *udp; /* n_listen of each, the first n_bound in use */
	struct tcp_listener *tcp;
	struct sockaddr_storage *bound;
	size_t n_listen, n_bound;
	struct tcp_conn *conns;
	struct server_client *busy, *free;
	size_t n_free;
	size_t handles; /* connection timers whose close callback is due */
	struct server_stats st;
	struct acl_memo acl_memo;
	bool started, stopped, freed;
	struct rrl *rrl; /* response rate limiting (UDP); NULL: off */
};

static void server_maybe_destroy(struct server *s);

/* ---- small helpers ---------------------------------------------------- */

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* Same family, address and port (padding and flow labels aside). */
static bool sa_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return ((const struct sockaddr_in *)a)->sin_port ==
		       ((const struct sockaddr_in *)b)->sin_port &&
	       ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
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

/* ---- sending ---------------------------------------------------------- */

static int udp_send(struct udp_listener *ul, const struct sockaddr *peer,
		    const uint8_t *wire, size_t len)
{
	char who[ADDR_STR_MAX];
	int r = net_dgram_send(ul->d, wire, len, peer);

	if (r == 0)
		return 0;
	addr_str(peer, who, sizeof(who));
	log_detail("udp %s: send to %s failed: %s", ul->name, who, strerror(-r));
	return r;
}

static void conn_close(struct tcp_conn *c);
static void conn_maybe_finish(struct tcp_conn *c);

/* A queued write finished (or failed: the connection is then useless). */
static void conn_on_written(struct net_stream *st, size_t len, int status, void *ud)
{
	struct tcp_conn *c = ud;

	c->wqueued -= len;
	if (status < 0) {
		log_detail("tcp %s: write: %s", c->name, strerror(-status));
		conn_close(c);
		return;
	}
	conn_maybe_finish(c);
}

/* The transport sends what the socket takes and queues the rest.  A
 * client that lets more than TCP_WQUEUE_MAX pile up is not reading: it
 * loses the connection rather than our memory. */
static int conn_send(struct tcp_conn *c, const uint8_t *wire, size_t len)
{
	uint8_t pfx[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { pfx, 2 }, { (void *)wire, len } };
	ssize_t r;

	if (len > MSG_MAX_TCP) {
		log_err("tcp %s: reply of %zu bytes cannot be framed, dropped", c->name, len);
		return -EMSGSIZE;
	}
	r = net_stream_write(c->st, iov, 2);
	if (r < 0) {
		log_detail("tcp %s: write: %s", c->name, strerror((int)-r));
		conn_close(c);
		return (int)r;
	}
	if (r == 0)
		return 0;
	if (c->wqueued + (size_t)r > TCP_WQUEUE_MAX) {
		log_detail("tcp %s: client not reading (%zu bytes queued), closing", c->name,
			   c->wqueued);
		c->s->st.tcp_slow_closed++;
		conn_close(c);
		return -ENOBUFS;
	}
	c->wqueued += (size_t)r;
	return 0;
}

static bool origin_alive(const struct server *s, const struct origin *o)
{
	if (s->stopped)
		return false;
	return o->conn ? !o->conn->closing : true;
}

/* Response rate limiting (rrl.h), UDP only: within the client prefix's
 * rate the reply goes as it is; over it, nothing goes, or the slipped
 * (empty, TC=1) form in slip, so a real client retries over TCP. */
static bool rrl_admit(struct server *s, const struct origin *o, const uint8_t **wire,
		      size_t *len, uint8_t slip[RRL_SLIP_MAX])
{
	enum rrl_verdict v = rrl_check(s->rrl, o->peer, uv_now(s->loop));
	size_t n = v == RRL_SLIP ? rrl_slip_reply(*wire, *len, slip, RRL_SLIP_MAX) : 0;
	char who[ADDR_STR_MAX];

	if (v == RRL_SEND)
		return true;
	if (log_get_verbosity() >= LOGL_QUERY) {
		addr_str(o->peer, who, sizeof(who));
		log_query("%s: over the response rate, reply %s", who, n ? "slipped" : "dropped");
	}
	if (!n) {
		s->st.rrl_dropped++;
		return false;
	}
	s->st.rrl_slipped++;
	*wire = slip;
	*len = n;
	return true;
}

static void send_to(struct server *s, const struct origin *o, const uint8_t *wire, size_t len)
{
	uint8_t slip[RRL_SLIP_MAX];
	int r;

	if (!o->conn && s->rrl && !rrl_admit(s, o, &wire, &len, slip))
		return;
	r = o->conn ? conn_send(o->conn, wire, len) : udp_send(o->ul, o->peer, wire, len);

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
	/* no memset of the 128-byte address: dispatch() sets ul, conn, peer */
	c->s = s;
	c->prev = NULL;
	c->ul = NULL;
	c->conn = NULL;
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

static enum acl_action udp_acl(struct server *s, const struct sockaddr *peer)
{
	struct acl_memo *m = &s->acl_memo;
	const void *addr;
	bool same;
	size_t n;

	/* constant-size compares: inlined, no library call */
	if (peer->sa_family == AF_INET) {
		addr = &((const struct sockaddr_in *)peer)->sin_addr;
		n = 4;
		same = m->family == AF_INET && memcmp(m->addr, addr, 4) == 0;
	} else if (peer->sa_family == AF_INET6) {
		addr = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		n = 16;
		same = m->family == AF_INET6 && memcmp(m->addr, addr, 16) == 0;
	} else {
		return config_acl_check(s->cfg, peer);
	}
	if (same)
		return m->action;
	m->action = config_acl_check(s->cfg, peer);
	m->family = peer->sa_family;
	memcpy(m->addr, addr, n);
	return m->action;
}

/* ACL first (a denied client costs us nothing more), then the parser.  A
 * refused client gets REFUSED only if its packet is at least a query we
 * could answer; garbage from it is dropped like anyone's. */
static void handle_message(struct server *s, const struct origin *o, const uint8_t *pkt,
			   size_t len)
{
	enum acl_action acl = o->conn ? o->conn->acl : udp_acl(s, o->peer);
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

static void udp_on_recv(struct net_dgram *d, const uint8_t *data, size_t len,
			const struct sockaddr *from, void *ud)
{
	struct udp_listener *ul = ud;
	struct server *s = ul->s;
	struct origin o = { ul, NULL, from };

	s->st.udp_queries++;
	handle_message(s, &o, data, len);
}

static const struct net_dgram_cbs udp_cbs = {
	.recv = udp_on_recv,
};

static int udp_listener_start(struct server *s, struct udp_listener *ul,
			      const struct sockaddr *addr)
{
	/* net_kernel logs a failure with the step that failed. */
	return net_dgram_open(s->net, addr, NET_DGRAM_LISTEN, &udp_cbs, ul, &ul->d);
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

static void conn_timer_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	struct server *s = c->s;

	s->handles--;
	conn_unref(c);
	server_maybe_destroy(s);
}

/* Close the stream and the timer; pending clients keep the struct alive,
 * and their replies are discarded. */
static void conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->counted)
		c->s->st.tcp_open--;
	if (c->st)
		net_stream_close(c->st);
	c->st = NULL;
	uv_close((uv_handle_t *)&c->idle, conn_timer_closed);
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

/* Make room for n more bytes, growing the buffer only as bytes arrive
 * (memory follows bytes received, not lengths claimed) and never beyond
 * one largest frame.  Returns the room there is (possibly less than n). */
static size_t conn_reserve(struct tcp_conn *c, size_t n)
{
	size_t ncap = c->rcap ? c->rcap : TCP_RBUF_INIT;
	uint8_t *nb;

	while (ncap < c->rlen + n && ncap < TCP_RBUF_MAX)
		ncap *= 2;
	if (ncap > TCP_RBUF_MAX)
		ncap = TCP_RBUF_MAX;
	if (ncap > c->rcap) {
		nb = realloc(c->rbuf, ncap);
		if (!nb)
			return 0;
		c->rbuf = nb;
		c->rcap = ncap;
	}
	return c->rcap - c->rlen;
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
 * after each; the buffer itself lives until the timer has closed. */
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

/* Bytes from the client: append, take frames out, repeat.  A full buffer
 * always holds a complete frame (it is one largest frame long), so every
 * round makes room. */
static void conn_take(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	while (len && !c->closing) {
		size_t room = conn_reserve(c, len);
		size_t n = room < len ? room : len;

		if (!n) {
			log_err("tcp %s: out of memory for the read buffer, closing", c->name);
			conn_close(c);
			return;
		}
		memcpy(c->rbuf + c->rlen, data, n);
		c->rlen += n;
		data += n;
		len -= n;
		conn_process(c);
	}
}

static void conn_on_read(struct net_stream *st, const uint8_t *data, ssize_t nread, void *ud)
{
	struct tcp_conn *c = ud;

	if (c->closing)
		return;
	if (nread == 0) {
		c->eof = true;
		conn_maybe_finish(c);
		return;
	}
	if (nread < 0) {
		log_detail("tcp %s: read: %s", c->name, strerror((int)-nread));
		conn_close(c);
		return;
	}
	conn_take(c, data, (size_t)nread);
}

static struct tcp_conn *conn_new(struct server *s, struct net_stream *st)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->st = st;
	c->refs = 1;
	/* uv_timer_init cannot fail; the timer is now owed a close. */
	uv_timer_init(s->loop, &c->idle);
	c->idle.data = c;
	s->handles++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	return c;
}

/* Accepted, now decide: over the limit or denied by the ACL -> closed at
 * once (accepting first keeps the listen queue moving). */
static bool conn_admit(struct server *s, struct tcp_conn *c)
{
	if (net_stream_peer(c->st, &c->peer))
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

static void tcp_on_accept(struct net_stream *ls, struct net_stream *st, void *ud)
{
	struct tcp_listener *tl = ud;
	struct server *s = tl->s;
	struct tcp_conn *c = conn_new(s, st);

	if (!c) {
		log_err("tcp %s: out of memory for a connection", tl->name);
		net_stream_close(st);
		return;
	}
	net_stream_set_ud(st, c);
	if (!conn_admit(s, c)) {
		conn_close(c);
		return;
	}
	c->counted = true;
	s->st.tcp_open++;
	s->st.tcp_accepted++;
	conn_arm_idle(c);
}

/* Listeners and connections share the callbacks; a connection's ud is its
 * tcp_conn, a listener's its tcp_listener. */
static const struct net_stream_cbs tcp_cbs = {
	.accept = tcp_on_accept,
	.read = conn_on_read,
	.written = conn_on_written,
};

static int tcp_listener_start(struct server *s, struct tcp_listener *tl,
			      const struct sockaddr *addr)
{
	return net_stream_listen(s->net, addr, TCP_BACKLOG, &tcp_cbs, tl, &tl->st);
}

/* Where the transport binds listen entry i: 1 to serve it at *out, 0 to
 * skip it (not servable here, or already bound), -errno. */
static int listen_addr(struct server *s, size_t i, struct sockaddr_storage *out)
{
	const struct sockaddr *want = (const struct sockaddr *)&s->cfg->listen[i].addr;
	char wname[ADDR_STR_MAX], bname[ADDR_STR_MAX];
	int r = net_bind_addr(s->net, want, out);

	addr_str(want, wname, sizeof(wname));
	if (r < 0) {
		log_warn("listen %s: cannot be served in %s mode (%s), skipped", wname,
			 net_name(s->net), strerror(-r));
		return 0;
	}
	addr_str((struct sockaddr *)out, bname, sizeof(bname));
	if (!sa_equal(want, (struct sockaddr *)out))
		log_warn("listen %s: %s mode serves it on %s", wname, net_name(s->net), bname);
	for (size_t j = 0; j < s->n_bound; j++) {
		if (sa_equal((struct sockaddr *)&s->bound[j], (struct sockaddr *)out)) {
			log_info("listen %s: %s already served", wname, bname);
			return 0;
		}
	}
	return 1;
}

/* ---- public ----------------------------------------------------------- */

struct server *server_new_net(uv_loop_t *loop, struct net *net, const struct config *cfg,
			      server_query_fn fn, void *ud)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->net = net;
	s->cfg = cfg;
	s->fn = fn;
	s->ud = ud;
	s->n_listen = cfg->n_listen;
	if (!s->net) {
		s->net = net_kernel_new(loop);
		s->own_net = true;
	}
	if (s->n_listen) {
		s->udp = calloc(s->n_listen, sizeof(*s->udp));
		s->tcp = calloc(s->n_listen, sizeof(*s->tcp));
		s->bound = calloc(s->n_listen, sizeof(*s->bound));
	}
	if (!s->net || (s->n_listen && (!s->udp || !s->tcp || !s->bound))) {
		if (s->own_net)
			net_free(s->net);
		free(s->udp);
		free(s->tcp);
		free(s->bound);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->n_listen; i++)
		s->udp[i].s = s->tcp[i].s = s;
	/* Our EDNS size to clients is the server's to decide. */
	msg_set_edns_size(cfg->max_udp_size > 0xffff ? 0xffff : (uint16_t)cfg->max_udp_size);
	return s;
}

struct server *server_new(uv_loop_t *loop, const struct config *cfg, server_query_fn fn,
			  void *ud)
{
	return server_new_net(loop, NULL, cfg, fn, ud);
}

/* Both listeners of one address; they share the address's name. */
static int listener_pair_start(struct server *s, const struct sockaddr *addr)
{
	struct udp_listener *ul = &s->udp[s->n_bound];
	struct tcp_listener *tl = &s->tcp[s->n_bound];
	int r;

	addr_str(addr, ul->name, sizeof(ul->name));
	memcpy(tl->name, ul->name, sizeof(tl->name));
	memcpy(&s->bound[s->n_bound], addr, sa_len(addr));
	s->n_bound++; /* from here on server_stop closes what opened */
	r = udp_listener_start(s, ul, addr);
	if (r)
		return r;
	r = tcp_listener_start(s, tl, addr);
	if (r)
		return r;
	log_info("listening on %s (udp, tcp; %s)", ul->name, net_name(s->net));
	return 0;
}

int server_start(struct server *s)
{
	struct sockaddr_storage addr;
	int r;

	if (s->started)
		return -EALREADY;
	s->started = true;
	if (!s->n_listen) {
		log_err("no listen address configured");
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n_listen; i++) {
		r = listen_addr(s, i, &addr);
		if (r == 0)
			continue;
		r = listener_pair_start(s, (struct sockaddr *)&addr);
		if (r)
			return r;
	}
	if (!s->n_bound) {
		log_err("no listen address can be served in %s mode", net_name(s->net));
		return -EADDRNOTAVAIL;
	}
	return 0;
}

void server_stop(struct server *s)
{
	if (s->stopped)
		return;
	s->stopped = true;
	for (size_t i = 0; i < s->n_bound; i++) {
		if (s->udp[i].d)
			net_dgram_close(s->udp[i].d);
		if (s->tcp[i].st)
			net_stream_close(s->tcp[i].st);
		s->udp[i].d = NULL;
		s->tcp[i].st = NULL;
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
	if (s->own_net)
		net_free(s->net);
	free(s->udp);
	free(s->tcp);
	free(s->bound);
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

void server_set_rrl(struct server *s, struct rrl *rrl)
{
	s->rrl = rrl;
}

void server_get_stats(const struct server *s, struct server_stats *st)
{
	*st = s->st;
}
