/* msg.h — client-side DNS messages: parse a query, build a response.
 *
 * The parser reads only what the resolver needs (header, the question,
 * the OPT record) and decides what a malformed query deserves:
 *   - shorter than a header, or QR=1           -> drop (no answer)
 *   - QDCOUNT != 1, bad name, compression loop,
 *     trailing garbage in counted sections     -> FORMERR
 *   - opcode != QUERY                          -> NOTIMP
 *   - class other than IN (or ANY/CHAOS)       -> REFUSED
 *   - EDNS version > 0                         -> BADVERS (RFC 6891)
 *   - two OPT records / OPT not at root        -> FORMERR
 * The builders produce wire format for the client with its ID, its
 * question exactly as it was sent (case kept), RD/CD copied, RA set, and
 * an OPT record when the query had one.  Over UDP an answer larger than
 * the client's buffer (512 without EDNS) is cut at an RRset boundary and
 * TC is set. */
#ifndef RW_MSG_H
#define RW_MSG_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX_NAME 255
#define MSG_MAX_TCP 65535

struct msg_query {
	uint16_t id;
	uint16_t flags;       /* header flags word as received */
	uint8_t qname[MSG_MAX_NAME]; /* uncompressed wire name, original case */
	uint16_t qname_len;
	uint16_t qtype, qclass;
	bool rd, cd;
	bool edns;            /* query had an OPT record */
	bool do_bit;
	uint8_t edns_version;
	uint16_t edns_udp_size; /* client's advertised size (>= 512) */
};

enum msg_verdict {
	MSG_OK = 0,       /* a valid query: resolve it */
	MSG_DROP = 1,     /* do not answer at all */
	MSG_ERROR = 2,    /* answer with *rcode (header + question if parsed) */
};

/* Parse a client query.  On MSG_ERROR, *rcode holds the extended rcode
 * (e.g. LDNS_RCODE_FORMERR, or 16 for BADVERS) and q holds whatever could
 * be parsed (q->qname_len 0 if the question was not usable). */
enum msg_verdict msg_parse_query(const uint8_t *pkt, size_t len,
				 struct msg_query *q, uint16_t *rcode);

/* The question name as an ldns_rdf (lower-cased copy for lookups when
 * lower is true).  Caller frees. */
ldns_rdf *msg_qname_rdf(const struct msg_query *q, bool lower);

/* Build an error response (no records).  Returns the length, 0 on failure. */
size_t msg_build_error(const struct msg_query *q, uint16_t rcode,
		       uint8_t *out, size_t cap);

/* Build a full response.  max_len is the client's limit (UDP: from EDNS or
 * 512, capped by our max-udp-size; TCP: 65535).  Sections may be NULL.
 * Answer-section owner names equal to the question are written with the
 * client's case.  Returns the length, 0 on failure. */
size_t msg_build_response(const struct msg_query *q, uint16_t rcode,
			  const ldns_rr_list *answer, const ldns_rr_list *authority,
			  const ldns_rr_list *additional, size_t max_len,
			  uint8_t *out, size_t cap);

/* Max response size for this query over UDP given our own limit. */
size_t msg_udp_limit(const struct msg_query *q, size_t our_max_udp);

/* Added: the UDP payload size we advertise in every OPT we send to
 * clients (max-udp-size; default 1232, values below 512 become 512).
 * Process-wide: set once at startup, before serving. */
void msg_set_edns_size(uint16_t size);
uint16_t msg_get_edns_size(void);

/* Added for the answer cache: encode answer and authority sections once,
 * laid out exactly as msg_build_response() lays them out after a question
 * of qname (header and question included in out, so compression pointers
 * are absolute message offsets: owners equal to the question become
 * pointers to offset 12, which a later copy fills with the client's
 * spelling).  ttl_off[i] receives the message offset of the TTL field of
 * the i-th RR written (answer, then authority; OPT records are skipped).
 * Returns 0, -ENOSPC when the whole message does not fit in cap (at most
 * 65535) or there are more RRs than ttl_cap, -EINVAL for a bad name or a
 * record that cannot be encoded.  Allocates nothing. */
struct msg_sections {
	size_t start;      /* offset of the first section byte: 12 + qname_len + 4 */
	size_t len;        /* message length: the sections end here */
	uint16_t ancount, nscount;
	size_t nttl;       /* entries written to ttl_off (ancount + nscount) */
};
int msg_encode_sections(const uint8_t *qname, size_t qname_len, uint16_t qtype,
			uint16_t qclass, const ldns_rr_list *answer,
			const ldns_rr_list *authority, uint8_t *out, size_t cap,
			uint16_t *ttl_off, size_t ttl_cap, struct msg_sections *res);

#endif
