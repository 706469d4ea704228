/* infra.c — what we know about upstream servers (see infra.h).
 *
 * One entry per server address (family, address, port; IPv6 also scope),
 * in a SipHash-keyed chained table (server addresses come from
 * delegations anyone can publish, hence a keyed hash, cache_siphash.h) and
 * on an exact LRU list.  Exact LRU, unlike the RRset cache's CLOCK: infra
 * is touched once per upstream query, not per client answer, and holds a
 * few thousand entries, so relinking on use costs nothing that matters.
 *
 * Lifetimes.  An entry's RTT state, timeouts and flags live for ttl_ms
 * from the moment they were first recorded and are not extended by later
 * events (as Unbound's infra-host-ttl): so a server we marked dead, or
 * EDNS-broken, is retried from scratch after ttl_ms even if we kept
 * talking about it.  Lameness is per (server, zone) and each record keeps
 * its own expiry (noted + ttl_ms), surviving the reset of the RTT state.
 *
 * RTT estimation follows RFC 6298 with the clock in microseconds so that
 * the 1/8 and 1/4 gains do not lose whole milliseconds to truncation.
 * Replies to retransmissions are not ambiguous in DNS (each try carries a
 * new ID), so every noted RTT is a valid sample: Karn's rule is moot. */
#include "infra.h"
#include "cache_siphash.h"
#include "log.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_BUCKETS 64u
#define NAME_WIRE_MAX 255

/* Normalised address: compared and hashed as plain bytes. */
struct ikey {
	uint16_t family;
	uint16_t port;      /* network order, as in the sockaddr */
	uint32_t scope;     /* IPv6 scope id; 0 otherwise */
	uint8_t addr[16];
};

struct lame {
	struct lame *next;
	uint64_t expiry_ms;
	uint8_t len;
	uint8_t zone[];     /* lowercased wire name */
};

struct ientry {
	struct ientry *chain;        /* hash bucket */
	struct ientry *prev, *next;  /* LRU: head is the most recently used */
	uint64_t hash;
	struct ikey key;
	uint64_t expiry_ms;          /* RTT state and flags are forgotten then */
	uint64_t last_timeout_ms;
	uint64_t last_backoff_ms;  /* when the RTO was last doubled */
	uint64_t streak_start_ms;  /* first timeout since the last reply */
	uint64_t last_probe_ms;    /* last query let through while blocked */
	uint64_t srtt_us, rttvar_us;
	uint32_t rto_ms, timeouts;
	uint64_t queries, replies;
	bool measured;
	uint8_t flags;               /* enum infra_flag bits */
	uint8_t nlame;
	struct lame *lame;
};

struct infra {
	pthread_mutex_t lock;      /* every public call; workers share one infra */
	struct ientry **table;
	size_t nbuckets, count, max_entries;
	struct ientry *head, *tail;
	uint32_t ttl_ms;
	struct siphash_key key;
};

/* ---- keys ----------------------------------------------------------- */

