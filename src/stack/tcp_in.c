/* tcp_in.c — TCP segment arrival, RFC 9293 section 3.10.7.
 *
 * Call order (as lwIP's tcp_in.c states its own):
 *   ip4_input() -> tcp_input(): parse, verify checksum, find the PCB
 *     -> tcp_closed_input()   no PCB: answer with RST (3.10.7.1)
 *     -> tcp_listen_input()   LISTEN (3.10.7.2): a SYN makes a new PCB
 *     -> tcp_syn_sent_input() SYN-SENT (3.10.7.3)
 *     -> tcp_state_input()    all other states (3.10.7.4), in the RFC's
 *        order: first check sequence number, second RST, fourth SYN,
 *        fifth ACK, seventh segment text, eighth FIN
 *   -> tcp_deliver(): user callbacks for what happened
 *   -> tcp_output(): data the ACK made room for, the ACK we owe.
 * Callbacks run before output so that an answer written from a recv
 * callback carries the ACK and the reopened window. */
#include "tcp.h"

#include "csum.h"
#include "ip4.h"
#include "log.h"
#include "stack_int.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reads the options of a SYN: MSS and SACK-permitted.  A malformed option
 * ends the scan (RFC 9293 3.1: its length cannot be trusted). */
static void tcp_parse_syn_opts(const uint8_t *opt, size_t len, struct tcp_seg *seg)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = opt[i];

		if (kind == 0)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			break;
		if (kind == TCP_OPT_MSS && opt[i + 1] == 4)
			seg->mss = wire_get16(opt + i + 2);
		else if (kind == TCP_OPT_SACK_PERM && opt[i + 1] == 2)
			seg->sack_perm = true;
		i += opt[i + 1];
	}
}

/* Checked view of the TCP header at p->data; returns a drop reason or -1. */
static int tcp_parse(const struct pkt *p, const struct ip4_info *ip, struct tcp_seg *seg)
{
	const uint8_t *h = p->data;
	size_t hlen;

	if (p->len < TCP_HLEN)
		return STACK_DROP_TCP_SHORT;
	hlen = (size_t)(h[12] >> 4) * 4;
	if (hlen < TCP_HLEN || hlen > p->len)
		return STACK_DROP_TCP_HDRLEN;
	if (csum_fold(csum_add(csum_pseudo4(ip->src, ip->dst, IP4_PROTO_TCP, (uint16_t)p->len),
			       h, p->len)) != 0)
		return STACK_DROP_TCP_CSUM;
	memset(seg, 0, sizeof(*seg));
	seg->src = ip->src;
	seg->dst = ip->dst;
	seg->broadcast = ip->broadcast;
	seg->sport = wire_get16(h);
	seg->dport = wire_get16(h + 2);
	seg->seq = wire_get32(h + 4);
	seg->ack = wire_get32(h + 8);
	seg->flags = h[13] & 0x3f;
	seg->wnd = wire_get16(h + 14);
	if (seg->flags & TCP_SYN)
		tcp_parse_syn_opts(h + TCP_HLEN, hlen - TCP_HLEN, seg);
	seg->data = h + hlen;
	seg->len = (uint32_t)(p->len - hlen);
	return -1;
}

static uint32_t tcp_seg_space(const struct tcp_seg *seg)
{
	return seg->len + ((seg->flags & TCP_SYN) ? 1 : 0) + ((seg->flags & TCP_FIN) ? 1 : 0);
}

/* 3.10.7.2 LISTEN */
static void tcp_listen_input(struct stack_tcp *lst, const struct tcp_seg *seg, uint64_t now_ms)
{
	struct stack *st = lst->st;

	/* first, check for a RST: ignore it */
	if (seg->flags & TCP_RST)
		return;
	/* second, check for an ACK: nothing was sent, reset it */
	if (seg->flags & TCP_ACK) {
		tcp_reply_rst(st, seg, now_ms);
		return;
	}
	/* third, check for a SYN */
	if (!(seg->flags & TCP_SYN) || seg->broadcast)
		return;
	/* Data on the SYN is not queued: it is not acknowledged, so the peer
	 * sends it again once we are established. */
	(void)tcp_passive_open(lst, seg, now_ms);
}

