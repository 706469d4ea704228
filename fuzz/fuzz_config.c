/* fuzz_config.c — libFuzzer target: the configuration parser (config.c).
 *
 * Why: the config is text from an operator, not from the network, but a
 * parser that crashes or leaks on a typo, an overlong line or a stray
 * quote is a daemon that will not start or reload.  The input is the text
 * of a config file.
 *
 * Invariants beyond "no crash, no leak":
 *   - success and failure are exclusive: 0 with an empty error message,
 *     -1 with a non-empty, NUL-terminated "name:line: ..." message;
 *   - after success the defaults that depend on the file are applied:
 *     at least one listen address, at least one ACL entry, limits that the
 *     daemon divides by or sizes buffers with are not zero;
 *   - a second parse of the same text gives the same verdict (the parser
 *     keeps no hidden state between calls). */
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int parse_once(const char *text, char *err, size_t errlen, struct config *cfg)
{
	config_init(cfg);
	return config_parse_string(cfg, text, "fuzz.conf", err, errlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_MAX], err2[CONFIG_ERR_MAX];
	struct config cfg, cfg2;
	char *text = malloc(size + 1);
	int rc, rc2;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_rnd_seed(size);

	memset(err, 'X', sizeof(err));
	rc = parse_once(text, err, sizeof(err), &cfg);
	FUZZ_CHECK(rc == 0 || rc == -1, "config_parse_string returned %d", rc);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error message not terminated");
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0', "success with an error message: %s", err);
		FUZZ_CHECK(cfg.n_listen >= 1 && cfg.listen, "no listen address after success");
		FUZZ_CHECK(cfg.n_acl >= 1 && cfg.acl, "no ACL after success");
		for (size_t i = 0; i < cfg.n_acl; i++)
			FUZZ_CHECK(cfg.acl[i].prefix <= (cfg.acl[i].family == AF_INET ? 32 : 128),
				   "ACL prefix %u", cfg.acl[i].prefix);
		FUZZ_CHECK(cfg.max_udp_size >= 512, "max-udp-size %u", cfg.max_udp_size);
		FUZZ_CHECK(cfg.max_tcp_clients > 0 && cfg.max_queries_in_flight > 0,
			   "zero limit accepted");
		FUZZ_CHECK(cfg.cache_min_ttl <= cfg.cache_max_ttl, "min-ttl %u > max-ttl %u",
			   cfg.cache_min_ttl, cfg.cache_max_ttl);
		FUZZ_CHECK(cfg.raw_prefix <= 32, "raw prefix %u", cfg.raw_prefix);
	} else {
		FUZZ_CHECK(err[0] != '\0', "failure without a message");
		FUZZ_CHECK(strncmp(err, "fuzz.conf:", 10) == 0, "message without file: %s", err);
	}

	/* Same text, same verdict: and the first config is freed only after,
	 * so the two cannot share memory unnoticed. */
	rc2 = parse_once(text, err2, sizeof(err2), &cfg2);
	FUZZ_CHECK(rc2 == rc, "verdict changed on a second parse: %d then %d", rc, rc2);
	FUZZ_CHECK(strcmp(err, err2) == 0, "message changed: '%s' then '%s'", err, err2);
	config_free(&cfg);
	config_free(&cfg2);

	/* A tiny error buffer must truncate, never overflow. */
	parse_once(text, err2, 7, &cfg2);
	config_free(&cfg2);
	free(text);
	return 0;
}
