/* iter_deleg.c — delegation points and the choice of server.
 *
 * A delegation point is what the iterator knows about one zone cut: the
 * zone, its NS names and whatever addresses we have for them (glue counts:
 * it is only used to reach the servers, never served), plus the marks of
 * which addresses were already asked for the current question.  It is
 * built from the cache (and, for the root, from the hints) or from a
 * referral, and thrown away when the question moves on, so the marks never
 * leak into another query.  Lameness and RTT live in infra, keyed by
 * address, so what one question learns helps the next.
 *
 * Server selection follows Unbound's idea: servers whose timeout is within
 * a band of the best one are equally good, and picking randomly among them
 * spreads load and makes the next server harder to predict for a spoofer. */
#include "iter_priv.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rnd.h"

/* Servers within this many ms of the best timeout are chosen at random. */
#define ITER_RTT_BAND_MS 400u

struct iter_deleg *iter_deleg_new(const ldns_rdf *zone)
{
	struct iter_deleg *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return NULL;
	dp->zone = ldns_rdf_clone(zone);
	if (!dp->zone) {
		free(dp);
		return NULL;
	}
	ldns_dname2canonical(dp->zone);
	return dp;
}

void iter_deleg_free(struct iter_deleg *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; i < dp->nns; i++)
		ldns_rdf_deep_free(dp->ns[i].name);
	free(dp->ns);
	free(dp->addrs);
	ldns_rdf_deep_free(dp->zone);
	free(dp);
}

static int find_ns(const struct iter_deleg *dp, const ldns_rdf *name)
{
	for (size_t i = 0; i < dp->nns; i++)
		if (iter_name_eq(dp->ns[i].name, name))
			return (int)i;
	return -1;
}

int iter_deleg_add_ns(struct iter_deleg *dp, const ldns_rdf *name)
{
	int i = find_ns(dp, name);
	ldns_rdf *copy;

	if (i >= 0)
		return i;
	if (dp->nns == dp->ns_cap) {
		size_t ncap = dp->ns_cap ? dp->ns_cap * 2 : 4;
		struct iter_nsname *nv = realloc(dp->ns, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		dp->ns = nv;
		dp->ns_cap = ncap;
	}
	copy = ldns_rdf_clone(name);
	if (!copy)
		return -1;
	ldns_dname2canonical(copy);
	memset(&dp->ns[dp->nns], 0, sizeof(dp->ns[0]));
	dp->ns[dp->nns].name = copy;
	return (int)dp->nns++;
}

/* The address in an A/AAAA RR as a socket address on port 53. */
static int rr_to_sockaddr(const ldns_rr *rr, struct sockaddr_storage *ss, socklen_t *len)
{
	const ldns_rdf *rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;

	memset(ss, 0, sizeof(*ss));
	if (!rd)
		return -1;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(rd) == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		memcpy(&s4->sin_addr, ldns_rdf_data(rd), 4);
		*len = sizeof(*s4);
		return 0;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rd) == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		memcpy(&s6->sin6_addr, ldns_rdf_data(rd), 16);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* Record ss for NS name ns.  An address shared by two NS names is stored
 * once (one "tried" mark) but counts for both names. */
static int add_addr(struct iter_deleg *dp, size_t ns, const struct sockaddr_storage *ss,
		    socklen_t len)
{
	struct iter_nsname *n = &dp->ns[ns];
	bool known = false;

	for (size_t i = 0; i < dp->naddrs && !known; i++)
		known = same_addr(&dp->addrs[i].ss, ss);
	if (!known && dp->naddrs == dp->addr_cap) {
		size_t ncap = dp->addr_cap ? dp->addr_cap * 2 : 8;
		struct iter_addr *nv = realloc(dp->addrs, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		dp->addrs = nv;
		dp->addr_cap = ncap;
	}
	if (ss->ss_family == AF_INET)
		n->n4++;
	else
		n->n6++;
	if (known)
		return 0;
	memset(&dp->addrs[dp->naddrs], 0, sizeof(dp->addrs[0]));
	dp->addrs[dp->naddrs].ss = *ss;
	dp->addrs[dp->naddrs].len = len;
	dp->addrs[dp->naddrs].ns = ns;
	dp->naddrs++;
	return 1;
}

int iter_deleg_add_addr_rr(struct iter_deleg *dp, const ldns_rr *rr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ns;

	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A && ldns_rr_get_type(rr) != LDNS_RR_TYPE_AAAA)
		return 0;
	ns = find_ns(dp, ldns_rr_owner(rr));
	if (ns < 0 || rr_to_sockaddr(rr, &ss, &len) < 0)
		return 0;
	return add_addr(dp, (size_t)ns, &ss, len);
}

int iter_deleg_add_addr_for(struct iter_deleg *dp, size_t ns, const ldns_rr *rr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (ns >= dp->nns || rr_to_sockaddr(rr, &ss, &len) < 0)
		return 0;
	return add_addr(dp, ns, &ss, len);
}

int iter_deleg_add_addr_list(struct iter_deleg *dp, const ldns_rr_list *list)
{
	int added = 0;

	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		int r = iter_deleg_add_addr_rr(dp, ldns_rr_list_rr(list, i));

		if (r < 0)
			return -1;
		added += r;
	}
	return added;
}

