/* test_upstream.c — the upstream module against fake authoritative servers.
 *
 * Everything runs on a real libuv loop: the fake servers are uv_udp/uv_tcp
 * handles on 127.0.0.1 (or ::1) ephemeral ports in this process, scripted
 * per test to answer, stay silent, forge, truncate or split.  Nothing is
 * sent anywhere else.  Waiting is done by running the loop until a callback
 * has fired or a guard timer expires — never by sleeping.  Every teardown
 * closes all handles and checks that the loop has nothing left; in
 * sanitizer builds it then runs LeakSanitizer on the spot, because Check
 * runs each test in a forked child whose exit would otherwise hide a leak. */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "infra.h"
#include "log.h"
#include "upstream.h"

#include "leak.h"

#define A_GOOD 0xc0000201u   /* 192.0.2.1: the real answer */
#define A_FORGED 0x06060606u /* 6.6.6.6: what forgers send */
#define MAX_SEEN 256
#define MAX_RES 256
#define WAIT_MS 5000 /* guard: only reached when a test is failing */
#define QUERY_TIMEOUT 2000 /* generous: no test waits for it to expire */
#define STALL_MS 60        /* M_STALL: a loop iteration as long as a busy one */

enum fake_mode {
	M_ANSWER,      /* echo the question, answer A_GOOD */
	M_DELAY,       /* the same, 20 ms later */
	M_SILENT,      /* never answer over UDP */
	M_WRONG_ID,    /* a reply with a wrong ID first, then the real one */
	M_WRONG_NAME,  /* a reply for another name first, then the real one */
	M_NEARMISS,    /* only a reply whose name differs in case */
	M_TC,          /* TC=1 with no answer */
	M_FORMERR,     /* FORMERR (no OPT) to EDNS queries, answer others */
	M_FORMERR_OPT, /* FORMERR with an OPT record: a real FORMERR */
	M_STALL,       /* answer at once, then hold the loop for STALL_MS */
};

struct seen {
	uint16_t id, port;
	uint8_t name[256];
	size_t namelen;
	bool rd, tcp;
	int edns; /* advertised UDP size, -1 without OPT */
};

struct conn {
	uv_tcp_t h;
	uv_timer_t split;
	struct fake *f;
	struct conn *next;
	uint8_t in[1024];
	size_t have;
	uint8_t out[1024];
	size_t outlen;
	int stage, open_handles;
};

struct fake {
	bool started;
	uv_udp_t udp;
	uv_tcp_t tcp;
	uv_timer_t delay;
	struct sockaddr_storage addr;
	enum fake_mode mode;
	bool tcp_split, tcp_flip, tcp_bad_id;
	struct seen seen[MAX_SEEN];
	int nseen, udp_queries, tcp_queries;
	uint8_t pend[512];
	size_t pendlen;
	struct sockaddr_storage pendfrom;
	struct conn *conns;
};

struct result {
	int calls;
	enum upstream_status status;
	ldns_pkt *pkt;
	uint32_t rtt;
};

struct wr {
	uv_write_t req;
	uint8_t data[];
};

static uv_loop_t loop;
static uv_timer_t guard;
static bool guard_fired;
static struct infra *inf;
static struct upstream *up;
static struct fake srv, srv2;
static struct result res[MAX_RES];
static ldns_rdf *qn;
/* Forgers: another port on the server's address, and the server's port on
 * another address. */
static uv_udp_t forger_port, forger_addr;
static bool forgers_started;

/* --- wire helpers ------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t qname_len(const uint8_t *p, size_t len)
{
	size_t i = 12;

	while (i < len && p[i] != 0)
		i += (size_t)p[i] + 1;
	ck_assert_uint_lt(i, len);
	return i + 1 - 12;
}

static void flip_case(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'))
			p[i] ^= 0x20;
}

static bool has_upper(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			return true;
	return false;
}

static bool has_lower(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			return true;
	return false;
}

struct spec {
	uint16_t id_xor;
	bool tc, flip, opt;
	uint8_t rcode;
	const char *other; /* answer for this name instead */
	uint32_t a;        /* one A record, 0 for none */
};

/* A reply to query qp as spec says; the question is echoed byte for byte
 * unless spec changes it. */
