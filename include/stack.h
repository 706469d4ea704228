/* stack.h — rootwalk's userspace TCP/IP stack for raw mode.
 *
 * One Ethernet interface, IPv4 only: ARP, IPv4 (no fragments), ICMP echo
 * and errors, UDP sockets and TCP connections (RFC 9293).  The stack does
 * no I/O and reads no clock: frames come in through stack_input(), go out
 * through the output function given to stack_new(), and time is the now_ms
 * argument of every call.  stack_poll() runs the timers and returns the next
 * deadline, for a uv_timer_t (see stack_uv_* at the end of this file).
 *
 * Addresses and ports are in host byte order throughout this interface.
 * All calls return 0 (or a count) on success and -errno on failure.
 *
 * Callbacks run from inside stack_input() and stack_poll().  They may call
 * any stack function except stack_free(), stack_input() and stack_poll(),
 * including closing or aborting the handle they were called for: PCBs are
 * freed only when the outermost stack call returns.
 *
 * Raw mode is IPv4 only; the kernel's IPv6 chatter on the link is dropped
 * and counted (STACK_DROP_ETH_NOT_US / _ETH_TYPE). */
#ifndef RW_STACK_H
#define RW_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stack;
struct stack_udp;
struct stack_tcp;

#define STACK_NEVER UINT64_MAX /* stack_poll(): no timer pending */

/* Configuration.  Fill with stack_cfg_default() and then change fields. */
struct stack_cfg {
	uint8_t mac[6];          /* all zero: random locally administered */
	uint32_t addr;           /* our IPv4 address */
	uint8_t prefix_len;      /* on-link prefix length, 1..32 */
	uint32_t gateway;        /* next hop off-link; 0: on-link only */
	uint16_t mtu;            /* IP MTU, 576..9000 */
	unsigned pkt_count;      /* packet buffers in the pool (outbound) */
	unsigned arp_entries;    /* ARP cache slots */
	unsigned arp_queue;      /* packets held per unresolved next hop */
	uint32_t arp_ttl_ms;     /* lifetime of a resolved entry */
	uint32_t arp_retry_ms;   /* between ARP requests */
	unsigned arp_retries;    /* requests sent before giving up */
	uint32_t icmp_rate;      /* ICMP errors per second (token bucket) */
	uint32_t icmp_burst;     /* token bucket depth */
	unsigned udp_max_socks;  /* bound on open UDP sockets */
	unsigned tcp_max_conns;  /* bound on the connection table */
	uint32_t tcp_sndbuf;     /* send buffer per connection, bytes */
	uint32_t tcp_rcvbuf;     /* receive window, bytes (<= 65535) */
	unsigned tcp_ooo_max;    /* out-of-order segments held per connection */
	uint32_t tcp_rto_init_ms;
	uint32_t tcp_rto_min_ms;
	uint32_t tcp_rto_max_ms;
	unsigned tcp_max_retries; /* retransmissions of one segment, then abort */
	uint32_t tcp_msl_ms;     /* TIME_WAIT lasts 2 * MSL */
	uint32_t tcp_delack_ms;  /* delayed ACK; 0 acknowledges at once */
};

void stack_cfg_default(struct stack_cfg *cfg);

/* Called for every frame the stack sends (a complete Ethernet frame).
 * Returns 0, or -errno when the frame was not sent (counted as a drop). */
typedef int (*stack_output_fn)(void *ud, const uint8_t *frame, size_t len);

/* Creates a stack; *out is NULL on failure. */
int stack_new(const struct stack_cfg *cfg, stack_output_fn output, void *ud,
	      struct stack **out);
/* Frees the stack and every socket and connection still open, without
 * sending anything and without calling callbacks. */
void stack_free(struct stack *st);

/* Announces our address (gratuitous ARP).  Call once the link is up. */
int stack_start(struct stack *st, uint64_t now_ms);
/* One received Ethernet frame; the stack does not keep the pointer. */
void stack_input(struct stack *st, const uint8_t *frame, size_t len, uint64_t now_ms);
/* Runs due timers; returns the absolute time of the next one, or STACK_NEVER. */
uint64_t stack_poll(struct stack *st, uint64_t now_ms);

void stack_get_mac(const struct stack *st, uint8_t mac[6]);

/* ---- counters ---- */

