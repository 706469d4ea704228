/* harness.c — see harness.h. */
#include "harness.h"

#include "csum.h"
#include "pkt.h"
#include "stack_int.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

const uint8_t h_us_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
const uint8_t h_peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const uint8_t h_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int h_output(void *ud, const uint8_t *frame, size_t len)
{
	struct harness *h = ud;
	struct h_frame *f;

	if (h->fail_output)
		return -5;
	ck_assert_uint_le(len, H_FRAME_MAX);
	ck_assert_uint_lt(h->count, H_MAX_FRAMES);
	f = &h->frames[(h->head + h->count) % H_MAX_FRAMES];
	memcpy(f->buf, frame, len);
	f->len = len;
	h->count++;
	h->total_out++;
	return 0;
}

void h_cfg(struct stack_cfg *cfg)
{
	stack_cfg_default(cfg);
	memcpy(cfg->mac, h_us_mac, 6);
	cfg->addr = H_US;
	cfg->prefix_len = 24;
	cfg->tcp_delack_ms = 0;
	cfg->tcp_msl_ms = 1000;
}

void h_init(struct harness *h, const struct stack_cfg *cfg)
{
	struct stack_cfg def;
	int rc;

	memset(h, 0, sizeof(*h));
	h->frames = calloc(H_MAX_FRAMES, sizeof(*h->frames));
	ck_assert_ptr_nonnull(h->frames);
	if (!cfg) {
		h_cfg(&def);
		cfg = &def;
	}
	h->now = 1000000;
	rc = stack_new(cfg, h_output, h, &h->st);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(h->st);
}

void h_fini(struct harness *h)
{
	/* Every outbound buffer went back to the pool once the ARP queues,
	 * their only legitimate holders, are flushed... */
	arp_fini(h->st);
	ck_assert_uint_eq(pkt_pool_in_use(h->st->pool), 0);
	stack_free(h->st);
	free(h->frames);
	/* ...and ASan's leak checker covers the rest at exit (CK_NOFORK). */
}

void h_input(struct harness *h, const uint8_t *frame, size_t len)
{
	stack_input(h->st, frame, len, h->now);
}

uint64_t h_poll(struct harness *h)
{
	return stack_poll(h->st, h->now);
}

uint64_t h_advance_to(struct harness *h, uint64_t t)
{
	if (t > h->now)
		h->now = t;
	return h_poll(h);
}

void h_run_for(struct harness *h, uint64_t ms)
{
	uint64_t end = h->now + ms;
	uint64_t next = h_poll(h);

	for (int guard = 0; guard < 100000 && next <= end; guard++)
		next = h_advance_to(h, next);
	h->now = end;
	(void)h_poll(h);
}

unsigned h_pending(const struct harness *h)
{
	return h->count;
}

const struct h_frame *h_pop(struct harness *h)
{
	const struct h_frame *f;

	ck_assert_msg(h->count > 0, "expected a frame, none sent");
	f = &h->frames[h->head];
	h->head = (h->head + 1) % H_MAX_FRAMES;
	h->count--;
	return f;
}

void h_clear(struct harness *h)
{
	h->head = 0;
	h->count = 0;
}

uint64_t h_drops(struct harness *h, enum stack_drop reason)
{
	struct stack_stats s;

	stack_get_stats(h->st, &s);
	return s.drops[reason];
}

struct stack_stats h_stats(struct harness *h)
{
	struct stack_stats s;

	stack_get_stats(h->st, &s);
	return s;
}

void h_learn_peer(struct harness *h)
{
	uint8_t buf[128];
	size_t n = h_build_arp(buf, 1, h_peer_mac, H_PEER, (const uint8_t[6]){ 0 }, H_US);

	h_input(h, buf, n);
	ck_assert_uint_eq(h_pending(h), 1);
	h_clear(h);
}

size_t h_build_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	wire_put16(buf + 12, type);
	return 14;
}

size_t h_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t spa,
		   const uint8_t tha[6], uint32_t tpa)
{
	uint8_t *a = buf + h_build_eth(buf, op == 1 ? h_bcast_mac : h_us_mac, sha, 0x0806);

	wire_put16(a, 1);
	wire_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wire_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	wire_put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	wire_put32(a + 24, tpa);
	return 14 + 28;
}