/* One address's share of an iter_cached_set fingerprint (splitmix64 of
 * its bytes): sums of these do not depend on the order of the RRs. */
static uint64_t addr_mix(const ldns_rr *rr)
{
	const ldns_rdf *rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;
	uint64_t x = 0x9e3779b97f4a7c15ull * ((uint64_t)ldns_rr_get_type(rr) + 1);

	for (size_t i = 0; rd && i < ldns_rdf_size(rd); i++) {
		x += ldns_rdf_data(rd)[i] + 0x9e3779b97f4a7c15ull;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
		x ^= x >> 31;
	}
	return x;
}

static void fingerprint(struct iter_cached_set *cs, const ldns_rr_list *set)
{
	cs->count = (uint32_t)ldns_rr_list_rr_count(set);
	cs->sum = 0;
	for (size_t i = 0; i < cs->count; i++)
		cs->sum += addr_mix(ldns_rr_list_rr(set, i));
}

int iter_deleg_add_cached_addrs(struct iter_deleg *dp, struct cache *c, ldns_rr_class cls,
				uint64_t now_ms)
{
	static const ldns_rr_type types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
	int added = 0;

	for (size_t i = 0; i < dp->nns; i++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			struct iter_cached_set *cs = &dp->ns[i].cached[t];
			struct cache_result res;
			int r;

			memset(&res, 0, sizeof(res));
			if (cache_lookup_rrset(c, dp->ns[i].name, types[t], cls, CACHE_TRUST_NONE,
					       false, now_ms, &res) != 1)
				continue;
			r = iter_deleg_add_addr_list(dp, res.rrset);
			if (!res.rrsigs) {
				cs->trust = (uint8_t)res.trust;
				fingerprint(cs, res.rrset);
			}
			cache_result_clear(&res);
			if (r < 0)
				return -1;
			added += r;
		}
	}
	return added;
}

static bool is_root(const ldns_rdf *name)
{
	return ldns_rdf_size(name) == 1 && ldns_rdf_data(name)[0] == 0;
}

int iter_deleg_add_hint_addrs(struct iter_deleg *dp, const struct hints *h)
{
	if (!h || !is_root(dp->zone))
		return 0;
	return iter_deleg_add_addr_list(dp, hints_addrs(h));
}

/* Add the targets of the NS RRs in list. */
static int add_ns_targets(struct iter_deleg *dp, const ldns_rr_list *list)
{
	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		const ldns_rdf *t = iter_rr_target(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || !t)
			continue;
		if (iter_deleg_add_ns(dp, t) < 0)
			return -1;
	}
	return 0;
}

