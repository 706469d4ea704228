/* icmp4.c — see icmp4.h. */
#include "icmp4.h"

#include "csum.h"
#include "ip4.h"
#include "log.h"
#include "stack_int.h"
#include "wire.h"

#include <string.h>

#define ICMP4_HLEN 8u
/* An error quotes the offending datagram so that the whole reply stays
 * within the 576 bytes every host accepts (RFC 1812 4.3.2.3). */
#define ICMP4_QUOTE_MAX (576u - IP4_HLEN - ICMP4_HLEN)

static void icmp4_echo_reply(struct stack *st, const struct pkt *req, const struct ip4_info *ip,
			     uint64_t now_ms)
{
	struct pkt *p;
	uint8_t *b;

	if (ip->broadcast)
		return; /* no smurf amplifier here */
	p = stack_pkt_alloc(st);
	if (!p)
		return;
	b = pkt_put(p, req->len);
	if (!b) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_NOMEM);
		return;
	}
	/* Same identifier, sequence and data; only the type changes.  The
	 * checksum is summed afresh: patching the request's (RFC 1624) gives
	 * 0x0000 instead of 0xffff when the reply sums to zero. */
	memcpy(b, req->data, req->len);
	b[0] = ICMP4_ECHO_REPLY;
	wire_put16(b + 2, 0);
	wire_put16(b + 2, csum(b, req->len));
	st->nif.stats.icmp_out++;
	(void)ip4_output(st, p, ip->src, IP4_PROTO_ICMP, now_ms);
}

void icmp4_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms)
{
	st->nif.stats.icmp_in++;
	if (p->len < ICMP4_HLEN) {
		stack_count_drop(st, STACK_DROP_ICMP_SHORT);
		return;
	}
	if (csum(p->data, p->len) != 0) {
		stack_count_drop(st, STACK_DROP_ICMP_CSUM);
		return;
	}
	if (p->data[0] == ICMP4_ECHO_REQUEST && p->data[1] == 0) {
		icmp4_echo_reply(st, p, ip, now_ms);
		return;
	}
	/* Errors about our own traffic would be useful to TCP/UDP (RFC 1122
	 * 4.2.3.9); the resolver times out instead.  Counted, not acted on. */
	log_trace("stack: icmp type %u code %u ignored", p->data[0], p->data[1]);
	stack_count_drop(st, STACK_DROP_ICMP_TYPE);
}

/* Token bucket: refill at icmp_rate tokens per second up to icmp_burst;
 * one token per error. */
static bool icmp4_take_token(struct stack *st, uint64_t now_ms)
{
	struct icmp4_bucket *b = &st->icmp;
	uint64_t cap = (uint64_t)st->cfg.icmp_burst * 1000;

	if (!b->primed) {
		b->milli_tokens = cap;
		b->last_ms = now_ms;
		b->primed = true;
	}
	if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * st->cfg.icmp_rate;

		b->milli_tokens = add >= cap - b->milli_tokens ? cap : b->milli_tokens + add;
		b->last_ms = now_ms;
	}
	if (b->milli_tokens < 1000)
		return false;
	b->milli_tokens -= 1000;
	return true;
}

static bool icmp4_is_error(const struct ip4_info *orig)
{
	const uint8_t *l4 = orig->hdr + orig->hdr_len;

	if (orig->proto != IP4_PROTO_ICMP)
		return false;
	if (orig->total_len <= orig->hdr_len)
		return true; /* not even a type: do not answer */
	return l4[0] != ICMP4_ECHO_REQUEST && l4[0] != ICMP4_ECHO_REPLY;
}

void icmp4_send_unreach(struct stack *st, uint8_t code, const struct ip4_info *orig,
			uint64_t now_ms)
{
	size_t quote = orig->total_len < ICMP4_QUOTE_MAX ? orig->total_len : ICMP4_QUOTE_MAX;
	struct pkt *p;
	uint8_t *b;

	if (orig->broadcast || icmp4_is_error(orig))
		return;
	if (!icmp4_take_token(st, now_ms)) {
		stack_count_drop(st, STACK_DROP_ICMP_RATELIMIT);
		return;
	}
	p = stack_pkt_alloc(st);
	if (!p)
		return;
	b = pkt_put(p, ICMP4_HLEN + quote);
	if (!b) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_NOMEM);
		return;
	}
	memset(b, 0, ICMP4_HLEN);
	b[0] = ICMP4_UNREACH;
	b[1] = code;
	memcpy(b + ICMP4_HLEN, orig->hdr, quote);
	wire_put16(b + 2, csum(b, ICMP4_HLEN + quote));
	st->nif.stats.icmp_out++;
	(void)ip4_output(st, p, orig->src, IP4_PROTO_ICMP, now_ms);
}
