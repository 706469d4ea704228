/* test_server.c — listeners, TCP framing, ACL, against a real libuv loop.
 *
 * The server and its clients (libuv UDP/TCP handles too) share one loop on
 * 127.0.0.1 (and ::1 when the host has it), on a port found free by
 * binding port 0.  Nothing sleeps: run_until() turns the loop until a
 * condition holds or a uv timer says it is too late.  "No answer" is shown
 * by first waiting for the server's own counter to move (so the packet was
 * handled) and then for a short timer.  The teardown releases held
 * clients, stops and frees the server, runs the loop dry and requires
 * uv_loop_close() to succeed: every handle closed, and ASan checks that
 * every byte went back. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "msg.h"
#include "server.h"

#define MAX_HELD 256
#define MAX_TCP_CLIENTS 4

enum cb_mode { CB_ANSWER, CB_BIG, CB_HOLD };

static uv_loop_t loop;
static uv_timer_t tick;
static bool timed_out;
static struct config cfg;
static struct cfg_listen listen_addrs[2];
static struct cfg_acl acls[4];
static struct server *srv;
static uint16_t port;

static enum cb_mode mode;
static int ncalls;
static struct msg_query last_q;
static struct server_client *held[MAX_HELD];
static struct msg_query heldq[MAX_HELD];
static int nheld;

/* ---- answers the callback gives --------------------------------------- */

static ldns_rr_list *answer_rrs(const struct msg_query *q, int n_txt)
{
	ldns_rr_list *l = ldns_rr_list_new();
	char text[300], blob[201];

	ck_assert_ptr_nonnull(l);
	for (int i = 0; i < (n_txt ? n_txt : 1); i++) {
		ldns_rr *rr = NULL;
		memset(blob, 'a' + i % 26, 200);
		blob[200] = 0;
		if (n_txt)
			snprintf(text, sizeof(text), "x. 300 IN TXT \"%s\"", blob);
		else
			snprintf(text, sizeof(text), "x. 300 IN A 192.0.2.1");
		ck_assert_int_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_rdf_deep_free(ldns_rr_owner(rr));
		ldns_rr_set_owner(rr, msg_qname_rdf(q, true));
		ck_assert(ldns_rr_list_push_rr(l, rr));
	}
	return l;
}

static void reply_to(struct server_client *c, const struct msg_query *q, int n_txt)
{
	static uint8_t wire[65535];
	ldns_rr_list *an = answer_rrs(q, n_txt);
	size_t n = msg_build_response(q, LDNS_RCODE_NOERROR, an, NULL, NULL,
				      server_client_max_len(c, q), wire, sizeof(wire));

	ck_assert_uint_gt(n, 0);
	ldns_rr_list_deep_free(an);
	server_reply(c, wire, n);
}

static void on_query(void *ud, struct server_client *c, const struct msg_query *q)
{
	ncalls++;
	last_q = *q;
	switch (mode) {
	case CB_ANSWER:
		reply_to(c, q, 0);
		break;
	case CB_BIG:
		reply_to(c, q, 20);
		break;
	case CB_HOLD:
		ck_assert_int_lt(nheld, MAX_HELD);
		held[nheld] = c;
		heldq[nheld++] = *q;
		break;
	}
}

/* ---- loop driving ----------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	timed_out = true;
}

typedef bool (*pred_fn)(const void *arg);

static bool run_until(pred_fn pred, const void *arg, unsigned ms)
{
	timed_out = false;
	uv_timer_start(&tick, on_tick, ms, 0);
	while (!pred(arg) && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&tick);
	return pred(arg);
}

static bool never(const void *arg)
{
	return false;
}

static void run_for(unsigned ms)
{
	run_until(never, NULL, ms);
}

static struct server_stats stats(void)
{
	struct server_stats st;
	server_get_stats(srv, &st);
	return st;
}

/* Offset of a counter in struct server_stats, waited on until it is >= 1. */
static bool stat_nonzero(const void *arg)
{
	struct server_stats st = stats();
	size_t off = *(const size_t *)arg;
	return *(const uint64_t *)((const char *)&st + off) > 0;
}

static bool wait_stat(size_t off, unsigned ms)
{
	return run_until(stat_nonzero, &off, ms);
}

#define WAIT_STAT(field, ms) wait_stat(offsetof(struct server_stats, field), (ms))

/* ---- packets ---------------------------------------------------------- */

