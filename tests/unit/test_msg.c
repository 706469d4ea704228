/* test_msg.c — the client-side message parser and builders.
 *
 * Queries are built byte by byte here (not with ldns) so that every
 * malformation the parser must catch can be expressed exactly.  Responses
 * are read back with ldns_wire2pkt, an independent decoder, and checked
 * byte for byte where case matters.  Run under ASan, the fuzz-ish loop at
 * the end is what proves the parser never reads outside the packet. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"

struct pkt {
	uint8_t b[4096];
	size_t len;
};

static void p_bytes(struct pkt *p, const void *d, size_t n)
{
	if (p->len + n > sizeof(p->b)) /* not ck_assert: hot in the fuzz loop */
		ck_abort_msg("test packet overflow");
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void p_u8(struct pkt *p, uint8_t v)
{
	p_bytes(p, &v, 1);
}

static void p_u16(struct pkt *p, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	p_bytes(p, b, 2);
}

static void p_u32(struct pkt *p, uint32_t v)
{
	p_u16(p, (uint16_t)(v >> 16));
	p_u16(p, (uint16_t)v);
}

static void p_hdr(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		  uint16_t ns, uint16_t ar)
{
	p->len = 0;
	p_u16(p, id);
	p_u16(p, flags);
	p_u16(p, qd);
	p_u16(p, an);
	p_u16(p, ns);
	p_u16(p, ar);
}

/* "www.Example.COM" -> wire labels, case kept.  "" or "." is the root. */
static void p_name(struct pkt *p, const char *dotted)
{
	const char *s = dotted;
	while (*s && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		p_u8(p, (uint8_t)n);
		p_bytes(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	p_u8(p, 0);
}

static void p_opt(struct pkt *p, uint16_t udp, uint8_t version, bool do_bit)
{
	p_u8(p, 0);
	p_u16(p, LDNS_RR_TYPE_OPT);
	p_u16(p, udp);
	p_u32(p, (uint32_t)version << 16 | (do_bit ? 0x8000u : 0));
	p_u16(p, 0);
}

/* A plain query: header with RD, one question, optionally an OPT. */
static void p_query(struct pkt *p, const char *name, uint16_t type, uint16_t cls, bool edns)
{
	p_hdr(p, 0x1234, 0x0100, 1, 0, 0, edns ? 1 : 0);
	p_name(p, name);
	p_u16(p, type);
	p_u16(p, cls);
	if (edns)
		p_opt(p, 4096, 0, false);
}

static enum msg_verdict parse(const struct pkt *p, struct msg_query *q, uint16_t *rcode)
{
	return msg_parse_query(p->b, p->len, q, rcode);
}

static void expect(const struct pkt *p, enum msg_verdict v, uint16_t rcode)
{
	struct msg_query q;
	uint16_t rc = 0xffff;
	enum msg_verdict got = parse(p, &q, &rc);

	ck_assert_int_eq(got, v);
	if (v == MSG_ERROR)
		ck_assert_uint_eq(rc, rcode);
}

static void setup(void)
{
	msg_set_edns_size(1232);
}

static void teardown(void)
{
	msg_set_edns_size(1232);
}

/* ---- parser verdicts -------------------------------------------------- */

START_TEST(parse_ok_plain)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_query(&p, "WwW.ExAmple.com", LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, false);
	p.b[3] |= 0x10; /* CD */
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert_uint_eq(q.id, 0x1234);
	ck_assert(q.rd);
	ck_assert(q.cd);
	ck_assert(!q.edns);
	ck_assert_uint_eq(q.edns_udp_size, 512);
	ck_assert_uint_eq(q.qtype, LDNS_RR_TYPE_AAAA);
	ck_assert_uint_eq(q.qclass, LDNS_RR_CLASS_IN);
	ck_assert_uint_eq(q.qname_len, 17);
	ck_assert_mem_eq(q.qname, "\3WwW\7ExAmple\3com", 17);
}
END_TEST

START_TEST(parse_short_header_dropped)
{
	struct pkt p;

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.len = 11;
	expect(&p, MSG_DROP, 0);
	p.len = 0;
	expect(&p, MSG_DROP, 0);
}
END_TEST

START_TEST(parse_qr_dropped)
{
	struct pkt p;

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[2] |= 0x80;
	expect(&p, MSG_DROP, 0);
}
END_TEST

START_TEST(parse_qdcount)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_hdr(&p, 1, 0, 0, 0, 0, 0);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_FORMERR);
	ck_assert_uint_eq(q.qname_len, 0);

	p_hdr(&p, 1, 0, 2, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		p_name(&p, "example.com");
		p_u16(&p, LDNS_RR_TYPE_A);
		p_u16(&p, LDNS_RR_CLASS_IN);
	}
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_FORMERR);
	ck_assert_uint_eq(q.qname_len, 0);
	ck_assert_uint_eq(q.id, 1);
}
END_TEST

START_TEST(parse_ancount_nscount)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[7] = 1; /* ANCOUNT, with no record behind it */
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_FORMERR);
	ck_assert_uint_gt(q.qname_len, 0); /* question still echoed */

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[9] = 1; /* NSCOUNT */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

/* Name at offset 12 that is a pointer to itself. */
START_TEST(parse_pointer_self)
{
	struct pkt p;

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 0xc0);
	p_u8(&p, 12);
	p_u16(&p, 1);
	p_u16(&p, 1);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

