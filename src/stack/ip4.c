/* ip4.c — see ip4.h.  The parse step is a checked view: every length is
 * compared against the bytes actually present before a field is read. */
#include "ip4.h"

#include "arp.h"
#include "csum.h"
#include "icmp4.h"
#include "log.h"
#include "stack_int.h"
#include "tcp.h"
#include "udp.h"
#include "wire.h"

#include <errno.h>

#define IP4_FLAG_DF 0x4000u
#define IP4_FLAG_MF 0x2000u
#define IP4_FRAG_OFF 0x1fffu

/* Validates the header at p->data; fills info or returns the drop reason. */
static int ip4_parse(const struct stack *st, const struct pkt *p, struct ip4_info *info)
{
	const uint8_t *h = p->data;
	size_t hlen, tlen;

	if (p->len < IP4_HLEN)
		return STACK_DROP_IP_SHORT;
	if ((h[0] >> 4) != 4)
		return STACK_DROP_IP_VERSION;
	hlen = (size_t)(h[0] & 0x0f) * 4;
	if (hlen < IP4_HLEN || hlen > p->len)
		return STACK_DROP_IP_HDRLEN;
	if (csum(h, hlen) != 0)
		return STACK_DROP_IP_CSUM;
	tlen = wire_get16(h + 2);
	if (tlen < hlen || tlen > p->len)
		return STACK_DROP_IP_LEN;
	if (wire_get16(h + 6) & (IP4_FLAG_MF | IP4_FRAG_OFF))
		return STACK_DROP_IP_FRAG;
	info->src = wire_get32(h + 12);
	info->dst = wire_get32(h + 16);
	info->proto = h[9];
	info->hdr = h;
	info->hdr_len = hlen;
	info->total_len = tlen;
	info->broadcast = netif_is_broadcast(&st->nif, info->dst);
	if (info->dst != st->nif.addr && !info->broadcast)
		return STACK_DROP_IP_NOT_US;
	/* Broadcast, multicast, loopback or zero sources are martians
	 * (RFC 1122 3.2.1.3): never legitimate on the wire. */
	if (netif_is_broadcast(&st->nif, info->src) || (info->src >> 28) == 0xe ||
	    (info->src >> 24) == 127 || info->src == 0)
		return STACK_DROP_IP_NOT_US;
	return -1;
}

void ip4_input(struct stack *st, struct pkt *p, uint64_t now_ms)
{
	struct ip4_info info;
	int reason;

	st->nif.stats.ip_in++;
	reason = ip4_parse(st, p, &info);
	if (reason >= 0) {
		stack_count_drop(st, (enum stack_drop)reason);
		return;
	}
	pkt_trim(p, info.total_len); /* Ethernet padding */
	(void)pkt_pull(p, info.hdr_len);
	switch (info.proto) {
	case IP4_PROTO_ICMP:
		icmp4_input(st, p, &info, now_ms);
		break;
	case IP4_PROTO_UDP:
		udp_input(st, p, &info, now_ms);
		break;
	case IP4_PROTO_TCP:
		tcp_input(st, p, &info, now_ms);
		break;
	default:
		stack_count_drop(st, STACK_DROP_IP_PROTO);
		icmp4_send_unreach(st, ICMP4_UNREACH_PROTO, &info, now_ms);
		break;
	}
}

int ip4_route(const struct stack *st, uint32_t dst, uint32_t *next_hop)
{
	if (netif_on_link(&st->nif, dst) || dst == 0xffffffffu) {
		*next_hop = dst;
		return 0;
	}
	if (!st->nif.gateway)
		return -EHOSTUNREACH;
	*next_hop = st->nif.gateway;
	return 0;
}

size_t ip4_max_payload(const struct stack *st)
{
	return (size_t)st->nif.mtu - IP4_HLEN;
}

int ip4_output(struct stack *st, struct pkt *p, uint32_t dst, uint8_t proto, uint64_t now_ms)
{
	uint32_t next_hop;
	uint8_t *h;
	int rc;

	rc = ip4_route(st, dst, &next_hop);
	if (rc < 0) {
		stack_count_drop(st, STACK_DROP_IP_NO_ROUTE);
		goto drop;
	}
	if (p->len > ip4_max_payload(st)) {
		stack_count_drop(st, STACK_DROP_IP_TOO_BIG);
		rc = -EMSGSIZE;
		goto drop;
	}
	h = pkt_push(p, IP4_HLEN);
	if (!h) {
		stack_count_drop(st, STACK_DROP_NOMEM);
		rc = -ENOBUFS;
		goto drop;
	}
	h[0] = 0x45;
	h[1] = 0;
	wire_put16(h + 2, (uint16_t)p->len);
	wire_put16(h + 4, st->ip_id++);
	wire_put16(h + 6, IP4_FLAG_DF);
	h[8] = IP4_TTL;
	h[9] = proto;
	wire_put16(h + 10, 0);
	wire_put32(h + 12, st->nif.addr);
	wire_put32(h + 16, dst);
	wire_put16(h + 10, csum(h, IP4_HLEN));
	st->nif.stats.ip_out++;
	return arp_output(st, p, next_hop, now_ms);
drop:
	pkt_free(st->pool, p);
	return rc;
}