/* A query for name (dotted, case kept); edns_size 0 = no OPT. */
static size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qdcount,
			 uint16_t edns_size)
{
	size_t n = 12;

	memset(out, 0, 12);
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = 0x01; /* RD */
	out[5] = (uint8_t)qdcount;
	out[11] = edns_size ? 1 : 0;
	for (unsigned k = 0; k < (qdcount ? qdcount : 1); k++) {
		for (const char *s = name; *s;) {
			const char *dot = strchr(s, '.');
			size_t l = dot ? (size_t)(dot - s) : strlen(s);
			out[n++] = (uint8_t)l;
			memcpy(out + n, s, l);
			n += l;
			s += l + (dot ? 1 : 0);
		}
		out[n++] = 0;
		out[n++] = 0;
		out[n++] = LDNS_RR_TYPE_TXT;
		out[n++] = 0;
		out[n++] = LDNS_RR_CLASS_IN;
		if (!qdcount)
			n = 12;
	}
	if (edns_size) {
		const uint8_t opt[11] = { 0, 0, 41, (uint8_t)(edns_size >> 8), (uint8_t)edns_size,
					  0, 0, 0, 0, 0, 0 };
		memcpy(out + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

static ldns_pkt *decode(const uint8_t *wire, size_t len)
{
	ldns_pkt *p = NULL;
	ck_assert_int_eq(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
	return p;
}

/* ---- UDP client ------------------------------------------------------- */

struct uclient {
	uv_udp_t h;
	int family;
	bool inited;
	int nrx;
	size_t rxlen;
	uint8_t rx[65536];
};

static struct uclient uc;

static void server_addr(int family, struct sockaddr_storage *ss)
{
	if (family == AF_INET6)
		ck_assert_int_eq(uv_ip6_addr("::1", port, (struct sockaddr_in6 *)ss), 0);
	else
		ck_assert_int_eq(uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)ss), 0);
}

static void uc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct uclient *u = h->data;
	buf->base = (char *)u->rx;
	buf->len = sizeof(u->rx);
}

static void uc_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *addr, unsigned flags)
{
	struct uclient *u = h->data;
	if (nread <= 0 || !addr)
		return;
	u->rxlen = (size_t)nread;
	u->nrx++;
}

static void uc_open(struct uclient *u, int family)
{
	struct sockaddr_storage ss;

	u->family = family;
	if (family == AF_INET6)
		ck_assert_int_eq(uv_ip6_addr("::1", 0, (struct sockaddr_in6 *)&ss), 0);
	else
		ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&ss), 0);
	ck_assert_int_eq(uv_udp_init(&loop, &u->h), 0);
	u->h.data = u;
	u->inited = true;
	ck_assert_int_eq(uv_udp_bind(&u->h, (struct sockaddr *)&ss, 0), 0);
	ck_assert_int_eq(uv_udp_recv_start(&u->h, uc_alloc, uc_recv), 0);
}

static void uc_send(struct uclient *u, const uint8_t *wire, size_t len)
{
	struct sockaddr_storage ss;
	uv_buf_t b = uv_buf_init((char *)wire, (unsigned)len);

	server_addr(u->family, &ss);
	u->nrx = 0;
	ck_assert_int_eq(uv_udp_try_send(&u->h, &b, 1, (struct sockaddr *)&ss), (int)len);
}

static void uc_close(struct uclient *u)
{
	if (u->inited && !uv_is_closing((uv_handle_t *)&u->h))
		uv_close((uv_handle_t *)&u->h, NULL);
}

static bool uc_got(const void *arg)
{
	const struct uclient *u = arg;
	return u->nrx > 0;
}

/* ---- TCP client ------------------------------------------------------- */

struct tclient {
	uv_tcp_t h;
	uv_connect_t creq;
	uv_shutdown_t sreq;
	bool inited, connected, closed, reading;
	int connect_status;
	size_t rxlen;
	uint8_t rx[256 * 1024];
};

static struct tclient tcs[MAX_TCP_CLIENTS];

static void tc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tclient *t = h->data;
	buf->base = (char *)t->rx + t->rxlen;
	buf->len = sizeof(t->rx) - t->rxlen;
}

static void tc_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct tclient *t = st->data;

	if (nread > 0) {
		t->rxlen += (size_t)nread;
	} else if (nread < 0) {
		t->closed = true;
		uv_read_stop(st);
	}
}

static void tc_on_connect(uv_connect_t *req, int status)
{
	struct tclient *t = req->data;

	t->connected = true;
	t->connect_status = status;
	if (status == 0 && t->reading)
		ck_assert_int_eq(uv_read_start((uv_stream_t *)&t->h, tc_alloc, tc_read), 0);
}

static bool tc_is_connected(const void *arg)
{
	return ((const struct tclient *)arg)->connected;
}

static bool tc_is_closed(const void *arg)
{
	return ((const struct tclient *)arg)->closed;
}

/* rcvbuf > 0 shrinks the client's receive buffer (a slow reader). */
static void tc_connect(struct tclient *t, int family, bool reading, int rcvbuf)
{
	struct sockaddr_storage ss;

	server_addr(family, &ss);
	t->reading = reading;
	ck_assert_int_eq(uv_tcp_init_ex(&loop, &t->h, (unsigned)family), 0);
	t->h.data = t->creq.data = t;
	t->inited = true;
	if (rcvbuf)
		ck_assert_int_eq(uv_recv_buffer_size((uv_handle_t *)&t->h, &rcvbuf), 0);
	ck_assert_int_eq(uv_tcp_connect(&t->creq, &t->h, (struct sockaddr *)&ss, tc_on_connect),
			 0);
	ck_assert(run_until(tc_is_connected, t, 2000));
	ck_assert_int_eq(t->connect_status, 0);
}