/* "a" then a pointer to 16, where a pointer leads back to 12. */
START_TEST(parse_pointer_mutual)
{
	struct pkt p;

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 1);
	p_u8(&p, 'a');  /* 12..13 */
	p_u8(&p, 0xc0);
	p_u8(&p, 16);   /* 14: -> 16 */
	p_u8(&p, 0xc0);
	p_u8(&p, 12);   /* 16: -> 12 */
	p_u16(&p, 1);
	p_u16(&p, 1);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	/* The same pair reached through the OPT owner in additional. */
	p_hdr(&p, 1, 0, 1, 0, 0, 1);
	p_name(&p, "a");         /* 12..14 */
	p_u16(&p, 1);
	p_u16(&p, 1);            /* 15..18 */
	p_u8(&p, 0xc0);
	p_u8(&p, 21);            /* 19: -> 21 */
	p_u8(&p, 0xc0);
	p_u8(&p, 19);            /* 21: -> 19 */
	p_u16(&p, LDNS_RR_TYPE_OPT);
	p_u16(&p, 1232);
	p_u32(&p, 0);
	p_u16(&p, 0);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

START_TEST(parse_pointer_forward)
{
	struct pkt p;

	/* Question name points forward to a real name placed after it. */
	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 0xc0);
	p_u8(&p, 18);
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_name(&p, "example.com"); /* at 18 */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	/* A pointer into the header is no name either. */
	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 0xc0);
	p_u8(&p, 4);
	p_u16(&p, 1);
	p_u16(&p, 1);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

START_TEST(parse_label_64)
{
	struct pkt p;
	char label[65];

	memset(label, 'a', 64);
	label[64] = 0;
	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 64);
	p_bytes(&p, label, 64);
	p_u8(&p, 0);
	p_u16(&p, 1);
	p_u16(&p, 1);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	/* 63 is the largest label and is fine. */
	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 63);
	p_bytes(&p, label, 63);
	p_u8(&p, 0);
	p_u16(&p, 1);
	p_u16(&p, 1);
	expect(&p, MSG_OK, 0);
}
END_TEST

/* Four labels of 63 plus one of n: wire length 4*64 + 1 + n + 1. */
static void p_long_name(struct pkt *p, unsigned last)
{
	uint8_t label[63];

	memset(label, 'x', sizeof(label));
	p_hdr(p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		p_u8(p, 63);
		p_bytes(p, label, 63);
	}
	p_u8(p, (uint8_t)last);
	p_bytes(p, label, last);
	p_u8(p, 0);
	p_u16(p, 1);
	p_u16(p, 1);
}

START_TEST(parse_name_256)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_long_name(&p, 62); /* 3*64 + 63 + 1 = 256 */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
	p_long_name(&p, 61); /* 255: the longest legal name */
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert_uint_eq(q.qname_len, 255);
}
END_TEST

/* The root as the question: one byte, the parser's shortest name. */
START_TEST(parse_root_question)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_query(&p, ".", LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, true);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert_uint_eq(q.qname_len, 1);
	ck_assert_uint_eq(q.qname[0], 0);
	ck_assert_uint_eq(q.qtype, LDNS_RR_TYPE_NS);
	ck_assert(q.edns);
}
END_TEST

START_TEST(parse_name_past_end)
{
	struct pkt p;

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 7);
	p_bytes(&p, "exam", 4); /* label says 7, packet ends */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_name(&p, "example.com");
	p.len--; /* no root label */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_name(&p, "example.com");
	p_u16(&p, 1); /* type but no class */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);

	p_hdr(&p, 1, 0, 1, 0, 0, 0);
	p_u8(&p, 0xc0); /* half a pointer */
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

START_TEST(parse_opcode_notimp)
{
	struct pkt p;

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[2] |= 2 << 3; /* STATUS */
	expect(&p, MSG_ERROR, LDNS_RCODE_NOTIMPL);
	p.b[2] = (uint8_t)((p.b[2] & ~0x78) | 5 << 3); /* UPDATE */
	expect(&p, MSG_ERROR, LDNS_RCODE_NOTIMPL);
}
END_TEST

START_TEST(parse_class_refused)
{
	static const uint16_t classes[] = { LDNS_RR_CLASS_CH, LDNS_RR_CLASS_HS,
					    LDNS_RR_CLASS_ANY, LDNS_RR_CLASS_NONE, 0, 77 };
	struct pkt p;

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		p_query(&p, "version.bind", LDNS_RR_TYPE_TXT, classes[i], false);
		expect(&p, MSG_ERROR, LDNS_RCODE_REFUSED);
	}
}
END_TEST