/* 3.10.7.3 SYN-SENT */
static void tcp_syn_sent_input(struct stack_tcp *pcb, const struct tcp_seg *seg,
			       uint64_t now_ms)
{
	bool ack_ok = false;

	/* first, check the ACK bit */
	if (seg->flags & TCP_ACK) {
		if (TCP_SEQ_LEQ(seg->ack, pcb->iss) || TCP_SEQ_GT(seg->ack, pcb->snd_max)) {
			stack_count_drop(pcb->st, STACK_DROP_TCP_BAD_ACK);
			tcp_reply_rst(pcb->st, seg, now_ms);
			return;
		}
		ack_ok = true;
	}
	/* second, check the RST bit */
	if (seg->flags & TCP_RST) {
		if (ack_ok) {
			pcb->st->nif.stats.tcp_resets_in++;
			tcp_finish(pcb, -ECONNREFUSED);
		}
		return;
	}
	/* fourth, check the SYN bit */
	if (!(seg->flags & TCP_SYN))
		return;
	pcb->irs = seg->seq;
	pcb->rcv_nxt = seg->seq + 1;
	pcb->sack_ok = pcb->sack_offer && seg->sack_perm;
	tcp_sync_start(pcb, seg->mss);
	pcb->snd_wnd = seg->wnd;
	pcb->max_snd_wnd = seg->wnd;
	pcb->snd_wl1 = seg->seq;
	pcb->snd_wl2 = seg->ack;
	if (ack_ok) {
		pcb->snd_una = seg->ack;
		if (pcb->rtt_timing && TCP_SEQ_GEQ(seg->ack, pcb->rtt_seq)) {
			tcp_rtt_sample(pcb, (uint32_t)(now_ms - pcb->rtt_start));
			pcb->rtt_timing = false;
		}
		pcb->retries = 0;
		pcb->rtx_deadline = STACK_NEVER;
		tcp_set_state(pcb, STACK_TCP_ESTABLISHED);
		pcb->events |= TCP_EV_CONNECTED;
		pcb->ack_now = true;
		return;
	}
	/* Simultaneous open: SYN-RECEIVED, resend our SYN with an ACK. */
	tcp_set_state(pcb, STACK_TCP_SYN_RECEIVED);
	pcb->snd_nxt = pcb->iss;
	pcb->rtx_deadline = STACK_NEVER;
}

/* Whether the segment overlaps the receive window (the table in
 * 3.10.7.4, "first, check sequence number"). */
static bool tcp_seq_acceptable(const struct stack_tcp *pcb, const struct tcp_seg *seg)
{
	uint32_t wnd = tcp_rcv_wnd(pcb);
	uint32_t space = tcp_seg_space(seg);
	uint32_t end = pcb->rcv_nxt + wnd;

	if (space == 0) {
		if (wnd == 0)
			return seg->seq == pcb->rcv_nxt;
		return TCP_SEQ_IN(seg->seq, pcb->rcv_nxt, end);
	}
	if (wnd == 0)
		return false;
	return TCP_SEQ_IN(seg->seq, pcb->rcv_nxt, end) ||
	       TCP_SEQ_IN(seg->seq + space - 1, pcb->rcv_nxt, end);
}

/* Cuts what lies before RCV.NXT (already received) and past the window. */
static void tcp_trim(const struct stack_tcp *pcb, struct tcp_seg *seg)
{
	uint32_t wnd = tcp_rcv_wnd(pcb);

	if (TCP_SEQ_LT(seg->seq, pcb->rcv_nxt)) {
		uint32_t skip = pcb->rcv_nxt - seg->seq;

		if (seg->flags & TCP_SYN) {
			seg->flags &= (uint8_t)~TCP_SYN;
			skip--;
			seg->seq++;
		}
		if (skip > seg->len)
			skip = seg->len; /* only a FIN could be left, and it's in window */
		seg->data += skip;
		seg->len -= skip;
		seg->seq += skip;
	}
	if (TCP_SEQ_GT(seg->seq + seg->len, pcb->rcv_nxt + wnd)) {
		seg->len = pcb->rcv_nxt + wnd - seg->seq;
		seg->flags &= (uint8_t)~TCP_FIN;
	}
}