static size_t make_reply(const uint8_t *qp, size_t qlen, const struct spec *sp,
			 uint8_t *out)
{
	size_t n = qname_len(qp, qlen), o = 12;

	put16(out, get16(qp) ^ sp->id_xor);
	out[2] = (uint8_t)(0x80 | 0x04 | (sp->tc ? 0x02 : 0) | (qp[2] & 0x01));
	out[3] = sp->rcode;
	put16(out + 4, 1);
	put16(out + 6, sp->a ? 1 : 0);
	put16(out + 8, 0);
	put16(out + 10, sp->opt ? 1 : 0);
	if (sp->other) {
		ldns_rdf *d = ldns_dname_new_frm_str(sp->other);

		ck_assert_ptr_nonnull(d);
		memcpy(out + o, ldns_rdf_data(d), ldns_rdf_size(d));
		o += ldns_rdf_size(d);
		ldns_rdf_deep_free(d);
	} else {
		memcpy(out + o, qp + 12, n);
		if (sp->flip)
			flip_case(out + o, n);
		o += n;
	}
	memcpy(out + o, qp + 12 + n, 4);
	o += 4;
	if (sp->a) {
		out[o++] = 0xc0;
		out[o++] = 12;
		put16(out + o, LDNS_RR_TYPE_A);
		put16(out + o + 2, LDNS_RR_CLASS_IN);
		put32(out + o + 4, 300);
		put16(out + o + 8, 4);
		put32(out + o + 10, sp->a);
		o += 14;
	}
	if (sp->opt) {
		out[o] = 0;
		put16(out + o + 1, LDNS_RR_TYPE_OPT);
		put16(out + o + 3, 1232);
		put32(out + o + 5, 0);
		put16(out + o + 9, 0);
		o += 11;
	}
	return o;
}

static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static void record(struct fake *f, const uint8_t *p, size_t len, uint16_t port, bool tcp)
{
	struct seen *s;
	ldns_pkt *pkt = NULL;

	ck_assert_int_lt(f->nseen, MAX_SEEN);
	s = &f->seen[f->nseen++];
	ck_assert_int_eq(ldns_wire2pkt(&pkt, p, len), LDNS_STATUS_OK);
	s->id = ldns_pkt_id(pkt);
	s->rd = ldns_pkt_rd(pkt);
	s->edns = ldns_pkt_edns(pkt) ? (int)ldns_pkt_edns_udp_size(pkt) : -1;
	s->port = port;
	s->tcp = tcp;
	s->namelen = qname_len(p, len);
	memcpy(s->name, p + 12, s->namelen);
	ldns_pkt_free(pkt);
}

/* --- fake server: UDP --------------------------------------------------- */

static void udp_reply(uv_udp_t *from, const struct sockaddr *to, const uint8_t *qp,
		      size_t qlen, const struct spec *sp)
{
	uint8_t out[1024];
	uv_buf_t b;

	b = uv_buf_init((char *)out, (unsigned)make_reply(qp, qlen, sp, out));
	/* try_send is synchronous: replies arrive in the order sent. */
	ck_assert_int_eq(uv_udp_try_send(from, &b, 1, to), (int)b.len);
}

static void fake_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static uint8_t rbuf[65536];

	*buf = uv_buf_init((char *)rbuf, sizeof(rbuf));
}

static void delay_cb(uv_timer_t *t)
{
	struct fake *f = t->data;
	struct spec sp = { .a = A_GOOD };

	udp_reply(&f->udp, (struct sockaddr *)&f->pendfrom, f->pend, f->pendlen, &sp);
}

static void fake_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			  const struct sockaddr *from, unsigned flags)
{
	struct fake *f = h->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t len = (size_t)nread;
	struct spec good = { .a = A_GOOD };
	struct spec forged = { .a = A_FORGED };

	if (nread <= 0 || !from)
		return;
	f->udp_queries++;
	record(f, p, len, sa_port(from), false);
	switch (f->mode) {
	case M_ANSWER:
		udp_reply(h, from, p, len, &good);
		break;
	case M_DELAY:
		ck_assert_uint_le(len, sizeof(f->pend));
		memcpy(f->pend, p, len);
		f->pendlen = len;
		memcpy(&f->pendfrom, from, from->sa_family == AF_INET6 ?
		       sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		ck_assert_int_eq(uv_timer_start(&f->delay, delay_cb, 20, 0), 0);
		break;
	case M_SILENT:
		break;
	case M_STALL:
		/* The reply is in the client's socket; keep the loop busy
		 * past the client's deadline, as a burst of work would. */
		udp_reply(h, from, p, len, &good);
		usleep(STALL_MS * 1000);
		break;
	case M_WRONG_ID:
		forged.id_xor = 0x0100;
		udp_reply(h, from, p, len, &forged);
		udp_reply(h, from, p, len, &good);
		break;
	case M_WRONG_NAME:
		forged.other = "www.example.org.";
		udp_reply(h, from, p, len, &forged);
		udp_reply(h, from, p, len, &good);
		break;
	case M_NEARMISS:
		forged.flip = true;
		udp_reply(h, from, p, len, &forged);
		break;
	case M_TC: {
		struct spec tc = { .tc = true };
		udp_reply(h, from, p, len, &tc);
		break;
	}
	case M_FORMERR:
	case M_FORMERR_OPT: {
		struct spec fe = { .rcode = LDNS_RCODE_FORMERR, .opt = f->mode == M_FORMERR_OPT };
		bool edns = f->seen[f->nseen - 1].edns >= 0;
		udp_reply(h, from, p, len, edns ? &fe : &good);
		break;
	}
	}
}

/* --- fake server: TCP --------------------------------------------------- */

static void wr_cb(uv_write_t *req, int status)
{
	free(req); /* first member of struct wr */
}

static void conn_write(struct conn *c, const uint8_t *p, size_t len)
{
	struct wr *w = malloc(sizeof(*w) + len);
	uv_buf_t b;

	ck_assert_ptr_nonnull(w);
	memcpy(w->data, p, len);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	ck_assert_int_eq(uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, wr_cb), 0);
}