struct iter_deleg *iter_deleg_from_hints(const struct hints *h)
{
	ldns_rdf *root = ldns_dname_new_frm_str(".");
	struct iter_deleg *dp = root ? iter_deleg_new(root) : NULL;

	ldns_rdf_deep_free(root);
	if (!dp)
		return NULL;
	if (!h || add_ns_targets(dp, hints_ns(h)) < 0 || iter_deleg_add_hint_addrs(dp, h) < 0) {
		iter_deleg_free(dp);
		return NULL;
	}
	return dp;
}

int iter_deleg_from_cache(const struct iter_env *env, const ldns_rdf *zone, ldns_rr_class cls,
			  uint64_t now_ms, struct iter_deleg **out)
{
	struct cache_result res;
	struct iter_deleg *dp;
	int ok;

	*out = NULL;
	memset(&res, 0, sizeof(res));
	if (cache_lookup_rrset(env->cache, zone, LDNS_RR_TYPE_NS, cls, CACHE_TRUST_NONE, false,
			       now_ms, &res) != 1)
		return 0;
	dp = iter_deleg_new(zone);
	if (dp && !res.rrsigs)
		dp->ns_trust = (uint8_t)res.trust;
	ok = dp && add_ns_targets(dp, res.rrset) == 0 &&
	     iter_deleg_add_cached_addrs(dp, env->cache, cls, now_ms) >= 0 &&
	     iter_deleg_add_hint_addrs(dp, env->hints) >= 0;
	cache_result_clear(&res);
	if (!ok) {
		iter_deleg_free(dp);
		return -1;
	}
	*out = dp;
	return 1;
}

/* Walks up qname through views into its own bytes (no copies). */
int iter_deleg_find(const struct iter_env *env, const ldns_rdf *qname, ldns_rr_type qtype,
		    ldns_rr_class cls, uint64_t now_ms, struct iter_deleg **out)
{
	ldns_rdf view, up;
	const ldns_rdf *name = qname;

	*out = NULL;
	if (qtype == LDNS_RR_TYPE_DS && !is_root(name)) {
		/* The DS RRset lives in the parent zone. */
		if (!iter_name_parent_view(name, &view))
			return 0;
		name = &view;
	}
	for (;;) {
		struct iter_deleg *dp;
		int r = iter_deleg_from_cache(env, name, cls, now_ms, &dp);

		if (r < 0)
			return -1;
		if (r == 1 && iter_deleg_usable(dp, env)) {
			*out = dp;
			return 1;
		}
		if (r == 1) {
			char zb[ITER_NAME_STRLEN];

			log_detail("cached delegation for %s has no usable server, looking higher",
				   iter_name_str(name, zb, sizeof(zb)));
			iter_deleg_free(dp);
		}
		if (is_root(name) || !iter_name_parent_view(name, &up))
			return 0;
		view = up;
		name = &view;
	}
}

bool iter_deleg_ns_in_zone(const struct iter_deleg *dp, size_t ns)
{
	return iter_name_at_or_below(dp->ns[ns].name, dp->zone);
}

static bool family_ok(const struct iter_env *env, sa_family_t f)
{
	return (f == AF_INET && env->do_ip4) || (f == AF_INET6 && env->do_ip6);
}

size_t iter_deleg_ns_usable_addrs(const struct iter_deleg *dp, size_t ns,
				  const struct iter_env *env)
{
	return (env->do_ip4 ? dp->ns[ns].n4 : 0) + (env->do_ip6 ? dp->ns[ns].n6 : 0);
}

bool iter_deleg_ns_needs_lookup(const struct iter_deleg *dp, size_t ns,
				const struct iter_env *env)
{
	return !dp->ns[ns].lookup_done && iter_deleg_ns_usable_addrs(dp, ns, env) == 0 &&
	       !iter_deleg_ns_in_zone(dp, ns);
}

bool iter_deleg_usable(const struct iter_deleg *dp, const struct iter_env *env)
{
	for (size_t i = 0; i < dp->naddrs; i++)
		if (family_ok(env, dp->addrs[i].ss.ss_family))
			return true;
	for (size_t i = 0; i < dp->nns; i++)
		if (iter_deleg_ns_needs_lookup(dp, i, env))
			return true;
	return false;
}

