/* control_proto.c — the control protocol's building blocks: a growable
 * output buffer, one emitter that writes either "key: value" text or a
 * single-line JSON object from the same calls (so every command has both
 * forms without two code paths), and the name/type/address helpers the
 * commands share. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_int.h"

/* ---- buffer ------------------------------------------------------------ */

static bool buf_reserve(struct ctl_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void control_buf_put(struct ctl_buf *b, const char *s, size_t n)
{
	if (!n || !buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void control_buf_puts(struct ctl_buf *b, const char *s)
{
	control_buf_put(b, s, strlen(s));
}

void control_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (!buf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void control_buf_put_clean(struct ctl_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			control_buf_printf(b, "\\x%02x", ch);
		else
			control_buf_put(b, s, 1);
	}
}

void control_buf_put_json(struct ctl_buf *b, const char *s)
{
	control_buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"': control_buf_put(b, "\\\"", 2); break;
		case '\\': control_buf_put(b, "\\\\", 2); break;
		case '\n': control_buf_put(b, "\\n", 2); break;
		case '\r': control_buf_put(b, "\\r", 2); break;
		case '\t': control_buf_put(b, "\\t", 2); break;
		default:
			/* Bytes >= 0x80 that are not UTF-8 would make the
			 * document invalid: names are ASCII after ldns's own
			 * escaping, and other text is escaped byte-wise. */
			if (ch < 0x20 || ch >= 0x7f)
				control_buf_printf(b, "\\u%04x", ch);
			else
				control_buf_put(b, s, 1);
		}
	}
	control_buf_put(b, "\"", 1);
}