/* Split mode: the first length byte alone, then the second with half the
 * message, then the rest, each after the client had a chance to read. */
static void split_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	size_t half = 2 + (c->outlen - 2) / 2;

	if (c->stage == 1) {
		conn_write(c, c->out + 1, half - 1);
		c->stage = 2;
		ck_assert_int_eq(uv_timer_start(&c->split, split_cb, 10, 0), 0);
	} else {
		conn_write(c, c->out + half, c->outlen - half);
	}
}

static void tcp_answer(struct conn *c, const uint8_t *qp, size_t qlen)
{
	struct fake *f = c->f;
	struct spec sp = { .a = A_GOOD, .flip = f->tcp_flip,
			   .id_xor = f->tcp_bad_id ? 1 : 0 };
	size_t len;

	f->tcp_queries++;
	record(f, qp, qlen, 0, true);
	len = make_reply(qp, qlen, &sp, c->out + 2);
	put16(c->out, (uint16_t)len);
	c->outlen = len + 2;
	if (!f->tcp_split) {
		conn_write(c, c->out, c->outlen);
		return;
	}
	conn_write(c, c->out, 1);
	c->stage = 1;
	ck_assert_int_eq(uv_timer_start(&c->split, split_cb, 10, 0), 0);
}

static void conn_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init((char *)c->in + c->have, (unsigned)(sizeof(c->in) - c->have));
}

static void conn_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t len;

	if (nread <= 0)
		return; /* EOF or error: the teardown closes it */
	c->have += (size_t)nread;
	if (c->have < 2)
		return;
	len = get16(c->in);
	if (c->have < 2 + len)
		return;
	tcp_answer(c, c->in + 2, len);
	c->have = 0;
}

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles == 0)
		free(c);
}

static void fake_accept(uv_stream_t *l, int status)
{
	struct fake *f = l->data;
	struct conn *c;

	ck_assert_int_eq(status, 0);
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->f = f;
	ck_assert_int_eq(uv_tcp_init(&loop, &c->h), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &c->split), 0);
	c->h.data = c;
	c->split.data = c;
	c->open_handles = 2;
	c->next = f->conns;
	f->conns = c;
	ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&c->h), 0);
	ck_assert_int_eq(uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read), 0);
}

/* --- fake server: life ---------------------------------------------------- */

static void loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		a6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a4->sin_port = htons(port);
	}
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* A TCP socket on an ephemeral loopback port and a UDP socket on the same
 * port number.  The TCP socket is always bound (so nobody else can listen
 * there) but only listens when asked. */
static void fake_start(struct fake *f, int family, bool listen_tcp)
{
	int tfd = -1, ufd = -1;

	for (int tries = 0; tries < 20 && ufd < 0; tries++) {
		struct sockaddr_storage ss;
		socklen_t sl;

		loopback(family, 0, &ss);
		tfd = socket(family, SOCK_STREAM, 0);
		ck_assert_int_ge(tfd, 0);
		ck_assert_int_eq(bind(tfd, (struct sockaddr *)&ss, ss_len(&ss)), 0);
		sl = sizeof(ss);
		ck_assert_int_eq(getsockname(tfd, (struct sockaddr *)&ss, &sl), 0);
		ufd = socket(family, SOCK_DGRAM, 0);
		ck_assert_int_ge(ufd, 0);
		if (bind(ufd, (struct sockaddr *)&ss, ss_len(&ss)) != 0) {
			close(ufd);
			close(tfd);
			ufd = -1;
			continue;
		}
		f->addr = ss;
	}
	ck_assert_int_ge(ufd, 0);
	ck_assert_int_eq(uv_udp_init(&loop, &f->udp), 0);
	ck_assert_int_eq(uv_udp_open(&f->udp, ufd), 0);
	ck_assert_int_eq(uv_tcp_init(&loop, &f->tcp), 0);
	ck_assert_int_eq(uv_tcp_open(&f->tcp, tfd), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &f->delay), 0);
	f->udp.data = f;
	f->tcp.data = f;
	f->delay.data = f;
	f->started = true;
	ck_assert_int_eq(uv_udp_recv_start(&f->udp, fake_alloc, fake_udp_recv), 0);
	if (listen_tcp)
		ck_assert_int_eq(uv_listen((uv_stream_t *)&f->tcp, 8, fake_accept), 0);
}

