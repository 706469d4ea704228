/* config.c — parse rootwalkd.conf into struct config.
 *
 * The format is the flat subset of unbound.conf: "key: value" lines, '#'
 * comments, an optional "server:" section line, values optionally in
 * double quotes.  Every key lives in one table (keys[]) that names the
 * field it sets and how to parse it, so adding a key is one line and every
 * error reads the same way ("file:line: what is wrong").  Nothing here
 * touches the network; config_load only reads the file.
 *
 * Parse into a config_init()ed struct; on error the struct holds whatever
 * was parsed so far and config_free() still releases it. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "build_config.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A config file larger than this is a mistake (e.g. -c /dev/zero). */
#define CONFIG_MAX_FILE_SIZE (4u << 20)

/* RFC 2181 section 8: TTLs are at most 2^31 - 1. */
#define TTL_MAX 2147483647u

/* Milliseconds; an hour is a generous ceiling for any network timeout. */
#define TIMEOUT_MAX_MS 3600000u

struct parse_ctx;
struct key_def;

typedef int (*key_setter)(struct parse_ctx *c, const struct key_def *k, const char *val);

/* Flags for string keys. */
enum {
	STR_EMPTY_OK = 1 << 0,   /* "" is a meaningful value */
	STR_EMPTY_NULL = 1 << 1, /* "" means "unset": store NULL */
	STR_IFNAME = 1 << 2,     /* must fit a network interface name */
	STR_SUNPATH = 1 << 3,    /* must fit sockaddr_un.sun_path */
};

struct key_def {
	const char *name;
	key_setter set;
	size_t off;         /* offset of the field in struct config */
	uint64_t min, max;  /* range for numbers */
	unsigned flags;     /* STR_* for strings */
};

/* offsetof() plus a compile-time type check: comparing a pointer of the
 * expected type with the field's address warns (an error under -Werror)
 * if a table row names a field of the wrong type.  sizeof() keeps the
 * comparison unevaluated, so the result is still a constant. */
#define FIELD(field, type)                                                   \
	(offsetof(struct config, field) +                                    \
	 0 * sizeof((type *)0 == &((struct config *)0)->field))

