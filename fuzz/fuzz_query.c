/* fuzz_query.c — libFuzzer target: a client's query, start to finish on
 * the client side of the resolver (msg.c).
 *
 * Why: the query parser is the first code every packet from the Internet
 * reaches, and the response builder writes into fixed buffers with
 * lengths derived from what the client asked for (EDNS size, the
 * question).  The input is one UDP/TCP DNS message as a client sent it.
 *
 * Invariants checked beyond "no crash, no leak":
 *   - MSG_DROP only for a message shorter than a header or with QR set;
 *   - a parsed question is a well-formed wire name of 1..255 octets;
 *   - every built response fits both the buffer and the client's limit,
 *     echoes the ID and the question byte for byte (case kept), has QR
 *     set, parses back with ldns, and carries an OPT iff the query did;
 *   - over TCP (65535) a small answer is never truncated, and over UDP the
 *     TC bit is set whenever records had to be left out of answer or
 *     authority;
 *   - an error response names the rcode asked for (or SERVFAIL when an
 *     extended rcode cannot be said without EDNS). */
#include <ldns/ldns.h>
#include <string.h>

#include "fuzz_common.h"
#include "log.h"
#include "msg.h"

#define HDR_LEN 12

/* Templates for the answer: the owner is replaced by the question name. */
static const char *const answer_text[] = {
	"x. 300 IN A 192.0.2.1",
	"x. 300 IN A 192.0.2.2",
	"x. 300 IN A 192.0.2.3",
	/* 2 x 200 octets: over 512 with the rest, so UDP answers truncate */
	"x. 300 IN TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"",
};
static const char *const authority_text =
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";
static const char *const additional_text = "ns1.example.com. 3600 IN AAAA 2001:db8::53";

#define N_ANSWER (sizeof(answer_text) / sizeof(answer_text[0]))

static ldns_rr *answer_tpl[N_ANSWER];
static ldns_rr_list *authority, *additional;
static uint8_t out[MSG_MAX_TCP];

static ldns_rr *rr_from(const char *s)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	return rr;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < N_ANSWER; i++)
		answer_tpl[i] = rr_from(answer_text[i]);
	authority = ldns_rr_list_new();
	additional = ldns_rr_list_new();
	if (!authority || !additional ||
	    !ldns_rr_list_push_rr(authority, rr_from(authority_text)) ||
	    !ldns_rr_list_push_rr(additional, rr_from(additional_text)))
		abort();
	msg_set_edns_size(1232);
	return 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

FUZZ_ORACLE static void check_wire_name(const uint8_t *n, size_t len)
{
	size_t pos = 0;

	FUZZ_CHECK(len >= 1 && len <= MSG_MAX_NAME, "qname_len %zu", len);
	while (n[pos] != 0) {
		FUZZ_CHECK(n[pos] < 64, "label length %u", n[pos]);
		pos += 1 + (size_t)n[pos];
		FUZZ_CHECK(pos < len, "name runs past qname_len");
	}
	FUZZ_CHECK(pos + 1 == len, "root label at %zu, qname_len %zu", pos, len);
}

/* What every response must satisfy, whatever it holds. */
FUZZ_ORACLE static ldns_pkt *check_common(const struct msg_query *q, const uint8_t *o, size_t len,
			      size_t limit)
{
	ldns_pkt *p = NULL;
	ldns_status st;

	FUZZ_CHECK(len >= HDR_LEN, "response of %zu octets", len);
	FUZZ_CHECK(len <= limit, "response of %zu octets over the limit %zu", len, limit);
	FUZZ_CHECK(rd16(o) == q->id, "ID %04x, query had %04x", rd16(o), q->id);
	FUZZ_CHECK(o[2] & 0x80, "QR not set");
	FUZZ_CHECK(rd16(o + 4) == (q->qname_len ? 1 : 0), "QDCOUNT %u", rd16(o + 4));
	if (q->qname_len) {
		FUZZ_CHECK(len >= HDR_LEN + q->qname_len + 4u, "question cut");
		FUZZ_CHECK(memcmp(o + HDR_LEN, q->qname, q->qname_len) == 0,
			   "question name not echoed as sent");
		FUZZ_CHECK(rd16(o + HDR_LEN + q->qname_len) == q->qtype &&
			   rd16(o + HDR_LEN + q->qname_len + 2) == q->qclass,
			   "question type/class not echoed");
	}
	st = ldns_wire2pkt(&p, o, len);
	FUZZ_CHECK(st == LDNS_STATUS_OK, "our own response does not parse: %s",
		   ldns_get_errorstr_by_id(st));
	FUZZ_CHECK(ldns_pkt_edns(p) == q->edns || (q->edns && ldns_pkt_tc(p) &&
						     ldns_pkt_arcount(p) == 0),
		   "OPT present %d, query had EDNS %d", ldns_pkt_edns(p), q->edns);
	return p;
}