START_TEST(parse_qtype_policy)
{
	struct pkt p;

	p_query(&p, "example.com", LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_ERROR, LDNS_RCODE_REFUSED);
	p_query(&p, "example.com", LDNS_RR_TYPE_IXFR, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_ERROR, LDNS_RCODE_REFUSED);
	p_query(&p, "example.com", LDNS_RR_TYPE_OPT, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
	p_query(&p, "example.com", LDNS_RR_TYPE_TSIG, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
	p_query(&p, "example.com", 200, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
	p_query(&p, "example.com", LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_IN, false);
	expect(&p, MSG_OK, 0);
	p_query(&p, "example.com", 65280, LDNS_RR_CLASS_IN, false); /* private use */
	expect(&p, MSG_OK, 0);
}
END_TEST

START_TEST(parse_edns)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_hdr(&p, 7, 0, 1, 0, 0, 1);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_opt(&p, 1400, 0, true);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert(q.edns);
	ck_assert(q.do_bit);
	ck_assert_uint_eq(q.edns_version, 0);
	ck_assert_uint_eq(q.edns_udp_size, 1400);

	/* UDP size below 512 counts as 512. */
	p_hdr(&p, 7, 0, 1, 0, 0, 1);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_opt(&p, 100, 0, false);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert(q.edns);
	ck_assert(!q.do_bit);
	ck_assert_uint_eq(q.edns_udp_size, 512);
}
END_TEST

START_TEST(parse_edns_owner_compressed)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	/* OPT owner as a pointer to the question's root label: still root. */
	p_hdr(&p, 7, 0, 1, 0, 0, 1);
	p_name(&p, "a"); /* 12: \1 a \0, root byte at 14 */
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_u8(&p, 0xc0);
	p_u8(&p, 14);
	p_u16(&p, LDNS_RR_TYPE_OPT);
	p_u16(&p, 2048);
	p_u32(&p, 0);
	p_u16(&p, 0);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert(q.edns);
	ck_assert_uint_eq(q.edns_udp_size, 2048);
}
END_TEST

START_TEST(parse_edns_options)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	/* A well-formed option (cookie, 8 bytes) is accepted and skipped. */
	p_hdr(&p, 7, 0, 1, 0, 0, 1);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_u8(&p, 0);
	p_u16(&p, LDNS_RR_TYPE_OPT);
	p_u16(&p, 1232);
	p_u32(&p, 0);
	p_u16(&p, 12);
	p_u16(&p, 10);
	p_u16(&p, 8);
	p_bytes(&p, "abcdefgh", 8);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert(q.edns);

	/* An option claiming more than the RDATA holds is FORMERR. */
	p.b[p.len - 9] = 9;
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_FORMERR);
	ck_assert(!q.edns);

	/* RDLENGTH running past the packet is FORMERR. */
	p.b[p.len - 9] = 8;
	p.len -= 1;
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

START_TEST(parse_two_opts)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_hdr(&p, 7, 0, 1, 0, 0, 2);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_opt(&p, 1232, 0, false);
	p_opt(&p, 1232, 0, false);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_FORMERR);
	ck_assert(!q.edns);
	ck_assert_uint_gt(q.qname_len, 0);
}
END_TEST

START_TEST(parse_opt_not_root)
{
	struct pkt p;

	p_hdr(&p, 7, 0, 1, 0, 0, 1);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_name(&p, "example.com");
	p_u16(&p, LDNS_RR_TYPE_OPT);
	p_u16(&p, 1232);
	p_u32(&p, 0);
	p_u16(&p, 0);
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

START_TEST(parse_other_additional)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	/* A non-OPT record in additional is stepped over, OPT after it found. */
	p_hdr(&p, 7, 0, 1, 0, 0, 2);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_u8(&p, 0xc0);
	p_u8(&p, 12);
	p_u16(&p, LDNS_RR_TYPE_A);
	p_u16(&p, 1);
	p_u32(&p, 60);
	p_u16(&p, 4);
	p_bytes(&p, "\x7f\0\0\1", 4);
	p_opt(&p, 1500, 0, false);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ck_assert(q.edns);
	ck_assert_uint_eq(q.edns_udp_size, 1500);

	/* ARCOUNT promising more records than there are. */
	p.b[11] = 3;
	expect(&p, MSG_ERROR, LDNS_RCODE_FORMERR);
}
END_TEST

/* ---- error replies ---------------------------------------------------- */

START_TEST(error_badvers)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[512];

	p_hdr(&p, 0xbeef, 0x0100, 1, 0, 0, 1);
	p_name(&p, "Example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	p_opt(&p, 4096, 1, true);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, 16);
	ck_assert(q.edns);
	ck_assert_uint_eq(q.edns_version, 1);

	size_t n = msg_build_error(&q, rc, out, sizeof(out));
	ck_assert_uint_eq(n, 12 + 13 + 4 + 11);
	ck_assert_uint_eq(out[3] & 0xf, 0);       /* 16 & 0xf */
	const uint8_t *opt = out + n - 11;
	ck_assert_uint_eq(opt[0], 0);
	ck_assert_uint_eq(opt[1] << 8 | opt[2], LDNS_RR_TYPE_OPT);
	ck_assert_uint_eq(opt[3] << 8 | opt[4], 1232);
	ck_assert_uint_eq(opt[5], 1);             /* extended rcode 16 >> 4 */
	ck_assert_uint_eq(opt[6], 0);             /* we speak version 0 */
	ck_assert_uint_eq(opt[7] & 0x80, 0x80);   /* DO copied */

	ldns_pkt *r = NULL;
	ck_assert_int_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	ck_assert_uint_eq(ldns_pkt_edns_extended_rcode(r), 1);
	ck_assert_uint_eq(ldns_pkt_edns_version(r), 0);
	ck_assert_uint_eq(ldns_pkt_id(r), 0xbeef);
	ldns_pkt_free(r);
}
END_TEST