static int set_u32(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_int(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_bool(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_size(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_str(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_listen(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_acl(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_mode(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_raw_address(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_raw_gateway(struct parse_ctx *c, const struct key_def *k, const char *val);
static int set_raw_mac(struct parse_ctx *c, const struct key_def *k, const char *val);

#define KEY_U32(n, f, lo, hi) { n, set_u32, FIELD(f, uint32_t), lo, hi, 0 }
#define KEY_INT(n, f, lo, hi) { n, set_int, FIELD(f, int), lo, hi, 0 }
#define KEY_BOOL(n, f) { n, set_bool, FIELD(f, bool), 0, 1, 0 }
#define KEY_SIZE(n, f, lo, hi) { n, set_size, FIELD(f, uint64_t), lo, hi, 0 }
#define KEY_STR(n, f, fl) { n, set_str, FIELD(f, char *), 0, 0, fl }
#define KEY_FN(n, fn) { n, fn, 0, 0, 0, 0 }

static const struct key_def keys[] = {
	/* serving */
	KEY_FN("listen", set_listen),
	KEY_FN("access-control", set_acl),
	KEY_U32("max-tcp-clients", max_tcp_clients, 1, 65536),
	KEY_U32("tcp-idle-timeout", tcp_idle_timeout_ms, 1, TIMEOUT_MAX_MS),
	KEY_U32("max-udp-size", max_udp_size, 512, 65535),
	KEY_U32("max-queries-in-flight", max_queries_in_flight, 1, 1000000),
	KEY_U32("rrl-responses-per-second", rrl_responses_per_second, 0, 1000000),
	KEY_U32("rrl-slip", rrl_slip, 0, 100),
	KEY_U32("rrl-ipv4-prefix", rrl_ipv4_prefix, 0, 32),
	KEY_U32("rrl-ipv6-prefix", rrl_ipv6_prefix, 0, 128),
	KEY_U32("rrl-table-size", rrl_table_size, 1, 16777216),
	/* daemon */
	KEY_INT("verbosity", verbosity, 0, 5),
	KEY_STR("username", username, STR_EMPTY_OK),
	KEY_STR("pidfile", pidfile, STR_EMPTY_NULL),
	KEY_STR("root-hints", root_hints, 0),
	KEY_U32("workers", workers, 0, 1024),
	/* upstream */
	KEY_U32("query-timeout", query_timeout_ms, 1, TIMEOUT_MAX_MS),
	KEY_U32("outgoing-tcp-timeout", outgoing_tcp_timeout_ms, 1, TIMEOUT_MAX_MS),
	KEY_U32("edns-buffer-size", edns_buffer_size, 512, 4096),
	KEY_BOOL("do-ip4", do_ip4),
	KEY_BOOL("do-ip6", do_ip6),
	KEY_BOOL("use-caps-for-id", use_caps_for_id),
	/* work limits */
	KEY_U32("max-referrals", max_referrals, 1, 255),
	KEY_U32("max-cname-chain", max_cname_chain, 1, 255),
	KEY_U32("max-glueless-ns", max_glueless_per_referral, 1, 64),
	KEY_U32("max-upstream-queries", max_upstream_queries, 1, 10000),
	KEY_U32("max-subquery-depth", max_subquery_depth, 1, 32),
	KEY_U32("max-target-nx", max_target_nx, 1, 1000),
	/* cache */
	KEY_SIZE("cache-size", cache_size, 1024, UINT64_C(1) << 40),
	KEY_U32("cache-max-ttl", cache_max_ttl, 1, TTL_MAX),
	KEY_U32("cache-min-ttl", cache_min_ttl, 0, TTL_MAX),
	KEY_U32("cache-max-negative-ttl", cache_max_negative_ttl, 0, TTL_MAX),
	KEY_BOOL("serve-expired", serve_expired),
	KEY_U32("serve-expired-window", serve_expired_window, 0, TTL_MAX),
	KEY_U32("serve-expired-client-timeout", serve_expired_client_timeout_ms, 1, TIMEOUT_MAX_MS),
	KEY_BOOL("prefetch", prefetch),
	KEY_U32("infra-cache-size", infra_cache_size, 1, 10000000),
	/* control */
	KEY_STR("control-socket", control_socket, STR_SUNPATH),
	KEY_STR("control-group", control_group, STR_EMPTY_NULL),
	/* raw mode */
	KEY_FN("mode", set_mode),
	KEY_STR("raw-interface", raw_interface, STR_IFNAME),
	KEY_FN("raw-address", set_raw_address),
	KEY_FN("raw-gateway", set_raw_gateway),
	KEY_FN("raw-mac", set_raw_mac),
	KEY_U32("raw-mtu", raw_mtu, 576, 65535),
};

struct parse_ctx {
	struct config *cfg;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	unsigned key_line[ARRAY_SIZE(keys)]; /* line each key was last set on */
};

/* ---- error reporting ---------------------------------------------- */

static void vreport(struct parse_ctx *c, unsigned line, const char *fmt, va_list ap)
{
	int n;

	if (!c->err || c->errlen == 0)
		return;
	if (line)
		n = snprintf(c->err, c->errlen, "%s:%u: ", c->name, line);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->name);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
}

/* Report an error at the current line; returns -1 for "return fail(...)". */
__attribute__((format(printf, 2, 3)))
static int fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, c->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* Report an error at a given line (0: the file as a whole). */
__attribute__((format(printf, 3, 4)))
static int fail_at(struct parse_ctx *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- small parsers ------------------------------------------------- */

/* Strict unsigned decimal: digits only, no sign, no spaces.
 * 0, -EINVAL (not a number) or -ERANGE (does not fit 64 bits). */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", UINT64_C(1) << 10 }, { "kb", UINT64_C(1) << 10 },
		{ "m", UINT64_C(1) << 20 }, { "mb", UINT64_C(1) << 20 },
		{ "g", UINT64_C(1) << 30 }, { "gb", UINT64_C(1) << 30 },
	};
	char digits[32];
	size_t n = 0;
	uint64_t v;

	if (!s)
		return -1;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_u64(digits, &v) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(s + n, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

enum addr_result { ADDR_OK = 0, ADDR_BAD_ADDR, ADDR_BAD_PORT };

/* "addr[@port]" into a zeroed sockaddr (zeroed so that two parsed
 * addresses can be compared with memcmp). */
static enum addr_result parse_addr_port(const char *s, uint16_t default_port,
					struct sockaddr_storage *out, socklen_t *outlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	uint64_t port = default_port;
	char *at;

	if (strlen(s) >= sizeof(buf))
		return ADDR_BAD_ADDR;
	strcpy(buf, s);
	at = strrchr(buf, '@');
	if (at) {
		*at = '\0';
		if (parse_u64(at + 1, &port) < 0 || port > 65535)
			return ADDR_BAD_PORT;
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*outlen = sizeof(*sin);
		return ADDR_OK;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*outlen = sizeof(*sin6);
		return ADDR_OK;
	}
	return ADDR_BAD_ADDR;
}

int config_parse_addr(const char *s, uint16_t default_port,
		      struct sockaddr_storage *out, socklen_t *outlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!s || !out || !outlen)
		return -1;
	if (parse_addr_port(s, default_port, &ss, &len) != ADDR_OK)
		return -1;
	*out = ss;
	*outlen = len;
	return 0;
}

/* Clear the bits after the first prefix bits; true if any were set. */
static bool mask_to_prefix(uint8_t *addr, size_t len, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	bool changed = false;

	for (size_t i = full; i < len; i++) {
		uint8_t mask = i == full ? (uint8_t)(0xff00u >> rest) : 0;
		changed |= (addr[i] & ~mask) != 0;
		addr[i] &= mask;
	}
	return changed;
}

static bool prefix_matches(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(net, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (net[full] & mask) == (addr[full] & mask);
}

/* A new zeroed slot at the end of the listen / ACL arrays; NULL when out
 * of memory (the arrays are then unchanged). */
static struct cfg_listen *listen_append(struct config *cfg)
{
	struct cfg_listen *grown = reallocarray(cfg->listen, cfg->n_listen + 1, sizeof(*grown));

	if (!grown)
		return NULL;
	cfg->listen = grown;
	memset(&grown[cfg->n_listen], 0, sizeof(*grown));
	return &grown[cfg->n_listen++];
}

static struct cfg_acl *acl_append(struct config *cfg)
{
	struct cfg_acl *grown = reallocarray(cfg->acl, cfg->n_acl + 1, sizeof(*grown));

	if (!grown)
		return NULL;
	cfg->acl = grown;
	memset(&grown[cfg->n_acl], 0, sizeof(*grown));
	return &grown[cfg->n_acl++];
}

/* ---- setters ------------------------------------------------------- */

static void *field_ptr(struct parse_ctx *c, const struct key_def *k)
{
	return (char *)c->cfg + k->off;
}

/* A number within the key's range; the message names the key and range. */
static int parse_ranged(struct parse_ctx *c, const struct key_def *k, const char *val,
			uint64_t *out)
{
	int r = parse_u64(val, out);

	if (r == -EINVAL)
		return fail(c, "%s: '%s' is not a number", k->name, val);
	if (r == -ERANGE || *out < k->min || *out > k->max)
		return fail(c, "%s: %s is out of range %" PRIu64 "..%" PRIu64,
			    k->name, val, k->min, k->max);
	return 0;
}

static int set_u32(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	uint64_t v;

	if (parse_ranged(c, k, val, &v) < 0)
		return -1;
	*(uint32_t *)field_ptr(c, k) = (uint32_t)v;
	return 0;
}

static int set_int(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	uint64_t v;

	if (parse_ranged(c, k, val, &v) < 0)
		return -1;
	*(int *)field_ptr(c, k) = (int)v;
	return 0;
}

static int set_bool(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	bool *b = field_ptr(c, k);

	if (strcasecmp(val, "yes") == 0)
		*b = true;
	else if (strcasecmp(val, "no") == 0)
		*b = false;
	else
		return fail(c, "%s: '%s' is not yes or no", k->name, val);
	return 0;
}

static int set_size(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	uint64_t v;

	if (config_parse_size(val, &v) < 0)
		return fail(c, "%s: bad size '%s' (a number with optional k, m or g)",
			    k->name, val);
	if (v < k->min || v > k->max)
		return fail(c, "%s: %s is out of range %" PRIu64 "..%" PRIu64 " bytes",
			    k->name, val, k->min, k->max);
	*(uint64_t *)field_ptr(c, k) = v;
	return 0;
}

static int set_str(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	char **field = field_ptr(c, k);
	char *copy = NULL;

	if (!*val && !(k->flags & (STR_EMPTY_OK | STR_EMPTY_NULL)))
		return fail(c, "%s: must not be empty", k->name);
	if ((k->flags & STR_IFNAME) && strlen(val) >= IFNAMSIZ)
		return fail(c, "%s: interface name '%s' is longer than %d characters",
			    k->name, val, IFNAMSIZ - 1);
	if ((k->flags & STR_SUNPATH) &&
	    strlen(val) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(c, "%s: path '%s' is too long for a unix socket (max %zu)",
			    k->name, val, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (*val || !(k->flags & STR_EMPTY_NULL)) {
		copy = strdup(val);
		if (!copy)
			return fail(c, "%s: out of memory", k->name);
	}
	free(*field);
	*field = copy;
	return 0;
}

static int set_listen(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	struct config *cfg = c->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	struct cfg_listen *l;

	switch (parse_addr_port(val, 53, &ss, &len)) {
	case ADDR_OK:
		break;
	case ADDR_BAD_PORT:
		return fail(c, "bad port in '%s'", val);
	case ADDR_BAD_ADDR:
		return fail(c, "bad address in '%s' (want 127.0.0.1@53 or ::1@53)", val);
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen[i].addrlen == len && memcmp(&cfg->listen[i].addr, &ss, len) == 0)
			return fail(c, "listen: '%s' is given twice", val);
	}
	l = listen_append(cfg);
	if (!l)
		return fail(c, "%s: out of memory", k->name);
	l->addr = ss;
	l->addrlen = len;
	return 0;
}

static int parse_acl_action(const char *s, enum acl_action *out)
{
	if (strcmp(s, "allow") == 0)
		*out = ACL_ALLOW;
	else if (strcmp(s, "refuse") == 0)
		*out = ACL_REFUSE;
	else if (strcmp(s, "deny") == 0)
		*out = ACL_DENY;
	else
		return -1;
	return 0;
}

/* An ACL entry written as ::ffff:a.b.c.d/N (N >= 96) is an IPv4 network:
 * config_acl_check matches mapped clients as IPv4, so store it that way. */
static void acl_unmap_v4(struct cfg_acl *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family != AF_INET6 || a->prefix < 96 || memcmp(a->addr, mapped, 12) != 0)
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = AF_INET;
	a->prefix -= 96;
}

/* Parse "ADDR[/PREFIX]" into an entry (action not set). */
static int parse_acl_net(struct parse_ctx *c, const char *text, struct cfg_acl *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	uint64_t prefix;
	unsigned max;

	if (strlen(text) >= sizeof(buf))
		return fail(c, "access-control: bad address in '%s'", text);
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = AF_INET6;
		max = 128;
	} else {
		return fail(c, "access-control: bad address in '%s'", text);
	}
	prefix = max;
	if (slash && (parse_u64(slash + 1, &prefix) < 0 || prefix > max))
		return fail(c, "bad prefix length in '%s' (0..%u)", text, max);
	a->prefix = (uint8_t)prefix;
	if (mask_to_prefix(a->addr, a->family == AF_INET ? 4 : 16, a->prefix))
		log_warn("%s:%u: access-control '%s' has host bits set; using the /%u network",
			 c->name, c->line, text, a->prefix);
	acl_unmap_v4(a);
	return 0;
}

/* "ADDR[/PREFIX] allow|refuse|deny".  The same network given again
 * replaces the earlier action, so that lookups are never ambiguous. */
static int set_acl(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	struct config *cfg = c->cfg;
	struct cfg_acl a = { 0 };
	struct cfg_acl *slot;
	char buf[128], *save, *net, *action;

	if (strlen(val) >= sizeof(buf))
		return fail(c, "access-control: '%s' is too long", val);
	strcpy(buf, val);
	net = strtok_r(buf, " \t", &save);
	action = strtok_r(NULL, " \t", &save);
	if (!net || !action || strtok_r(NULL, " \t", &save))
		return fail(c, "access-control: want 'ADDR/PREFIX allow|refuse|deny', got '%s'",
			    val);
	if (parse_acl_action(action, &a.action) < 0)
		return fail(c, "access-control: bad action '%s' (allow, refuse or deny)", action);
	if (parse_acl_net(c, net, &a) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_acl; i++) {
		slot = &cfg->acl[i];
		if (slot->family == a.family && slot->prefix == a.prefix &&
		    memcmp(slot->addr, a.addr, sizeof(a.addr)) == 0) {
			slot->action = a.action;
			return 0;
		}
	}
	slot = acl_append(cfg);
	if (!slot)
		return fail(c, "%s: out of memory", k->name);
	*slot = a;
	return 0;
}

static int set_mode(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	if (strcmp(val, "kernel") == 0)
		c->cfg->mode = CFG_MODE_KERNEL;
	else if (strcmp(val, "raw") == 0)
		c->cfg->mode = CFG_MODE_RAW;
	else
		return fail(c, "%s: '%s' is not kernel or raw", k->name, val);
	return 0;
}

static uint32_t prefix_mask_v4(unsigned prefix)
{
	return prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
}

/* "a.b.c.d/N": the stack's own address.  It must be a usable host
 * address: not the network or broadcast address of a /1../30. */
static int set_raw_address(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	char buf[INET_ADDRSTRLEN + 4];
	struct in_addr ia;
	uint64_t prefix;
	char *slash;

	if (strlen(val) >= sizeof(buf))
		return fail(c, "%s: bad address '%s' (want a.b.c.d/N)", k->name, val);
	strcpy(buf, val);
	slash = strchr(buf, '/');
	if (!slash)
		return fail(c, "%s: '%s' has no prefix length (want a.b.c.d/N)", k->name, val);
	*slash = '\0';
	if (inet_pton(AF_INET, buf, &ia) != 1 || ia.s_addr == 0)
		return fail(c, "%s: bad address '%s' (want a.b.c.d/N)", k->name, val);
	if (parse_u64(slash + 1, &prefix) < 0 || prefix < 1 || prefix > 32)
		return fail(c, "bad prefix length in '%s' (1..32)", val);
	uint32_t mask = prefix_mask_v4((unsigned)prefix);
	if (prefix <= 30 && ((ia.s_addr & ~mask) == 0 || (ia.s_addr | mask) == 0xffffffffu))
		return fail(c, "%s: '%s' is the network or broadcast address", k->name, val);
	c->cfg->raw_address = ia.s_addr;
	c->cfg->raw_prefix = (uint8_t)prefix;
	return 0;
}

static int set_raw_gateway(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	struct in_addr ia;

	if (inet_pton(AF_INET, val, &ia) != 1)
		return fail(c, "%s: bad IPv4 address '%s'", k->name, val);
	c->cfg->raw_gateway = ia.s_addr;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* "aa:bb:cc:dd:ee:ff", unicast and not all zero (it is our own address). */
static int set_raw_mac(struct parse_ctx *c, const struct key_def *k, const char *val)
{
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (strlen(val) != 17)
		return fail(c, "%s: bad MAC '%s' (want aa:bb:cc:dd:ee:ff)", k->name, val);
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(val[3 * i]), lo = hex_digit(val[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && val[3 * i + 2] != ':'))
			return fail(c, "%s: bad MAC '%s' (want aa:bb:cc:dd:ee:ff)", k->name, val);
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return fail(c, "%s: '%s' is a multicast address", k->name, val);
	if (memcmp(mac, zero, 6) == 0)
		return fail(c, "%s: the all-zero MAC is not an address", k->name);
	memcpy(c->cfg->raw_mac, mac, 6);
	c->cfg->raw_mac_set = true;
	return 0;
}

/* ---- line splitting ------------------------------------------------ */

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Cut the line at a '#' that is not inside double quotes. */
static void strip_comment(char *s)
{
	bool quoted = false;

	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '#' && !quoted) {
			*s = '\0';
			return;
		}
	}
}

/* Remove surrounding double quotes in place.  *quoted tells whether
 * there were any, so that "" can be told apart from nothing at all. */
static int unquote(struct parse_ctx *c, const char *key, char **val, bool *quoted)
{
	char *v = *val;
	size_t len = strlen(v);

	*quoted = false;
	if (v[0] != '"') {
		if (strchr(v, '"'))
			return fail(c, "%s: stray '\"' in '%s'", key, v);
		return 0;
	}
	char *close = strchr(v + 1, '"');
	if (!close)
		return fail(c, "%s: unterminated quote in '%s'", key, v);
	if (close != v + len - 1)
		return fail(c, "%s: text after the closing quote in '%s'", key, v);
	*close = '\0';
	*val = v + 1;
	*quoted = true;
	return 0;
}

static const struct key_def *find_key(const char *name, size_t *idx)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* One line of the file (modified in place). */
static int parse_line(struct parse_ctx *c, char *line)
{
	const struct key_def *k;
	char *key, *val, *colon;
	bool quoted;
	size_t idx;

	strip_comment(line);
	line = trim(line);
	if (!*line)
		return 0;
	colon = strchr(line, ':');
	if (!colon)
		return fail(c, "expected 'key: value', got '%s'", line);
	*colon = '\0';
	key = trim(line);
	val = trim(colon + 1);
	if (!*key)
		return fail(c, "missing key before ':'");
	if (strcmp(key, "server") == 0) {
		/* unbound-style section header: accepted and ignored */
		if (*val)
			return fail(c, "'server:' is a section line and takes no value");
		return 0;
	}
	k = find_key(key, &idx);
	if (!k)
		return fail(c, "unknown key '%s'", key);
	if (unquote(c, key, &val, &quoted) < 0)
		return -1;
	if (!*val && !quoted)
		return fail(c, "missing value for '%s'", key);
	if (k->set(c, k, val) < 0)
		return -1;
	c->key_line[idx] = c->line;
	return 0;
}

static int parse_text(struct parse_ctx *c, const char *text)
{
	char *buf = NULL;
	size_t cap = 0;
	int ret = 0;

	for (const char *p = text; *p && ret == 0;) {
		const char *end = strchrnul(p, '\n');
		size_t len = (size_t)(end - p);

		c->line++;
		if (len + 1 > cap) {
			char *nb = realloc(buf, len + 1);
			if (!nb) {
				ret = fail(c, "out of memory");
				break;
			}
			buf = nb;
			cap = len + 1;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		ret = parse_line(c, buf);
		p = *end ? end + 1 : end;
	}
	free(buf);
	return ret;
}

/* ---- checks across keys ------------------------------------------- */

static unsigned line_of(const struct parse_ctx *c, const char *key)
{
	size_t idx;

	if (!find_key(key, &idx))
		return 0;
	return c->key_line[idx];
}

static unsigned later(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/* Combinations that each key alone cannot reject.  The error points at
 * the line that made the combination wrong (the later of the two). */
static int validate(struct parse_ctx *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->cache_min_ttl > cfg->cache_max_ttl)
		return fail_at(c, later(line_of(c, "cache-min-ttl"), line_of(c, "cache-max-ttl")),
			       "cache-min-ttl %" PRIu32 " is above cache-max-ttl %" PRIu32,
			       cfg->cache_min_ttl, cfg->cache_max_ttl);
	if (!cfg->do_ip4 && !cfg->do_ip6)
		return fail_at(c, later(line_of(c, "do-ip4"), line_of(c, "do-ip6")),
			       "do-ip4 and do-ip6 are both no: no way to reach any server");
	if (cfg->mode == CFG_MODE_RAW && cfg->raw_address == 0)
		return fail_at(c, line_of(c, "mode"), "mode: raw needs raw-address");
	if (cfg->raw_address && cfg->raw_gateway) {
		uint32_t mask = prefix_mask_v4(cfg->raw_prefix);
		if ((cfg->raw_address & mask) != (cfg->raw_gateway & mask))
			return fail_at(c, later(line_of(c, "raw-gateway"),
						line_of(c, "raw-address")),
				       "raw-gateway is outside the raw-address network");
	}
	return 0;
}

/* ---- public -------------------------------------------------------- */

/* config_init cannot report failure, and a daemon that cannot allocate a
 * few bytes at startup has nothing sensible left to do. */
static char *must_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		log_err("config: out of memory");
		abort();
	}
	return p;
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_tcp_clients = 256;
	cfg->tcp_idle_timeout_ms = 10000;
	cfg->max_udp_size = 1232;
	cfg->max_queries_in_flight = 4096;
	cfg->rrl_responses_per_second = 0;
	cfg->rrl_slip = 2;
	cfg->rrl_ipv4_prefix = 24;
	cfg->rrl_ipv6_prefix = 56;
	cfg->rrl_table_size = 65536;

	cfg->verbosity = 1;
	cfg->username = must_strdup("rootwalk");
	cfg->pidfile = NULL;
	cfg->root_hints = must_strdup(ROOTWALK_DEFAULT_HINTS);
	cfg->workers = 0;

	cfg->query_timeout_ms = 10000;
	cfg->outgoing_tcp_timeout_ms = 4000;
	cfg->edns_buffer_size = 1232;
	cfg->do_ip4 = true;
	cfg->do_ip6 = true;
	cfg->use_caps_for_id = true;

	cfg->max_referrals = 30;
	cfg->max_cname_chain = 12;
	cfg->max_glueless_per_referral = 4;
	cfg->max_upstream_queries = 64;
	cfg->max_subquery_depth = 4;
	cfg->max_target_nx = 5;

	cfg->cache_size = UINT64_C(64) << 20;
	cfg->cache_max_ttl = 86400;
	cfg->cache_min_ttl = 0;
	cfg->cache_max_negative_ttl = 3600;
	cfg->serve_expired = false;
	cfg->serve_expired_window = 86400;
	cfg->serve_expired_client_timeout_ms = 1800;
	cfg->prefetch = false;
	cfg->infra_cache_size = 10000;

	cfg->control_socket = must_strdup(ROOTWALK_DEFAULT_CONTROL);
	cfg->control_group = NULL;

	cfg->mode = CFG_MODE_KERNEL;
	cfg->raw_interface = must_strdup("tap0");
	cfg->raw_prefix = 24;
	cfg->raw_mtu = 1500;
}

static int add_default_listen(struct config *cfg, const char *addr)
{
	struct cfg_listen *l = listen_append(cfg);

	if (!l)
		return -1;
	if (config_parse_addr(addr, 53, &l->addr, &l->addrlen) < 0) {
		cfg->n_listen--;
		return -1;
	}
	return 0;
}

static int add_default_acl(struct config *cfg, int family, const char *addr, uint8_t prefix)
{
	struct cfg_acl *a = acl_append(cfg);

	if (!a)
		return -1;
	a->family = family;
	a->prefix = prefix;
	a->action = ACL_ALLOW;
	if (inet_pton(family, addr, a->addr) != 1) {
		cfg->n_acl--;
		return -1;
	}
	return 0;
}

/* The defaults that depend on what the file gave; -1 only on ENOMEM. */
static int apply_defaults(struct config *cfg)
{
	if (cfg->n_listen == 0 &&
	    (add_default_listen(cfg, "127.0.0.1@53") < 0 || add_default_listen(cfg, "::1@53") < 0))
		return -1;
	if (cfg->n_acl == 0 &&
	    (add_default_acl(cfg, AF_INET, "127.0.0.0", 8) < 0 ||
	     add_default_acl(cfg, AF_INET6, "::1", 128) < 0))
		return -1;
	return 0;
}

void config_finish(struct config *cfg)
{
	if (apply_defaults(cfg) < 0) {
		log_err("config: out of memory applying defaults");
		abort();
	}
}

int config_parse_string(struct config *cfg, const char *text, const char *name,
			char *err, size_t errlen)
{
	struct parse_ctx c = {
		.cfg = cfg,
		.name = name ? name : "<config>",
		.err = err,
		.errlen = errlen,
	};
	char *file;

	if (err && errlen)
		err[0] = '\0';
	file = strdup(c.name);
	if (!file)
		return fail_at(&c, 0, "out of memory");
	free(cfg->file);
	cfg->file = file;
	if (!text)
		text = "";
	if (parse_text(&c, text) < 0 || validate(&c) < 0)
		return -1;
	if (apply_defaults(cfg) < 0)
		return fail_at(&c, 0, "out of memory");
	return 0;
}

/* Read the whole file; a NUL byte would silently end parsing early, so
 * it is an error naming its line. */
static char *read_file(struct parse_ctx *c, const char *path)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!fp) {
		fail_at(c, 0, "cannot open config file: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= CONFIG_MAX_FILE_SIZE) {
				fail_at(c, 0, "config file is larger than %u bytes",
					CONFIG_MAX_FILE_SIZE);
				goto fail;
			}
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				fail_at(c, 0, "out of memory");
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fail_at(c, 0, "cannot read config file: %s", strerror(errno));
		goto fail;
	}
	buf[len] = '\0';
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		fail_at(c, line, "NUL byte in config file");
		goto fail;
	}
	fclose(fp);
	return buf;
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse_ctx c = { .cfg = cfg, .name = path, .err = err, .errlen = errlen };
	char *text;
	int ret;

	if (!path)
		return fail_at(&c, 0, "no config file given");
	text = read_file(&c, path);
	if (!text)
		return -1;
	ret = config_parse_string(cfg, text, path, err, errlen);
	free(text);
	return ret;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->listen);
	free(cfg->acl);
	free(cfg->username);
	free(cfg->pidfile);
	free(cfg->root_hints);
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->raw_interface);
	/* zeroed, so a second config_free is harmless */
	memset(cfg, 0, sizeof(*cfg));
}

/* The client address as ACL key bytes: a v4-mapped IPv6 address is the
 * IPv4 client it stands for (dual-stack sockets report them that way). */
static bool acl_client_key(const struct sockaddr *sa, int *family, uint8_t key[16])
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(key, a6->s6_addr + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(key, a6->s6_addr, 16);
			*family = AF_INET6;
		}
		return true;
	}
	return false;
}

enum acl_action config_acl_check(const struct config *cfg, const struct sockaddr *sa)
{
	enum acl_action action = ACL_REFUSE;
	uint8_t key[16];
	int family, best = -1;

	if (!cfg || !acl_client_key(sa, &family, key))
		return ACL_REFUSE;
	for (size_t i = 0; i < cfg->n_acl; i++) {
		const struct cfg_acl *a = &cfg->acl[i];
		if (a->family == family && (int)a->prefix > best &&
		    prefix_matches(a->addr, key, a->prefix)) {
			best = a->prefix;
			action = a->action;
		}
	}
	return action;
}
