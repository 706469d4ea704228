/* test_stack_ip.c — IPv4 input checks, ICMP echo and errors, UDP. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "csum.h"
#include "harness.h"
#include "wire.h"

static struct harness H;

static void setup(void)
{
	h_init(&H, NULL);
	h_learn_peer(&H);
}

static void teardown(void)
{
	h_fini(&H);
}

/* Re-checksums the IPv4 header of a frame built by the harness. */
static void fix_ip_csum(uint8_t *frame)
{
	uint8_t *ip = frame + 14;
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;

	wire_put16(ip + 10, 0);
	wire_put16(ip + 10, csum(ip, hlen));
}

struct udp_rx {
	unsigned n;
	uint32_t addr;
	uint16_t port;
	size_t len;
	uint8_t data[2048];
	bool close_self;
};

static void udp_rx_cb(struct stack_udp *s, const uint8_t *data, size_t len, uint32_t addr,
		      uint16_t port, void *ud)
{
	struct udp_rx *r = ud;

	r->n++;
	r->addr = addr;
	r->port = port;
	r->len = len;
	memcpy(r->data, data, len);
	if (r->close_self)
		stack_udp_close(s);
}

static size_t udp_frame(uint8_t *buf, uint16_t dport, const char *msg)
{
	return h_build_udp(buf, H_PEER, 4444, H_US, dport, msg, strlen(msg));
}

START_TEST(test_ip_malformed_dropped)
{
	uint8_t buf[256];
	size_t n;

	n = udp_frame(buf, 53, "hello");
	h_input(&H, buf, 14 + 19);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_SHORT), 1);

	n = udp_frame(buf, 53, "hello");
	buf[14] = 0x65; /* version 6 */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_VERSION), 1);

	n = udp_frame(buf, 53, "hello");
	buf[14] = 0x44; /* IHL 4 */
	h_input(&H, buf, n);
	buf[14] = 0x4f; /* IHL 15: 60 bytes, more than the frame */
	h_input(&H, buf, 14 + 40);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_HDRLEN), 2);

	n = udp_frame(buf, 53, "hello");
	buf[14 + 8] = 1; /* TTL changed, checksum not */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_CSUM), 1);

	n = udp_frame(buf, 53, "hello");
	wire_put16(buf + 16, (uint16_t)(n - 14 + 1)); /* longer than the frame */
	fix_ip_csum(buf);
	h_input(&H, buf, n);
	wire_put16(buf + 16, 19); /* shorter than the header */
	fix_ip_csum(buf);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_LEN), 2);

	n = udp_frame(buf, 53, "hello");
	wire_put16(buf + 20, 0x2000); /* MF */
	fix_ip_csum(buf);
	h_input(&H, buf, n);
	wire_put16(buf + 20, 0x0010); /* offset 128 */
	fix_ip_csum(buf);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_FRAG), 2);

	n = h_build_udp(buf, H_PEER, 4444, H_OTHER, 53, "x", 1);
	h_input(&H, buf, n);
	n = h_build_udp(buf, 0xc61200ffu, 4444, H_US, 53, "x", 1); /* bcast source */
	h_input(&H, buf, n);
	n = h_build_udp(buf, 0x7f000001u, 4444, H_US, 53, "x", 1); /* loopback source */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_NOT_US), 3);

	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_ip_padding_and_options)
{
	struct udp_rx r = { 0 };
	struct stack_udp *s;
	uint8_t buf[256], tmp[256];
	size_t n;

	ck_assert_int_eq(stack_udp_open(H.st, 53, udp_rx_cb, &r, &s), 0);
	/* a short datagram padded to 60 bytes by the link */
	n = udp_frame(buf, 53, "hi");
	memset(buf + n, 0xee, 60 - n);
	h_input(&H, buf, 60);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.len, 2);

	/* IHL 6: a 4-byte option (NOP x4) before the payload */
	n = udp_frame(buf, 53, "opt");
	memcpy(tmp, buf + 34, n - 34);
	buf[14] = 0x46;
	memset(buf + 34, 1, 4);
	memcpy(buf + 38, tmp, n - 34);
	wire_put16(buf + 16, (uint16_t)(n - 14 + 4));
	fix_ip_csum(buf);
	h_input(&H, buf, n + 4);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_int_eq(memcmp(r.data, "opt", 3), 0);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_ip_unknown_protocol)
{
	uint8_t buf[128];
	struct h_ip ip;
	size_t n = h_build_ip(buf, H_PEER, H_US, 99, (const uint8_t *)"abcdefgh", 8);

	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_IP_PROTO), 1);
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(ip.proto, 1);
	ck_assert_uint_eq(ip.payload[0], 3);
	ck_assert_uint_eq(ip.payload[1], 2); /* protocol unreachable */
}
END_TEST

