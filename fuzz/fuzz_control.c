/* fuzz_control.c — libFuzzer target: the control protocol, from a request
 * line to the bytes of its answer (control.c, control_proto.c,
 * control_stats.c, control_cache.c), including the streamed "cache dump"
 * and the "cache load" file parser.
 *
 * Why: the control socket is local and mode 0600, but it is a parser of
 * untrusted-shaped text that reaches into the cache, and "cache load"
 * reads a file an operator may have edited or taken from elsewhere.  A
 * crash there takes DNS down with it (one process, one loop).
 *
 * Entry point.  The per-request work (tokenize, find the command, run
 * it) is control.c's static dispatch(); control.c exposes nothing that
 * does it without a socket.  Rather than edit control.c (another helper
 * owns it), this file includes control.c, so the real dispatch() is what
 * runs; the socket, connection and libuv parts are compiled but never
 * called.  What we would like exposed in control_int.h instead:
 *     int control_dispatch(struct ctl_req *r, char *line, size_t len);
 * (dispatch() as it is, made non-static), after which this target needs
 * no #include of a .c file.
 *
 * Input: request text up to the first NUL byte, split into lines as
 * conn_process() does (a line of CONTROL_MAX_LINE bytes or more ends the
 * session as "request too long"; blank lines are skipped; a trailing CR
 * is dropped).  The bytes after the NUL are the contents of the file any
 * "cache load PATH" request reads: the harness rewrites PATH to a memfd
 * holding them, so no real file is ever opened.  Streaming jobs are
 * stepped to the end as the idle handle would.
 *
 * Each input runs against a fresh cache (a few positive, signed and
 * negative entries) and infra, with a fake clock; callbacks for reload
 * and stop are present.  Invariants (docs/CONTROL.md): a failed request
 * has a non-empty error message; no body line is exactly "ok" or begins
 * with "error: "; body lines hold no control bytes but tab; with JSON
 * output every body line is one complete JSON object; "cache load" fails
 * only for a reason that concerns the whole file. */
#include <sys/mman.h>

#include "../src/control.c"

#include "fuzz_common.h"

#define T0_MS 5000000ull
#define WALL_T0 1700000000

static const char *const seed_rrsets[][3] = {
	{ "www.example.com. 3600 IN A 192.0.2.10", "www.example.com. 3600 IN A 192.0.2.11",
	  NULL },
	{ "example.com. 86400 IN NS ns1.example.com.", "example.com. 86400 IN NS ns2.example.net.",
	  NULL },
	{ "ns1.example.com. 86400 IN A 192.0.2.53", NULL, NULL },
	{ "alias.example.com. 300 IN CNAME www.example.com.", NULL, NULL },
	{ "txt.example.com. 300 IN TXT \"ok\" \"error: \\010x\"", NULL, NULL },
	{ "ok. 60 IN A 192.0.2.99", NULL, NULL },
};
static const char *const seed_sig =
	"www.example.com. 3600 IN RRSIG A 8 3 3600 20300101000000 20200101000000 12345 "
	"example.com. AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
static const char *const seed_soa =
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 "
	"1209600 300";

static struct config cfg;
static int load_fd = -1;
static char load_path[64];
static char sock_path[] = "/run/rootwalk/fuzz.sock";
static uint64_t fake_now;
static int reload_result;

static uint64_t now_cb(void *ud)
{
	(void)ud;
	return fake_now;
}

static time_t wall_cb(void *ud)
{
	(void)ud;
	return WALL_T0 + (time_t)((fake_now - T0_MS) / 1000);
}

static int reload_cb(void *ud, char *err, size_t errlen)
{
	(void)ud;
	if (reload_result < 0)
		snprintf(err, errlen, "fuzz: reload refused\n\x01");
	return reload_result;
}

static void stop_cb(void *ud)
{
	(void)ud;
}

static void on_error_log(const char *line)
{
	FUZZ_CHECK(0, "a module logged an error: %s", line);
}

static ldns_rr *rr_from(const char *s)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "fuzz_control: bad seed record %s\n", s);
		abort();
	}
	return rr;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	config_init(&cfg);
	config_finish(&cfg);
	load_fd = memfd_create("rootwalk-fuzz-load", MFD_CLOEXEC);
	if (load_fd < 0) {
		perror("fuzz_control: memfd_create");
		abort();
	}
	snprintf(load_path, sizeof(load_path), "/proc/self/fd/%d", load_fd);
	fuzz_log_set_hook(on_error_log);
	return 0;
}