/* Second, check the RST bit (with RFC 5961 3.2: only an exact match
 * resets; an in-window RST gets a challenge ACK). */
static void tcp_rst_input(struct stack_tcp *pcb, const struct tcp_seg *seg)
{
	if (seg->seq != pcb->rcv_nxt) {
		pcb->ack_now = true;
		return;
	}
	pcb->st->nif.stats.tcp_resets_in++;
	switch (pcb->state) {
	case STACK_TCP_SYN_RECEIVED:
		/* Passive: the embryo just goes.  Active: refused. */
		tcp_finish(pcb, pcb->parent ? 0 : -ECONNREFUSED);
		break;
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_FIN_WAIT_1:
	case STACK_TCP_FIN_WAIT_2:
	case STACK_TCP_CLOSE_WAIT:
		tcp_finish(pcb, -ECONNRESET);
		break;
	default: /* CLOSING, LAST_ACK, TIME_WAIT */
		tcp_finish(pcb, 0);
		break;
	}
}

/* Frees the acknowledged part of the send buffer and updates the timers
 * and the congestion window for an ACK that advanced SND.UNA. */
static void tcp_ack_new(struct stack_tcp *pcb, uint32_t ack, uint64_t now_ms)
{
	uint32_t acked = ack - pcb->snd_una;

	if (TCP_SEQ_GT(ack, pcb->tx_seq)) {
		uint32_t d = ack - pcb->tx_seq;

		if (d > pcb->tx_len)
			d = pcb->tx_len; /* the rest is our FIN */
		memmove(pcb->tx_buf, pcb->tx_buf + d, pcb->tx_len - d);
		pcb->tx_len -= d;
		pcb->tx_seq += d;
		pcb->ev_acked += d;
	}
	pcb->snd_una = ack;
	if (TCP_SEQ_LT(pcb->snd_nxt, ack))
		pcb->snd_nxt = ack; /* after go-back-N the peer had more than we resent */
	if (pcb->rtt_timing && TCP_SEQ_GEQ(ack, pcb->rtt_seq)) {
		tcp_rtt_sample(pcb, (uint32_t)(now_ms - pcb->rtt_start));
		pcb->rtt_timing = false;
	}
	if (pcb->retries) {
		pcb->retries = 0;
		tcp_rto_reset(pcb); /* the path works again: drop the back-off */
	}
	if (pcb->in_recovery) {
		if (TCP_SEQ_GEQ(ack, pcb->recover)) {
			/* Full ACK: leave fast recovery (RFC 6582 3.2 step 3) */
			pcb->in_recovery = false;
			pcb->cwnd = pcb->ssthresh;
		} else {
			/* Partial ACK: the next hole is lost too */
			tcp_retransmit_first(pcb, now_ms);
			pcb->cwnd = pcb->cwnd > acked ? pcb->cwnd - acked + pcb->mss : pcb->mss;
		}
	} else if (pcb->cwnd < pcb->ssthresh) {
		pcb->cwnd += acked < pcb->mss ? acked : pcb->mss; /* slow start */
	} else {
		uint32_t inc = (uint32_t)pcb->mss * pcb->mss / pcb->cwnd;

		pcb->cwnd += inc ? inc : 1; /* congestion avoidance */
	}
	if (pcb->cwnd > 4u * 65535)
		pcb->cwnd = 4u * 65535;
	pcb->dupacks = 0;
	pcb->rtx_deadline = STACK_NEVER;
	if (pcb->snd_una != pcb->snd_max)
		tcp_arm_rtx(pcb, now_ms);
}

/* An ACK that acknowledges nothing new: three in a row mean a segment was
 * lost (RFC 5681 3.2 fast retransmit; NewReno recovery after it). */
