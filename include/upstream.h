/* upstream.h — queries to authoritative servers, over UDP and TCP.
 *
 * One call sends one question to one server and calls back once: with a
 * reply that passed every anti-spoofing check, or with a failure.  Each
 * query gets a fresh 16-bit ID and a fresh UDP source port from the CSPRNG
 * (RFC 5452) and a 0x20 mixed-case name.  A reply is accepted only when
 * source address and port, ID and question (name with its exact case,
 * type, class) all match; anything else is counted and ignored.  A
 * near-miss (right port/ID, wrong case) is never accepted: the query is
 * re-asked over TCP and infra remembers the server as caps-broken.
 * TC=1 over UDP is retried over TCP.  EDNS0 with edns_buffer_size is sent;
 * RD is clear.  Server RTTs and timeouts go to infra. */
#ifndef RW_UPSTREAM_H
#define RW_UPSTREAM_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "infra.h"

struct net;
struct upstream;
struct upstream_query;

struct upstream_opts {
	uint32_t edns_buffer_size;  /* 1232 */
	uint32_t tcp_timeout_ms;    /* outgoing-tcp-timeout */
	bool use_caps_for_id;       /* 0x20 */
};

enum upstream_status {
	UPSTREAM_OK = 0,
	UPSTREAM_TIMEOUT = 1,   /* no acceptable reply within the timeout */
	UPSTREAM_NETERR = 2,    /* could not send / connection refused / reset */
	UPSTREAM_BADREPLY = 3,  /* the server answered garbage (unparseable) */
};

struct upstream_stats {
	uint64_t sent_udp, sent_tcp, tcp_fallbacks, timeouts;
	uint64_t replies, mismatched; /* mismatched: wrong id/question/source: ignored */
	uint64_t near_misses;         /* right id, wrong 0x20 case */
	uint64_t in_flight;
};

/* status UPSTREAM_OK: resp is the parsed reply, owned by the callee (the
 * callback must take or free it).  Otherwise resp is NULL.  rtt_ms is the
 * time from send to reply. */
typedef void (*upstream_cb)(void *ud, enum upstream_status status,
			    ldns_pkt *resp, uint32_t rtt_ms);

/* Lifetime rules (upstream.c relies on them):
 * - The callback always runs from the loop, never from inside
 *   upstream_send, and at most once; it may call upstream_send,
 *   upstream_cancel on other queries, or upstream_free.
 * - A query handle is valid until its callback starts or it is cancelled;
 *   do not touch it afterwards.
 * - upstream_free returns at once, but the queries' libuv handles close on
 *   the loop: keep running the loop (uv_run until it is empty) before
 *   uv_loop_close, or their memory is not released.
 * - Servers that infra flags INFRA_CAPS_BROKEN or INFRA_TCP_ONLY are asked over
 *   TCP from the start; 0x20 case stays on for every server. */
struct upstream *upstream_new(uv_loop_t *loop, struct infra *infra,
			      const struct upstream_opts *opts);
/* The same, with queries going out through net (transport.h: kernel
 * sockets or the raw-mode stack), which must stay until upstream_free()
 * and the loop run after it; upstream_new() makes a kernel transport of
 * its own. */
struct upstream *upstream_new_net(uv_loop_t *loop, struct net *net, struct infra *infra,
				  const struct upstream_opts *opts);
/* Cancels every query still running (their callbacks are not called) and
 * frees once libuv has closed the handles. */
void upstream_free(struct upstream *u);

/* Send qname/qtype/qclass to addr.  timeout_ms applies to UDP; TCP uses
 * max(timeout_ms, tcp_timeout_ms).  Returns NULL only if the query could
 * not even be started (the callback is then not called). */
struct upstream_query *upstream_send(struct upstream *u, const struct sockaddr *addr,
				     const ldns_rdf *qname, ldns_rr_type qtype,
				     ldns_rr_class qclass, uint32_t timeout_ms,
				     bool tcp, upstream_cb cb, void *ud);
/* Stop a query; its callback will not be called. */
void upstream_cancel(struct upstream_query *q);

void upstream_get_stats(const struct upstream *u, struct upstream_stats *st);

#endif
