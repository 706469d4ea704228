/* fuzz_frame.c — libFuzzer target: raw-mode Ethernet frames into the
 * userspace TCP/IP stack (src/stack/, include/stack.h).
 *
 * Why: in raw mode every frame on the TAP link reaches this code before
 * anything else looks at it; a crash is a resolver outage and a memory
 * bug is remote code execution.  Random bytes alone die at the first
 * checksum, so the harness helps the fuzzer past what it cannot guess.
 *
 * Setup per input (nothing is kept between inputs): a stack at
 * 198.18.0.2/24 (MAC 02:00:00:00:00:02, gateway 198.18.0.1) with a UDP
 * echo socket on port 53, a TCP listener on port 53 whose connections
 * echo data (and close or abort when the data starts with 'C' or 'A'),
 * and, depending on the first byte, an active TCP open and a UDP query
 * from fixed local ports to 198.18.0.1:53 — so ARP resolution, SYN_SENT
 * and both directions of every TCP state are reachable.  Randomness is a
 * fixed stream (fuzz_rnd.c), so ISNs and ports repeat from run to run.
 *
 * Input: u8 options, then records of
 *     u8 flags  bit 0: fix the IPv4 total length, header checksum, UDP
 *                      length and the ICMP/UDP/TCP checksum
 *               bit 1: TCP ack := what the stack sent last + its length
 *               bit 2: TCP seq := the ack in the stack's last segment
 *               bit 3: destination MAC and IPv4 address := ours
 *               bits 4-5: clock unit for dt: 1 ms, 10 ms, 1 s, 1 min
 *     u8 dt     the clock advances dt units before the frame
 *     u16 len, then the frame (len octets, or what is left)
 * After each frame stack_poll() runs; after the last, the clock runs on
 * from deadline to deadline (bounded) so retransmissions, TIME_WAIT and
 * ARP give-up happen.
 *
 * Invariants: every frame the stack sends is at most 14 + MTU octets,
 * ARP frames are complete, IPv4 frames are from our address with a valid
 * header checksum, a total length that fits the frame, and a valid
 * ICMP/UDP/TCP checksum; stack_poll() never returns a deadline that is
 * already due; the TCP table stays within tcp_max_conns; no module logs
 * an error (stack_free logs leaked packet buffers, which we catch). */
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "log.h"
#include "stack.h"

#define US 0xc6120002u   /* 198.18.0.2 */
#define PEER 0xc6120001u /* 198.18.0.1 */
#define T0_MS 1000000ull
#define MAX_DRAIN 64

static const uint8_t us_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

struct run {
	struct stack *st;
	struct stack_cfg cfg;
	uint64_t now;
	unsigned frames_out;
	bool fail_output;
	/* the last TCP segment the stack sent */
	bool have_tcp;
	uint32_t out_seq_end, out_ack;
	struct stack_tcp *active;
	unsigned conns_open;
};

static struct run R;

static void on_error_log(const char *line)
{
	FUZZ_CHECK(0, "the stack logged an error: %s", line);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_log_set_hook(on_error_log);
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071, written again here so the oracle does not share the stack's code. */
FUZZ_ORACLE static uint32_t sum16(uint32_t s, const uint8_t *p, size_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		s += get16(p);
	if (len)
		s += (uint32_t)p[0] << 8;
	return s;
}

FUZZ_ORACLE static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

FUZZ_ORACLE static uint32_t pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	return sum16(sum16(0, ip + 12, 8), (const uint8_t[]){ 0, proto }, 2) + (uint32_t)l4len;
}

/* ---- what the stack sends ---- */

