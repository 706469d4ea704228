/* test_stack_tcp.c — TCP against a scripted peer on a fake clock.
 *
 * The peer is this file: it sends crafted segments and checks every segment
 * the stack sends (flags, sequence and acknowledgement numbers, window,
 * payload).  ISNs are pinned through the private isn_hook. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stack_int.h"
#include "tcp.h"

#define SYN TCP_SYN
#define ACK TCP_ACK
#define FIN TCP_FIN
#define RST TCP_RST
#define PSH TCP_PSH

#define PPORT 40000 /* the peer's port */
#define LPORT 53    /* our listener */
#define RPORT 8053  /* the peer's server, for active opens */
#define CPORT 5000  /* our client port */

static struct harness H;
static struct h_user U;
static uint32_t isn_val;
static uint32_t ISS; /* ours */
static const uint32_t PISN = 0x70000000u; /* the peer's */

static uint32_t isn_hook(void *ud)
{
	(void)ud;
	return isn_val;
}

/* ARP entries must not expire under the long TCP timer runs. */
#define ARP_FOREVER 4000000000u

static void setup_with(struct stack_cfg *cfg)
{
	struct stack_cfg def;

	if (!cfg) {
		h_cfg(&def);
		cfg = &def;
	}
	cfg->arp_ttl_ms = ARP_FOREVER;
	h_init(&H, cfg);
	h_learn_peer(&H);
	isn_val = ISS = 0x10000000u;
	H.st->tcp.isn_hook = isn_hook;
	h_user_init(&U, &H);
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	h_user_fini(&U);
	h_fini(&H);
}

/* Pops the next segment and checks it. len < 0: do not check the length. */
static void expect(struct h_tcp *t, uint8_t flags, uint32_t seq, uint32_t ack, long len)
{
	h_pop_tcp(&H, t);
	ck_assert_msg(t->flags == flags, "flags 0x%02x, expected 0x%02x", t->flags, flags);
	ck_assert_uint_eq(t->seq, seq);
	if (flags & ACK)
		ck_assert_uint_eq(t->ack, ack);
	if (len >= 0)
		ck_assert_uint_eq(t->len, (size_t)len);
}

static void expect_none(void)
{
	ck_assert_msg(h_pending(&H) == 0, "%u unexpected frames", h_pending(&H));
}

static enum stack_tcp_state state_of(uint16_t lport, uint16_t rport);

/* The next TCP timer (the ARP cache has its own deadlines). */
static uint64_t tcp_deadline(void)
{
	return tcp_poll(H.st, H.now);
}

/* Listener on LPORT and an accepted connection from PPORT: after this the
 * peer's next sequence number is PISN + 1 and ours ISS + 1. */
static struct stack_tcp *establish_passive(struct stack_tcp **lst_out)
{
	struct stack_tcp *lst;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 4, &h_user_cbs, &U, &lst), 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	ck_assert_uint_eq(t.mss, 1460);
	ck_assert_uint_eq(t.wnd, 65535);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_SYN_RECEIVED);
	ck_assert_uint_eq(U.accepts, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, NULL, 0);
	ck_assert_uint_eq(U.accepts, 1);
	ck_assert_ptr_nonnull(U.conn);
	ck_assert_uint_eq(stack_tcp_get_state(U.conn), STACK_TCP_ESTABLISHED);
	expect_none();
	if (lst_out)
		*lst_out = lst;
	return U.conn;
}

/* Active open from CPORT to the peer's RPORT, completed. */
static struct stack_tcp *establish_active(void)
{
	struct stack_tcp *c;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	ck_assert_uint_eq(t.mss, 1460);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_SYN_SENT);
	h_send_tcp(&H, RPORT, CPORT, PISN, ISS + 1, SYN | ACK, NULL, 0);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(U.connects, 1);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_ESTABLISHED);
	return c;
}

struct walk_find {
	uint16_t lport, rport;
	enum stack_tcp_state state;
	unsigned n;
};

static void walk_cb(const struct stack_tcp_info *info, void *ud)
{
	struct walk_find *w = ud;

	w->n++;
	if (info->local_port == w->lport && info->remote_port == w->rport)
		w->state = info->state;
}

static enum stack_tcp_state state_of(uint16_t lport, uint16_t rport)
{
	struct walk_find w = { .lport = lport, .rport = rport, .state = STACK_TCP_CLOSED };

	stack_tcp_walk(H.st, walk_cb, &w);
	return w.state;
}

static unsigned conn_count(void)
{
	struct walk_find w = { 0 };

	stack_tcp_walk(H.st, walk_cb, &w);
	return w.n;
}

START_TEST(test_passive_open_and_data)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK | PSH, "hello", 5);
	ck_assert_uint_eq(U.rx_len, 5);
	ck_assert_int_eq(memcmp(U.rx, "hello", 5), 0);
	expect(&t, ACK, ISS + 1, PISN + 6, 0);
	ck_assert_uint_eq(t.wnd, 65535);
	ck_assert_int_eq(stack_tcp_send(c, "world!", 6, H.now), 6);
	expect(&t, ACK | PSH, ISS + 1, PISN + 6, 6);
	ck_assert_int_eq(memcmp(t.data, "world!", 6), 0);
	ck_assert_uint_eq(U.sent, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 6, ISS + 7, ACK, NULL, 0);
	ck_assert_uint_eq(U.sent, 6);
	expect_none();
	ck_assert_uint_eq(tcp_deadline(), STACK_NEVER); /* nothing outstanding */
	ck_assert_uint_eq(state_of(LPORT, 0), STACK_TCP_LISTEN);
	ck_assert_uint_eq(conn_count(), 2);
	ck_assert_uint_eq(h_stats(&H).tcp_passive_opens, 1);
}
END_TEST

