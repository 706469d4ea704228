/* msg.c — client-side DNS messages (see msg.h).
 *
 * The query parser is written by hand because every packet that reaches
 * us goes through it, trusted or not: it allocates nothing, checks every
 * read against the packet length, and accepts a compression pointer only
 * when it points strictly before the run of labels that contains it, so
 * loops and forward-pointer tricks end in FORMERR instead of a spin.
 *
 * The response builder writes wire format itself, with its own name
 * compression, rather than going through ldns_pkt: that way it can cut the
 * message at an RRset boundary in a single pass (pointers only ever point
 * backwards, so any prefix that ends on an RR boundary is a valid message)
 * and it writes the client's spelling of the question name wherever the
 * owner is the question (0x20 clients compare case). ldns supplies the RRs;
 * an ldns_rdf holds its data in wire form, so RDATA is its rdfs in order. */
#include "wire_be.h"
#include "msg.h"

#include <errno.h>
#include <string.h>

#define HDR_LEN 12
#define OPT_LEN 11 /* root owner, type, class, TTL, RDLEN=0 */

#define FLAG_QR 0x8000u
#define FLAG_OPCODE 0x7800u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u
#define FLAG_CD 0x0010u

#define RCODE_BADVERS 16
#define EDNS_DO 0x8000u
#define EDNS_MIN_UDP 512

#define CTAB_MAX 128       /* names remembered for compression */
#define PTR_MAX_OFF 0x3fff /* a pointer holds 14 bits of offset */

static uint16_t g_edns_size = 1232;

void msg_set_edns_size(uint16_t size)
{
	g_edns_size = size < EDNS_MIN_UDP ? EDNS_MIN_UDP : size;
}

uint16_t msg_get_edns_size(void)
{
	return g_edns_size;
}


static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ---- parsing ---------------------------------------------------------- */

/* Decode the (possibly compressed) name at *off into out, uncompressed and
 * in its original case, and move *off past the name as it sits in the
 * packet.  A pointer must point into the message body and strictly before
 * the start of the current run of labels: the start only ever decreases,
 * so every chain ends, and self-pointers, mutual pointers and forward
 * pointers are all rejected by the same test.  Label types 01 and 10 (a
 * first byte of 64..191, so also "labels" longer than 63) are refused.
 * Returns the name's wire length (1..255), or 0 if the name is bad. */
static size_t name_parse(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out)
{
	size_t pos = *off, run_start = *off, n = 0, after = 0;

	/* Every query's question is one run of labels without pointers:
	 * check the labels first, then copy the name in one go (a copy per
	 * label was most of the parser's cost).  Anything else, or anything
	 * wrong, takes the careful walk below. */
	while (pos < len && pkt[pos] != 0 && pkt[pos] < 64)
		pos += 1 + (size_t)pkt[pos];
	if (pos < len && pkt[pos] == 0 && pos + 1 - *off <= MSG_MAX_NAME) {
		n = pos + 1 - *off;
		memcpy(out, pkt + *off, n);
		*off = pos + 1;
		return n;
	}
	pos = *off;
	for (;;) {
		if (pos >= len)
			return 0;
		uint8_t b = pkt[pos];
		if ((b & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return 0;
			size_t target = (size_t)(b & 0x3f) << 8 | pkt[pos + 1];
			if (target < HDR_LEN || target >= run_start)
				return 0;
			if (!after)
				after = pos + 2;
			pos = run_start = target;
			continue;
		}
		if (b & 0xc0)
			return 0;
		if (n + 1 + b > MSG_MAX_NAME || pos + 1 + b > len)
			return 0;
		memcpy(out + n, pkt + pos, 1 + (size_t)b);
		n += 1 + (size_t)b;
		pos += 1 + (size_t)b;
		if (b == 0)
			break;
	}
	*off = after ? after : pos;
	return n;
}

/* OPT RDATA is a list of {code, length, data}; each must fit exactly. */
static bool opt_options_ok(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < 4)
			return false;
		size_t olen = rd16(p + off + 2);
		if (len - off - 4 < olen)
			return false;
		off += 4 + olen;
	}
	return true;
}

