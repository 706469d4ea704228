/* stack.c — the surface of the stack (include/stack.h): creation, the
 * input/poll entry points, counters and table walks.  The layers do the
 * work; this file wires them together and owns the reentrancy rule (see
 * stack_enter in stack_int.h). */
#include "stack.h"

#include "arp.h"
#include "eth.h"
#include "ip4.h"
#include "log.h"
#include "rnd.h"
#include "stack_int.h"
#include "tcp.h"
#include "udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const drop_names[STACK_DROP_MAX] = {
	[STACK_DROP_ETH_SHORT] = "eth_short",
	[STACK_DROP_ETH_NOT_US] = "eth_not_us",
	[STACK_DROP_ETH_TYPE] = "eth_type",
	[STACK_DROP_ARP_MALFORMED] = "arp_malformed",
	[STACK_DROP_ARP_NOT_US] = "arp_not_us",
	[STACK_DROP_ARP_QUEUE_FULL] = "arp_queue_full",
	[STACK_DROP_ARP_GIVEUP] = "arp_giveup",
	[STACK_DROP_ARP_NO_ENTRY] = "arp_no_entry",
	[STACK_DROP_IP_SHORT] = "ip_short",
	[STACK_DROP_IP_VERSION] = "ip_version",
	[STACK_DROP_IP_HDRLEN] = "ip_hdrlen",
	[STACK_DROP_IP_CSUM] = "ip_csum",
	[STACK_DROP_IP_LEN] = "ip_len",
	[STACK_DROP_IP_FRAG] = "ip_frag",
	[STACK_DROP_IP_NOT_US] = "ip_not_us",
	[STACK_DROP_IP_PROTO] = "ip_proto",
	[STACK_DROP_IP_NO_ROUTE] = "ip_no_route",
	[STACK_DROP_IP_TOO_BIG] = "ip_too_big",
	[STACK_DROP_ICMP_SHORT] = "icmp_short",
	[STACK_DROP_ICMP_CSUM] = "icmp_csum",
	[STACK_DROP_ICMP_TYPE] = "icmp_type",
	[STACK_DROP_ICMP_RATELIMIT] = "icmp_ratelimit",
	[STACK_DROP_UDP_SHORT] = "udp_short",
	[STACK_DROP_UDP_LEN] = "udp_len",
	[STACK_DROP_UDP_CSUM] = "udp_csum",
	[STACK_DROP_UDP_NO_PORT] = "udp_no_port",
	[STACK_DROP_TCP_SHORT] = "tcp_short",
	[STACK_DROP_TCP_HDRLEN] = "tcp_hdrlen",
	[STACK_DROP_TCP_CSUM] = "tcp_csum",
	[STACK_DROP_TCP_NO_CONN] = "tcp_no_conn",
	[STACK_DROP_TCP_BACKLOG] = "tcp_backlog",
	[STACK_DROP_TCP_OUT_OF_WINDOW] = "tcp_out_of_window",
	[STACK_DROP_TCP_OOO_FULL] = "tcp_ooo_full",
	[STACK_DROP_TCP_BAD_ACK] = "tcp_bad_ack",
	[STACK_DROP_NOMEM] = "nomem",
	[STACK_DROP_TX_ERROR] = "tx_error",
};

const char *stack_drop_name(enum stack_drop reason)
{
	if ((unsigned)reason >= STACK_DROP_MAX || !drop_names[reason])
		return "?";
	return drop_names[reason];
}

