/* server.h — the client-facing side: listeners, framing, access control.
 *
 * UDP and TCP listeners on every configured address (RFC 7766 TCP: 2-byte
 * length framing, many queries per connection answered as they finish,
 * idle timeout, a connection limit).  Each datagram or framed message is
 * checked against the ACL (deny: drop; refuse: REFUSED), parsed with
 * msg_parse_query (malformed: FORMERR/NOTIMP/... answered here), and only a
 * valid, allowed query reaches the callback.  The callback must later call
 * server_reply() or server_drop() exactly once for that client. */
#ifndef RW_SERVER_H
#define RW_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "msg.h"

struct net;
struct server;
struct server_client; /* where one reply goes: a UDP peer or a TCP connection */

typedef void (*server_query_fn)(void *ud, struct server_client *c,
				const struct msg_query *q);

struct server_stats {
	uint64_t udp_queries, tcp_queries;
	uint64_t dropped, formerr, notimp, refused, badvers; /* answered here */
	uint64_t acl_denied, acl_refused;
	uint64_t tcp_accepted, tcp_rejected_limit, tcp_idle_closed;
	uint64_t tcp_open;
	uint64_t replies, truncated;
	/* Added: connections closed because the client let more than 256 KiB
	 * of answers pile up unread. */
	uint64_t tcp_slow_closed;
	/* Added: UDP replies over the client prefix's rate (rrl.h), dropped
	 * or sent in their slipped (empty, TC=1) form. */
	uint64_t rrl_dropped, rrl_slipped;
};
/* Added, what the counters mean: udp_queries/tcp_queries count every
 * datagram/frame received; dropped counts messages the parser would not
 * answer (short, QR=1); formerr..badvers count errors answered here (the
 * ACL's REFUSED goes to acl_refused instead); acl_denied counts datagrams
 * and connections; replies counts every message sent (callback replies
 * and errors), truncated those with TC set. */

/* Kernel sockets (a transport of its own, freed with the server). */
struct server *server_new(uv_loop_t *loop, const struct config *cfg,
			  server_query_fn fn, void *ud);
/* Listeners through net (transport.h), which must outlive the server;
 * NULL net: as server_new.  Raw mode has one IPv4 address: net says where
 * each listen entry binds, entries it cannot serve are skipped with a
 * warning and an address bound twice is served once. */
struct server *server_new_net(uv_loop_t *loop, struct net *net, const struct config *cfg,
			      server_query_fn fn, void *ud);
/* Bind and start every listener. 0 ok; -errno with a logged message
 * (-EADDRNOTAVAIL when the transport can serve none of them). */
int server_start(struct server *s);
/* Close listeners and connections; pending clients are dropped. */
void server_stop(struct server *s);
void server_free(struct server *s);

/* Send a reply built for this client (wire, len) and release the client. */
void server_reply(struct server_client *c, const uint8_t *wire, size_t len);
/* Release without answering. */
void server_drop(struct server_client *c);

bool server_client_is_tcp(const struct server_client *c);
/* Largest response this client can take (UDP: EDNS/512 capped by
 * max-udp-size; TCP 65535). */
size_t server_client_max_len(const struct server_client *c, const struct msg_query *q);
/* Peer address, for logs. */
const struct sockaddr *server_client_addr(const struct server_client *c);

void server_get_stats(const struct server *s, struct server_stats *st);

/* Added: limit UDP replies with this response-rate table (rrl.h; NULL:
 * off).  Borrowed: it must outlive the server; several servers (one per
 * worker thread) may share one table. */
struct rrl;
void server_set_rrl(struct server *s, struct rrl *rrl);

/* Added, the teardown contract: server_stop() closes every handle (replies
 * to clients still held are then discarded, not sent); the memory goes
 * when both server_free() has been called and the loop has run the close
 * callbacks, in either order.  Release (server_drop) every client before
 * server_free(): a client still held after it is invalid.  server_new()
 * also sets msg_set_edns_size(cfg->max_udp_size). */

#endif