START_TEST(test_active_open_and_data)
{
	struct stack_tcp *c = establish_active();
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_send(c, "query", 5, H.now), 5);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 5);
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 6, ACK | PSH, "answer", 6);
	ck_assert_uint_eq(U.sent, 5);
	ck_assert_uint_eq(U.rx_len, 6);
	expect(&t, ACK, ISS + 6, PISN + 7, 0);
	ck_assert_uint_eq(h_stats(&H).tcp_active_opens, 1);
}
END_TEST

START_TEST(test_data_before_established_is_queued)
{
	struct stack_tcp *c;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	ck_assert_int_eq(stack_tcp_send(c, "early", 5, H.now), 5);
	expect_none();
	h_send_tcp(&H, RPORT, CPORT, PISN, ISS + 1, SYN | ACK, NULL, 0);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 5); /* the data carries the ACK */
}
END_TEST

START_TEST(test_passive_close)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	U.close_on_eof = true; /* the server closes once the client is done */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK | FIN, NULL, 0);
	ck_assert_uint_eq(U.eofs, 1);
	/* close() in the callback: the ACK of their FIN and our FIN go together */
	expect(&t, ACK | FIN, ISS + 1, PISN + 2, 0);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_LAST_ACK);
	h_send_tcp(&H, PPORT, LPORT, PISN + 2, ISS + 2, ACK, NULL, 0);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_CLOSED);
	ck_assert_uint_eq(conn_count(), 1); /* only the listener is left */
	ck_assert_uint_eq(U.closes, 0);     /* the handle was released by close */
	(void)c;
}
END_TEST

START_TEST(test_passive_close_with_shutdown)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 1, PISN + 2, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_CLOSE_WAIT);
	/* still allowed to send in CLOSE_WAIT */
	ck_assert_int_eq(stack_tcp_send(c, "bye", 3, H.now), 3);
	expect(&t, ACK | PSH, ISS + 1, PISN + 2, 3);
	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 4, PISN + 2, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_LAST_ACK);
	ck_assert_int_eq(stack_tcp_send(c, "x", 1, H.now), -EPIPE);
	h_send_tcp(&H, PPORT, LPORT, PISN + 2, ISS + 5, ACK, NULL, 0);
	ck_assert_uint_eq(U.closes, 1);
	ck_assert_int_eq(U.closed_err, 0);
	ck_assert_uint_eq(U.sent, 3);
}
END_TEST

START_TEST(test_active_close_time_wait)
{
	struct stack_tcp *c = establish_active();
	struct stack_cfg cfg;
	struct h_tcp t;
	uint64_t t0;

	h_cfg(&cfg);
	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_FIN_WAIT_1);
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 2, ACK, NULL, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_FIN_WAIT_2);
	/* half-closed: data still flows towards us */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 2, ACK, "late", 4);
	ck_assert_uint_eq(U.rx_len, 4);
	expect(&t, ACK, ISS + 2, PISN + 5, 0);
	h_send_tcp(&H, RPORT, CPORT, PISN + 5, ISS + 2, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 2, PISN + 6, 0);
	ck_assert_uint_eq(U.eofs, 1);
	ck_assert_uint_eq(U.closes, 1); /* the user's side is over */
	ck_assert_int_eq(U.closed_err, 0);
	t0 = H.now;
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);
	ck_assert_uint_eq(h_poll(&H), t0 + 2 * cfg.tcp_msl_ms);
	/* a retransmitted FIN is acknowledged again and restarts 2 MSL */
	H.now += 500;
	h_send_tcp(&H, RPORT, CPORT, PISN + 5, ISS + 2, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 2, PISN + 6, 0);
	ck_assert_uint_eq(h_poll(&H), t0 + 500 + 2 * cfg.tcp_msl_ms);
	h_advance_to(&H, t0 + 500 + 2 * cfg.tcp_msl_ms - 1);
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);
	h_advance_to(&H, t0 + 500 + 2 * cfg.tcp_msl_ms);
	ck_assert_uint_eq(conn_count(), 0);
	expect_none();
}
END_TEST

/* A table full of TIME_WAIT gives up the oldest for a new connection;
 * a table full of live connections still refuses. */
START_TEST(test_full_table_recycles_time_wait)
{
	struct stack_cfg cfg;
	struct stack_tcp *c, *c2;
	struct stack_stats st;
	struct h_tcp t;

	teardown();
	h_cfg(&cfg);
	cfg.tcp_max_conns = 1;
	setup_with(&cfg);
	c = establish_active();
	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 1, PISN + 1, 0);
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 2, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 2, PISN + 2, 0);
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT + 1, &h_user_cbs, &U, &c2,
					   H.now), 0);
	expect(&t, SYN, ISS, 0, 0);
	stack_get_stats(H.st, &st);
	ck_assert_uint_eq(st.tcp_tw_recycled, 1);
	ck_assert_uint_eq(conn_count(), 1);
	ck_assert_uint_eq(state_of(CPORT + 1, RPORT), STACK_TCP_SYN_SENT);

	/* no TIME_WAIT left to give up */
	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT + 2, &h_user_cbs, &U, &c,
					   H.now), -ENOBUFS);
	stack_tcp_abort(c2, H.now);
}
END_TEST

START_TEST(test_simultaneous_close)
{
	struct stack_tcp *c = establish_active();
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 1, PISN + 1, 0);
	/* their FIN crosses ours: it does not acknowledge our FIN */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 2, PISN + 2, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_CLOSING);
	ck_assert_uint_eq(U.eofs, 1);
	ck_assert_uint_eq(U.closes, 0);
	h_send_tcp(&H, RPORT, CPORT, PISN + 2, ISS + 2, ACK, NULL, 0);
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);
	ck_assert_uint_eq(U.closes, 1);
	h_run_for(&H, 2 * 1000);
	ck_assert_uint_eq(conn_count(), 0);
	expect_none();
}
END_TEST