FUZZ_ORACLE static void check_output(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *l4;
	size_t hlen, tlen, l4len;

	FUZZ_CHECK(len >= 14 && len <= 14u + R.cfg.mtu, "frame of %zu octets", len);
	if (get16(f + 12) == 0x0806) {
		FUZZ_CHECK(len >= 14 + 28, "short ARP frame");
		log_detail("out: ARP op %u", get16(f + 20));
		return;
	}
	FUZZ_CHECK(get16(f + 12) == 0x0800, "EtherType %04x", get16(f + 12));
	FUZZ_CHECK(len >= 14 + 20 && (ip[0] >> 4) == 4, "not IPv4");
	hlen = (size_t)(ip[0] & 15) * 4;
	tlen = get16(ip + 2);
	FUZZ_CHECK(hlen >= 20 && tlen >= hlen && tlen <= len - 14, "IPv4 lengths %zu/%zu/%zu",
		   hlen, tlen, len - 14);
	FUZZ_CHECK(fold(sum16(0, ip, hlen)) == 0, "bad IPv4 header checksum");
	FUZZ_CHECK(get32(ip + 12) == R.cfg.addr, "source %08x is not ours", get32(ip + 12));
	l4 = ip + hlen;
	l4len = tlen - hlen;
	switch (ip[9]) {
	case 1:
		FUZZ_CHECK(l4len >= 8, "short ICMP message");
		FUZZ_CHECK(fold(sum16(0, l4, l4len)) == 0, "bad ICMP checksum");
		break;
	case 17:
		FUZZ_CHECK(l4len >= 8 && get16(l4 + 4) == l4len, "UDP length");
		FUZZ_CHECK(get16(l4 + 6) == 0 || fold(sum16(pseudo(ip, 17, l4len), l4, l4len)) == 0,
			   "bad UDP checksum");
		break;
	case 6: {
		size_t doff;
		uint32_t seglen;

		FUZZ_CHECK(l4len >= 20, "short TCP segment");
		doff = (size_t)(l4[12] >> 4) * 4;
		FUZZ_CHECK(doff >= 20 && doff <= l4len, "TCP data offset %zu", doff);
		FUZZ_CHECK(fold(sum16(pseudo(ip, 6, l4len), l4, l4len)) == 0, "bad TCP checksum");
		seglen = (uint32_t)(l4len - doff) + ((l4[13] & 0x02) != 0) + ((l4[13] & 0x01) != 0);
		R.have_tcp = true;
		R.out_seq_end = get32(l4 + 4) + seglen;
		R.out_ack = get32(l4 + 8);
		log_detail("out: TCP %u->%u flags %02x seq %u ack %u len %zu", get16(l4),
			   get16(l4 + 2), l4[13], get32(l4 + 4), get32(l4 + 8), l4len - doff);
		return;
	}
	default:
		FUZZ_CHECK(0, "IP protocol %u", ip[9]);
	}
	log_detail("out: IPv4 proto %u, %zu octets", ip[9], l4len);
}

static int output(void *ud, const uint8_t *frame, size_t len)
{
	(void)ud;
	check_output(frame, len);
	R.frames_out++;
	if (R.fail_output && R.frames_out % 7 == 0)
		return -ENOBUFS;
	return 0;
}

/* ---- the user side ---- */

static void udp_echo(struct stack_udp *sock, const uint8_t *data, size_t len, uint32_t src,
		     uint16_t sport, void *ud)
{
	(void)ud;
	stack_udp_sendto(sock, data, len, src, sport, R.now);
}

static void udp_client(struct stack_udp *sock, const uint8_t *data, size_t len, uint32_t src,
		       uint16_t sport, void *ud)
{
	(void)sock, (void)data, (void)len, (void)src, (void)sport, (void)ud;
}

static void tcp_accept(struct stack_tcp *l, struct stack_tcp *conn, void *ud)
{
	(void)l, (void)conn, (void)ud;
	R.conns_open++;
}

