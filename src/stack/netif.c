/* netif.c — see netif.h.  A MAC left all-zero in the configuration becomes
 * a random locally administered unicast address (the 0x02 bit set, the
 * 0x01 bit clear), as Linux does for TAP devices. */
#include "netif.h"

#include "log.h"
#include "rnd.h"

#include <errno.h>
#include <string.h>

static bool mac_is_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) == 0;
}

int netif_init(struct netif *nif, const struct stack_cfg *cfg, stack_output_fn output, void *ud)
{
	memset(nif, 0, sizeof(*nif));
	if (!output || cfg->addr == 0 || cfg->prefix_len < 1 || cfg->prefix_len > 32)
		return -EINVAL;
	if (cfg->mtu < 576 || cfg->mtu > 9000)
		return -EINVAL;
	if (mac_is_zero(cfg->mac)) {
		rnd_bytes(nif->mac, 6);
		nif->mac[0] = (uint8_t)((nif->mac[0] & 0xfe) | 0x02);
	} else {
		if (cfg->mac[0] & 0x01)
			return -EINVAL; /* multicast source addresses are illegal */
		memcpy(nif->mac, cfg->mac, 6);
	}
	nif->addr = cfg->addr;
	nif->mask = cfg->prefix_len == 32 ? 0xffffffffu : ~(0xffffffffu >> cfg->prefix_len);
	nif->gateway = cfg->gateway;
	if (nif->gateway && !netif_on_link(nif, nif->gateway))
		return -EINVAL;
	nif->mtu = cfg->mtu;
	nif->output = output;
	nif->output_ud = ud;
	return 0;
}

int netif_transmit(struct netif *nif, const uint8_t *frame, size_t len)
{
	int rc = nif->output(nif->output_ud, frame, len);

	if (rc < 0) {
		nif->stats.drops[STACK_DROP_TX_ERROR]++;
		log_trace("stack: output of %zu-byte frame failed: %d", len, rc);
		return rc;
	}
	nif->stats.frames_out++;
	nif->stats.bytes_out += len;
	return 0;
}

bool netif_on_link(const struct netif *nif, uint32_t addr)
{
	return (addr & nif->mask) == (nif->addr & nif->mask);
}

bool netif_is_broadcast(const struct netif *nif, uint32_t addr)
{
	if (addr == 0xffffffffu)
		return true;
	return nif->mask != 0xffffffffu && netif_on_link(nif, addr) &&
	       (addr & ~nif->mask) == ~nif->mask;
}
