/* rrl.c — response rate limiting per client prefix (see rrl.h).
 *
 * The table is an array of sets of RRL_WAYS slots.  A prefix hashes (keyed
 * SipHash, cache_siphash.h: the forger chooses the source addresses) to
 * one set and lives in one of its slots; a new prefix takes an empty slot
 * or the one seen least recently.  Set-associative rather than one global
 * LRU list because a global list needs a global lock on every packet, and
 * the table is shared by every worker thread: here a set is guarded by
 * stripe (set % n_stripes), held for a few dozen instructions.
 *
 * Each slot is a token bucket in thousandths of a response: it holds at
 * most rate * 1000 (one second of responses), gains rate per elapsed
 * millisecond, and a response costs 1000.  Integer arithmetic only, so
 * the outcome for a given sequence of (client, now_ms) is exact, which is
 * what the unit tests rely on.  Clocks of different threads may disagree
 * by a few ms: a bucket's time never goes backwards, an older now_ms just
 * adds nothing. */
#include "rrl.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cache_siphash.h"
#include "log.h"
#include "rnd.h"

#define RRL_WAYS 8        /* slots per set */
#define RRL_STRIPES 256   /* most mutexes; sets share them round-robin */
#define MILLI 1000        /* bucket units per response, and ms per second */

struct rrl_entry {
	uint64_t last_ms;  /* when the bucket was last refilled */
	uint64_t tokens;   /* thousandths of a response, <= rate * MILLI */
	uint32_t limited;  /* responses limited so far: drives the slip */
	uint8_t family;    /* AF_INET, AF_INET6; 0: empty slot */
	uint8_t net[16];   /* the client's address, host bits cleared */
};

struct rrl {
	struct rrl_opts o;
	struct siphash_key key;
	size_t n_sets, ways;
	size_t n_stripes;
	pthread_mutex_t *stripes;
	struct rrl_entry *slots; /* n_sets * ways */
};

/* The client's prefix as (family, net): v4-mapped IPv6 is the IPv4
 * client it stands for.  False for an address we do not limit. */