/* Take the OPT record's fields (RFC 6891 §6.1.3: the class is the UDP
 * size, the TTL holds extended rcode, version and the DO bit). */
static bool opt_take(struct msg_query *q, size_t owner_len, uint16_t cls, uint32_t ttl,
		     const uint8_t *rdata, size_t rdlen)
{
	if (q->edns || owner_len != 1 || !opt_options_ok(rdata, rdlen))
		return false;
	q->edns = true;
	q->edns_udp_size = cls < EDNS_MIN_UDP ? EDNS_MIN_UDP : cls;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->do_bit = (ttl & EDNS_DO) != 0;
	return true;
}

/* Walk the additional section: every RR must lie inside the packet, and
 * there may be one OPT, owned by the root.  Other records (TSIG, SIG(0))
 * are stepped over: we do not verify transaction signatures.  Bytes after
 * the last counted record are ignored, as most servers do.  On FORMERR the
 * EDNS state is cleared so the error goes back without an OPT. */
static uint16_t parse_additional(const uint8_t *pkt, size_t len, size_t off, unsigned count,
				 struct msg_query *q)
{
	uint8_t owner[MSG_MAX_NAME];

	for (unsigned i = 0; i < count; i++) {
		size_t n = name_parse(pkt, len, &off, owner);
		if (!n || len - off < 10)
			goto formerr;
		uint16_t type = rd16(pkt + off);
		uint16_t cls = rd16(pkt + off + 2);
		uint32_t ttl = rd32(pkt + off + 4);
		size_t rdlen = rd16(pkt + off + 8);
		off += 10;
		if (len - off < rdlen)
			goto formerr;
		if (type == LDNS_RR_TYPE_OPT && !opt_take(q, n, cls, ttl, pkt + off, rdlen))
			goto formerr;
		off += rdlen;
	}
	return 0;
formerr:
	q->edns = false;
	q->do_bit = false;
	q->edns_version = 0;
	q->edns_udp_size = EDNS_MIN_UDP;
	return LDNS_RCODE_FORMERR;
}

/* What a recursive resolver will not do for a well-formed query.  Only
 * class IN is served: CHAOS, HESIOD, ANY and the rest are REFUSED (there is
 * no CHAOS zone here, and a recursor cannot answer class ANY honestly).
 * Zone transfers are REFUSED, as a recursor has no zones to transfer.
 * Meta-types that cannot be asked for (OPT, TSIG, TKEY, MAILA/MAILB and the
 * reserved meta range 128..248) are FORMERR, as Unbound and NSD answer. */
static uint16_t query_policy(const struct msg_query *q)
{
	if (q->qtype == LDNS_RR_TYPE_AXFR || q->qtype == LDNS_RR_TYPE_IXFR)
		return LDNS_RCODE_REFUSED;
	if (q->qtype == LDNS_RR_TYPE_OPT || q->qtype == LDNS_RR_TYPE_TSIG ||
	    q->qtype == LDNS_RR_TYPE_TKEY || q->qtype == LDNS_RR_TYPE_MAILA ||
	    q->qtype == LDNS_RR_TYPE_MAILB || (q->qtype >= 128 && q->qtype <= 248))
		return LDNS_RCODE_FORMERR;
	if (q->qclass != LDNS_RR_CLASS_IN)
		return LDNS_RCODE_REFUSED;
	return 0;
}

/* The order of the checks decides what a doubly-broken query gets:
 * drop > NOTIMP > FORMERR (counts, question, additional) > BADVERS >
 * policy (REFUSED / meta-type FORMERR).  A query with ANCOUNT or NSCOUNT
 * set is FORMERR: queries carry neither, and the only standard exception
 * (IXFR's SOA in the authority section) would be refused anyway. */
