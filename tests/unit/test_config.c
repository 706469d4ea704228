/* test_config.c — unit tests for the config parser.
 *
 * Every test parses into a config_init()ed struct that the fixture's
 * teardown frees, so LeakSanitizer (ASan builds) fails any test that
 * leaks.  Error tests compare the whole message, because "file:line:
 * what is wrong" is what an operator sees. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "build_config.h"
#include "config.h"

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must point at the source tree (set in tests/unit/meson.build)"
#endif
#define EXAMPLE_CONF SOURCE_ROOT "/conf/rootwalkd.conf"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct config cfg;
static char err[CONFIG_ERR_MAX];
static char tmp_path[64];

static void setup(void)
{
	config_init(&cfg);
	err[0] = '\0';
	tmp_path[0] = '\0';
}

static void teardown(void)
{
	config_free(&cfg);
	if (tmp_path[0])
		unlink(tmp_path);
}

static int parse(const char *text)
{
	return config_parse_string(&cfg, text, "t.conf", err, sizeof(err));
}

static void parse_ok(const char *text)
{
	ck_assert_msg(parse(text) == 0, "parse failed: %s", err);
}

/* Parse into a fresh config and expect exactly this error message. */
static void expect_error(const char *text, const char *message)
{
	struct config c;
	char e[CONFIG_ERR_MAX] = "";

	config_init(&c);
	int r = config_parse_string(&c, text, "t.conf", e, sizeof(e));
	config_free(&c);
	ck_assert_msg(r == -1, "no error for %s", text);
	ck_assert_str_eq(e, message);
}

/* Parse into a fresh config: true if it was accepted. */
static bool accepted(const char *text)
{
	struct config c;
	char e[CONFIG_ERR_MAX];

	config_init(&c);
	int r = config_parse_string(&c, text, "t.conf", e, sizeof(e));
	config_free(&c);
	return r == 0;
}

static enum acl_action acl_for(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_msg(config_parse_addr(addr, 0, &ss, &len) == 0, "bad test address %s", addr);
	return config_acl_check(&cfg, (struct sockaddr *)&ss);
}

static void write_tmp(const char *content, size_t len)
{
	strcpy(tmp_path, "/tmp/rw_test_config_XXXXXX");
	int fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* Read a whole file into a heap string (for the example-config tests). */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	long size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	char *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	buf[size] = '\0';
	fclose(fp);
	return buf;
}

static void assert_listen(const struct cfg_listen *l, int family, const char *addr,
			  uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	ck_assert_int_eq(l->addr.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&l->addr;
		ck_assert_uint_eq(l->addrlen, sizeof(*sin));
		ck_assert_uint_eq(ntohs(sin->sin_port), port);
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l->addr;
		ck_assert_uint_eq(l->addrlen, sizeof(*sin6));
		ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
	}
	ck_assert_str_eq(text, addr);
}

static void assert_str_or_null_eq(const char *a, const char *b)
{
	if (!a || !b)
		ck_assert_ptr_eq(a, b);
	else
		ck_assert_str_eq(a, b);
}

/* Every setting equal; the "file" field is not a setting. */
static void assert_same_settings(const struct config *a, const struct config *b)
{
	ck_assert_uint_eq(a->n_listen, b->n_listen);
	for (size_t i = 0; i < a->n_listen; i++) {
		ck_assert_uint_eq(a->listen[i].addrlen, b->listen[i].addrlen);
		ck_assert(memcmp(&a->listen[i].addr, &b->listen[i].addr, a->listen[i].addrlen) == 0);
	}
	ck_assert_uint_eq(a->n_acl, b->n_acl);
	for (size_t i = 0; i < a->n_acl; i++)
		ck_assert(memcmp(&a->acl[i], &b->acl[i], sizeof(a->acl[i])) == 0);
	ck_assert_uint_eq(a->max_tcp_clients, b->max_tcp_clients);
	ck_assert_uint_eq(a->tcp_idle_timeout_ms, b->tcp_idle_timeout_ms);
	ck_assert_uint_eq(a->max_udp_size, b->max_udp_size);
	ck_assert_uint_eq(a->max_queries_in_flight, b->max_queries_in_flight);
	ck_assert_int_eq(a->verbosity, b->verbosity);
	assert_str_or_null_eq(a->username, b->username);
	assert_str_or_null_eq(a->pidfile, b->pidfile);
	assert_str_or_null_eq(a->root_hints, b->root_hints);
	ck_assert_uint_eq(a->workers, b->workers);
	ck_assert_uint_eq(a->query_timeout_ms, b->query_timeout_ms);
	ck_assert_uint_eq(a->outgoing_tcp_timeout_ms, b->outgoing_tcp_timeout_ms);
	ck_assert_uint_eq(a->edns_buffer_size, b->edns_buffer_size);
	ck_assert_int_eq(a->do_ip4, b->do_ip4);
	ck_assert_int_eq(a->do_ip6, b->do_ip6);
	ck_assert_int_eq(a->use_caps_for_id, b->use_caps_for_id);
	ck_assert_uint_eq(a->max_referrals, b->max_referrals);
	ck_assert_uint_eq(a->max_cname_chain, b->max_cname_chain);
	ck_assert_uint_eq(a->max_glueless_per_referral, b->max_glueless_per_referral);
	ck_assert_uint_eq(a->max_upstream_queries, b->max_upstream_queries);
	ck_assert_uint_eq(a->max_subquery_depth, b->max_subquery_depth);
	ck_assert_uint_eq(a->max_target_nx, b->max_target_nx);
	ck_assert_uint_eq(a->cache_size, b->cache_size);
	ck_assert_uint_eq(a->cache_max_ttl, b->cache_max_ttl);
	ck_assert_uint_eq(a->cache_min_ttl, b->cache_min_ttl);
	ck_assert_uint_eq(a->cache_max_negative_ttl, b->cache_max_negative_ttl);
	ck_assert_int_eq(a->serve_expired, b->serve_expired);
	ck_assert_uint_eq(a->serve_expired_window, b->serve_expired_window);
	ck_assert_uint_eq(a->serve_expired_client_timeout_ms, b->serve_expired_client_timeout_ms);
	ck_assert_int_eq(a->prefetch, b->prefetch);
	ck_assert_uint_eq(a->infra_cache_size, b->infra_cache_size);
	assert_str_or_null_eq(a->control_socket, b->control_socket);
	assert_str_or_null_eq(a->control_group, b->control_group);
	ck_assert_int_eq(a->mode, b->mode);
	assert_str_or_null_eq(a->raw_interface, b->raw_interface);
	ck_assert_uint_eq(a->raw_address, b->raw_address);
	ck_assert_uint_eq(a->raw_prefix, b->raw_prefix);
	ck_assert_uint_eq(a->raw_gateway, b->raw_gateway);
	ck_assert_int_eq(a->raw_mac_set, b->raw_mac_set);
	ck_assert(memcmp(a->raw_mac, b->raw_mac, 6) == 0);
	ck_assert_uint_eq(a->raw_mtu, b->raw_mtu);
}

