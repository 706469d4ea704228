/* test_stack_pkt.c — packet buffers and the Internet checksum. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "pkt.h"
#include "wire.h"

/* A datagram the Linux kernel sent from 198.18.0.1:40000 to 198.18.0.2:53,
 * captured on a TAP device: both checksums are the kernel's. */
static const uint8_t kernel_udp[] = {
	0x45, 0x00, 0x00, 0x30, 0xcf, 0x44, 0x40, 0x00, 0x40, 0x11, 0xdf, 0x50,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
	0x9c, 0x40, 0x00, 0x35, 0x00, 0x1c, 0xce, 0x13,
	'r', 'o', 'o', 't', 'w', 'a', 'l', 'k', ' ', 't', 'e', 's', 't', ' ',
	'v', 'e', 'c', 't', 'o', 'r',
};

START_TEST(test_csum_rfc1071_example)
{
	/* RFC 1071 section 3: the sum of these bytes is ddf2, checksum 220d */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	ck_assert_uint_eq(csum(b, sizeof(b)), 0x220d);
}
END_TEST

START_TEST(test_csum_kernel_ip_header)
{
	uint8_t h[20];

	memcpy(h, kernel_udp, 20);
	ck_assert_uint_eq(csum(h, 20), 0); /* verifies */
	wire_put16(h + 10, 0);
	ck_assert_uint_eq(csum(h, 20), 0xdf50); /* recomputes the kernel's value */
}
END_TEST

START_TEST(test_csum_kernel_udp)
{
	uint8_t u[sizeof(kernel_udp) - 20];
	uint64_t ph = csum_pseudo4(0xc6120001, 0xc6120002, 17, sizeof(u));

	memcpy(u, kernel_udp + 20, sizeof(u));
	ck_assert_uint_eq(csum_fold(csum_add(ph, u, sizeof(u))), 0);
	wire_put16(u + 6, 0);
	ck_assert_uint_eq(csum_fold(csum_add(ph, u, sizeof(u))), 0xce13);
	/* the same sum over two chunks, the first of even length */
	ck_assert_uint_eq(csum_fold(csum_add(csum_add(ph, u, 10), u + 10, sizeof(u) - 10)),
			  0xce13);
}
END_TEST

START_TEST(test_csum_odd_length)
{
	static const uint8_t b[] = { 0x12, 0x34, 0x56 };

	/* 0x1234 + 0x5600 = 0x6834 -> ~ = 0x97cb */
	ck_assert_uint_eq(csum(b, 3), 0x97cb);
	ck_assert_uint_eq(csum(b, 0), 0xffff);
}
END_TEST

START_TEST(test_csum_incremental)
{
	uint8_t h[20];
	uint16_t old_ttl, new_ttl, check;

	memcpy(h, kernel_udp, 20);
	old_ttl = wire_get16(h + 8);
	h[8] = 63; /* decrement TTL as a router would */
	new_ttl = wire_get16(h + 8);
	check = csum_update16(wire_get16(h + 10), old_ttl, new_ttl);
	wire_put16(h + 10, check);
	ck_assert_uint_eq(csum(h, 20), 0);
}
END_TEST

START_TEST(test_csum_large_buffer)
{
	size_t n = 1u << 20;
	uint8_t *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	memset(b, 0xff, n);
	/* all ones words sum to 0xffff (negative zero): checksum 0 */
	ck_assert_uint_eq(csum(b, n), 0);
	free(b);
}
END_TEST

START_TEST(test_pkt_push_pull)
{
	struct pkt_pool *pool = pkt_pool_new(2, 128);
	struct pkt *p;
	uint8_t *d;

	ck_assert_ptr_nonnull(pool);
	p = pkt_alloc(pool, 64);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(pkt_headroom(p), 64);
	ck_assert_uint_eq(pkt_tailroom(p), 64);
	d = pkt_put(p, 10);
	memcpy(d, "0123456789", 10);
	d = pkt_push(p, 4);
	ck_assert_ptr_nonnull(d);
	memcpy(d, "HDR:", 4);
	ck_assert_uint_eq(p->len, 14);
	ck_assert_int_eq(memcmp(p->data, "HDR:0123456789", 14), 0);
	ck_assert_ptr_null(pkt_push(p, 61)); /* only 60 left */
	ck_assert_ptr_nonnull(pkt_pull(p, 4));
	ck_assert_ptr_null(pkt_pull(p, 11));
	ck_assert_ptr_null(pkt_put(p, 55));
	pkt_trim(p, 3);
	ck_assert_uint_eq(p->len, 3);
	pkt_trim(p, 30);
	ck_assert_uint_eq(p->len, 3);
	pkt_free(pool, p);
	ck_assert_uint_eq(pkt_pool_free(pool), 0);
}
END_TEST

START_TEST(test_pkt_pool_bounded)
{
	struct pkt_pool *pool = pkt_pool_new(3, 64);
	struct pkt *p[3];

	for (int i = 0; i < 3; i++) {
		p[i] = pkt_alloc(pool, 16);
		ck_assert_ptr_nonnull(p[i]);
	}
	ck_assert_ptr_null(pkt_alloc(pool, 16));
	ck_assert_uint_eq(pkt_pool_in_use(pool), 3);
	pkt_free(pool, p[1]);
	ck_assert_ptr_eq(pkt_alloc(pool, 16), p[1]);
	ck_assert_ptr_null(pkt_alloc(pool, 65 > 64 ? 65 : 0));
	for (int i = 0; i < 3; i++)
		pkt_free(pool, p[i]);
	ck_assert_uint_eq(pkt_pool_in_use(pool), 0);
	/* a leak is reported by pkt_pool_free */
	(void)pkt_alloc(pool, 0);
	ck_assert_uint_eq(pkt_pool_free(pool), 1);
	ck_assert_ptr_null(pkt_pool_new(0, 64));
}
END_TEST

START_TEST(test_pkt_wrap_readonly)
{
	static const uint8_t frame[20] = { 1, 2, 3 };
	struct pkt p;

	pkt_wrap(&p, frame, sizeof(frame));
	ck_assert_ptr_null(pkt_push(&p, 1));
	ck_assert_ptr_null(pkt_put(&p, 1));
	ck_assert_ptr_eq(pkt_pull(&p, 2), frame);
	ck_assert_uint_eq(p.len, 18);
	ck_assert_uint_eq(p.data[0], 3);
	pkt_free(NULL, &p); /* a view: nothing to free */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack_pkt");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_csum_rfc1071_example);
	tcase_add_test(tc, test_csum_kernel_ip_header);
	tcase_add_test(tc, test_csum_kernel_udp);
	tcase_add_test(tc, test_csum_odd_length);
	tcase_add_test(tc, test_csum_incremental);
	tcase_add_test(tc, test_csum_large_buffer);
	tcase_add_test(tc, test_pkt_push_pull);
	tcase_add_test(tc, test_pkt_pool_bounded);
	tcase_add_test(tc, test_pkt_wrap_readonly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
