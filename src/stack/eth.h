/* eth.h — Ethernet II framing (private). */
#ifndef RW_STACK_ETH_H
#define RW_STACK_ETH_H

#include <stdint.h>

struct stack;
struct pkt;

#define ETH_HLEN 14u
#define ETH_MIN_FRAME 60u /* without the FCS */
#define ETH_TYPE_IP4 0x0800u
#define ETH_TYPE_ARP 0x0806u

extern const uint8_t eth_broadcast[6];

/* A received frame: checks the header, strips it, hands the payload up. */
void eth_input(struct stack *st, struct pkt *p, uint64_t now_ms);
/* Prepends a header from us to dst and transmits.  Always consumes p. */
int eth_output(struct stack *st, struct pkt *p, const uint8_t dst[6], uint16_t type);

#endif
