/* arp.c — see arp.h.  Input follows RFC 826's "packet reception" algorithm:
 * merge the sender into an existing entry, and if the request is for us,
 * add the sender (we are about to talk to it) and reply.  Gratuitous ARP
 * from others refreshes entries we already have and creates none, so a
 * stranger cannot fill the cache. */
#include "arp.h"

#include "eth.h"
#include "log.h"
#include "stack_int.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARP_LEN 28u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY 2u

/* A checked view of one ARP packet for Ethernet/IPv4. */
struct arp_msg {
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};

int arp_init(struct stack *st)
{
	st->arp.size = st->cfg.arp_entries;
	st->arp.tab = calloc(st->arp.size, sizeof(*st->arp.tab));
	return st->arp.tab ? 0 : -ENOMEM;
}

static void arp_flush_queue(struct stack *st, struct arp_entry *e, bool count_giveup)
{
	while (e->q_head) {
		struct pkt *p = e->q_head;

		e->q_head = p->next;
		if (count_giveup)
			stack_count_drop(st, STACK_DROP_ARP_GIVEUP);
		pkt_free(st->pool, p);
	}
	e->q_tail = NULL;
	e->q_len = 0;
}

void arp_fini(struct stack *st)
{
	if (!st->arp.tab)
		return;
	for (unsigned i = 0; i < st->arp.size; i++)
		arp_flush_queue(st, &st->arp.tab[i], false);
	free(st->arp.tab);
	st->arp.tab = NULL;
}

static bool arp_parse(const struct pkt *p, struct arp_msg *m)
{
	const uint8_t *b = p->data;

	if (p->len < ARP_LEN)
		return false;
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4 */
	if (wire_get16(b) != 1 || wire_get16(b + 2) != ETH_TYPE_IP4 || b[4] != 6 || b[5] != 4)
		return false;
	m->op = wire_get16(b + 6);
	if (m->op != ARP_OP_REQUEST && m->op != ARP_OP_REPLY)
		return false;
	memcpy(m->sha, b + 8, 6);
	m->spa = wire_get32(b + 14);
	memcpy(m->tha, b + 18, 6);
	m->tpa = wire_get32(b + 24);
	/* A sender claiming a multicast/broadcast MAC is bogus. */
	return (m->sha[0] & 0x01) == 0;
}

static int arp_send(struct stack *st, uint16_t op, const uint8_t eth_dst[6],
		    const uint8_t tha[6], uint32_t tpa)
{
	struct pkt *p = stack_pkt_alloc(st);
	uint8_t *b;

	if (!p)
		return -ENOBUFS;
	b = pkt_put(p, ARP_LEN);
	if (!b) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_NOMEM);
		return -ENOBUFS;
	}
	wire_put16(b, 1);
	wire_put16(b + 2, ETH_TYPE_IP4);
	b[4] = 6;
	b[5] = 4;
	wire_put16(b + 6, op);
	memcpy(b + 8, st->nif.mac, 6);
	wire_put32(b + 14, st->nif.addr);
	memcpy(b + 18, tha, 6);
	wire_put32(b + 24, tpa);
	st->nif.stats.arp_out++;
	return eth_output(st, p, eth_dst, ETH_TYPE_ARP);
}

static int arp_request(struct stack *st, uint32_t addr)
{
	static const uint8_t unknown[6];

	log_trace("stack: arp who-has %08x", addr);
	return arp_send(st, ARP_OP_REQUEST, eth_broadcast, unknown, addr);
}

int arp_announce(struct stack *st)
{
	/* RFC 5227 announcement: a request with sender = target = our address. */
	static const uint8_t unknown[6];

	return arp_send(st, ARP_OP_REQUEST, eth_broadcast, unknown, st->nif.addr);
}

static struct arp_entry *arp_find(struct stack *st, uint32_t addr)
{
	for (unsigned i = 0; i < st->arp.size; i++) {
		struct arp_entry *e = &st->arp.tab[i];

		if (e->state != ARP_FREE && e->addr == addr)
			return e;
	}
	return NULL;
}

/* A free slot, else the resolved entry closest to expiry (it would be
 * asked again anyway).  Pending entries are never evicted: they hold
 * packets.  NULL when everything is pending. */
static struct arp_entry *arp_slot(struct stack *st)
{
	struct arp_entry *victim = NULL;

	for (unsigned i = 0; i < st->arp.size; i++) {
		struct arp_entry *e = &st->arp.tab[i];

		if (e->state == ARP_FREE)
			return e;
		if (e->state == ARP_RESOLVED && (!victim || e->deadline < victim->deadline))
			victim = e;
	}
	return victim;
}

/* Sends everything that waited for e's MAC. */
static void arp_release_queue(struct stack *st, struct arp_entry *e)
{
	while (e->q_head) {
		struct pkt *p = e->q_head;

		e->q_head = p->next;
		e->q_len--;
		p->next = NULL;
		(void)eth_output(st, p, e->mac, ETH_TYPE_IP4); /* counted there */
	}
	e->q_tail = NULL;
}

static void arp_update(struct stack *st, struct arp_entry *e, const struct arp_msg *m,
		       uint64_t now_ms)
{
	memcpy(e->mac, m->sha, 6);
	e->addr = m->spa;
	e->state = ARP_RESOLVED;
	e->deadline = now_ms + st->cfg.arp_ttl_ms;
	e->requests = 0;
	arp_release_queue(st, e);
}