START_TEST(error_echoes_question)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[512];

	p_query(&p, "ExAmple.COM", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, false);
	p.b[3] |= 0x10; /* CD */
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	size_t n = msg_build_error(&q, rc, out, sizeof(out));
	ck_assert_uint_eq(n, p.len);
	ck_assert_uint_eq(out[0] << 8 | out[1], 0x1234);
	ck_assert_uint_eq(out[2], 0x81);          /* QR, opcode 0, RD */
	ck_assert_uint_eq(out[3], 0x80 | 0x10 | LDNS_RCODE_REFUSED); /* RA CD */
	ck_assert_mem_eq(out + 4, "\0\1\0\0\0\0\0\0", 8);
	ck_assert_mem_eq(out + 12, p.b + 12, p.len - 12);
}
END_TEST

START_TEST(error_without_question)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[512];

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true);
	p.b[2] |= 2 << 3;
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_ERROR);
	ck_assert_uint_eq(rc, LDNS_RCODE_NOTIMPL);
	size_t n = msg_build_error(&q, rc, out, sizeof(out));
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(out[2], 0x80 | 2 << 3 | 0x01); /* opcode copied */
	ck_assert_uint_eq(out[3] & 0xf, LDNS_RCODE_NOTIMPL);
	ck_assert_mem_eq(out + 4, "\0\0\0\0\0\0\0\0", 8);

	/* No room for a header: failure, not overflow. */
	ck_assert_uint_eq(msg_build_error(&q, rc, out, 11), 0);
}
END_TEST

START_TEST(error_extended_rcode_without_edns)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[512];

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	size_t n = msg_build_error(&q, 16, out, sizeof(out));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(out[3] & 0xf, LDNS_RCODE_SERVFAIL);
}
END_TEST

/* ---- responses -------------------------------------------------------- */

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;
	ck_assert_int_eq(ldns_rr_new_frm_str(&r, text, 0, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

static ldns_rr_list *rrs(const char *const *texts)
{
	ldns_rr_list *l = ldns_rr_list_new();
	ck_assert_ptr_nonnull(l);
	for (; *texts; texts++)
		ck_assert(ldns_rr_list_push_rr(l, rr(*texts)));
	return l;
}

/* n TXT records of 200 bytes each at owner: one big RRset. */
static ldns_rr_list *big_txt(const char *owner, int n)
{
	char text[512], blob[201];
	ldns_rr_list *l = ldns_rr_list_new();

	ck_assert_ptr_nonnull(l);
	for (int i = 0; i < n; i++) {
		memset(blob, 'a' + i % 26, 200);
		blob[200] = 0;
		snprintf(text, sizeof(text), "%s 300 IN TXT \"%s\"", owner, blob);
		ck_assert(ldns_rr_list_push_rr(l, rr(text)));
	}
	return l;
}

static struct msg_query query_for(const char *name, uint16_t type, bool edns, uint16_t udp)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;

	p_query(&p, name, type, LDNS_RR_CLASS_IN, edns);
	if (edns) {
		p.b[p.len - 8] = (uint8_t)(udp >> 8);
		p.b[p.len - 7] = (uint8_t)udp;
	}
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	return q;
}

static ldns_pkt *read_back(const uint8_t *wire, size_t len)
{
	ldns_pkt *r = NULL;
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(ldns_wire2pkt(&r, wire, len), LDNS_STATUS_OK);
	return r;
}

START_TEST(response_case_and_flags)
{
	static const char *const an[] = { "www.example.com. 300 IN A 192.0.2.1",
					  "www.example.com. 300 IN A 192.0.2.2", NULL };
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[4096];

	p_query(&p, "WwW.eXaMpLe.CoM", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[3] |= 0x10 | 0x20 | 0x40; /* CD, plus AD and Z that must not echo */
	p.b[2] |= 0x04; /* AA in a query: not ours to copy */
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	ldns_rr_list *a = rrs(an);
	size_t n = msg_build_response(&q, LDNS_RCODE_NOERROR, a, NULL, NULL, 512, out, sizeof(out));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(out[2], 0x81);         /* QR RD, no AA, no TC */
	ck_assert_uint_eq(out[3], 0x80 | 0x10);  /* RA CD, no AD, no Z */
	ck_assert_mem_eq(out + 12, p.b + 12, p.len - 12); /* question as sent */

	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 2);
	for (int i = 0; i < 2; i++) {
		const ldns_rdf *owner = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(r), i));
		ck_assert_uint_eq(ldns_rdf_size(owner), q.qname_len);
		ck_assert_mem_eq(ldns_rdf_data(owner), q.qname, q.qname_len);
	}
	ck_assert(!ldns_pkt_edns(r));
	ldns_pkt_free(r);
	ldns_rr_list_deep_free(a);
}
END_TEST

START_TEST(response_rd_clear)
{
	struct pkt p;
	struct msg_query q;
	uint16_t rc;
	uint8_t out[512];

	p_query(&p, "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false);
	p.b[2] &= (uint8_t)~0x01;
	ck_assert_int_eq(parse(&p, &q, &rc), MSG_OK);
	size_t n = msg_build_response(&q, LDNS_RCODE_NXDOMAIN, NULL, NULL, NULL, 512, out,
				      sizeof(out));
	ck_assert_uint_eq(n, p.len);
	ck_assert_uint_eq(out[2], 0x80);
	ck_assert_uint_eq(out[3], 0x80 | LDNS_RCODE_NXDOMAIN);
}
END_TEST

START_TEST(response_edns_echo)
{
	static const char *const an[] = { "example.com. 300 IN A 192.0.2.1", NULL };
	struct msg_query q = query_for("example.com", LDNS_RR_TYPE_A, true, 4096);
	uint8_t out[4096];

	q.do_bit = true;
	msg_set_edns_size(1400);
	ldns_rr_list *a = rrs(an);
	size_t n = msg_build_response(&q, LDNS_RCODE_NOERROR, a, NULL, NULL, 4096, out,
				      sizeof(out));
	ldns_pkt *r = read_back(out, n);
	ck_assert(ldns_pkt_edns(r));
	ck_assert_uint_eq(ldns_pkt_edns_udp_size(r), 1400);
	ck_assert(ldns_pkt_edns_do(r));
	ck_assert_uint_eq(ldns_pkt_edns_version(r), 0);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 1);
	ck_assert_uint_eq(out[10] << 8 | out[11], 1); /* ARCOUNT: the OPT */
	ldns_pkt_free(r);
	ldns_rr_list_deep_free(a);
}
END_TEST

