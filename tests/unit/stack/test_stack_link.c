/* test_stack_link.c — Ethernet, ARP and the interface: crafted frames in,
 * captured frames out, a fake clock for the ARP timers. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "wire.h"

static struct harness H;

static void setup(void)
{
	h_init(&H, NULL);
}

static void teardown(void)
{
	h_fini(&H);
}

static const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t zero_mac[6];

/* Checks an ARP frame the stack sent and returns its operation. */
static uint16_t parse_arp(const struct h_frame *f, const uint8_t eth_dst[6], uint32_t *tpa,
			  uint8_t tha[6])
{
	const uint8_t *a = f->buf + 14;

	ck_assert_uint_ge(f->len, 60); /* padded to the Ethernet minimum */
	ck_assert_int_eq(memcmp(f->buf, eth_dst, 6), 0);
	ck_assert_int_eq(memcmp(f->buf + 6, h_us_mac, 6), 0);
	ck_assert_uint_eq(wire_get16(f->buf + 12), 0x0806);
	ck_assert_uint_eq(wire_get16(a), 1);
	ck_assert_uint_eq(wire_get16(a + 2), 0x0800);
	ck_assert_uint_eq(a[4], 6);
	ck_assert_uint_eq(a[5], 4);
	ck_assert_int_eq(memcmp(a + 8, h_us_mac, 6), 0);
	ck_assert_uint_eq(wire_get32(a + 14), H_US);
	*tpa = wire_get32(a + 24);
	memcpy(tha, a + 18, 6);
	return wire_get16(a + 6);
}

struct walk_acc {
	unsigned n, resolved;
	uint32_t addr;
	uint8_t mac[6];
	unsigned queued;
};

static void walk_cb(const struct stack_arp_info *info, void *ud)
{
	struct walk_acc *w = ud;

	w->n++;
	w->resolved += info->resolved;
	w->addr = info->addr;
	w->queued = info->queued;
	memcpy(w->mac, info->mac, 6);
}

static struct walk_acc walk(void)
{
	struct walk_acc w;

	memset(&w, 0, sizeof(w));
	stack_arp_walk(H.st, walk_cb, &w);
	return w;
}

START_TEST(test_eth_short_and_foreign)
{
	uint8_t buf[64] = { 0 };

	h_input(&H, buf, 13);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ETH_SHORT), 1);
	h_input(&H, buf, 0);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ETH_SHORT), 2);
	h_build_eth(buf, other_mac, h_peer_mac, 0x0800);
	h_input(&H, buf, 60);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ETH_NOT_US), 1);
	h_build_eth(buf, (const uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, h_peer_mac, 0x86dd);
	h_input(&H, buf, 60);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ETH_NOT_US), 2); /* IPv6 multicast */
	h_build_eth(buf, h_us_mac, h_peer_mac, 0x86dd);
	h_input(&H, buf, 60);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ETH_TYPE), 1);
	ck_assert_uint_eq(h_pending(&H), 0);
	ck_assert_uint_eq(h_stats(&H).frames_in, 5);
}
END_TEST

START_TEST(test_arp_request_reply)
{
	uint8_t buf[128], tha[6];
	uint32_t tpa;
	size_t n = h_build_arp(buf, 1, h_peer_mac, H_PEER, zero_mac, H_US);
	struct walk_acc w;

	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 1);
	ck_assert_uint_eq(parse_arp(h_pop(&H), h_peer_mac, &tpa, tha), 2);
	ck_assert_uint_eq(tpa, H_PEER);
	ck_assert_int_eq(memcmp(tha, h_peer_mac, 6), 0);
	/* the requester is now in our cache (RFC 826 merge) */
	w = walk();
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.resolved, 1);
	ck_assert_uint_eq(w.addr, H_PEER);
	ck_assert_int_eq(memcmp(w.mac, h_peer_mac, 6), 0);
	ck_assert_uint_eq(h_stats(&H).arp_in, 1);
	ck_assert_uint_eq(h_stats(&H).arp_out, 1);
}
END_TEST

