/* tcp.h — TCP, RFC 9293 (private): the PCB and the functions shared by
 * tcp.c (PCBs, timers, user calls), tcp_in.c (segment arrival) and
 * tcp_out.c (segment building, the send path).
 *
 * What this TCP does, and what it leaves out:
 * - passive open with a backlog of embryonic connections, active open,
 *   simultaneous open; the MSS option (no window scaling, timestamps or
 *   SACK: the window is at most 65535 bytes, plenty for DNS);
 * - a send buffer holding every unacknowledged byte; retransmission goes
 *   back to SND.UNA (go-back-N from the buffer), paced by the congestion
 *   window: slow start, congestion avoidance, fast retransmit and NewReno
 *   recovery (RFC 5681, RFC 6582);
 * - RTO per RFC 6298: initial 1 s; minimum 200 ms rather than 1 s (as Linux
 *   does: the RFC's 1 s floor guards against spurious retransmissions on
 *   coarse clocks, ours is 1 ms, and a resolver should recover from loss
 *   faster than its own query timeout); doubled per expiry up to a cap;
 *   after tcp_max_retries the connection is reset and reported -ETIMEDOUT;
 *   an ACK of new data ends the back-off (RTO from SRTT/RTTVAR again, as
 *   lwIP does): it proves the path works, and without timestamps Karn's
 *   rule could otherwise keep a 10 s+ RTO through a whole lossy transfer;
 * - Karn's rule: retransmitted data is never timed;
 * - in-order delivery; out-of-order segments within the window are kept
 *   (up to tcp_ooo_max per connection) and spliced in when the hole fills,
 *   and each one triggers an immediate duplicate ACK, which carries SACK
 *   blocks (RFC 2018) when the peer allows them, so that a loss-hit peer
 *   resends every hole in one round trip instead of one per round trip;
 *   SACK blocks the peer sends us are ignored (allowed: they are advisory);
 * - delayed ACK (every second segment, or tcp_delack_ms);
 * - zero-window probing through the retransmission timer;
 * - RFC 5961 challenge ACKs for in-window RSTs and SYNs;
 * - no Nagle (DNS messages are written whole), urgent data ignored. */
#ifndef RW_STACK_TCP_H
#define RW_STACK_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "stack.h"

struct pkt;
struct ip4_info;

/* Sequence number comparisons modulo 2^32 (RFC 9293 3.4). */
#define TCP_SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define TCP_SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define TCP_SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define TCP_SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
/* lo <= x < hi */
#define TCP_SEQ_IN(x, lo, hi) (TCP_SEQ_GEQ(x, lo) && TCP_SEQ_LT(x, hi))

#define TCP_HLEN 20u
#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_URG 0x20u

#define TCP_DEFAULT_MSS 536u /* RFC 9293 3.7.1, when the peer sends none */
#define TCP_OPT_NOP 1u
#define TCP_OPT_MSS 2u
#define TCP_OPT_SACK_PERM 4u
#define TCP_OPT_SACK 5u
#define TCP_SACK_BLOCKS 3u /* fits beside nothing else in 40 option bytes */

/* Events gathered while a segment or timer is processed, delivered to the
 * user afterwards (tcp_deliver), when the PCB is consistent again. */
#define TCP_EV_CONNECTED 0x01u
#define TCP_EV_ACCEPT 0x02u
#define TCP_EV_EOF 0x04u
#define TCP_EV_CLOSED 0x08u

/* A parsed, checksum-verified segment (a checked view into the frame). */
struct tcp_seg {
	uint32_t src, dst;      /* IPv4 addresses */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss;           /* MSS option, 0 if absent */
	bool sack_perm;         /* SACK-permitted option */
	const uint8_t *data;
	uint32_t len;           /* payload bytes */
	bool broadcast;
};

/* An out-of-order segment, copied out of its frame. */
struct tcp_ooo {
	struct tcp_ooo *next;
	uint32_t seq;
	uint32_t len;
	bool fin;
	uint8_t data[];
};

struct stack_tcp {
	struct stack *st;
	struct stack_tcp *next;       /* in st->tcp.list */
	struct stack_tcp *parent;     /* listener of an embryonic connection */
	enum stack_tcp_state state;
	uint32_t laddr, raddr;
	uint16_t lport, rport;