START_TEST(response_extended_rcode)
{
	struct msg_query q = query_for("example.com", LDNS_RR_TYPE_A, true, 1232);
	uint8_t out[512];

	size_t n = msg_build_response(&q, 23, NULL, NULL, NULL, 512, out, sizeof(out));
	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(out[3] & 0xf, 23 & 0xf);
	ck_assert_uint_eq(ldns_pkt_edns_extended_rcode(r), 23 >> 4);
	ldns_pkt_free(r);
}
END_TEST

/* A 10 x 200-byte TXT answer: cut at 512 and 1232, whole at 65535. */
START_TEST(response_truncation_limits)
{
	struct msg_query q = query_for("Big.Example.com", LDNS_RR_TYPE_TXT, true, 4096);
	ldns_rr_list *txt = big_txt("big.example.com.", 10);
	static uint8_t out[65535];
	const size_t limits[] = { 512, 1232 };

	for (int i = 0; i < 2; i++) {
		size_t n = msg_build_response(&q, 0, txt, NULL, NULL, limits[i], out, sizeof(out));
		ck_assert_uint_gt(n, 0);
		ck_assert_uint_le(n, limits[i]);
		ck_assert(out[2] & 0x02);                     /* TC */
		ck_assert_uint_eq(out[6] << 8 | out[7], 0);   /* whole RRset gone */
		ldns_pkt *r = read_back(out, n);
		ck_assert(ldns_pkt_tc(r));
		ck_assert(ldns_pkt_edns(r));                  /* OPT kept */
		ldns_pkt_free(r);
	}
	size_t n = msg_build_response(&q, 0, txt, NULL, NULL, 65535, out, sizeof(out));
	ck_assert_uint_gt(n, 2000);
	ck_assert(!(out[2] & 0x02));
	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 10);
	ldns_pkt_free(r);
	ldns_rr_list_deep_free(txt);
}
END_TEST

/* Whole RRsets go from the end: the small A set stays, the TXT set goes. */
START_TEST(response_truncation_rrset_boundary)
{
	static const char *const an[] = { "big.example.com. 300 IN A 192.0.2.1", NULL };
	struct msg_query q = query_for("big.example.com", LDNS_RR_TYPE_ANY, false, 0);
	ldns_rr_list *l = rrs(an);
	ldns_rr_list *txt = big_txt("big.example.com.", 3);
	uint8_t out[4096];

	ck_assert(ldns_rr_list_cat(l, txt));
	size_t n = msg_build_response(&q, 0, l, NULL, NULL, 512, out, sizeof(out));
	ck_assert_uint_le(n, 512);
	ck_assert(out[2] & 0x02);
	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 1);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(r), 0)),
			 LDNS_RR_TYPE_A);
	ldns_pkt_free(r);
	ldns_rr_list_free(txt); /* records now belong to l */
	ldns_rr_list_deep_free(l);
}
END_TEST

START_TEST(response_truncation_additional_no_tc)
{
	static const char *const an[] = { "example.com. 300 IN MX 10 mail.example.com.", NULL };
	struct msg_query q = query_for("example.com", LDNS_RR_TYPE_MX, false, 0);
	ldns_rr_list *a = rrs(an);
	ldns_rr_list *glue = big_txt("mail.example.com.", 4);
	uint8_t out[4096];

	size_t n = msg_build_response(&q, 0, a, NULL, glue, 512, out, sizeof(out));
	ck_assert(!(out[2] & 0x02));
	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 1);
	ck_assert_uint_eq(ldns_pkt_arcount(r), 0);
	ldns_pkt_free(r);
	ldns_rr_list_deep_free(a);
	ldns_rr_list_deep_free(glue);
}
END_TEST

START_TEST(response_truncation_authority_tc)
{
	static const char *const an[] = { "example.com. 300 IN A 192.0.2.1", NULL };
	struct msg_query q = query_for("example.com", LDNS_RR_TYPE_A, false, 0);
	ldns_rr_list *a = rrs(an);
	ldns_rr_list *ns = big_txt("example.com.", 4);
	uint8_t out[4096];

	size_t n = msg_build_response(&q, 0, a, ns, NULL, 512, out, sizeof(out));
	ck_assert(out[2] & 0x02);
	ldns_pkt *r = read_back(out, n);
	ck_assert_uint_eq(ldns_pkt_ancount(r), 1);
	ck_assert_uint_eq(ldns_pkt_nscount(r), 0);
	ldns_pkt_free(r);
	ldns_rr_list_deep_free(a);
	ldns_rr_list_deep_free(ns);
}
END_TEST

