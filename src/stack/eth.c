/* eth.c — Ethernet II parse and build.  We accept frames to our MAC and to
 * broadcast only: the TAP link carries the kernel's IPv6 multicast chatter
 * too, and that is dropped here and counted. */
#include "eth.h"

#include "arp.h"
#include "ip4.h"
#include "log.h"
#include "stack_int.h"
#include "wire.h"

#include <errno.h>
#include <string.h>

const uint8_t eth_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void eth_input(struct stack *st, struct pkt *p, uint64_t now_ms)
{
	const uint8_t *hdr = pkt_pull(p, ETH_HLEN);
	uint16_t type;

	if (!hdr) {
		stack_count_drop(st, STACK_DROP_ETH_SHORT);
		return;
	}
	if (memcmp(hdr, st->nif.mac, 6) != 0 && memcmp(hdr, eth_broadcast, 6) != 0) {
		stack_count_drop(st, STACK_DROP_ETH_NOT_US);
		return;
	}
	type = wire_get16(hdr + 12);
	switch (type) {
	case ETH_TYPE_ARP:
		arp_input(st, p, now_ms);
		break;
	case ETH_TYPE_IP4:
		ip4_input(st, p, now_ms);
		break;
	default:
		log_trace("stack: eth type 0x%04x dropped", type);
		stack_count_drop(st, STACK_DROP_ETH_TYPE);
		break;
	}
}

int eth_output(struct stack *st, struct pkt *p, const uint8_t dst[6], uint16_t type)
{
	uint8_t *hdr = pkt_push(p, ETH_HLEN);
	int rc;

	if (hdr && p->len < ETH_MIN_FRAME) {
		size_t pad = ETH_MIN_FRAME - p->len;
		uint8_t *tail = pkt_put(p, pad);

		if (tail)
			memset(tail, 0, pad); /* pad short frames as 802.3 asks */
	}
	if (!hdr) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_NOMEM);
		return -ENOBUFS;
	}
	memcpy(hdr, dst, 6);
	memcpy(hdr + 6, st->nif.mac, 6);
	wire_put16(hdr + 12, type);
	rc = netif_transmit(&st->nif, p->data, p->len);
	pkt_free(st->pool, p);
	return rc;
}
