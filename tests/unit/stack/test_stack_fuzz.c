/* test_stack_fuzz.c — 200,000 random and half-valid frames, seeded.
 *
 * Pure noise only exercises the first checks of each layer, so most frames
 * are built valid (checksums right) with random fields drawn from small
 * sets — ports that are listening, sequence numbers near the pinned ISNs —
 * so that they reach deep into ARP, ICMP, UDP and every TCP state, and
 * some are then corrupted bit-wise.  The clock jumps at random and the
 * user side echoes, closes and aborts at random.  Passing means: no crash,
 * no sanitizer report, no leaked buffer, bounded tables. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "harness.h"
#include "stack_int.h"
#include "tcp.h"
#include "wire.h"

#define FUZZ_FRAMES 200000
#define FUZZ_SEED 0x5eed1234u
#define FISS 0x7ffffff0u
#define MAX_CONNS 64

static struct harness H;
static uint32_t rng;
static struct stack_tcp *conns[MAX_CONNS];
static struct stack_udp *udp53;
static unsigned accepts, receives;

static uint32_t fr(void)
{
	/* xorshift32: deterministic across runs and platforms */
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static uint32_t pick(const uint32_t *set, size_t n)
{
	return set[fr() % n];
}

static uint32_t isn_hook(void *ud)
{
	(void)ud;
	return FISS;
}

static void forget(struct stack_tcp *c)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
}

static void remember(struct stack_tcp *c)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		if (!conns[i]) {
			conns[i] = c;
			return;
		}
	}
	stack_tcp_abort(c, H.now); /* no room: the user refuses it */
}

static void f_accept(struct stack_tcp *l, struct stack_tcp *c, void *ud)
{
	(void)l;
	(void)ud;
	accepts++;
	remember(c);
}

static void f_connected(struct stack_tcp *c, void *ud)
{
	(void)c;
	(void)ud;
}

static void f_recv(struct stack_tcp *c, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	receives++;
	switch (fr() % 8) {
	case 0:
		forget(c);
		stack_tcp_close(c, H.now);
		break;
	case 1:
		forget(c);
		stack_tcp_abort(c, H.now);
		break;
	case 2:
		(void)stack_tcp_shutdown(c, H.now);
		break;
	default:
		if (len)
			(void)stack_tcp_send(c, data, len, H.now);
		break;
	}
}

static void f_closed(struct stack_tcp *c, int err, void *ud)
{
	(void)err;
	(void)ud;
	forget(c);
}

static const struct stack_tcp_cbs fcbs = {
	.accept = f_accept, .connected = f_connected, .recv = f_recv, .closed = f_closed,
};

static void f_udp_recv(struct stack_udp *s, const uint8_t *data, size_t len, uint32_t addr,
		       uint16_t port, void *ud)
{
	(void)ud;
	(void)stack_udp_sendto(s, data, len, addr, port, H.now);
}

static const uint32_t addrs[] = { H_US, H_US, H_US, H_PEER, H_OTHER, 0xc61200ffu, 0xffffffffu,
				  0, 0x7f000001u, 0xe0000001u };
static const uint32_t srcs[] = { H_PEER, H_PEER, H_PEER, H_OTHER, 0xc6120004u, 0xc61200ffu };
static const uint32_t ports[] = { 53, 53, 80, 8053, 40000, 40001, 40002, 0, 65535 };

static void random_fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)fr();
}

static size_t gen_tcp(uint8_t *buf)
{
	static const uint32_t seq_base[] = { 0x1000, 0xfffffff0u, 0x80000000u };
	static const uint32_t ack_off[] = { 0, 1, 2, 3, 100, 1461, 0x80000000u };
	uint8_t payload[1500];
	struct h_tcp t = {
		.src = pick(srcs, 3), .dst = H_US,
		.sport = (uint16_t)pick(ports + 3, 6), .dport = (uint16_t)pick(ports, 5),
		.seq = pick(seq_base, 3) + fr() % 8 + (fr() % 4 == 0 ? fr() % 70000 : 0),
		.ack = FISS + pick(ack_off, 7) + (fr() % 4 == 0 ? fr() : 0),
		.wnd = (uint16_t)(fr() % 3 == 0 ? 0 : fr()),
		.mss = (uint16_t)(fr() % 2 ? fr() : 0),
		.data = payload,
		.len = fr() % 3 == 0 ? fr() % sizeof(payload) : fr() % 40,
	};
	static const uint8_t flagsets[] = { 0x02, 0x12, 0x10, 0x18, 0x11, 0x19, 0x04, 0x14,
					    0x01, 0x03, 0x06, 0x3f, 0x00 };

	t.flags = fr() % 4 == 0 ? (uint8_t)fr() : flagsets[fr() % sizeof(flagsets)];
	random_fill(payload, t.len);
	return h_build_tcp(buf, &t);
}