enum msg_verdict msg_parse_query(const uint8_t *pkt, size_t len, struct msg_query *q,
				 uint16_t *rcode)
{
	/* every field but the qname buffer (qname_len says how much of it
	 * holds the name): zeroing all 270 bytes was a sixth of the parse */
	q->id = 0;
	q->flags = 0;
	q->qname_len = 0;
	q->qtype = 0;
	q->qclass = 0;
	q->rd = q->cd = q->edns = q->do_bit = false;
	q->edns_version = 0;
	q->edns_udp_size = EDNS_MIN_UDP;
	*rcode = LDNS_RCODE_NOERROR;
	if (len < HDR_LEN)
		return MSG_DROP;
	q->id = rd16(pkt);
	q->flags = rd16(pkt + 2);
	if (q->flags & FLAG_QR)
		return MSG_DROP;
	q->rd = (q->flags & FLAG_RD) != 0;
	q->cd = (q->flags & FLAG_CD) != 0;

	uint16_t code = LDNS_RCODE_FORMERR;
	if (q->flags & FLAG_OPCODE) {
		code = LDNS_RCODE_NOTIMPL;
		goto error;
	}
	if (rd16(pkt + 4) != 1)
		goto error;

	size_t off = HDR_LEN;
	size_t n = name_parse(pkt, len, &off, q->qname);
	if (!n || len - off < 4)
		goto error;
	q->qtype = rd16(pkt + off);
	q->qclass = rd16(pkt + off + 2);
	q->qname_len = (uint16_t)n;
	off += 4;

	if (rd16(pkt + 6) != 0 || rd16(pkt + 8) != 0)
		goto error;
	/* most queries carry no additional record (no EDNS) */
	code = rd16(pkt + 10) ? parse_additional(pkt, len, off, rd16(pkt + 10), q) : 0;
	if (code)
		goto error;
	if (q->edns && q->edns_version > 0) {
		code = RCODE_BADVERS;
		goto error;
	}
	code = query_policy(q);
	if (code)
		goto error;
	return MSG_OK;
error:
	*rcode = code;
	return MSG_ERROR;
}

ldns_rdf *msg_qname_rdf(const struct msg_query *q, bool lower_case)
{
	if (!q->qname_len)
		return NULL;
	ldns_rdf *rdf = ldns_dname_new_frm_data(q->qname_len, q->qname);
	if (rdf && lower_case)
		ldns_dname2canonical(rdf);
	return rdf;
}

size_t msg_udp_limit(const struct msg_query *q, size_t our_max_udp)
{
	size_t lim = EDNS_MIN_UDP;

	if (q->edns) {
		lim = q->edns_udp_size;
		if (our_max_udp < lim)
			lim = our_max_udp;
	}
	return lim < EDNS_MIN_UDP ? EDNS_MIN_UDP : lim;
}

/* ---- building --------------------------------------------------------- */

/* Output under construction.  ctab holds offsets where a name we wrote
 * (owner names and compressible RDATA names only) continues: pointers may
 * go there.  When ttl_off is set, the offset of every RR's TTL field is
 * recorded there (the answer cache patches TTLs in place). */
struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	uint16_t ctab[CTAB_MAX];
	unsigned nc;
	uint16_t *ttl_off;
	size_t nttl, ttl_cap;
};

static int put(struct wbuf *w, const void *data, size_t n)
{
	if (w->cap - w->len < n)
		return -ENOSPC;
	memcpy(w->p + w->len, data, n);
	w->len += n;
	return 0;
}

/* A wire name from ldns must be well formed before we copy or compare it:
 * labels of at most 63, ending in the root exactly at the end. */
static bool wire_name_ok(const uint8_t *name, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		uint8_t b = name[pos];
		if (b > 63)
			return false;
		if (b == 0)
			return pos + 1 == size && size <= MSG_MAX_NAME;
		pos += 1 + (size_t)b;
	}
	return false;
}

/* Does the name written at off (which may continue through pointers)
 * equal name, ignoring ASCII case?  Our own output, so pointers are sane,
 * but bounded all the same. */
