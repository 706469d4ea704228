/* tcp_out.c — building and sending TCP segments.
 *
 * tcp_output() is the one place that decides what to send: the SYN in the
 * opening states; otherwise as much of the send buffer from SND.NXT as the
 * smaller of the peer's window and the congestion window allows, in MSS
 * pieces, the FIN once the buffer is all sent; finally a bare ACK if one
 * is still owed.  Every segment carries the current ACK and window, so
 * sending anything settles a pending (delayed) ACK. */
#include "tcp.h"

#include "csum.h"
#include "ip4.h"
#include "log.h"
#include "stack_int.h"
#include "wire.h"

#include <errno.h>
#include <string.h>

/* Everything needed to put one segment on the wire. */
struct tcp_xmit {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;    /* options, padded to a multiple of 4 */
	size_t optlen;
	const uint8_t *data;
	uint32_t len;
};

static int tcp_xmit_raw(struct stack *st, const struct tcp_xmit *x, uint64_t now_ms)
{
	size_t hlen = TCP_HLEN + x->optlen;
	struct pkt *p = stack_pkt_alloc(st);
	uint8_t *h;

	if (!p)
		return -ENOBUFS;
	if (x->len) {
		uint8_t *d = pkt_put(p, x->len);

		if (!d) {
			pkt_free(st->pool, p);
			stack_count_drop(st, STACK_DROP_NOMEM);
			return -EMSGSIZE;
		}
		memcpy(d, x->data, x->len);
	}
	h = pkt_push(p, hlen);
	if (!h) {
		pkt_free(st->pool, p);
		stack_count_drop(st, STACK_DROP_NOMEM);
		return -ENOBUFS;
	}
	wire_put16(h, x->lport);
	wire_put16(h + 2, x->rport);
	wire_put32(h + 4, x->seq);
	wire_put32(h + 8, x->ack);
	h[12] = (uint8_t)((hlen / 4) << 4);
	h[13] = x->flags;
	wire_put16(h + 14, x->wnd);
	wire_put16(h + 16, 0);
	wire_put16(h + 18, 0);
	if (x->optlen)
		memcpy(h + TCP_HLEN, x->opts, x->optlen);
	wire_put16(h + 16, csum_fold(csum_add(csum_pseudo4(x->laddr, x->raddr, IP4_PROTO_TCP,
							   (uint16_t)p->len),
					      p->data, p->len)));
	st->nif.stats.tcp_out++;
	if (x->flags & TCP_RST)
		st->nif.stats.tcp_resets_out++;
	log_trace("stack: tcp out %u->%u seq %u ack %u flags 0x%02x len %u", x->lport,
		  x->rport, x->seq, x->ack, x->flags, x->len);
	return ip4_output(st, p, x->raddr, IP4_PROTO_TCP, now_ms);
}

/* Our SYN options: MSS, and SACK-permitted when we offer it (active open)
 * or the peer did (passive open). */
static size_t tcp_syn_opts(const struct stack_tcp *pcb, uint8_t *o)
{
	size_t n = 0;

	o[n++] = TCP_OPT_MSS;
	o[n++] = 4;
	wire_put16(o + n, (uint16_t)(pcb->st->nif.mtu - IP4_HLEN - TCP_HLEN));
	n += 2;
	if (pcb->sack_offer || pcb->sack_ok) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_SACK_PERM;
		o[n++] = 2;
	}
	return n;
}

/* SACK blocks (RFC 2018) for what the out-of-order queue holds: adjacent
 * segments merged, the block with the latest arrival first. */