START_TEST(test_arp_not_for_us)
{
	uint8_t buf[128];
	size_t n = h_build_arp(buf, 1, h_peer_mac, H_PEER, zero_mac, H_OTHER);

	h_input(&H, buf, n);
	ck_assert_uint_eq(h_pending(&H), 0);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ARP_NOT_US), 1);
	ck_assert_uint_eq(walk().n, 0); /* strangers do not fill the cache */
}
END_TEST

START_TEST(test_arp_malformed)
{
	uint8_t buf[128];
	size_t n = h_build_arp(buf, 1, h_peer_mac, H_PEER, zero_mac, H_US);

	h_input(&H, buf, 14 + 27); /* truncated */
	buf[14 + 1] = 6;           /* htype 6 */
	h_input(&H, buf, n);
	n = h_build_arp(buf, 9, h_peer_mac, H_PEER, zero_mac, H_US); /* bad op */
	h_input(&H, buf, n);
	n = h_build_arp(buf, 1, h_bcast_mac, H_PEER, zero_mac, H_US); /* bcast sender */
	h_input(&H, buf, n);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ARP_MALFORMED), 4);
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_arp_probe_defended)
{
	uint8_t buf[128], tha[6];
	uint32_t tpa;

	/* RFC 5227 probe (sender address 0) for our address: we answer */
	h_input(&H, buf, h_build_arp(buf, 1, other_mac, 0, zero_mac, H_US));
	ck_assert_uint_eq(parse_arp(h_pop(&H), other_mac, &tpa, tha), 2);
	ck_assert_uint_eq(tpa, 0);
	ck_assert_uint_eq(walk().n, 0);
	/* a probe for another address: silence */
	h_input(&H, buf, h_build_arp(buf, 1, other_mac, 0, zero_mac, H_OTHER));
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_arp_gratuitous_at_start)
{
	uint8_t tha[6];
	uint32_t tpa;

	ck_assert_int_eq(stack_start(H.st, H.now), 0);
	ck_assert_uint_eq(parse_arp(h_pop(&H), h_bcast_mac, &tpa, tha), 1);
	ck_assert_uint_eq(tpa, H_US);
	ck_assert_int_eq(memcmp(tha, zero_mac, 6), 0);
}
END_TEST

static struct stack_udp *open_udp(void)
{
	struct stack_udp *s;

	ck_assert_int_eq(stack_udp_open(H.st, 5353, NULL, NULL, &s), 0);
	return s;
}