static bool name_equals_at(const struct wbuf *w, size_t off, const uint8_t *name)
{
	for (unsigned hops = 0; off < w->len;) {
		uint8_t b = w->p[off];
		if ((b & 0xc0) == 0xc0) {
			if (off + 1 >= w->len || ++hops > 127)
				return false;
			off = (size_t)(b & 0x3f) << 8 | w->p[off + 1];
			continue;
		}
		if (b != name[0] || off + 1 + b > w->len)
			return false;
		if (b == 0)
			return true;
		for (size_t i = 1; i <= b; i++)
			if (lower(w->p[off + i]) != lower(name[i]))
				return false;
		off += 1 + (size_t)b;
		name += 1 + (size_t)b;
	}
	return false;
}

static int ctab_find(const struct wbuf *w, const uint8_t *name)
{
	for (unsigned i = 0; i < w->nc; i++)
		if (name_equals_at(w, w->ctab[i], name))
			return w->ctab[i];
	return -1;
}

static void ctab_add(struct wbuf *w, size_t off)
{
	if (w->nc < CTAB_MAX && off <= PTR_MAX_OFF)
		w->ctab[w->nc++] = (uint16_t)off;
}

/* Write labels name[0..upto) uncompressed, remembering where each suffix
 * starts when the name may be pointed at. */
static int put_labels(struct wbuf *w, const uint8_t *name, size_t upto, bool remember)
{
	size_t base = w->len;

	if (put(w, name, upto) < 0)
		return -ENOSPC;
	if (!remember)
		return 0;
	for (size_t pos = 0; pos < upto; pos += 1 + (size_t)name[pos])
		ctab_add(w, base + pos);
	return 0;
}

/* Write a name, replacing its longest already-written suffix with a
 * pointer when compress is set.  The question is the first entry of the
 * table, so an owner equal to the question comes out as a pointer to the
 * client's own spelling. */
static int put_name(struct wbuf *w, const uint8_t *name, size_t size, bool compress)
{
	if (!wire_name_ok(name, size))
		return -EINVAL;
	for (size_t pos = 0; compress && name[pos] != 0; pos += 1 + (size_t)name[pos]) {
		int target = ctab_find(w, name + pos);
		if (target < 0)
			continue;
		uint8_t ptr[2] = { (uint8_t)(0xc0 | target >> 8), (uint8_t)target };
		if (put_labels(w, name, pos, true) < 0 || put(w, ptr, 2) < 0)
			return -ENOSPC;
		return 0;
	}
	return put_labels(w, name, size, compress);
}

/* RFC 3597 §4: only the RFC 1035 types may have names in RDATA compressed. */
static bool rdata_compressible(ldns_rr_type t)
{
	switch (t) {
	case LDNS_RR_TYPE_NS: case LDNS_RR_TYPE_MD: case LDNS_RR_TYPE_MF:
	case LDNS_RR_TYPE_CNAME: case LDNS_RR_TYPE_SOA: case LDNS_RR_TYPE_MB:
	case LDNS_RR_TYPE_MG: case LDNS_RR_TYPE_MR: case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_MINFO: case LDNS_RR_TYPE_MX:
		return true;
	default:
		return false;
	}
}

static int put_rdata(struct wbuf *w, const ldns_rr *rr)
{
	bool compress = rdata_compressible(ldns_rr_get_type(rr));

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		int r;
		if (!f)
			continue;
		if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME)
			r = put_name(w, ldns_rdf_data(f), ldns_rdf_size(f), compress);
		else
			r = put(w, ldns_rdf_data(f), ldns_rdf_size(f));
		if (r < 0)
			return r;
	}
	return 0;
}

/* One RR: 0, -ENOSPC (does not fit: caller rolls back) or -EINVAL. */
static int put_rr(struct wbuf *w, const ldns_rr *rr)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint8_t fixed[10];
	int r;

	if (!owner || ldns_rdf_get_type(owner) != LDNS_RDF_TYPE_DNAME)
		return -EINVAL;
	r = put_name(w, ldns_rdf_data(owner), ldns_rdf_size(owner), true);
	if (r < 0)
		return r;
	wr16(fixed, (uint16_t)ldns_rr_get_type(rr));
	wr16(fixed + 2, (uint16_t)ldns_rr_get_class(rr));
	wr32(fixed + 4, ldns_rr_ttl(rr));
	wr16(fixed + 8, 0);
	if (w->ttl_off && w->nttl == w->ttl_cap)
		return -ENOSPC;
	if (put(w, fixed, sizeof(fixed)) < 0)
		return -ENOSPC;
	if (w->ttl_off)
		w->ttl_off[w->nttl++] = (uint16_t)(w->len - 6);
	size_t rdstart = w->len;
	r = put_rdata(w, rr);
	if (r < 0)
		return r;
	if (w->len - rdstart > 0xffff)
		return -EINVAL;
	wr16(w->p + rdstart - 2, (uint16_t)(w->len - rdstart));
	return 0;
}

