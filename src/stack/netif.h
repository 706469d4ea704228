/* netif.h — our one network interface (private).
 *
 * Link and IPv4 identity (MAC, address, prefix, gateway, MTU), the frame
 * output function, and the counters every layer bumps. */
#ifndef RW_STACK_NETIF_H
#define RW_STACK_NETIF_H

#include "stack.h"

#include <stdbool.h>
#include <stdint.h>

struct netif {
	uint8_t mac[6];
	uint32_t addr;
	uint32_t mask;
	uint32_t gateway;
	uint16_t mtu;
	stack_output_fn output;
	void *output_ud;
	struct stack_stats stats;
};

/* -EINVAL for an unusable configuration (no address, bad prefix or MTU). */
int netif_init(struct netif *nif, const struct stack_cfg *cfg, stack_output_fn output, void *ud);
/* Hands a finished frame to the output function and counts it. */
int netif_transmit(struct netif *nif, const uint8_t *frame, size_t len);
bool netif_on_link(const struct netif *nif, uint32_t addr);
/* Limited (255.255.255.255) or directed broadcast of our subnet. */
bool netif_is_broadcast(const struct netif *nif, uint32_t addr);

#endif