static void fake_stop(struct fake *f)
{
	if (!f->started)
		return;
	uv_close((uv_handle_t *)&f->udp, NULL);
	uv_close((uv_handle_t *)&f->tcp, NULL);
	uv_close((uv_handle_t *)&f->delay, NULL);
	for (struct conn *c = f->conns, *next; c; c = next) {
		next = c->next;
		uv_close((uv_handle_t *)&c->h, conn_close_cb);
		uv_close((uv_handle_t *)&c->split, conn_close_cb);
	}
	f->conns = NULL;
	f->started = false;
}

static const struct sockaddr *srv_addr(void)
{
	return (const struct sockaddr *)&srv.addr;
}

/* --- the client side ------------------------------------------------------ */

static void on_result(void *ud, enum upstream_status status, ldns_pkt *pkt,
		      uint32_t rtt)
{
	struct result *r = ud;

	r->calls++;
	r->status = status;
	if (r->pkt)
		ldns_pkt_free(r->pkt);
	r->pkt = pkt;
	r->rtt = rtt;
	if (status != UPSTREAM_OK)
		ck_assert_ptr_null(pkt);
}

static void guard_cb(uv_timer_t *t)
{
	guard_fired = true;
}

/* Run the loop until *calls reaches want, or for max_ms. */
static void run_until(const int *calls, int want, uint64_t max_ms)
{
	guard_fired = false;
	ck_assert_int_eq(uv_timer_start(&guard, guard_cb, max_ms, 0), 0);
	while ((!calls || *calls < want) && !guard_fired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&guard);
}

static int total_calls(int n)
{
	int sum = 0;

	for (int i = 0; i < n; i++)
		sum += res[i].calls;
	return sum;
}

static struct upstream_query *ask(const struct sockaddr *addr, uint32_t timeout,
				  bool tcp, struct result *r)
{
	struct upstream_query *q =
		upstream_send(up, addr, qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
			      timeout, tcp, on_result, r);

	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(r->calls, 0); /* never from inside upstream_send */
	return q;
}

static uint32_t answer_a(const ldns_pkt *p)
{
	const ldns_rr_list *an;
	const ldns_rdf *rd;
	uint32_t a;

	ck_assert_ptr_nonnull(p);
	an = ldns_pkt_answer(p);
	if (!an || ldns_rr_list_rr_count(an) != 1)
		return 0;
	rd = ldns_rr_rdf(ldns_rr_list_rr(an, 0), 0);
	if (!rd || ldns_rdf_size(rd) != 4)
		return 0;
	memcpy(&a, ldns_rdf_data(rd), 4);
	return ntohl(a);
}

static struct upstream_stats stats(void)
{
	struct upstream_stats st;

	upstream_get_stats(up, &st);
	return st;
}

static void start_forgers(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in a2;

	ck_assert_int_eq(uv_udp_init(&loop, &forger_port), 0);
	ck_assert_int_eq(uv_udp_init(&loop, &forger_addr), 0);
	forgers_started = true;
	loopback(AF_INET, 0, &ss);
	ck_assert_int_eq(uv_udp_bind(&forger_port, (struct sockaddr *)&ss, 0), 0);
	memset(&a2, 0, sizeof(a2));
	a2.sin_family = AF_INET;
	a2.sin_addr.s_addr = htonl(0x7f000002); /* 127.0.0.2, the server's port */
	a2.sin_port = ((struct sockaddr_in *)&srv.addr)->sin_port;
	ck_assert_int_eq(uv_udp_bind(&forger_addr, (struct sockaddr *)&a2, 0), 0);
}

static void setup(void)
{
	struct upstream_opts o = {
		.edns_buffer_size = 1232,
		.tcp_timeout_ms = 200,
		.use_caps_for_id = true,
	};

	log_init(LOGL_QUERY, false, "test_upstream");
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &guard), 0);
	inf = infra_new(64, 600000);
	ck_assert_ptr_nonnull(inf);
	up = upstream_new(&loop, inf, &o);
	ck_assert_ptr_nonnull(up);
	memset(&srv, 0, sizeof(srv));
	memset(&srv2, 0, sizeof(srv2));
	memset(res, 0, sizeof(res));
	forgers_started = false;
	qn = ldns_dname_new_frm_str("www.example.com.");
	ck_assert_ptr_nonnull(qn);
}