/* IPv4-mapped IPv6 addresses are the IPv4 server: one entry for both. */
static int key_from_sockaddr(struct ikey *k, const struct sockaddr *sa)
{
	memset(k, 0, sizeof(*k));
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		k->family = AF_INET;
		k->port = in->sin_port;
		memcpy(k->addr, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		k->port = in6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			k->family = AF_INET;
			memcpy(k->addr, &in6->sin6_addr.s6_addr[12], 4);
			return 0;
		}
		k->family = AF_INET6;
		k->scope = in6->sin6_scope_id;
		memcpy(k->addr, &in6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static void key_to_sockaddr(const struct ikey *k, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = k->port;
		memcpy(&in->sin_addr, k->addr, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = k->port;
		in6->sin6_scope_id = k->scope;
		memcpy(&in6->sin6_addr, k->addr, 16);
	}
}

static uint64_t key_hash(const struct infra *inf, const struct ikey *k)
{
	uint64_t prefix = (uint64_t)k->family | (uint64_t)k->port << 16 |
			  (uint64_t)k->scope << 32;

	return siphash13(&inf->key, prefix, k->addr, k->family == AF_INET ? 4 : 16);
}

/* Lowercased copy of a valid, uncompressed wire name; 0 or -1. */
static int zone_lower(const ldns_rdf *zone, uint8_t *out, size_t *len)
{
	const uint8_t *w;
	size_t n, pos = 0;

	if (!zone || ldns_rdf_get_type(zone) != LDNS_RDF_TYPE_DNAME)
		return -1;
	w = ldns_rdf_data(zone);
	n = ldns_rdf_size(zone);
	if (n == 0 || n > NAME_WIRE_MAX)
		return -1;
	while (w[pos] != 0) {
		if (w[pos] > 63 || pos + 1 + w[pos] >= n)
			return -1;
		pos += 1u + w[pos];
	}
	if (pos != n - 1)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(w[i] - 'A') < 26u ? (uint8_t)(w[i] + 32) : w[i];
	*len = n;
	return 0;
}

/* ---- table and LRU -------------------------------------------------- */

static void lru_unlink(struct infra *inf, struct ientry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		inf->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		inf->tail = e->prev;
}

static void lru_push_head(struct infra *inf, struct ientry *e)
{
	e->prev = NULL;
	e->next = inf->head;
	if (inf->head)
		inf->head->prev = e;
	else
		inf->tail = e;
	inf->head = e;
}

static struct ientry *table_find(struct infra *inf, const struct ikey *k)
{
	uint64_t h = key_hash(inf, k);
	struct ientry *e = inf->table[h & (inf->nbuckets - 1)];

	for (; e; e = e->chain)
		if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	return NULL;
}

/* Find and mark as used. */
static struct ientry *find(struct infra *inf, const struct sockaddr *addr)
{
	struct ikey k;
	struct ientry *e;

	if (!inf || key_from_sockaddr(&k, addr) < 0)
		return NULL;
	e = table_find(inf, &k);
	if (e && e != inf->head) {
		lru_unlink(inf, e);
		lru_push_head(inf, e);
	}
	return e;
}

static void table_grow(struct infra *inf)
{
	size_t n = inf->nbuckets * 2;
	struct ientry **t = calloc(n, sizeof(*t));

	if (!t)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < inf->nbuckets; i++) {
		struct ientry *e = inf->table[i], *next;

		for (; e; e = next) {
			next = e->chain;
			e->chain = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
		}
	}
	free(inf->table);
	inf->table = t;
	inf->nbuckets = n;
}

static void lame_free_all(struct ientry *e)
{
	struct lame *l = e->lame, *next;

	for (; l; l = next) {
		next = l->next;
		free(l);
	}
	e->lame = NULL;
	e->nlame = 0;
}

static void entry_remove(struct infra *inf, struct ientry *e)
{
	struct ientry **pp = &inf->table[e->hash & (inf->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lru_unlink(inf, e);
	lame_free_all(e);
	free(e);
	inf->count--;
}

static bool state_known(const struct ientry *e, uint64_t now_ms)
{
	return now_ms < e->expiry_ms;
}

/* Forget RTT, timeouts and flags; start a new lifetime.  Lameness stays. */
static void state_reset(const struct infra *inf, struct ientry *e, uint64_t now_ms)
{
	e->expiry_ms = now_ms + inf->ttl_ms;
	e->last_timeout_ms = 0;
	e->streak_start_ms = e->last_probe_ms = 0;
	e->srtt_us = e->rttvar_us = 0;
	e->measured = false;
	e->rto_ms = INFRA_INITIAL_RTO_MS;
	e->timeouts = 0;
	e->flags = 0;
	e->queries = e->replies = 0;
}

/* The entry to record an event in: existing (its state renewed if its
 * lifetime ended) or new, evicting the least recently used at the bound. */
static struct ientry *get_or_create(struct infra *inf, const struct sockaddr *addr,
				    uint64_t now_ms)
{
	struct ikey k;
	struct ientry *e = find(inf, addr);
	size_t b;

	if (e) {
		if (!state_known(e, now_ms))
			state_reset(inf, e, now_ms);
		return e;
	}
	if (!inf || key_from_sockaddr(&k, addr) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e) {
		log_err("infra: out of memory adding a server");
		return NULL;
	}
	if (inf->count >= inf->max_entries)
		entry_remove(inf, inf->tail);
	e->key = k;
	e->hash = key_hash(inf, &k);
	state_reset(inf, e, now_ms);
	b = e->hash & (inf->nbuckets - 1);
	e->chain = inf->table[b];
	inf->table[b] = e;
	lru_push_head(inf, e);
	inf->count++;
	if (inf->count > inf->nbuckets)
		table_grow(inf);
	return e;
}

/* ---- lifecycle ------------------------------------------------------ */

static size_t locked_flush(struct infra *inf, const struct sockaddr *addr);

/* max_entries 0 is taken as 1: a table that forgets every server at once
 * would make timeouts and lameness useless without saving anything. */
struct infra *infra_new(size_t max_entries, uint32_t ttl_ms)
{
	struct infra *inf = calloc(1, sizeof(*inf));

	if (!inf)
		return NULL;
	inf->table = calloc(TABLE_MIN_BUCKETS, sizeof(*inf->table));
	if (!inf->table) {
		free(inf);
		return NULL;
	}
	if (pthread_mutex_init(&inf->lock, NULL) != 0) {
		free(inf->table);
		free(inf);
		return NULL;
	}
	inf->nbuckets = TABLE_MIN_BUCKETS;
	inf->max_entries = max_entries ? max_entries : 1;
	inf->ttl_ms = ttl_ms;
	arc4random_buf(&inf->key, sizeof(inf->key));
	return inf;
}

void infra_free(struct infra *inf)
{
	if (!inf)
		return;
	locked_flush(inf, NULL);
	free(inf->table);
	pthread_mutex_destroy(&inf->lock);
	free(inf);
}

/* ---- RTT and timeouts ----------------------------------------------- */

/* RFC 6298 2.3: RTO = SRTT + 4 * RTTVAR, here bounded to
 * [INFRA_MIN_RTO_MS, INFRA_MAX_RTO_MS].  RFC 6298's 1 s floor is for TCP
 * across the Internet; authoritative servers answer in milliseconds, and
 * 50 ms (Unbound's floor too) still rides out scheduling jitter on a
 * loopback test network. */
static uint32_t rto_from_estimate(const struct ientry *e)
{
	uint64_t ms = (e->srtt_us + 4 * e->rttvar_us + 999) / 1000;

	if (ms < INFRA_MIN_RTO_MS)
		return INFRA_MIN_RTO_MS;
	if (ms > INFRA_MAX_RTO_MS)
		return INFRA_MAX_RTO_MS;
	return (uint32_t)ms;
}

/* RFC 6298 2.2 and 2.3, RTTVAR updated first from the old SRTT. */
static void rtt_sample(struct ientry *e, uint32_t rtt_ms)
{
	uint64_t r = (uint64_t)rtt_ms * 1000;

	if (!e->measured) {
		e->srtt_us = r;
		e->rttvar_us = r / 2;
		e->measured = true;
	} else {
		uint64_t delta = e->srtt_us > r ? e->srtt_us - r : r - e->srtt_us;

		e->rttvar_us = (3 * e->rttvar_us + delta) / 4;
		e->srtt_us = (7 * e->srtt_us + r) / 8;
	}
	e->rto_ms = rto_from_estimate(e);
}

static void locked_note_rtt(struct infra *inf, const struct sockaddr *addr, uint32_t rtt_ms,
		    uint64_t now_ms)
{
	struct ientry *e = get_or_create(inf, addr, now_ms);

	if (!e)
		return;
	/* Samples beyond the back-off cap carry no more information. */
	if (rtt_ms > INFRA_MAX_RTO_MS)
		rtt_ms = INFRA_MAX_RTO_MS;
	rtt_sample(e, rtt_ms);
	e->timeouts = 0;
	e->queries++;
	e->replies++;
}

/* RFC 6298 5.5: back off by doubling, up to the cap.  SRTT and RTTVAR
 * stay, so the next reply brings the RTO straight back down. */
static void locked_note_timeout(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	struct ientry *e = get_or_create(inf, addr, now_ms);

	if (!e)
		return;
	/* Back off once per RTO period: many queries sent in the same window
	 * and lost together are one piece of evidence, not many.  Doubling
	 * for each of them would push the RTO past the client's deadline
	 * after a single burst of loss. */
	if (e->last_backoff_ms == 0 || now_ms - e->last_backoff_ms >= e->rto_ms) {
		e->rto_ms = e->rto_ms >= INFRA_MAX_RTO_MS / 2 ? INFRA_MAX_RTO_MS : e->rto_ms * 2;
		e->last_backoff_ms = now_ms;
	}
	if (e->timeouts == 0)
		e->streak_start_ms = now_ms;
	e->timeouts++;
	e->queries++;
	e->last_timeout_ms = now_ms;
}

static uint32_t locked_rto(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	struct ientry *e = find(inf, addr);

	return e && state_known(e, now_ms) ? e->rto_ms : INFRA_INITIAL_RTO_MS;
}

/* Down: at least INFRA_DOWN_TIMEOUTS timeouts in a row AND backed off to
 * the cap.  Both, because a slow but alive server may sit near the cap
 * after one unlucky timeout, and a fast one needs several timeouts to get
 * there.  A down server is down for INFRA_PROBE_DOWN_MS after its last
 * timeout; then it may be probed once more (another timeout makes it down
 * again at once, a reply revives it).  Its whole record is also forgotten
 * when the entry's ttl_ms lifetime ends. */
static bool locked_is_down(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	struct ientry *e = find(inf, addr);

	return e && state_known(e, now_ms) && e->timeouts >= INFRA_DOWN_TIMEOUTS &&
	       e->rto_ms >= INFRA_MAX_RTO_MS &&
	       now_ms < e->last_timeout_ms + INFRA_PROBE_DOWN_MS;
}

/* Blocked: the server has not answered anything for a while although it
 * was asked (INFRA_BLOCK_TIMEOUTS timeouts in a row spread over at least
 * INFRA_BLOCK_SILENCE_MS).  Asking it again would only make the client
 * wait for the whole timeout, so queries fail fast instead, except one
 * probe per blocked_probe_interval(), which finds out when it is back.
 * The time spread keeps a burst of queries lost together, or a lossy
 * server, from counting as dead.  As for "down", the evidence goes stale
 * INFRA_PROBE_DOWN_MS after the last timeout. */
static bool entry_blocked(const struct ientry *e, uint64_t now_ms)
{
	return e && state_known(e, now_ms) && e->timeouts >= INFRA_BLOCK_TIMEOUTS &&
	       now_ms >= e->streak_start_ms + INFRA_BLOCK_SILENCE_MS &&
	       now_ms < e->last_timeout_ms + INFRA_PROBE_DOWN_MS;
}

/* One probe per backoff interval (the RTO), but at least once per
 * INFRA_PROBE_INTERVAL_MS so a server that comes back is used again soon. */
static uint32_t blocked_probe_interval(const struct ientry *e)
{
	return e->rto_ms < INFRA_PROBE_INTERVAL_MS ? e->rto_ms : INFRA_PROBE_INTERVAL_MS;
}

static bool probe_due(const struct ientry *e, uint64_t now_ms)
{
	return e->last_probe_ms == 0 || now_ms >= e->last_probe_ms + blocked_probe_interval(e);
}

static bool locked_is_blocked(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	struct ientry *e = find(inf, addr);

	return entry_blocked(e, now_ms) && !probe_due(e, now_ms);
}

static bool locked_claim_query(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	struct ientry *e = find(inf, addr);

	if (!entry_blocked(e, now_ms))
		return true;
	if (!probe_due(e, now_ms))
		return false;
	e->last_probe_ms = now_ms;
	return true;
}

/* ---- lameness ------------------------------------------------------- */

static void lame_prune(struct ientry *e, uint64_t now_ms)
{
	struct lame **pp = &e->lame;

	while (*pp) {
		struct lame *l = *pp;

		if (now_ms >= l->expiry_ms) {
			*pp = l->next;
			free(l);
			e->nlame--;
		} else {
			pp = &l->next;
		}
	}
}

static struct lame *lame_find(struct ientry *e, const uint8_t *zone, size_t len)
{
	for (struct lame *l = e->lame; l; l = l->next)
		if (l->len == len && memcmp(l->zone, zone, len) == 0)
			return l;
	return NULL;
}

/* Drop the record closest to expiry to make room (bounded list). */
static void lame_drop_oldest(struct ientry *e)
{
	struct lame **victim = &e->lame, *l;

	for (struct lame **pp = &e->lame; *pp; pp = &(*pp)->next)
		if ((*pp)->expiry_ms < (*victim)->expiry_ms)
			victim = pp;
	l = *victim;
	*victim = l->next;
	free(l);
	e->nlame--;
}

static void locked_note_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone,
		     uint64_t now_ms)
{
	uint8_t z[NAME_WIRE_MAX];
	size_t len;
	struct ientry *e;
	struct lame *l;

	if (zone_lower(zone, z, &len) < 0)
		return;
	e = get_or_create(inf, addr, now_ms);
	if (!e)
		return;
	lame_prune(e, now_ms);
	l = lame_find(e, z, len);
	if (l) {
		l->expiry_ms = now_ms + inf->ttl_ms;
		return;
	}
	l = malloc(sizeof(*l) + len);
	if (!l) {
		log_err("infra: out of memory noting a lame server");
		return;
	}
	if (e->nlame >= INFRA_MAX_LAME_ZONES)
		lame_drop_oldest(e);
	l->expiry_ms = now_ms + inf->ttl_ms;
	l->len = (uint8_t)len;
	memcpy(l->zone, z, len);
	l->next = e->lame;
	e->lame = l;
	e->nlame++;
}

static bool locked_is_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone,
		   uint64_t now_ms)
{
	uint8_t z[NAME_WIRE_MAX];
	size_t len;
	struct ientry *e;
	struct lame *l;

	if (zone_lower(zone, z, &len) < 0)
		return false;
	e = find(inf, addr);
	if (!e)
		return false;
	l = lame_find(e, z, len);
	return l && now_ms < l->expiry_ms;
}

/* ---- flags ---------------------------------------------------------- */

static void locked_set_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f,
		    uint64_t now_ms)
{
	struct ientry *e = get_or_create(inf, addr, now_ms);

	if (e)
		e->flags |= (uint8_t)f;
}