static void fill_cache(struct cache *c, struct infra *inf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	ldns_rr *soa = rr_from(seed_soa);
	ldns_rdf *nx = ldns_dname_new_frm_str("gone.example.com.");
	ldns_rdf *nd = ldns_dname_new_frm_str("www.example.com.");

	for (size_t i = 0; i < sizeof(seed_rrsets) / sizeof(seed_rrsets[0]); i++) {
		ldns_rr_list *set = ldns_rr_list_new(), *sigs = NULL;

		for (size_t k = 0; k < 3 && seed_rrsets[i][k]; k++)
			FUZZ_CHECK(ldns_rr_list_push_rr(set, rr_from(seed_rrsets[i][k])), "oom");
		if (i == 0) {
			sigs = ldns_rr_list_new();
			FUZZ_CHECK(sigs && ldns_rr_list_push_rr(sigs, rr_from(seed_sig)), "oom");
		}
		FUZZ_CHECK(cache_store_rrset(c, set, sigs, i == 2 ? CACHE_TRUST_GLUE
							     : CACHE_TRUST_ANSWER_AUTH,
					     fake_now) == 0, "seed store %zu", i);
		ldns_rr_list_deep_free(set);
		ldns_rr_list_deep_free(sigs);
	}
	FUZZ_CHECK(nx && nd, "oom");
	cache_store_negative(c, nx, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, soa, fake_now);
	cache_store_negative(c, nd, LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN, false, soa, fake_now);
	ldns_rr_free(soa);
	ldns_rdf_deep_free(nx);
	ldns_rdf_deep_free(nd);
	sa.sin_addr.s_addr = htonl(0xc0000235); /* 192.0.2.53 */
	infra_note_rtt(inf, (struct sockaddr *)&sa, 12, fake_now);
	sa.sin_addr.s_addr = htonl(0xc0000201);
	infra_note_timeout(inf, (struct sockaddr *)&sa, fake_now);
}

/* ---- a small JSON checker (RFC 8259 grammar, no semantics) ---- */

FUZZ_ORACLE static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_value(const char *p, int depth);

FUZZ_ORACLE static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *p) || !*p)
				return NULL;
		}
		p++;
	}
	return p + 1;
}

FUZZ_ORACLE static const char *json_number(const char *p)
{
	const char *s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		s = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == s)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		s = p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

FUZZ_ORACLE static const char *json_members(const char *p, char close, bool keys, int depth)
{
	p = json_ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

FUZZ_ORACLE static const char *json_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{': return json_members(p + 1, '}', true, depth);
	case '[': return json_members(p + 1, ']', false, depth);
	case '"': return json_string(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default: return json_number(p);
	}
}

/* ---- checking an answer ---- */

FUZZ_ORACLE static void check_body(const struct ctl_buf *b, bool json, const char *req)
{
	const char *p, *end;

	if (!b->len)
		return;
	p = b->data;
	end = b->data + b->len;
	FUZZ_CHECK(!b->len || b->data[b->len - 1] == '\n', "body of '%s' does not end a line",
		   req);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		char *line;

		FUZZ_CHECK(nl, "unterminated body line");
		FUZZ_CHECK(!(n == 2 && memcmp(p, "ok", 2) == 0), "body line 'ok' for '%s'", req);
		FUZZ_CHECK(!(n >= 7 && memcmp(p, "error: ", 7) == 0),
			   "body line '%.*s' for '%s'", (int)n, p, req);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			FUZZ_CHECK(c >= 0x20 || c == '\t', "control byte 0x%02x in the body of "
				   "'%s'", c, req);
		}
		if (json) {
			const char *e;

			line = strndup(p, n);
			FUZZ_CHECK(line, "oom");
			FUZZ_CHECK(line[0] == '{', "JSON body line is not an object: %s", line);
			e = json_value(line, 0);
			FUZZ_CHECK(e && *json_ws(e) == '\0', "invalid JSON for '%s': %s", req, line);
			free(line);
		}
		p = nl + 1;
	}
}

/* "cache load" loses only the entries it cannot read (docs/CONTROL.md):
 * whatever the file holds, it fails only for what concerns the whole file
 * (the header's version or form, a read error, no memory), and an answer
 * reports the skipped count. */
FUZZ_ORACLE static void check_load_verdict(int rc, const char *err, const struct ctl_buf *out)
{
	static const char *const whole_file[] = {
		"dump version ", "bad ;!rootwalk-dump header", "read error", "out of memory",
	};

	if (rc == 0) {
		FUZZ_CHECK(out->oom || (out->data && memmem(out->data, out->len, "skipped", 7)),
			   "load answer without its skipped count");
		return;
	}
	for (size_t i = 0; i < sizeof(whole_file) / sizeof(whole_file[0]); i++)
		if (strstr(err, whole_file[i]))
			return;
	FUZZ_CHECK(0, "cache load failed over one entry: %s", err);
}