size_t h_build_ip(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
		  const uint8_t *payload, size_t len)
{
	uint8_t *ip = buf + h_build_eth(buf, h_us_mac, h_peer_mac, 0x0800);

	ip[0] = 0x45;
	ip[1] = 0;
	wire_put16(ip + 2, (uint16_t)(20 + len));
	wire_put16(ip + 4, 0x1234);
	wire_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	wire_put16(ip + 10, 0);
	wire_put32(ip + 12, src);
	wire_put32(ip + 16, dst);
	wire_put16(ip + 10, csum(ip, 20));
	memmove(ip + 20, payload, len);
	return 14 + 20 + len;
}

size_t h_build_udp(uint8_t *buf, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		   const void *data, size_t len)
{
	uint8_t u[H_FRAME_MAX];
	uint16_t sum;

	wire_put16(u, sport);
	wire_put16(u + 2, dport);
	wire_put16(u + 4, (uint16_t)(8 + len));
	wire_put16(u + 6, 0);
	memcpy(u + 8, data, len);
	sum = csum_fold(csum_add(csum_pseudo4(src, dst, 17, (uint16_t)(8 + len)), u, 8 + len));
	wire_put16(u + 6, sum ? sum : 0xffff);
	return h_build_ip(buf, src, dst, 17, u, 8 + len);
}

size_t h_build_icmp_echo(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
			 const void *data, size_t len)
{
	uint8_t m[H_FRAME_MAX];

	m[0] = 8;
	m[1] = 0;
	wire_put16(m + 2, 0);
	wire_put16(m + 4, id);
	wire_put16(m + 6, seq);
	memcpy(m + 8, data, len);
	wire_put16(m + 2, csum(m, 8 + len));
	return h_build_ip(buf, src, dst, 1, m, 8 + len);
}

size_t h_build_tcp(uint8_t *buf, const struct h_tcp *t)
{
	uint8_t s[H_FRAME_MAX];
	size_t hlen = 20 + (t->mss ? 4 : 0) + (t->sack_perm ? 4 : 0);
	size_t o = 20;

	wire_put16(s, t->sport);
	wire_put16(s + 2, t->dport);
	wire_put32(s + 4, t->seq);
	wire_put32(s + 8, t->ack);
	s[12] = (uint8_t)((hlen / 4) << 4);
	s[13] = t->flags;
	wire_put16(s + 14, t->wnd);
	wire_put16(s + 16, 0);
	wire_put16(s + 18, 0);
	if (t->mss) {
		s[o] = 2;
		s[o + 1] = 4;
		wire_put16(s + o + 2, t->mss);
		o += 4;
	}
	if (t->sack_perm) {
		s[o] = 1;
		s[o + 1] = 1;
		s[o + 2] = 4;
		s[o + 3] = 2;
	}
	if (t->len)
		memcpy(s + hlen, t->data, t->len);
	wire_put16(s + 16, csum_fold(csum_add(csum_pseudo4(t->src, t->dst, 6,
							   (uint16_t)(hlen + t->len)),
					      s, hlen + t->len)));
	return h_build_ip(buf, t->src, t->dst, 6, s, hlen + t->len);
}

void h_send_tcp(struct harness *h, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		uint8_t flags, const void *data, size_t len)
{
	uint8_t buf[H_FRAME_MAX];
	struct h_tcp t = {
		.src = H_PEER, .dst = H_US, .sport = sport, .dport = dport,
		.seq = seq, .ack = ack, .flags = flags, .wnd = 65535,
		.mss = (flags & 0x02) ? 1460 : 0, .data = data, .len = len,
	};

	h_input(h, buf, h_build_tcp(buf, &t));
}

void h_parse_ip(const struct h_frame *f, struct h_ip *ip)
{
	const uint8_t *b = f->buf + 14;
	size_t tlen;

	ck_assert_uint_ge(f->len, 34);
	ck_assert_uint_eq(wire_get16(f->buf + 12), 0x0800);
	ck_assert_int_eq(memcmp(f->buf + 6, h_us_mac, 6), 0);
	ck_assert_uint_eq(b[0], 0x45);
	ck_assert_uint_eq(csum(b, 20), 0);
	tlen = wire_get16(b + 2);
	ck_assert_uint_le(tlen + 14, f->len);
	ip->src = wire_get32(b + 12);
	ip->dst = wire_get32(b + 16);
	ip->proto = b[9];
	ip->ttl = b[8];
	ip->id = wire_get16(b + 4);
	ip->frag = wire_get16(b + 6);
	ip->payload = b + 20;
	ip->len = tlen - 20;
}