static void tc_write(struct tclient *t, const uint8_t *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	ck_assert_int_eq(uv_try_write((uv_stream_t *)&t->h, &b, 1), (int)len);
}

static void tc_query(struct tclient *t, uint16_t id, const char *name, uint16_t qd)
{
	uint8_t buf[600];
	size_t n = make_query(buf + 2, id, name, qd, 0);

	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	tc_write(t, buf, n + 2);
}

/* The idx-th complete frame received, or NULL. */
static const uint8_t *tc_frame(const struct tclient *t, int idx, size_t *len)
{
	size_t off = 0;

	for (int i = 0; off + 2 <= t->rxlen; i++) {
		size_t flen = (size_t)t->rx[off] << 8 | t->rx[off + 1];
		if (off + 2 + flen > t->rxlen)
			return NULL;
		if (i == idx) {
			*len = flen;
			return t->rx + off + 2;
		}
		off += 2 + flen;
	}
	return NULL;
}

struct frames_wait {
	const struct tclient *t;
	int n;
};

static bool tc_has_frames(const void *arg)
{
	const struct frames_wait *w = arg;
	size_t len;
	return tc_frame(w->t, w->n - 1, &len) != NULL;
}

static bool tc_wait_frames(const struct tclient *t, int n, unsigned ms)
{
	struct frames_wait w = { t, n };
	return run_until(tc_has_frames, &w, ms);
}

static uint16_t frame_id(const struct tclient *t, int idx)
{
	size_t len = 0;
	const uint8_t *f = tc_frame(t, idx, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_ge(len, 12);
	return (uint16_t)(f[0] << 8 | f[1]);
}

static void tc_close(struct tclient *t)
{
	if (t->inited && !uv_is_closing((uv_handle_t *)&t->h))
		uv_close((uv_handle_t *)&t->h, NULL);
}

static bool held_reaches(const void *arg)
{
	return nheld >= *(const int *)arg;
}

static bool wait_held(int n, unsigned ms)
{
	return run_until(held_reaches, &n, ms);
}

static bool no_tcp_open(const void *arg)
{
	return stats().tcp_open == 0;
}

/* ---- fixture ---------------------------------------------------------- */

/* A port free for both UDP and TCP on 127.0.0.1. */
static uint16_t free_port(void)
{
	for (int tries = 0; tries < 100; tries++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert(u >= 0 && t >= 0);
		bool ok = bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			  getsockname(u, (struct sockaddr *)&a, &al) == 0 &&
			  bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(u);
		close(t);
		if (ok)
			return ntohs(a.sin_port);
	}
	ck_abort_msg("no free port on 127.0.0.1");
	return 0;
}

/* Can this host bind ::1 on our port (UDP and TCP)? */
static bool have_ipv6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				  .sin6_port = htons(port) };
	int u = socket(AF_INET6, SOCK_DGRAM, 0), t = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = u >= 0 && t >= 0 && bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return ok;
}

static void set_listen(int i, int family)
{
	struct cfg_listen *l = &listen_addrs[i];

	memset(l, 0, sizeof(*l));
	server_addr(family, &l->addr);
	l->addrlen = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void set_acl(int i, int family, const char *net, uint8_t prefix, enum acl_action act)
{
	memset(&acls[i], 0, sizeof(acls[i]));
	acls[i].family = family;
	ck_assert_int_eq(inet_pton(family, net, acls[i].addr), 1);
	acls[i].prefix = prefix;
	acls[i].action = act;
	if ((size_t)i + 1 > cfg.n_acl)
		cfg.n_acl = (size_t)i + 1;
}

static bool last_tcp;
static size_t last_max;
static struct sockaddr_storage last_peer;

static void record_client(struct server_client *c, const struct msg_query *q)
{
	const struct sockaddr *sa = server_client_addr(c);

	last_tcp = server_client_is_tcp(c);
	last_max = server_client_max_len(c, q);
	memcpy(&last_peer, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in));
}

static void on_query_recording(void *ud, struct server_client *c, const struct msg_query *q)
{
	record_client(c, q);
	on_query(ud, c, q);
}

static void setup(void)
{
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &tick), 0);
	memset(&cfg, 0, sizeof(cfg));
	memset(&uc, 0, sizeof(uc));
	memset(tcs, 0, sizeof(tcs));
	memset(held, 0, sizeof(held));
	memset(&last_peer, 0, sizeof(last_peer));
	nheld = ncalls = 0;
	mode = CB_ANSWER;
	srv = NULL;
	port = free_port();
	set_listen(0, AF_INET);
	cfg.listen = listen_addrs;
	cfg.n_listen = 1;
	cfg.acl = acls;
	set_acl(0, AF_INET, "127.0.0.0", 8, ACL_ALLOW);
	set_acl(1, AF_INET6, "::1", 128, ACL_ALLOW);
	cfg.max_tcp_clients = 16;
	cfg.tcp_idle_timeout_ms = 10000;
	cfg.max_udp_size = 1232;
	cfg.max_queries_in_flight = 4096;
}