/* Not even header + question + OPT fits: header + question with TC. */
START_TEST(response_truncation_question_only)
{
	struct msg_query q = query_for("a-rather-long-label.example.com", 1, true, 4096);
	size_t hq = 12 + q.qname_len + 4;
	uint8_t out[512];

	size_t n = msg_build_response(&q, 0, NULL, NULL, NULL, hq + 5, out, sizeof(out));
	ck_assert_uint_eq(n, hq);
	ck_assert(out[2] & 0x02);
	ck_assert_uint_eq(out[10] << 8 | out[11], 0);
	ck_assert_uint_eq(out[4] << 8 | out[5], 1);
	/* Not even the question: nothing to send. */
	ck_assert_uint_eq(msg_build_response(&q, 0, NULL, NULL, NULL, hq - 1, out, sizeof(out)),
			  0);
}
END_TEST

/* Names compress (and still decode to the same records). */
START_TEST(response_compression_roundtrip)
{
	static const char *const an[] = {
		"www.example.com. 300 IN CNAME web.example.com.",
		"web.example.com. 300 IN A 192.0.2.7",
		NULL };
	static const char *const ns[] = {
		"example.com. 3600 IN NS ns1.example.com.",
		"example.com. 3600 IN NS ns2.example.com.",
		"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5",
		NULL };
	static const char *const ar[] = {
		"ns1.example.com. 3600 IN A 192.0.2.53",
		"ns2.example.com. 3600 IN AAAA 2001:db8::53",
		"example.com. 3600 IN RRSIG A 8 2 300 20300101000000 20200101000000 1 "
		"example.com. AAAA",
		NULL };
	struct msg_query q = query_for("www.EXAMPLE.com", LDNS_RR_TYPE_A, false, 0);
	ldns_rr_list *l[3] = { rrs(an), rrs(ns), rrs(ar) };
	uint8_t out[4096];
	size_t raw = 0;

	for (int s = 0; s < 3; s++)
		for (size_t i = 0; i < ldns_rr_list_rr_count(l[s]); i++) {
			size_t sz = 0;
			uint8_t *w = NULL;
			ck_assert_int_eq(ldns_rr2wire(&w, ldns_rr_list_rr(l[s], i),
						      LDNS_SECTION_ANSWER, &sz), LDNS_STATUS_OK);
			raw += sz;
			free(w);
		}
	size_t n = msg_build_response(&q, 0, l[0], l[1], l[2], 4096, out, sizeof(out));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, 12 + q.qname_len + 4 + raw - 60);
	ldns_pkt *r = read_back(out, n);
	const ldns_rr_list *got[3] = { ldns_pkt_answer(r), ldns_pkt_authority(r),
				       ldns_pkt_additional(r) };
	for (int s = 0; s < 3; s++) {
		ck_assert_uint_eq(ldns_rr_list_rr_count(got[s]), ldns_rr_list_rr_count(l[s]));
		for (size_t i = 0; i < ldns_rr_list_rr_count(l[s]); i++)
			ck_assert_int_eq(ldns_rr_compare(ldns_rr_list_rr(got[s], i),
							 ldns_rr_list_rr(l[s], i)), 0);
	}
	ldns_pkt_free(r);
	for (int s = 0; s < 3; s++)
		ldns_rr_list_deep_free(l[s]);
}
END_TEST

START_TEST(response_caller_opt_ignored)
{
	struct msg_query q = query_for("example.com", LDNS_RR_TYPE_A, false, 0);
	ldns_rr_list *ar = ldns_rr_list_new();
	ldns_rr *opt = ldns_rr_new_frm_type(LDNS_RR_TYPE_OPT);
	uint8_t out[512];

	ck_assert_ptr_nonnull(opt);
	ldns_rr_set_owner(opt, ldns_dname_new_frm_str("."));
	ck_assert(ldns_rr_list_push_rr(ar, opt));
	size_t n = msg_build_response(&q, 0, NULL, NULL, ar, 512, out, sizeof(out));
	ck_assert_uint_eq(out[10] << 8 | out[11], 0);
	ck_assert_uint_eq(n, 12 + q.qname_len + 4);
	ldns_rr_list_deep_free(ar);
}
END_TEST

START_TEST(udp_limit)
{
	struct msg_query q = query_for("example.com", 1, false, 0);

	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 512);
	q = query_for("example.com", 1, true, 4096);
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 1232);
	q = query_for("example.com", 1, true, 800);
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 800);
	q = query_for("example.com", 1, true, 100);
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 512);
	ck_assert_uint_eq(msg_udp_limit(&q, 300), 512);
}
END_TEST

START_TEST(qname_rdf)
{
	struct msg_query q = query_for("WwW.Example.COM", 1, false, 0);
	ldns_rdf *keep = msg_qname_rdf(&q, false);
	ldns_rdf *low = msg_qname_rdf(&q, true);

	ck_assert_ptr_nonnull(keep);
	ck_assert_ptr_nonnull(low);
	ck_assert_int_eq(ldns_rdf_get_type(keep), LDNS_RDF_TYPE_DNAME);
	ck_assert_mem_eq(ldns_rdf_data(keep), "\3WwW\7Example\3COM", 17);
	ck_assert_mem_eq(ldns_rdf_data(low), "\3www\7example\3com", 17);
	ck_assert_mem_eq(q.qname, "\3WwW\7Example\3COM", 17); /* q untouched */
	ldns_rdf_deep_free(keep);
	ldns_rdf_deep_free(low);

	q.qname_len = 0;
	ck_assert_ptr_null(msg_qname_rdf(&q, false));
}
END_TEST

