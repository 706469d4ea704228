/* test_net_raw.c — the raw-mode transport (net_raw.c) over two stacks
 * wired back to back in memory, and server.c and upstream.c talking to
 * each other through it.
 *
 * No TAP, no socket: stack A (198.18.0.2, the "daemon") and stack B
 * (198.18.0.1, the "kernel side") hand their frames to a queue that a
 * uv_prepare handle drains into the other stack, then it runs both
 * stacks' timers and arms a uv_timer for the next deadline — what
 * stack_uv does for a TAP.  The addresses exist only in this process.
 * Waiting is running the loop until a condition holds or a guard timer
 * fires (only when a test fails).  Every teardown closes every handle,
 * checks the loop is empty, and in sanitizer builds runs LeakSanitizer
 * on the spot (Check forks each test; the child's exit would hide a leak). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "infra.h"
#include "log.h"
#include "msg.h"
#include "server.h"
#include "stack.h"
#include "transport.h"
#include "upstream.h"

#include "leak.h"

#define ADDR_A 0xc6120002u /* 198.18.0.2: rootwalkd's side */
#define ADDR_B 0xc6120001u /* 198.18.0.1: the peer */
#define WAIT_MS 10000      /* guard: only reached when a test is failing */
#define BIG (300 * 1000)   /* several times the stack's send buffer */

/* ---- the in-memory link ------------------------------------------------ */

struct frame {
	struct frame *next;
	size_t len;
	uint8_t data[];
};

struct end {
	struct stack *st;
	struct net *net;
	struct frame *q, *tail; /* frames on their way to this stack */
};

static uv_loop_t loop;
static uv_prepare_t pump_h;
static uv_timer_t pump_timer, guard;
static bool guard_fired;
static struct end ea, eb;

static int link_out(struct end *to, const uint8_t *data, size_t len)
{
	struct frame *f = malloc(sizeof(*f) + len);

	if (!f)
		return -ENOMEM;
	memcpy(f->data, data, len);
	f->len = len;
	f->next = NULL;
	if (to->tail)
		to->tail->next = f;
	else
		to->q = f;
	to->tail = f;
	return 0;
}

static int out_a(void *ud, const uint8_t *frame, size_t len)
{
	return link_out(&eb, frame, len);
}

static int out_b(void *ud, const uint8_t *frame, size_t len)
{
	return link_out(&ea, frame, len);
}

static bool deliver_one(struct end *e, uint64_t now)
{
	struct frame *f = e->q;

	if (!f)
		return false;
	e->q = f->next;
	if (!e->q)
		e->tail = NULL;
	stack_input(e->st, f->data, f->len, now);
	free(f);
	return true;
}

static void pump_timer_cb(uv_timer_t *t)
{
	/* only wakes the loop: the work is done in pump_cb */
}

/* Deliver everything in flight, run both stacks' timers, and sleep until
 * the next deadline. */
static void pump_cb(uv_prepare_t *h)
{
	uint64_t now = uv_now(&loop);
	uint64_t next, nb;
	bool moved = false;

	for (int i = 0; i < 100000; i++) {
		bool a = deliver_one(&ea, now);
		bool b = deliver_one(&eb, now);

		if (!a && !b)
			break;
		moved = true;
	}
	next = stack_poll(ea.st, now);
	nb = stack_poll(eb.st, now);
	if (nb < next)
		next = nb;
	/* Callbacks ran (the test's condition may hold now) or frames are
	 * still queued: go round once more instead of sleeping. */
	if (moved || ea.q || eb.q)
		next = now;
	if (next == STACK_NEVER)
		uv_timer_stop(&pump_timer);
	else
		uv_timer_start(&pump_timer, pump_timer_cb, next > now ? next - now : 0, 0);
}

static void free_frames(struct end *e)
{
	while (e->q) {
		struct frame *f = e->q;

		e->q = f->next;
		free(f);
	}
	e->tail = NULL;
}

static void guard_cb(uv_timer_t *t)
{
	guard_fired = true;
}