static size_t tcp_sack_opts(const struct stack_tcp *pcb, uint8_t *o)
{
	uint32_t left[TCP_SACK_BLOCKS + 1], right[TCP_SACK_BLOCKS + 1];
	unsigned n = 0, first = 0;
	size_t len = 0;

	for (const struct tcp_ooo *q = pcb->ooo; q; q = q->next) {
		if (q->len == 0)
			continue;
		if (n && TCP_SEQ_LEQ(q->seq, right[n - 1])) {
			if (TCP_SEQ_GT(q->seq + q->len, right[n - 1]))
				right[n - 1] = q->seq + q->len;
			continue;
		}
		if (n == TCP_SACK_BLOCKS + 1)
			break;
		left[n] = q->seq;
		right[n] = q->seq + q->len;
		n++;
	}
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (TCP_SEQ_IN(pcb->ooo_last, left[i], right[i]))
			first = i;
	if (n > TCP_SACK_BLOCKS)
		n = TCP_SACK_BLOCKS;
	if (first >= n)
		first = 0;
	o[len++] = TCP_OPT_NOP;
	o[len++] = TCP_OPT_NOP;
	o[len++] = TCP_OPT_SACK;
	o[len++] = (uint8_t)(2 + 8 * n);
	for (unsigned k = 0, i = first; k < n; k++, i = (i + 1) % n) {
		wire_put32(o + len, left[i]);
		wire_put32(o + len + 4, right[i]);
		len += 8;
	}
	return len;
}

/* One segment of pcb; piggybacks the ACK, so a pending one is settled. */
static int tcp_xmit(struct stack_tcp *pcb, uint32_t seq, uint8_t flags, const uint8_t *data,
		    uint32_t len, uint64_t now_ms)
{
	uint8_t opts[40];
	struct tcp_xmit x = {
		.laddr = pcb->laddr, .raddr = pcb->raddr,
		.lport = pcb->lport, .rport = pcb->rport,
		.seq = seq, .flags = flags, .data = data, .len = len, .opts = opts,
	};

	if (flags & TCP_SYN)
		x.optlen = tcp_syn_opts(pcb, opts);
	else if ((flags & TCP_ACK) && pcb->sack_ok && pcb->ooo)
		x.optlen = tcp_sack_opts(pcb, opts);
	if (flags & TCP_ACK) {
		x.ack = pcb->rcv_nxt;
		pcb->ack_now = false;
		pcb->delack_segs = 0;
		pcb->delack_deadline = STACK_NEVER;
	}
	if (!(flags & TCP_RST))
		x.wnd = (uint16_t)tcp_rcv_wnd(pcb);
	return tcp_xmit_raw(pcb->st, &x, now_ms);
}

/* Payload room in one segment: the MSS less the options it will carry
 * (RFC 9293 3.7.1: the MSS counts no options). */
static uint32_t tcp_seg_room(const struct stack_tcp *pcb)
{
	if (pcb->sack_ok && pcb->ooo)
		return pcb->mss - (4u + 8u * TCP_SACK_BLOCKS);
	return pcb->mss;
}

void tcp_arm_rtx(struct stack_tcp *pcb, uint64_t now_ms)
{
	if (pcb->rtx_deadline == STACK_NEVER)
		pcb->rtx_deadline = now_ms + pcb->rto;
}

static void tcp_note_sent(struct stack_tcp *pcb, uint32_t end, uint64_t now_ms)
{
	/* Time one new segment per round trip; never a retransmission. */
	if (TCP_SEQ_GEQ(pcb->snd_nxt, pcb->snd_max) && !pcb->rtt_timing) {
		pcb->rtt_timing = true;
		pcb->rtt_seq = end;
		pcb->rtt_start = now_ms;
	}
	pcb->snd_nxt = end;
	if (TCP_SEQ_GT(end, pcb->snd_max))
		pcb->snd_max = end;
	tcp_arm_rtx(pcb, now_ms);
}

static void tcp_output_syn(struct stack_tcp *pcb, uint64_t now_ms)
{
	uint8_t flags = pcb->state == STACK_TCP_SYN_RECEIVED ? TCP_SYN | TCP_ACK : TCP_SYN;

	if (pcb->snd_nxt == pcb->iss) {
		/* Sent or not, the timer owns the SYN from here on. */
		(void)tcp_xmit(pcb, pcb->iss, flags, NULL, 0, now_ms);
		tcp_note_sent(pcb, pcb->iss + 1, now_ms);
	} else if (pcb->ack_now && pcb->state == STACK_TCP_SYN_RECEIVED) {
		/* The peer repeated its SYN: our SYN-ACK was lost. */
		(void)tcp_xmit(pcb, pcb->iss, flags, NULL, 0, now_ms);
	}
	pcb->ack_now = false;
}

