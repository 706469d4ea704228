/* net_raw.c — the transport seam over rootwalk's own TCP/IP stack (raw
 * mode; see transport.h and stack.h).
 *
 * The stack runs on a TAP device inside the daemon's libuv loop
 * (stack_uv: the fd under uv_poll, stack_poll() behind a uv_timer), so
 * nothing here blocks and nothing here keeps time: every stack call gets
 * uv_now().  This file only translates: sockaddrs to host-order
 * address/port pairs, stack callbacks to transport callbacks, and the
 * "copy what cannot go out now" rule of stream writes to a queue per
 * connection that drains as the stack's send buffer empties.
 *
 * Handles and reentrancy: the user may close a handle from inside one of
 * its own callbacks (upstream does when a reply completes a query).  The
 * stack allows that for its PCBs; for our wrappers a `busy` count is held
 * around every user callback, and a handle closed while busy is freed when
 * the count drops.  No code touches a wrapper after releasing it.
 *
 * Raw mode is IPv4 with one address: every listen address maps to it
 * (bind_addr), IPv6 is refused with -EAFNOSUPPORT. */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stack.h"

#define RNET_FAULTS_ENV "ROOTWALK_RAW_FAULTS"
#define RNET_MTU_MAX 9000u /* the stack's bound */

struct rnet {
	struct net base;
	uv_loop_t *loop;
	struct stack *st;     /* NULL once stack_uv has freed it */
	struct stack_uv *su;  /* NULL for a wrapped stack */
	uint32_t addr, gateway; /* host byte order */
	uint8_t prefix_len;
	unsigned mtu;
	bool faults;
	bool closing, closed, free_pending;
	void (*on_closed)(void *ud);
	void *closed_ud;
	char ifname[IF_NAMESIZE];
};

struct rdgram {
	struct net_dgram base;
	struct rnet *rn;
	struct stack_udp *sock; /* NULL once closed */
	struct net_dgram_cbs cbs;
	void *ud;
	unsigned busy;
	bool closed;
};

/* One write's bytes that the stack's send buffer could not take yet. */
struct rchunk {
	struct rchunk *next;
	size_t len, off;
	uint8_t data[];
};

struct rstream {
	struct net_stream base;
	struct rnet *rn;
	struct stack_tcp *tcp; /* NULL once closed or over for the stack */
	struct net_stream_cbs cbs;
	void *ud;
	struct rchunk *wq, *wq_tail;
	unsigned busy;
	bool closed;
	bool connecting; /* active open not finished: failures go to connected */
	bool done;       /* EOF or error delivered: no more reads */
};

static const struct net_ops rnet_ops;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rnet_now(const struct rnet *rn)
{
	return uv_now(rn->loop);
}