/* May addrs[i] be asked now at all?  Not if it is blocked (silent for a
 * while, no probe due): asking would only make the client wait. */
static bool eligible(const struct iter_deleg *dp, size_t i, const struct iter_env *env,
		     uint64_t now_ms)
{
	const struct iter_addr *a = &dp->addrs[i];
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;

	return !a->tried && family_ok(env, a->ss.ss_family) &&
	       !infra_is_lame(env->infra, sa, dp->zone, now_ms) &&
	       !infra_is_blocked(env->infra, sa, now_ms);
}

bool iter_deleg_all_blocked(const struct iter_deleg *dp, const struct iter_env *env,
			    uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < dp->naddrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&dp->addrs[i].ss;

		if (!family_ok(env, dp->addrs[i].ss.ss_family))
			continue;
		if (!infra_is_silent(env->infra, sa, now_ms))
			return false;
		n++;
	}
	return n > 0;
}

/* Among untried, non-lame addresses of a usable family: prefer servers
 * that are not backed off, and among those pick at random within
 * ITER_RTT_BAND_MS of the best timeout.  If only backed-off servers are
 * left, take the one with the lowest timeout. */
static int select_candidate_slow(struct iter_deleg *dp, const struct iter_env *env, uint64_t now_ms)
{
	uint32_t best_up = UINT32_MAX, best_down = UINT32_MAX, n_band = 0, pick;
	int down_idx = -1;

	for (size_t i = 0; i < dp->naddrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&dp->addrs[i].ss;
		uint32_t rto;

		if (!eligible(dp, i, env, now_ms))
			continue;
		rto = infra_rto(env->infra, sa, now_ms);
		if (infra_is_down(env->infra, sa, now_ms)) {
			if (rto < best_down) {
				best_down = rto;
				down_idx = (int)i;
			}
		} else if (rto < best_up) {
			best_up = rto;
		}
	}
	if (best_up == UINT32_MAX)
		return down_idx;
	for (size_t i = 0; i < dp->naddrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&dp->addrs[i].ss;

		if (eligible(dp, i, env, now_ms) && !infra_is_down(env->infra, sa, now_ms) &&
		    infra_rto(env->infra, sa, now_ms) <= best_up + ITER_RTT_BAND_MS)
			n_band++;
	}
	pick = n_band > 1 ? rnd_uniform(n_band) : 0;
	for (size_t i = 0; i < dp->naddrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&dp->addrs[i].ss;

		if (!eligible(dp, i, env, now_ms) || infra_is_down(env->infra, sa, now_ms) ||
		    infra_rto(env->infra, sa, now_ms) > best_up + ITER_RTT_BAND_MS)
			continue;
		if (pick-- == 0)
			return (int)i;
	}
	return -1;
}

/* Among untried, non-lame, non-blocked addresses of a usable family
 * (eligible()), the same choice as select_candidate_slow(), with one infra
 * call per address instead of several per address and pass. */