/* Close everything, let libuv finish the closes, and require an empty loop:
 * any handle left open would make uv_loop_close fail, and ASan reports any
 * memory left behind. */
static void teardown(void)
{
	upstream_free(up);
	up = NULL;
	fake_stop(&srv);
	fake_stop(&srv2);
	if (forgers_started) {
		uv_close((uv_handle_t *)&forger_port, NULL);
		uv_close((uv_handle_t *)&forger_addr, NULL);
	}
	uv_close((uv_handle_t *)&guard, NULL);
	ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	infra_free(inf);
	for (int i = 0; i < MAX_RES; i++)
		if (res[i].pkt)
			ldns_pkt_free(res[i].pkt);
	memset(res, 0, sizeof(res));
	ldns_rdf_deep_free(qn);
	qn = NULL;
	assert_no_leaks();
}

/* --- tests ------------------------------------------------------------------ */

START_TEST(answer_ok_rtt_noted)
{
	struct infra_info info;
	struct upstream_stats st;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_DELAY;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	ck_assert_uint_ge(res[0].rtt, 20); /* the server waits 20 ms */
	ck_assert_int_eq(infra_get(inf, srv_addr(), uv_now(&loop), &info), 1);
	ck_assert_uint_gt(info.srtt_ms, 0);
	ck_assert_uint_eq(info.timeouts, 0);
	st = stats();
	ck_assert_uint_eq(st.sent_udp, 1);
	ck_assert_uint_eq(st.replies, 1);
	ck_assert_uint_eq(st.sent_tcp, 0);
	ck_assert_uint_eq(st.mismatched, 0);
	ck_assert_uint_eq(st.in_flight, 0);
}
END_TEST

START_TEST(answer_ok_ipv6)
{
	fake_start(&srv, AF_INET6, false);
	srv.mode = M_ANSWER;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
}
END_TEST

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Sorted copy; returns the number of distinct values and the longest run
 * of one value. */
static int distinct(const uint16_t *v, int n, int *maxrep)
{
	uint16_t s[MAX_SEEN];
	int d = 0, run = 0;

	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_u16);
	*maxrep = 0;
	for (int i = 0; i < n; i++) {
		run = (i > 0 && s[i] == s[i - 1]) ? run + 1 : 1;
		if (run == 1)
			d++;
		if (run > *maxrep)
			*maxrep = run;
	}
	return d;
}

static int near_sequential(const uint16_t *v, int n)
{
	int k = 0;

	for (int i = 1; i < n; i++)
		if ((uint16_t)(v[i] - v[i - 1]) <= 2)
			k++;
	return k;
}

START_TEST(ports_ids_case_randomised)
{
	enum { N = 200 };
	uint16_t ports[N], ids[N];
	int uppers = 0, lowers = 0, maxrep, low_ports = 0;

	log_set_verbosity(LOGL_OPS);
	fake_start(&srv, AF_INET, false);
	srv.mode = M_ANSWER;
	for (int i = 0; i < N; i++)
		ask(srv_addr(), QUERY_TIMEOUT, false, &res[i]);
	for (int i = 0; i < N; i++)
		run_until(&res[i].calls, 1, WAIT_MS);
	ck_assert_int_eq(total_calls(N), N);
	ck_assert_int_eq(srv.nseen, N);
	for (int i = 0; i < N; i++) {
		const struct seen *s = &srv.seen[i];

		ck_assert_int_eq(res[i].status, UPSTREAM_OK);
		ck_assert(!s->rd);
		ck_assert_int_eq(s->edns, 1232);
		ck_assert_uint_eq(s->namelen, ldns_rdf_size(qn));
		ck_assert_int_eq(strncasecmp((const char *)s->name,
					     (const char *)ldns_rdf_data(qn), s->namelen), 0);
		uppers += has_upper(s->name, s->namelen);
		lowers += has_lower(s->name, s->namelen);
		ports[i] = s->port;
		ids[i] = s->id;
		ck_assert_uint_ge(s->port, 1024);
		low_ports += s->port < 10000;
	}
	/* 13 letters, each case from one random bit. */
	ck_assert_int_gt(uppers, N * 3 / 4);
	ck_assert_int_gt(lowers, N * 3 / 4);
	/* 200 draws from 64512 ports / 65536 IDs: a handful of repeats at most. */
	ck_assert_int_ge(distinct(ports, N, &maxrep), N - 10);
	ck_assert_int_le(maxrep, 3);
	ck_assert_int_ge(distinct(ids, N, &maxrep), N - 10);
	ck_assert_int_le(maxrep, 3);
	ck_assert_int_lt(near_sequential(ports, N), 5);
	ck_assert_int_lt(near_sequential(ids, N), 5);
	/* Spread over the whole range, not the kernel's ephemeral ports. */
	ck_assert_int_gt(low_ports, 0);
	ck_assert_uint_eq(stats().mismatched, 0);
}
END_TEST