START_TEST(test_fin_with_ack_of_our_fin)
{
	/* FIN_WAIT_1 receiving FIN + ACK of our FIN: straight to TIME_WAIT */
	struct stack_tcp *c = establish_active();
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 1, PISN + 1, 0);
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 2, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 2, PISN + 2, 0);
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);
}
END_TEST

START_TEST(test_simultaneous_open)
{
	struct stack_tcp *c;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	/* the peer connects to us at the same time: a bare SYN */
	h_send_tcp(&H, RPORT, CPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_SYN_RECEIVED);
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1, ACK, NULL, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_ESTABLISHED);
	ck_assert_uint_eq(U.connects, 1);
	ck_assert_uint_eq(U.accepts, 0);
}
END_TEST

START_TEST(test_sequence_wraparound)
{
	struct stack_tcp *c;
	struct h_tcp t;
	uint8_t data[100];
	uint32_t peer_isn = 0xffffffc0u;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	isn_val = ISS = 0xffffffd0u; /* wraps within the first 100 bytes */
	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	h_send_tcp(&H, RPORT, CPORT, peer_isn, ISS + 1, SYN | ACK, NULL, 0);
	expect(&t, ACK, ISS + 1, peer_isn + 1, 0);
	/* ours: 100 bytes in two segments across 2^32 */
	ck_assert_int_eq(stack_tcp_send(c, data, 100, H.now), 100);
	expect(&t, ACK | PSH, ISS + 1, peer_isn + 1, 100);
	ck_assert_int_eq(memcmp(t.data, data, 100), 0);
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 1, ISS + 51, ACK, NULL, 0); /* partial */
	ck_assert_uint_eq(U.sent, 50);
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 1, ISS + 101, ACK, NULL, 0); /* wrapped */
	ck_assert_uint_eq(U.sent, 100);
	ck_assert_uint_lt(ISS + 101, ISS); /* it did wrap */
	/* theirs: two segments, the second entirely past 2^32 */
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 1, ISS + 101, ACK, data, 60);
	expect(&t, ACK, ISS + 101, peer_isn + 61, 0);
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 61, ISS + 101, ACK, data + 60, 40);
	expect(&t, ACK, ISS + 101, peer_isn + 101, 0);
	ck_assert_uint_eq(U.rx_len, 100);
	ck_assert_int_eq(memcmp(U.rx, data, 100), 0);
	/* old data from before the wrap is recognised as old */
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 1, ISS + 101, ACK, data, 10);
	expect(&t, ACK, ISS + 101, peer_isn + 101, 0);
	ck_assert_uint_eq(U.rx_len, 100);
	/* and the close works across it too */
	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), 0);
	expect(&t, ACK | FIN, ISS + 101, peer_isn + 101, 0);
	h_send_tcp(&H, RPORT, CPORT, peer_isn + 101, ISS + 102, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 102, peer_isn + 102, 0);
	ck_assert_uint_eq(state_of(CPORT, RPORT), STACK_TCP_TIME_WAIT);
}
END_TEST

START_TEST(test_seq_macros)
{
	ck_assert(TCP_SEQ_LT(0xfffffff0u, 0x10u));
	ck_assert(TCP_SEQ_GT(0x10u, 0xfffffff0u));
	ck_assert(TCP_SEQ_LEQ(5u, 5u));
	ck_assert(TCP_SEQ_GEQ(5u, 5u));
	ck_assert(!TCP_SEQ_LT(5u, 5u));
	ck_assert(TCP_SEQ_IN(0u, 0xffffff00u, 0x100u));
	ck_assert(!TCP_SEQ_IN(0x100u, 0xffffff00u, 0x100u));
}
END_TEST

START_TEST(test_retransmission_backoff_and_abort)
{
	struct stack_cfg cfg;
	struct stack_tcp *c;
	struct h_tcp t;
	uint64_t t0;

	teardown();
	h_cfg(&cfg);
	cfg.tcp_max_retries = 3;
	setup_with(&cfg);
	c = establish_passive(NULL);
	t0 = H.now;
	ck_assert_int_eq(stack_tcp_send(c, "lost", 4, H.now), 4);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 4);
	/* The handshake measured an RTT of 0 ms: RTO = max(0 + 4 * 0, 200 ms
	 * floor).  Each expiry doubles it (RFC 6298 5.5). */
	ck_assert_uint_eq(h_poll(&H), t0 + 200);
	h_advance_to(&H, t0 + 199);
	expect_none();
	ck_assert_uint_eq(h_advance_to(&H, t0 + 200), t0 + 600);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 4);
	ck_assert_uint_eq(h_advance_to(&H, t0 + 600), t0 + 1400);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 4);
	ck_assert_uint_eq(h_advance_to(&H, t0 + 1400), t0 + 3000);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 4);
	ck_assert_uint_eq(U.closes, 0);
	/* retry limit reached: reset and tell the user */
	h_advance_to(&H, t0 + 3000);
	expect(&t, RST | ACK, ISS + 5, PISN + 1, 0);
	ck_assert_uint_eq(U.closes, 1);
	ck_assert_int_eq(U.closed_err, -ETIMEDOUT);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_CLOSED);
	ck_assert_uint_eq(h_stats(&H).tcp_retransmits, 3);
	ck_assert_uint_eq(h_stats(&H).tcp_timeouts, 1);
}
END_TEST