/* Run the loop until cond(arg) or the guard; true when cond came true. */
static bool run_until_cond(bool (*cond)(const void *arg), const void *arg)
{
	guard_fired = false;
	ck_assert_int_eq(uv_timer_start(&guard, guard_cb, WAIT_MS, 0), 0);
	while (!cond(arg) && !guard_fired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&guard);
	return cond(arg);
}

static bool flag_set(const void *arg)
{
	return *(const bool *)arg;
}

static bool run_until(const bool *flag)
{
	return run_until_cond(flag_set, flag);
}

static void make_stack(struct end *e, uint32_t addr, stack_output_fn out)
{
	struct stack_cfg cfg;

	stack_cfg_default(&cfg);
	cfg.addr = addr;
	cfg.prefix_len = 24;
	ck_assert_int_eq(stack_new(&cfg, out, NULL, &e->st), 0);
	e->net = net_raw_wrap(&loop, e->st, addr);
	ck_assert_ptr_nonnull(e->net);
	ck_assert_int_eq(stack_start(e->st, uv_now(&loop)), 0);
}

static void setup(void)
{
	log_init(0, false, "test_net_raw");
	memset(&ea, 0, sizeof(ea));
	memset(&eb, 0, sizeof(eb));
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &guard), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &pump_timer), 0);
	ck_assert_int_eq(uv_prepare_init(&loop, &pump_h), 0);
	ck_assert_int_eq(uv_prepare_start(&pump_h, pump_cb), 0);
	make_stack(&ea, ADDR_A, out_a);
	make_stack(&eb, ADDR_B, out_b);
}

/* Tests close their handles; then the transports and stacks go. */
static void teardown(void)
{
	net_close(ea.net, NULL, NULL);
	net_close(eb.net, NULL, NULL);
	net_free(ea.net);
	net_free(eb.net);
	stack_free(ea.st);
	stack_free(eb.st);
	free_frames(&ea);
	free_frames(&eb);
	uv_close((uv_handle_t *)&pump_h, NULL);
	uv_close((uv_handle_t *)&pump_timer, NULL);
	uv_close((uv_handle_t *)&guard, NULL);
	ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	assert_no_leaks();
}

static void sin_set(struct sockaddr_in *sin, uint32_t addr, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	sin->sin_port = htons(port);
}

static uint32_t sin_addr(const struct sockaddr *sa)
{
	return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
}