static void h_parse_tcp(const struct h_frame *f, struct h_tcp *t)
{
	struct h_ip ip;
	const uint8_t *s;
	size_t hlen;

	h_parse_ip(f, &ip);
	ck_assert_uint_eq(ip.proto, 6);
	s = ip.payload;
	ck_assert_uint_eq(csum_fold(csum_add(csum_pseudo4(ip.src, ip.dst, 6, (uint16_t)ip.len),
					     s, ip.len)), 0);
	hlen = (size_t)(s[12] >> 4) * 4;
	memset(t, 0, sizeof(*t));
	t->src = ip.src;
	t->dst = ip.dst;
	t->sport = wire_get16(s);
	t->dport = wire_get16(s + 2);
	t->seq = wire_get32(s + 4);
	t->ack = wire_get32(s + 8);
	t->flags = s[13];
	t->wnd = wire_get16(s + 14);
	for (size_t i = 20; i < hlen;) {
		if (s[i] == 0)
			break;
		if (s[i] == 1) {
			i++;
			continue;
		}
		ck_assert_uint_ge(s[i + 1], 2);
		ck_assert_uint_le(i + s[i + 1], hlen);
		if (s[i] == 2 && s[i + 1] == 4)
			t->mss = wire_get16(s + i + 2);
		if (s[i] == 4 && s[i + 1] == 2)
			t->sack_perm = true;
		if (s[i] == 5) {
			t->nsack = (s[i + 1] - 2u) / 8;
			ck_assert_uint_le(t->nsack, 4);
			for (unsigned k = 0; k < t->nsack; k++) {
				t->sack[k][0] = wire_get32(s + i + 2 + 8 * k);
				t->sack[k][1] = wire_get32(s + i + 6 + 8 * k);
			}
		}
		i += s[i + 1];
	}
	t->data = s + hlen;
	t->len = ip.len - hlen;
}

void h_pop_tcp(struct harness *h, struct h_tcp *t)
{
	h_parse_tcp(h_pop(h), t);
}

bool h_try_pop_tcp(struct harness *h, struct h_tcp *t)
{
	while (h_pending(h)) {
		const struct h_frame *f = h_pop(h);

		if (f->len >= 34 && wire_get16(f->buf + 12) == 0x0800 && f->buf[14 + 9] == 6) {
			h_parse_tcp(f, t);
			return true;
		}
	}
	return false;
}

/* ---- TCP user recorder ---- */

static void u_accept(struct stack_tcp *lst, struct stack_tcp *conn, void *ud)
{
	struct h_user *u = ud;

	(void)lst;
	u->accepts++;
	u->conn = conn;
}

static void u_connected(struct stack_tcp *conn, void *ud)
{
	struct h_user *u = ud;

	u->connects++;
	u->conn = conn;
}

static void u_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	struct h_user *u = ud;

	if (len == 0) {
		u->eofs++;
		if (u->close_on_eof)
			stack_tcp_close(conn, u->h->now);
		return;
	}
	if (u->rx_len + len > u->rx_cap) {
		size_t cap = (u->rx_len + len) * 2;
		uint8_t *n = realloc(u->rx, cap);

		ck_assert_ptr_nonnull(n);
		u->rx = n;
		u->rx_cap = cap;
	}
	memcpy(u->rx + u->rx_len, data, len);
	u->rx_len += len;
	if (u->echo)
		ck_assert_int_eq(stack_tcp_send(conn, data, len, u->h->now), (ssize_t)len);
}

static void u_sent(struct stack_tcp *conn, size_t acked, void *ud)
{
	struct h_user *u = ud;

	(void)conn;
	u->sent += acked;
}

static void u_closed(struct stack_tcp *conn, int err, void *ud)
{
	struct h_user *u = ud;

	(void)conn;
	u->closes++;
	u->closed_err = err;
	if (u->conn == conn)
		u->conn = NULL;
}

const struct stack_tcp_cbs h_user_cbs = {
	.accept = u_accept, .connected = u_connected, .recv = u_recv,
	.sent = u_sent, .closed = u_closed,
};

void h_user_init(struct h_user *u, struct harness *h)
{
	memset(u, 0, sizeof(*u));
	u->h = h;
}

void h_user_fini(struct h_user *u)
{
	free(u->rx);
}