START_TEST(test_rto_from_rtt_and_reset_by_ack)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct stack_tcp_info info;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_send(c, "a", 1, H.now), 1);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 1);
	stack_tcp_get_info(c, &info);
	ck_assert_uint_eq(info.rto_ms, 200); /* handshake RTT 0 ms, 200 ms floor */
	H.now += 200;
	h_poll(&H);
	expect(&t, ACK | PSH, ISS + 1, PISN + 1, 1); /* retransmitted */
	stack_tcp_get_info(c, &info);
	ck_assert_uint_eq(info.rto_ms, 400);
	ck_assert_uint_eq(info.retries, 1);
	/* Karn: this ACK is ambiguous, no RTT sample (SRTT stays 0 ms, else
	 * 10 ms would show below); but new data was acknowledged, so retries
	 * and the back-off are reset: RTO from SRTT again */
	H.now += 10;
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 2, ACK, NULL, 0);
	stack_tcp_get_info(c, &info);
	ck_assert_uint_eq(info.retries, 0);
	ck_assert_uint_eq(info.rto_ms, 200);
	ck_assert_uint_le(H.st->tcp.list->srtt8, 1);
	/* a clean sample of 50 ms: SRTT 6, RTTVAR 12: RTO 56, floored at 200 */
	ck_assert_int_eq(stack_tcp_send(c, "b", 1, H.now), 1);
	expect(&t, ACK | PSH, ISS + 2, PISN + 1, 1);
	H.now += 50;
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 3, ACK, NULL, 0);
	stack_tcp_get_info(c, &info);
	ck_assert_uint_eq(info.rto_ms, 200);
	/* long samples raise it: 3 x 2000 ms */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(stack_tcp_send(c, "c", 1, H.now), 1);
		expect(&t, ACK | PSH, ISS + 3 + (uint32_t)i, PISN + 1, 1);
		H.now += 2000;
		h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 4 + (uint32_t)i, ACK, NULL, 0);
		expect_none();
	}
	stack_tcp_get_info(c, &info);
	ck_assert_uint_gt(info.rto_ms, 2000);
	ck_assert_int_eq(stack_tcp_send(c, "d", 1, H.now), 1);
	expect(&t, ACK | PSH, ISS + 6, PISN + 1, 1);
	ck_assert_uint_eq(tcp_deadline(), H.now + info.rto_ms);
}
END_TEST

START_TEST(test_syn_retransmit_and_give_up)
{
	struct stack_cfg cfg;
	struct stack_tcp *c;
	struct h_tcp t;
	uint64_t t0;

	teardown();
	h_cfg(&cfg);
	cfg.tcp_max_retries = 2;
	setup_with(&cfg);
	t0 = H.now;
	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	h_advance_to(&H, t0 + 1000);
	expect(&t, SYN, ISS, 0, 0);
	h_advance_to(&H, t0 + 3000);
	expect(&t, SYN, ISS, 0, 0);
	h_advance_to(&H, t0 + 7000);
	expect_none(); /* nothing synchronized: no RST */
	ck_assert_uint_eq(U.closes, 1);
	ck_assert_int_eq(U.closed_err, -ETIMEDOUT);
	ck_assert_uint_eq(conn_count(), 0);
}
END_TEST

START_TEST(test_rst_for_no_connection)
{
	struct h_tcp t;

	/* SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
	h_send_tcp(&H, PPORT, 81, PISN, 0, SYN, NULL, 0);
	expect(&t, RST | ACK, 0, PISN + 1, 0);
	ck_assert_uint_eq(t.sport, 81);
	ck_assert_uint_eq(t.dport, PPORT);
	/* data without ACK counts its length */
	h_send_tcp(&H, PPORT, 81, PISN, 0, PSH, "abc", 3);
	expect(&t, RST | ACK, 0, PISN + 3, 0);
	/* with ACK: <SEQ=SEG.ACK><CTL=RST> */
	h_send_tcp(&H, PPORT, 81, PISN, 0x12345678u, ACK, "abc", 3);
	expect(&t, RST, 0x12345678u, 0, 0);
	/* never a RST for a RST */
	h_send_tcp(&H, PPORT, 81, PISN, 0, RST, NULL, 0);
	h_send_tcp(&H, PPORT, 81, PISN, 5, RST | ACK, NULL, 0);
	expect_none();
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_NO_CONN), 5);
	ck_assert_uint_eq(h_stats(&H).tcp_resets_out, 3);
}
END_TEST

START_TEST(test_listener_ack_and_rst)
{
	struct stack_tcp *lst;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 4, &h_user_cbs, &U, &lst), 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 777, ACK, NULL, 0);
	expect(&t, RST, 777, 0, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, RST, NULL, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, FIN, NULL, 0);
	expect_none();
	ck_assert_uint_eq(conn_count(), 1);
	stack_tcp_close(lst, H.now);
	ck_assert_uint_eq(conn_count(), 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, RST | ACK, 0, PISN + 1, 0); /* closed now */
}
END_TEST

START_TEST(test_rst_processing)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	/* out of window: ignored without a word */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 200000, 0, RST, NULL, 0);
	expect_none();
	/* in window but not exact: challenge ACK (RFC 5961) */
	h_send_tcp(&H, PPORT, LPORT, PISN + 100, 0, RST, NULL, 0);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_ESTABLISHED);
	/* exact: the connection is reset */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, 0, RST, NULL, 0);
	expect_none();
	ck_assert_uint_eq(U.closes, 1);
	ck_assert_int_eq(U.closed_err, -ECONNRESET);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_CLOSED);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct stack_tcp *c;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	/* a RST whose ACK does not cover our SYN is not acceptable */
	h_send_tcp(&H, RPORT, CPORT, 0, ISS + 5, RST | ACK, NULL, 0);
	ck_assert_uint_eq(U.closes, 0);
	h_send_tcp(&H, RPORT, CPORT, 0, ISS + 1, RST | ACK, NULL, 0);
	ck_assert_uint_eq(U.closes, 1);
	ck_assert_int_eq(U.closed_err, -ECONNREFUSED);
	expect_none();
}
END_TEST