void arp_input(struct stack *st, struct pkt *p, uint64_t now_ms)
{
	struct arp_msg m;
	struct arp_entry *e;
	bool merged = false;

	st->nif.stats.arp_in++;
	if (!arp_parse(p, &m) || netif_is_broadcast(&st->nif, m.spa)) {
		stack_count_drop(st, STACK_DROP_ARP_MALFORMED);
		return;
	}
	if (m.spa == 0) {
		/* RFC 5227 probe: if it is for our address, defend it.  Nothing
		 * to learn from a sender without an address. */
		if (m.op == ARP_OP_REQUEST && m.tpa == st->nif.addr)
			(void)arp_send(st, ARP_OP_REPLY, m.sha, m.sha, 0);
		else
			stack_count_drop(st, STACK_DROP_ARP_NOT_US);
		return;
	}
	if (m.spa == st->nif.addr) {
		/* Someone else claims our address (or our own echo): keep ours. */
		log_detail("stack: arp: address conflict from %02x:%02x:%02x:%02x:%02x:%02x",
			   m.sha[0], m.sha[1], m.sha[2], m.sha[3], m.sha[4], m.sha[5]);
		stack_count_drop(st, STACK_DROP_ARP_NOT_US);
		return;
	}
	e = arp_find(st, m.spa);
	if (e) {
		arp_update(st, e, &m, now_ms);
		merged = true;
	}
	if (m.tpa != st->nif.addr) {
		if (!merged)
			stack_count_drop(st, STACK_DROP_ARP_NOT_US);
		return;
	}
	if (!merged) {
		e = arp_slot(st);
		if (e) {
			arp_flush_queue(st, e, false); /* resolved slots hold none */
			arp_update(st, e, &m, now_ms);
		}
	}
	if (m.op == ARP_OP_REQUEST)
		(void)arp_send(st, ARP_OP_REPLY, m.sha, m.sha, m.spa);
}

static int arp_enqueue(struct stack *st, struct arp_entry *e, struct pkt *p)
{
	if (e->q_len >= st->cfg.arp_queue) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_ARP_QUEUE_FULL);
		return -ENOBUFS;
	}
	p->next = NULL;
	if (e->q_tail)
		e->q_tail->next = p;
	else
		e->q_head = p;
	e->q_tail = p;
	e->q_len++;
	return 0;
}

int arp_output(struct stack *st, struct pkt *p, uint32_t next_hop, uint64_t now_ms)
{
	struct arp_entry *e;

	if (netif_is_broadcast(&st->nif, next_hop))
		return eth_output(st, p, eth_broadcast, ETH_TYPE_IP4);
	e = arp_find(st, next_hop);
	if (e && e->state == ARP_RESOLVED && now_ms >= e->deadline) {
		e->state = ARP_FREE; /* expired: ask again */
		e = NULL;
	}
	if (e && e->state == ARP_RESOLVED)
		return eth_output(st, p, e->mac, ETH_TYPE_IP4);
	if (e)
		return arp_enqueue(st, e, p);
	e = arp_slot(st);
	if (!e) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_ARP_NO_ENTRY);
		return -ENOBUFS;
	}
	memset(e, 0, sizeof(*e));
	e->state = ARP_PENDING;
	e->addr = next_hop;
	e->requests = 1;
	e->deadline = now_ms + st->cfg.arp_retry_ms;
	(void)arp_enqueue(st, e, p);
	(void)arp_request(st, next_hop);
	return 0;
}

static void arp_timer(struct stack *st, struct arp_entry *e, uint64_t now_ms)
{
	if (e->state == ARP_RESOLVED) {
		e->state = ARP_FREE;
		return;
	}
	if (e->requests >= st->cfg.arp_retries) {
		log_detail("stack: arp: no answer from %u.%u.%u.%u, dropping %u packets",
			   e->addr >> 24, (e->addr >> 16) & 0xff, (e->addr >> 8) & 0xff,
			   e->addr & 0xff, e->q_len);
		arp_flush_queue(st, e, true);
		e->state = ARP_FREE;
		return;
	}
	e->requests++;
	e->deadline = now_ms + st->cfg.arp_retry_ms;
	(void)arp_request(st, e->addr);
}

uint64_t arp_poll(struct stack *st, uint64_t now_ms)
{
	uint64_t next = STACK_NEVER;

	for (unsigned i = 0; i < st->arp.size; i++) {
		struct arp_entry *e = &st->arp.tab[i];

		if (e->state == ARP_FREE)
			continue;
		if (now_ms >= e->deadline)
			arp_timer(st, e, now_ms);
		if (e->state != ARP_FREE && e->deadline < next)
			next = e->deadline;
	}
	return next;
}

void arp_walk(const struct stack *st, stack_arp_walk_fn fn, void *ud)
{
	for (unsigned i = 0; i < st->arp.size; i++) {
		const struct arp_entry *e = &st->arp.tab[i];
		struct stack_arp_info info;

		if (e->state == ARP_FREE)
			continue;
		memset(&info, 0, sizeof(info));
		info.addr = e->addr;
		memcpy(info.mac, e->mac, 6);
		info.resolved = e->state == ARP_RESOLVED;
		info.queued = e->q_len;
		info.expires_ms = e->deadline;
		fn(&info, ud);
	}
}