	/* send sequence space (RFC 9293 3.3.1) */
	uint32_t iss;
	uint32_t snd_una, snd_nxt;
	uint32_t snd_max;             /* highest sequence sent + 1 */
	uint32_t snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_snd_wnd;
	uint16_t mss;                 /* effective send MSS */
	uint8_t *tx_buf;              /* unacknowledged + unsent data */
	uint32_t tx_len, tx_cap;
	uint32_t tx_seq;              /* sequence number of tx_buf[0] */
	bool fin_queued;              /* user is done sending */
	bool fin_sent;
	uint32_t fin_seq;

	/* receive sequence space */
	uint32_t irs, rcv_nxt;
	uint8_t *rx_buf;              /* in-order data not yet delivered */
	uint32_t rx_len, rx_cap;
	struct tcp_ooo *ooo;
	unsigned ooo_count;
	uint32_t ooo_last;            /* seq of the latest out-of-order arrival */
	bool sack_offer;              /* we put SACK-permitted on our SYN */
	bool sack_ok;                 /* both sides did: our ACKs carry SACK */
	bool ack_now;                 /* send an ACK at the end of input */
	unsigned delack_segs;

	/* timers: absolute ms, STACK_NEVER when off */
	uint64_t rtx_deadline;
	uint64_t delack_deadline;
	uint64_t tw_deadline;
	uint32_t rto;
	unsigned retries;

	/* RTT estimation (RFC 6298), scaled: srtt x8, rttvar x4 */
	uint32_t srtt8, rttvar4;
	bool rtt_timing;
	uint32_t rtt_seq;
	uint64_t rtt_start;

	/* congestion control (RFC 5681, NewReno RFC 6582) */
	uint32_t cwnd, ssthresh;
	unsigned dupacks;
	bool in_recovery;
	uint32_t recover;

	/* listener */
	unsigned backlog, pending;

	/* user side */
	struct stack_tcp_cbs cbs;
	void *ud;
	bool user;                    /* a user holds the handle */
	bool released;                /* the user gave it up: nobody reads */
	bool dead;                    /* freed at the next reap */
	unsigned events;
	int ev_err;
	size_t ev_acked;
};

/* tcp.c */
struct stack_tcp *tcp_pcb_new(struct stack *st);
struct stack_tcp *tcp_lookup(struct stack *st, const struct tcp_seg *seg);
void tcp_set_state(struct stack_tcp *pcb, enum stack_tcp_state state);
/* Connection over: records err for the user, state CLOSED, PCB dead. */
void tcp_finish(struct stack_tcp *pcb, int err);
void tcp_enter_time_wait(struct stack_tcp *pcb, uint64_t now_ms);
void tcp_deliver(struct stack_tcp *pcb, uint64_t now_ms);
uint32_t tcp_new_isn(struct stack *st);
void tcp_sync_start(struct stack_tcp *pcb, uint16_t peer_mss);
struct stack_tcp *tcp_passive_open(struct stack_tcp *lst, const struct tcp_seg *seg,
				   uint64_t now_ms);
uint32_t tcp_rcv_wnd(const struct stack_tcp *pcb);
void tcp_rtt_sample(struct stack_tcp *pcb, uint32_t rtt_ms);
void tcp_rto_reset(struct stack_tcp *pcb);
void tcp_reap(struct stack *st);
void tcp_free_all(struct stack *st);
uint64_t tcp_poll(struct stack *st, uint64_t now_ms);

/* tcp_in.c */
void tcp_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms);

/* tcp_out.c */
/* Sends whatever the windows allow (SYN, data, FIN), then a pending ACK. */
void tcp_output(struct stack_tcp *pcb, uint64_t now_ms);
/* Sends a bare ACK now. */
void tcp_send_ack(struct stack_tcp *pcb, uint64_t now_ms);
/* Resends one segment from SND.UNA (fast retransmit, partial ACK). */
void tcp_retransmit_first(struct stack_tcp *pcb, uint64_t now_ms);
/* RST for this connection (abort). */
void tcp_send_rst(struct stack_tcp *pcb, uint64_t now_ms);
/* RST answering a segment that matches no connection (RFC 9293 3.10.7.1). */
void tcp_reply_rst(struct stack *st, const struct tcp_seg *seg, uint64_t now_ms);
/* Retransmission timer expired: back off, go back to SND.UNA, resend. */
void tcp_rto_expired(struct stack_tcp *pcb, uint64_t now_ms);
void tcp_arm_rtx(struct stack_tcp *pcb, uint64_t now_ms);

#endif