START_TEST(test_ping_reply)
{
	uint8_t buf[256], data[56];
	const struct h_frame *f;
	struct h_ip ip;
	size_t n;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	n = h_build_icmp_echo(buf, H_PEER, H_US, 0x4242, 7, data, sizeof(data));
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 1);
	f = h_pop(&H);
	ck_assert_int_eq(memcmp(f->buf, h_peer_mac, 6), 0);
	h_parse_ip(f, &ip);
	ck_assert_uint_eq(ip.src, H_US);
	ck_assert_uint_eq(ip.dst, H_PEER);
	ck_assert_uint_eq(ip.proto, 1);
	ck_assert_uint_eq(ip.ttl, 64);
	ck_assert_uint_eq(ip.frag, 0x4000); /* DF */
	ck_assert_uint_eq(ip.len, 8 + sizeof(data));
	ck_assert_uint_eq(ip.payload[0], 0);
	ck_assert_uint_eq(ip.payload[1], 0);
	ck_assert_uint_eq(wire_get16(ip.payload + 4), 0x4242);
	ck_assert_uint_eq(wire_get16(ip.payload + 6), 7);
	ck_assert_int_eq(memcmp(ip.payload + 8, data, sizeof(data)), 0);
	ck_assert_uint_eq(csum(ip.payload, ip.len), 0);
	ck_assert_uint_eq(h_stats(&H).icmp_in, 1);
	ck_assert_uint_eq(h_stats(&H).icmp_out, 1);
}
END_TEST

START_TEST(test_ping_odd_length_and_broadcast)
{
	uint8_t buf[256];
	struct h_ip ip;
	size_t n = h_build_icmp_echo(buf, H_PEER, H_US, 1, 1, "odd", 3);

	h_input(&H, buf, n);
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(csum(ip.payload, ip.len), 0);
	/* to the broadcast address: no answer */
	n = h_build_icmp_echo(buf, H_PEER, 0xc61200ffu, 1, 2, "b", 1);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_icmp_malformed)
{
	uint8_t buf[256];
	size_t n = h_build_icmp_echo(buf, H_PEER, H_US, 1, 1, "data", 4);

	buf[n - 1] ^= 0xff;
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ICMP_CSUM), 1);
	n = h_build_ip(buf, H_PEER, H_US, 1, (const uint8_t *)"\x08\x00\x00", 3);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ICMP_SHORT), 1);
	/* an echo reply nobody asked for: counted, not answered */
	n = h_build_icmp_echo(buf, H_PEER, H_US, 1, 1, "x", 1);
	buf[34] = 0;
	wire_put16(buf + 36, 0);
	wire_put16(buf + 36, csum(buf + 34, n - 34));
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ICMP_TYPE), 1);
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_udp_receive)
{
	struct udp_rx r = { 0 };
	struct stack_udp *s;
	uint8_t buf[256];
	size_t n;

	ck_assert_int_eq(stack_udp_open(H.st, 53, udp_rx_cb, &r, &s), 0);
	n = udp_frame(buf, 53, "query");
	h_input(&H, buf, n);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.addr, H_PEER);
	ck_assert_uint_eq(r.port, 4444);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_int_eq(memcmp(r.data, "query", 5), 0);
	/* checksum 0: "none", accepted */
	wire_put16(buf + 34 + 6, 0);
	h_input(&H, buf, n);
	ck_assert_uint_eq(r.n, 2);
	/* wrong checksum */
	wire_put16(buf + 34 + 6, 0x1234);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_CSUM), 1);
	/* length field beyond the datagram, and below the header */
	n = udp_frame(buf, 53, "query");
	wire_put16(buf + 34 + 4, 14);
	h_input(&H, buf, n);
	wire_put16(buf + 34 + 4, 7);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_LEN), 2);
	n = h_build_ip(buf, H_PEER, H_US, 17, (const uint8_t *)"1234567", 7);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_SHORT), 1);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(h_pending(&H), 0);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_udp_close_in_callback)
{
	struct udp_rx r = { .close_self = true };
	struct stack_udp *s;
	uint8_t buf[256];
	size_t n = udp_frame(buf, 53, "bye");

	ck_assert_int_eq(stack_udp_open(H.st, 53, udp_rx_cb, &r, &s), 0);
	h_input(&H, buf, n);
	ck_assert_uint_eq(r.n, 1);
	h_input(&H, buf, n); /* now closed: port unreachable */
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_NO_PORT), 1);
	h_clear(&H);
}
END_TEST