/* ---- fuzz-ish --------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* Seeds worth mutating: EDNS, compression, options, extra records. */
static void fuzz_seed(struct pkt *p, unsigned which)
{
	switch (which % 4) {
	case 0:
		p_query(p, "www.example.com", 1, 1, true);
		break;
	case 1:
		p_query(p, "a.b.c.d.e.f.g", 28, 1, false);
		break;
	case 2:
		p_hdr(p, 9, 0x0110, 1, 0, 0, 2);
		p_name(p, "x.example.org");
		p_u16(p, 16);
		p_u16(p, 1);
		p_u8(p, 0xc0);
		p_u8(p, 14);
		p_u16(p, 1);
		p_u16(p, 1);
		p_u32(p, 5);
		p_u16(p, 4);
		p_u32(p, 0x7f000001);
		p_opt(p, 1232, 0, true);
		break;
	default:
		p_hdr(p, 9, 0, 1, 0, 0, 1);
		p_name(p, "example.net");
		p_u16(p, 1);
		p_u16(p, 1);
		p_u8(p, 0);
		p_u16(p, 41);
		p_u16(p, 1232);
		p_u32(p, 0);
		p_u16(p, 8);
		p_u16(p, 10);
		p_u16(p, 4);
		p_u32(p, 0xdeadbeef);
		break;
	}
}

static void fuzz_mutate(struct pkt *p)
{
	unsigned edits = 1 + rng() % 4;

	for (unsigned e = 0; e < edits; e++) {
		switch (rng() % 5) {
		case 0: /* flip a byte */
			p->b[rng() % p->len] ^= (uint8_t)(1 + rng() % 255);
			break;
		case 1: /* plant a pointer */
			if (p->len > 13) {
				size_t at = 12 + rng() % (p->len - 13);
				p->b[at] = (uint8_t)(0xc0 | (rng() & 1));
				p->b[at + 1] = (uint8_t)rng();
			}
			break;
		case 2: /* cut */
			p->len = rng() % (p->len + 1);
			break;
		case 3: /* append garbage */
			for (unsigned i = rng() % 16; i && p->len < sizeof(p->b); i--)
				p->b[p->len++] = (uint8_t)rng();
			break;
		default: /* poke a count */
			if (p->len >= 12)
				p->b[4 + rng() % 8] = (uint8_t)(rng() % 4);
			break;
		}
		if (!p->len)
			return;
	}
}

static void fuzz_random(struct pkt *p)
{
	p->len = rng() % 300;
	for (size_t i = 0; i < p->len; i++)
		p->b[i] = (uint8_t)rng();
	if (p->len >= 12 && rng() % 2) { /* let most get past the header */
		p->b[2] &= 0x07;
		p->b[4] = 0;
		p->b[5] = 1;
	}
}

/* ck_assert records its location on every call (a write per assertion),
 * which would dominate 100k iterations: the loop checks quietly and only
 * calls into Check when something is wrong. */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			ck_abort_msg("fuzz iteration %d: %s", fuzz_iter, #cond); \
	} while (0)

static int fuzz_iter;

/* What holds for every verdict: OK means a well-formed question of class
 * IN; an answered error builds a reply with our ID and rcode that ldns,
 * an independent decoder, reads back the same. */
static void fuzz_check(const struct pkt *p, unsigned *ok)
{
	struct msg_query q;
	uint16_t rc = 0;
	uint8_t out[512];
	enum msg_verdict v = msg_parse_query(p->b, p->len, &q, &rc);

	FUZZ_CHECK(v == MSG_OK || v == MSG_DROP || v == MSG_ERROR);
	if (v == MSG_DROP)
		return;
	FUZZ_CHECK(q.qname_len <= MSG_MAX_NAME);
	FUZZ_CHECK(q.edns_udp_size >= 512);
	if (v == MSG_OK) {
		(*ok)++;
		FUZZ_CHECK(q.qname_len > 0);
		FUZZ_CHECK(q.qclass == LDNS_RR_CLASS_IN);
		FUZZ_CHECK(q.qname[q.qname_len - 1] == 0);
		FUZZ_CHECK(!q.edns || q.edns_version == 0);
		rc = LDNS_RCODE_SERVFAIL;
	}
	size_t n = msg_build_error(&q, rc, out, sizeof(out));
	FUZZ_CHECK(n >= 12);
	FUZZ_CHECK((out[0] << 8 | out[1]) == q.id);
	FUZZ_CHECK((out[3] & 0xf) == (rc & 0xf));
	ldns_pkt *r = NULL;
	FUZZ_CHECK(ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK);
	bool same = ldns_pkt_id(r) == q.id && ldns_pkt_get_rcode(r) == (rc & 0xf) &&
		    ldns_pkt_qdcount(r) == (q.qname_len ? 1 : 0);
	ldns_pkt_free(r);
	FUZZ_CHECK(same);
}

/* The answer cache's encoder: the same bytes the builder writes after the
 * same (lowercase) question, with every TTL field's offset reported. */