START_TEST(test_syn_sent_bad_ack)
{
	struct stack_tcp *c;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	h_send_tcp(&H, RPORT, CPORT, PISN, ISS + 9, SYN | ACK, NULL, 0);
	expect(&t, RST, ISS + 9, 0, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_SYN_SENT);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_BAD_ACK), 1);
}
END_TEST

START_TEST(test_out_of_window_segments)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	/* beyond the window */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 70000, ISS + 1, ACK, "far", 3);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_OUT_OF_WINDOW), 1);
	/* entirely old */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, "new", 3);
	expect(&t, ACK, ISS + 1, PISN + 4, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, "new", 3);
	expect(&t, ACK, ISS + 1, PISN + 4, 0);
	ck_assert_uint_eq(U.rx_len, 3);
	/* partly old: only the new part is delivered */
	h_send_tcp(&H, PPORT, LPORT, PISN + 2, ISS + 1, ACK, "ewXY", 4);
	expect(&t, ACK, ISS + 1, PISN + 6, 0);
	ck_assert_uint_eq(U.rx_len, 5);
	ck_assert_int_eq(memcmp(U.rx, "newXY", 5), 0);
	/* an ACK for data we never sent: ACK back, drop */
	h_send_tcp(&H, PPORT, LPORT, PISN + 6, ISS + 1000, ACK, "zz", 2);
	expect(&t, ACK, ISS + 1, PISN + 6, 0);
	ck_assert_uint_eq(U.rx_len, 5);
	/* a segment without ACK is dropped */
	h_send_tcp(&H, PPORT, LPORT, PISN + 6, 0, PSH, "zz", 2);
	ck_assert_uint_eq(U.rx_len, 5);
	/* a SYN in ESTABLISHED: challenge ACK, connection unchanged */
	h_send_tcp(&H, PPORT, LPORT, PISN + 6, 0, SYN, NULL, 0);
	expect(&t, ACK, ISS + 1, PISN + 6, 0);
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_ESTABLISHED);
	expect_none();
}
END_TEST

START_TEST(test_out_of_order_reassembly)
{
	struct h_tcp t;

	establish_passive(NULL);
	/* segments 3, 2 arrive before 1 */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 8, ISS + 1, ACK, "ccccdddd", 8);
	expect(&t, ACK, ISS + 1, PISN + 1, 0); /* duplicate ACK */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 4, ISS + 1, ACK, "bbbb", 4);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 4, ISS + 1, ACK, "bbbb", 4); /* dup */
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(U.rx_len, 0);
	ck_assert_uint_eq(H.st->tcp.list->ooo_count, 2);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, "aaaa", 4);
	expect(&t, ACK, ISS + 1, PISN + 17, 0);
	ck_assert_uint_eq(U.rx_len, 16);
	ck_assert_int_eq(memcmp(U.rx, "aaaabbbbccccdddd", 16), 0);
	/* a FIN that arrives before the data in front of it */
	h_send_tcp(&H, PPORT, LPORT, PISN + 21, ISS + 1, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 1, PISN + 17, 0);
	ck_assert_uint_eq(U.eofs, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 17, ISS + 1, ACK, "eeee", 4);
	expect(&t, ACK, ISS + 1, PISN + 22, 0);
	ck_assert_uint_eq(U.eofs, 1);
	ck_assert_uint_eq(U.rx_len, 20);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_CLOSE_WAIT);
}
END_TEST

START_TEST(test_sack_blocks)
{
	uint8_t buf[H_FRAME_MAX];
	struct stack_tcp *c;
	struct h_tcp t, synack = {
		.src = H_PEER, .dst = H_US, .sport = RPORT, .dport = CPORT,
		.seq = PISN, .ack = ISS + 1, .flags = SYN | ACK, .wnd = 65535,
		.mss = 1460, .sack_perm = true,
	};

	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, RPORT, CPORT, &h_user_cbs, &U, &c, H.now),
			 0);
	expect(&t, SYN, ISS, 0, 0);
	ck_assert(t.sack_perm); /* offered on active opens */
	h_input(&H, buf, h_build_tcp(buf, &synack));
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(t.nsack, 0);
	/* holes: [1,11) missing, [11,21) held, [21,31) missing, [31,41) held */
	h_send_tcp(&H, RPORT, CPORT, PISN + 31, ISS + 1, ACK, "0123456789", 10);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(t.nsack, 1);
	ck_assert_uint_eq(t.sack[0][0], PISN + 31);
	ck_assert_uint_eq(t.sack[0][1], PISN + 41);
	h_send_tcp(&H, RPORT, CPORT, PISN + 11, ISS + 1, ACK, "0123456789", 10);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(t.nsack, 2);
	ck_assert_uint_eq(t.sack[0][0], PISN + 11); /* the latest arrival first */
	ck_assert_uint_eq(t.sack[0][1], PISN + 21);
	ck_assert_uint_eq(t.sack[1][0], PISN + 31);
	/* adjacent blocks merge */
	h_send_tcp(&H, RPORT, CPORT, PISN + 21, ISS + 1, ACK, "0123456789", 10);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(t.nsack, 1);
	ck_assert_uint_eq(t.sack[0][0], PISN + 11);
	ck_assert_uint_eq(t.sack[0][1], PISN + 41);
	/* data we send meanwhile leaves room for the option within the MSS */
	{
		static uint8_t big[3000];

		ck_assert_int_eq(stack_tcp_send(c, big, sizeof(big), H.now), (ssize_t)sizeof(big));
		expect(&t, ACK, ISS + 1, PISN + 1, 1460 - 28);
		ck_assert_uint_eq(t.nsack, 1);
		h_clear(&H);
	}
	/* the hole fills: no more SACK */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1, ACK, "0123456789", 10);
	ck_assert(h_try_pop_tcp(&H, &t));
	ck_assert_uint_eq(t.ack, PISN + 41);
	ck_assert_uint_eq(t.nsack, 0);
	ck_assert_uint_eq(U.rx_len, 40);
	h_clear(&H);
}
END_TEST