static void ip4_str(uint32_t addr, char *buf, size_t len)
{
	struct in_addr ia = { htonl(addr) };

	if (!inet_ntop(AF_INET, &ia, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void sin_make(struct sockaddr_in *sin, uint32_t addr, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	sin->sin_port = htons(port);
}

/* An IPv4 sockaddr as host-order address and port, or -EAFNOSUPPORT. */
static int sin_take(const struct sockaddr *sa, uint32_t *addr, uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	if (sa->sa_family != AF_INET)
		return -EAFNOSUPPORT;
	*addr = ntohl(sin->sin_addr.s_addr);
	*port = ntohs(sin->sin_port);
	return 0;
}

/* A local address we can bind: ours or the wildcard (the stack has one). */
static int local_take(const struct rnet *rn, const struct sockaddr *sa, uint16_t *port)
{
	uint32_t addr;
	int rc = sin_take(sa, &addr, port);

	if (rc < 0)
		return rc;
	return addr == 0 || addr == rn->addr ? 0 : -EADDRNOTAVAIL;
}

/* ---- datagrams ---------------------------------------------------------- */

static void rdgram_release(struct rdgram *d)
{
	if (--d->busy == 0 && d->closed)
		free(d);
}

static void rdgram_on_recv(struct stack_udp *sock, const uint8_t *data, size_t len,
			   uint32_t src_addr, uint16_t src_port, void *ud)
{
	struct rdgram *d = ud;
	struct sockaddr_in from;

	if (d->closed || !d->cbs.recv)
		return;
	sin_make(&from, src_addr, src_port);
	d->busy++;
	d->cbs.recv(&d->base, data, len, (const struct sockaddr *)&from, d->ud);
	rdgram_release(d);
}

static int rnet_dgram_open(struct net *n, const struct sockaddr *local, unsigned flags,
			   const struct net_dgram_cbs *cbs, void *ud, struct net_dgram **out)
{
	struct rnet *rn = (struct rnet *)n;
	struct rdgram *d;
	uint16_t port;
	int rc;

	*out = NULL;
	if (!rn->st)
		return -ENETDOWN;
	rc = local_take(rn, local, &port);
	if (rc < 0)
		return rc;
	if (flags & NET_DGRAM_RANDOM_PORT)
		port = 0; /* the stack draws it from rnd.h */
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.net = n;
	d->rn = rn;
	d->cbs = *cbs;
	d->ud = ud;
	rc = stack_udp_open(rn->st, port, rdgram_on_recv, d, &d->sock);
	if (rc < 0) {
		if (flags & NET_DGRAM_LISTEN)
			log_err("listen udp port %u (raw): %s", port, strerror(-rc));
		free(d);
		return rc;
	}
	*out = &d->base;
	return 0;
}

static int rnet_dgram_send(struct net_dgram *nd, const void *data, size_t len,
			   const struct sockaddr *to)
{
	struct rdgram *d = (struct rdgram *)nd;
	uint32_t addr;
	uint16_t port;
	int rc;

	if (!d->sock)
		return -EBADF;
	rc = sin_take(to, &addr, &port);
	if (rc < 0)
		return rc;
	return stack_udp_sendto(d->sock, data, len, addr, port, rnet_now(d->rn));
}

static int rnet_dgram_local(const struct net_dgram *nd, struct sockaddr_storage *out)
{
	const struct rdgram *d = (const struct rdgram *)nd;

	if (!d->sock)
		return -EBADF;
	memset(out, 0, sizeof(*out));
	sin_make((struct sockaddr_in *)out, d->rn->addr, stack_udp_port(d->sock));
	return 0;
}

static void rnet_dgram_close(struct net_dgram *nd)
{
	struct rdgram *d = (struct rdgram *)nd;

	if (d->closed)
		return;
	d->closed = true;
	if (d->sock)
		stack_udp_close(d->sock);
	d->sock = NULL;
	if (!d->busy)
		free(d);
}

/* ---- streams ------------------------------------------------------------- */

static const struct stack_tcp_cbs rstream_stack_cbs;

static struct rstream *rstream_new(struct rnet *rn, const struct net_stream_cbs *cbs, void *ud)
{
	struct rstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.net = &rn->base;
	s->rn = rn;
	s->cbs = *cbs;
	s->ud = ud;
	return s;
}

static size_t rstream_drop_queue(struct rstream *s)
{
	size_t total = 0;

	while (s->wq) {
		struct rchunk *ch = s->wq;

		s->wq = ch->next;
		total += ch->len;
		free(ch);
	}
	s->wq_tail = NULL;
	return total;
}

static void rstream_release(struct rstream *s)
{
	if (--s->busy == 0 && s->closed)
		free(s);
}

/* "198.18.0.2:53 198.18.0.1:40000", for logs. */
static void rstream_name(const struct rstream *s, char *buf, size_t len)
{
	struct stack_tcp_info info;
	char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];

	if (!s->tcp) {
		snprintf(buf, len, "(closed)");
		return;
	}
	stack_tcp_get_info(s->tcp, &info);
	ip4_str(info.local_addr, l, sizeof(l));
	ip4_str(info.remote_addr, r, sizeof(r));
	snprintf(buf, len, "%s:%u %s:%u", l, info.local_port, r, info.remote_port);
}

static void rstream_on_accept(struct stack_tcp *listener, struct stack_tcp *conn, void *ud)
{
	struct rstream *l = ud;
	struct rstream *c;
	char name[96];

	if (l->closed || !l->cbs.accept) {
		stack_tcp_abort(conn, rnet_now(l->rn));
		return;
	}
	c = rstream_new(l->rn, &l->cbs, l->ud);
	if (!c) {
		log_err("raw: out of memory for an accepted connection, reset");
		stack_tcp_abort(conn, rnet_now(l->rn));
		return;
	}
	c->tcp = conn;
	stack_tcp_set_cbs(conn, &rstream_stack_cbs, c);
	if (log_get_verbosity() >= LOGL_DETAIL) {
		rstream_name(c, name, sizeof(name));
		log_detail("raw: tcp %s accepted", name);
	}
	l->busy++;
	l->cbs.accept(&l->base, &c->base, l->ud);
	rstream_release(l);
}

static void rstream_on_connected(struct stack_tcp *conn, void *ud)
{
	struct rstream *s = ud;
	char name[96];

	s->connecting = false;
	if (log_get_verbosity() >= LOGL_DETAIL) {
		rstream_name(s, name, sizeof(name));
		log_detail("raw: tcp %s connected", name);
	}
	if (!s->cbs.connected)
		return;
	s->busy++;
	s->cbs.connected(&s->base, 0, s->ud);
	rstream_release(s);
}

static void rstream_on_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	struct rstream *s = ud;

	if (s->closed || s->done)
		return;
	if (len == 0)
		s->done = true; /* the peer's FIN */
	if (!s->cbs.read)
		return;
	s->busy++;
	s->cbs.read(&s->base, len ? data : NULL, (ssize_t)len, s->ud);
	rstream_release(s);
}

/* Feed queued writes into the stack's send buffer as it frees room; each
 * write fully taken is reported.  An error reports everything left. */
static void rstream_flush(struct rstream *s)
{
	s->busy++;
	while (s->wq && !s->closed && s->tcp) {
		struct rchunk *ch = s->wq;
		ssize_t n = stack_tcp_send(s->tcp, ch->data + ch->off, ch->len - ch->off,
					   rnet_now(s->rn));
		size_t len;

		if (n < 0) {
			len = rstream_drop_queue(s);
			if (s->cbs.written)
				s->cbs.written(&s->base, len, (int)n, s->ud);
			break;
		}
		ch->off += (size_t)n;
		if (ch->off < ch->len)
			break;
		s->wq = ch->next;
		if (!s->wq)
			s->wq_tail = NULL;
		len = ch->len;
		free(ch);
		if (s->cbs.written)
			s->cbs.written(&s->base, len, 0, s->ud);
	}
	rstream_release(s);
}

static void rstream_on_sent(struct stack_tcp *conn, size_t acked, void *ud)
{
	struct rstream *s = ud;

	if (s->wq)
		rstream_flush(s);
}

/* The stack is done with the connection (reset, refused, timed out, or
 * both FINs exchanged): the handle stays ours until closed, the PCB does
 * not.  Queued writes can never go out. */
static void rstream_on_closed(struct stack_tcp *conn, int err, void *ud)
{
	struct rstream *s = ud;
	char name[96];

	if (log_get_verbosity() >= LOGL_DETAIL) {
		rstream_name(s, name, sizeof(name));
		log_detail("raw: tcp %s over: %s", name, err ? strerror(-err) : "closed");
	}
	s->tcp = NULL;
	rstream_drop_queue(s);
	if (s->closed)
		return;
	s->busy++;
	if (s->connecting) {
		s->connecting = false;
		s->done = true;
		if (s->cbs.connected)
			s->cbs.connected(&s->base, err ? err : -ECONNRESET, s->ud);
	} else if (!s->done) {
		s->done = true;
		if (s->cbs.read)
			s->cbs.read(&s->base, NULL, err, s->ud);
	}
	rstream_release(s);
}

static const struct stack_tcp_cbs rstream_stack_cbs = {
	.accept = rstream_on_accept,
	.connected = rstream_on_connected,
	.recv = rstream_on_recv,
	.sent = rstream_on_sent,
	.closed = rstream_on_closed,
};

static int rnet_stream_listen(struct net *n, const struct sockaddr *local, int backlog,
			      const struct net_stream_cbs *cbs, void *ud, struct net_stream **out)
{
	struct rnet *rn = (struct rnet *)n;
	struct rstream *s;
	uint16_t port;
	int rc;

	*out = NULL;
	if (!rn->st)
		return -ENETDOWN;
	rc = local_take(rn, local, &port);
	if (rc < 0)
		return rc;
	s = rstream_new(rn, cbs, ud);
	if (!s)
		return -ENOMEM;
	rc = stack_tcp_listen(rn->st, port, backlog > 0 ? (unsigned)backlog : 1,
			      &rstream_stack_cbs, s, &s->tcp);
	if (rc < 0) {
		log_err("listen tcp port %u (raw): %s", port, strerror(-rc));
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static int rnet_stream_connect(struct net *n, const struct sockaddr *to,
			       const struct net_stream_cbs *cbs, void *ud, struct net_stream **out)
{
	struct rnet *rn = (struct rnet *)n;
	struct rstream *s;
	uint32_t addr;
	uint16_t port;
	int rc;

	*out = NULL;
	if (!rn->st)
		return -ENETDOWN;
	rc = sin_take(to, &addr, &port);
	if (rc < 0)
		return rc;
	s = rstream_new(rn, cbs, ud);
	if (!s)
		return -ENOMEM;
	s->connecting = true;
	rc = stack_tcp_connect(rn->st, addr, port, 0, &rstream_stack_cbs, s, &s->tcp,
			       rnet_now(rn));
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static void rnet_stream_set_ud(struct net_stream *ns, void *ud)
{
	((struct rstream *)ns)->ud = ud;
}

static int rnet_stream_peer(const struct net_stream *ns, struct sockaddr_storage *out)
{
	const struct rstream *s = (const struct rstream *)ns;
	struct stack_tcp_info info;

	if (!s->tcp)
		return -ENOTCONN;
	stack_tcp_get_info(s->tcp, &info);
	memset(out, 0, sizeof(*out));
	sin_make((struct sockaddr_in *)out, info.remote_addr, info.remote_port);
	return 0;
}

/* Copy the bytes past `skip` into one queued chunk. */
static ssize_t rstream_queue(struct rstream *s, const struct iovec *iov, int iovcnt,
			     size_t total, size_t skip)
{
	struct rchunk *ch = malloc(sizeof(*ch) + (total - skip));
	size_t at = 0;

	if (!ch)
		return -ENOMEM;
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(ch->data + at, (const uint8_t *)iov[i].iov_base + skip, len - skip);
		at += len - skip;
		skip = 0;
	}
	ch->next = NULL;
	ch->len = at;
	ch->off = 0;
	if (s->wq_tail)
		s->wq_tail->next = ch;
	else
		s->wq = ch;
	s->wq_tail = ch;
	return (ssize_t)at;
}

static ssize_t rnet_stream_write(struct net_stream *ns, const struct iovec *iov, int iovcnt)
{
	struct rstream *s = (struct rstream *)ns;
	size_t total = 0, done = 0;

	if (s->closed || !s->tcp)
		return -EPIPE;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/* Straight into the send buffer unless earlier bytes are waiting. */
	for (int i = 0; i < iovcnt && !s->wq; i++) {
		ssize_t n = stack_tcp_send(s->tcp, iov[i].iov_base, iov[i].iov_len,
					   rnet_now(s->rn));

		if (n < 0)
			return n;
		done += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	if (done == total)
		return 0;
	return rstream_queue(s, iov, iovcnt, total, done);
}

static void rnet_stream_close(struct net_stream *ns)
{
	struct rstream *s = (struct rstream *)ns;
	char name[96];

	if (s->closed)
		return;
	s->closed = true;
	rstream_drop_queue(s);
	if (s->tcp && log_get_verbosity() >= LOGL_DETAIL) {
		rstream_name(s, name, sizeof(name));
		log_detail("raw: tcp %s closing (%s)", name,
			   stack_tcp_state_name(stack_tcp_get_state(s->tcp)));
	}
	if (s->tcp)
		stack_tcp_close(s->tcp, rnet_now(s->rn));
	s->tcp = NULL;
	if (!s->busy)
		free(s);
}

/* ---- the transport -------------------------------------------------------- */

/* Every IPv4 listen address is served on our one address. */
static int rnet_bind_addr(struct net *n, const struct sockaddr *want,
			  struct sockaddr_storage *out)
{
	struct rnet *rn = (struct rnet *)n;
	uint32_t addr;
	uint16_t port;
	int rc = sin_take(want, &addr, &port);

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	sin_make((struct sockaddr_in *)out, rn->addr, port);
	return 0;
}

static void rnet_destroy(struct rnet *rn)
{
	free(rn);
}

static void rnet_su_closed(void *ud)
{
	struct rnet *rn = ud;
	void (*cb)(void *ud) = rn->on_closed;
	void *cb_ud = rn->closed_ud;

	rn->st = NULL;
	rn->su = NULL;
	rn->closed = true;
	log_detail("raw: %s closed", rn->ifname);
	if (rn->free_pending)
		rnet_destroy(rn);
	if (cb)
		cb(cb_ud);
}

static void rnet_close(struct net *n, void (*on_closed)(void *ud), void *ud)
{
	struct rnet *rn = (struct rnet *)n;

	if (rn->closing)
		return;
	rn->closing = true;
	rn->on_closed = on_closed;
	rn->closed_ud = ud;
	if (rn->su) {
		stack_uv_close(rn->su, rnet_su_closed, rn);
		return;
	}
	rn->closed = true; /* a wrapped stack is its owner's to stop */
	if (on_closed)
		on_closed(ud);
}

static void rnet_free(struct net *n)
{
	struct rnet *rn = (struct rnet *)n;

	if (rn->su && !rn->closed) {
		rn->free_pending = true;
		if (!rn->closing)
			rnet_close(n, NULL, NULL);
		return;
	}
	rnet_destroy(rn);
}

static const struct net_ops rnet_ops = {
	.name = "raw",
	.bind_addr = rnet_bind_addr,
	.dgram_open = rnet_dgram_open,
	.dgram_send = rnet_dgram_send,
	.dgram_local = rnet_dgram_local,
	.dgram_close = rnet_dgram_close,
	.stream_listen = rnet_stream_listen,
	.stream_connect = rnet_stream_connect,
	.stream_set_ud = rnet_stream_set_ud,
	.stream_peer = rnet_stream_peer,
	.stream_write = rnet_stream_write,
	.stream_close = rnet_stream_close,
	.close = rnet_close,
	.free = rnet_free,
};

struct net *net_raw_wrap(uv_loop_t *loop, struct stack *st, uint32_t addr)
{
	struct rnet *rn = calloc(1, sizeof(*rn));

	if (!rn)
		return NULL;
	rn->base.ops = &rnet_ops;
	rn->loop = loop;
	rn->st = st;
	rn->addr = addr;
	return &rn->base;
}

bool net_raw_get_info(const struct net *n, struct net_raw_info *out)
{
	const struct rnet *rn = (const struct rnet *)n;

	if (!n || n->ops != &rnet_ops)
		return false;
	out->ifname = rn->ifname;
	out->addr = rn->addr;
	out->gateway = rn->gateway;
	out->prefix_len = rn->prefix_len;
	out->mtu = rn->mtu;
	out->faults = rn->faults;
	out->st = rn->st;
	return true;
}

/* ---- raw mode from the configuration ----------------------------------- */

/* One "key=value" of ROOTWALK_RAW_FAULTS. */
static int fault_item(const char *item, struct stack_faults *f, struct stack_cfg *sc)
{
	const char *eq = strchr(item, '=');
	char *end;
	double v;

	if (!eq)
		return -EINVAL;
	v = strtod(eq + 1, &end);
	if (end == eq + 1 || *end != '\0' || v < 0)
		return -EINVAL;
	if (!strncmp(item, "drop=", 5) && v <= 1)
		f->drop = v;
	else if (!strncmp(item, "dup=", 4) && v <= 1)
		f->duplicate = v;
	else if (!strncmp(item, "reorder=", 8) && v <= 1)
		f->reorder = v;
	else if (!strncmp(item, "seed=", 5) && v <= UINT32_MAX)
		f->seed = (uint32_t)v;
	else if (!strncmp(item, "rto-max=", 8) && v >= 200 && v <= 60000)
		sc->tcp_rto_max_ms = (uint32_t)v;
	else
		return -EINVAL;
	return 0;
}

/* Test-only: "drop=0.1,dup=0.05,reorder=0.1,seed=42,rto-max=4000".  Unset:
 * 0 with no faults; malformed: -EINVAL (a test must not run without the
 * faults it asked for). */
static int faults_from_env(struct stack_faults *f, struct stack_cfg *sc, bool *on)
{
	const char *env = getenv(RNET_FAULTS_ENV);
	char buf[256], *save = NULL;

	memset(f, 0, sizeof(*f));
	*on = false;
	if (!env || !*env)
		return 0;
	if (strlen(env) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, env);
	for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save))
		if (fault_item(it, f, sc) < 0)
			return -EINVAL;
	*on = f->drop > 0 || f->duplicate > 0 || f->reorder > 0;
	return 0;
}

static void stack_cfg_from(const struct config *cfg, struct stack_cfg *sc)
{
	stack_cfg_default(sc);
	if (cfg->raw_mac_set)
		memcpy(sc->mac, cfg->raw_mac, sizeof(sc->mac));
	sc->addr = ntohl(cfg->raw_address);
	sc->prefix_len = cfg->raw_prefix;
	sc->gateway = ntohl(cfg->raw_gateway);
	sc->mtu = (uint16_t)cfg->raw_mtu;
}

static void rnet_log_start(const struct rnet *rn, const struct stack_faults *f)
{
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	uint8_t mac[6];

	stack_get_mac(rn->st, mac);
	ip4_str(rn->addr, a, sizeof(a));
	ip4_str(rn->gateway, g, sizeof(g));
	log_info("raw mode: %s mac %02x:%02x:%02x:%02x:%02x:%02x address %s/%u gateway %s "
		 "mtu %u", rn->ifname, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], a,
		 rn->prefix_len, rn->gateway ? g : "none", rn->mtu);
	if (rn->faults)
		log_warn("raw mode: %s set: injecting faults at %s (drop %.3f, duplicate %.3f, "
			 "reorder %.3f, seed %u) -- for testing only", RNET_FAULTS_ENV,
			 rn->ifname, f->drop, f->duplicate, f->reorder, f->seed);
}

int net_raw_open(uv_loop_t *loop, const struct config *cfg, struct net **out)
{
	struct stack_faults faults;
	struct stack_cfg sc;
	struct stack_uv *su;
	struct rnet *rn;
	bool faults_on;
	int rc;

	*out = NULL;
	if (cfg->raw_mtu > RNET_MTU_MAX) {
		log_err("raw mode: raw-mtu %u is above the stack's %u", cfg->raw_mtu,
			RNET_MTU_MAX);
		return -EINVAL;
	}
	stack_cfg_from(cfg, &sc);
	if (faults_from_env(&faults, &sc, &faults_on) < 0) {
		log_err("raw mode: %s='%s' is not drop=P,dup=P,reorder=P,seed=N,rto-max=MS",
			RNET_FAULTS_ENV, getenv(RNET_FAULTS_ENV));
		return -EINVAL;
	}
	rn = (struct rnet *)net_raw_wrap(loop, NULL, sc.addr);
	if (!rn)
		return -ENOMEM;
	rc = stack_uv_open(loop, cfg->raw_interface, &sc, &su);
	if (rc < 0) {
		log_err("raw mode: cannot run the stack on %s: %s", cfg->raw_interface,
			strerror(-rc));
		free(rn);
		return rc;
	}
	rn->su = su;
	rn->st = stack_uv_stack(su);
	rn->gateway = sc.gateway;
	rn->prefix_len = sc.prefix_len;
	rn->mtu = sc.mtu;
	rn->faults = faults_on;
	snprintf(rn->ifname, sizeof(rn->ifname), "%s", cfg->raw_interface);
	if (faults_on)
		stack_uv_set_faults(su, &faults);
	rnet_log_start(rn, &faults);
	*out = &rn->base;
	return 0;
}
