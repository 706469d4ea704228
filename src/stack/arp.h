/* arp.h — Address Resolution Protocol, RFC 826 (private).
 *
 * A fixed-size cache.  Resolved entries expire after arp_ttl_ms.  Packets
 * for a next hop being resolved wait in a short per-entry queue; a request
 * is resent every arp_retry_ms, and after arp_retries unanswered requests
 * the queue is dropped (counted) and the entry freed. */
#ifndef RW_STACK_ARP_H
#define RW_STACK_ARP_H

#include <stdint.h>

#include "stack.h"

struct stack;
struct pkt;

enum arp_state { ARP_FREE, ARP_PENDING, ARP_RESOLVED };

struct arp_entry {
	enum arp_state state;
	uint32_t addr;
	uint8_t mac[6];
	uint64_t deadline;   /* resolved: expiry; pending: next request */
	unsigned requests;   /* requests sent while pending */
	struct pkt *q_head, *q_tail;
	unsigned q_len;
};

struct arp_table {
	struct arp_entry *tab;
	unsigned size;
};

int arp_init(struct stack *st);
/* Frees queued packets and the table. */
void arp_fini(struct stack *st);
void arp_input(struct stack *st, struct pkt *p, uint64_t now_ms);
/* Sends IPv4 packet p to next_hop, resolving it first if needed.
 * Always consumes p; 0 also when p was queued. */
int arp_output(struct stack *st, struct pkt *p, uint32_t next_hop, uint64_t now_ms);
/* Gratuitous ARP: announces our address. */
int arp_announce(struct stack *st);
/* Retries, give-ups, expiry; returns the next deadline. */
uint64_t arp_poll(struct stack *st, uint64_t now_ms);
void arp_walk(const struct stack *st, stack_arp_walk_fn fn, void *ud);

#endif