static void tcp_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	if (len == 0) {
		stack_tcp_shutdown(conn, R.now);
		return;
	}
	if (data[0] == 'C' || data[0] == 'A') {
		if (conn == R.active)
			R.active = NULL;
		if (data[0] == 'C')
			stack_tcp_close(conn, R.now);
		else
			stack_tcp_abort(conn, R.now);
		return;
	}
	FUZZ_CHECK(stack_tcp_send(conn, data, len, R.now) >= 0 ||
		   stack_tcp_get_state(conn) != STACK_TCP_ESTABLISHED,
		   "send failed on an established connection");
}

static void tcp_connected(struct stack_tcp *conn, void *ud)
{
	(void)ud;
	stack_tcp_send(conn, "\0\x1c", 2, R.now);
}

static void tcp_closed(struct stack_tcp *conn, int err, void *ud)
{
	(void)err, (void)ud;
	if (conn == R.active)
		R.active = NULL;
}

static const struct stack_tcp_cbs cbs = {
	.accept = tcp_accept,
	.connected = tcp_connected,
	.recv = tcp_recv,
	.closed = tcp_closed,
};

/* ---- helping frames past what a fuzzer cannot guess ---- */

FUZZ_ORACLE static void fix_frame(uint8_t *f, size_t len, uint8_t flags)
{
	uint8_t *ip = f + 14, *l4;
	size_t hlen, l4len;

	if (len < 14)
		return;
	if (flags & 8)
		memcpy(f, us_mac, 6);
	if (get16(f + 12) != 0x0800 || len < 14 + 20 || (ip[0] >> 4) != 4)
		return;
	hlen = (size_t)(ip[0] & 15) * 4;
	if (hlen < 20 || hlen > len - 14)
		return;
	if (flags & 8)
		put32(ip + 16, R.cfg.addr);
	l4 = ip + hlen;
	l4len = (flags & 1) ? len - 14 - hlen : (size_t)(get16(ip + 2) > hlen &&
							   get16(ip + 2) <= len - 14
							   ? get16(ip + 2) - hlen : 0);
	if (ip[9] == 6 && l4len >= 20 && R.have_tcp) {
		if (flags & 2)
			put32(l4 + 8, R.out_seq_end);
		if (flags & 4)
			put32(l4 + 4, R.out_ack);
	}
	if (!(flags & 1))
		return;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 10, 0);
	put16(ip + 10, fold(sum16(0, ip, hlen)));
	switch (ip[9]) {
	case 1:
		if (l4len >= 4) {
			put16(l4 + 2, 0);
			put16(l4 + 2, fold(sum16(0, l4, l4len)));
		}
		break;
	case 17:
		if (l4len >= 8) {
			put16(l4 + 4, (uint16_t)l4len);
			put16(l4 + 6, 0);
			put16(l4 + 6, fold(sum16(pseudo(ip, 17, l4len), l4, l4len)));
		}
		break;
	case 6:
		if (l4len >= 20) {
			put16(l4 + 16, 0);
			put16(l4 + 16, fold(sum16(pseudo(ip, 6, l4len), l4, l4len)));
		}
		break;
	}
}

static void poll_now(void)
{
	uint64_t next = stack_poll(R.st, R.now);

	FUZZ_CHECK(next > R.now, "stack_poll(%llu) returned a due deadline %llu",
		   (unsigned long long)R.now, (unsigned long long)next);
}

FUZZ_ORACLE static void walk_tcp(const struct stack_tcp_info *info, void *ud)
{
	unsigned *n = ud;

	(*n)++;
	FUZZ_CHECK(info->send_queued <= R.cfg.tcp_sndbuf + 2, "send queue %u over %u",
		   info->send_queued, R.cfg.tcp_sndbuf);
}

FUZZ_ORACLE static void walk_arp(const struct stack_arp_info *info, void *ud)
{
	unsigned *n = ud;

	(*n)++;
	FUZZ_CHECK(info->queued <= R.cfg.arp_queue, "ARP queue %u over %u", info->queued,
		   R.cfg.arp_queue);
}

