/* rrl.h — response rate limiting per client prefix (optional, off by
 * default), in the spirit of BIND's RRL and Knot's rrl module.
 *
 * Why: a UDP source address can be forged, so an open port 53 can be used
 * to flood a victim with our answers (reflection, amplification).  Each
 * client prefix (IPv4 /24, IPv6 /56 by default) gets a token bucket of
 * responses per second, one second deep.  Over the limit a response is
 * dropped, except every slip-th one, which goes out as an empty truncated
 * reply (TC=1): a real client behind that prefix then retries over TCP,
 * which a forger cannot do.  TCP is never limited (the caller does not ask).
 *
 * The table is bounded (table_size entries, allocated once): a prefix not
 * in it takes the slot of the least recently seen prefix of its set (8
 * slots chosen by a keyed hash, so a forger cannot aim at one set).  It
 * is shared by every worker thread: each set is guarded by one of a
 * fixed number of striped mutexes, held only while one bucket is
 * updated; there is no table-wide lock.  Time is the caller's now_ms. */
#ifndef RW_RRL_H
#define RW_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

struct rrl;

struct rrl_opts {
	uint32_t responses_per_second; /* bucket refill and depth; > 0 */
	uint32_t slip;                 /* every slip-th limited reply is sent TC=1; 0: none */
	uint32_t ipv4_prefix;          /* 0..32 */
	uint32_t ipv6_prefix;          /* 0..128 */
	uint32_t table_size;           /* most prefixes remembered; >= 1 */
};

enum rrl_verdict {
	RRL_SEND = 0, /* within the rate: send the response */
	RRL_DROP = 1, /* over it: send nothing */
	RRL_SLIP = 2, /* over it: send rrl_slip_reply() instead */
};

/* A table for o, or NULL (bad options or out of memory). */
struct rrl *rrl_new(const struct rrl_opts *o);
/* The table the config asks for: 0 and *out = NULL when RRL is off
 * (rrl-responses-per-second 0), 0 and a table, or -ENOMEM. */
int rrl_new_from_config(const struct config *cfg, struct rrl **out);
/* No other thread may use t any more. NULL is fine. */
void rrl_free(struct rrl *t);

/* Count one UDP response to client at now_ms and say what to do with it.
 * Thread-safe.  An address of another family than AF_INET/AF_INET6 is
 * never limited; a v4-mapped IPv6 address counts as its IPv4 client. */
enum rrl_verdict rrl_check(struct rrl *t, const struct sockaddr *client, uint64_t now_ms);

/* The slipped form of a response: its header and question, TC set, no
 * records.  Returns the length written to out, or 0 if resp has no
 * well-formed uncompressed question or out is too small.  RRL_SLIP_MAX
 * always suffices (header + a 255-byte name + type and class). */
#define RRL_SLIP_MAX (12 + 255 + 4)
size_t rrl_slip_reply(const uint8_t *resp, size_t len, uint8_t *out, size_t cap);

/* Slots in the table (table_size rounded down to whole sets, at least 1)
 * and prefixes held now (locks each stripe in turn: for tests and stats,
 * not for the packet path). */
size_t rrl_capacity(const struct rrl *t);
size_t rrl_entries(struct rrl *t);

#endif