static bool tcp_can_send_data(const struct stack_tcp *pcb)
{
	switch (pcb->state) {
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_CLOSE_WAIT:
	case STACK_TCP_FIN_WAIT_1:
	case STACK_TCP_CLOSING:
	case STACK_TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* Room left in the send window: min(peer window, cwnd) minus what is in
 * flight. */
static uint32_t tcp_usable_window(const struct stack_tcp *pcb)
{
	uint32_t wnd = pcb->snd_wnd < pcb->cwnd ? pcb->snd_wnd : pcb->cwnd;
	uint32_t flight = pcb->snd_nxt - pcb->snd_una;

	return wnd > flight ? wnd - flight : 0;
}

/* Sends the next piece of data (and/or the FIN) at SND.NXT.  Returns false
 * when nothing more may go now.  force_one sends one byte (or the FIN)
 * past a zero window: the window probe. */
static bool tcp_output_one(struct stack_tcp *pcb, bool force_one, uint64_t now_ms)
{
	uint32_t off = pcb->snd_nxt - pcb->tx_seq;
	uint32_t remaining, usable, room, n;
	uint8_t flags = TCP_ACK;

	if (off > pcb->tx_len)
		return false; /* the FIN is already out */
	remaining = pcb->tx_len - off;
	if (remaining == 0) {
		if (!pcb->fin_queued || (pcb->fin_sent && pcb->snd_nxt != pcb->fin_seq))
			return false;
		pcb->fin_sent = true;
		pcb->fin_seq = pcb->snd_nxt;
		(void)tcp_xmit(pcb, pcb->snd_nxt, TCP_ACK | TCP_FIN, NULL, 0, now_ms);
		tcp_note_sent(pcb, pcb->snd_nxt + 1, now_ms);
		return false;
	}
	usable = force_one ? 1 : tcp_usable_window(pcb);
	room = tcp_seg_room(pcb);
	n = remaining < room ? remaining : room;
	if (n > usable)
		n = usable;
	if (n == 0)
		return false;
	/* Sender-side silly window avoidance (RFC 9293 3.8.6.2.1): a runt is
	 * sent only when it ends the data or nothing is in flight. */
	if (n < room && n < remaining && pcb->snd_nxt != pcb->snd_una && !force_one)
		return false;
	if (n == remaining) {
		flags |= TCP_PSH;
		if (pcb->fin_queued) {
			flags |= TCP_FIN;
			pcb->fin_sent = true;
			pcb->fin_seq = pcb->snd_nxt + n;
		}
	}
	(void)tcp_xmit(pcb, pcb->snd_nxt, flags, pcb->tx_buf + off, n, now_ms);
	tcp_note_sent(pcb, pcb->snd_nxt + n + ((flags & TCP_FIN) ? 1 : 0), now_ms);
	return !(flags & TCP_FIN);
}

void tcp_output(struct stack_tcp *pcb, uint64_t now_ms)
{
	if (pcb->dead)
		return;
	if (pcb->state == STACK_TCP_SYN_SENT || pcb->state == STACK_TCP_SYN_RECEIVED) {
		tcp_output_syn(pcb, now_ms);
		return;
	}
	if (tcp_can_send_data(pcb)) {
		unsigned guard = 0;

		/* Bounded: each round sends a segment or stops. */
		while (guard++ < 1024 && tcp_output_one(pcb, false, now_ms))
			;
		/* Zero window and nothing in flight: the timer will probe. */
		if (pcb->snd_wnd == 0 && pcb->tx_len > 0)
			tcp_arm_rtx(pcb, now_ms);
	}
	if (pcb->ack_now && pcb->state != STACK_TCP_LISTEN && pcb->state != STACK_TCP_CLOSED)
		tcp_send_ack(pcb, now_ms);
}

void tcp_send_ack(struct stack_tcp *pcb, uint64_t now_ms)
{
	(void)tcp_xmit(pcb, pcb->snd_nxt, TCP_ACK, NULL, 0, now_ms);
}

void tcp_retransmit_first(struct stack_tcp *pcb, uint64_t now_ms)
{
	uint32_t off = pcb->snd_una - pcb->tx_seq;
	uint32_t n;
	uint8_t flags = TCP_ACK;

	pcb->st->nif.stats.tcp_retransmits++;
	pcb->rtt_timing = false; /* Karn */
	if (off > pcb->tx_len)
		return;
	n = pcb->tx_len - off;
	if (n > tcp_seg_room(pcb))
		n = tcp_seg_room(pcb);
	if (n == 0 && !(pcb->fin_sent && pcb->snd_una == pcb->fin_seq))
		return;
	if (pcb->fin_sent && pcb->snd_una + n == pcb->fin_seq)
		flags |= TCP_FIN;
	(void)tcp_xmit(pcb, pcb->snd_una, flags, pcb->tx_buf + off, n, now_ms);
}

void tcp_send_rst(struct stack_tcp *pcb, uint64_t now_ms)
{
	switch (pcb->state) {
	case STACK_TCP_CLOSED:
	case STACK_TCP_LISTEN:
	case STACK_TCP_SYN_SENT:
	case STACK_TCP_TIME_WAIT:
		return; /* nothing synchronized to reset */
	default:
		(void)tcp_xmit(pcb, pcb->snd_nxt, TCP_RST | TCP_ACK, NULL, 0, now_ms);
	}
}

void tcp_reply_rst(struct stack *st, const struct tcp_seg *seg, uint64_t now_ms)
{
	struct tcp_xmit x = {
		.laddr = seg->dst, .raddr = seg->src,
		.lport = seg->dport, .rport = seg->sport,
	};

	if ((seg->flags & TCP_RST) || seg->broadcast)
		return;
	if (seg->flags & TCP_ACK) {
		x.seq = seg->ack;
		x.flags = TCP_RST;
	} else {
		x.seq = 0;
		x.ack = seg->seq + seg->len + ((seg->flags & TCP_SYN) ? 1 : 0) +
			((seg->flags & TCP_FIN) ? 1 : 0);
		x.flags = TCP_RST | TCP_ACK;
	}
	(void)tcp_xmit_raw(st, &x, now_ms);
}

void tcp_rto_expired(struct stack_tcp *pcb, uint64_t now_ms)
{
	struct stack *st = pcb->st;
	uint32_t flight = pcb->snd_max - pcb->snd_una;
	bool probe = pcb->snd_wnd == 0 && pcb->tx_len > 0 && tcp_can_send_data(pcb);

	pcb->rtx_deadline = STACK_NEVER;
	if (pcb->retries >= st->cfg.tcp_max_retries) {
		log_detail("stack: tcp %u->%u: no answer after %u retries, aborting",
			   pcb->lport, pcb->rport, pcb->retries);
		st->nif.stats.tcp_timeouts++;
		tcp_send_rst(pcb, now_ms);
		tcp_finish(pcb, -ETIMEDOUT);
		return;
	}
	pcb->retries++;
	pcb->rto = pcb->rto * 2 > st->cfg.tcp_rto_max_ms ? st->cfg.tcp_rto_max_ms : pcb->rto * 2;
	pcb->rtt_timing = false; /* Karn: the next ACK is ambiguous */
	if (pcb->state == STACK_TCP_SYN_SENT || pcb->state == STACK_TCP_SYN_RECEIVED) {
		st->nif.stats.tcp_retransmits++;
		pcb->snd_nxt = pcb->iss;
		tcp_output_syn(pcb, now_ms);
		return;
	}
	if (flight == 0 && !probe)
		return;
	/* RFC 5681 3.1 eqn. 4, then restart from one segment. */
	pcb->ssthresh = flight / 2 > 2u * pcb->mss ? flight / 2 : 2u * pcb->mss;
	pcb->cwnd = pcb->mss;
	pcb->in_recovery = false;
	pcb->dupacks = 0;
	pcb->snd_nxt = pcb->snd_una;
	if (flight)
		st->nif.stats.tcp_retransmits++;
	if (probe && flight <= 1) {
		(void)tcp_output_one(pcb, true, now_ms);
		tcp_arm_rtx(pcb, now_ms);
		return;
	}
	tcp_output(pcb, now_ms);
	tcp_arm_rtx(pcb, now_ms);
}
