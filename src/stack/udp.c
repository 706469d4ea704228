/* udp.c — see udp.h.  The socket API in stack.h is implemented here too:
 * a UDP socket is small enough that splitting it would only add a header. */
#include "udp.h"

#include "csum.h"
#include "icmp4.h"
#include "ip4.h"
#include "log.h"
#include "rnd.h"
#include "stack_int.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define UDP_EPHEMERAL_LO 1024u
#define UDP_PICK_TRIES 64

static struct stack_udp *udp_lookup(const struct stack *st, uint16_t port)
{
	for (struct stack_udp *s = st->udp_list; s; s = s->next)
		if (s->port == port)
			return s;
	return NULL;
}

void udp_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms)
{
	const uint8_t *h = p->data;
	struct stack_udp *s;
	uint16_t ulen, sum;

	st->nif.stats.udp_in++;
	if (p->len < UDP_HLEN) {
		stack_count_drop(st, STACK_DROP_UDP_SHORT);
		return;
	}
	ulen = wire_get16(h + 4);
	if (ulen < UDP_HLEN || ulen > p->len) {
		stack_count_drop(st, STACK_DROP_UDP_LEN);
		return;
	}
	sum = wire_get16(h + 6);
	if (sum != 0 &&
	    csum_fold(csum_add(csum_pseudo4(ip->src, ip->dst, IP4_PROTO_UDP, ulen), h, ulen)) != 0) {
		stack_count_drop(st, STACK_DROP_UDP_CSUM);
		return;
	}
	s = udp_lookup(st, wire_get16(h + 2));
	if (!s) {
		stack_count_drop(st, STACK_DROP_UDP_NO_PORT);
		icmp4_send_unreach(st, ICMP4_UNREACH_PORT, ip, now_ms);
		return;
	}
	if (s->recv)
		s->recv(s, h + UDP_HLEN, ulen - UDP_HLEN, ip->src, wire_get16(h), s->ud);
}

void udp_free_all(struct stack *st)
{
	while (st->udp_list) {
		struct stack_udp *s = st->udp_list;

		st->udp_list = s->next;
		free(s);
	}
	st->udp_count = 0;
}

uint16_t udp_pick_port(struct stack *st)
{
	for (int i = 0; i < UDP_PICK_TRIES; i++) {
		uint16_t port = (uint16_t)(UDP_EPHEMERAL_LO +
					   rnd_uniform(65536u - UDP_EPHEMERAL_LO));

		if (!udp_lookup(st, port))
			return port;
	}
	return 0;
}

int stack_udp_open(struct stack *st, uint16_t port, stack_udp_recv_fn recv, void *ud,
		   struct stack_udp **out)
{
	struct stack_udp *s;

	*out = NULL;
	if (st->udp_count >= st->cfg.udp_max_socks)
		return -ENOBUFS;
	if (port == 0) {
		port = udp_pick_port(st);
		if (port == 0)
			return -EADDRINUSE;
	} else if (udp_lookup(st, port)) {
		return -EADDRINUSE;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->st = st;
	s->port = port;
	s->recv = recv;
	s->ud = ud;
	s->next = st->udp_list;
	st->udp_list = s;
	st->udp_count++;
	*out = s;
	return 0;
}

uint16_t stack_udp_port(const struct stack_udp *sock)
{
	return sock->port;
}

int stack_udp_sendto(struct stack_udp *sock, const void *data, size_t len,
		     uint32_t dst_addr, uint16_t dst_port, uint64_t now_ms)
{
	struct stack *st = sock->st;
	uint32_t next_hop;
	struct pkt *p;
	uint8_t *h;
	uint16_t sum;
	int rc;

	if (len + UDP_HLEN > ip4_max_payload(st))
		return -EMSGSIZE;
	if (dst_port == 0 || dst_addr == 0)
		return -EINVAL;
	rc = ip4_route(st, dst_addr, &next_hop);
	if (rc < 0)
		return rc;
	p = stack_pkt_alloc(st);
	if (!p)
		return -ENOBUFS;
	h = pkt_put(p, UDP_HLEN + len);
	if (!h) {
		pkt_free(st->pool, p);
		return -EMSGSIZE;
	}
	memcpy(h + UDP_HLEN, data, len);
	wire_put16(h, sock->port);
	wire_put16(h + 2, dst_port);
	wire_put16(h + 4, (uint16_t)(UDP_HLEN + len));
	wire_put16(h + 6, 0);
	sum = csum_fold(csum_add(csum_pseudo4(st->nif.addr, dst_addr, IP4_PROTO_UDP,
					      (uint16_t)(UDP_HLEN + len)), h, UDP_HLEN + len));
	wire_put16(h + 6, sum ? sum : 0xffff); /* 0 would mean "no checksum" */
	st->nif.stats.udp_out++;
	return ip4_output(st, p, dst_addr, IP4_PROTO_UDP, now_ms);
}

void stack_udp_close(struct stack_udp *sock)
{
	struct stack *st;
	struct stack_udp **pp;

	if (!sock)
		return;
	st = sock->st;
	for (pp = &st->udp_list; *pp; pp = &(*pp)->next) {
		if (*pp == sock) {
			*pp = sock->next;
			st->udp_count--;
			break;
		}
	}
	free(sock);
}