START_TEST(test_no_sack_unless_both)
{
	struct stack_tcp *lst;
	struct h_tcp t;

	/* the peer's SYN has no SACK-permitted: our SYN-ACK has none either */
	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 4, &h_user_cbs, &U, &lst), 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	ck_assert(!t.sack_perm);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, NULL, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 11, ISS + 1, ACK, "x", 1);
	expect(&t, ACK, ISS + 1, PISN + 1, 0);
	ck_assert_uint_eq(t.nsack, 0);
}
END_TEST

START_TEST(test_ooo_queue_bound)
{
	struct stack_cfg cfg;
	struct h_tcp t;

	teardown();
	h_cfg(&cfg);
	cfg.tcp_ooo_max = 2;
	setup_with(&cfg);
	establish_passive(NULL);
	for (int i = 1; i <= 3; i++) {
		h_send_tcp(&H, PPORT, LPORT, PISN + 1 + 10 * (uint32_t)i, ISS + 1, ACK, "x", 1);
		expect(&t, ACK, ISS + 1, PISN + 1, 0);
	}
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_OOO_FULL), 1);
}
END_TEST

START_TEST(test_backlog)
{
	struct stack_tcp *lst;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 2, &h_user_cbs, &U, &lst), 0);
	h_send_tcp(&H, 1001, LPORT, PISN, 0, SYN, NULL, 0);
	h_send_tcp(&H, 1002, LPORT, PISN, 0, SYN, NULL, 0);
	ck_assert_uint_eq(h_pending(&H), 2);
	h_clear(&H);
	h_send_tcp(&H, 1003, LPORT, PISN, 0, SYN, NULL, 0);
	expect_none();
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_BACKLOG), 1);
	/* one completes: room for another */
	h_send_tcp(&H, 1001, LPORT, PISN + 1, ISS + 1, ACK, NULL, 0);
	ck_assert_uint_eq(U.accepts, 1);
	h_send_tcp(&H, 1003, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	/* a retransmitted SYN gets the SYN-ACK again */
	h_send_tcp(&H, 1003, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	/* closing the listener resets the embryos */
	stack_tcp_close(lst, H.now);
	ck_assert_uint_eq(h_pending(&H), 2);
	h_clear(&H);
	ck_assert_uint_eq(conn_count(), 1); /* the accepted one */
}
END_TEST

START_TEST(test_data_with_handshake_ack)
{
	/* The ACK completing the handshake carries data: kept for the user. */
	struct stack_tcp *lst;
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 4, &h_user_cbs, &U, &lst), 0);
	h_send_tcp(&H, PPORT, LPORT, PISN, 0, SYN, NULL, 0);
	expect(&t, SYN | ACK, ISS, PISN + 1, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK | PSH, "first", 5);
	ck_assert_uint_eq(U.accepts, 1);
	ck_assert_uint_eq(U.rx_len, 5);
	expect(&t, ACK, ISS + 1, PISN + 6, 0);
}
END_TEST

START_TEST(test_mss_segmentation_and_cwnd)
{
	struct stack_tcp *c = establish_active();
	static uint8_t data[10000];
	struct h_tcp t;
	uint32_t seq = ISS + 1;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	ck_assert_int_eq(stack_tcp_send(c, data, sizeof(data), H.now), (ssize_t)sizeof(data));
	/* initial window: 3 segments of 1460 (RFC 5681 3.1) */
	for (int i = 0; i < 3; i++) {
		expect(&t, ACK, seq, PISN + 1, 1460);
		ck_assert_int_eq(memcmp(t.data, data + (seq - ISS - 1), 1460), 0);
		seq += 1460;
	}
	expect_none();
	/* each ACK opens the window by one MSS in slow start: 2 more per ACK */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 1460, ACK, NULL, 0);
	expect(&t, ACK, seq, PISN + 1, 1460);
	seq += 1460;
	expect(&t, ACK, seq, PISN + 1, 1460);
	seq += 1460;
	expect_none();
}
END_TEST

START_TEST(test_fast_retransmit)
{
	struct stack_tcp *c = establish_active();
	static uint8_t data[8 * 1460];
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_send(c, data, sizeof(data), H.now), (ssize_t)sizeof(data));
	h_clear(&H);
	/* first ACK: window grows, 2 more segments: 5 in flight */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 1460, ACK, NULL, 0);
	h_clear(&H);
	/* segment 2 was lost: three duplicate ACKs */
	for (int i = 0; i < 2; i++)
		h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 1460, ACK, NULL, 0);
	expect_none();
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 1460, ACK, NULL, 0);
	expect(&t, ACK, ISS + 1 + 1460, PISN + 1, 1460); /* no RTO needed */
	ck_assert_uint_eq(h_stats(&H).tcp_retransmits, 1);
	h_clear(&H); /* the inflated window let new data go too */
	/* partial ACK (NewReno): the next hole goes at once too */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 2 * 1460, ACK, NULL, 0);
	ck_assert(h_try_pop_tcp(&H, &t));
	ck_assert_uint_eq(t.seq, ISS + 1 + 2 * 1460);
	ck_assert_uint_eq(h_stats(&H).tcp_retransmits, 2);
	h_clear(&H);
}
END_TEST