START_TEST(wrong_id_ignored)
{
	struct upstream_stats st;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_WRONG_ID;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	st = stats();
	ck_assert_uint_eq(st.mismatched, 1);
	ck_assert_uint_eq(st.replies, 1);
}
END_TEST

START_TEST(wrong_name_ignored)
{
	struct upstream_stats st;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_WRONG_NAME;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	st = stats();
	ck_assert_uint_eq(st.mismatched, 1);
	ck_assert_uint_eq(st.near_misses, 0);
}
END_TEST

/* Forged replies from the right address but another port, and from the
 * right port but another address: both carry the right ID and question,
 * both are ignored, and the server's own reply is still taken. */
START_TEST(wrong_source_ignored)
{
	struct spec forged = { .a = A_FORGED };
	const struct seen *s;
	struct sockaddr_storage client;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_SILENT;
	start_forgers();
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	while (srv.nseen < 1 && res[0].calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_int_eq(srv.nseen, 1);
	s = &srv.seen[0];
	loopback(AF_INET, s->port, &client);
	{
		/* Rebuild the query as the server saw it, to forge perfectly. */
		uint8_t q[512];
		size_t n = 12;

		memset(q, 0, 12);
		put16(q, s->id);
		put16(q + 4, 1);
		memcpy(q + n, s->name, s->namelen);
		n += s->namelen;
		put16(q + n, LDNS_RR_TYPE_A);
		put16(q + n + 2, LDNS_RR_CLASS_IN);
		n += 4;
		udp_reply(&forger_port, (struct sockaddr *)&client, q, n, &forged);
		udp_reply(&forger_addr, (struct sockaddr *)&client, q, n, &forged);
		run_until(NULL, 0, 30);
		ck_assert_int_eq(res[0].calls, 0);
		ck_assert_uint_eq(stats().mismatched, 2);
		forged.a = A_GOOD;
		udp_reply(&srv.udp, (struct sockaddr *)&client, q, n, &forged);
	}
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
}
END_TEST

/* A reply whose only fault is the case of the name: never accepted, the
 * same server is asked over TCP (where it may mangle case), the server is
 * flagged, and the next query goes to TCP straight away, still in mixed
 * case. */
START_TEST(near_miss_goes_tcp)
{
	struct upstream_stats st;
	const struct seen *s;
	ldns_rdf *longname;

	fake_start(&srv, AF_INET, true);
	srv.mode = M_NEARMISS;
	srv.tcp_flip = true;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	st = stats();
	ck_assert_uint_eq(st.near_misses, 1);
	ck_assert_uint_eq(st.mismatched, 0);
	ck_assert_uint_eq(st.sent_udp, 1);
	ck_assert_uint_eq(st.sent_tcp, 1);
	ck_assert_uint_eq(st.tcp_fallbacks, 1);
	ck_assert_int_eq(srv.tcp_queries, 1);
	ck_assert(infra_has_flag(inf, srv_addr(), INFRA_CAPS_BROKEN, uv_now(&loop)));

	/* 36 letters: all-lowercase by chance is 2^-36. */
	longname = ldns_dname_new_frm_str("abcdefghijklmnopqrstuvwxyz.example.com.");
	ck_assert_ptr_nonnull(longname);
	ck_assert_ptr_nonnull(upstream_send(up, srv_addr(), longname, LDNS_RR_TYPE_A,
					    LDNS_RR_CLASS_IN, QUERY_TIMEOUT, false,
					    on_result, &res[1]));
	ldns_rdf_deep_free(longname); /* upstream keeps its own copy */
	run_until(&res[1].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[1].status, UPSTREAM_OK);
	st = stats();
	ck_assert_uint_eq(st.sent_udp, 1);
	ck_assert_uint_eq(st.sent_tcp, 2);
	s = &srv.seen[srv.nseen - 1];
	ck_assert(s->tcp);
	ck_assert(has_upper(s->name, s->namelen));
	ck_assert(has_lower(s->name, s->namelen));
}
END_TEST

START_TEST(silent_times_out)
{
	struct infra_info info;
	struct upstream_stats st;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_SILENT;
	ask(srv_addr(), 30, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_TIMEOUT);
	ck_assert_int_eq(srv.udp_queries, 1);
	st = stats();
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_int_eq(infra_get(inf, srv_addr(), uv_now(&loop), &info), 1);
	ck_assert_uint_ge(info.timeouts, 1);
}
END_TEST

/* libuv runs timers before it polls: after a long iteration the timer of a
 * query whose reply is already queued fires first.  That reply arrived in
 * time and must be taken, not turned into a timeout. */
START_TEST(reply_queued_at_deadline_taken)
{
	struct infra_info info;
	struct upstream_stats st;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_STALL;
	ask(srv_addr(), STALL_MS / 3, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	ck_assert_int_eq(srv.udp_queries, 1);
	st = stats();
	ck_assert_uint_eq(st.timeouts, 0);
	ck_assert_uint_eq(st.replies, 1);
	ck_assert_int_eq(infra_get(inf, srv_addr(), uv_now(&loop), &info), 1);
	ck_assert_uint_eq(info.timeouts, 0);
}
END_TEST

START_TEST(tc_falls_back_to_tcp)
{
	struct upstream_stats st;

	fake_start(&srv, AF_INET, true);
	srv.mode = M_TC;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	ck_assert(!ldns_pkt_tc(res[0].pkt));
	ck_assert_int_eq(srv.udp_queries, 1);
	ck_assert_int_eq(srv.tcp_queries, 1); /* same address and port */
	ck_assert(srv.seen[1].tcp);
	ck_assert_int_eq(srv.seen[1].edns, 1232);
	st = stats();
	ck_assert_uint_eq(st.tcp_fallbacks, 1);
	ck_assert_uint_eq(st.sent_udp, 1);
	ck_assert_uint_eq(st.sent_tcp, 1);
	ck_assert_uint_eq(st.replies, 2);
}
END_TEST

START_TEST(tcp_split_reply)
{
	fake_start(&srv, AF_INET, true);
	srv.tcp_split = true;
	ask(srv_addr(), QUERY_TIMEOUT, true, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	ck_assert_int_eq(srv.udp_queries, 0);
	ck_assert_int_eq(srv.tcp_queries, 1);
}
END_TEST

START_TEST(tcp_wrong_id_badreply)
{
	fake_start(&srv, AF_INET, true);
	srv.tcp_bad_id = true;
	ask(srv_addr(), QUERY_TIMEOUT, true, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_BADREPLY);
	ck_assert_uint_eq(stats().mismatched, 1);
}
END_TEST

START_TEST(formerr_retries_without_edns)
{
	fake_start(&srv, AF_INET, false);
	srv.mode = M_FORMERR;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_uint_eq(answer_a(res[0].pkt), A_GOOD);
	ck_assert_int_eq(srv.udp_queries, 2);
	ck_assert_int_eq(srv.seen[0].edns, 1232);
	ck_assert_int_eq(srv.seen[1].edns, -1);
	ck_assert_uint_ne(srv.seen[0].port, srv.seen[1].port); /* fresh socket */
	ck_assert(infra_has_flag(inf, srv_addr(), INFRA_EDNS_BROKEN, uv_now(&loop)));

	/* Remembered: the next query goes without EDNS at once. */
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[1]);
	run_until(&res[1].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[1].status, UPSTREAM_OK);
	ck_assert_int_eq(srv.udp_queries, 3);
	ck_assert_int_eq(srv.seen[2].edns, -1);
}
END_TEST

/* A FORMERR that carries OPT is about the query, not about EDNS. */
START_TEST(formerr_with_opt_delivered)
{
	fake_start(&srv, AF_INET, false);
	srv.mode = M_FORMERR_OPT;
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	ck_assert_int_eq(ldns_pkt_get_rcode(res[0].pkt), LDNS_RCODE_FORMERR);
	ck_assert_int_eq(srv.udp_queries, 1);
	ck_assert(!infra_has_flag(inf, srv_addr(), INFRA_EDNS_BROKEN, uv_now(&loop)));
}
END_TEST

START_TEST(tcp_refused_neterr)
{
	fake_start(&srv, AF_INET, false); /* TCP port bound, not listening */
	ask(srv_addr(), QUERY_TIMEOUT, true, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_NETERR);
	ck_assert_uint_eq(stats().in_flight, 0);
}
END_TEST

START_TEST(udp_send_error_neterr)
{
	struct sockaddr_storage ss;

	loopback(AF_INET, 0, &ss); /* port 0: the kernel refuses to send */
	ask((struct sockaddr *)&ss, QUERY_TIMEOUT, false, &res[0]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_NETERR);
}
END_TEST

/* A query that cannot even open its socket (no file descriptors left) is
 * still reported through the callback, from the loop, not from inside
 * upstream_send. */
START_TEST(start_failure_reported_later)
{
	struct rlimit old, low;
	int fd;

	fake_start(&srv, AF_INET, false);
	srv.mode = M_ANSWER;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	fd = dup(0); /* the lowest free descriptor */
	ck_assert_int_ge(fd, 0);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].status, UPSTREAM_NETERR);
	ck_assert_int_eq(srv.udp_queries, 0);
	ck_assert_uint_eq(stats().sent_udp, 0);
}
END_TEST

