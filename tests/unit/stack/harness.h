/* harness.h — test bench for the stack's unit tests.
 *
 * A stack on a fake clock whose output function captures every frame, frame
 * builders for what a peer sends (with correct checksums unless a test
 * breaks them on purpose), parsers for what the stack sent, and a recorder
 * of TCP user callbacks.  Addresses: we are 198.18.0.2 (MAC 02:..:02), the
 * peer is 198.18.0.1 (MAC 02:..:01), on 198.18.0.0/24. */
#ifndef RW_TEST_STACK_HARNESS_H
#define RW_TEST_STACK_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack.h"

#define H_US 0xc6120002u   /* 198.18.0.2 */
#define H_PEER 0xc6120001u /* 198.18.0.1 */
#define H_OTHER 0xc6120003u
#define H_MAX_FRAMES 4096
#define H_FRAME_MAX 2048

extern const uint8_t h_us_mac[6];
extern const uint8_t h_peer_mac[6];
extern const uint8_t h_bcast_mac[6];

struct h_frame {
	uint8_t buf[H_FRAME_MAX];
	size_t len;
};

struct harness {
	struct stack *st;
	uint64_t now;
	struct h_frame *frames; /* captured output, FIFO */
	unsigned head, count;
	unsigned total_out;
	bool fail_output;       /* make the output function fail */
};

/* Creates the stack (cfg NULL: defaults for tests) and checks success. */
void h_init(struct harness *h, const struct stack_cfg *cfg);
void h_cfg(struct stack_cfg *cfg); /* the defaults h_init uses */
/* Frees the stack; fails the test if a packet buffer leaked. */
void h_fini(struct harness *h);

void h_input(struct harness *h, const uint8_t *frame, size_t len);
uint64_t h_poll(struct harness *h);
/* Moves the clock to t and polls. */
uint64_t h_advance_to(struct harness *h, uint64_t t);
/* Runs timers until now + ms, one deadline at a time. */
void h_run_for(struct harness *h, uint64_t ms);

/* Captured frames. */
unsigned h_pending(const struct harness *h);
const struct h_frame *h_pop(struct harness *h);
void h_clear(struct harness *h);
uint64_t h_drops(struct harness *h, enum stack_drop reason);
struct stack_stats h_stats(struct harness *h);

/* Teaches the stack the peer's MAC (ARP request from the peer) and
 * discards the reply. */
void h_learn_peer(struct harness *h);

/* ---- building frames from the peer ---- */
size_t h_build_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
size_t h_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t spa,
		   const uint8_t tha[6], uint32_t tpa);
/* Ethernet + IPv4 (DF, TTL 64) around payload; returns the frame length. */
size_t h_build_ip(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
		  const uint8_t *payload, size_t len);
size_t h_build_udp(uint8_t *buf, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		   const void *data, size_t len);
size_t h_build_icmp_echo(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
			 const void *data, size_t len);

struct h_tcp {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss;           /* 0: no option */
	bool sack_perm;         /* SACK-permitted option (on SYNs) */
	unsigned nsack;         /* parsed SACK blocks */
	uint32_t sack[4][2];
	const uint8_t *data;
	size_t len;
};

size_t h_build_tcp(uint8_t *buf, const struct h_tcp *t);
/* Peer (198.18.0.1:sport) to us:dport. */
void h_send_tcp(struct harness *h, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		uint8_t flags, const void *data, size_t len);

/* ---- parsing what the stack sent ---- */
struct h_ip {
	uint32_t src, dst;
	uint8_t proto, ttl;
	uint16_t id, frag;
	const uint8_t *payload;
	size_t len;
};

/* Checks Ethernet and IPv4 (checksum included) and fills ip. */
void h_parse_ip(const struct h_frame *f, struct h_ip *ip);
/* Pops the next frame, which must be TCP with a valid checksum. */
void h_pop_tcp(struct harness *h, struct h_tcp *t);
/* Pops until a TCP frame is found; false if none. */
bool h_try_pop_tcp(struct harness *h, struct h_tcp *t);

/* ---- TCP user recorder ---- */
struct h_user {
	struct harness *h;
	struct stack_tcp *conn;      /* last accepted/connected */
	unsigned accepts, connects, eofs, closes;
	int closed_err;
	size_t sent;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	bool echo;                   /* send back what arrives */
	bool close_on_eof;
};

void h_user_init(struct h_user *u, struct harness *h);
void h_user_fini(struct h_user *u);
extern const struct stack_tcp_cbs h_user_cbs;

#endif