START_TEST(test_udp_send)
{
	struct stack_udp *s, *s2;
	uint8_t big[1500] = { 0 };
	struct h_ip ip;
	const uint8_t *u;

	ck_assert_int_eq(stack_udp_open(H.st, 5300, NULL, NULL, &s), 0);
	ck_assert_int_eq(stack_udp_open(H.st, 5300, NULL, NULL, &s2), -EADDRINUSE);
	ck_assert_ptr_null(s2);
	ck_assert_int_eq(stack_udp_sendto(s, "answer", 6, H_PEER, 4444, H.now), 0);
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(ip.proto, 17);
	ck_assert_uint_eq(ip.len, 14);
	u = ip.payload;
	ck_assert_uint_eq(wire_get16(u), 5300);
	ck_assert_uint_eq(wire_get16(u + 2), 4444);
	ck_assert_uint_eq(wire_get16(u + 4), 14);
	ck_assert_uint_ne(wire_get16(u + 6), 0);
	ck_assert_uint_eq(csum_fold(csum_add(csum_pseudo4(H_US, H_PEER, 17, 14), u, 14)), 0);
	ck_assert_int_eq(memcmp(u + 8, "answer", 6), 0);
	/* the largest datagram that fits the MTU, and one byte more */
	ck_assert_int_eq(stack_udp_sendto(s, big, 1500 - 28, H_PEER, 4444, H.now), 0);
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(ip.len, 1480);
	ck_assert_int_eq(stack_udp_sendto(s, big, 1500 - 27, H_PEER, 4444, H.now), -EMSGSIZE);
	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, H_PEER, 0, H.now), -EINVAL);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_udp_ephemeral_ports)
{
	struct stack_udp *s[64];

	for (int i = 0; i < 64; i++) {
		ck_assert_int_eq(stack_udp_open(H.st, 0, NULL, NULL, &s[i]), 0);
		ck_assert_uint_ge(stack_udp_port(s[i]), 1024);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(stack_udp_port(s[i]), stack_udp_port(s[j]));
	}
	for (int i = 0; i < 64; i++)
		stack_udp_close(s[i]);
}
END_TEST

START_TEST(test_udp_port_unreachable)
{
	uint8_t buf[256];
	struct h_ip ip;
	size_t n = udp_frame(buf, 9999, "nobody home");

	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_NO_PORT), 1);
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(ip.dst, H_PEER);
	ck_assert_uint_eq(ip.proto, 1);
	ck_assert_uint_eq(ip.payload[0], 3);
	ck_assert_uint_eq(ip.payload[1], 3);
	ck_assert_uint_eq(csum(ip.payload, ip.len), 0);
	/* quotes the whole offending datagram (it is small) */
	ck_assert_uint_eq(ip.len, 8 + (n - 14));
	ck_assert_int_eq(memcmp(ip.payload + 8, buf + 14, n - 14), 0);
	/* never about a broadcast */
	n = h_build_udp(buf, H_PEER, 4444, 0xffffffffu, 9999, "b", 1);
	memset(buf, 0xff, 6);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_UDP_NO_PORT), 2);
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_icmp_rate_limit)
{
	struct stack_cfg cfg;
	uint8_t buf[256];
	size_t n = udp_frame(buf, 9999, "flood");

	h_cfg(&cfg);
	for (int i = 0; i < 25; i++)
		h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), cfg.icmp_burst);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ICMP_RATELIMIT), 25 - cfg.icmp_burst);
	h_clear(&H);
	/* 10 per second: after 99 ms still nothing, at 100 ms one token */
	H.now += 99;
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 0);
	H.now += 1;
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 1);
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 1);
	/* a long pause refills only up to the burst */
	H.now += 3600 * 1000;
	h_clear(&H);
	h_learn_peer(&H); /* the ARP entry expired meanwhile */
	for (int i = 0; i < 25; i++)
		h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), cfg.icmp_burst);
	h_clear(&H);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack_ip");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ip_malformed_dropped);
	tcase_add_test(tc, test_ip_padding_and_options);
	tcase_add_test(tc, test_ip_unknown_protocol);
	tcase_add_test(tc, test_ping_reply);
	tcase_add_test(tc, test_ping_odd_length_and_broadcast);
	tcase_add_test(tc, test_icmp_malformed);
	tcase_add_test(tc, test_udp_receive);
	tcase_add_test(tc, test_udp_close_in_callback);
	tcase_add_test(tc, test_udp_send);
	tcase_add_test(tc, test_udp_ephemeral_ports);
	tcase_add_test(tc, test_udp_port_unreachable);
	tcase_add_test(tc, test_icmp_rate_limit);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