void stack_cfg_default(struct stack_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->prefix_len = 24;
	cfg->mtu = 1500;
	cfg->pkt_count = 256;
	cfg->arp_entries = 64;
	cfg->arp_queue = 8;
	cfg->arp_ttl_ms = 60000;
	cfg->arp_retry_ms = 1000;
	cfg->arp_retries = 3;
	cfg->icmp_rate = 10;
	cfg->icmp_burst = 10;
	cfg->udp_max_socks = 4096;
	cfg->tcp_max_conns = 1024;
	cfg->tcp_sndbuf = 65536;
	cfg->tcp_rcvbuf = 65535;
	cfg->tcp_ooo_max = 32;
	cfg->tcp_rto_init_ms = 1000;
	cfg->tcp_rto_min_ms = 200;
	cfg->tcp_rto_max_ms = 60000;
	cfg->tcp_max_retries = 8;
	cfg->tcp_msl_ms = 30000;
	cfg->tcp_delack_ms = 40;
}

static int stack_cfg_check(const struct stack_cfg *cfg)
{
	if (!cfg->pkt_count || !cfg->arp_entries || !cfg->arp_queue || !cfg->arp_retries)
		return -EINVAL;
	if (!cfg->tcp_sndbuf || !cfg->tcp_rcvbuf || cfg->tcp_rcvbuf > 65535)
		return -EINVAL;
	if (!cfg->tcp_rto_min_ms || cfg->tcp_rto_min_ms > cfg->tcp_rto_max_ms ||
	    cfg->tcp_rto_init_ms < cfg->tcp_rto_min_ms || cfg->tcp_rto_init_ms > cfg->tcp_rto_max_ms)
		return -EINVAL;
	return 0;
}

int stack_new(const struct stack_cfg *cfg, stack_output_fn output, void *ud, struct stack **out)
{
	struct stack *st;
	int rc;

	*out = NULL;
	rc = stack_cfg_check(cfg);
	if (rc < 0)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	rc = netif_init(&st->nif, cfg, output, ud);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	st->pool = pkt_pool_new(cfg->pkt_count, STACK_HEADROOM + cfg->mtu);
	if (!st->pool)
		goto fail;
	rc = arp_init(st);
	if (rc < 0)
		goto fail;
	st->ip_id = rnd_u16(); /* DF is always set, so IDs only need to differ */
	*out = st;
	return 0;
fail:
	stack_free(st);
	return rc;
}

void stack_free(struct stack *st)
{
	unsigned leaked;

	if (!st)
		return;
	tcp_free_all(st);
	udp_free_all(st);
	arp_fini(st);
	leaked = pkt_pool_free(st->pool);
	if (leaked)
		log_err("stack: %u packet buffers still in use at exit", leaked);
	free(st);
}

void stack_enter(struct stack *st)
{
	st->depth++;
}

void stack_leave(struct stack *st)
{
	if (--st->depth == 0)
		tcp_reap(st);
}

struct pkt *stack_pkt_alloc(struct stack *st)
{
	struct pkt *p = pkt_alloc(st->pool, STACK_HEADROOM);

	if (!p)
		stack_count_drop(st, STACK_DROP_NOMEM);
	return p;
}

int stack_start(struct stack *st, uint64_t now_ms)
{
	(void)now_ms;
	return arp_announce(st);
}

void stack_input(struct stack *st, const uint8_t *frame, size_t len, uint64_t now_ms)
{
	struct pkt p;

	st->nif.stats.frames_in++;
	st->nif.stats.bytes_in += len;
	pkt_wrap(&p, frame, len);
	stack_enter(st);
	eth_input(st, &p, now_ms);
	stack_leave(st);
}

uint64_t stack_poll(struct stack *st, uint64_t now_ms)
{
	uint64_t next, t;

	stack_enter(st);
	next = arp_poll(st, now_ms);
	t = tcp_poll(st, now_ms);
	stack_leave(st);
	return t < next ? t : next;
}

void stack_get_mac(const struct stack *st, uint8_t mac[6])
{
	memcpy(mac, st->nif.mac, 6);
}

void stack_get_stats(const struct stack *st, struct stack_stats *out)
{
	*out = st->nif.stats;
}

void stack_arp_walk(const struct stack *st, stack_arp_walk_fn fn, void *ud)
{
	arp_walk(st, fn, ud);
}
