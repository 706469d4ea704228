/* icmp4.h — ICMP for IPv4, RFC 792 / RFC 1122 3.2.2 (private).
 *
 * Echo requests are answered.  Destination-unreachable errors are sent for
 * closed UDP ports and unknown protocols, at most icmp_rate per second with
 * bursts of icmp_burst (a token bucket refilled from now_ms), and never
 * about broadcasts or about ICMP errors. */
#ifndef RW_STACK_ICMP4_H
#define RW_STACK_ICMP4_H

#include <stdbool.h>
#include <stdint.h>

struct stack;
struct pkt;
struct ip4_info;

#define ICMP4_ECHO_REPLY 0u
#define ICMP4_UNREACH 3u
#define ICMP4_ECHO_REQUEST 8u
#define ICMP4_UNREACH_PROTO 2u
#define ICMP4_UNREACH_PORT 3u

struct icmp4_bucket {
	uint64_t milli_tokens; /* tokens x 1000 */
	uint64_t last_ms;
	bool primed;
};

void icmp4_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms);
/* Destination unreachable about the datagram described by orig. */
void icmp4_send_unreach(struct stack *st, uint8_t code, const struct ip4_info *orig,
			uint64_t now_ms);

#endif
