/* udp.h — UDP, RFC 768 (private).
 *
 * Sockets are bound to a local port (our one address) and kept on a list;
 * input demultiplexes on the destination port.  Checksums are always sent
 * and verified when present (0 on input means "none", which RFC 768
 * allows for IPv4). */
#ifndef RW_STACK_UDP_H
#define RW_STACK_UDP_H

#include <stdint.h>

#include "stack.h"

struct pkt;
struct ip4_info;

#define UDP_HLEN 8u

struct stack_udp {
	struct stack *st;
	struct stack_udp *next;
	uint16_t port;
	stack_udp_recv_fn recv;
	void *ud;
};

void udp_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms);
void udp_free_all(struct stack *st);
/* A random unused ephemeral port (1024-65535), 0 if none found. */
uint16_t udp_pick_port(struct stack *st);

#endif