/* The words as tokenize() will see them, to spot "cache load PATH". */
FUZZ_ORACLE static bool is_cache_load(const char *line, bool *json)
{
	char *copy = strdup(line), *save = NULL, *w[4];
	int n = 0;
	bool yes;

	FUZZ_CHECK(copy, "oom");
	*json = false;
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (strcmp(t, "--json") == 0 || (n == 0 && !*json && strcmp(t, "json") == 0)) {
			*json = true;
			continue;
		}
		if (n < 4)
			w[n] = t;
		n++;
	}
	yes = n == 3 && strcmp(w[0], "cache") == 0 && strcmp(w[1], "load") == 0;
	free(copy);
	return yes;
}

static void run_request(struct control *c, char *line, size_t len)
{
	struct ctl_buf out = { 0 };
	struct ctl_req r = { .ctl = c, .out = &out };
	char shown[80], rewritten[128];
	bool json;
	int rc;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	snprintf(shown, sizeof(shown), "%s", line);
	if (!has_control_chars(line, len) && is_cache_load(line, &json)) {
		snprintf(rewritten, sizeof(rewritten), "%scache load %s", json ? "json " : "",
			 load_path);
		line = rewritten;
		len = strlen(rewritten);
	}
	rc = dispatch(&r, line, len);
	if (rc == CTL_JOB) {
		struct ctl_job *j = r.job;
		char err[CTL_ERR_MAX] = "";
		int steps = 0;

		FUZZ_CHECK(j && j->step && j->free, "job without functions");
		do {
			struct ctl_buf part = { 0 };

			FUZZ_CHECK(++steps < 100000, "job of '%s' does not end", shown);
			rc = j->step(j, &part, err, sizeof(err));
			FUZZ_CHECK(rc >= -1 && rc <= 1, "job step returned %d", rc);
			if (!part.oom)
				control_buf_put(&out, part.data ? part.data : "", part.len);
			control_buf_free(&part);
		} while (rc == 1);
		j->free(j);
		if (rc < 0)
			snprintf(r.err, sizeof(r.err), "%s", err);
	}
	FUZZ_CHECK(rc == 0 || rc == -1, "dispatch returned %d", rc);
	FUZZ_CHECK(rc == 0 || r.err[0], "error without a message for '%s'", shown);
	if (line == rewritten)
		check_load_verdict(rc, r.err, &out);
	if (rc < 0) {
		/* the status line as conn_answer() writes it: one clean line */
		struct ctl_buf st = { 0 };

		control_buf_puts(&st, "error: ");
		control_buf_put_clean(&st, r.err);
		for (size_t i = 0; !st.oom && i < st.len; i++)
			FUZZ_CHECK((unsigned char)st.data[i] >= 0x20 || st.data[i] == '\t',
				   "control byte in the status line for '%s'", shown);
		control_buf_free(&st);
	}
	if (!out.oom)
		check_body(&out, r.json, shown);
	control_buf_free(&out);
	/* "verbosity N" is process-wide: undo it so every input starts alike. */
	log_set_verbosity(LOGL_OPS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t req_len = nul ? (size_t)(nul - data) : size;
	struct control_env env = { 0 };
	struct control c;
	char *text, *p, *end;

	fuzz_rnd_seed(size);
	fuzz_log_reset();
	fake_now = T0_MS;
	reload_result = size & 1 ? -1 : 0;

	/* The file for "cache load". */
	FUZZ_CHECK(ftruncate(load_fd, 0) == 0, "ftruncate");
	if (nul && size - req_len - 1 > 0)
		FUZZ_CHECK(pwrite(load_fd, nul + 1, size - req_len - 1, 0) ==
			   (ssize_t)(size - req_len - 1), "pwrite");

	env.cfg = &cfg;
	env.cache = cache_new(256u << 10, NULL);
	env.infra = infra_new(16, 900000);
	FUZZ_CHECK(env.cache && env.infra, "oom");
	env.start_ms = T0_MS - 1000;
	env.now_ms = now_cb;
	env.wall_now = wall_cb;
	env.reload = reload_cb;
	env.stop = stop_cb;
	fill_cache(env.cache, env.infra);

	memset(&c, 0, sizeof(c));
	c.env = env;
	c.path = sock_path;
	control_snapshot_take(&c, &c.base);

	text = malloc(req_len + 1);
	FUZZ_CHECK(text, "oom");
	memcpy(text, data, req_len);
	text[req_len] = '\0';
	end = text + req_len;
	for (p = text; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n >= CONTROL_MAX_LINE)
			break; /* "request too long": the connection ends */
		p[n] = '\0';
		if (n && !(n == 1 && p[0] == '\r'))
			run_request(&c, p, n);
		p += n + 1;
		fake_now += 1500; /* time passes between requests: TTLs run down */
	}
	free(text);

	cache_free(env.cache);
	infra_free(env.infra);
	FUZZ_CHECK(fuzz_log_errors() == 0, "errors logged");
	return 0;
}