static void start(void)
{
	srv = server_new(&loop, &cfg, on_query_recording, NULL);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(server_start(srv), 0);
}

static void teardown(void)
{
	for (int i = 0; i < nheld; i++)
		if (held[i])
			server_drop(held[i]);
	nheld = 0;
	uc_close(&uc);
	for (int i = 0; i < MAX_TCP_CLIENTS; i++)
		tc_close(&tcs[i]);
	if (srv) {
		server_stop(srv);
		server_free(srv);
		srv = NULL;
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* Reply to a held client with a small answer and forget it. */
static void answer_held(int i)
{
	reply_to(held[i], &heldq[i], 0);
	held[i] = NULL;
}

/* ---- UDP tests -------------------------------------------------------- */

START_TEST(udp_query_answered)
{
	uint8_t q[512];
	size_t n = make_query(q, 0x4242, "WwW.Example.com", 1, 0);
	struct sockaddr_storage mine;
	int mlen = sizeof(mine);

	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_int_eq(ncalls, 1);
	ck_assert(!last_tcp);
	ck_assert_uint_eq(last_max, 512);
	ck_assert_mem_eq(last_q.qname, "\3WwW\7Example\3com", 17);
	ck_assert_int_eq(uv_udp_getsockname(&uc.h, (struct sockaddr *)&mine, &mlen), 0);
	ck_assert_int_eq(last_peer.ss_family, AF_INET);
	ck_assert_uint_eq(((struct sockaddr_in *)&last_peer)->sin_port,
			  ((struct sockaddr_in *)&mine)->sin_port);

	ldns_pkt *p = decode(uc.rx, uc.rxlen);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x4242);
	ck_assert(ldns_pkt_qr(p));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);

	struct server_stats st = stats();
	ck_assert_uint_eq(st.udp_queries, 1);
	ck_assert_uint_eq(st.replies, 1);
	ck_assert_uint_eq(st.truncated, 0);
}
END_TEST

START_TEST(udp_formerr_qdcount2)
{
	uint8_t q[512];
	size_t n = make_query(q, 77, "example.com", 2, 0);

	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_int_eq(ncalls, 0);
	ldns_pkt *p = decode(uc.rx, uc.rxlen);
	ck_assert_uint_eq(ldns_pkt_id(p), 77);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
	ldns_pkt_free(p);
	ck_assert_uint_eq(stats().formerr, 1);
	ck_assert_uint_eq(stats().replies, 1);
}
END_TEST

START_TEST(udp_short_and_qr_dropped)
{
	uint8_t q[512];
	size_t n = make_query(q, 5, "example.com", 1, 0);

	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, 11);
	ck_assert(WAIT_STAT(dropped, 2000));
	q[2] |= 0x80; /* QR: a response, never answered */
	uc_send(&uc, q, n);
	run_for(150);
	ck_assert_int_eq(uc.nrx, 0);
	ck_assert_uint_eq(stats().dropped, 2);
	ck_assert_int_eq(ncalls, 0);

	/* The listener is still fine. */
	q[2] &= 0x7f;
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_int_eq(ncalls, 1);
}
END_TEST

START_TEST(udp_acl_refuse)
{
	uint8_t q[512];
	size_t n = make_query(q, 9, "example.com", 1, 0);

	set_acl(2, AF_INET, "127.0.0.1", 32, ACL_REFUSE);
	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_int_eq(ncalls, 0);
	ldns_pkt *p = decode(uc.rx, uc.rxlen);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
	ldns_pkt_free(p);
	ck_assert_uint_eq(stats().acl_refused, 1);

	/* Garbage from a refused client is dropped, not refused. */
	uc_send(&uc, q, 11);
	ck_assert(WAIT_STAT(dropped, 2000));
	run_for(100);
	ck_assert_int_eq(uc.nrx, 0);
	ck_assert_uint_eq(stats().acl_refused, 1);
}
END_TEST

START_TEST(udp_acl_deny)
{
	uint8_t q[512];
	size_t n = make_query(q, 9, "example.com", 1, 0);

	set_acl(2, AF_INET, "127.0.0.1", 32, ACL_DENY);
	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, n);
	ck_assert(WAIT_STAT(acl_denied, 2000));
	run_for(150);
	ck_assert_int_eq(uc.nrx, 0);
	ck_assert_int_eq(ncalls, 0);
	ck_assert_uint_eq(stats().replies, 0);
}
END_TEST