static uint16_t sin_port(const struct sockaddr *sa)
{
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* ---- datagrams ---------------------------------------------------------- */

struct dg {
	struct net_dgram *d;
	int got;
	uint8_t data[2048];
	size_t len;
	struct sockaddr_storage from;
	bool echo, close_in_cb, done;
};

static void dg_recv(struct net_dgram *d, const uint8_t *data, size_t len,
		    const struct sockaddr *from, void *ud)
{
	struct dg *g = ud;

	g->got++;
	g->len = len < sizeof(g->data) ? len : sizeof(g->data);
	memcpy(g->data, data, g->len);
	memcpy(&g->from, from, sizeof(struct sockaddr_in));
	g->done = true;
	if (g->echo)
		ck_assert_int_eq(net_dgram_send(d, data, len, from), 0);
	if (g->close_in_cb) {
		net_dgram_close(d);
		g->d = NULL;
	}
}

static const struct net_dgram_cbs dg_cbs = { .recv = dg_recv };

START_TEST(udp_roundtrip_random_port)
{
	struct dg srv = { .echo = true }, cli = { 0 };
	struct sockaddr_in any, to;
	struct sockaddr_storage local;
	static const char msg[] = "hello over the raw stack";

	sin_set(&any, 0, 53);
	ck_assert_int_eq(net_dgram_open(ea.net, (struct sockaddr *)&any, NET_DGRAM_LISTEN,
					&dg_cbs, &srv, &srv.d), 0);
	sin_set(&any, 0, 0);
	ck_assert_int_eq(net_dgram_open(eb.net, (struct sockaddr *)&any, NET_DGRAM_RANDOM_PORT,
					&dg_cbs, &cli, &cli.d), 0);
	ck_assert_int_eq(net_dgram_local(cli.d, &local), 0);
	ck_assert_uint_eq(sin_addr((struct sockaddr *)&local), ADDR_B);
	ck_assert_uint_ge(sin_port((struct sockaddr *)&local), 1024);
	sin_set(&to, ADDR_A, 53);
	ck_assert_int_eq(net_dgram_send(cli.d, msg, sizeof(msg), (struct sockaddr *)&to), 0);
	ck_assert(run_until(&cli.done));
	/* the server saw the client's address and random port */
	ck_assert_int_eq(srv.got, 1);
	ck_assert_uint_eq(sin_addr((struct sockaddr *)&srv.from), ADDR_B);
	ck_assert_uint_eq(sin_port((struct sockaddr *)&srv.from),
			  sin_port((struct sockaddr *)&local));
	/* and the echo came from the server's address and port */
	ck_assert_uint_eq(cli.len, sizeof(msg));
	ck_assert_mem_eq(cli.data, msg, sizeof(msg));
	ck_assert_uint_eq(sin_addr((struct sockaddr *)&cli.from), ADDR_A);
	ck_assert_uint_eq(sin_port((struct sockaddr *)&cli.from), 53);
	net_dgram_close(srv.d);
	net_dgram_close(cli.d);
}
END_TEST

static bool udp_no_port_seen(const void *arg)
{
	struct stack_stats st;

	stack_get_stats(ea.st, &st);
	return st.drops[STACK_DROP_UDP_NO_PORT] > 0;
}

/* Closing from inside the receive callback: no later datagram arrives. */
START_TEST(udp_close_in_callback)
{
	struct dg srv = { .close_in_cb = true }, cli = { 0 };
	struct sockaddr_in any, to;
	struct stack_stats st;

	sin_set(&any, 0, 5300);
	ck_assert_int_eq(net_dgram_open(ea.net, (struct sockaddr *)&any, 0, &dg_cbs, &srv,
					&srv.d), 0);
	sin_set(&any, 0, 0);
	ck_assert_int_eq(net_dgram_open(eb.net, (struct sockaddr *)&any, NET_DGRAM_RANDOM_PORT,
					&dg_cbs, &cli, &cli.d), 0);
	sin_set(&to, ADDR_A, 5300);
	ck_assert_int_eq(net_dgram_send(cli.d, "1", 1, (struct sockaddr *)&to), 0);
	ck_assert_int_eq(net_dgram_send(cli.d, "2", 1, (struct sockaddr *)&to), 0);
	/* the second datagram finds the port closed */
	ck_assert(run_until_cond(udp_no_port_seen, NULL));
	ck_assert_int_eq(srv.got, 1);
	ck_assert_ptr_null(srv.d);
	stack_get_stats(ea.st, &st);
	ck_assert_uint_eq(st.drops[STACK_DROP_UDP_NO_PORT], 1);
	net_dgram_close(cli.d);
}
END_TEST

START_TEST(addresses_raw_mode_serves)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr_storage out;
	struct net_dgram *d = NULL;
	struct net_raw_info ri;

	sin_set(&v4, 0x7f000001u, 5353); /* 127.0.0.1@5353 -> our address, same port */
	ck_assert_int_eq(net_bind_addr(ea.net, (struct sockaddr *)&v4, &out), 0);
	ck_assert_uint_eq(sin_addr((struct sockaddr *)&out), ADDR_A);
	ck_assert_uint_eq(sin_port((struct sockaddr *)&out), 5353);
	memset(&v6, 0, sizeof(v6));
	v6.sin6_family = AF_INET6;
	v6.sin6_port = htons(53);
	ck_assert_int_eq(net_bind_addr(ea.net, (struct sockaddr *)&v6, &out), -EAFNOSUPPORT);
	ck_assert_int_eq(net_dgram_open(ea.net, (struct sockaddr *)&v6, NET_DGRAM_RANDOM_PORT,
					&dg_cbs, NULL, &d), -EAFNOSUPPORT);
	ck_assert_int_eq(net_dgram_open(ea.net, (struct sockaddr *)&v4, 0, &dg_cbs, NULL, &d),
			 -EADDRNOTAVAIL);
	ck_assert_ptr_null(d);
	ck_assert(net_raw_get_info(ea.net, &ri));
	ck_assert_ptr_eq(ri.st, ea.st);
	ck_assert_uint_eq(ri.addr, ADDR_A);
	ck_assert_str_eq(net_name(ea.net), "raw");
}
END_TEST