static void check_response(const struct msg_query *q, size_t max_len, bool tcp)
{
	ldns_rr_list *answer = ldns_rr_list_new();
	ldns_rdf *owner = msg_qname_rdf(q, true);
	ldns_pkt *p;
	size_t len;

	FUZZ_CHECK(answer && owner, "out of memory");
	for (size_t i = 0; i < N_ANSWER; i++) {
		ldns_rr *rr = ldns_rr_clone(answer_tpl[i]);

		FUZZ_CHECK(rr, "out of memory");
		ldns_rdf_deep_free(ldns_rr_owner(rr));
		ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
		FUZZ_CHECK(ldns_rr_owner(rr) && ldns_rr_list_push_rr(answer, rr), "oom");
	}
	len = msg_build_response(q, LDNS_RCODE_NOERROR, answer, authority, additional,
				 max_len, out, sizeof(out));
	FUZZ_CHECK(len > 0, "no response built (max_len %zu)", max_len);
	p = check_common(q, out, len, max_len);
	FUZZ_CHECK(ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR, "rcode changed");
	if (tcp) {
		FUZZ_CHECK(!ldns_pkt_tc(p), "TC over TCP for a %zu octet answer", len);
		FUZZ_CHECK(ldns_pkt_ancount(p) == N_ANSWER && ldns_pkt_nscount(p) == 1,
			   "records missing without TC");
	} else if (!ldns_pkt_tc(p)) {
		FUZZ_CHECK(ldns_pkt_ancount(p) == N_ANSWER && ldns_pkt_nscount(p) == 1,
			   "answer/authority cut without TC");
	}
	ldns_pkt_free(p);
	ldns_rr_list_deep_free(answer);
	ldns_rdf_deep_free(owner);
}

static void check_error(const struct msg_query *q, uint16_t rcode, size_t small_cap)
{
	uint16_t want = (rcode > 0xfff || (rcode > 0xf && !q->edns)) ? LDNS_RCODE_SERVFAIL
								       : rcode;
	ldns_pkt *p;
	size_t len = msg_build_error(q, rcode, out, sizeof(out));

	FUZZ_CHECK(len > 0, "no error response built");
	p = check_common(q, out, len, sizeof(out));
	FUZZ_CHECK((out[3] & 0x0f) == (want & 0x0f), "rcode %u, wanted %u", out[3] & 0x0f,
		   want);
	FUZZ_CHECK(ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0, "records in error");
	ldns_pkt_free(p);
	/* A buffer too small must give 0, never an overrun (ASan watches). */
	len = msg_build_error(q, rcode, out, small_cap);
	FUZZ_CHECK(len <= small_cap, "wrote %zu into %zu", len, small_cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_query q;
	uint16_t rcode = 0;
	enum msg_verdict v;
	uint8_t *copy;

	/* An exact-size heap copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fuzz_rnd_seed(size);
	v = msg_parse_query(copy, size, &q, &rcode);
	switch (v) {
	case MSG_DROP:
		FUZZ_CHECK(size < HDR_LEN || (copy[2] & 0x80), "dropped a query");
		break;
	case MSG_OK:
		check_wire_name(q.qname, q.qname_len);
		FUZZ_CHECK(rcode == 0, "MSG_OK with rcode %u", rcode);
		FUZZ_CHECK(!q.edns || q.edns_udp_size >= 512, "EDNS size %u", q.edns_udp_size);
		FUZZ_CHECK(q.id == rd16(copy), "ID not taken from the header");
		check_response(&q, msg_udp_limit(&q, 1232), false);
		check_response(&q, msg_udp_limit(&q, 65535), false);
		check_response(&q, MSG_MAX_TCP, true);
		check_error(&q, LDNS_RCODE_SERVFAIL, size % 64);
		break;
	case MSG_ERROR:
		FUZZ_CHECK(rcode != 0, "MSG_ERROR with NOERROR");
		if (q.qname_len)
			check_wire_name(q.qname, q.qname_len);
		check_error(&q, rcode, size % 64);
		break;
	default:
		FUZZ_CHECK(0, "verdict %d", (int)v);
	}
	free(copy);
	return 0;
}