static size_t gen_frame(uint8_t *buf)
{
	uint8_t payload[1600];
	size_t n, len;

	switch (fr() % 8) {
	case 0:
		n = fr() % 1600;
		random_fill(buf, n);
		if (fr() % 2)
			memcpy(buf, h_us_mac, 6);
		return n;
	case 1:
		return h_build_arp(buf, (uint16_t)(fr() % 4), fr() % 4 ? h_peer_mac : h_bcast_mac,
				   pick(srcs, 6), h_us_mac, pick(addrs, 6));
	case 2:
		len = fr() % 100;
		random_fill(payload, len);
		n = h_build_ip(buf, pick(srcs, 6), pick(addrs, 10), (uint8_t)fr(), payload, len);
		buf[14] = (uint8_t)(fr() % 4 ? 0x45 : fr());
		wire_put16(buf + 20, (uint16_t)(fr() % 4 ? 0x4000 : fr()));
		wire_put16(buf + 24, 0);
		wire_put16(buf + 24, csum(buf + 14, 20));
		return n;
	case 3:
		len = fr() % 600;
		random_fill(payload, len);
		return h_build_udp(buf, pick(srcs, 6), (uint16_t)fr(), pick(addrs, 6),
				   (uint16_t)pick(ports, 9), payload, len);
	case 4:
		len = fr() % 1500;
		random_fill(payload, len);
		return h_build_icmp_echo(buf, pick(srcs, 6), pick(addrs, 6), (uint16_t)fr(),
					 (uint16_t)fr(), payload, len);
	default:
		return gen_tcp(buf);
	}
}

static void corrupt(uint8_t *buf, size_t n)
{
	int flips = 1 + (int)(fr() % 4);

	for (int i = 0; i < flips && n; i++)
		buf[fr() % n] ^= (uint8_t)(1u << (fr() % 8));
}

static void user_action(void)
{
	struct stack_tcp *c;
	int i = (int)(fr() % MAX_CONNS);
	uint8_t data[3000];

	switch (fr() % 6) {
	case 0:
		if (stack_tcp_connect(H.st, pick(srcs, 2), 8053, 0, &fcbs, NULL, &c, H.now) == 0)
			remember(c);
		break;
	case 1:
		if (conns[i]) {
			random_fill(data, sizeof(data));
			(void)stack_tcp_send(conns[i], data, fr() % sizeof(data), H.now);
		}
		break;
	case 2:
		if (conns[i]) {
			c = conns[i];
			forget(c);
			stack_tcp_close(c, H.now);
		}
		break;
	default:
		(void)stack_udp_sendto(udp53, "ping", 4, pick(srcs, 6), 5353, H.now);
		break;
	}
}

START_TEST(test_fuzz_frames)
{
	struct stack_cfg cfg;
	struct stack_tcp *lst;
	static uint8_t buf[H_FRAME_MAX];
	struct stack_stats st;

	h_cfg(&cfg);
	cfg.tcp_max_conns = 128;
	cfg.tcp_delack_ms = 40;
	cfg.pkt_count = 64;
	h_init(&H, &cfg);
	H.st->tcp.isn_hook = isn_hook;
	rng = FUZZ_SEED;
	ck_assert_int_eq(stack_tcp_listen(H.st, 53, 16, &fcbs, NULL, &lst), 0);
	ck_assert_int_eq(stack_udp_open(H.st, 53, f_udp_recv, NULL, &udp53), 0);
	for (int i = 0; i < FUZZ_FRAMES; i++) {
		size_t n = gen_frame(buf);

		if (fr() % 10 == 0)
			corrupt(buf, n);
		h_input(&H, buf, n);
		if (fr() % 50 == 0)
			user_action();
		if (fr() % 20 == 0) {
			H.now += fr() % 3000;
			(void)h_poll(&H);
		}
		h_clear(&H);
		ck_assert_uint_le(H.st->tcp.count, cfg.tcp_max_conns);
	}
	/* drain every timer: connections die out, nothing is stuck */
	for (int i = 0; i < 100000 && H.st->tcp.count > 1; i++) {
		uint64_t next = tcp_poll(H.st, H.now);

		H.now = next == STACK_NEVER ? H.now + 1000 : next;
		(void)h_poll(&H);
		h_clear(&H);
	}
	stack_get_stats(H.st, &st);
	ck_assert_uint_eq(st.frames_in, FUZZ_FRAMES);
	if (getenv("FUZZ_VERBOSE")) {
		for (int i = 0; i < STACK_DROP_MAX; i++)
			printf("%s %llu\n", stack_drop_name((enum stack_drop)i),
			       (unsigned long long)st.drops[i]);
		printf("accepts %u receives %u passive %llu\n", accepts, receives,
		       (unsigned long long)st.tcp_passive_opens);
	}
	ck_assert_uint_gt(st.tcp_passive_opens, 0);
	ck_assert_uint_gt(st.udp_in, 0);
	ck_assert_uint_gt(st.icmp_out, 0);
	/* the half-valid frames got past the handshake into data and FINs */
	ck_assert_uint_gt(accepts, 10);
	ck_assert_uint_gt(receives, 10);
	stack_udp_close(udp53);
	stack_tcp_close(lst, H.now);
	h_clear(&H);
	h_fini(&H);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack_fuzz");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_fuzz_frames);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