/* ---- streams ------------------------------------------------------------- */

struct conn {
	struct net_stream *s;
	uint8_t *got;
	size_t have, cap;
	size_t queued, written; /* what writes queued; what `written` reported */
	int connect_status, read_err;
	bool connected, eof, echo, close_on_accept, closed;
	struct sockaddr_storage peer;
};

static struct conn srv_conn, listener_state;

static void conn_read(struct net_stream *s, const uint8_t *data, ssize_t nread, void *ud)
{
	struct conn *c = ud;

	if (nread <= 0) {
		c->eof = true;
		c->read_err = (int)nread;
		if (c->echo) { /* the echo server closes once the client did */
			net_stream_close(s);
			c->s = NULL;
			c->closed = true;
		}
		return;
	}
	if (c->have + (size_t)nread > c->cap) {
		c->cap = c->have + (size_t)nread + BIG;
		c->got = realloc(c->got, c->cap);
		ck_assert_ptr_nonnull(c->got);
	}
	memcpy(c->got + c->have, data, (size_t)nread);
	c->have += (size_t)nread;
	if (c->echo) {
		struct iovec iov = { (void *)data, (size_t)nread };
		ssize_t r = net_stream_write(s, &iov, 1);

		ck_assert_int_ge(r, 0);
		c->queued += (size_t)r;
	}
}

static void conn_written(struct net_stream *s, size_t len, int status, void *ud)
{
	struct conn *c = ud;

	ck_assert_int_eq(status, 0);
	c->written += len;
}

static void conn_connected(struct net_stream *s, int status, void *ud)
{
	struct conn *c = ud;

	c->connected = true;
	c->connect_status = status;
}

static void conn_accept(struct net_stream *l, struct net_stream *s, void *ud)
{
	struct conn *c = &srv_conn;

	ck_assert_ptr_eq(ud, &listener_state);
	ck_assert_ptr_null(c->s);
	c->s = s;
	c->echo = true;
	ck_assert_int_eq(net_stream_peer(s, &c->peer), 0);
	net_stream_set_ud(s, c);
	if (listener_state.close_on_accept) {
		net_stream_close(s);
		c->s = NULL;
		c->closed = true;
	}
}

static const struct net_stream_cbs conn_cbs = {
	.accept = conn_accept,
	.connected = conn_connected,
	.read = conn_read,
	.written = conn_written,
};

static struct net_stream *listen_a(uint16_t port)
{
	struct net_stream *l = NULL;
	struct sockaddr_in any;

	sin_set(&any, 0, port);
	ck_assert_int_eq(net_stream_listen(ea.net, (struct sockaddr *)&any, 16, &conn_cbs,
					   &listener_state, &l), 0);
	return l;
}

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
}

static bool echo_complete(const void *arg)
{
	const struct conn *c = arg;

	return c->have >= BIG && c->written == c->queued;
}