static bool client_prefix(const struct rrl *t, const struct sockaddr *sa, uint8_t *family,
			  uint8_t net[16])
{
	uint32_t bits;
	size_t len;

	memset(net, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(net, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(net, a6->s6_addr + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(net, a6->s6_addr, 16);
			*family = AF_INET6;
		}
	} else {
		return false;
	}
	bits = *family == AF_INET ? t->o.ipv4_prefix : t->o.ipv6_prefix;
	len = *family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		net[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
	return true;
}

static size_t prefix_set(const struct rrl *t, uint8_t family, const uint8_t net[16])
{
	uint64_t h = siphash13(&t->key, family, net, family == AF_INET ? 4 : 16);

	return (size_t)(h % t->n_sets);
}

/* The prefix's slot in its set: found, else an empty one, else the one
 * seen least recently (its prefix is forgotten). Stripe lock held. */
static struct rrl_entry *set_slot(struct rrl *t, size_t set, uint8_t family,
				  const uint8_t net[16], uint64_t now_ms)
{
	struct rrl_entry *first = &t->slots[set * t->ways];
	struct rrl_entry *victim = first;

	for (size_t i = 0; i < t->ways; i++) {
		struct rrl_entry *e = &first[i];
		if (e->family == family && memcmp(e->net, net, 16) == 0)
			return e;
		if (victim->family && (!e->family || e->last_ms < victim->last_ms))
			victim = e;
	}
	victim->family = family;
	memcpy(victim->net, net, 16);
	victim->last_ms = now_ms;
	victim->tokens = (uint64_t)t->o.responses_per_second * MILLI;
	victim->limited = 0;
	return victim;
}

/* rate per elapsed ms, up to one second's worth. */
static void bucket_refill(const struct rrl *t, struct rrl_entry *e, uint64_t now_ms)
{
	uint64_t full = (uint64_t)t->o.responses_per_second * MILLI;
	uint64_t dt;

	if (now_ms <= e->last_ms)
		return;
	dt = now_ms - e->last_ms;
	e->last_ms = now_ms;
	if (dt >= MILLI) {
		e->tokens = full;
		return;
	}
	e->tokens += dt * t->o.responses_per_second;
	if (e->tokens > full)
		e->tokens = full;
}

/* Take one response from the bucket, or say how to limit it: the first
 * limited response of a prefix slips, then every slip-th one. */
static enum rrl_verdict bucket_take(const struct rrl *t, struct rrl_entry *e)
{
	if (e->tokens >= MILLI) {
		e->tokens -= MILLI;
		return RRL_SEND;
	}
	if (t->o.slip && e->limited++ % t->o.slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}

enum rrl_verdict rrl_check(struct rrl *t, const struct sockaddr *client, uint64_t now_ms)
{
	uint8_t family, net[16];
	struct rrl_entry *e;
	pthread_mutex_t *lock;
	enum rrl_verdict v;
	size_t set;

	if (!client_prefix(t, client, &family, net))
		return RRL_SEND;
	set = prefix_set(t, family, net);
	lock = &t->stripes[set % t->n_stripes];
	pthread_mutex_lock(lock);
	e = set_slot(t, set, family, net, now_ms);
	bucket_refill(t, e, now_ms);
	v = bucket_take(t, e);
	pthread_mutex_unlock(lock);
	return v;
}

/* Where the question of a DNS message ends, or 0 if it has no
 * well-formed uncompressed one (our own replies never compress it). */
static size_t question_end(const uint8_t *m, size_t len)
{
	size_t off = 12, name = 0;

	for (;;) {
		if (off >= len)
			return 0;
		uint8_t l = m[off];
		if (l == 0)
			break;
		if (l > 63)
			return 0;
		name += 1 + (size_t)l;
		off += 1 + (size_t)l;
		if (name + 1 > 255)
			return 0;
	}
	off += 1 + 4; /* the root label, type, class */
	return off <= len ? off : 0;
}

size_t rrl_slip_reply(const uint8_t *resp, size_t len, uint8_t *out, size_t cap)
{
	size_t end = 12;
	uint16_t qdcount;

	if (len < 12)
		return 0;
	qdcount = (uint16_t)(resp[4] << 8 | resp[5]);
	if (qdcount > 1)
		return 0;
	if (qdcount == 1 && !(end = question_end(resp, len)))
		return 0;
	if (end > cap)
		return 0;
	memcpy(out, resp, end);
	out[2] |= 0x02;        /* TC */
	memset(out + 6, 0, 6); /* no answer, authority or additional records */
	return end;
}

static bool opts_valid(const struct rrl_opts *o)
{
	return o->responses_per_second > 0 && o->responses_per_second <= 1000000 &&
	       o->ipv4_prefix <= 32 && o->ipv6_prefix <= 128 && o->table_size > 0;
}

struct rrl *rrl_new(const struct rrl_opts *o)
{
	struct rrl *t;

	if (!o || !opts_valid(o))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->o = *o;
	t->ways = o->table_size < RRL_WAYS ? o->table_size : RRL_WAYS;
	t->n_sets = o->table_size / t->ways;
	t->n_stripes = t->n_sets < RRL_STRIPES ? t->n_sets : RRL_STRIPES;
	rnd_bytes(&t->key, sizeof(t->key));
	t->slots = calloc(t->n_sets * t->ways, sizeof(*t->slots));
	t->stripes = calloc(t->n_stripes, sizeof(*t->stripes));
	if (!t->slots || !t->stripes)
		goto fail;
	for (size_t i = 0; i < t->n_stripes; i++) {
		if (pthread_mutex_init(&t->stripes[i], NULL) != 0) {
			while (i--)
				pthread_mutex_destroy(&t->stripes[i]);
			goto fail;
		}
	}
	return t;
fail:
	free(t->slots);
	free(t->stripes);
	free(t);
	return NULL;
}

int rrl_new_from_config(const struct config *cfg, struct rrl **out)
{
	struct rrl_opts o = {
		.responses_per_second = cfg->rrl_responses_per_second,
		.slip = cfg->rrl_slip,
		.ipv4_prefix = cfg->rrl_ipv4_prefix,
		.ipv6_prefix = cfg->rrl_ipv6_prefix,
		.table_size = cfg->rrl_table_size,
	};

	*out = NULL;
	if (!o.responses_per_second)
		return 0;
	*out = rrl_new(&o);
	if (!*out)
		return -ENOMEM;
	log_info("response rate limiting: %u responses/s per /%u (IPv4) and /%u (IPv6) "
		 "prefix over UDP, slip %u, %zu prefixes remembered",
		 o.responses_per_second, o.ipv4_prefix, o.ipv6_prefix, o.slip,
		 rrl_capacity(*out));
	return 0;
}

void rrl_free(struct rrl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_stripes; i++)
		pthread_mutex_destroy(&t->stripes[i]);
	free(t->stripes);
	free(t->slots);
	free(t);
}

size_t rrl_capacity(const struct rrl *t)
{
	return t->n_sets * t->ways;
}

size_t rrl_entries(struct rrl *t)
{
	size_t n = 0;

	for (size_t s = 0; s < t->n_stripes; s++) {
		pthread_mutex_lock(&t->stripes[s]);
		for (size_t set = s; set < t->n_sets; set += t->n_stripes) {
			for (size_t i = 0; i < t->ways; i++)
				n += t->slots[set * t->ways + i].family != 0;
		}
		pthread_mutex_unlock(&t->stripes[s]);
	}
	return n;
}