START_TEST(bad_arguments_refused)
{
	struct sockaddr_storage ss;
	ldns_rdf *notname = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");

	ck_assert_ptr_nonnull(notname);
	loopback(AF_INET, 53, &ss);
	ck_assert_ptr_null(upstream_send(up, (struct sockaddr *)&ss, notname,
					 LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 100, false,
					 on_result, &res[0]));
	ldns_rdf_deep_free(notname);
	ss.ss_family = AF_UNIX;
	ck_assert_ptr_null(upstream_send(up, (struct sockaddr *)&ss, qn, LDNS_RR_TYPE_A,
					 LDNS_RR_CLASS_IN, 100, false, on_result, &res[0]));
	ck_assert_uint_eq(stats().in_flight, 0);
	run_until(NULL, 0, 20);
	ck_assert_int_eq(res[0].calls, 0);
}
END_TEST

/* Cancelled while the answer is on its way (UDP) and while connecting
 * (TCP): no callback, nothing left behind. */
START_TEST(cancel_before_reply)
{
	struct upstream_query *q1, *q2;

	fake_start(&srv, AF_INET, true);
	srv.mode = M_ANSWER;
	q1 = ask(srv_addr(), QUERY_TIMEOUT, false, &res[0]);
	q2 = ask(srv_addr(), QUERY_TIMEOUT, true, &res[1]);
	ck_assert_uint_eq(stats().in_flight, 2);
	upstream_cancel(q1);
	upstream_cancel(q2);
	ck_assert_uint_eq(stats().in_flight, 0);
	run_until(NULL, 0, 50);
	ck_assert_int_eq(res[0].calls, 0);
	ck_assert_int_eq(res[1].calls, 0);
}
END_TEST