START_TEST(udp_truncation)
{
	uint8_t q[512];
	size_t n;
	ldns_pkt *p;

	mode = CB_BIG;
	start();
	uc_open(&uc, AF_INET);

	n = make_query(q, 1, "big.example.com", 1, 0);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_uint_eq(last_max, 512);
	ck_assert_uint_le(uc.rxlen, 512);
	p = decode(uc.rx, uc.rxlen);
	ck_assert(ldns_pkt_tc(p));
	ldns_pkt_free(p);

	n = make_query(q, 2, "big.example.com", 1, 4096);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_uint_eq(last_max, 1232); /* capped by max-udp-size */
	ck_assert_uint_le(uc.rxlen, 1232);
	p = decode(uc.rx, uc.rxlen);
	ck_assert(ldns_pkt_tc(p));
	ck_assert_uint_eq(ldns_pkt_edns_udp_size(p), 1232); /* our size, from cfg */
	ldns_pkt_free(p);

	ck_assert_uint_eq(stats().truncated, 2);
	ck_assert_uint_eq(stats().replies, 2);
}
END_TEST

START_TEST(udp_reply_after_stop)
{
	uint8_t q[512];
	size_t n = make_query(q, 3, "example.com", 1, 0);

	mode = CB_HOLD;
	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, n);
	ck_assert(wait_held(1, 2000));
	server_stop(srv);
	answer_held(0); /* discarded: the listener is closed */
	run_for(100);
	ck_assert_int_eq(uc.nrx, 0);
	ck_assert_uint_eq(stats().replies, 0);
}
END_TEST

/* ---- UDP batches (net_kernel.c reads up to 32 datagrams per recvmmsg and
 * sends the replies made inside the batch with one sendmmsg) ------------ */

#define BURST 100 /* three full batches and a short one */

/* A plain blocking socket: the burst is queued at the server before its
 * loop runs, so the listener sees full batches. */