START_TEST(tcp_echo_large_write_queues)
{
	struct conn cli = { 0 };
	struct net_stream *l;
	struct sockaddr_in to;
	struct iovec iov[2];
	uint8_t *data = malloc(BIG);
	ssize_t r;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < BIG; i++)
		data[i] = pattern_byte(i);
	memset(&srv_conn, 0, sizeof(srv_conn));
	memset(&listener_state, 0, sizeof(listener_state));
	l = listen_a(53);
	sin_set(&to, ADDR_A, 53);
	ck_assert_int_eq(net_stream_connect(eb.net, (struct sockaddr *)&to, &conn_cbs, &cli,
					    &cli.s), 0);
	ck_assert(run_until(&cli.connected));
	ck_assert_int_eq(cli.connect_status, 0);
	/* two buffers in one write; most of it cannot fit the send buffer */
	iov[0].iov_base = data;
	iov[0].iov_len = 1000;
	iov[1].iov_base = data + 1000;
	iov[1].iov_len = BIG - 1000;
	r = net_stream_write(cli.s, iov, 2);
	ck_assert_int_gt(r, 0);
	cli.queued = (size_t)r;
	ck_assert(run_until_cond(echo_complete, &cli));
	ck_assert_uint_eq(cli.have, BIG);
	ck_assert_mem_eq(cli.got, data, BIG);
	ck_assert_uint_eq(cli.written, cli.queued);
	ck_assert_uint_eq(srv_conn.written, srv_conn.queued);
	/* the accepted side saw the client's address */
	ck_assert_uint_eq(sin_addr((struct sockaddr *)&srv_conn.peer), ADDR_B);
	/* our close (FIN) reaches the server as EOF; it closes too */
	net_stream_close(cli.s);
	ck_assert(run_until(&srv_conn.closed));
	ck_assert_int_eq(srv_conn.read_err, 0);
	net_stream_close(l);
	free(cli.got);
	free(srv_conn.got);
	free(data);
}
END_TEST

START_TEST(tcp_connect_refused)
{
	struct conn cli = { 0 };
	struct sockaddr_in to;

	sin_set(&to, ADDR_A, 9); /* nobody listens */
	ck_assert_int_eq(net_stream_connect(eb.net, (struct sockaddr *)&to, &conn_cbs, &cli,
					    &cli.s), 0);
	ck_assert(run_until(&cli.connected));
	ck_assert_int_eq(cli.connect_status, -ECONNREFUSED);
	net_stream_close(cli.s);
}
END_TEST

/* A connection closed inside the accept callback: the client sees the
 * close, nothing leaks, and a write after it fails cleanly. */
START_TEST(tcp_close_in_accept)
{
	struct conn cli = { 0 };
	struct net_stream *l;
	struct sockaddr_in to;

	memset(&srv_conn, 0, sizeof(srv_conn));
	memset(&listener_state, 0, sizeof(listener_state));
	listener_state.close_on_accept = true;
	l = listen_a(53);
	sin_set(&to, ADDR_A, 53);
	ck_assert_int_eq(net_stream_connect(eb.net, (struct sockaddr *)&to, &conn_cbs, &cli,
					    &cli.s), 0);
	ck_assert(run_until(&cli.connected));
	ck_assert(run_until(&cli.eof));
	ck_assert_int_eq(cli.read_err, 0); /* the server's FIN */
	ck_assert(srv_conn.closed);
	net_stream_close(cli.s);
	cli.s = NULL;
	net_stream_close(l);
}
END_TEST

/* ---- server and upstream over the stacks --------------------------------- */

static struct config scfg;
static int answered;

/* Answers www.test. A; "tc.test." gets TC=1 over UDP and the answer only
 * over TCP, so the upstream has to fall back. */
static void on_query(void *ud, struct server_client *c, const struct msg_query *q)
{
	uint8_t wire[512];
	ldns_rr_list *ans = ldns_rr_list_new();
	ldns_rr *rr = NULL;
	char *name = NULL;
	ldns_rdf *qn = NULL;
	size_t n;

	ck_assert_ptr_nonnull(ans);
	ck_assert_int_eq(ldns_wire2dname(&qn, q->qname, q->qname_len, &(size_t){ 0 }),
			 LDNS_STATUS_OK);
	name = ldns_rdf2str(qn);
	ck_assert_ptr_nonnull(name);
	if (server_client_is_tcp(c) || strcasecmp(name, "tc.test.") != 0) {
		char text[300];

		snprintf(text, sizeof(text), "%s 300 IN A 192.0.2.7", name);
		ck_assert_int_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_rr_list_push_rr(ans, rr);
		n = msg_build_response(q, LDNS_RCODE_NOERROR, ans, NULL, NULL,
				       server_client_max_len(c, q), wire, sizeof(wire));
	} else {
		n = msg_build_error(q, LDNS_RCODE_NOERROR, wire, sizeof(wire));
		wire[2] |= 0x02; /* TC */
	}
	ck_assert_uint_gt(n, 0);
	answered++;
	server_reply(c, wire, n);
	ldns_rr_list_deep_free(ans);
	ldns_rdf_deep_free(qn);
	free(name);
}