START_TEST(test_go_back_n_after_rto)
{
	struct stack_tcp *c = establish_active();
	static uint8_t data[3 * 1460];
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_send(c, data, sizeof(data), H.now), (ssize_t)sizeof(data));
	h_clear(&H);
	H.now += 1000;
	h_poll(&H);
	expect(&t, ACK, ISS + 1, PISN + 1, 1460); /* cwnd 1: one segment */
	expect_none();
	/* the peer had the other two: its ACK covers everything */
	h_send_tcp(&H, RPORT, CPORT, PISN + 1, ISS + 1 + 3 * 1460, ACK, NULL, 0);
	ck_assert_uint_eq(U.sent, sizeof(data));
	expect_none();
	ck_assert_uint_eq(tcp_deadline(), STACK_NEVER);
}
END_TEST

START_TEST(test_zero_window_probe)
{
	struct stack_tcp *c = establish_passive(NULL);
	uint8_t buf[H_FRAME_MAX];
	struct h_tcp t = {
		.src = H_PEER, .dst = H_US, .sport = PPORT, .dport = LPORT,
		.seq = PISN + 1, .ack = ISS + 1, .flags = ACK, .wnd = 0,
	};
	struct h_tcp p;

	h_input(&H, buf, h_build_tcp(buf, &t)); /* window closed */
	ck_assert_int_eq(stack_tcp_send(c, "waiting", 7, H.now), 7);
	expect_none();
	H.now = tcp_deadline();
	h_poll(&H);
	expect(&p, ACK, ISS + 1, PISN + 1, 1); /* one-byte probe */
	/* still closed, acknowledged: probes go on, the connection stays */
	for (int i = 0; i < 12; i++) {
		struct h_tcp z = {
			.src = H_PEER, .dst = H_US, .sport = PPORT, .dport = LPORT,
			.seq = PISN + 1, .ack = ISS + 1, .flags = ACK, .wnd = 0,
		};

		h_input(&H, buf, h_build_tcp(buf, &z));
		h_clear(&H);
		H.now = tcp_deadline();
		h_poll(&H);
		ck_assert(h_try_pop_tcp(&H, &z)); /* a probe each time */
		ck_assert_uint_eq(z.len, 1);
	}
	ck_assert_uint_eq(stack_tcp_get_state(c), STACK_TCP_ESTABLISHED);
	h_clear(&H);
	/* window opens: everything goes */
	t.wnd = 1000;
	h_input(&H, buf, h_build_tcp(buf, &t));
	ck_assert(h_try_pop_tcp(&H, &p));
	ck_assert_uint_eq(p.seq, ISS + 2); /* the probe byte is in flight */
	ck_assert_uint_eq(p.len, 6);
	ck_assert_int_eq(memcmp(p.data, "aiting", 6), 0);
}
END_TEST

START_TEST(test_delayed_ack)
{
	struct stack_cfg cfg;
	struct h_tcp t;
	uint64_t t0;

	teardown();
	h_cfg(&cfg);
	cfg.tcp_delack_ms = 40;
	setup_with(&cfg);
	establish_passive(NULL);
	t0 = H.now;
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK, "one", 3);
	expect_none();
	ck_assert_uint_eq(h_poll(&H), t0 + 40);
	h_advance_to(&H, t0 + 40);
	expect(&t, ACK, ISS + 1, PISN + 4, 0);
	/* every second segment is acknowledged at once */
	h_send_tcp(&H, PPORT, LPORT, PISN + 4, ISS + 1, ACK, "two", 3);
	expect_none();
	h_send_tcp(&H, PPORT, LPORT, PISN + 7, ISS + 1, ACK, "three", 5);
	expect(&t, ACK, ISS + 1, PISN + 12, 0);
	/* an answer written from the callback carries the ACK */
	U.echo = true;
	h_send_tcp(&H, PPORT, LPORT, PISN + 12, ISS + 1, ACK, "echo", 4);
	expect(&t, ACK | PSH, ISS + 1, PISN + 16, 4);
	expect_none();
}
END_TEST

static void abort_on_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	struct h_user *u = ud;

	(void)data;
	(void)len;
	stack_tcp_abort(conn, u->h->now);
}

START_TEST(test_abort_from_callback)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct stack_tcp_cbs cbs = h_user_cbs;
	struct h_tcp t;

	cbs.recv = abort_on_recv;
	stack_tcp_set_cbs(c, &cbs, &U);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1, ACK | FIN, "data", 4);
	expect(&t, RST | ACK, ISS + 1, PISN + 6, 0); /* data and FIN were taken */
	expect_none();
	ck_assert_uint_eq(U.closes, 0);
	ck_assert_uint_eq(conn_count(), 1);
	/* later segments meet no connection */
	h_send_tcp(&H, PPORT, LPORT, PISN + 5, ISS + 1, ACK, NULL, 0);
	expect(&t, RST, ISS + 1, 0, 0);
}
END_TEST

START_TEST(test_close_with_pending_data)
{
	struct stack_tcp *c = establish_passive(NULL);
	static uint8_t data[5000];
	struct h_tcp t;

	ck_assert_int_eq(stack_tcp_send(c, data, sizeof(data), H.now), (ssize_t)sizeof(data));
	h_clear(&H); /* 3 segments out, 620 bytes wait */
	stack_tcp_close(c, H.now);
	expect_none(); /* FIN waits behind the data */
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1 + 3 * 1460, ACK, NULL, 0);
	expect(&t, ACK | PSH | FIN, ISS + 1 + 3 * 1460, PISN + 1, 620);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1 + 5000 + 1, ACK | FIN, NULL, 0);
	expect(&t, ACK, ISS + 5002, PISN + 2, 0);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_TIME_WAIT);
	ck_assert_uint_eq(U.closes, 0);
}
END_TEST