void control_buf_free(struct ctl_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- emitter ----------------------------------------------------------- */

void control_emit_begin(struct ctl_emit *e, struct ctl_buf *b, bool json)
{
	memset(e, 0, sizeof(*e));
	e->b = b;
	e->json = json;
	e->first[0] = true;
	if (json)
		control_buf_put(b, "{", 1);
}

void control_emit_finish(struct ctl_emit *e)
{
	if (e->json)
		control_buf_put(e->b, "}\n", 2);
}

/* Text indentation: two spaces per enclosing object (arrays add none). */
static void text_indent(struct ctl_emit *e)
{
	for (int i = 1; i <= e->depth; i++)
		if (!e->array[i])
			control_buf_put(e->b, "  ", 2);
}

/* Start a member: JSON separator and key, or the text line's "key: ". */
static void member(struct ctl_emit *e, const char *key, bool opens_block)
{
	if (e->json) {
		if (!e->first[e->depth])
			control_buf_put(e->b, ",", 1);
		e->first[e->depth] = false;
		if (!e->array[e->depth]) {
			control_buf_put_json(e->b, key);
			control_buf_put(e->b, ":", 1);
		}
		return;
	}
	text_indent(e);
	control_buf_puts(e->b, key);
	control_buf_puts(e->b, opens_block ? ":\n" : ": ");
}

void control_emit_str(struct ctl_emit *e, const char *key, const char *val)
{
	member(e, key, false);
	if (e->json) {
		control_buf_put_json(e->b, val);
		return;
	}
	control_buf_put_clean(e->b, val);
	control_buf_put(e->b, "\n", 1);
}

void control_emit_u64(struct ctl_emit *e, const char *key, uint64_t v)
{
	member(e, key, false);
	control_buf_printf(e->b, e->json ? "%llu" : "%llu\n", (unsigned long long)v);
}

void control_emit_bool(struct ctl_emit *e, const char *key, bool v)
{
	member(e, key, false);
	if (e->json)
		control_buf_puts(e->b, v ? "true" : "false");
	else
		control_buf_puts(e->b, v ? "yes\n" : "no\n");
}

/* JSON null; text shows what the absence means ("none (root hints)"). */
void control_emit_null(struct ctl_emit *e, const char *key, const char *text)
{
	member(e, key, false);
	if (e->json) {
		control_buf_puts(e->b, "null");
		return;
	}
	control_buf_put_clean(e->b, text);
	control_buf_put(e->b, "\n", 1);
}

static void push(struct ctl_emit *e, bool array)
{
	if (e->depth + 1 >= CTL_EMIT_DEPTH) {
		/* A programming error, not input: keep the output parseable. */
		e->b->oom = true;
		return;
	}
	e->depth++;
	e->array[e->depth] = array;
	e->first[e->depth] = true;
}

void control_emit_obj(struct ctl_emit *e, const char *key)
{
	member(e, key, true);
	if (e->json)
		control_buf_put(e->b, "{", 1);
	push(e, false);
}

void control_emit_arr(struct ctl_emit *e, const char *key)
{
	if (e->json) {
		member(e, key, false);
		control_buf_put(e->b, "[", 1);
	}
	push(e, true);
}

void control_emit_end(struct ctl_emit *e)
{
	if (e->depth == 0)
		return;
	if (e->json)
		control_buf_put(e->b, e->array[e->depth] ? "]" : "}", 1);
	e->depth--;
}

/* ---- names, types, addresses ----------------------------------------- */

ldns_rdf *control_parse_name(const char *s)
{
	ldns_rdf *d = NULL;

	if (!*s || ldns_str2rdf_dname(&d, s) != LDNS_STATUS_OK)
		return NULL;
	ldns_dname2canonical(d);  /* the cache hands out lower case too */
	return d;
}

ldns_rr_type control_parse_type(const char *s)
{
	return ldns_get_rr_type_by_name(s);
}

static void chop_newline(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

char *control_name_str(const ldns_rdf *name)
{
	return ldns_rdf2str(name);
}

char *control_type_str(ldns_rr_type t)
{
	return ldns_rr_type2str(t);
}

/* ---- records as text that reads back ------------------------------------ */

/* RR in uncompressed wire form into b (cleared first). */
static bool rr_wire(ldns_buffer *b, const ldns_rr *rr)
{
	ldns_buffer_clear(b);
	return ldns_rr2buffer_wire(b, rr, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK;
}

/* Does text parse back, with ldns_rr_new_frm_str() as "cache load" reads
 * it, into exactly rr (owner, type, class, TTL and RDATA, in wire form)?
 * ldns prints some records it will not read (an RRSIG time past 2106
 * prints as a date before 1970), or reads into a different record. */
static bool reads_back(const ldns_rr *rr, const char *text)
{
	ldns_buffer *a = ldns_buffer_new(256), *b = ldns_buffer_new(256);
	ldns_rr *back = NULL;
	bool same = false;

	if (a && b && ldns_rr_new_frm_str(&back, text, 0, NULL, NULL) == LDNS_STATUS_OK &&
	    rr_wire(a, rr) && rr_wire(b, back))
		same = ldns_buffer_position(a) == ldns_buffer_position(b) &&
		       memcmp(ldns_buffer_begin(a), ldns_buffer_begin(b),
			      ldns_buffer_position(a)) == 0;
	ldns_rr_free(back);
	ldns_buffer_free(a);
	ldns_buffer_free(b);
	return same;
}

/* Records whose presentation form ldns 1.8 cannot parse without leaking:
 * for a CERT whose certificate type is 0, ldns_str2rdf_cert_alg() returns
 * an error and loses the field it allocated (fuzz/README.md finding 4).
 * Those go straight to the generic form. */
static bool reparse_leaks(const ldns_rr *rr)
{
	const ldns_rdf *f = ldns_rr_rd_count(rr) ? ldns_rr_rdf(rr, 0) : NULL;

	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_CERT && f && ldns_rdf_size(f) == 2 &&
	       ldns_rdf2native_int16(f) == 0;
}

static void put_hex(struct ctl_buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char chunk[128];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		chunk[k++] = digits[p[i] >> 4];
		chunk[k++] = digits[p[i] & 15];
		if (k == sizeof(chunk)) {
			control_buf_put(b, chunk, k);
			k = 0;
		}
	}
	control_buf_put(b, chunk, k);
	control_buf_put(b, "", 1);  /* the string's NUL */
	if (!b->oom)
		b->len--;           /* not part of the text */
}

/* RFC 3597 section 5: "OWNER TTL CLASS TYPEnnn \# LEN HEX", which ldns
 * reads for every type (and converts to the type's fields when it knows
 * the type). */
static char *rr_generic_str(const ldns_rr *rr)
{
	ldns_buffer *rd = ldns_buffer_new(256);
	char *owner = ldns_rdf2str(ldns_rr_owner(rr));
	char *cls = ldns_rr_class2str(ldns_rr_get_class(rr));
	struct ctl_buf b = { 0 };

	if (rd && owner && cls && ldns_rr_rdata2buffer_wire(rd, rr) == LDNS_STATUS_OK) {
		const uint8_t *p = ldns_buffer_begin(rd);
		size_t n = ldns_buffer_position(rd);

		control_buf_printf(&b, "%s\t%u\t%s\tTYPE%u\t\\# %zu%s", owner, ldns_rr_ttl(rr),
				   cls, (unsigned)ldns_rr_get_type(rr), n, n ? " " : "");
		put_hex(&b, p, n);
	} else {
		b.oom = true;
	}
	ldns_buffer_free(rd);
	free(owner);
	free(cls);
	if (b.oom) {
		control_buf_free(&b);
		return NULL;
	}
	return b.data;
}

char *control_rr_str(const ldns_rr *rr)
{
	char *s = reparse_leaks(rr) ? NULL : ldns_rr2str(rr);

	chop_newline(s);
	if (s && reads_back(rr, s))
		return s;
	free(s);
	return rr_generic_str(rr);
}

void control_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port = 0;
	const void *a = NULL;

	if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
	if (!a || !inet_ntop(sa->sa_family, a, ip, sizeof(ip))) {
		snprintf(out, len, "(family %d)", sa->sa_family);
		return;
	}
	snprintf(out, len, "%s@%u", ip, port);
}