static bool locked_has_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f,
		    uint64_t now_ms)
{
	struct ientry *e = find(inf, addr);

	return e && state_known(e, now_ms) && (e->flags & f) != 0;
}

/* ---- inspection ----------------------------------------------------- */

static void fill_info(const struct ientry *e, struct infra_info *out)
{
	memset(out, 0, sizeof(*out));
	out->srtt_ms = (uint32_t)((e->srtt_us + 500) / 1000);
	out->rttvar_ms = (uint32_t)((e->rttvar_us + 500) / 1000);
	out->rto_ms = e->rto_ms;
	out->timeouts = e->timeouts;
	out->edns_broken = (e->flags & INFRA_EDNS_BROKEN) != 0;
	out->caps_broken = (e->flags & INFRA_CAPS_BROKEN) != 0;
	out->tcp_only = (e->flags & INFRA_TCP_ONLY) != 0;
	out->queries = e->queries;
	out->replies = e->replies;
}

static int locked_get(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms,
	      struct infra_info *out)
{
	struct ientry *e = find(inf, addr);

	if (!e || !state_known(e, now_ms))
		return 0;
	fill_info(e, out);
	return 1;
}

static size_t locked_flush(struct infra *inf, const struct sockaddr *addr)
{
	size_t n = 0;

	if (addr) {
		struct ientry *e = find(inf, addr);

		if (!e)
			return 0;
		entry_remove(inf, e);
		return 1;
	}
	while (inf->head) {
		entry_remove(inf, inf->head);
		n++;
	}
	return n;
}