static void check_tables(void)
{
	unsigned tcp = 0, arp = 0;

	stack_tcp_walk(R.st, walk_tcp, &tcp);
	stack_arp_walk(R.st, walk_arp, &arp);
	/* +1: the listener is in the table too */
	FUZZ_CHECK(tcp <= R.cfg.tcp_max_conns + 1, "%u TCP entries, limit %u", tcp,
		   R.cfg.tcp_max_conns);
	FUZZ_CHECK(arp <= R.cfg.arp_entries, "%u ARP entries, limit %u", arp,
		   R.cfg.arp_entries);
}

static const uint64_t units[4] = { 1, 10, 1000, 60000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { .p = data, .len = size };
	struct stack_udp *u53 = NULL, *client = NULL;
	struct stack_tcp *listener = NULL;
	uint8_t opts = 0, frame[65536];

	fuzz_rnd_seed(0);
	fuzz_log_reset();
	memset(&R, 0, sizeof(R));
	R.now = T0_MS;
	fuzz_u8(&in, &opts);
	stack_cfg_default(&R.cfg);
	memcpy(R.cfg.mac, us_mac, 6);
	R.cfg.addr = US;
	R.cfg.prefix_len = 24;
	R.cfg.gateway = PEER;
	R.cfg.pkt_count = 64;
	R.cfg.arp_entries = 8;
	R.cfg.arp_queue = 4;
	R.cfg.udp_max_socks = 8;
	R.cfg.tcp_max_conns = 8;
	R.cfg.tcp_max_retries = 4;
	if (opts & 2)
		R.cfg.tcp_delack_ms = 0;
	if (opts & 4) {
		R.cfg.tcp_sndbuf = 512;
		R.cfg.tcp_rcvbuf = 1024;
		R.cfg.tcp_ooo_max = 2;
		R.cfg.pkt_count = 12;
		R.cfg.mtu = 576;
	}
	R.fail_output = opts & 1;
	FUZZ_CHECK(stack_new(&R.cfg, output, NULL, &R.st) == 0, "stack_new");
	stack_start(R.st, R.now);
	FUZZ_CHECK(stack_udp_open(R.st, 53, udp_echo, NULL, &u53) == 0, "udp 53");
	FUZZ_CHECK(stack_tcp_listen(R.st, 53, 2, &cbs, NULL, &listener) == 0, "tcp 53");
	if (opts & 8)
		stack_tcp_connect(R.st, PEER, 53, 40000, &cbs, NULL, &R.active, R.now);
	if (opts & 16 && stack_udp_open(R.st, 5353, udp_client, NULL, &client) == 0)
		stack_udp_sendto(client, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
			     "\x00\x02\x00\x01", 17, PEER, 53, R.now);

	while (fuzz_left(&in) >= 4) {
		uint8_t flags, dt;
		uint16_t len;
		const uint8_t *p;
		size_t n;

		fuzz_u8(&in, &flags);
		fuzz_u8(&in, &dt);
		fuzz_u16(&in, &len);
		n = fuzz_take(&in, len, &p);
		memcpy(frame, p, n);
		R.now += dt * units[(flags >> 4) & 3];
		fix_frame(frame, n, flags);
		log_detail("in: %zu octets at %llu", n, (unsigned long long)(R.now - T0_MS));
		stack_input(R.st, frame, n, R.now);
		poll_now();
		check_tables();
	}

	/* Let every timer run: retransmissions, TIME_WAIT, ARP give-up. */
	for (int i = 0; i < MAX_DRAIN; i++) {
		uint64_t next = stack_poll(R.st, R.now);

		if (next == STACK_NEVER)
			break;
		FUZZ_CHECK(next > R.now, "due deadline while draining");
		R.now = next;
	}
	check_tables();
	if (client && (opts & 32))
		stack_udp_close(client);
	if (opts & 64)
		stack_tcp_close(listener, R.now);
	stack_free(R.st);
	FUZZ_CHECK(fuzz_log_errors() == 0, "errors logged");
	return 0;
}