enum stack_drop {
	STACK_DROP_ETH_SHORT,      /* frame shorter than an Ethernet header */
	STACK_DROP_ETH_NOT_US,     /* destination neither our MAC nor broadcast */
	STACK_DROP_ETH_TYPE,       /* EtherType we do not speak (IPv6, VLAN...) */
	STACK_DROP_ARP_MALFORMED,
	STACK_DROP_ARP_NOT_US,     /* request for someone else's address */
	STACK_DROP_ARP_QUEUE_FULL, /* too many packets awaiting resolution */
	STACK_DROP_ARP_GIVEUP,     /* next hop never answered */
	STACK_DROP_ARP_NO_ENTRY,   /* cache full of unresolved entries */
	STACK_DROP_IP_SHORT,
	STACK_DROP_IP_VERSION,
	STACK_DROP_IP_HDRLEN,
	STACK_DROP_IP_CSUM,
	STACK_DROP_IP_LEN,         /* total length inconsistent with the frame */
	STACK_DROP_IP_FRAG,        /* fragments are not reassembled */
	STACK_DROP_IP_NOT_US,
	STACK_DROP_IP_PROTO,
	STACK_DROP_IP_NO_ROUTE,
	STACK_DROP_IP_TOO_BIG,     /* outbound larger than the MTU */
	STACK_DROP_ICMP_SHORT,
	STACK_DROP_ICMP_CSUM,
	STACK_DROP_ICMP_TYPE,      /* types we do not act on */
	STACK_DROP_ICMP_RATELIMIT, /* error not sent: bucket empty */
	STACK_DROP_UDP_SHORT,
	STACK_DROP_UDP_LEN,
	STACK_DROP_UDP_CSUM,
	STACK_DROP_UDP_NO_PORT,
	STACK_DROP_TCP_SHORT,
	STACK_DROP_TCP_HDRLEN,
	STACK_DROP_TCP_CSUM,
	STACK_DROP_TCP_NO_CONN,    /* answered with RST (unless it was one) */
	STACK_DROP_TCP_BACKLOG,    /* SYN while the listener's backlog is full */
	STACK_DROP_TCP_OUT_OF_WINDOW,
	STACK_DROP_TCP_OOO_FULL,   /* out-of-order queue full */
	STACK_DROP_TCP_BAD_ACK,
	STACK_DROP_NOMEM,          /* packet pool or table exhausted */
	STACK_DROP_TX_ERROR,       /* output function failed */
	STACK_DROP_MAX
};

const char *stack_drop_name(enum stack_drop reason);

struct stack_stats {
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
	uint64_t arp_in, arp_out, ip_in, ip_out;
	uint64_t icmp_in, icmp_out, udp_in, udp_out, tcp_in, tcp_out;
	uint64_t tcp_active_opens, tcp_passive_opens, tcp_retransmits;
	uint64_t tcp_resets_out, tcp_resets_in, tcp_timeouts;
	uint64_t tcp_tw_recycled; /* TIME_WAIT PCBs given up to a full table */
	uint64_t drops[STACK_DROP_MAX];
};

void stack_get_stats(const struct stack *st, struct stack_stats *out);

/* ---- ARP table ---- */

struct stack_arp_info {
	uint32_t addr;
	uint8_t mac[6];
	bool resolved;       /* false: request outstanding */
	unsigned queued;     /* packets waiting for it */
	uint64_t expires_ms; /* resolved: expiry; else next retry */
};

typedef void (*stack_arp_walk_fn)(const struct stack_arp_info *info, void *ud);
void stack_arp_walk(const struct stack *st, stack_arp_walk_fn fn, void *ud);

/* ---- UDP ---- */

typedef void (*stack_udp_recv_fn)(struct stack_udp *sock, const uint8_t *data, size_t len,
				  uint32_t src_addr, uint16_t src_port, void *ud);

/* Binds a socket to port (0: a random free ephemeral port, 1024-65535,
 * chosen with rnd.h).  -EADDRINUSE, -ENOBUFS (udp_max_socks reached). */
int stack_udp_open(struct stack *st, uint16_t port, stack_udp_recv_fn recv, void *ud,
		   struct stack_udp **out);
uint16_t stack_udp_port(const struct stack_udp *sock);
/* -EMSGSIZE beyond the MTU, -EHOSTUNREACH without a route, -ENOBUFS. */
int stack_udp_sendto(struct stack_udp *sock, const void *data, size_t len,
		     uint32_t dst_addr, uint16_t dst_port, uint64_t now_ms);
void stack_udp_close(struct stack_udp *sock);

/* ---- TCP ---- */

enum stack_tcp_state {
	STACK_TCP_CLOSED,
	STACK_TCP_LISTEN,
	STACK_TCP_SYN_SENT,
	STACK_TCP_SYN_RECEIVED,
	STACK_TCP_ESTABLISHED,
	STACK_TCP_FIN_WAIT_1,
	STACK_TCP_FIN_WAIT_2,
	STACK_TCP_CLOSE_WAIT,
	STACK_TCP_CLOSING,
	STACK_TCP_LAST_ACK,
	STACK_TCP_TIME_WAIT,
};

const char *stack_tcp_state_name(enum stack_tcp_state state);