/* Drop what was written from off on, including pointer targets and TTL
 * offsets there. */
static void rollback(struct wbuf *w, size_t off)
{
	w->len = off;
	while (w->nc && w->ctab[w->nc - 1] >= off)
		w->nc--;
	while (w->nttl && w->ttl_off[w->nttl - 1] >= off)
		w->nttl--;
}

static bool same_rrset(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	       ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	       ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) == 0;
}

/* Write a section.  When an RR does not fit, the whole RRset it belongs
 * to (the run of consecutive RRs with its owner, type and class) is taken
 * back out.  Returns 1 when something was cut, 0 when all fit, -EINVAL on
 * a record we cannot encode.  OPT records from the caller are skipped:
 * the OPT we send is ours. */
static int put_section(struct wbuf *w, const ldns_rr_list *list, uint16_t *count)
{
	size_t set_off = w->len;
	uint16_t set_count = 0;
	const ldns_rr *set_first = NULL;

	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (!rr || ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT)
			continue;
		if (!ldns_rr_owner(rr))
			return -EINVAL;
		if (!set_first || !same_rrset(set_first, rr)) {
			set_first = rr;
			set_off = w->len;
			set_count = *count;
		}
		int r = put_rr(w, rr);
		if (r == -ENOSPC || (r == 0 && *count == 0xffff)) {
			rollback(w, set_off);
			*count = set_count;
			return 1;
		}
		if (r < 0)
			return r;
		(*count)++;
	}
	return 0;
}

/* An extended rcode needs an OPT; without one it cannot be said, and the
 * nearest honest answer is SERVFAIL. */
static uint16_t usable_rcode(const struct msg_query *q, uint16_t rcode)
{
	if (rcode > 0xfff || (rcode > 0xf && !q->edns))
		return LDNS_RCODE_SERVFAIL;
	return rcode;
}

static void put_header(uint8_t *out, const struct msg_query *q, uint16_t rcode, bool tc,
		       const uint16_t counts[4])
{
	uint16_t flags = FLAG_QR | FLAG_RA | (q->flags & FLAG_OPCODE) | (rcode & 0xf);

	if (q->rd)
		flags |= FLAG_RD;
	if (q->cd)
		flags |= FLAG_CD;
	if (tc)
		flags |= FLAG_TC;
	wr16(out, q->id);
	wr16(out + 2, flags);
	for (int i = 0; i < 4; i++)
		wr16(out + 4 + 2 * i, counts[i]);
}

/* Reserve the header and copy the question byte for byte as the client
 * sent it (uncompressed, its case).  Returns QDCOUNT or -ENOSPC. */
static int put_question(struct wbuf *w, const struct msg_query *q)
{
	uint8_t tc[4];

	if (w->cap < HDR_LEN)
		return -ENOSPC;
	memset(w->p, 0, HDR_LEN);
	w->len = HDR_LEN;
	if (!q->qname_len)
		return 0;
	wr16(tc, q->qtype);
	wr16(tc + 2, q->qclass);
	if (put_labels(w, q->qname, q->qname_len, true) < 0 || put(w, tc, 4) < 0)
		return -ENOSPC;
	return 1;
}

static int put_opt(struct wbuf *w, const struct msg_query *q, uint16_t rcode)
{
	uint8_t opt[OPT_LEN] = { 0 };
	uint32_t ttl = (uint32_t)(rcode >> 4) << 24; /* version 0 */

	if (q->do_bit)
		ttl |= EDNS_DO;
	wr16(opt + 1, LDNS_RR_TYPE_OPT);
	wr16(opt + 3, g_edns_size);
	wr32(opt + 5, ttl);
	return put(w, opt, sizeof(opt));
}