static int burst_socket_at(uint32_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static int burst_socket(void)
{
	return burst_socket_at(INADDR_LOOPBACK);
}

static void burst_send(int fd, uint16_t first_id, int n)
{
	struct sockaddr_storage ss;
	uint8_t q[512];

	server_addr(AF_INET, &ss);
	for (int i = 0; i < n; i++) {
		size_t len = make_query(q, (uint16_t)(first_id + i), "Burst.Example.com", 1, 0);
		ck_assert_int_eq(sendto(fd, q, len, 0, (struct sockaddr *)&ss,
					sizeof(struct sockaddr_in)), (ssize_t)len);
	}
}

/* Every reply in the socket: each ID in [first_id, first_id + n) exactly
 * once, each a NOERROR answer to the question asked. */
static void burst_check(int fd, uint16_t first_id, int n)
{
	bool seen[BURST] = { false };
	uint8_t buf[2048];

	for (int i = 0; i < n; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		ck_assert_int_gt(r, 12);
		ldns_pkt *p = decode(buf, (size_t)r);
		int k = ldns_pkt_id(p) - first_id;
		ck_assert_int_ge(k, 0);
		ck_assert_int_lt(k, n);
		ck_assert(!seen[k]);
		seen[k] = true;
		ck_assert(ldns_pkt_qr(p));
		ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
		ldns_pkt_free(p);
	}
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
}

static bool replies_reach(const void *arg)
{
	return stats().replies >= *(const uint64_t *)arg;
}

/* Replies made inside the batch (the callback answers at once) go out
 * together after it; every query gets its own answer at its own ID. */
START_TEST(udp_burst_answered_in_batches)
{
	uint64_t want = BURST;
	int fd = burst_socket();

	start();
	burst_send(fd, 1000, BURST);
	ck_assert(run_until(replies_reach, &want, 2000));
	ck_assert_int_eq(ncalls, BURST);
	burst_check(fd, 1000, BURST);
	ck_assert_uint_eq(stats().udp_queries, BURST);
	close(fd);
}
END_TEST

/* Replies made later (a resolution finishing) go out one by one. */
START_TEST(udp_burst_answered_later)
{
	uint64_t want = BURST;
	int fd = burst_socket();

	mode = CB_HOLD;
	start();
	burst_send(fd, 2000, BURST);
	ck_assert(wait_held(BURST, 2000));
	for (int i = BURST - 1; i >= 0; i--)
		answer_held(i);
	ck_assert(run_until(replies_reach, &want, 2000));
	burst_check(fd, 2000, BURST);
	close(fd);
}
END_TEST

static uint16_t recv_rcode(int fd)
{
	uint8_t buf[2048];
	ssize_t r = recv(fd, buf, sizeof(buf), 0);

	ck_assert_int_ge(r, 12);
	return buf[3] & 0xf;
}

/* Clients of different verdicts interleaved in one batch: the ACL memo
 * (the last client's verdict) must follow every change of address. */
START_TEST(udp_acl_interleaved_clients)
{
	uint64_t want = 4;
	int ok = burst_socket_at(INADDR_LOOPBACK);
	int refused = burst_socket_at(INADDR_LOOPBACK + 1);

	set_acl(2, AF_INET, "127.0.0.2", 32, ACL_REFUSE);
	start();
	burst_send(ok, 1, 1);
	burst_send(refused, 2, 1);
	burst_send(ok, 3, 1);
	burst_send(refused, 4, 1);
	ck_assert(run_until(replies_reach, &want, 2000));
	ck_assert_uint_eq(recv_rcode(ok), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(recv_rcode(ok), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(recv_rcode(refused), LDNS_RCODE_REFUSED);
	ck_assert_uint_eq(recv_rcode(refused), LDNS_RCODE_REFUSED);
	ck_assert_int_eq(ncalls, 2);
	ck_assert_uint_eq(stats().acl_refused, 2);
	close(ok);
	close(refused);
}
END_TEST

/* A listener takes queries of up to 4096 bytes (trailing bytes after the
 * counted sections are ignored by the parser); a longer datagram is no
 * query any client sends and is dropped without reaching the server. */
START_TEST(udp_oversize_datagram_dropped)
{
	static uint8_t q[5000];
	size_t n = make_query(q, 9, "example.com", 1, 0);

	memset(q + n, 0xab, sizeof(q) - n);
	start();
	uc_open(&uc, AF_INET);
	uc_send(&uc, q, 4096);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_uint_eq(stats().udp_queries, 1);
	q[1] = 10;
	uc_send(&uc, q, sizeof(q));
	run_for(200);
	ck_assert_int_eq(uc.nrx, 0);
	ck_assert_uint_eq(stats().udp_queries, 1);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_uint_eq(stats().udp_queries, 2);
}
END_TEST

/* v4 and v6 on the same port (IPV6_V6ONLY keeps them apart). */
START_TEST(dual_stack)
{
	uint8_t q[512];
	size_t n = make_query(q, 6, "example.com", 1, 0);

	if (!have_ipv6()) {
		fprintf(stderr, "dual_stack: no usable ::1 here, test not run\n");
		return;
	}
	set_listen(1, AF_INET6);
	cfg.n_listen = 2;
	start();
	uc_open(&uc, AF_INET6);
	uc_send(&uc, q, n);
	ck_assert(run_until(uc_got, &uc, 2000));
	ck_assert_int_eq(last_peer.ss_family, AF_INET6);

	tc_connect(&tcs[0], AF_INET6, true, 0);
	tc_query(&tcs[0], 8, "example.com", 1);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	ck_assert_uint_eq(frame_id(&tcs[0], 0), 8);
	ck_assert(last_tcp);
}
END_TEST

START_TEST(start_errors)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* Someone else (without SO_REUSEPORT) holds the TCP port. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uv_ip4_addr("127.0.0.1", port, &a), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	srv = server_new(&loop, &cfg, on_query, NULL);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(server_start(srv), -EADDRINUSE);
	close(fd);
	server_free(srv); /* before the loop ran: the close callbacks free it */
	srv = NULL;

	cfg.n_listen = 0;
	srv = server_new(&loop, &cfg, on_query, NULL);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(server_start(srv), -EINVAL);
}
END_TEST

/* ---- TCP tests -------------------------------------------------------- */

START_TEST(tcp_pipelined)
{
	uint8_t buf[1200];
	size_t n1 = make_query(buf + 2, 101, "one.example.com", 1, 0);
	size_t n2 = make_query(buf + 4 + n1, 102, "two.example.com", 1, 1232);

	buf[0] = 0;
	buf[1] = (uint8_t)n1;
	buf[2 + n1] = 0;
	buf[3 + n1] = (uint8_t)n2;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_write(&tcs[0], buf, n1 + n2 + 4); /* both in one segment */
	ck_assert(tc_wait_frames(&tcs[0], 2, 2000));
	uint16_t a = frame_id(&tcs[0], 0), b = frame_id(&tcs[0], 1);
	ck_assert((a == 101 && b == 102) || (a == 102 && b == 101));
	ck_assert(last_tcp);
	ck_assert_uint_eq(last_max, MSG_MAX_TCP);

	struct server_stats st = stats();
	ck_assert_uint_eq(st.tcp_queries, 2);
	ck_assert_uint_eq(st.tcp_accepted, 1);
	ck_assert_uint_eq(st.tcp_open, 1);
	ck_assert_uint_eq(st.replies, 2);
}
END_TEST

START_TEST(tcp_out_of_order)
{
	start();
	mode = CB_HOLD;
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 1, "a.example.com", 1);
	tc_query(&tcs[0], 2, "b.example.com", 1);
	ck_assert(wait_held(2, 2000));
	answer_held(1);
	answer_held(0);
	ck_assert(tc_wait_frames(&tcs[0], 2, 2000));
	ck_assert_uint_eq(frame_id(&tcs[0], 0), 2);
	ck_assert_uint_eq(frame_id(&tcs[0], 1), 1);
}
END_TEST

/* A query trickled in pieces, the length prefix itself split. */
START_TEST(tcp_split_frame)
{
	uint8_t buf[600];
	size_t n = make_query(buf + 2, 55, "split.example.com", 1, 0);

	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_write(&tcs[0], buf, 1);
	run_for(20);
	tc_write(&tcs[0], buf + 1, 6);
	run_for(20);
	ck_assert_int_eq(ncalls, 0);
	tc_write(&tcs[0], buf + 7, n + 2 - 7);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	ck_assert_uint_eq(frame_id(&tcs[0], 0), 55);
}
END_TEST

START_TEST(tcp_big_answer_not_truncated)
{
	size_t len = 0;

	mode = CB_BIG;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 9, "big.example.com", 1);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	const uint8_t *f = tc_frame(&tcs[0], 0, &len);
	ck_assert_uint_gt(len, 4000);
	ldns_pkt *p = decode(f, len);
	ck_assert(!ldns_pkt_tc(p));
	ck_assert_uint_eq(ldns_pkt_ancount(p), 20);
	ldns_pkt_free(p);
	ck_assert_uint_eq(stats().truncated, 0);
}
END_TEST