/* Events of one connection.  Any may be NULL.
 *  accept:    (listeners) a new connection reached ESTABLISHED; it starts
 *             with the listener's callbacks and ud (change them with
 *             stack_tcp_set_cbs).
 *  connected: an active open completed.
 *  recv:      in-order data; len 0 means the peer closed its side (FIN).
 *             The data is consumed when the callback returns.
 *  sent:      `acked` bytes left the send buffer (room to write more).
 *  closed:    the connection is over for the user: err 0 once both FINs
 *             are exchanged (the PCB may linger in TIME_WAIT on its own),
 *             else -ECONNRESET, -ECONNREFUSED, -ETIMEDOUT.  The handle is
 *             invalid after this returns.  Not called after
 *             stack_tcp_close() or stack_tcp_abort().
 * Flow control: data is handed over as it arrives and the receive window
 * stays open (a resolver reads whole messages); there is no "stop
 * reading" call yet. */
struct stack_tcp_cbs {
	void (*accept)(struct stack_tcp *listener, struct stack_tcp *conn, void *ud);
	void (*connected)(struct stack_tcp *conn, void *ud);
	void (*recv)(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud);
	void (*sent)(struct stack_tcp *conn, size_t acked, void *ud);
	void (*closed)(struct stack_tcp *conn, int err, void *ud);
};

int stack_tcp_listen(struct stack *st, uint16_t port, unsigned backlog,
		     const struct stack_tcp_cbs *cbs, void *ud, struct stack_tcp **out);
/* Active open from local port sport (0: random ephemeral). */
int stack_tcp_connect(struct stack *st, uint32_t dst_addr, uint16_t dst_port, uint16_t sport,
		      const struct stack_tcp_cbs *cbs, void *ud, struct stack_tcp **out,
		      uint64_t now_ms);
void stack_tcp_set_cbs(struct stack_tcp *conn, const struct stack_tcp_cbs *cbs, void *ud);
/* Queues data; returns the number of bytes taken (possibly less than len,
 * 0 when the send buffer is full), or -ENOTCONN / -EPIPE. */
ssize_t stack_tcp_send(struct stack_tcp *conn, const void *data, size_t len, uint64_t now_ms);
size_t stack_tcp_send_space(const struct stack_tcp *conn);
/* Half-close: a FIN follows the queued data; receiving goes on. */
int stack_tcp_shutdown(struct stack_tcp *conn, uint64_t now_ms);
/* Releases the handle: orderly close (FIN after queued data) that the stack
 * finishes on its own.  No callback is called for it afterwards.  A
 * listener stops listening. */
void stack_tcp_close(struct stack_tcp *conn, uint64_t now_ms);
/* Releases the handle and resets the connection (RST). */
void stack_tcp_abort(struct stack_tcp *conn, uint64_t now_ms);
enum stack_tcp_state stack_tcp_get_state(const struct stack_tcp *conn);

struct stack_tcp_info {
	uint32_t local_addr, remote_addr;
	uint16_t local_port, remote_port;
	enum stack_tcp_state state;
	uint32_t send_queued;  /* bytes not yet acknowledged */
	uint32_t rto_ms;
	unsigned retries;
	bool user_attached;    /* false: finishing after stack_tcp_close */
};

void stack_tcp_get_info(const struct stack_tcp *conn, struct stack_tcp_info *out);
/* Every connection and listener, for a netstat-like listing. */
typedef void (*stack_tcp_walk_fn)(const struct stack_tcp_info *info, void *ud);
void stack_tcp_walk(const struct stack *st, stack_tcp_walk_fn fn, void *ud);

/* ---- libuv glue (stack_uv.c) ----
 * Runs a stack on a TAP device inside a uv_loop: the TAP fd is polled and
 * every frame fed to stack_input(); stack_poll()'s deadline drives a
 * uv_timer; output frames are written to the fd. */

#include <uv.h>

struct stack_uv;

/* Fault injection at the TAP boundary, both directions (tests only).
 * Probabilities in [0, 1]; the generator is seeded, so runs repeat. */
struct stack_faults {
	double drop;      /* frame lost */
	double duplicate; /* frame delivered twice */
	double reorder;   /* frame held back and delivered after the next one */
	uint32_t seed;
};

/* Opens (creating if needed) TAP device ifname, sets it up with cfg->mtu,
 * and starts a stack on it in loop. */
int stack_uv_open(uv_loop_t *loop, const char *ifname, const struct stack_cfg *cfg,
		  struct stack_uv **out);
struct stack *stack_uv_stack(struct stack_uv *su);
void stack_uv_set_faults(struct stack_uv *su, const struct stack_faults *faults);
/* Stops the handles; the stack and fd are freed once libuv has closed them
 * (run the loop once more).  on_closed may be NULL. */
void stack_uv_close(struct stack_uv *su, void (*on_closed)(void *ud), void *ud);

#endif
