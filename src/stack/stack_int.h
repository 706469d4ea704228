/* stack_int.h — the stack object shared by the layers (private).
 *
 * Each layer keeps its state in a member of struct stack and exposes its
 * entry points in its own private header (eth.h, arp.h, ip4.h, ...).  The
 * public surface is include/stack.h, implemented in stack.c. */
#ifndef RW_STACK_INT_H
#define RW_STACK_INT_H

#include "stack.h"

#include "arp.h"
#include "icmp4.h"
#include "netif.h"
#include "pkt.h"

/* Room reserved in front of a payload for Ethernet + IPv4 + the largest
 * TCP header, so no layer ever has to copy to prepend its header. */
#define STACK_HEADROOM 96u

struct tcp_table {
	struct stack_tcp *list;   /* every PCB: listeners, connections, TIME_WAIT */
	unsigned count;
	/* Tests set this to pin ISNs (e.g. near 2^32); NULL: rnd_u32(). */
	uint32_t (*isn_hook)(void *ud);
	void *isn_ud;
};

struct stack {
	struct stack_cfg cfg;
	struct netif nif;
	struct pkt_pool *pool;
	struct arp_table arp;
	struct icmp4_bucket icmp;
	uint16_t ip_id;
	struct stack_udp *udp_list;
	unsigned udp_count;
	struct tcp_table tcp;
	unsigned depth;           /* nesting of API entry points, see stack_enter */
};

/* Every public entry point that can run callbacks brackets its work with
 * these: dead TCP PCBs are freed only when the outermost call returns, so
 * a callback may close or abort any handle, even the one it runs for. */
void stack_enter(struct stack *st);
void stack_leave(struct stack *st);

static inline void stack_count_drop(struct stack *st, enum stack_drop reason)
{
	st->nif.stats.drops[reason]++;
}

/* An outbound packet with STACK_HEADROOM reserved; counts NOMEM on failure. */
struct pkt *stack_pkt_alloc(struct stack *st);

#endif