START_TEST(test_send_buffer_full)
{
	struct stack_tcp *c = establish_passive(NULL);
	static uint8_t data[70000];

	ck_assert_int_eq(stack_tcp_send(c, data, sizeof(data), H.now), 65536);
	ck_assert_uint_eq(stack_tcp_send_space(c), 0);
	ck_assert_int_eq(stack_tcp_send(c, data, 1, H.now), 0);
	h_clear(&H);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 1 + 1000, ACK, NULL, 0);
	ck_assert_uint_eq(U.sent, 1000);
	ck_assert_uint_eq(stack_tcp_send_space(c), 1000);
	h_clear(&H);
}
END_TEST

START_TEST(test_orphan_fin_wait_2_times_out)
{
	struct stack_tcp *c = establish_passive(NULL);
	struct h_tcp t;

	stack_tcp_close(c, H.now);
	expect(&t, ACK | FIN, ISS + 1, PISN + 1, 0);
	h_send_tcp(&H, PPORT, LPORT, PISN + 1, ISS + 2, ACK, NULL, 0);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_FIN_WAIT_2);
	h_run_for(&H, 2 * 1000);
	ck_assert_uint_eq(state_of(LPORT, PPORT), STACK_TCP_CLOSED);
	ck_assert_uint_eq(conn_count(), 1);
}
END_TEST

START_TEST(test_user_api_errors)
{
	struct stack_tcp *l1, *l2, *c;

	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 1, NULL, NULL, &l1), 0);
	ck_assert_int_eq(stack_tcp_listen(H.st, LPORT, 1, NULL, NULL, &l2), -EADDRINUSE);
	ck_assert_int_eq(stack_tcp_listen(H.st, 0, 1, NULL, NULL, &l2), -EINVAL);
	ck_assert_int_eq(stack_tcp_send(l1, "x", 1, H.now), -ENOTCONN);
	ck_assert_int_eq(stack_tcp_connect(H.st, 0xc6130101u, 53, 0, NULL, NULL, &c, H.now),
			 -EHOSTUNREACH);
	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, 53, LPORT, NULL, NULL, &c, H.now),
			 -EADDRINUSE);
	ck_assert_int_eq(stack_tcp_connect(H.st, H_PEER, 53, 0, NULL, NULL, &c, H.now), 0);
	ck_assert_int_eq(stack_tcp_shutdown(c, H.now), -ENOTCONN);
	ck_assert_str_eq(stack_tcp_state_name(STACK_TCP_TIME_WAIT), "TIME_WAIT");
	ck_assert_str_eq(stack_drop_name(STACK_DROP_TCP_NO_CONN), "tcp_no_conn");
	for (int i = 0; i < STACK_DROP_MAX; i++)
		ck_assert_str_ne(stack_drop_name((enum stack_drop)i), "?");
	h_clear(&H);
	stack_tcp_abort(c, H.now);
}
END_TEST

START_TEST(test_malformed_tcp)
{
	uint8_t buf[H_FRAME_MAX];
	struct h_tcp t = {
		.src = H_PEER, .dst = H_US, .sport = PPORT, .dport = LPORT,
		.seq = 1, .flags = SYN, .wnd = 100,
	};
	size_t n = h_build_tcp(buf, &t);

	buf[n - 1] ^= 1; /* checksum */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_CSUM), 1);
	n = h_build_ip(buf, H_PEER, H_US, 6, (const uint8_t *)"short", 5);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_SHORT), 1);
	n = h_build_tcp(buf, &t);
	buf[34 + 12] = 0x40; /* data offset 4 words */
	h_input(&H, buf, n);
	buf[34 + 12] = 0xf0; /* 60 bytes, beyond the segment */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TCP_HDRLEN), 2);
	expect_none();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack_tcp");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_passive_open_and_data);
	tcase_add_test(tc, test_active_open_and_data);
	tcase_add_test(tc, test_data_before_established_is_queued);
	tcase_add_test(tc, test_passive_close);
	tcase_add_test(tc, test_passive_close_with_shutdown);
	tcase_add_test(tc, test_active_close_time_wait);
	tcase_add_test(tc, test_full_table_recycles_time_wait);
	tcase_add_test(tc, test_simultaneous_close);
	tcase_add_test(tc, test_fin_with_ack_of_our_fin);
	tcase_add_test(tc, test_simultaneous_open);
	tcase_add_test(tc, test_sequence_wraparound);
	tcase_add_test(tc, test_seq_macros);
	tcase_add_test(tc, test_retransmission_backoff_and_abort);
	tcase_add_test(tc, test_rto_from_rtt_and_reset_by_ack);
	tcase_add_test(tc, test_syn_retransmit_and_give_up);
	tcase_add_test(tc, test_rst_for_no_connection);
	tcase_add_test(tc, test_listener_ack_and_rst);
	tcase_add_test(tc, test_rst_processing);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_syn_sent_bad_ack);
	tcase_add_test(tc, test_out_of_window_segments);
	tcase_add_test(tc, test_out_of_order_reassembly);
	tcase_add_test(tc, test_ooo_queue_bound);
	tcase_add_test(tc, test_sack_blocks);
	tcase_add_test(tc, test_no_sack_unless_both);
	tcase_add_test(tc, test_backlog);
	tcase_add_test(tc, test_data_with_handshake_ack);
	tcase_add_test(tc, test_mss_segmentation_and_cwnd);
	tcase_add_test(tc, test_fast_retransmit);
	tcase_add_test(tc, test_go_back_n_after_rto);
	tcase_add_test(tc, test_zero_window_probe);
	tcase_add_test(tc, test_delayed_ack);
	tcase_add_test(tc, test_abort_from_callback);
	tcase_add_test(tc, test_close_with_pending_data);
	tcase_add_test(tc, test_send_buffer_full);
	tcase_add_test(tc, test_orphan_fin_wait_2_times_out);
	tcase_add_test(tc, test_user_api_errors);
	tcase_add_test(tc, test_malformed_tcp);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