START_TEST(tcp_formerr)
{
	size_t len = 0;

	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 31, "example.com", 2);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	const uint8_t *f = tc_frame(&tcs[0], 0, &len);
	ck_assert_ptr_nonnull(f);
	ldns_pkt *p = decode(f, len);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
	ldns_pkt_free(p);
	ck_assert_int_eq(ncalls, 0);
}
END_TEST

START_TEST(tcp_acl)
{
	size_t len = 0;

	set_acl(2, AF_INET, "127.0.0.1", 32, ACL_REFUSE);
	set_acl(3, AF_INET, "127.0.0.2", 32, ACL_DENY);
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 41, "example.com", 1);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	const uint8_t *f = tc_frame(&tcs[0], 0, &len);
	ck_assert_ptr_nonnull(f);
	ldns_pkt *p = decode(f, len);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	ck_assert_uint_eq(stats().acl_refused, 1);

	/* Denied: the connection is closed without a word. */
	set_acl(2, AF_INET, "127.0.0.1", 32, ACL_DENY);
	tc_connect(&tcs[1], AF_INET, true, 0);
	ck_assert(run_until(tc_is_closed, &tcs[1], 2000));
	ck_assert_uint_eq(tcs[1].rxlen, 0);
	ck_assert_uint_eq(stats().acl_denied, 1);
	ck_assert_int_eq(ncalls, 0);
}
END_TEST

/* The client resets with a query pending: the handle stays valid and the
 * late reply is discarded. */
START_TEST(tcp_client_gone_with_pending)
{
	mode = CB_HOLD;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 1, "example.com", 1);
	ck_assert(wait_held(1, 2000));
	ck_assert_int_eq(uv_tcp_close_reset(&tcs[0].h, NULL), 0);
	ck_assert(run_until(no_tcp_open, NULL, 2000));
	run_for(20); /* let the server's close callbacks run */
	answer_held(0);
	ck_assert_uint_eq(stats().replies, 0);
}
END_TEST

/* FIN after the query: the answer still goes out, then the server closes. */
START_TEST(tcp_half_close)
{
	mode = CB_HOLD;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 12, "example.com", 1);
	ck_assert(wait_held(1, 2000));
	ck_assert_int_eq(uv_shutdown(&tcs[0].sreq, (uv_stream_t *)&tcs[0].h, NULL), 0);
	run_for(100);
	ck_assert(!tcs[0].closed);
	answer_held(0);
	ck_assert(run_until(tc_is_closed, &tcs[0], 2000));
	ck_assert_uint_eq(frame_id(&tcs[0], 0), 12);
	ck_assert_uint_eq(stats().tcp_open, 0);
}
END_TEST

START_TEST(tcp_idle_timeout)
{
	cfg.tcp_idle_timeout_ms = 200;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	ck_assert(run_until(tc_is_closed, &tcs[0], 3000));
	ck_assert_uint_eq(stats().tcp_idle_closed, 1);
	ck_assert_uint_eq(stats().tcp_open, 0);
}
END_TEST

START_TEST(tcp_idle_suspended_while_pending)
{
	cfg.tcp_idle_timeout_ms = 200;
	mode = CB_HOLD;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_query(&tcs[0], 21, "slow.example.com", 1);
	ck_assert(wait_held(1, 2000));
	run_for(500); /* well past the idle timeout */
	ck_assert(!tcs[0].closed);
	ck_assert_uint_eq(stats().tcp_idle_closed, 0);
	answer_held(0);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	ck_assert(run_until(tc_is_closed, &tcs[0], 3000)); /* idle again */
	ck_assert_uint_eq(stats().tcp_idle_closed, 1);
}
END_TEST