size_t infra_count(const struct infra *inf)
{
	struct infra *m = (struct infra *)inf; /* the lock is not part of the value */
	size_t n;

	if (!inf)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = inf->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* Most recently used first; entries whose lifetime ended are skipped.
 * The callback must not modify the table. */
static void locked_walk(struct infra *inf, uint64_t now_ms, infra_walk_fn fn, void *ud)
{
	struct sockaddr_storage ss;
	struct infra_info info;

	for (struct ientry *e = inf->head; e; e = e->next) {
		if (!state_known(e, now_ms))
			continue;
		key_to_sockaddr(&e->key, &ss);
		fill_info(e, &info);
		if (fn(ud, (const struct sockaddr *)&ss, &info))
			return;
	}
}

/* ---- the public calls: each takes the lock around its body ------------
 *
 * Workers share one infra, so what one learns about a server (its RTT, a
 * timeout, lameness, a broken behaviour) steers the others at once.  One
 * mutex for the whole table: infra is touched once per upstream query and
 * reply, never on the cache-hit path, so it is not worth sharding. */

void infra_note_rtt(struct infra *inf, const struct sockaddr *addr, uint32_t rtt_ms, uint64_t now_ms)
{
	pthread_mutex_lock(&inf->lock);
	locked_note_rtt(inf, addr, rtt_ms, now_ms);
	pthread_mutex_unlock(&inf->lock);
}

void infra_note_timeout(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	pthread_mutex_lock(&inf->lock);
	locked_note_timeout(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
}

uint32_t infra_rto(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	uint32_t r;

	pthread_mutex_lock(&inf->lock);
	r = locked_rto(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

bool infra_is_down(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = locked_is_down(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

bool infra_is_blocked(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = locked_is_blocked(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

bool infra_is_silent(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = entry_blocked(find(inf, addr), now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

bool infra_claim_query(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = locked_claim_query(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

void infra_note_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone, uint64_t now_ms)
{
	pthread_mutex_lock(&inf->lock);
	locked_note_lame(inf, addr, zone, now_ms);
	pthread_mutex_unlock(&inf->lock);
}

void infra_select_info(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone,
		       uint64_t now_ms, struct infra_sel *out)
{
	pthread_mutex_lock(&inf->lock);
	out->rto_ms = locked_rto(inf, addr, now_ms);
	out->down = locked_is_down(inf, addr, now_ms);
	out->lame = locked_is_lame(inf, addr, zone, now_ms);
	out->blocked = locked_is_blocked(inf, addr, now_ms);
	pthread_mutex_unlock(&inf->lock);
}

bool infra_is_lame(struct infra *inf, const struct sockaddr *addr, const ldns_rdf *zone, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = locked_is_lame(inf, addr, zone, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

void infra_set_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f, uint64_t now_ms)
{
	pthread_mutex_lock(&inf->lock);
	locked_set_flag(inf, addr, f, now_ms);
	pthread_mutex_unlock(&inf->lock);
}

bool infra_has_flag(struct infra *inf, const struct sockaddr *addr, enum infra_flag f, uint64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&inf->lock);
	r = locked_has_flag(inf, addr, f, now_ms);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

int infra_get(struct infra *inf, const struct sockaddr *addr, uint64_t now_ms, struct infra_info *out)
{
	int r;

	pthread_mutex_lock(&inf->lock);
	r = locked_get(inf, addr, now_ms, out);
	pthread_mutex_unlock(&inf->lock);
	return r;
}

void infra_walk(struct infra *inf, uint64_t now_ms, infra_walk_fn fn, void *ud)
{
	if (!inf || !fn)
		return;
	pthread_mutex_lock(&inf->lock);
	locked_walk(inf, now_ms, fn, ud);
	pthread_mutex_unlock(&inf->lock);
}

size_t infra_flush(struct infra *inf, const struct sockaddr *addr)
{
	size_t n;

	if (!inf)
		return 0;
	pthread_mutex_lock(&inf->lock);
	n = locked_flush(inf, addr);
	pthread_mutex_unlock(&inf->lock);
	return n;
}