/* Every key with a valid value that differs from its default. */
static const struct {
	const char *key, *value;
} every_key[] = {
	{ "listen", "127.0.0.1@5353" },
	{ "access-control", "10.0.0.0/8 allow" },
	{ "max-tcp-clients", "100" },
	{ "tcp-idle-timeout", "5000" },
	{ "max-udp-size", "4096" },
	{ "max-queries-in-flight", "1000" },
	{ "verbosity", "3" },
	{ "username", "nobody" },
	{ "pidfile", "/run/rootwalkd.pid" },
	{ "root-hints", "/etc/rootwalk/root.hints" },
	{ "workers", "2" },
	{ "query-timeout", "3000" },
	{ "outgoing-tcp-timeout", "2000" },
	{ "edns-buffer-size", "1400" },
	{ "do-ip4", "yes" },
	{ "do-ip6", "no" },
	{ "use-caps-for-id", "no" },
	{ "max-referrals", "20" },
	{ "max-cname-chain", "8" },
	{ "max-glueless-ns", "2" },
	{ "max-upstream-queries", "50" },
	{ "max-subquery-depth", "3" },
	{ "max-target-nx", "7" },
	{ "cache-size", "128m" },
	{ "cache-max-ttl", "3600" },
	{ "cache-min-ttl", "60" },
	{ "cache-max-negative-ttl", "300" },
	{ "serve-expired", "yes" },
	{ "serve-expired-window", "7200" },
	{ "serve-expired-client-timeout", "500" },
	{ "prefetch", "yes" },
	{ "infra-cache-size", "5000" },
	{ "control-socket", "/tmp/rw.sock" },
	{ "control-group", "wheel" },
	{ "mode", "raw" },
	{ "raw-interface", "tap7" },
	{ "raw-address", "198.18.0.2/16" },
	{ "raw-gateway", "198.18.0.1" },
	{ "raw-mac", "02:AB:cd:00:00:01" },
	{ "raw-mtu", "9000" },
};

static const char *const all_keys[] = {
	"listen", "access-control", "verbosity", "username", "pidfile", "root-hints",
	"workers", "query-timeout", "outgoing-tcp-timeout", "max-tcp-clients",
	"tcp-idle-timeout", "max-udp-size", "max-queries-in-flight", "edns-buffer-size",
	"do-ip4", "do-ip6", "use-caps-for-id", "max-referrals", "max-cname-chain",
	"max-glueless-ns", "max-upstream-queries", "max-subquery-depth", "max-target-nx", "cache-size",
	"cache-max-ttl", "cache-min-ttl", "cache-max-negative-ttl", "serve-expired",
	"serve-expired-window", "serve-expired-client-timeout", "prefetch", "infra-cache-size", "control-socket",
	"control-group", "mode", "raw-interface", "raw-address", "raw-gateway",
	"raw-mac", "raw-mtu",
};

START_TEST(test_defaults)
{
	ck_assert_ptr_null(cfg.file);
	ck_assert_uint_eq(cfg.n_listen, 0);
	ck_assert_uint_eq(cfg.n_acl, 0);
	ck_assert_uint_eq(cfg.max_tcp_clients, 256);
	ck_assert_uint_eq(cfg.tcp_idle_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.max_udp_size, 1232);
	ck_assert_uint_eq(cfg.max_queries_in_flight, 4096);
	ck_assert_int_eq(cfg.verbosity, 1);
	ck_assert_str_eq(cfg.username, "rootwalk");
	ck_assert_ptr_null(cfg.pidfile);
	ck_assert_str_eq(cfg.root_hints, ROOTWALK_DEFAULT_HINTS);
	ck_assert_uint_eq(cfg.workers, 0);
	ck_assert_uint_eq(cfg.query_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.outgoing_tcp_timeout_ms, 4000);
	ck_assert_uint_eq(cfg.edns_buffer_size, 1232);
	ck_assert(cfg.do_ip4);
	ck_assert(cfg.do_ip6);
	ck_assert(cfg.use_caps_for_id);
	ck_assert_uint_eq(cfg.max_referrals, 30);
	ck_assert_uint_eq(cfg.max_cname_chain, 12);
	ck_assert_uint_eq(cfg.max_glueless_per_referral, 4);
	ck_assert_uint_eq(cfg.max_upstream_queries, 64);
	ck_assert_uint_eq(cfg.max_subquery_depth, 4);
	ck_assert_uint_eq(cfg.max_target_nx, 5);
	ck_assert_uint_eq(cfg.cache_size, 64u << 20);
	ck_assert_uint_eq(cfg.cache_max_ttl, 86400);
	ck_assert_uint_eq(cfg.cache_min_ttl, 0);
	ck_assert_uint_eq(cfg.cache_max_negative_ttl, 3600);
	ck_assert(!cfg.serve_expired);
	ck_assert_uint_eq(cfg.serve_expired_window, 86400);
	ck_assert_uint_eq(cfg.serve_expired_client_timeout_ms, 1800);
	ck_assert(!cfg.prefetch);
	ck_assert_uint_eq(cfg.infra_cache_size, 10000);
	ck_assert_str_eq(cfg.control_socket, ROOTWALK_DEFAULT_CONTROL);
	ck_assert_ptr_null(cfg.control_group);
	ck_assert_int_eq(cfg.mode, CFG_MODE_KERNEL);
	ck_assert_str_eq(cfg.raw_interface, "tap0");
	ck_assert_uint_eq(cfg.raw_address, 0);
	ck_assert_uint_eq(cfg.raw_prefix, 24);
	ck_assert_uint_eq(cfg.raw_gateway, 0);
	ck_assert(!cfg.raw_mac_set);
	ck_assert_uint_eq(cfg.raw_mtu, 1500);
}
END_TEST