#define ITER_SELECT_FAST_MAX 32u
static int select_candidate(struct iter_deleg *dp, const struct iter_env *env, uint64_t now_ms)
{
	struct infra_sel st[ITER_SELECT_FAST_MAX];
	bool ok[ITER_SELECT_FAST_MAX];
	uint32_t best_up = UINT32_MAX, best_down = UINT32_MAX, n_band = 0, pick;
	int down_idx = -1;

	if (dp->naddrs > ITER_SELECT_FAST_MAX)
		return select_candidate_slow(dp, env, now_ms);
	for (size_t i = 0; i < dp->naddrs; i++) {
		const struct iter_addr *a = &dp->addrs[i];

		ok[i] = !a->tried && family_ok(env, a->ss.ss_family);
		if (!ok[i])
			continue;
		infra_select_info(env->infra, (const struct sockaddr *)&a->ss, dp->zone, now_ms,
				  &st[i]);
		ok[i] = !st[i].lame && !st[i].blocked;
		if (!ok[i])
			continue;
		if (st[i].down) {
			if (st[i].rto_ms < best_down) {
				best_down = st[i].rto_ms;
				down_idx = (int)i;
			}
		} else if (st[i].rto_ms < best_up) {
			best_up = st[i].rto_ms;
		}
	}
	if (best_up == UINT32_MAX)
		return down_idx;
	for (size_t i = 0; i < dp->naddrs; i++)
		if (ok[i] && !st[i].down && st[i].rto_ms <= best_up + ITER_RTT_BAND_MS)
			n_band++;
	pick = n_band > 1 ? rnd_uniform(n_band) : 0;
	for (size_t i = 0; i < dp->naddrs; i++) {
		if (!ok[i] || st[i].down || st[i].rto_ms > best_up + ITER_RTT_BAND_MS)
			continue;
		if (pick-- == 0)
			return (int)i;
	}
	return -1;
}

/* The candidate is then claimed in infra: a blocked server's probe slot
 * may have gone to another worker since eligible() looked; that address
 * counts as timed out for this query (a later retry round looks again). */
int iter_deleg_select(struct iter_deleg *dp, const struct iter_env *env, uint64_t now_ms)
{
	for (size_t n = 0; n <= dp->naddrs; n++) {
		int idx = select_candidate(dp, env, now_ms);

		if (idx < 0 || infra_claim_query(env->infra,
						 (const struct sockaddr *)&dp->addrs[idx].ss, now_ms))
			return idx;
		dp->addrs[idx].tried = true;
		dp->addrs[idx].timed_out = true;
	}
	return -1;
}

void iter_deleg_mark_tried(struct iter_deleg *dp, size_t idx, bool timed_out)
{
	if (idx >= dp->naddrs)
		return;
	dp->addrs[idx].tried = true;
	dp->addrs[idx].timed_out = timed_out;
}

size_t iter_deleg_retry_timed_out(struct iter_deleg *dp)
{
	size_t n = 0;

	for (size_t i = 0; i < dp->naddrs; i++) {
		if (dp->addrs[i].tried && dp->addrs[i].timed_out) {
			dp->addrs[i].tried = false;
			dp->addrs[i].timed_out = false;
			n++;
		}
	}
	return n;
}

/* Is set exactly dp's NS RRset as the cache held it?  dp->ns came from
 * that RRset alone (add_ns_targets drops duplicates, so a set with a
 * repeated RR fails the count and is stored). */
static bool same_ns_set(const struct iter_deleg *dp, const ldns_rr_list *set)
{
	size_t n = ldns_rr_list_rr_count(set);

	if (n != dp->nns)
		return false;
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(set, i);

		if (ldns_rr_rd_count(rr) != 1 || find_ns(dp, ldns_rr_rdf(rr, 0)) < 0)
			return false;
	}
	return true;
}

bool iter_deleg_has_cached(const struct iter_deleg *dp, const ldns_rr_list *set,
			   enum cache_trust trust)
{
	const ldns_rr *first = set ? ldns_rr_list_rr(set, 0) : NULL;
	ldns_rr_type t;
	struct iter_cached_set now;
	const struct iter_cached_set *was;
	int ns;

	if (!dp || !first)
		return false;
	t = ldns_rr_get_type(first);
	if (t == LDNS_RR_TYPE_NS)
		return dp->ns_trust >= trust && dp->ns_trust != CACHE_TRUST_NONE &&
		       iter_name_eq(ldns_rr_owner(first), dp->zone) && same_ns_set(dp, set);
	if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
		return false;
	ns = find_ns(dp, ldns_rr_owner(first));
	if (ns < 0)
		return false;
	was = &dp->ns[ns].cached[t == LDNS_RR_TYPE_A ? 0 : 1];
	if (was->trust == CACHE_TRUST_NONE || was->trust < trust)
		return false;
	fingerprint(&now, set);
	return now.count == was->count && now.sum == was->sum;
}