START_TEST(encode_sections_layout)
{
	static const char *const an[] = {
		"www.example.com. 300 IN CNAME web.example.com.",
		"web.example.com. 200 IN A 192.0.2.7",
		NULL };
	static const char *const ns[] = {
		"example.com. 100 IN SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5",
		NULL };
	struct msg_query q = query_for("www.example.com", LDNS_RR_TYPE_A, false, 0);
	ldns_rr_list *a = rrs(an), *n = rrs(ns);
	uint8_t enc[4096], want[4096];
	uint16_t offs[8];
	struct msg_sections ms;
	size_t len;

	ck_assert_int_eq(msg_encode_sections(q.qname, q.qname_len, q.qtype, q.qclass, a, n,
					     enc, sizeof(enc), offs, 8, &ms), 0);
	ck_assert_uint_eq(ms.start, 12 + q.qname_len + 4);
	ck_assert_uint_eq(ms.ancount, 2);
	ck_assert_uint_eq(ms.nscount, 1);
	ck_assert_uint_eq(ms.nttl, 3);
	len = msg_build_response(&q, 0, a, n, NULL, 4096, want, sizeof(want));
	ck_assert_uint_eq(ms.len, len);
	ck_assert_mem_eq(enc + ms.start, want + ms.start, len - ms.start);
	/* the first owner is the question, as a pointer to it */
	ck_assert_uint_eq(enc[ms.start], 0xc0);
	ck_assert_uint_eq(enc[ms.start + 1], 12);
	ck_assert_uint_eq(offs[0], ms.start + 2 + 4);
	const uint32_t ttls[3] = { 300, 200, 100 };
	for (int i = 0; i < 3; i++) {
		const uint8_t *t = enc + offs[i];
		ck_assert_uint_eq((uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 |
				  (uint32_t)t[2] << 8 | t[3], ttls[i]);
	}

	/* nothing may be cut: too small a buffer or offset table fails */
	ck_assert_int_eq(msg_encode_sections(q.qname, q.qname_len, q.qtype, q.qclass, a, n,
					     enc, len - 1, offs, 8, &ms), -ENOSPC);
	ck_assert_int_eq(msg_encode_sections(q.qname, q.qname_len, q.qtype, q.qclass, a, n,
					     enc, sizeof(enc), offs, 2, &ms), -ENOSPC);
	/* a name that is not one */
	ck_assert_int_eq(msg_encode_sections((const uint8_t *)"\x03www", 4, q.qtype, q.qclass,
					     a, n, enc, sizeof(enc), offs, 8, &ms), -EINVAL);
	ldns_rr_list_deep_free(a);
	ldns_rr_list_deep_free(n);
}
END_TEST

START_TEST(fuzz_parser)
{
	struct pkt p;
	unsigned ok = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	for (fuzz_iter = 0; fuzz_iter < 100000; fuzz_iter++) {
		if (fuzz_iter % 2) {
			fuzz_seed(&p, rng());
			fuzz_mutate(&p);
		} else {
			fuzz_random(&p);
		}
		fuzz_check(&p, &ok);
	}
	ck_assert_uint_gt(ok, 1000); /* the loop did reach the deep paths */
}
END_TEST

static Suite *msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tp = tcase_create("parse");
	TCase *te = tcase_create("error");
	TCase *tr = tcase_create("response");
	TCase *tf = tcase_create("fuzz");

	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tp, parse_ok_plain);
	tcase_add_test(tp, parse_short_header_dropped);
	tcase_add_test(tp, parse_qr_dropped);
	tcase_add_test(tp, parse_qdcount);
	tcase_add_test(tp, parse_ancount_nscount);
	tcase_add_test(tp, parse_pointer_self);
	tcase_add_test(tp, parse_pointer_mutual);
	tcase_add_test(tp, parse_pointer_forward);
	tcase_add_test(tp, parse_label_64);
	tcase_add_test(tp, parse_name_256);
	tcase_add_test(tp, parse_root_question);
	tcase_add_test(tp, parse_name_past_end);
	tcase_add_test(tp, parse_opcode_notimp);
	tcase_add_test(tp, parse_class_refused);
	tcase_add_test(tp, parse_qtype_policy);
	tcase_add_test(tp, parse_edns);
	tcase_add_test(tp, parse_edns_owner_compressed);
	tcase_add_test(tp, parse_edns_options);
	tcase_add_test(tp, parse_two_opts);
	tcase_add_test(tp, parse_opt_not_root);
	tcase_add_test(tp, parse_other_additional);
	tcase_add_test(te, error_badvers);
	tcase_add_test(te, error_echoes_question);
	tcase_add_test(te, error_without_question);
	tcase_add_test(te, error_extended_rcode_without_edns);
	tcase_add_test(tr, response_case_and_flags);
	tcase_add_test(tr, response_rd_clear);
	tcase_add_test(tr, response_edns_echo);
	tcase_add_test(tr, response_extended_rcode);
	tcase_add_test(tr, response_truncation_limits);
	tcase_add_test(tr, response_truncation_rrset_boundary);
	tcase_add_test(tr, response_truncation_additional_no_tc);
	tcase_add_test(tr, response_truncation_authority_tc);
	tcase_add_test(tr, response_truncation_question_only);
	tcase_add_test(tr, response_compression_roundtrip);
	tcase_add_test(tr, response_caller_opt_ignored);
	tcase_add_test(tr, udp_limit);
	tcase_add_test(tr, qname_rdf);
	tcase_add_test(tr, encode_sections_layout);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, fuzz_parser);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, te);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	int failed;

	log_init(LOGL_ERR, false, "test_msg");
	/* In-process, so LeakSanitizer's exit check covers every test. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
