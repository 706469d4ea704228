/* ip4.h — IPv4, RFC 791 / RFC 1122 (private).
 *
 * Input checks version, header length and checksum, total length against
 * the frame, and the destination (ours or broadcast); fragments are dropped
 * and counted (DNS over this stack stays under the MTU: EDNS buffer sizes
 * are chosen to fit).  Output always sets DF and TTL 64, and routes to the
 * destination when on-link, else to the gateway. */
#ifndef RW_STACK_IP4_H
#define RW_STACK_IP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stack;
struct pkt;

#define IP4_HLEN 20u
#define IP4_PROTO_ICMP 1u
#define IP4_PROTO_TCP 6u
#define IP4_PROTO_UDP 17u
#define IP4_TTL 64u

/* What the upper layers learn about the datagram that carried them. */
struct ip4_info {
	uint32_t src, dst;
	uint8_t proto;
	bool broadcast;       /* sent to a broadcast address */
	const uint8_t *hdr;   /* the IPv4 header, for ICMP errors */
	size_t hdr_len;
	size_t total_len;     /* header + payload, after trimming padding */
};

void ip4_input(struct stack *st, struct pkt *p, uint64_t now_ms);
/* Prepends a header from our address to dst and sends it towards its next
 * hop.  Always consumes p.  -EHOSTUNREACH, -EMSGSIZE, -ENOBUFS. */
int ip4_output(struct stack *st, struct pkt *p, uint32_t dst, uint8_t proto, uint64_t now_ms);
/* Next hop for dst: dst itself on-link or broadcast, else the gateway. */
int ip4_route(const struct stack *st, uint32_t dst, uint32_t *next_hop);
/* Largest payload ip4_output() accepts. */
size_t ip4_max_payload(const struct stack *st);

#endif