struct res {
	bool done;
	enum upstream_status status;
	ldns_pkt *pkt;
};

static void on_reply(void *ud, enum upstream_status status, ldns_pkt *resp, uint32_t rtt)
{
	struct res *r = ud;

	r->done = true;
	r->status = status;
	r->pkt = resp;
}

static void ask(struct upstream *up, const char *qname, struct res *r)
{
	struct sockaddr_in to;
	ldns_rdf *qn = ldns_dname_new_frm_str(qname);

	ck_assert_ptr_nonnull(qn);
	sin_set(&to, ADDR_A, 53);
	ck_assert_ptr_nonnull(upstream_send(up, (struct sockaddr *)&to, qn, LDNS_RR_TYPE_A,
					    LDNS_RR_CLASS_IN, 2000, false, on_reply, r));
	ldns_rdf_deep_free(qn);
	ck_assert(run_until(&r->done));
	ck_assert_int_eq(r->status, UPSTREAM_OK);
	ck_assert_ptr_nonnull(r->pkt);
	ck_assert_uint_eq(ldns_rr_list_rr_count(ldns_pkt_answer(r->pkt)), 1);
	ldns_pkt_free(r->pkt);
}

START_TEST(server_and_upstream_through_the_stacks)
{
	char err[CONFIG_ERR_MAX];
	struct upstream_opts uo = { .edns_buffer_size = 1232, .tcp_timeout_ms = 3000,
				    .use_caps_for_id = true };
	struct upstream_stats us;
	struct server_stats ss;
	struct infra *inf = infra_new(100, 60000);
	struct server *srv;
	struct upstream *up;
	struct res r1 = { 0 }, r2 = { 0 };

	ck_assert_ptr_nonnull(inf);
	config_init(&scfg);
	/* 127.0.0.1 and ::1: raw mode serves the first on its own address
	 * and skips the second; the explicit entry is the same port. */
	ck_assert_int_eq(config_parse_string(&scfg,
					     "listen: 198.18.0.2@53\nlisten: 127.0.0.1@53\n"
					     "listen: ::1@53\n"
					     "access-control: 198.18.0.0/15 allow\n",
					     "test", err, sizeof(err)), 0);
	srv = server_new_net(&loop, ea.net, &scfg, on_query, NULL);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(server_start(srv), 0);
	up = upstream_new_net(&loop, eb.net, inf, &uo);
	ck_assert_ptr_nonnull(up);

	ask(up, "www.test.", &r1);
	ask(up, "tc.test.", &r2);
	upstream_get_stats(up, &us);
	ck_assert_uint_eq(us.sent_udp, 2);
	ck_assert_uint_eq(us.tcp_fallbacks, 1);
	ck_assert_uint_eq(us.sent_tcp, 1);
	ck_assert_uint_eq(us.replies, 3);
	server_get_stats(srv, &ss);
	ck_assert_uint_eq(ss.udp_queries, 2);
	ck_assert_uint_eq(ss.tcp_queries, 1);
	ck_assert_uint_eq(ss.truncated, 1);
	ck_assert_int_eq(answered, 3);

	upstream_free(up);
	server_stop(srv);
	server_free(srv); /* memory goes as the loop closes its timers */
	infra_free(inf);
	config_free(&scfg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("net_raw");
	TCase *tc = tcase_create("net_raw");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, udp_roundtrip_random_port);
	tcase_add_test(tc, udp_close_in_callback);
	tcase_add_test(tc, addresses_raw_mode_serves);
	tcase_add_test(tc, tcp_echo_large_write_queues);
	tcase_add_test(tc, tcp_connect_refused);
	tcase_add_test(tc, tcp_close_in_accept);
	tcase_add_test(tc, server_and_upstream_through_the_stacks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
