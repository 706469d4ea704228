/* infra.h — what we know about upstream servers, by address.
 *
 * Smoothed RTT and RTO per RFC 6298 (as Unbound does), timeouts with
 * exponential back-off so dead servers are skipped, lameness per (server,
 * zone), and behaviour flags (EDNS, 0x20 case preservation, TCP only).
 * Entries expire after `ttl_ms` so a server gets a fresh chance; the table
 * is bounded by max_entries (least recently used evicted).  Every call takes
 * now_ms.
 *
 * Thread-safe: workers share one infra; every call takes its mutex (even a
 * lookup, which moves the entry up the LRU list).  infra_walk() holds it
 * while the callback runs, so the callback must not call infra. */
#ifndef RW_INFRA_H
#define RW_INFRA_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct infra;

#define INFRA_INITIAL_RTO_MS 376u  /* unknown server: as Unbound */
#define INFRA_MAX_RTO_MS 12000u    /* back-off stops here */
#define INFRA_PROBE_DOWN_MS 120000u /* a server timed out >= this RTO is "down" */

struct infra_info {
	uint32_t srtt_ms;   /* smoothed RTT, 0 if never measured */
	uint32_t rttvar_ms;
	uint32_t rto_ms;    /* timeout to use for the next query */
	uint32_t timeouts;  /* consecutive timeouts */
	bool edns_broken;   /* answered FORMERR/garbage to EDNS queries */
	bool caps_broken;   /* does not preserve 0x20 case: use TCP */
	bool tcp_only;      /* always truncates over UDP */
	uint64_t queries, replies;
};

struct infra *infra_new(size_t max_entries, uint32_t ttl_ms);
void infra_free(struct infra *inf);

/* Timeout to use for a query to addr now (INFRA_INITIAL_RTO_MS if unknown). */
uint32_t infra_rto(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);
/* True when the server is backed off (timed out repeatedly) and should only
 * be tried when nothing better is left. */
bool infra_is_down(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);

void infra_note_rtt(struct infra *inf, const struct sockaddr *addr, uint32_t rtt_ms, uint64_t now_ms);
void infra_note_timeout(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);

/* Blocked ("dead"): no reply for INFRA_BLOCK_SILENCE_MS over at least
 * INFRA_BLOCK_TIMEOUTS timeouts in a row, and no probe due: do not ask it,
 * fail fast (Unbound's blocked servers in infra_get_lame_rtt). */
bool infra_is_blocked(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);
/* Call right before sending to addr.  False if it is blocked; true if not,
 * or if it is blocked but its probe is due, which this call then takes: one
 * query per server per probe interval (min(RTO, INFRA_PROBE_INTERVAL_MS))
 * goes through, so a server that comes back is noticed quickly. */
bool infra_claim_query(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);
/* Blocked, whether or not its probe is due: the evidence alone.  A query
 * that already probed it need not try it again. */
bool infra_is_silent(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms);
/* 8 timeouts in a row over 1 s: a server losing a third of its queries
 * does that about once in 6500 queries; a dead one under load in 1 s. */
#define INFRA_BLOCK_TIMEOUTS 8u
#define INFRA_BLOCK_SILENCE_MS 1000u
#define INFRA_PROBE_INTERVAL_MS 1000u

/* Everything server selection asks about one server, under one lock and
 * one lookup (the iterator asked four calls per address before). */
struct infra_sel {
	uint32_t rto_ms;   /* as infra_rto() */
	bool down;         /* as infra_is_down() */
	bool lame;         /* as infra_is_lame() for zone */
	bool blocked;      /* as infra_is_blocked() */
};
void infra_select_info(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone,
		       uint64_t now_ms, struct infra_sel *out);

/* Lameness is per (server, zone). */
void infra_note_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone, uint64_t now_ms);
bool infra_is_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone, uint64_t now_ms);

enum infra_flag { INFRA_EDNS_BROKEN = 1, INFRA_CAPS_BROKEN = 2, INFRA_TCP_ONLY = 4 };
void infra_set_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f, uint64_t now_ms);
bool infra_has_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f, uint64_t now_ms);

/* Returns 1 and fills *out if the server is known. */
int infra_get(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms, struct infra_info *out);

/* addr NULL flushes all; returns entries removed. */
size_t infra_flush(struct infra *inf, const struct sockaddr *addr);
size_t infra_count(const struct infra *inf);

typedef int (*infra_walk_fn)(void *ud, const struct sockaddr *addr, const struct infra_info *info);
void infra_walk(struct infra *inf, uint64_t now_ms, infra_walk_fn fn, void *ud);

/* ---- Additions by the infra module (not part of the first contract) ----
 *
 * RTO floor: RFC 6298's 1 s is for TCP over the Internet; DNS servers
 * answer in milliseconds and 50 ms (also Unbound's) rides out jitter. */
#define INFRA_MIN_RTO_MS 50u
/* infra_is_down(): at least this many consecutive timeouts AND the RTO
 * backed off to INFRA_MAX_RTO_MS.  A down server stays down for
 * INFRA_PROBE_DOWN_MS after its last timeout, then may be probed again
 * (the RTO cap makes the literal "RTO >= INFRA_PROBE_DOWN_MS" unreachable,
 * so the constant is used as this probe interval). */
#define INFRA_DOWN_TIMEOUTS 3u
/* Lame zones remembered per server; the one nearest expiry makes room. */
#define INFRA_MAX_LAME_ZONES 8u

/* Notes on the contract above, as implemented:
 * - RTT state, timeouts and flags live ttl_ms from when the entry was
 *   created (or renewed after expiry) and are not extended by later
 *   events; each lame (server, zone) record lives ttl_ms from when it was
 *   (last) noted, independently of the RTT state.
 * - infra_info.queries counts noted outcomes: replies + timeouts.
 * - IPv4-mapped IPv6 addresses share the IPv4 address's entry.
 * - infra_count() counts entries held, including ones whose lifetime
 *   ended but that are not reclaimed yet (it takes no clock).
 * - infra_walk() goes most recently used first, skips expired entries;
 *   the callback must not modify the table.  max_entries 0 means 1. */

#endif