START_TEST(tcp_max_clients)
{
	cfg.max_tcp_clients = 1;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	ck_assert(WAIT_STAT(tcp_accepted, 2000));
	tc_connect(&tcs[1], AF_INET, true, 0);
	ck_assert(run_until(tc_is_closed, &tcs[1], 2000));
	ck_assert_uint_eq(stats().tcp_rejected_limit, 1);
	ck_assert_uint_eq(stats().tcp_accepted, 1);

	tc_query(&tcs[0], 61, "example.com", 1);
	ck_assert(tc_wait_frames(&tcs[0], 1, 2000));
	ck_assert(!tcs[0].closed);
	ck_assert_uint_eq(stats().tcp_open, 1);
}
END_TEST

START_TEST(tcp_bogus_length_idles_out)
{
	static const uint8_t junk[12] = { 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

	cfg.tcp_idle_timeout_ms = 200;
	start();
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_write(&tcs[0], junk, sizeof(junk));
	ck_assert(run_until(tc_is_closed, &tcs[0], 3000));
	ck_assert_int_eq(ncalls, 0);
	ck_assert_uint_eq(stats().tcp_queries, 0);
	ck_assert_uint_eq(stats().tcp_idle_closed, 1);
}
END_TEST

START_TEST(tcp_zero_length_closes)
{
	static const uint8_t zero[2] = { 0, 0 };

	start(); /* idle timeout 10 s: a close now is not the timer */
	tc_connect(&tcs[0], AF_INET, true, 0);
	tc_write(&tcs[0], zero, sizeof(zero));
	ck_assert(run_until(tc_is_closed, &tcs[0], 2000));
	ck_assert_uint_eq(stats().tcp_idle_closed, 0);
	ck_assert_uint_eq(stats().tcp_open, 0);
}
END_TEST

/* A client that never reads: answers pile up past the cap and the
 * connection is cut instead of our memory growing. */
START_TEST(tcp_slow_reader_cut)
{
	static uint8_t reply[60000];
	enum { N = 200 };
	static uint8_t buf[N * 40];
	size_t off = 0;

	mode = CB_HOLD;
	start();
	tc_connect(&tcs[0], AF_INET, false, 4096);
	for (int i = 0; i < N; i++) {
		size_t n = make_query(buf + off + 2, (uint16_t)i, "x.example", 1, 0);
		buf[off] = 0;
		buf[off + 1] = (uint8_t)n;
		off += n + 2;
	}
	tc_write(&tcs[0], buf, off);
	ck_assert(wait_held(N, 5000));
	memset(reply, 0, sizeof(reply));
	for (int i = 0; i < N; i++) {
		reply[0] = (uint8_t)(i >> 8);
		reply[1] = (uint8_t)i;
		server_reply(held[i], reply, sizeof(reply));
		held[i] = NULL;
	}
	ck_assert_uint_eq(stats().tcp_slow_closed, 1);
	ck_assert(run_until(no_tcp_open, NULL, 2000));
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tu = tcase_create("udp");
	TCase *tt = tcase_create("tcp");

	tcase_add_checked_fixture(tu, setup, teardown);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_add_test(tu, udp_query_answered);
	tcase_add_test(tu, udp_formerr_qdcount2);
	tcase_add_test(tu, udp_short_and_qr_dropped);
	tcase_add_test(tu, udp_acl_refuse);
	tcase_add_test(tu, udp_acl_deny);
	tcase_add_test(tu, udp_truncation);
	tcase_add_test(tu, udp_reply_after_stop);
	tcase_add_test(tu, dual_stack);
	tcase_add_test(tu, udp_burst_answered_in_batches);
	tcase_add_test(tu, udp_burst_answered_later);
	tcase_add_test(tu, udp_oversize_datagram_dropped);
	tcase_add_test(tu, udp_acl_interleaved_clients);
	tcase_add_test(tu, start_errors);
	tcase_add_test(tt, tcp_pipelined);
	tcase_add_test(tt, tcp_out_of_order);
	tcase_add_test(tt, tcp_split_frame);
	tcase_add_test(tt, tcp_big_answer_not_truncated);
	tcase_add_test(tt, tcp_formerr);
	tcase_add_test(tt, tcp_acl);
	tcase_add_test(tt, tcp_client_gone_with_pending);
	tcase_add_test(tt, tcp_half_close);
	tcase_add_test(tt, tcp_idle_timeout);
	tcase_add_test(tt, tcp_idle_suspended_while_pending);
	tcase_add_test(tt, tcp_max_clients);
	tcase_add_test(tt, tcp_bogus_length_idles_out);
	tcase_add_test(tt, tcp_zero_length_closes);
	tcase_add_test(tt, tcp_slow_reader_cut);
	suite_add_tcase(s, tu);
	suite_add_tcase(s, tt);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	log_init(LOGL_ERR, false, "test_server");
	/* In-process, so LeakSanitizer's exit check covers every test. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