START_TEST(free_with_queries_in_flight)
{
	fake_start(&srv, AF_INET, true);
	srv.mode = M_SILENT;
	for (int i = 0; i < 3; i++)
		ask(srv_addr(), QUERY_TIMEOUT, false, &res[i]);
	ask(srv_addr(), QUERY_TIMEOUT, true, &res[3]);
	run_until(&srv.udp_queries, 3, WAIT_MS);
	upstream_free(up);
	up = NULL;
	run_until(NULL, 0, 50);
	ck_assert_int_eq(total_calls(4), 0);
}
END_TEST

/* A callback may free the whole upstream while other queries are running:
 * those are cancelled and never called. */
static void free_from_cb(void *ud, enum upstream_status status, ldns_pkt *pkt,
			 uint32_t rtt)
{
	on_result(ud, status, pkt, rtt);
	upstream_free(up);
	up = NULL;
}

START_TEST(free_from_callback)
{
	fake_start(&srv, AF_INET, false);
	srv.mode = M_ANSWER;
	fake_start(&srv2, AF_INET, false);
	srv2.mode = M_SILENT;
	ck_assert_ptr_nonnull(upstream_send(up, srv_addr(), qn, LDNS_RR_TYPE_A,
					    LDNS_RR_CLASS_IN, QUERY_TIMEOUT, false,
					    free_from_cb, &res[0]));
	ask((const struct sockaddr *)&srv2.addr, QUERY_TIMEOUT, false, &res[1]);
	run_until(&res[0].calls, 1, WAIT_MS);
	ck_assert_int_eq(res[0].status, UPSTREAM_OK);
	run_until(NULL, 0, 50);
	ck_assert_int_eq(res[1].calls, 0);
	ck_assert_int_eq(srv2.udp_queries, 1);
}
END_TEST

static Suite *upstream_suite(void)
{
	Suite *s = suite_create("upstream");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, answer_ok_rtt_noted);
	tcase_add_test(tc, answer_ok_ipv6);
	tcase_add_test(tc, ports_ids_case_randomised);
	tcase_add_test(tc, wrong_id_ignored);
	tcase_add_test(tc, wrong_name_ignored);
	tcase_add_test(tc, wrong_source_ignored);
	tcase_add_test(tc, near_miss_goes_tcp);
	tcase_add_test(tc, silent_times_out);
	tcase_add_test(tc, reply_queued_at_deadline_taken);
	tcase_add_test(tc, tc_falls_back_to_tcp);
	tcase_add_test(tc, tcp_split_reply);
	tcase_add_test(tc, tcp_wrong_id_badreply);
	tcase_add_test(tc, formerr_retries_without_edns);
	tcase_add_test(tc, formerr_with_opt_delivered);
	tcase_add_test(tc, tcp_refused_neterr);
	tcase_add_test(tc, udp_send_error_neterr);
	tcase_add_test(tc, start_failure_reported_later);
	tcase_add_test(tc, bad_arguments_refused);
	tcase_add_test(tc, cancel_before_reply);
	tcase_add_test(tc, free_with_queries_in_flight);
	tcase_add_test(tc, free_from_callback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(upstream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