START_TEST(test_arp_resolve_and_release_queue)
{
	struct stack_udp *s = open_udp();
	uint8_t buf[128], tha[6];
	uint32_t tpa;
	struct h_ip ip;
	const struct h_frame *f;

	ck_assert_int_eq(stack_udp_sendto(s, "a", 1, H_OTHER, 53, H.now), 0);
	ck_assert_int_eq(stack_udp_sendto(s, "b", 1, H_OTHER, 53, H.now), 0);
	/* one request, both datagrams held */
	ck_assert_uint_eq(h_pending(&H), 1);
	ck_assert_uint_eq(parse_arp(h_pop(&H), h_bcast_mac, &tpa, tha), 1);
	ck_assert_uint_eq(tpa, H_OTHER);
	ck_assert_uint_eq(walk().queued, 2);
	/* the reply releases them, in order, to the learned MAC */
	h_input(&H, buf, h_build_arp(buf, 2, other_mac, H_OTHER, h_us_mac, H_US));
	ck_assert_uint_eq(h_pending(&H), 2);
	f = h_pop(&H);
	ck_assert_int_eq(memcmp(f->buf, other_mac, 6), 0);
	h_parse_ip(f, &ip);
	ck_assert_uint_eq(ip.dst, H_OTHER);
	ck_assert_uint_eq(ip.payload[8], 'a');
	h_parse_ip(h_pop(&H), &ip);
	ck_assert_uint_eq(ip.payload[8], 'b');
	/* and later datagrams go at once */
	ck_assert_int_eq(stack_udp_sendto(s, "c", 1, H_OTHER, 53, H.now), 0);
	ck_assert_uint_eq(h_pending(&H), 1);
	h_clear(&H);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_arp_queue_bound)
{
	struct stack_udp *s = open_udp();
	struct stack_cfg cfg;

	h_cfg(&cfg);
	for (unsigned i = 0; i < cfg.arp_queue + 2; i++)
		(void)stack_udp_sendto(s, "x", 1, H_OTHER, 53, H.now);
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ARP_QUEUE_FULL), 2);
	ck_assert_uint_eq(walk().queued, cfg.arp_queue);
	h_clear(&H);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_arp_retry_and_give_up)
{
	struct stack_udp *s = open_udp();
	uint64_t t0 = H.now, next;
	uint8_t tha[6];
	uint32_t tpa;

	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, H_OTHER, 53, H.now), 0);
	ck_assert_int_eq(stack_udp_sendto(s, "y", 1, H_OTHER, 53, H.now), 0);
	h_clear(&H);
	next = h_poll(&H);
	ck_assert_uint_eq(next, t0 + 1000);
	h_advance_to(&H, t0 + 999);
	ck_assert_uint_eq(h_pending(&H), 0);
	next = h_advance_to(&H, t0 + 1000);
	ck_assert_uint_eq(parse_arp(h_pop(&H), h_bcast_mac, &tpa, tha), 1); /* 2nd */
	ck_assert_uint_eq(next, t0 + 2000);
	h_advance_to(&H, t0 + 2000);
	ck_assert_uint_eq(parse_arp(h_pop(&H), h_bcast_mac, &tpa, tha), 1); /* 3rd */
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ARP_GIVEUP), 0);
	next = h_advance_to(&H, t0 + 3000);
	ck_assert_uint_eq(h_pending(&H), 0); /* no 4th request */
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_ARP_GIVEUP), 2);
	ck_assert_uint_eq(walk().n, 0);
	ck_assert_uint_eq(next, STACK_NEVER);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_arp_cache_expiry)
{
	struct stack_udp *s = open_udp();
	struct stack_cfg cfg;
	uint64_t t0 = H.now;

	h_cfg(&cfg);
	h_learn_peer(&H);
	ck_assert_uint_eq(walk().resolved, 1);
	ck_assert_uint_eq(h_poll(&H), t0 + cfg.arp_ttl_ms);
	h_advance_to(&H, t0 + cfg.arp_ttl_ms - 1);
	ck_assert_uint_eq(walk().resolved, 1);
	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, H_PEER, 53, H.now), 0);
	ck_assert_uint_eq(h_pending(&H), 1); /* straight out */
	h_clear(&H);
	h_advance_to(&H, t0 + cfg.arp_ttl_ms);
	ck_assert_uint_eq(walk().n, 0);
	/* expired: the next datagram has to ask again */
	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, H_PEER, 53, H.now), 0);
	ck_assert_uint_eq(walk().queued, 1);
	h_clear(&H);
	stack_udp_close(s);
}
END_TEST

START_TEST(test_arp_reply_refreshes_only_known)
{
	uint8_t buf[128];
	const uint8_t new_mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };

	/* unsolicited reply from a stranger: ignored */
	h_input(&H, buf, h_build_arp(buf, 2, other_mac, H_OTHER, h_us_mac, 0xc6120099u));
	ck_assert_uint_eq(walk().n, 0);
	/* a known host's gratuitous ARP updates its entry */
	h_learn_peer(&H);
	h_input(&H, buf, h_build_arp(buf, 1, new_mac, H_PEER, zero_mac, H_PEER));
	ck_assert_int_eq(memcmp(walk().mac, new_mac, 6), 0);
	/* someone claiming our address does not change anything */
	h_input(&H, buf, h_build_arp(buf, 1, other_mac, H_US, zero_mac, H_US));
	ck_assert_uint_eq(walk().n, 1);
	ck_assert_uint_eq(h_pending(&H), 0);
}
END_TEST