size_t msg_build_error(const struct msg_query *q, uint16_t rcode, uint8_t *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };
	uint16_t counts[4] = { 0 };
	int qd;

	rcode = usable_rcode(q, rcode);
	qd = put_question(&w, q);
	if (qd < 0)
		return 0;
	counts[0] = (uint16_t)qd;
	if (q->edns) {
		if (put_opt(&w, q, rcode) < 0)
			return 0;
		counts[3] = 1;
	}
	put_header(out, q, rcode, false, counts);
	return w.len;
}

/* Sections go out in order until one does not fit; everything after the
 * cut is dropped, which is "additional first, then authority, then answer"
 * from the end.  The OPT's room is held back while the sections are
 * written so it always fits after them.  TC is set when answer or
 * authority lost anything; a cut additional section needs no TC. */
size_t msg_build_response(const struct msg_query *q, uint16_t rcode,
			  const ldns_rr_list *answer, const ldns_rr_list *authority,
			  const ldns_rr_list *additional, size_t max_len,
			  uint8_t *out, size_t cap)
{
	const ldns_rr_list *sec[3] = { answer, authority, additional };
	size_t limit = max_len < cap ? max_len : cap;
	size_t opt = q->edns ? OPT_LEN : 0;
	struct wbuf w = { .p = out, .cap = limit };
	uint16_t counts[4] = { 0 };
	bool tc = false;
	int qd;

	rcode = usable_rcode(q, rcode);
	qd = put_question(&w, q);
	if (qd < 0)
		return 0;
	counts[0] = (uint16_t)qd;
	if (limit - w.len < opt) {
		put_header(out, q, rcode, true, counts);
		return w.len;
	}
	w.cap = limit - opt;
	for (int i = 0; i < 3; i++) {
		int r = put_section(&w, sec[i], &counts[i + 1]);
		if (r < 0)
			return 0;
		if (r > 0) {
			tc = i < 2;
			break;
		}
	}
	w.cap = limit;
	if (opt) {
		if (put_opt(&w, q, rcode) < 0)
			return 0;
		counts[3]++;
	}
	put_header(out, q, rcode, tc, counts);
	return w.len;
}

/* The answer cache stores sections once, in the exact bytes
 * msg_build_response() would write after this question, and later copies
 * them behind any client's question of the same length.  So the question
 * goes in first (its labels are pointer targets, offset 12 first), then
 * the sections through the same writer; nothing may be cut. */
int msg_encode_sections(const uint8_t *qname, size_t qname_len, uint16_t qtype,
			uint16_t qclass, const ldns_rr_list *answer,
			const ldns_rr_list *authority, uint8_t *out, size_t cap,
			uint16_t *ttl_off, size_t ttl_cap, struct msg_sections *res)
{
	struct wbuf w = {
		.p = out,
		.cap = cap < MSG_MAX_TCP ? cap : MSG_MAX_TCP,
		.ttl_off = ttl_off,
		.ttl_cap = ttl_cap,
	};
	struct msg_query q;
	uint16_t counts[2] = { 0 };
	int r;

	memset(res, 0, sizeof(*res));
	if (!ttl_off || !qname_len || !wire_name_ok(qname, qname_len))
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	memcpy(q.qname, qname, qname_len);
	q.qname_len = (uint16_t)qname_len;
	q.qtype = qtype;
	q.qclass = qclass;
	if (put_question(&w, &q) < 0)
		return -ENOSPC;
	res->start = w.len;
	r = put_section(&w, answer, &counts[0]);
	if (r == 0)
		r = put_section(&w, authority, &counts[1]);
	if (r != 0)
		return r > 0 ? -ENOSPC : r;
	res->len = w.len;
	res->ancount = counts[0];
	res->nscount = counts[1];
	res->nttl = w.nttl;
	return 0;
}
