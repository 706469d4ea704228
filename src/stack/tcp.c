/* tcp.c — TCP control blocks, timers and the user calls of stack.h.
 *
 * PCBs live on one list (listeners, connections, TIME_WAIT) bounded by
 * tcp_max_conns.  A PCB is never freed where it dies: tcp_finish() marks it
 * dead and tcp_reap() frees it when the outermost stack call returns (see
 * stack_enter), so callbacks can close handles freely.
 *
 * User events are gathered on the PCB while a segment or timer is handled
 * and delivered by tcp_deliver() afterwards, in the order connected/accept,
 * sent, data, end-of-stream, closed. */
#include "tcp.h"

#include "ip4.h"
#include "log.h"
#include "rnd.h"
#include "stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TCP_EPHEMERAL_LO 1024u
#define TCP_PICK_TRIES 64

static const char *const tcp_state_names[] = {
	[STACK_TCP_CLOSED] = "CLOSED",
	[STACK_TCP_LISTEN] = "LISTEN",
	[STACK_TCP_SYN_SENT] = "SYN_SENT",
	[STACK_TCP_SYN_RECEIVED] = "SYN_RECEIVED",
	[STACK_TCP_ESTABLISHED] = "ESTABLISHED",
	[STACK_TCP_FIN_WAIT_1] = "FIN_WAIT_1",
	[STACK_TCP_FIN_WAIT_2] = "FIN_WAIT_2",
	[STACK_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[STACK_TCP_CLOSING] = "CLOSING",
	[STACK_TCP_LAST_ACK] = "LAST_ACK",
	[STACK_TCP_TIME_WAIT] = "TIME_WAIT",
};

const char *stack_tcp_state_name(enum stack_tcp_state state)
{
	if ((unsigned)state >= sizeof(tcp_state_names) / sizeof(tcp_state_names[0]))
		return "?";
	return tcp_state_names[state];
}

/* A full table gives up its oldest TIME_WAIT PCB rather than refuse the
 * new one: the resolver closes its upstream TCP connections first, so at
 * over tcp_max_conns / 2MSL connections per second the table would fill
 * with TIME_WAIT and every new connection fail (Linux likewise drops
 * TIME_WAIT state past tcp_max_tw_buckets).  The PCB is finished here and
 * freed by tcp_reap() at the end of the stack call, so the count may pass
 * the limit by the PCBs recycled within one call.  Returns true if one was
 * recycled. */
static bool tcp_recycle_time_wait(struct stack *st)
{
	struct stack_tcp *oldest = NULL;

	for (struct stack_tcp *pcb = st->tcp.list; pcb; pcb = pcb->next)
		if (!pcb->dead && pcb->state == STACK_TCP_TIME_WAIT &&
		    (!oldest || pcb->tw_deadline < oldest->tw_deadline))
			oldest = pcb;
	if (!oldest)
		return false;
	tcp_finish(oldest, 0);
	st->nif.stats.tcp_tw_recycled++;
	return true;
}

struct stack_tcp *tcp_pcb_new(struct stack *st)
{
	struct stack_tcp *pcb;

	if (st->tcp.count >= st->cfg.tcp_max_conns && !tcp_recycle_time_wait(st)) {
		stack_count_drop(st, STACK_DROP_NOMEM);
		return NULL;
	}
	pcb = calloc(1, sizeof(*pcb));
	if (!pcb)
		return NULL;
	pcb->st = st;
	pcb->laddr = st->nif.addr;
	pcb->rto = st->cfg.tcp_rto_init_ms;
	pcb->rtx_deadline = STACK_NEVER;
	pcb->delack_deadline = STACK_NEVER;
	pcb->tw_deadline = STACK_NEVER;
	pcb->mss = TCP_DEFAULT_MSS;
	pcb->ssthresh = 65535;
	pcb->next = st->tcp.list;
	st->tcp.list = pcb;
	st->tcp.count++;
	return pcb;
}

/* Buffers for a connection (listeners have none). */
static int tcp_pcb_buffers(struct stack_tcp *pcb)
{
	struct stack *st = pcb->st;

	pcb->tx_cap = st->cfg.tcp_sndbuf;
	pcb->rx_cap = st->cfg.tcp_rcvbuf;
	pcb->tx_buf = malloc(pcb->tx_cap);
	pcb->rx_buf = malloc(pcb->rx_cap);
	if (!pcb->tx_buf || !pcb->rx_buf)
		return -ENOMEM;
	return 0;
}

/* Sets up the sequence space of a new connection: buffers, our ISN, and
 * the MSS/congestion window for what the peer told us so far. */
static int tcp_pcb_start(struct stack_tcp *pcb, uint16_t peer_mss)
{
	if (tcp_pcb_buffers(pcb) < 0)
		return -ENOMEM;
	tcp_sync_start(pcb, peer_mss);
	pcb->iss = tcp_new_isn(pcb->st);
	pcb->snd_una = pcb->iss;
	pcb->snd_nxt = pcb->iss;
	pcb->snd_max = pcb->iss;
	pcb->tx_seq = pcb->iss + 1;
	return 0;
}

/* Effective send MSS (the peer's option, 536 without one, never above
 * what our MTU carries) and the initial window, RFC 5681 3.1. */
void tcp_sync_start(struct stack_tcp *pcb, uint16_t peer_mss)
{
	uint32_t own = pcb->st->nif.mtu - IP4_HLEN - TCP_HLEN;
	uint32_t mss = peer_mss ? peer_mss : TCP_DEFAULT_MSS;

	if (mss > own)
		mss = own;
	if (mss < 64)
		mss = 64; /* a silly MSS option must not make us send runts */
	pcb->mss = (uint16_t)mss;
	pcb->cwnd = mss > 2190 ? 2 * mss : (mss > 1095 ? 3 * mss : 4 * mss);
}

uint32_t tcp_new_isn(struct stack *st)
{
	/* A CSPRNG ISN (RFC 6528 allows any unpredictable choice). */
	if (st->tcp.isn_hook)
		return st->tcp.isn_hook(st->tcp.isn_ud);
	return rnd_u32();
}

uint32_t tcp_rcv_wnd(const struct stack_tcp *pcb)
{
	uint32_t wnd = pcb->rx_cap - pcb->rx_len;

	return wnd > 65535 ? 65535 : wnd;
}

struct stack_tcp *tcp_lookup(struct stack *st, const struct tcp_seg *seg)
{
	struct stack_tcp *listener = NULL;

	for (struct stack_tcp *pcb = st->tcp.list; pcb; pcb = pcb->next) {
		if (pcb->dead || pcb->lport != seg->dport)
			continue;
		if (pcb->state == STACK_TCP_LISTEN) {
			listener = pcb;
			continue;
		}
		if (pcb->rport == seg->sport && pcb->raddr == seg->src && pcb->laddr == seg->dst)
			return pcb;
	}
	return listener;
}

void tcp_set_state(struct stack_tcp *pcb, enum stack_tcp_state state)
{
	log_trace("stack: tcp %u->%u %s -> %s", pcb->lport, pcb->rport,
		  stack_tcp_state_name(pcb->state), stack_tcp_state_name(state));
	pcb->state = state;
}

static void tcp_stop_timers(struct stack_tcp *pcb)
{
	pcb->rtx_deadline = STACK_NEVER;
	pcb->delack_deadline = STACK_NEVER;
	pcb->tw_deadline = STACK_NEVER;
}

void tcp_finish(struct stack_tcp *pcb, int err)
{
	if (pcb->dead)
		return;
	if (pcb->parent && pcb->state == STACK_TCP_SYN_RECEIVED && pcb->parent->pending)
		pcb->parent->pending--;
	pcb->parent = NULL;
	tcp_set_state(pcb, STACK_TCP_CLOSED);
	tcp_stop_timers(pcb);
	pcb->dead = true;
	pcb->events |= TCP_EV_CLOSED;
	pcb->ev_err = err;
}

void tcp_enter_time_wait(struct stack_tcp *pcb, uint64_t now_ms)
{
	tcp_set_state(pcb, STACK_TCP_TIME_WAIT);
	tcp_stop_timers(pcb);
	pcb->tw_deadline = now_ms + 2 * (uint64_t)pcb->st->cfg.tcp_msl_ms;
	/* The user's side is over: report it now, the PCB lingers alone. */
	pcb->events |= TCP_EV_CLOSED;
	pcb->ev_err = 0;
}

void tcp_rtt_sample(struct stack_tcp *pcb, uint32_t rtt_ms)
{
	int64_t r = rtt_ms, delta;

	if (pcb->srtt8 == 0) {
		/* RFC 6298 2.2: SRTT = R, RTTVAR = R/2 */
		pcb->srtt8 = (uint32_t)(r * 8 + 1); /* +1: "measured" even at R = 0 */
		pcb->rttvar4 = (uint32_t)(r * 2);
	} else {
		/* 2.3: alpha = 1/8, beta = 1/4, in scaled integers */
		delta = r - (int64_t)pcb->srtt8 / 8;
		pcb->srtt8 = (uint32_t)((int64_t)pcb->srtt8 + delta);
		if (delta < 0)
			delta = -delta;
		pcb->rttvar4 = (uint32_t)((int64_t)pcb->rttvar4 + delta - pcb->rttvar4 / 4);
	}
	tcp_rto_reset(pcb);
}

/* RTO = SRTT + max(G, 4 * RTTVAR), G = 1 ms, within the configured bounds;
 * the initial RTO while there is no sample yet. */
void tcp_rto_reset(struct stack_tcp *pcb)
{
	const struct stack_cfg *cfg = &pcb->st->cfg;
	uint32_t rto;

	if (pcb->srtt8 == 0) {
		pcb->rto = cfg->tcp_rto_init_ms;
		return;
	}
	rto = pcb->srtt8 / 8 + (pcb->rttvar4 > 1 ? pcb->rttvar4 : 1);
	if (rto < cfg->tcp_rto_min_ms)
		rto = cfg->tcp_rto_min_ms;
	if (rto > cfg->tcp_rto_max_ms)
		rto = cfg->tcp_rto_max_ms;
	pcb->rto = rto;
}

/* A connection finished its handshake: hand it to its listener's user,
 * or reset it when nobody listens any more. */
static void tcp_deliver_accept(struct stack_tcp *pcb, uint64_t now_ms)
{
	struct stack_tcp *parent = pcb->parent;

	pcb->parent = NULL;
	if (!parent || !parent->user || parent->dead || !parent->cbs.accept) {
		tcp_send_rst(pcb, now_ms);
		tcp_finish(pcb, 0);
		return;
	}
	pcb->user = true;
	pcb->cbs = parent->cbs;
	pcb->ud = parent->ud;
	parent->cbs.accept(parent, pcb, parent->ud);
}

void tcp_deliver(struct stack_tcp *pcb, uint64_t now_ms)
{
	if (pcb->events & TCP_EV_ACCEPT) {
		pcb->events &= ~TCP_EV_ACCEPT;
		tcp_deliver_accept(pcb, now_ms);
	}
	if (pcb->events & TCP_EV_CONNECTED) {
		pcb->events &= ~TCP_EV_CONNECTED;
		if (pcb->user && pcb->cbs.connected)
			pcb->cbs.connected(pcb, pcb->ud);
	}
	if (pcb->ev_acked) {
		size_t n = pcb->ev_acked;

		pcb->ev_acked = 0;
		if (pcb->user && pcb->cbs.sent)
			pcb->cbs.sent(pcb, n, pcb->ud);
	}
	if (pcb->rx_len) {
		uint32_t n = pcb->rx_len;

		/* Consumed as of now, so the window sent from a callback is right. */
		pcb->rx_len = 0;
		if (pcb->user && pcb->cbs.recv)
			pcb->cbs.recv(pcb, pcb->rx_buf, n, pcb->ud);
	}
	if (pcb->events & TCP_EV_EOF) {
		pcb->events &= ~TCP_EV_EOF;
		if (pcb->user && pcb->cbs.recv)
			pcb->cbs.recv(pcb, pcb->rx_buf, 0, pcb->ud);
	}
	if (pcb->events & TCP_EV_CLOSED) {
		pcb->events &= ~TCP_EV_CLOSED;
		if (pcb->user) {
			pcb->user = false;
			pcb->released = true;
			if (pcb->cbs.closed)
				pcb->cbs.closed(pcb, pcb->ev_err, pcb->ud);
		}
	}
}

static void tcp_pcb_free(struct stack_tcp *pcb)
{
	while (pcb->ooo) {
		struct tcp_ooo *o = pcb->ooo;

		pcb->ooo = o->next;
		free(o);
	}
	free(pcb->tx_buf);
	free(pcb->rx_buf);
	free(pcb);
}

void tcp_reap(struct stack *st)
{
	struct stack_tcp **pp = &st->tcp.list;

	while (*pp) {
		struct stack_tcp *pcb = *pp;

		if (pcb->dead) {
			*pp = pcb->next;
			st->tcp.count--;
			tcp_pcb_free(pcb);
		} else {
			pp = &pcb->next;
		}
	}
}

void tcp_free_all(struct stack *st)
{
	while (st->tcp.list) {
		struct stack_tcp *pcb = st->tcp.list;

		st->tcp.list = pcb->next;
		tcp_pcb_free(pcb);
	}
	st->tcp.count = 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Runs the due timers of one PCB. */
static void tcp_pcb_timers(struct stack_tcp *pcb, uint64_t now_ms)
{
	if (pcb->tw_deadline <= now_ms) {
		/* TIME_WAIT over, or an orphaned FIN_WAIT_2 gave up waiting. */
		tcp_finish(pcb, 0);
		return;
	}
	if (pcb->rtx_deadline <= now_ms)
		tcp_rto_expired(pcb, now_ms);
	if (!pcb->dead && pcb->delack_deadline <= now_ms) {
		pcb->delack_deadline = STACK_NEVER;
		pcb->ack_now = true;
		tcp_output(pcb, now_ms);
	}
}

uint64_t tcp_poll(struct stack *st, uint64_t now_ms)
{
	uint64_t next = STACK_NEVER;

	for (struct stack_tcp *pcb = st->tcp.list; pcb; pcb = pcb->next) {
		if (pcb->dead)
			continue;
		tcp_pcb_timers(pcb, now_ms);
		tcp_deliver(pcb, now_ms);
		if (pcb->dead)
			continue;
		next = min_u64(next, pcb->rtx_deadline);
		next = min_u64(next, pcb->delack_deadline);
		next = min_u64(next, pcb->tw_deadline);
	}
	return next;
}

/* ---- user calls ---- */

static bool tcp_port_used(const struct stack *st, uint16_t port)
{
	for (const struct stack_tcp *pcb = st->tcp.list; pcb; pcb = pcb->next)
		if (!pcb->dead && pcb->lport == port)
			return true;
	return false;
}

static uint16_t tcp_pick_port(struct stack *st)
{
	for (int i = 0; i < TCP_PICK_TRIES; i++) {
		uint16_t port = (uint16_t)(TCP_EPHEMERAL_LO +
					   rnd_uniform(65536u - TCP_EPHEMERAL_LO));

		if (!tcp_port_used(st, port))
			return port;
	}
	return 0;
}

int stack_tcp_listen(struct stack *st, uint16_t port, unsigned backlog,
		     const struct stack_tcp_cbs *cbs, void *ud, struct stack_tcp **out)
{
	struct stack_tcp *pcb;

	*out = NULL;
	if (port == 0 || backlog == 0)
		return -EINVAL;
	for (pcb = st->tcp.list; pcb; pcb = pcb->next)
		if (!pcb->dead && pcb->state == STACK_TCP_LISTEN && pcb->lport == port)
			return -EADDRINUSE;
	pcb = tcp_pcb_new(st);
	if (!pcb)
		return -ENOBUFS;
	pcb->lport = port;
	pcb->backlog = backlog;
	pcb->state = STACK_TCP_LISTEN;
	if (cbs)
		pcb->cbs = *cbs;
	pcb->ud = ud;
	pcb->user = true;
	*out = pcb;
	return 0;
}

int stack_tcp_connect(struct stack *st, uint32_t dst_addr, uint16_t dst_port, uint16_t sport,
		      const struct stack_tcp_cbs *cbs, void *ud, struct stack_tcp **out,
		      uint64_t now_ms)
{
	struct stack_tcp *pcb;
	uint32_t next_hop;
	int rc;

	*out = NULL;
	if (dst_port == 0 || dst_addr == 0 || netif_is_broadcast(&st->nif, dst_addr))
		return -EINVAL;
	rc = ip4_route(st, dst_addr, &next_hop);
	if (rc < 0)
		return rc;
	if (sport == 0)
		sport = tcp_pick_port(st);
	else if (tcp_port_used(st, sport))
		return -EADDRINUSE;
	if (sport == 0)
		return -EADDRINUSE;
	pcb = tcp_pcb_new(st);
	if (!pcb)
		return -ENOBUFS;
	pcb->lport = sport;
	pcb->raddr = dst_addr;
	pcb->rport = dst_port;
	if (tcp_pcb_start(pcb, 0) < 0) {
		pcb->dead = true; /* reaped at the next stack_leave */
		return -ENOMEM;
	}
	pcb->mss = (uint16_t)(st->nif.mtu - IP4_HLEN - TCP_HLEN); /* until told */
	pcb->sack_offer = true;
	if (cbs)
		pcb->cbs = *cbs;
	pcb->ud = ud;
	pcb->user = true;
	tcp_set_state(pcb, STACK_TCP_SYN_SENT);
	st->nif.stats.tcp_active_opens++;
	stack_enter(st);
	tcp_output(pcb, now_ms);
	stack_leave(st);
	*out = pcb;
	return 0;
}

/* A SYN reached listener lst: create the embryonic connection (RFC 9293
 * 3.10.7.2, LISTEN, third check) and answer SYN-ACK. */
struct stack_tcp *tcp_passive_open(struct stack_tcp *lst, const struct tcp_seg *seg,
				   uint64_t now_ms)
{
	struct stack *st = lst->st;
	struct stack_tcp *pcb;

	if (lst->pending >= lst->backlog) {
		stack_count_drop(st, STACK_DROP_TCP_BACKLOG);
		return NULL;
	}
	pcb = tcp_pcb_new(st);
	if (!pcb)
		return NULL;
	pcb->laddr = seg->dst;
	pcb->lport = seg->dport;
	pcb->raddr = seg->src;
	pcb->rport = seg->sport;
	if (tcp_pcb_start(pcb, seg->mss) < 0) {
		pcb->dead = true;
		return NULL;
	}
	pcb->parent = lst;
	lst->pending++;
	pcb->sack_ok = seg->sack_perm; /* and our SYN-ACK says so */
	pcb->irs = seg->seq;
	pcb->rcv_nxt = seg->seq + 1;
	pcb->snd_wnd = seg->wnd;
	pcb->max_snd_wnd = seg->wnd;
	pcb->snd_wl1 = seg->seq;
	pcb->snd_wl2 = 0;
	tcp_set_state(pcb, STACK_TCP_SYN_RECEIVED);
	st->nif.stats.tcp_passive_opens++;
	tcp_output(pcb, now_ms);
	return pcb;
}

void stack_tcp_set_cbs(struct stack_tcp *conn, const struct stack_tcp_cbs *cbs, void *ud)
{
	if (cbs)
		conn->cbs = *cbs;
	else
		memset(&conn->cbs, 0, sizeof(conn->cbs));
	conn->ud = ud;
}

ssize_t stack_tcp_send(struct stack_tcp *conn, const void *data, size_t len, uint64_t now_ms)
{
	struct stack *st = conn->st;
	uint32_t room, n;

	switch (conn->state) {
	case STACK_TCP_SYN_SENT:
	case STACK_TCP_SYN_RECEIVED:
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_CLOSE_WAIT:
		break;
	case STACK_TCP_CLOSED:
	case STACK_TCP_LISTEN:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (conn->fin_queued)
		return -EPIPE;
	room = conn->tx_cap - conn->tx_len;
	n = len < room ? (uint32_t)len : room;
	memcpy(conn->tx_buf + conn->tx_len, data, n);
	conn->tx_len += n;
	stack_enter(st);
	tcp_output(conn, now_ms);
	stack_leave(st);
	return n;
}

size_t stack_tcp_send_space(const struct stack_tcp *conn)
{
	if (conn->fin_queued || !conn->tx_buf)
		return 0;
	return conn->tx_cap - conn->tx_len;
}

/* Queues our FIN; the state moves at once (RFC 9293 3.10.4 CLOSE). */
static void tcp_queue_fin(struct stack_tcp *pcb, uint64_t now_ms)
{
	if (pcb->fin_queued)
		return;
	pcb->fin_queued = true;
	if (pcb->state == STACK_TCP_ESTABLISHED)
		tcp_set_state(pcb, STACK_TCP_FIN_WAIT_1);
	else if (pcb->state == STACK_TCP_CLOSE_WAIT)
		tcp_set_state(pcb, STACK_TCP_LAST_ACK);
	tcp_output(pcb, now_ms);
}

int stack_tcp_shutdown(struct stack_tcp *conn, uint64_t now_ms)
{
	struct stack *st = conn->st;

	switch (conn->state) {
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_CLOSE_WAIT:
		stack_enter(st);
		tcp_queue_fin(conn, now_ms);
		stack_leave(st);
		return 0;
	case STACK_TCP_FIN_WAIT_1:
	case STACK_TCP_FIN_WAIT_2:
	case STACK_TCP_CLOSING:
	case STACK_TCP_LAST_ACK:
	case STACK_TCP_TIME_WAIT:
		return 0;
	default:
		return -ENOTCONN;
	}
}

static void tcp_close_listener(struct stack_tcp *lst, uint64_t now_ms)
{
	for (struct stack_tcp *pcb = lst->st->tcp.list; pcb; pcb = pcb->next) {
		if (pcb->parent != lst)
			continue;
		pcb->parent = NULL;
		tcp_send_rst(pcb, now_ms);
		tcp_finish(pcb, 0);
	}
	tcp_finish(lst, 0);
}

void stack_tcp_close(struct stack_tcp *conn, uint64_t now_ms)
{
	struct stack *st;

	if (!conn)
		return;
	st = conn->st;
	stack_enter(st);
	conn->user = false;
	conn->released = true;
	switch (conn->state) {
	case STACK_TCP_LISTEN:
		tcp_close_listener(conn, now_ms);
		break;
	case STACK_TCP_SYN_SENT:
		tcp_finish(conn, 0);
		break;
	case STACK_TCP_SYN_RECEIVED:
		tcp_send_rst(conn, now_ms);
		tcp_finish(conn, 0);
		break;
	case STACK_TCP_ESTABLISHED:
	case STACK_TCP_CLOSE_WAIT:
		tcp_queue_fin(conn, now_ms);
		break;
	case STACK_TCP_FIN_WAIT_2:
		/* Orphaned: do not wait forever for the peer's FIN. */
		if (conn->tw_deadline == STACK_NEVER)
			conn->tw_deadline = now_ms + 2 * (uint64_t)st->cfg.tcp_msl_ms;
		break;
	default:
		break;
	}
	stack_leave(st);
}

void stack_tcp_abort(struct stack_tcp *conn, uint64_t now_ms)
{
	struct stack *st;

	if (!conn)
		return;
	st = conn->st;
	stack_enter(st);
	conn->user = false;
	conn->released = true;
	if (conn->state == STACK_TCP_LISTEN) {
		tcp_close_listener(conn, now_ms);
	} else {
		tcp_send_rst(conn, now_ms);
		tcp_finish(conn, 0);
	}
	stack_leave(st);
}

enum stack_tcp_state stack_tcp_get_state(const struct stack_tcp *conn)
{
	return conn->state;
}

void stack_tcp_get_info(const struct stack_tcp *conn, struct stack_tcp_info *out)
{
	memset(out, 0, sizeof(*out));
	out->local_addr = conn->laddr;
	out->remote_addr = conn->raddr;
	out->local_port = conn->lport;
	out->remote_port = conn->rport;
	out->state = conn->state;
	out->send_queued = conn->tx_len;
	out->rto_ms = conn->rto;
	out->retries = conn->retries;
	out->user_attached = conn->user;
}

void stack_tcp_walk(const struct stack *st, stack_tcp_walk_fn fn, void *ud)
{
	for (const struct stack_tcp *pcb = st->tcp.list; pcb; pcb = pcb->next) {
		struct stack_tcp_info info;

		if (pcb->dead)
			continue;
		stack_tcp_get_info(pcb, &info);
		fn(&info, ud);
	}
}