START_TEST(test_route_gateway)
{
	struct stack_cfg cfg;
	struct harness g;
	struct stack_udp *s;
	uint8_t tha[6];
	uint32_t tpa;
	const uint32_t off_link = 0xc6130101u; /* 198.19.1.1 */

	/* no gateway: off-link is unreachable */
	s = open_udp();
	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, off_link, 53, H.now), -EHOSTUNREACH);
	stack_udp_close(s);

	h_cfg(&cfg);
	cfg.gateway = 0xc61200feu;
	h_init(&g, &cfg);
	ck_assert_int_eq(stack_udp_open(g.st, 0, NULL, NULL, &s), 0);
	ck_assert_uint_ge(stack_udp_port(s), 1024);
	ck_assert_int_eq(stack_udp_sendto(s, "x", 1, off_link, 53, g.now), 0);
	ck_assert_uint_eq(parse_arp(h_pop(&g), h_bcast_mac, &tpa, tha), 1);
	ck_assert_uint_eq(tpa, 0xc61200feu); /* resolves the gateway */
	stack_udp_close(s);
	h_fini(&g);

	/* a gateway off our subnet is a configuration error */
	cfg.gateway = 0xc6130001u;
	ck_assert_int_eq(stack_new(&cfg, NULL, NULL, &g.st), -EINVAL);
	ck_assert_ptr_null(g.st);
}
END_TEST

START_TEST(test_output_failure_counted)
{
	uint8_t buf[128];

	H.fail_output = true;
	h_input(&H, buf, h_build_arp(buf, 1, h_peer_mac, H_PEER, zero_mac, H_US));
	ck_assert_uint_eq(h_drops(&H, STACK_DROP_TX_ERROR), 1);
	ck_assert_uint_eq(h_stats(&H).frames_out, 0);
}
END_TEST

START_TEST(test_random_mac)
{
	struct stack_cfg cfg;
	struct stack *st;
	uint8_t mac[6];

	h_cfg(&cfg);
	memset(cfg.mac, 0, 6);
	ck_assert_int_eq(stack_new(&cfg, (stack_output_fn)1, NULL, &st), 0);
	stack_get_mac(st, mac);
	ck_assert_uint_eq(mac[0] & 0x03, 0x02); /* local, unicast */
	stack_free(st);
	cfg.mac[0] = 0x01; /* multicast MAC refused */
	ck_assert_int_eq(stack_new(&cfg, (stack_output_fn)1, NULL, &st), -EINVAL);
	h_cfg(&cfg);
	cfg.mtu = 100;
	ck_assert_int_eq(stack_new(&cfg, (stack_output_fn)1, NULL, &st), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack_link");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_eth_short_and_foreign);
	tcase_add_test(tc, test_arp_request_reply);
	tcase_add_test(tc, test_arp_not_for_us);
	tcase_add_test(tc, test_arp_malformed);
	tcase_add_test(tc, test_arp_probe_defended);
	tcase_add_test(tc, test_arp_gratuitous_at_start);
	tcase_add_test(tc, test_arp_resolve_and_release_queue);
	tcase_add_test(tc, test_arp_queue_bound);
	tcase_add_test(tc, test_arp_retry_and_give_up);
	tcase_add_test(tc, test_arp_cache_expiry);
	tcase_add_test(tc, test_arp_reply_refreshes_only_known);
	tcase_add_test(tc, test_route_gateway);
	tcase_add_test(tc, test_output_failure_counted);
	tcase_add_test(tc, test_random_mac);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