static void tcp_ack_dup(struct stack_tcp *pcb, const struct tcp_seg *seg, uint64_t now_ms)
{
	uint32_t flight = pcb->snd_max - pcb->snd_una;

	if (seg->len || (seg->flags & (TCP_SYN | TCP_FIN)) || seg->wnd != pcb->snd_wnd ||
	    flight == 0) {
		return;
	}
	pcb->dupacks++;
	if (pcb->dupacks == 3 && !pcb->in_recovery) {
		pcb->ssthresh = flight / 2 > 2u * pcb->mss ? flight / 2 : 2u * pcb->mss;
		pcb->recover = pcb->snd_max;
		pcb->in_recovery = true;
		tcp_retransmit_first(pcb, now_ms);
		pcb->cwnd = pcb->ssthresh + 3u * pcb->mss;
	} else if (pcb->in_recovery) {
		pcb->cwnd += pcb->mss; /* each dup ACK: one more segment has left */
	}
}

static bool tcp_fin_acked(const struct stack_tcp *pcb)
{
	return pcb->fin_sent && TCP_SEQ_GT(pcb->snd_una, pcb->fin_seq);
}

/* Fifth, check the ACK field.  Returns false when the segment must be
 * dropped here. */
static bool tcp_ack_input(struct stack_tcp *pcb, const struct tcp_seg *seg, uint64_t now_ms)
{
	if (!(seg->flags & TCP_ACK))
		return false;
	if (pcb->state == STACK_TCP_SYN_RECEIVED) {
		if (!TCP_SEQ_GT(seg->ack, pcb->snd_una) || TCP_SEQ_GT(seg->ack, pcb->snd_max)) {
			stack_count_drop(pcb->st, STACK_DROP_TCP_BAD_ACK);
			tcp_reply_rst(pcb->st, seg, now_ms);
			return false;
		}
		tcp_set_state(pcb, STACK_TCP_ESTABLISHED);
		pcb->events |= pcb->parent ? TCP_EV_ACCEPT : TCP_EV_CONNECTED;
		if (pcb->parent && pcb->parent->pending)
			pcb->parent->pending--;
		pcb->snd_wnd = seg->wnd;
		pcb->snd_wl1 = seg->seq;
		pcb->snd_wl2 = seg->ack;
	}
	if (TCP_SEQ_GT(seg->ack, pcb->snd_max)) {
		/* Acknowledges what we never sent: answer with an ACK, drop. */
		stack_count_drop(pcb->st, STACK_DROP_TCP_BAD_ACK);
		pcb->ack_now = true;
		return false;
	}
	if (TCP_SEQ_GT(seg->ack, pcb->snd_una))
		tcp_ack_new(pcb, seg->ack, now_ms);
	else if (seg->ack == pcb->snd_una)
		tcp_ack_dup(pcb, seg, now_ms);
	/* Window update, from the newest segment only (SND.WL1/WL2). */
	if (TCP_SEQ_GEQ(seg->ack, pcb->snd_una) &&
	    (TCP_SEQ_LT(pcb->snd_wl1, seg->seq) ||
	     (pcb->snd_wl1 == seg->seq && TCP_SEQ_LEQ(pcb->snd_wl2, seg->ack)))) {
		if (pcb->snd_wnd == 0 && seg->wnd == 0)
			pcb->retries = 0; /* the peer answers our probes: keep probing */
		pcb->snd_wnd = seg->wnd;
		pcb->snd_wl1 = seg->seq;
		pcb->snd_wl2 = seg->ack;
		if (seg->wnd > pcb->max_snd_wnd)
			pcb->max_snd_wnd = seg->wnd;
	}
	switch (pcb->state) {
	case STACK_TCP_FIN_WAIT_1:
		if (tcp_fin_acked(pcb)) {
			tcp_set_state(pcb, STACK_TCP_FIN_WAIT_2);
			if (!pcb->user && pcb->tw_deadline == STACK_NEVER)
				pcb->tw_deadline = now_ms + 2 * (uint64_t)pcb->st->cfg.tcp_msl_ms;
		}
		break;
	case STACK_TCP_CLOSING:
		if (tcp_fin_acked(pcb))
			tcp_enter_time_wait(pcb, now_ms);
		break;
	case STACK_TCP_LAST_ACK:
		if (tcp_fin_acked(pcb)) {
			tcp_finish(pcb, 0);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* Keeps a copy of a segment that arrived ahead of RCV.NXT, sorted by
 * sequence number.  Returns false when it could not be kept. */
static bool tcp_ooo_insert(struct stack_tcp *pcb, const struct tcp_seg *seg)
{
	struct tcp_ooo **pp = &pcb->ooo, *o;
	bool fin = (seg->flags & TCP_FIN) != 0;

	for (; *pp && TCP_SEQ_LEQ((*pp)->seq, seg->seq); pp = &(*pp)->next) {
		o = *pp;
		/* Already covered by what we hold: a duplicate. */
		if (TCP_SEQ_GEQ(o->seq + o->len, seg->seq + seg->len) && (o->fin || !fin))
			return true;
	}
	if (pcb->ooo_count >= pcb->st->cfg.tcp_ooo_max) {
		stack_count_drop(pcb->st, STACK_DROP_TCP_OOO_FULL);
		return false;
	}
	o = malloc(sizeof(*o) + seg->len);
	if (!o) {
		stack_count_drop(pcb->st, STACK_DROP_NOMEM);
		return false;
	}
	o->seq = seg->seq;
	o->len = seg->len;
	o->fin = fin;
	memcpy(o->data, seg->data, seg->len);
	o->next = *pp;
	*pp = o;
	pcb->ooo_count++;
	pcb->ooo_last = seg->seq;
	return true;
}

static void tcp_rx_append(struct stack_tcp *pcb, const uint8_t *data, uint32_t len)
{
	/* The window we advertised bounds len; rx_cap is that window. */
	if (len > pcb->rx_cap - pcb->rx_len)
		len = pcb->rx_cap - pcb->rx_len;
	/* After stack_tcp_close() nobody reads: acknowledge and discard. */
	if (!pcb->released) {
		memcpy(pcb->rx_buf + pcb->rx_len, data, len);
		pcb->rx_len += len;
	}
	pcb->rcv_nxt += len;
}

/* Moves queued segments that the new RCV.NXT reached into the receive
 * buffer.  Returns true when a queued FIN was reached. */
static bool tcp_ooo_drain(struct stack_tcp *pcb)
{
	while (pcb->ooo && TCP_SEQ_LEQ(pcb->ooo->seq, pcb->rcv_nxt)) {
		struct tcp_ooo *o = pcb->ooo;
		uint32_t skip = pcb->rcv_nxt - o->seq;
		bool fin = false;

		if (skip < o->len)
			tcp_rx_append(pcb, o->data + skip, o->len - skip);
		if (o->fin && o->seq + o->len == pcb->rcv_nxt)
			fin = true;
		pcb->ooo = o->next;
		pcb->ooo_count--;
		free(o);
		if (fin)
			return true;
	}
	return false;
}

/* Seventh, process the segment text.  Returns true when the segment (or
 * the queue behind it) brings the FIN in order. */
static bool tcp_text_input(struct stack_tcp *pcb, const struct tcp_seg *seg, uint64_t now_ms)
{
	switch (pcb->state) {
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_FIN_WAIT_1:
	case STACK_TCP_FIN_WAIT_2:
		break;
	default:
		/* The peer's FIN was seen: nothing may follow it. */
		return false;
	}
	if (seg->seq != pcb->rcv_nxt) {
		if (seg->len || (seg->flags & TCP_FIN))
			(void)tcp_ooo_insert(pcb, seg);
		pcb->ack_now = true; /* duplicate ACK: tells the sender about the hole */
		return false;
	}
	if (seg->len) {
		tcp_rx_append(pcb, seg->data, seg->len);
		if (pcb->ooo) {
			if (tcp_ooo_drain(pcb))
				return true;
			pcb->ack_now = true; /* a hole filled: say so at once */
		} else if (pcb->st->cfg.tcp_delack_ms == 0 || ++pcb->delack_segs >= 2) {
			pcb->ack_now = true;
		} else if (pcb->delack_deadline == STACK_NEVER) {
			pcb->delack_deadline = now_ms + pcb->st->cfg.tcp_delack_ms;
		}
	}
	return (seg->flags & TCP_FIN) != 0;
}

/* Eighth, check the FIN bit (it is in order here). */
static void tcp_fin_input(struct stack_tcp *pcb, uint64_t now_ms)
{
	pcb->rcv_nxt++;
	pcb->ack_now = true;
	pcb->events |= TCP_EV_EOF;
	switch (pcb->state) {
	case STACK_TCP_SYN_RECEIVED:
	case STACK_TCP_ESTABLISHED:
		tcp_set_state(pcb, STACK_TCP_CLOSE_WAIT);
		break;
	case STACK_TCP_FIN_WAIT_1:
		/* Our FIN is not acknowledged yet: simultaneous close. */
		tcp_set_state(pcb, STACK_TCP_CLOSING);
		break;
	case STACK_TCP_FIN_WAIT_2:
		tcp_enter_time_wait(pcb, now_ms);
		break;
	default:
		break;
	}
}

/* 3.10.7.4, every synchronized state plus SYN-RECEIVED. */
static void tcp_state_input(struct stack_tcp *pcb, struct tcp_seg *seg, uint64_t now_ms)
{
	/* first, check sequence number */
	if (!tcp_seq_acceptable(pcb, seg)) {
		stack_count_drop(pcb->st, STACK_DROP_TCP_OUT_OF_WINDOW);
		if (!(seg->flags & TCP_RST)) {
			pcb->ack_now = true;
			if (pcb->state == STACK_TCP_TIME_WAIT && (seg->flags & TCP_FIN))
				pcb->tw_deadline = now_ms + 2 * (uint64_t)pcb->st->cfg.tcp_msl_ms;
		}
		return;
	}
	tcp_trim(pcb, seg);
	/* second, check the RST bit */
	if (seg->flags & TCP_RST) {
		tcp_rst_input(pcb, seg);
		return;
	}
	/* third, security: not implemented (no IP security options) */
	/* fourth, check the SYN bit: in window or not, a challenge ACK
	 * (RFC 5961 4.2); a real peer restarting will then send a RST */
	if (seg->flags & TCP_SYN) {
		pcb->ack_now = true;
		return;
	}
	/* fifth, check the ACK field */
	if (!tcp_ack_input(pcb, seg, now_ms))
		return;
	/* sixth, the URG bit: urgent data is delivered as ordinary data */
	/* seventh, process the segment text; eighth, check the FIN bit */
	if (tcp_text_input(pcb, seg, now_ms))
		tcp_fin_input(pcb, now_ms);
}

void tcp_input(struct stack *st, struct pkt *p, const struct ip4_info *ip, uint64_t now_ms)
{
	struct stack_tcp *pcb;
	struct tcp_seg seg;
	int reason;

	st->nif.stats.tcp_in++;
	reason = tcp_parse(p, ip, &seg);
	if (reason >= 0) {
		stack_count_drop(st, (enum stack_drop)reason);
		return;
	}
	log_trace("stack: tcp in %u->%u seq %u ack %u flags 0x%02x len %u", seg.sport,
		  seg.dport, seg.seq, seg.ack, seg.flags, seg.len);
	pcb = seg.broadcast ? NULL : tcp_lookup(st, &seg);
	if (!pcb) {
		/* 3.10.7.1 CLOSED */
		stack_count_drop(st, STACK_DROP_TCP_NO_CONN);
		tcp_reply_rst(st, &seg, now_ms);
		return;
	}
	switch (pcb->state) {
	case STACK_TCP_LISTEN:
		tcp_listen_input(pcb, &seg, now_ms);
		return;
	case STACK_TCP_SYN_SENT:
		tcp_syn_sent_input(pcb, &seg, now_ms);
		break;
	default:
		tcp_state_input(pcb, &seg, now_ms);
		break;
	}
	tcp_deliver(pcb, now_ms);
	tcp_output(pcb, now_ms);
}