START_TEST(test_finish_defaults)
{
	parse_ok("");
	ck_assert_str_eq(cfg.file, "t.conf");
	ck_assert_uint_eq(cfg.n_listen, 2);
	assert_listen(&cfg.listen[0], AF_INET, "127.0.0.1", 53);
	assert_listen(&cfg.listen[1], AF_INET6, "::1", 53);
	ck_assert_uint_eq(cfg.n_acl, 2);
	ck_assert_int_eq(acl_for("127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("127.255.0.9"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("::1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("::ffff:127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("128.0.0.1"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("::2"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("2001:db8::1"), ACL_REFUSE);

	/* config_finish on an already finished config changes nothing */
	config_finish(&cfg);
	ck_assert_uint_eq(cfg.n_listen, 2);
	ck_assert_uint_eq(cfg.n_acl, 2);
}
END_TEST

START_TEST(test_finish_on_init_only)
{
	config_finish(&cfg);
	ck_assert_uint_eq(cfg.n_listen, 2);
	ck_assert_uint_eq(cfg.n_acl, 2);
	ck_assert_int_eq(acl_for("127.0.0.1"), ACL_ALLOW);
}
END_TEST

/* The test's key list and the table above must cover the same keys. */
START_TEST(test_every_key_listed)
{
	ck_assert_uint_eq(ARRAY_SIZE(every_key), ARRAY_SIZE(all_keys));
	for (size_t i = 0; i < ARRAY_SIZE(all_keys); i++) {
		bool found = false;
		for (size_t j = 0; j < ARRAY_SIZE(every_key); j++)
			found |= strcmp(all_keys[i], every_key[j].key) == 0;
		ck_assert_msg(found, "no value for key %s", all_keys[i]);
	}
}
END_TEST

/* Each key alone is accepted (raw mode needs its address beside it). */
START_TEST(test_each_key_alone)
{
	char text[256];

	for (size_t i = 0; i < ARRAY_SIZE(every_key); i++) {
		snprintf(text, sizeof(text), "%s: %s\n%s", every_key[i].key, every_key[i].value,
			 strcmp(every_key[i].key, "mode") == 0 ? "raw-address: 10.0.0.2/8\n" : "");
		ck_assert_msg(accepted(text), "key %s rejected", every_key[i].key);
	}
}
END_TEST

START_TEST(test_every_key_parses)
{
	char text[4096] = "";
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(every_key); i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s: %s\n",
					every_key[i].key, every_key[i].value);
	ck_assert_uint_lt(len, sizeof(text));
	parse_ok(text);

	ck_assert_uint_eq(cfg.n_listen, 1);
	assert_listen(&cfg.listen[0], AF_INET, "127.0.0.1", 5353);
	ck_assert_uint_eq(cfg.n_acl, 1);
	ck_assert_int_eq(cfg.acl[0].family, AF_INET);
	ck_assert_uint_eq(cfg.acl[0].prefix, 8);
	ck_assert_uint_eq(cfg.acl[0].addr[0], 10);
	ck_assert_int_eq(cfg.acl[0].action, ACL_ALLOW);
	ck_assert_uint_eq(cfg.max_tcp_clients, 100);
	ck_assert_uint_eq(cfg.tcp_idle_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.max_udp_size, 4096);
	ck_assert_uint_eq(cfg.max_queries_in_flight, 1000);
	ck_assert_int_eq(cfg.verbosity, 3);
	ck_assert_str_eq(cfg.username, "nobody");
	ck_assert_str_eq(cfg.pidfile, "/run/rootwalkd.pid");
	ck_assert_str_eq(cfg.root_hints, "/etc/rootwalk/root.hints");
	ck_assert_uint_eq(cfg.workers, 2);
	ck_assert_uint_eq(cfg.query_timeout_ms, 3000);
	ck_assert_uint_eq(cfg.outgoing_tcp_timeout_ms, 2000);
	ck_assert_uint_eq(cfg.edns_buffer_size, 1400);
	ck_assert(cfg.do_ip4);
	ck_assert(!cfg.do_ip6);
	ck_assert(!cfg.use_caps_for_id);
	ck_assert_uint_eq(cfg.max_referrals, 20);
	ck_assert_uint_eq(cfg.max_cname_chain, 8);
	ck_assert_uint_eq(cfg.max_glueless_per_referral, 2);
	ck_assert_uint_eq(cfg.max_upstream_queries, 50);
	ck_assert_uint_eq(cfg.max_subquery_depth, 3);
	ck_assert_uint_eq(cfg.max_target_nx, 7);
	ck_assert_uint_eq(cfg.cache_size, 128u << 20);
	ck_assert_uint_eq(cfg.cache_max_ttl, 3600);
	ck_assert_uint_eq(cfg.cache_min_ttl, 60);
	ck_assert_uint_eq(cfg.cache_max_negative_ttl, 300);
	ck_assert(cfg.serve_expired);
	ck_assert_uint_eq(cfg.serve_expired_window, 7200);
	ck_assert_uint_eq(cfg.serve_expired_client_timeout_ms, 500);
	ck_assert(cfg.prefetch);
	ck_assert_uint_eq(cfg.infra_cache_size, 5000);
	ck_assert_str_eq(cfg.control_socket, "/tmp/rw.sock");
	ck_assert_str_eq(cfg.control_group, "wheel");
	ck_assert_int_eq(cfg.mode, CFG_MODE_RAW);
	ck_assert_str_eq(cfg.raw_interface, "tap7");
	ck_assert_uint_eq(cfg.raw_address, inet_addr("198.18.0.2"));
	ck_assert_uint_eq(cfg.raw_prefix, 16);
	ck_assert_uint_eq(cfg.raw_gateway, inet_addr("198.18.0.1"));
	ck_assert(cfg.raw_mac_set);
	static const uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0x00, 0x00, 0x01 };
	ck_assert(memcmp(cfg.raw_mac, mac, 6) == 0);
	ck_assert_uint_eq(cfg.raw_mtu, 9000);
}
END_TEST

static const struct {
	const char *text, *message;
} bad_configs[] = {
	{ "verbosity: 1\n\n#\n\n\n\nlistne: 127.0.0.1\n", "t.conf:7: unknown key 'listne'" },
	{ "#\n\nlisten: 127.0.0.1@99999\n", "t.conf:3: bad port in '127.0.0.1@99999'" },
	{ "listen: 127.0.0.1@\n", "t.conf:1: bad port in '127.0.0.1@'" },
	{ "listen: 127.0.0.1@5x\n", "t.conf:1: bad port in '127.0.0.1@5x'" },
	{ "listen: 300.0.0.1\n",
	  "t.conf:1: bad address in '300.0.0.1' (want 127.0.0.1@53 or ::1@53)" },
	{ "listen: localhost@53\n",
	  "t.conf:1: bad address in 'localhost@53' (want 127.0.0.1@53 or ::1@53)" },
	{ "listen: 127.0.0.1\nlisten: 127.0.0.1@53\n",
	  "t.conf:2: listen: '127.0.0.1@53' is given twice" },
	{ "verbosity 3\n", "t.conf:1: expected 'key: value', got 'verbosity 3'" },
	{ ": 3\n", "t.conf:1: missing key before ':'" },
	{ "verbosity:\n", "t.conf:1: missing value for 'verbosity'" },
	{ "verbosity:   # nothing\n", "t.conf:1: missing value for 'verbosity'" },
	{ "verbosity: x\n", "t.conf:1: verbosity: 'x' is not a number" },
	{ "verbosity: -1\n", "t.conf:1: verbosity: '-1' is not a number" },
	{ "verbosity: 3 4\n", "t.conf:1: verbosity: '3 4' is not a number" },
	{ "verbosity: 6\n", "t.conf:1: verbosity: 6 is out of range 0..5" },
	{ "max-tcp-clients: 99999999999999999999999\n",
	  "t.conf:1: max-tcp-clients: 99999999999999999999999 is out of range 1..65536" },
	{ "do-ip4: maybe\n", "t.conf:1: do-ip4: 'maybe' is not yes or no" },
	{ "cache-size: 12q\n",
	  "t.conf:1: cache-size: bad size '12q' (a number with optional k, m or g)" },
	{ "cache-size: 512\n",
	  "t.conf:1: cache-size: 512 is out of range 1024..1099511627776 bytes" },
	{ "access-control: 10.0.0.0/33 allow\n",
	  "t.conf:1: bad prefix length in '10.0.0.0/33' (0..32)" },
	{ "access-control: 10.0.0.0/ allow\n",
	  "t.conf:1: bad prefix length in '10.0.0.0/' (0..32)" },
	{ "access-control: ::/129 refuse\n", "t.conf:1: bad prefix length in '::/129' (0..128)" },
	{ "access-control: 10.0.0.0/8 permit\n",
	  "t.conf:1: access-control: bad action 'permit' (allow, refuse or deny)" },
	{ "access-control: 10.0.0.0/8\n",
	  "t.conf:1: access-control: want 'ADDR/PREFIX allow|refuse|deny', got '10.0.0.0/8'" },
	{ "access-control: 10.0.0.0/8 allow now\n",
	  "t.conf:1: access-control: want 'ADDR/PREFIX allow|refuse|deny', got "
	  "'10.0.0.0/8 allow now'" },
	{ "access-control: ten/8 allow\n", "t.conf:1: access-control: bad address in 'ten/8'" },
	{ "username: \"rootwalk\n", "t.conf:1: username: unterminated quote in '\"rootwalk'" },
	{ "username: \"root\"walk\n",
	  "t.conf:1: username: text after the closing quote in '\"root\"walk'" },
	{ "username: root\"walk\n", "t.conf:1: username: stray '\"' in 'root\"walk'" },
	{ "root-hints: \"\"\n", "t.conf:1: root-hints: must not be empty" },
	{ "control-socket: \"\"\n", "t.conf:1: control-socket: must not be empty" },
	{ "raw-interface: tap-interface-17\n",
	  "t.conf:1: raw-interface: interface name 'tap-interface-17' is longer than 15 characters" },
	{ "server: yes\n", "t.conf:1: 'server:' is a section line and takes no value" },
	{ "remote-control:\n", "t.conf:1: unknown key 'remote-control'" },
	{ "mode: fast\n", "t.conf:1: mode: 'fast' is not kernel or raw" },
	{ "raw-address: 198.18.0.2\n",
	  "t.conf:1: raw-address: '198.18.0.2' has no prefix length (want a.b.c.d/N)" },
	{ "raw-address: 198.18.0.0/24\n",
	  "t.conf:1: raw-address: '198.18.0.0/24' is the network or broadcast address" },
	{ "raw-address: 198.18.0.255/24\n",
	  "t.conf:1: raw-address: '198.18.0.255/24' is the network or broadcast address" },
	{ "raw-address: 198.18.0.2/33\n", "t.conf:1: bad prefix length in '198.18.0.2/33' (1..32)" },
	{ "raw-address: 198.18.0.2/0\n", "t.conf:1: bad prefix length in '198.18.0.2/0' (1..32)" },
	{ "raw-address: 198.18.0/24\n",
	  "t.conf:1: raw-address: bad address '198.18.0/24' (want a.b.c.d/N)" },
	{ "raw-gateway: 198.18.0.300\n", "t.conf:1: raw-gateway: bad IPv4 address '198.18.0.300'" },
	{ "raw-mac: 02:00:00:00:00\n",
	  "t.conf:1: raw-mac: bad MAC '02:00:00:00:00' (want aa:bb:cc:dd:ee:ff)" },
	{ "raw-mac: 02-00-00-00-00-01\n",
	  "t.conf:1: raw-mac: bad MAC '02-00-00-00-00-01' (want aa:bb:cc:dd:ee:ff)" },
	{ "raw-mac: 02:00:00:00:00:0g\n",
	  "t.conf:1: raw-mac: bad MAC '02:00:00:00:00:0g' (want aa:bb:cc:dd:ee:ff)" },
	{ "raw-mac: 01:00:5e:00:00:01\n",
	  "t.conf:1: raw-mac: '01:00:5e:00:00:01' is a multicast address" },
	{ "raw-mac: 00:00:00:00:00:00\n", "t.conf:1: raw-mac: the all-zero MAC is not an address" },
	/* combinations: the later of the two lines is blamed */
	{ "cache-max-ttl: 100\n\ncache-min-ttl: 200\n",
	  "t.conf:3: cache-min-ttl 200 is above cache-max-ttl 100" },
	{ "cache-min-ttl: 100000\n", "t.conf:1: cache-min-ttl 100000 is above cache-max-ttl 86400" },
	{ "do-ip6: no\ndo-ip4: no\n",
	  "t.conf:2: do-ip4 and do-ip6 are both no: no way to reach any server" },
	{ "verbosity: 2\nmode: raw\n", "t.conf:2: mode: raw needs raw-address" },
	{ "raw-gateway: 10.0.0.1\nraw-address: 198.18.0.2/24\n",
	  "t.conf:2: raw-gateway is outside the raw-address network" },
	/* parsing stops at the first error */
	{ "verbosity: 9\nlistne: x\n", "t.conf:1: verbosity: 9 is out of range 0..5" },
};

START_TEST(test_errors_name_file_and_line)
{
	expect_error(bad_configs[_i].text, bad_configs[_i].message);
}
END_TEST

START_TEST(test_error_buffer_limits)
{
	char small[12];

	ck_assert_int_eq(config_parse_string(&cfg, "verbosity: 9\n", "t.conf", small,
					     sizeof(small)), -1);
	ck_assert_str_eq(small, "t.conf:1: v");
	/* no buffer at all: still an error, no crash */
	ck_assert_int_eq(config_parse_string(&cfg, "verbosity: 9\n", "t.conf", NULL, 0), -1);
}
END_TEST

START_TEST(test_comments_whitespace_quotes)
{
	parse_ok("# a comment line\n"
		 "   \n"
		 "\t\n"
		 "  \t verbosity:\t3   # trailing comment\n"
		 "username: \"dns # user\"   # the '#' inside quotes is kept\n"
		 "pidfile:\"/run/x.pid\"\n"
		 "control-group: \"\"\n"
		 "listen: ::1@5353\r\n"
		 "prefetch: YES\n"
		 "cache-size: \"2M\"\n"
		 "# last line without a newline\n"
		 "workers: 7");
	ck_assert_int_eq(cfg.verbosity, 3);
	ck_assert_str_eq(cfg.username, "dns # user");
	ck_assert_str_eq(cfg.pidfile, "/run/x.pid");
	ck_assert_ptr_null(cfg.control_group);
	ck_assert_uint_eq(cfg.n_listen, 1);
	assert_listen(&cfg.listen[0], AF_INET6, "::1", 5353);
	ck_assert(cfg.prefetch);
	ck_assert_uint_eq(cfg.cache_size, 2u << 20);
	ck_assert_uint_eq(cfg.workers, 7);
}
END_TEST

START_TEST(test_empty_strings)
{
	parse_ok("pidfile: /run/a.pid\n"
		 "pidfile: \"\"\n"
		 "username: \"\"\n");
	ck_assert_ptr_null(cfg.pidfile);
	ck_assert_ptr_nonnull(cfg.username);
	ck_assert_str_eq(cfg.username, "");
}
END_TEST

START_TEST(test_unbound_style_section)
{
	parse_ok("server:\n"
		 "\tverbosity: 2\n"
		 "        do-ip6: no\n"
		 "server:   # again, harmless\n"
		 "\taccess-control: 192.0.2.0/24 allow\n");
	ck_assert_int_eq(cfg.verbosity, 2);
	ck_assert(!cfg.do_ip6);
	ck_assert_uint_eq(cfg.n_acl, 1);
}
END_TEST

START_TEST(test_repeated_keys)
{
	parse_ok("verbosity: 2\n"
		 "verbosity: 4\n"
		 "username: first\n"
		 "username: second\n"
		 "listen: 127.0.0.1@5353\n"
		 "listen: ::1\n"
		 "listen: 127.0.0.2@5353\n"
		 "access-control: 10.0.0.0/8 allow\n"
		 "access-control: 192.0.2.0/24 deny\n"
		 "access-control: 10.0.0.0/8 refuse\n");
	ck_assert_int_eq(cfg.verbosity, 4);
	ck_assert_str_eq(cfg.username, "second");
	ck_assert_uint_eq(cfg.n_listen, 3);
	assert_listen(&cfg.listen[0], AF_INET, "127.0.0.1", 5353);
	assert_listen(&cfg.listen[1], AF_INET6, "::1", 53);
	assert_listen(&cfg.listen[2], AF_INET, "127.0.0.2", 5353);
	/* the same network again replaces the earlier action */
	ck_assert_uint_eq(cfg.n_acl, 2);
	ck_assert_int_eq(acl_for("10.1.1.1"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("192.0.2.1"), ACL_DENY);
}
END_TEST

START_TEST(test_acl_longest_prefix_v4)
{
	parse_ok("access-control: 0.0.0.0/0 deny\n"
		 "access-control: 10.1.2.3 allow\n"
		 "access-control: 10.1.0.0/16 refuse\n"
		 "access-control: 10.0.0.0/8 allow\n"
		 "access-control: 172.16.0.0/12 allow\n");
	ck_assert_int_eq(acl_for("192.0.2.1"), ACL_DENY);
	ck_assert_int_eq(acl_for("10.9.9.9"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("10.1.9.9"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("10.1.2.3"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("10.1.2.4"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("172.16.0.1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("172.31.255.255"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("172.32.0.0"), ACL_DENY);
	ck_assert_int_eq(acl_for("172.15.255.255"), ACL_DENY);
	/* an explicit list replaces the loopback default entirely */
	ck_assert_int_eq(acl_for("127.0.0.1"), ACL_DENY);
	ck_assert_int_eq(acl_for("::1"), ACL_REFUSE);
}
END_TEST

START_TEST(test_acl_explicit_replaces_default)
{
	parse_ok("access-control: 10.0.0.0/8 allow\n");
	ck_assert_uint_eq(cfg.n_acl, 1);
	ck_assert_int_eq(acl_for("10.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("127.0.0.1"), ACL_REFUSE);
	ck_assert_int_eq(acl_for("::1"), ACL_REFUSE);
}
END_TEST

START_TEST(test_acl_longest_prefix_v6)
{
	parse_ok("access-control: ::/0 refuse\n"
		 "access-control: 2001:db8::/32 allow\n"
		 "access-control: 2001:db8:1::/48 deny\n"
		 "access-control: 2001:db8:8000::/33 deny\n"
		 "access-control: 2001:db8:1::53 allow\n");
	ck_assert_int_eq(acl_for("2001:db8::1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("2001:db8:1::1"), ACL_DENY);
	ck_assert_int_eq(acl_for("2001:db8:1::53"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("2001:db8:7fff::1"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("2001:db8:8000::1"), ACL_DENY);
	ck_assert_int_eq(acl_for("2001:db9::1"), ACL_REFUSE);
	/* v4 clients do not match v6 entries, not even ::/0 */
	ck_assert_int_eq(acl_for("10.0.0.1"), ACL_REFUSE);
}
END_TEST

START_TEST(test_acl_v4_mapped)
{
	parse_ok("access-control: ::/0 allow\n"
		 "access-control: 10.0.0.0/8 allow\n"
		 "access-control: ::ffff:192.0.2.0/120 deny\n");
	/* a mapped client is matched as IPv4, so ::/0 does not cover it */
	ck_assert_int_eq(acl_for("::ffff:10.1.2.3"), ACL_ALLOW);
	ck_assert_int_eq(acl_for("::ffff:11.1.2.3"), ACL_REFUSE);
	/* a mapped ACL entry is stored as the IPv4 network it stands for */
	ck_assert_int_eq(cfg.acl[2].family, AF_INET);
	ck_assert_uint_eq(cfg.acl[2].prefix, 24);
	ck_assert_int_eq(acl_for("192.0.2.77"), ACL_DENY);
	ck_assert_int_eq(acl_for("::ffff:192.0.2.77"), ACL_DENY);
	ck_assert_int_eq(acl_for("2001:db8::1"), ACL_ALLOW);
}
END_TEST

START_TEST(test_acl_host_bits_are_cleared)
{
	parse_ok("access-control: 10.1.2.3/8 allow\n"
		 "access-control: 2001:db8::ffff/32 deny\n");
	static const uint8_t net4[4] = { 10, 0, 0, 0 };
	ck_assert(memcmp(cfg.acl[0].addr, net4, 4) == 0);
	ck_assert_int_eq(acl_for("10.200.0.1"), ACL_ALLOW);
	for (int i = 4; i < 16; i++)
		ck_assert_uint_eq(cfg.acl[1].addr[i], 0);
	ck_assert_int_eq(acl_for("2001:db8:ffff::1"), ACL_DENY);
}
END_TEST

START_TEST(test_acl_odd_clients)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	parse_ok("access-control: 0.0.0.0/0 allow\naccess-control: ::/0 allow\n");
	ck_assert_int_eq(config_acl_check(&cfg, (struct sockaddr *)&sun), ACL_REFUSE);
	ck_assert_int_eq(config_acl_check(&cfg, NULL), ACL_REFUSE);
}
END_TEST

START_TEST(test_size_suffixes)
{
	static const struct {
		const char *text;
		uint64_t value;
	} good[] = {
		{ "0", 0 },
		{ "1000", 1000 },
		{ "7b", 7 },
		{ "512k", 512u << 10 },
		{ "512K", 512u << 10 },
		{ "3kb", 3u << 10 },
		{ "64M", 64u << 20 },
		{ "4mB", 4u << 20 },
		{ "1g", 1u << 30 },
		{ "2GB", UINT64_C(2) << 30 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183g", UINT64_C(17179869183) << 30 },
	};
	static const char *const bad[] = {
		"", "k", "12x", "1.5m", "-1", " 1", "1 k", "1kk", "1t",
		"18446744073709551616", "17179869184g",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_msg(config_parse_size(good[i].text, &v) == 0, "%s", good[i].text);
		ck_assert_uint_eq(v, good[i].value);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(config_parse_size(bad[i], &v) == -1, "'%s' accepted", bad[i]);
	ck_assert_int_eq(config_parse_size(NULL, &v), -1);

	parse_ok("cache-size: 1k\n");
	ck_assert_uint_eq(cfg.cache_size, 1024);
	parse_ok("cache-size: 1024G\n");
	ck_assert_uint_eq(cfg.cache_size, UINT64_C(1) << 40);
	ck_assert(!accepted("cache-size: 1025g\n"));
	ck_assert(!accepted("cache-size: 1023\n"));
}
END_TEST

static const struct {
	const char *text;
	bool ok;
} boundaries[] = {
	{ "edns-buffer-size: 511", false },
	{ "edns-buffer-size: 512", true },
	{ "edns-buffer-size: 4096", true },
	{ "edns-buffer-size: 4097", false },
	{ "max-udp-size: 511", false },
	{ "max-udp-size: 512", true },
	{ "max-udp-size: 65535", true },
	{ "max-udp-size: 65536", false },
	{ "verbosity: 0", true },
	{ "verbosity: 5", true },
	{ "verbosity: 6", false },
	{ "query-timeout: 0", false },
	{ "query-timeout: 1", true },
	{ "query-timeout: 3600000", true },
	{ "query-timeout: 3600001", false },
	{ "tcp-idle-timeout: 0", false },
	{ "outgoing-tcp-timeout: 0", false },
	{ "max-tcp-clients: 0", false },
	{ "max-tcp-clients: 65536", true },
	{ "max-queries-in-flight: 0", false },
	{ "workers: 0", true },
	{ "workers: 1024", true },
	{ "workers: 1025", false },
	{ "max-referrals: 0", false },
	{ "max-referrals: 255", true },
	{ "max-referrals: 256", false },
	{ "max-cname-chain: 0", false },
	{ "max-glueless-ns: 64", true },
	{ "max-glueless-ns: 65", false },
	{ "max-upstream-queries: 10000", true },
	{ "max-upstream-queries: 10001", false },
	{ "max-subquery-depth: 32", true },
	{ "max-subquery-depth: 33", false },
	{ "max-target-nx: 0", false },
	{ "max-target-nx: 1000", true },
	{ "max-target-nx: 1001", false },
	{ "cache-max-ttl: 0", false },
	{ "cache-max-ttl: 2147483647", true },
	{ "cache-max-ttl: 2147483648", false },
	{ "cache-max-negative-ttl: 0", true },
	{ "cache-min-ttl: 86400", true },
	{ "cache-min-ttl: 86401", false },
	{ "infra-cache-size: 0", false },
	{ "infra-cache-size: 10000000", true },
	{ "infra-cache-size: 10000001", false },
	{ "raw-mtu: 575", false },
	{ "raw-mtu: 576", true },
	{ "raw-mtu: 65535", true },
	{ "raw-mtu: 65536", false },
	{ "listen: 127.0.0.1@65535", true },
	{ "listen: 127.0.0.1@65536", false },
	{ "listen: [::1]@53", false },
	{ "listen: 127.0.0.1:53", false },
	{ "access-control: 0.0.0.0/0 allow", true },
	{ "access-control: 10.0.0.1/32 allow", true },
	{ "access-control: ::1/128 allow", true },
	{ "raw-address: 198.18.0.1/32", true },
	{ "raw-address: 198.18.0.0/31", true },
	{ "raw-address: 198.18.0.1/30", true },
	{ "raw-address: 0.0.0.0/8", false },
	{ "raw-interface: tap-interface-1", true },
	{ "raw-gateway: 0.0.0.0", true },
};

START_TEST(test_boundaries)
{
	ck_assert_msg(accepted(boundaries[_i].text) == boundaries[_i].ok, "%s should be %s",
		      boundaries[_i].text, boundaries[_i].ok ? "accepted" : "rejected");
}
END_TEST

START_TEST(test_sun_path_limit)
{
	char text[256];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

	memset(path, 'a', sizeof(path) - 2);
	path[0] = '/';
	path[sizeof(path) - 2] = '\0'; /* exactly the longest that fits */
	snprintf(text, sizeof(text), "control-socket: %s\n", path);
	ck_assert(accepted(text));
	path[sizeof(path) - 2] = 'a';
	path[sizeof(path) - 1] = '\0'; /* one too long */
	snprintf(text, sizeof(text), "control-socket: %s\n", path);
	ck_assert(!accepted(text));
}
END_TEST

START_TEST(test_parse_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	ck_assert_int_eq(config_parse_addr("127.0.0.1@5353", 53, &ss, &len), 0);
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(*sin));
	ck_assert_uint_eq(ntohs(sin->sin_port), 5353);
	ck_assert_uint_eq(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

	ck_assert_int_eq(config_parse_addr("127.0.0.1", 853, &ss, &len), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), 853);

	ck_assert_int_eq(config_parse_addr("::1@53", 0, &ss, &len), 0);
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(*sin6));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 53);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

	ck_assert_int_eq(config_parse_addr("2001:db8::1", 53, &ss, &len), 0);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 53);

	/* port 0 is the sockets API's "any port" and is accepted */
	ck_assert_int_eq(config_parse_addr("127.0.0.1@0", 53, &ss, &len), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), 0);

	static const char *const bad[] = {
		"", "@53", "1.2.3.4@", "1.2.3.4@65536", "1.2.3.4@-1", "localhost",
		"1.2.3.4:53", "[::1]@53", "1.2.3", "::1@53@53", " 1.2.3.4",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa@53",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(config_parse_addr(bad[i], 53, &ss, &len) == -1, "'%s'", bad[i]);
	ck_assert_int_eq(config_parse_addr(NULL, 53, &ss, &len), -1);
}
END_TEST

START_TEST(test_load_file)
{
	static const char text[] = "server:\n\tverbosity: 4\n\tlisten: 127.0.0.1@5300\n";

	write_tmp(text, sizeof(text) - 1);
	ck_assert_msg(config_load(&cfg, tmp_path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg.file, tmp_path);
	ck_assert_int_eq(cfg.verbosity, 4);
	ck_assert_uint_eq(cfg.n_listen, 1);
	assert_listen(&cfg.listen[0], AF_INET, "127.0.0.1", 5300);
}
END_TEST

START_TEST(test_load_file_error_names_path)
{
	static const char text[] = "verbosity: 4\n\nedns-buffer-size: 100000\n";
	char want[CONFIG_ERR_MAX];

	write_tmp(text, sizeof(text) - 1);
	ck_assert_int_eq(config_load(&cfg, tmp_path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: edns-buffer-size: 100000 is out of range 512..4096",
		 tmp_path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_load_missing_file)
{
	ck_assert_int_eq(config_load(&cfg, "/nonexistent-rootwalk/x.conf", err, sizeof(err)), -1);
	ck_assert_str_eq(err,
			 "/nonexistent-rootwalk/x.conf: cannot open config file: "
			 "No such file or directory");
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_load_directory)
{
	ck_assert_int_eq(config_load(&cfg, "/tmp", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/tmp: cannot read config file: Is a directory");
}
END_TEST

START_TEST(test_load_endless_file)
{
	ck_assert_int_eq(config_load(&cfg, "/dev/zero", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev/zero: config file is larger than 4194304 bytes");
}
END_TEST

START_TEST(test_load_nul_byte)
{
	static const char text[] = "verbosity: 2\nusername: a\0b\nworkers: 1\n";
	char want[CONFIG_ERR_MAX];

	write_tmp(text, sizeof(text) - 1);
	ck_assert_int_eq(config_load(&cfg, tmp_path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: NUL byte in config file", tmp_path);
	ck_assert_str_eq(err, want);
}
END_TEST

static void defaults_finished(struct config *c)
{
	config_init(c);
	config_finish(c);
}

/* Everything in the shipped example is commented out: loading it must
 * give exactly the built-in defaults. */
START_TEST(test_example_conf_loads)
{
	struct config def;

	ck_assert_msg(config_load(&cfg, EXAMPLE_CONF, err, sizeof(err)) == 0, "%s", err);
	defaults_finished(&def);
	assert_same_settings(&cfg, &def);
	config_free(&def);
}
END_TEST

/* "# key: value" lines of the example with the '#' removed. */
static char *uncomment_settings(const char *text, bool seen[ARRAY_SIZE(all_keys)])
{
	char *out = malloc(strlen(text) + 1);
	char *o = out;

	ck_assert_ptr_nonnull(out);
	for (const char *p = text; *p;) {
		const char *end = strchrnul(p, '\n');
		const char *s = p + strspn(p, " \t");
		if (*s == '#') {
			const char *k = s + 1 + strspn(s + 1, " \t");
			for (size_t i = 0; i < ARRAY_SIZE(all_keys); i++) {
				size_t n = strlen(all_keys[i]);
				if (strncmp(k, all_keys[i], n) == 0 && k[n] == ':') {
					seen[i] = true;
					p = k;
					break;
				}
			}
		}
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
		*o++ = '\n';
		p = *end ? end + 1 : end;
	}
	*o = '\0';
	return out;
}

/* The example documents every key with its default: uncommenting every
 * setting must parse and still give the defaults.  The exceptions are
 * documented in the file: root-hints (depends on the install prefix),
 * and raw-address / raw-mac, which have no default and show examples. */
START_TEST(test_example_conf_documents_defaults)
{
	bool seen[ARRAY_SIZE(all_keys)] = { false };
	struct config def;
	char *text = slurp(EXAMPLE_CONF);
	char *settings = uncomment_settings(text, seen);

	free(text);
	for (size_t i = 0; i < ARRAY_SIZE(all_keys); i++)
		ck_assert_msg(seen[i], "example config does not document '%s'", all_keys[i]);
	int r = config_parse_string(&cfg, settings, "uncommented example", err, sizeof(err));
	free(settings);
	ck_assert_msg(r == 0, "%s", err);

	defaults_finished(&def);
	ck_assert_ptr_nonnull(strstr(cfg.root_hints, "/rootwalk/root.hints"));
	free(cfg.root_hints);
	cfg.root_hints = strdup(def.root_hints);
	ck_assert_ptr_nonnull(cfg.root_hints);
	ck_assert_uint_ne(cfg.raw_address, 0);
	ck_assert(cfg.raw_mac_set);
	cfg.raw_address = def.raw_address;
	cfg.raw_prefix = def.raw_prefix;
	cfg.raw_mac_set = def.raw_mac_set;
	memcpy(cfg.raw_mac, def.raw_mac, sizeof(cfg.raw_mac));
	assert_same_settings(&cfg, &def);
	config_free(&def);
}
END_TEST

START_TEST(test_repeated_parse_no_leak)
{
	char text[4096] = "";
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(every_key); i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s: %s\n",
					every_key[i].key, every_key[i].value);
	for (int i = 0; i < 50; i++) {
		struct config c;
		char e[CONFIG_ERR_MAX];
		config_init(&c);
		ck_assert_int_eq(config_parse_string(&c, text, "t.conf", e, sizeof(e)), 0);
		config_free(&c);
		/* and a failed parse part-way through */
		config_init(&c);
		ck_assert_int_eq(config_parse_string(&c, "username: x\nlisten: ::1\nbad\n", "t",
						     e, sizeof(e)), -1);
		config_free(&c);
	}
	/* free is idempotent */
	config_free(&cfg);
	config_free(&cfg);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_finish_defaults);
	tcase_add_test(tc, test_finish_on_init_only);
	tcase_add_test(tc, test_every_key_listed);
	tcase_add_test(tc, test_each_key_alone);
	tcase_add_test(tc, test_every_key_parses);
	tcase_add_loop_test(tc, test_errors_name_file_and_line, 0, (int)ARRAY_SIZE(bad_configs));
	tcase_add_test(tc, test_error_buffer_limits);
	tcase_add_test(tc, test_comments_whitespace_quotes);
	tcase_add_test(tc, test_empty_strings);
	tcase_add_test(tc, test_unbound_style_section);
	tcase_add_test(tc, test_repeated_keys);
	tcase_add_loop_test(tc, test_boundaries, 0, (int)ARRAY_SIZE(boundaries));
	tcase_add_test(tc, test_sun_path_limit);
	tcase_add_test(tc, test_size_suffixes);
	tcase_add_test(tc, test_parse_addr);
	tcase_add_test(tc, test_repeated_parse_no_leak);
	suite_add_tcase(s, tc);

	tc = tcase_create("acl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_acl_longest_prefix_v4);
	tcase_add_test(tc, test_acl_explicit_replaces_default);
	tcase_add_test(tc, test_acl_longest_prefix_v6);
	tcase_add_test(tc, test_acl_v4_mapped);
	tcase_add_test(tc, test_acl_host_bits_are_cleared);
	tcase_add_test(tc, test_acl_odd_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_error_names_path);
	tcase_add_test(tc, test_load_missing_file);
	tcase_add_test(tc, test_load_directory);
	tcase_add_test(tc, test_load_endless_file);
	tcase_add_test(tc, test_load_nul_byte);
	tcase_add_test(tc, test_example_conf_loads);
	tcase_add_test(tc, test_example_conf_documents_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
