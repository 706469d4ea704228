/* config.h — the daemon's configuration as a plain struct.
 *
 * The parser does no I/O beyond reading the file, so it is unit-testable
 * with config_parse_string().  Syntax: one "key: value" per line, '#'
 * starts a comment, blank lines ignored.  Errors are reported as
 * "file:line: what is wrong" in the caller's buffer. */
#ifndef RW_CONFIG_H
#define RW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_ERR_MAX 512

/* An address to listen on, "127.0.0.1@5353" or "::1@53" (port default 53). */
struct cfg_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

enum acl_action {
	ACL_DENY = 0,   /* drop silently */
	ACL_REFUSE = 1, /* answer REFUSED */
	ACL_ALLOW = 2,
};

/* "access-control: 10.0.0.0/8 allow".  Longest prefix wins. */
struct cfg_acl {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network, host bits cleared */
	uint8_t prefix;    /* 0..32 or 0..128 */
	enum acl_action action;
};

enum cfg_mode { CFG_MODE_KERNEL = 0, CFG_MODE_RAW = 1 };

struct config {
	char *file; /* path the config came from, or the name given */

	/* serving */
	struct cfg_listen *listen;
	size_t n_listen;           /* config_finish() adds 127.0.0.1@53 and ::1@53 if none */
	struct cfg_acl *acl;
	size_t n_acl;
	uint32_t max_tcp_clients;       /* max-tcp-clients (256) */
	uint32_t tcp_idle_timeout_ms;   /* tcp-idle-timeout (10000) */
	uint32_t max_udp_size;          /* max-udp-size: our EDNS size to clients (1232) */
	uint32_t max_queries_in_flight; /* max-queries-in-flight (4096): beyond -> SERVFAIL */
	/* response rate limiting over UDP (rrl.h) */
	uint32_t rrl_responses_per_second; /* rrl-responses-per-second (0 = off) */
	uint32_t rrl_slip;                 /* rrl-slip (2): every Nth limited reply TC=1 */
	uint32_t rrl_ipv4_prefix;          /* rrl-ipv4-prefix (24) */
	uint32_t rrl_ipv6_prefix;          /* rrl-ipv6-prefix (56) */
	uint32_t rrl_table_size;           /* rrl-table-size: prefixes remembered (65536) */

	/* daemon */
	int verbosity;       /* verbosity (1) */
	char *username;      /* username ("rootwalk"; "" = do not change user) */
	char *pidfile;       /* pidfile (NULL = none) */
	char *root_hints;    /* root-hints (ROOTWALK_DEFAULT_HINTS) */
	uint32_t workers;    /* workers (0 = number of cores) */

	/* upstream */
	uint32_t query_timeout_ms;        /* query-timeout: deadline per client query (10000) */
	uint32_t outgoing_tcp_timeout_ms; /* outgoing-tcp-timeout (4000) */
	uint32_t edns_buffer_size;        /* edns-buffer-size upstream (1232) */
	bool do_ip4;                      /* do-ip4 (yes) */
	bool do_ip6;                      /* do-ip6 (yes: used if the host can reach v6) */
	bool use_caps_for_id;             /* use-caps-for-id: 0x20 (yes) */

	/* work limits per client query */
	uint32_t max_referrals;          /* max-referrals (30) */
	uint32_t max_cname_chain;        /* max-cname-chain (12) */
	uint32_t max_glueless_per_referral; /* max-glueless-ns (4) */
	uint32_t max_upstream_queries;   /* max-upstream-queries (64) */
	uint32_t max_subquery_depth;     /* max-subquery-depth (4) */
	uint32_t max_target_nx;          /* max-target-nx (5) */

	/* cache */
	uint64_t cache_size;             /* cache-size in bytes (64M) */
	uint32_t cache_max_ttl;          /* cache-max-ttl (86400) */
	uint32_t cache_min_ttl;          /* cache-min-ttl (0) */
	uint32_t cache_max_negative_ttl; /* cache-max-negative-ttl (3600) */
	bool serve_expired;              /* serve-expired (no) */
	uint32_t serve_expired_window;   /* serve-expired-window seconds (86400) */
	uint32_t serve_expired_client_timeout_ms; /* serve-expired-client-timeout (1800) */
	bool prefetch;                   /* prefetch (no) */
	uint32_t infra_cache_size;       /* infra-cache-size entries (10000) */

	/* control */
	char *control_socket;            /* control-socket (/run/rootwalk/control.sock) */
	char *control_group;             /* control-group (NULL: mode 0600) */

	/* raw mode */
	enum cfg_mode mode;              /* mode: kernel | raw */
	char *raw_interface;             /* raw-interface (tap0) */
	uint32_t raw_address;            /* raw-address, network byte order */
	uint8_t raw_prefix;              /* from raw-address /N (24) */
	uint32_t raw_gateway;            /* raw-gateway, network byte order (0 = none) */
	uint8_t raw_mac[6];              /* raw-mac */
	bool raw_mac_set;
	uint32_t raw_mtu;                /* raw-mtu (1500) */
};

/* Fill *cfg with every default (listen list stays empty: see above). */
void config_init(struct config *cfg);

/* Parse a file.  Returns 0 on success; on error returns -1 and writes
 * "file:line: message" into err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Parse text as if it came from a file called name.  Same contract. */
int config_parse_string(struct config *cfg, const char *text, const char *name,
			char *err, size_t errlen);

/* Apply defaults that depend on what was (not) given, such as the listen
 * list (127.0.0.1@53 and ::1@53) and the ACL (loopback allowed). Called by
 * config_load/config_parse_string on success. */
void config_finish(struct config *cfg);

void config_free(struct config *cfg);

/* Parse "1.2.3.4@53" / "::1@53" / "1.2.3.4" into a sockaddr. 0 ok, -1 bad. */
int config_parse_addr(const char *s, uint16_t default_port,
		      struct sockaddr_storage *out, socklen_t *outlen);

/* Parse a size like "64M", "512k", "1G", "1000". 0 ok, -1 bad. */
int config_parse_size(const char *s, uint64_t *out);

/* ACL lookup: the action for a client address (longest prefix match);
 * an address matching no entry is refused. */
enum acl_action config_acl_check(const struct config *cfg, const struct sockaddr *sa);

#endif
