/* test_control.c — the control socket, driven the way rootwalkctl does.
 *
 * Each test runs a real libuv loop with a control socket in a fresh temp
 * directory, a real cache and infra, and idle request/upstream/server
 * objects (created, never started) so "stats" sees every module.  Clients
 * are plain blocking-connect Unix sockets in the test itself; while one
 * waits for an answer the test turns the loop with UV_RUN_NOWAIT, so
 * everything runs in one thread and nothing depends on scheduling.  Time
 * is the fake clock given to control_env; only the idle-timeout test uses
 * a (30 ms) libuv timer.  The teardown closes everything, checks that the
 * loop has no handle left and that the socket file is gone; ASan/LSan
 * catch any leak. */
#include "control.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "leak.h"
#include "log.h"

static uv_loop_t loop;
static struct config cfg;
static struct cache *cache;
static struct infra *infra;
static struct upstream *up;
static struct request_ctx *req;
static struct server *srv;
static struct iter_env ienv;
static struct control_env env;
static struct control *ctl;
static uint64_t fake_ms;
static time_t fake_wall;
static char dir[64], sock[128];
static int reload_calls, reload_fail, stop_calls;

/* ---- fixture ------------------------------------------------------------ */

static uint64_t clock_ms(void *ud)
{
	return fake_ms;
}

static time_t clock_wall(void *ud)
{
	return fake_wall;
}

static int on_reload(void *ud, char *err, size_t len)
{
	reload_calls++;
	if (reload_fail) {
		snprintf(err, len, "bad config line 3");
		return -1;
	}
	return 0;
}

static void on_stop(void *ud)
{
	stop_calls++;
}

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void setup(void)
{
	struct upstream_opts uo = { .edns_buffer_size = 1232, .tcp_timeout_ms = 4000 };
	char err[256];

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	snprintf(dir, sizeof(dir), "/tmp/rwctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	path_in_dir(sock, sizeof(sock), "control.sock");
	config_init(&cfg);
	config_finish(&cfg);
	free(cfg.control_socket);
	cfg.control_socket = strdup(sock);
	free(cfg.username);
	cfg.username = strdup("");
	cache = cache_new(64u << 20, NULL);
	infra = infra_new(1000, 15u * 60u * 1000u);
	up = upstream_new(&loop, infra, &uo);
	ienv.cache = cache;
	ienv.infra = infra;
	req = request_ctx_new(&loop, &ienv, up, &cfg);
	srv = server_new(&loop, &cfg, request_handle, req);
	ck_assert(cache && infra && up && req && srv && cfg.control_socket && cfg.username);
	fake_ms = 0;
	fake_wall = 1700000000;
	reload_calls = reload_fail = stop_calls = 0;
	env = (struct control_env){
		.cfg = &cfg, .cache = cache, .infra = infra, .server = srv, .req = req,
		.up = up, .now_ms = clock_ms, .wall_now = clock_wall, .reload = on_reload,
		.stop = on_stop,
	};
	ctl = control_new(&loop, &env, err, sizeof(err));
	ck_assert_msg(ctl != NULL, "control_new: %s", err);
}

/* rm -r of the temp dir (a few levels at most). */
static void remove_tree(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
	struct stat st;

	control_close(ctl);
	request_ctx_free(req);
	server_free(srv);
	upstream_free(up);
	uv_run(&loop, UV_RUN_DEFAULT);
	control_free(ctl);
	ck_assert_int_eq(uv_loop_close(&loop), 0);  /* every handle closed */
	ck_assert_int_ne(lstat(sock, &st), 0);      /* socket file removed */
	cache_free(cache);
	infra_free(infra);
	config_free(&cfg);
	remove_tree(dir);
	log_set_verbosity(LOGL_ERR);
	assert_no_leaks();
}

/* ---- a client ----------------------------------------------------------- */

struct cli {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

/* Non-blocking from the start: with the listen backlog full, connect()
 * says EAGAIN and the loop must run to accept before we retry. */
static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (errno != EAGAIN) {
			close(fd);
			return -1;
		}
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	return fd;
}

static void cli_open_at(struct cli *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = connect_to(path);
	ck_assert_int_ge(c->fd, 0);
}

static void cli_open(struct cli *c)
{
	cli_open_at(c, sock);
}

static void cli_close(struct cli *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static void cli_send(struct cli *c, const char *data, size_t n)
{
	while (n) {
		ssize_t w = write(c->fd, data, n);

		if (w < 0 && errno == EAGAIN) {
			uv_run(&loop, UV_RUN_NOWAIT);
			continue;
		}
		ck_assert_int_gt(w, 0);
		data += w;
		n -= (size_t)w;
	}
}

static void cli_sendf(struct cli *c, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof(line));
	cli_send(c, line, (size_t)n);
}

/* Read what is there without waiting. */
static void cli_read_some(struct cli *c)
{
	for (;;) {
		ssize_t r;

		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap + 1);
			ck_assert_ptr_nonnull(c->buf);
		}
		r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r > 0) {
			c->len += (size_t)r;
			continue;
		}
		/* after the data, a reset: the daemon closed on input it
		 * would not read (an over-long request) */
		if (r == 0 || errno == ECONNRESET)
			c->eof = true;
		else
			ck_assert_int_eq(errno, EAGAIN);
		return;
	}
}

static bool is_status(const char *line, size_t n)
{
	return (n == 2 && memcmp(line, "ok", 2) == 0) ||
	       (n >= 7 && memcmp(line, "error: ", 7) == 0);
}

/* Length of the first whole answer in the buffer (through its status
 * line), or 0. */
static size_t answer_len(const struct cli *c)
{
	size_t pos = 0;

	while (pos < c->len) {
		const char *nl = memchr(c->buf + pos, '\n', c->len - pos);

		if (!nl)
			return 0;
		if (is_status(c->buf + pos, (size_t)(nl - (c->buf + pos))))
			return (size_t)(nl - c->buf) + 1;
		pos = (size_t)(nl - c->buf) + 1;
	}
	return 0;
}

/* Turn the loop until pred(c) holds; fail after 10 s (of wall time, as a
 * guard against hanging, not a measurement) without any new byte. */
static void pump_until(bool (*pred)(struct cli *), struct cli *c)
{
	time_t give_up = time(NULL) + 10;

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		size_t had = c->len;

		uv_run(&loop, UV_RUN_NOWAIT);
		if (poll(&p, 1, 1) > 0)
			cli_read_some(c);
		if (pred(c))
			return;
		if (c->len != had)
			give_up = time(NULL) + 10;
		ck_assert_msg(time(NULL) < give_up, "timed out; got %zu bytes: %.300s", c->len,
			      c->buf ? c->buf : "");
	}
}

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
}

static bool has_answer_or_eof(struct cli *c)
{
	return answer_len(c) > 0 || c->eof;
}

static bool at_eof(struct cli *c)
{
	return c->eof;
}

/* Take the next answer off the client's buffer (caller frees). */
static char *cli_answer(struct cli *c)
{
	size_t n;
	char *a;

	pump_until(has_answer_or_eof, c);
	n = answer_len(c);
	ck_assert_msg(n > 0, "connection closed without an answer: %.*s", (int)c->len,
		      c->buf ? c->buf : "");
	a = malloc(n + 1);
	ck_assert_ptr_nonnull(a);
	memcpy(a, c->buf, n);
	a[n] = '\0';
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	return a;
}

/* One request on its own connection. */
static char *ask(const char *fmt, ...)
{
	char line[8192];
	struct cli c;
	va_list ap;
	char *a;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cli_open(&c);
	cli_sendf(&c, "%s\n", line);
	a = cli_answer(&c);
	cli_close(&c);
	return a;
}

static bool ends_ok(const char *a)
{
	size_t n = strlen(a);

	return n >= 3 && strcmp(a + n - 3, "ok\n") == 0 && (n == 3 || a[n - 4] == '\n');
}

#define ASSERT_OK(a) ck_assert_msg(ends_ok(a), "not ok: %s", a)
#define ASSERT_HAS(a, s) ck_assert_msg(strstr(a, s) != NULL, "no '%s' in:\n%s", s, a)
#define ASSERT_LACKS(a, s) ck_assert_msg(strstr(a, s) == NULL, "'%s' in:\n%s", s, a)

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- cache helpers ------------------------------------------------------ */

static ldns_rdf *dn(const char *s)
{
	ldns_rdf *d = ldns_dname_new_frm_str(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

static void store_trust(enum cache_trust trust, const char *first, ...)
{
	ldns_rr_list *l = ldns_rr_list_new();
	va_list ap;

	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		ldns_rr *rr = NULL;

		ck_assert_msg(ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL) == LDNS_STATUS_OK,
			      "bad RR %s", s);
		ck_assert(ldns_rr_list_push_rr(l, rr));
	}
	va_end(ap);
	ck_assert_int_eq(cache_store_rrset(cache, l, NULL, trust, fake_ms), 0);
	ldns_rr_list_deep_free(l);
}

#define store(...) store_trust(CACHE_TRUST_ANSWER_AUTH, __VA_ARGS__, NULL)

static void store_neg(const char *qname, ldns_rr_type t, bool nxdomain, const char *soa)
{
	ldns_rdf *q = dn(qname);
	ldns_rr *s = NULL;

	ck_assert(ldns_rr_new_frm_str(&s, soa, 0, NULL, NULL) == LDNS_STATUS_OK);
	ck_assert_int_eq(cache_store_negative(cache, q, t, LDNS_RR_CLASS_IN, nxdomain, s,
					      fake_ms), 0);
	ldns_rr_free(s);
	ldns_rdf_deep_free(q);
}

/* Remaining TTL of a cached RRset, -1 if absent (counted as a hit/miss:
 * only used where stats do not matter). */
static long cached_ttl(const char *name, ldns_rr_type t)
{
	struct cache_result res;
	ldns_rdf *d = dn(name);
	long ttl = -1;

	if (cache_lookup_rrset(cache, d, t, LDNS_RR_CLASS_IN, CACHE_TRUST_NONE, false, fake_ms,
			       &res))
		ttl = res.ttl;
	cache_result_clear(&res);
	ldns_rdf_deep_free(d);
	return ttl;
}

static uint64_t cache_entries(void)
{
	struct cache_stats st;

	cache_get_stats(cache, &st);
	return st.entries;
}

#define SOA_EX "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 600"

/* ---- a minimal JSON checker --------------------------------------------- */

static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *json_seq(const char *p, char close, bool members)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (members) {
			p = json_string(json_ws(p));
			if (!p || *(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = json_value(p);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	p = json_ws(p);
	if (*p == '{')
		return json_seq(p, '}', true);
	if (*p == '[')
		return json_seq(p, ']', false);
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		p += *p == '-';
		while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		       *p == '+' || *p == '-')
			p++;
		return p;
	}
	return NULL;
}

/* Every body line of the answer is one complete JSON object. */
static void assert_json_lines(const char *a)
{
	const char *p = a;
	size_t lines = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		char *line;
		const char *end;

		ck_assert_ptr_nonnull(nl);
		if (is_status(p, (size_t)(nl - p)))
			break;
		line = strndup(p, (size_t)(nl - p));
		ck_assert_ptr_nonnull(line);
		ck_assert_msg(line[0] == '{', "not an object: %s", line);
		end = json_value(line);
		ck_assert_msg(end && *end == '\0', "bad JSON: %s", line);
		free(line);
		lines++;
		p = nl + 1;
	}
	ck_assert_uint_gt(lines, 0);
}

/* ---- the socket file ---------------------------------------------------- */

START_TEST(socket_mode_0600)
{
	struct stat st;

	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

/* A second daemon on the same path must not steal it, nor delete it. */
START_TEST(live_socket_refused)
{
	char err[256];
	char *a;

	ck_assert_ptr_null(control_new(&loop, &env, err, sizeof(err)));
	ASSERT_HAS(err, "already running");
	ASSERT_HAS(err, sock);
	a = ask("status");
	ASSERT_OK(a);
	free(a);
}
END_TEST

static void pump(int rounds);

/* Make a control on another path with the fixture's env but cfg2. */
static struct control *second(struct config *cfg2, const char *path, char *err, size_t len)
{
	struct control_env e2 = env;

	memset(cfg2, 0, sizeof(*cfg2));
	cfg2->control_socket = (char *)path;
	e2.cfg = cfg2;
	return control_new(&loop, &e2, err, len);
}

/* The fixture's control keeps the loop alive: turn it a few times, which
 * runs the close callbacks. */
static void second_close(struct control *c)
{
	control_close(c);
	pump(5);
	control_free(c);
}

START_TEST(stale_socket_replaced)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[160], err[256];
	struct config cfg2;
	struct control *c2;
	struct cli c;
	int fd;
	char *a;

	/* a socket file nobody listens on: what a crashed daemon leaves */
	path_in_dir(path, sizeof(path), "stale.sock");
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	c2 = second(&cfg2, path, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	cli_open_at(&c, path);
	cli_sendf(&c, "status\n");
	a = cli_answer(&c);
	ASSERT_OK(a);
	free(a);
	cli_close(&c);
	second_close(c2);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(non_socket_file_kept)
{
	char path[160], err[256];
	struct config cfg2;
	FILE *f;

	path_in_dir(path, sizeof(path), "precious");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(second(&cfg2, path, err, sizeof(err)));
	ASSERT_HAS(err, "not a socket");
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(parent_dirs_created_0755)
{
	char path[160], sub[160], err[256];
	struct config cfg2;
	struct control *c2;
	struct stat st;

	path_in_dir(sub, sizeof(sub), "run/rootwalk");
	path_in_dir(path, sizeof(path), "run/rootwalk/control.sock");
	c2 = second(&cfg2, path, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0755);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	second_close(c2);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(group_gives_0660)
{
	char path[160], err[256];
	struct group *g = getgrgid(getegid());
	struct config cfg2;
	struct control *c2;
	struct stat st;

	ck_assert_ptr_nonnull(g);
	path_in_dir(path, sizeof(path), "group.sock");
	memset(&cfg2, 0, sizeof(cfg2));
	cfg2.control_socket = path;
	cfg2.control_group = g->gr_name;
	{
		struct control_env e2 = env;

		e2.cfg = &cfg2;
		c2 = control_new(&loop, &e2, err, sizeof(err));
	}
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	ck_assert_uint_eq(st.st_gid, g->gr_gid);
	second_close(c2);
}
END_TEST

START_TEST(bad_group_and_long_path)
{
	char path[300], err[256];
	struct config cfg2;
	struct control_env e2 = env;

	path_in_dir(path, sizeof(path), "nogroup.sock");
	memset(&cfg2, 0, sizeof(cfg2));
	cfg2.control_socket = path;
	cfg2.control_group = "no-such-group-rootwalk";
	e2.cfg = &cfg2;
	ck_assert_ptr_null(control_new(&loop, &e2, err, sizeof(err)));
	ASSERT_HAS(err, "no-such-group-rootwalk");
	ck_assert_int_ne(access(path, F_OK), 0);  /* not left behind */

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_ptr_null(second(&cfg2, path, err, sizeof(err)));
	ASSERT_HAS(err, "too long");
}
END_TEST

/* ---- protocol ----------------------------------------------------------- */

START_TEST(status_fields)
{
	char *a;

	fake_ms = 42500;
	a = ask("status");
	ASSERT_OK(a);
	ASSERT_HAS(a, "version: " ROOTWALK_VERSION "\n");
	ASSERT_HAS(a, "uptime: 42\n");
	ASSERT_HAS(a, "mode: kernel\n");
	ASSERT_HAS(a, "listener: 127.0.0.1@53\n");
	ASSERT_HAS(a, "listener: ::1@53\n");
	ASSERT_HAS(a, "control-socket: ");
	ASSERT_HAS(a, "pid: ");
	free(a);
	a = ask("json status");
	ASSERT_OK(a);
	assert_json_lines(a);
	ASSERT_HAS(a, "\"listeners\":[\"127.0.0.1@53\",\"::1@53\"]");
	ASSERT_HAS(a, "\"uptime\":42");
	free(a);
	a = ask("status --json");
	assert_json_lines(a);
	free(a);
}
END_TEST

START_TEST(unknown_and_garbage_change_nothing)
{
	char big[10 * 1024 + 2];
	struct cli c;
	char *a;
	uint64_t before;

	store("www.example.com. 300 IN A 192.0.2.1");
	before = cache_entries();
	log_set_verbosity(1);

	a = ask("frobnicate the cache");
	ck_assert_str_eq(a, "error: unknown command 'frobnicate'\n");
	free(a);
	a = ask("cache explode");
	ck_assert_str_eq(a, "error: unknown command 'cache explode'\n");
	free(a);
	a = ask("cache");
	ASSERT_HAS(a, "error: usage: cache lookup|dump|load|flush|flush-zone|flush-all");
	free(a);
	a = ask("cache flush");
	ASSERT_HAS(a, "error: usage: cache flush NAME [TYPE]");
	free(a);
	a = ask("cache flush www.example.com NOSUCHTYPE");
	ASSERT_HAS(a, "error: unknown type");
	free(a);
	a = ask("verbosity 99");
	ASSERT_HAS(a, "error: ");
	free(a);
	a = ask("\x01\x02\xff\xfe garbage");
	ASSERT_HAS(a, "error: request contains control characters");
	free(a);
	a = ask("\xff\xfe");
	ck_assert_str_eq(a, "error: unknown command '\xff\xfe'\n");
	free(a);

	/* a 10 KB line: refused, then the connection is closed */
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	cli_open(&c);
	cli_send(&c, big, sizeof(big) - 1);
	a = cli_answer(&c);
	ck_assert_str_eq(a, "error: request too long (max 4096 bytes)\n");
	free(a);
	pump_until(at_eof, &c);
	cli_close(&c);

	ck_assert_uint_eq(cache_entries(), before);
	ck_assert_int_eq(cached_ttl("www.example.com.", LDNS_RR_TYPE_A), 300);
	ck_assert_int_eq(log_get_verbosity(), 1);
	a = ask("status");  /* and the socket still serves */
	ASSERT_OK(a);
	free(a);
}
END_TEST

START_TEST(several_requests_per_connection)
{
	struct cli c;
	char *a;

	cli_open(&c);
	/* pipelined in one write, the last without its newline before EOF */
	cli_sendf(&c, "verbosity 2\n\nverbosity\r\nnope\nstatus");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	a = cli_answer(&c);
	ck_assert_str_eq(a, "ok\n");
	free(a);
	a = cli_answer(&c);
	ck_assert_str_eq(a, "verbosity: 2\nok\n");
	free(a);
	a = cli_answer(&c);
	ck_assert_str_eq(a, "error: unknown command 'nope'\n");
	free(a);
	a = cli_answer(&c);
	ASSERT_HAS(a, "version: ");
	ASSERT_OK(a);
	free(a);
	/* the daemon closes once everything is answered */
	pump_until(at_eof, &c);
	ck_assert_uint_eq(c.len, 0);
	cli_close(&c);
}
END_TEST

START_TEST(verbosity_sets_log_level)
{
	char *a = ask("verbosity 3");

	ck_assert_str_eq(a, "ok\n");
	free(a);
	ck_assert_int_eq(log_get_verbosity(), 3);
	a = ask("--json verbosity");
	ck_assert_str_eq(a, "{\"verbosity\":3}\nok\n");
	free(a);
	log_set_verbosity(LOGL_ERR);
}
END_TEST

START_TEST(reload_and_stop_callbacks)
{
	struct cli c;
	char *a;

	a = ask("reload");
	ck_assert_str_eq(a, "ok\n");
	free(a);
	reload_fail = 1;
	a = ask("reload");
	ck_assert_str_eq(a, "error: reload failed: bad config line 3\n");
	free(a);
	ck_assert_int_eq(reload_calls, 2);

	cli_open(&c);
	cli_sendf(&c, "stop\n");
	a = cli_answer(&c);
	ck_assert_str_eq(a, "ok\n");
	free(a);
	pump(5);
	ck_assert_int_eq(stop_calls, 1);
	cli_close(&c);
}
END_TEST

START_TEST(many_clients_at_once)
{
	enum { N = 70, MAX = 64 };
	static struct cli c[N];
	size_t refused = 0;

	for (int i = 0; i < N; i++)
		cli_open(&c[i]);
	pump(50);
	for (int i = 0; i < N; i++) {
		/* the refused ones may be closed already */
		if (write(c[i].fd, "status\n", 7) != 7)
			ck_assert(errno == EPIPE || errno == ECONNRESET);
	}
	for (int i = 0; i < N; i++) {
		char *a = cli_answer(&c[i]);

		if (strcmp(a, "error: too many control clients, try again later\n") == 0) {
			refused++;
		} else {
			ASSERT_HAS(a, "version: ");
			ASSERT_OK(a);
		}
		free(a);
	}
	ck_assert_uint_eq(refused, N - MAX);
	for (int i = 0; i < N; i++)
		cli_close(&c[i]);
	pump(20);
}
END_TEST

START_TEST(idle_client_times_out)
{
	char path[160], err[256];
	struct config cfg2;
	struct control_env e2 = env;
	struct control *c2;
	struct cli c;

	path_in_dir(path, sizeof(path), "idle.sock");
	memset(&cfg2, 0, sizeof(cfg2));
	cfg2.control_socket = path;
	e2.cfg = &cfg2;
	e2.idle_timeout_ms = 30;
	c2 = control_new(&loop, &e2, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	cli_open_at(&c, path);
	pump_until(at_eof, &c);   /* closed by the daemon, not by us */
	ck_assert_uint_eq(c.len, 0);
	cli_close(&c);
	second_close(c2);
}
END_TEST

/* ---- cache lookup ----------------------------------------------------- */

START_TEST(lookup_shows_rrset_and_ttl)
{
	char *a;

	store("www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2");
	store("www.example.com. 600 IN AAAA 2001:db8::1");
	store("deeper.www.example.com. 600 IN A 192.0.2.9");
	a = ask("cache lookup WWW.Example.COM");
	ASSERT_OK(a);
	ASSERT_HAS(a, "name: www.example.com.\n");
	ASSERT_HAS(a, "entry:\n  owner: www.example.com.\n  type: A\n  class: IN\n"
		   "  ttl: 300\n  trust: answer-auth\n  security: unchecked\n");
	ASSERT_HAS(a, "  rr: www.example.com.\t300\tIN\tA\t192.0.2.1\n");
	ASSERT_HAS(a, "  rr: www.example.com.\t300\tIN\tA\t192.0.2.2\n");
	ASSERT_HAS(a, "  type: AAAA\n");
	ASSERT_LACKS(a, "deeper");  /* the exact owner only */
	ASSERT_HAS(a, "delegation: none cached (the root hints would be used)\n");
	free(a);

	fake_ms = 100 * 1000;
	a = ask("cache lookup www.example.com. A");
	ASSERT_HAS(a, "  ttl: 200\n");
	ASSERT_HAS(a, "  rr: www.example.com.\t200\tIN\tA\t192.0.2.1\n");
	ASSERT_LACKS(a, "AAAA");
	free(a);
	a = ask("cache lookup nothing.example.com");
	ck_assert_str_eq(a, "name: nothing.example.com.\n"
			 "delegation: none cached (the root hints would be used)\nok\n");
	free(a);
	a = ask("cache lookup bad..name");
	ASSERT_HAS(a, "error: bad name");
	free(a);
}
END_TEST

START_TEST(lookup_negative_delegation_infra)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	ldns_rdf *zone = dn("example.com.");
	char *a;

	store_trust(CACHE_TRUST_REFERRAL, "example.com. 86400 IN NS ns1.example.com.",
		    "example.com. 86400 IN NS ns2.example.net.", NULL);
	store_trust(CACHE_TRUST_GLUE, "ns1.example.com. 3600 IN A 192.0.2.53", NULL);
	store_neg("gone.example.com.", 0, true, SOA_EX);
	store_neg("www.example.com.", LDNS_RR_TYPE_MX, false, SOA_EX);
	ck_assert_int_eq(config_parse_addr("192.0.2.53", 53, &ss, &sl), 0);
	infra_note_rtt(infra, (struct sockaddr *)&ss, 25, fake_ms);
	infra_note_lame(infra, (struct sockaddr *)&ss, zone, fake_ms);
	ldns_rdf_deep_free(zone);

	a = ask("cache lookup a.b.gone.example.com");
	ASSERT_OK(a);
	ASSERT_HAS(a, "  owner: gone.example.com.\n");
	ASSERT_HAS(a, "  negative: nxdomain\n");
	ASSERT_HAS(a, "  covers: the name is below this NXDOMAIN\n");
	ASSERT_HAS(a, "  ttl: 600\n");
	ASSERT_HAS(a, "delegation:\n  zone: example.com.\n  ttl: 86400\n  trust: referral\n");
	ASSERT_HAS(a, "  nameserver:\n    name: ns1.example.com.\n    address:\n"
		   "      addr: 192.0.2.53@53\n      ttl: 3600\n      trust: glue\n"
		   "      infra-known: yes\n      srtt-ms: 25\n");
	ASSERT_HAS(a, "      lame: yes\n");
	ASSERT_HAS(a, "    name: ns2.example.net.\n    note: no cached address\n");
	free(a);

	a = ask("cache lookup www.example.com MX");
	ASSERT_HAS(a, "  type: MX\n");
	ASSERT_HAS(a, "  negative: nodata\n");
	ASSERT_HAS(a, "  soa: example.com.\t600\tIN\tSOA\t");
	free(a);
	a = ask("cache lookup gone.example.com");
	ASSERT_HAS(a, "  negative: nxdomain\n");
	ASSERT_LACKS(a, "covers");
	free(a);
}
END_TEST

START_TEST(lookup_json_escapes)
{
	char *a;

	store("t.example. 60 IN TXT \"say \\\"hi\\\"\" \"back\\\\slash\" \"tab\\009x\"");
	a = ask("json cache lookup t.example TXT");
	ASSERT_OK(a);
	assert_json_lines(a);
	ASSERT_HAS(a, "\"owner\":\"t.example.\"");
	ASSERT_HAS(a, "\"delegation\":null");
	free(a);
}
END_TEST

/* ---- flush -------------------------------------------------------------- */

START_TEST(flush_removes_exactly)
{
	char *a;

	store("www.example.com. 300 IN A 192.0.2.1");
	store("www.example.com. 300 IN AAAA 2001:db8::1");
	store("www.example.com. 300 IN TXT \"x\"");
	store("mail.example.com. 300 IN A 192.0.2.2");
	store("example.com. 300 IN MX 10 mail.example.com.");
	store("notexample.com. 300 IN A 192.0.2.3");
	store("other.org. 300 IN A 192.0.2.4");

	a = ask("cache flush www.example.com A");
	ck_assert_str_eq(a, "removed: 1\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("www.example.com.", LDNS_RR_TYPE_A), -1);
	ck_assert_int_eq(cached_ttl("www.example.com.", LDNS_RR_TYPE_AAAA), 300);

	a = ask("cache flush www.example.com");
	ck_assert_str_eq(a, "removed: 2\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("www.example.com.", LDNS_RR_TYPE_TXT), -1);
	ck_assert_int_eq(cached_ttl("mail.example.com.", LDNS_RR_TYPE_A), 300);

	a = ask("cache flush-zone example.com");
	ck_assert_str_eq(a, "removed: 2\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("mail.example.com.", LDNS_RR_TYPE_A), -1);
	ck_assert_int_eq(cached_ttl("example.com.", LDNS_RR_TYPE_MX), -1);
	ck_assert_int_eq(cached_ttl("notexample.com.", LDNS_RR_TYPE_A), 300);
	ck_assert_int_eq(cached_ttl("other.org.", LDNS_RR_TYPE_A), 300);

	a = ask("json cache flush-all");
	ck_assert_str_eq(a, "{\"removed\":2}\nok\n");
	free(a);
	ck_assert_uint_eq(cache_entries(), 0);
}
END_TEST

START_TEST(flush_infra_one_and_all)
{
	struct sockaddr_storage a1, a2;
	socklen_t l;
	struct infra_info info;
	char *a;

	ck_assert_int_eq(config_parse_addr("192.0.2.1", 53, &a1, &l), 0);
	ck_assert_int_eq(config_parse_addr("2001:db8::2", 53, &a2, &l), 0);
	infra_note_rtt(infra, (struct sockaddr *)&a1, 10, 0);
	infra_note_rtt(infra, (struct sockaddr *)&a2, 20, 0);
	a = ask("flush-infra 192.0.2.1");
	ck_assert_str_eq(a, "removed: 1\nok\n");
	free(a);
	ck_assert_int_eq(infra_get(infra, (struct sockaddr *)&a1, 0, &info), 0);
	ck_assert_int_eq(infra_get(infra, (struct sockaddr *)&a2, 0, &info), 1);
	a = ask("flush-infra 300.1.1.1");
	ASSERT_HAS(a, "error: bad address");
	free(a);
	a = ask("flush-infra all");
	ck_assert_str_eq(a, "removed: 1\nok\n");
	free(a);
	ck_assert_uint_eq(infra_count(infra), 0);
}
END_TEST

/* ---- dump and load ------------------------------------------------------ */

static void fill_mixed(void)
{
	store("www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2");
	store_trust(CACHE_TRUST_GLUE, "ns1.example.com. 3600 IN A 192.0.2.53", NULL);
	store_trust(CACHE_TRUST_REFERRAL, "example.com. 86400 IN NS ns1.example.com.", NULL);
	store("short.example.com. 100 IN AAAA 2001:db8::5");
	store("txt.example.com. 600 IN TXT \"a;b\" \"c d\" \"q\\\"uote\"");
	store("odd\\(name\\).example.com. 600 IN A 192.0.2.7");
	{
		ldns_rr_list *set = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
		ldns_rr *rr = NULL, *sig = NULL;

		ck_assert(ldns_rr_new_frm_str(&rr, "signed.example.com. 900 IN A 192.0.2.8", 0,
					      NULL, NULL) == LDNS_STATUS_OK);
		ck_assert(ldns_rr_new_frm_str(&sig, "signed.example.com. 900 IN RRSIG A 13 3 900 "
					      "20300101000000 20200101000000 12345 example.com. "
					      "dGVzdHNpZ25hdHVyZQ==", 0, NULL, NULL) ==
			  LDNS_STATUS_OK);
		ldns_rr_list_push_rr(set, rr);
		ldns_rr_list_push_rr(sigs, sig);
		ck_assert_int_eq(cache_store_rrset(cache, set, sigs, CACHE_TRUST_ANSWER_NONAUTH,
						   fake_ms), 0);
		ldns_rr_list_deep_free(set);
		ldns_rr_list_deep_free(sigs);
	}
	store_neg("nx.example.com.", 0, true, SOA_EX);
	store_neg("www.example.com.", LDNS_RR_TYPE_MX, false, SOA_EX);
}

/* The dump's body: header lines apart, the entries as sorted blocks, so
 * two dumps compare equal whatever the order of the hash table. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *canonical_dump(const char *a)
{
	char *copy = strdup(a), *blocks[64], *out, *p, *save = NULL;
	size_t n = 0, len = 0;

	ck_assert_ptr_nonnull(copy);
	/* one block per annotation: cut before every "\n;!" */
	for (p = copy; (p = strstr(p, "\n;!")); p += 3)
		p[1] = '\x01';
	for (p = strtok_r(copy, "\x01", &save); p; p = strtok_r(NULL, "\x01", &save)) {
		if (strncmp(p, "!rootwalk-dump", 14) == 0 || strncmp(p, ";!rootwalk-dump", 15) == 0)
			continue;
		ck_assert_uint_lt(n, 64);
		blocks[n++] = p;
		len += strlen(p) + 1;
	}
	qsort(blocks, n, sizeof(blocks[0]), cmp_str);
	out = calloc(1, len + 1);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < n; i++) {
		char *okline = strstr(blocks[i], "ok\n");

		if (okline && (okline == blocks[i] || okline[-1] == '\n'))
			*okline = '\0';  /* the status line is not an entry */
		strcat(out, blocks[i]);
		strcat(out, "|");
	}
	free(copy);
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(dump_flush_load_roundtrip)
{
	char path[160];
	char *d1, *d2, *c1, *c2, *a;
	uint64_t n;

	fill_mixed();
	n = cache_entries();
	d1 = ask("cache dump");
	ASSERT_OK(d1);
	ck_assert(strncmp(d1, ";!rootwalk-dump version=2 time=1700000000\n", 42) == 0);
	ASSERT_HAS(d1, "\n;!end entries=9\nok\n");
	ASSERT_HAS(d1, ";!rrset trust=answer-auth rrs=2 sigs=0\nwww.example.com.\t300\tIN\tA\t");
	ASSERT_HAS(d1, ";!rrset trust=glue rrs=1 sigs=0\n"
		   "ns1.example.com.\t3600\tIN\tA\t192.0.2.53\n");
	ASSERT_HAS(d1, ";!rrset trust=answer-nonauth rrs=1 sigs=1\n");
	ASSERT_HAS(d1, ";!negative nxdomain nx.example.com. IN -\n"
		   ";!soa example.com.\t600\tIN\tSOA\t");
	ASSERT_HAS(d1, ";!negative nodata www.example.com. IN MX\n");
	ck_assert_uint_eq(count_of(d1, "\n;!rrset ") + count_of(d1, "\n;!negative "), n);

	path_in_dir(path, sizeof(path), "dump.zone");
	ck_assert(ends_ok(d1));
	d1[strlen(d1) - 3] = '\0';  /* the body is the dump; "ok" is the protocol's */
	write_file(path, d1);
	a = ask("cache flush-all");
	free(a);
	ck_assert_uint_eq(cache_entries(), 0);
	a = ask("cache load %s", path);
	ck_assert_msg(strstr(a, "loaded: 9\nexpired: 0\nrefused: 0\nskipped: 0\nok\n") != NULL,
		      "%s", a);
	free(a);
	ck_assert_uint_eq(cache_entries(), n);

	d2 = ask("cache dump");
	c1 = canonical_dump(d1);
	c2 = canonical_dump(d2);
	ck_assert_str_eq(c1, c2);
	free(c1);
	free(c2);
	free(d2);

	/* 250 s later on the wall clock: TTLs age, the 100 s entry is gone */
	cache_flush_all(cache);
	fake_wall += 250;
	a = ask("json cache load %s", path);
	ck_assert_str_eq(a, "{\"loaded\":8,\"expired\":1,\"refused\":0,\"skipped\":0,"
			 "\"skipped-lines\":[]}\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("www.example.com.", LDNS_RR_TYPE_A), 50);
	ck_assert_int_eq(cached_ttl("short.example.com.", LDNS_RR_TYPE_AAAA), -1);

	/* loading over better data: refused by trust, counted */
	fake_wall -= 250;
	store("ns1.example.com. 60 IN A 192.0.2.99");
	a = ask("cache load %s", path);
	ASSERT_HAS(a, "refused: 1\n");
	free(a);
	free(d1);
}
END_TEST

START_TEST(dump_json_lines)
{
	char *a;

	fill_mixed();
	a = ask("json cache dump");
	ASSERT_OK(a);
	assert_json_lines(a);
	ck_assert(strncmp(a, "{\"dump\":{\"version\":2,\"time\":1700000000}}\n", 41) == 0);
	ASSERT_HAS(a, "\n{\"dump-end\":{\"entries\":9}}\nok\n");
	ASSERT_HAS(a, "\"negative\":\"nxdomain\"");
	ASSERT_HAS(a, "\"rrsigs\":[\"signed.example.com.\\t900\\tIN\\tRRSIG\\tA 13 ");
	free(a);
	a = ask("cache dump now");
	ASSERT_HAS(a, "error: usage: cache dump");
	free(a);
}
END_TEST

START_TEST(load_errors)
{
	char path[160];
	char *a;

	a = ask("cache load relative/file");
	ASSERT_HAS(a, "error: the file must be an absolute path");
	free(a);
	path_in_dir(path, sizeof(path), "missing");
	a = ask("cache load %s", path);
	ASSERT_HAS(a, "error: cannot open ");
	ASSERT_HAS(a, "No such file or directory");
	free(a);
	a = ask("cache load %s", dir);
	ASSERT_HAS(a, "not a regular file");
	free(a);

	path_in_dir(path, sizeof(path), "bad.zone");
	write_file(path, ";!rootwalk-dump version=7 time=0\n");
	a = ask("cache load %s", path);
	ASSERT_HAS(a, ":1: dump version 7; this daemon reads 1 to 2");
	free(a);
	/* what concerns the whole file stops the load; entries before stay */
	write_file(path, ";!rrset trust=glue rrs=1 sigs=0\nok.example. 60 IN A 192.0.2.1\n"
		   ";!rootwalk-dump version=2 time=soon\n");
	a = ask("cache load %s", path);
	ASSERT_HAS(a, ":3: bad ;!rootwalk-dump header (1 entries loaded before it)");
	free(a);
	ck_assert_int_eq(cached_ttl("ok.example.", LDNS_RR_TYPE_A), 60);
	/* a version 1 dump (its count in the header, no ";!end") still loads */
	write_file(path, ";!rootwalk-dump version=1 time=1699999990 entries=1\n"
		   ";!rrset trust=glue rrs=1 sigs=0\nv1.example. 60 IN A 192.0.2.1\n");
	a = ask("cache load %s", path);
	ck_assert_str_eq(a, "loaded: 1\nexpired: 0\nrefused: 0\nskipped: 0\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("v1.example.", LDNS_RR_TYPE_A), 50);
}
END_TEST

/* Every entry that cannot be read is skipped, counted and named by its
 * line; the entries around it load.  Line numbers in the comments. */
START_TEST(load_skips_what_it_cannot_read)
{
	static const char *const text[] = {
		/*  1 */ ";!rootwalk-dump version=2 time=1700000000",
		/*  2 */ ";!rrset trust=answer-auth rrs=1 sigs=0",
		/*  3 */ "good1.example. 300 IN A 192.0.2.1",
		/*  4 */ ";!rrset trust=answer-auth rrs=2 sigs=0",
		/*  5 */ "bad.example. 300 IN A 999.1.1.1",
		/*  6 */ "bad.example. 300 IN A 192.0.2.2",
		/*  7 */ ";!rrset trust=glue rrs=1 sigs=0",
		/*  8 */ "good2.example. 300 IN A 192.0.2.3",
		/*  9 */ "loose.example. 300 IN A 192.0.2.4",
		/* 10 */ "loose.example. 300 IN A 192.0.2.5",
		/* 11 */ ";!rrset trust=supreme rrs=1 sigs=0",
		/* 12 */ "supreme.example. 300 IN A 192.0.2.6",
		/* 13 */ ";!rrset trust=answer-auth rrs=2 sigs=0",
		/* 14 */ "mixed.example. 300 IN A 192.0.2.7",
		/* 15 */ "other.example. 300 IN A 192.0.2.8",
		/* 16 */ ";!negative nodata n.example. IN A",
		/* 17 */ ";!rrset trust=answer-auth rrs=1 sigs=1",
		/* 18 */ "unsigned.example. 300 IN A 192.0.2.9",
		/* 19 */ "unsigned.example. 300 IN A 192.0.2.10",
		/* 20 */ ";!future-annotation x=1",
		/* 21 */ "future.example. 300 IN A 192.0.2.11",
		/* 22 */ ";!negative nxdomain nx.example. IN -",
		/* 23 */ ";!soa example. 300 IN SOA ns.example. h.example. 1 2 3 4 300",
		/* 24 */ ";!rrset trust=answer-auth rrs=3 sigs=0",
		/* 25 */ "short.example. 300 IN A 192.0.2.12",
		/* 26 */ "",
		/* 27 */ ";!rrset trust=answer-auth rrs=1 sigs=0",
		/* 28 */ "good3.example. 300 IN A 192.0.2.13",
		/* 29 */ ";!end entries=12",
		/* 30 */ ";!rrset trust=answer-auth rrs=2 sigs=0",
		/* 31 */ "cut.example. 300 IN A 192.0.2.14",
	};
	char path[160], body[4096] = "", *a;

	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		strcat(body, text[i]);
		strcat(body, "\n");
	}
	path_in_dir(path, sizeof(path), "skips.zone");
	write_file(path, body);
	a = ask("cache load %s", path);
	ck_assert_str_eq(a, "loaded: 4\nexpired: 0\nrefused: 0\nskipped: 9\n"
			 "skipped-line: 5\nskipped-line: 9\nskipped-line: 11\n"
			 "skipped-line: 13\nskipped-line: 16\nskipped-line: 19\n"
			 "skipped-line: 20\nskipped-line: 24\nskipped-line: 30\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("good1.example.", LDNS_RR_TYPE_A), 300);
	ck_assert_int_eq(cached_ttl("good2.example.", LDNS_RR_TYPE_A), 300);
	ck_assert_int_eq(cached_ttl("good3.example.", LDNS_RR_TYPE_A), 300);
	ck_assert_uint_eq(cache_entries(), 4);  /* the three and nx.example. */
	ck_assert_int_eq(cached_ttl("bad.example.", LDNS_RR_TYPE_A), -1);
	ck_assert_int_eq(cached_ttl("mixed.example.", LDNS_RR_TYPE_A), -1);
	ck_assert_int_eq(cached_ttl("short.example.", LDNS_RR_TYPE_A), -1);

	/* more than ten: all counted, the first ten named */
	body[0] = '\0';
	for (int i = 0; i < 12; i++)
		strcat(body, ";!rrset trust=glue rrs=1 sigs=0\nx.example. 60 IN A 1.2.3\n");
	strcat(body, ";!rrset trust=glue rrs=1 sigs=0\nlast.example. 60 IN A 192.0.2.1\n");
	write_file(path, body);
	a = ask("json cache load %s", path);
	ck_assert_str_eq(a, "{\"loaded\":1,\"expired\":0,\"refused\":0,\"skipped\":12,"
			 "\"skipped-lines\":[2,4,6,8,10,12,14,16,18,20]}\nok\n");
	free(a);

	/* a line that is not text: that line's entry only */
	{
		static const char nul[] = ";!rrset trust=glue rrs=1 sigs=0\n"
					  "nul.example. 60 IN A 1.2.3.4\0x\n"
					  ";!rrset trust=glue rrs=1 sigs=0\n"
					  "fine.example. 60 IN A 192.0.2.1\n";
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(nul, 1, sizeof(nul) - 1, f), sizeof(nul) - 1);
		ck_assert_int_eq(fclose(f), 0);
	}
	a = ask("cache load %s", path);
	ck_assert_str_eq(a, "loaded: 1\nexpired: 0\nrefused: 0\nskipped: 1\n"
			 "skipped-line: 2\nok\n");
	free(a);
	ck_assert_int_eq(cached_ttl("fine.example.", LDNS_RR_TYPE_A), 60);
}
END_TEST

/* ---- records ldns cannot print or read back ---------------------------- */

/* fuzz/README.md findings 3 and 5, each as a server could send it:
 * a CAA whose tag is not alphanumeric (ldns_rr2str() fails), a CERT of
 * type 0 (printed "CERT 0 0 0 ...", which ldns refuses to read, and leaks
 * on), an RRSIG expiring at 0xffffffff (printed as a date before 1970,
 * which ldns refuses).  Generic text is the only form they have. */
#define CAA_BAD "caa.example.\t300\tIN\tTYPE257\t\\# 7 00032d2d2d4141"
#define CERT_0 "cert.example.\t300\tIN\tTYPE37\t\\# 6 0000000000ff"
#define SIG_FF "sig.example.\t300\tIN\tTYPE46\t\\# 29 " \
	"00010d020000012cffffffff000000003039076578616d706c6500abcd"

static void store_unreadable(void)
{
	ldns_rr_list *set = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
	ldns_rr *rr = NULL, *sig = NULL;

	store(CAA_BAD);
	store(CERT_0);
	ck_assert(ldns_rr_new_frm_str(&rr, "sig.example. 300 IN A 192.0.2.1", 0, NULL, NULL) ==
		  LDNS_STATUS_OK);
	ck_assert(ldns_rr_new_frm_str(&sig, SIG_FF, 0, NULL, NULL) == LDNS_STATUS_OK);
	ck_assert(ldns_rr_list_push_rr(set, rr) && ldns_rr_list_push_rr(sigs, sig));
	ck_assert_int_eq(cache_store_rrset(cache, set, sigs, CACHE_TRUST_ANSWER_AUTH, fake_ms),
			 0);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

/* The cached RRset (and its RRSIGs) at name/type, in wire form. */
static ldns_buffer *cached_wire(const char *name, ldns_rr_type t)
{
	ldns_buffer *b = ldns_buffer_new(512);
	struct cache_result res;
	ldns_rdf *d = dn(name);

	ck_assert_ptr_nonnull(b);
	ck_assert_msg(cache_lookup_rrset(cache, d, t, LDNS_RR_CLASS_IN, CACHE_TRUST_NONE, false,
					 fake_ms, &res), "%s not cached", name);
	ck_assert(ldns_rr_list2buffer_wire(b, res.rrset) == LDNS_STATUS_OK);
	if (res.rrsigs)
		ck_assert(ldns_rr_list2buffer_wire(b, res.rrsigs) == LDNS_STATUS_OK);
	cache_result_clear(&res);
	ldns_rdf_deep_free(d);
	return b;
}

static bool same_wire(ldns_buffer *a, ldns_buffer *b)
{
	bool same = ldns_buffer_position(a) == ldns_buffer_position(b) &&
		    memcmp(ldns_buffer_begin(a), ldns_buffer_begin(b),
			   ldns_buffer_position(a)) == 0;

	ldns_buffer_free(a);
	ldns_buffer_free(b);
	return same;
}

/* Every record line of a dump reads back with ldns (as "cache load"
 * reads it). */
static void assert_records_parse(const char *dump)
{
	char *copy = strdup(dump), *save = NULL;

	ck_assert_ptr_nonnull(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;

		if (l[0] == ';' || strcmp(l, "ok") == 0)
			continue;
		ck_assert_msg(ldns_rr_new_frm_str(&rr, l, 0, NULL, NULL) == LDNS_STATUS_OK,
			      "does not read back: %s", l);
		ldns_rr_free(rr);
	}
	free(copy);
}

START_TEST(unreadable_records_in_generic_form)
{
	ldns_buffer *caa, *cert, *sig;
	char path[160], *a, *d1, *d2, *c1, *c2;

	store_unreadable();
	store("plain.example. 300 IN A 192.0.2.9");
	caa = cached_wire("caa.example.", LDNS_RR_TYPE_CAA);
	cert = cached_wire("cert.example.", LDNS_RR_TYPE_CERT);
	sig = cached_wire("sig.example.", LDNS_RR_TYPE_A);

	a = ask("cache lookup caa.example CAA");
	ck_assert_msg(ends_ok(a), "%s", a);  /* was "error: out of memory" */
	ASSERT_HAS(a, "  rr: " CAA_BAD "\n");
	free(a);
	a = ask("cache lookup sig.example");
	ASSERT_HAS(a, "  rr: sig.example.\t300\tIN\tA\t192.0.2.1\n");  /* readable: as ever */
	ASSERT_HAS(a, "  rrsig: " SIG_FF "\n");
	free(a);
	a = ask("json cache lookup cert.example");
	assert_json_lines(a);
	ASSERT_HAS(a, "\"rrs\":[\"cert.example.\\t300\\tIN\\tTYPE37\\t\\\\# 6 0000000000ff\"]");
	free(a);

	d1 = ask("cache dump");
	ASSERT_OK(d1);
	ASSERT_HAS(d1, "\n" CAA_BAD "\n");
	ASSERT_HAS(d1, "\n" CERT_0 "\n");
	ASSERT_HAS(d1, "\n" SIG_FF "\n");
	ASSERT_HAS(d1, "\nplain.example.\t300\tIN\tA\t192.0.2.9\n");
	assert_records_parse(d1);

	/* dump -> flush -> load gives the very same records */
	path_in_dir(path, sizeof(path), "generic.zone");
	d1[strlen(d1) - 3] = '\0';
	write_file(path, d1);
	cache_flush_all(cache);
	a = ask("cache load %s", path);
	ck_assert_str_eq(a, "loaded: 4\nexpired: 0\nrefused: 0\nskipped: 0\nok\n");
	free(a);
	ck_assert(same_wire(caa, cached_wire("caa.example.", LDNS_RR_TYPE_CAA)));
	ck_assert(same_wire(cert, cached_wire("cert.example.", LDNS_RR_TYPE_CERT)));
	ck_assert(same_wire(sig, cached_wire("sig.example.", LDNS_RR_TYPE_A)));
	d2 = ask("cache dump");
	c1 = canonical_dump(d1);
	c2 = canonical_dump(d2);
	ck_assert_str_eq(c1, c2);
	free(c1);
	free(c2);
	free(d1);
	free(d2);
}
END_TEST

/* ---- a dump in steps ---------------------------------------------------- */

/* Read at most n bytes of what is there (a slow reader). */
static void cli_read_at_most(struct cli *c, size_t n)
{
	ssize_t r;

	if (c->cap - c->len < n) {
		c->cap = c->cap ? c->cap * 2 + n : 131072 + n;
		c->buf = realloc(c->buf, c->cap + 1);
		ck_assert_ptr_nonnull(c->buf);
	}
	r = read(c->fd, c->buf + c->len, n);
	if (r > 0)
		c->len += (size_t)r;
	else if (r == 0)
		c->eof = true;
	else
		ck_assert_int_eq(errno, EAGAIN);
}

/* The dump is written in steps while the cache lives on: a step runs only
 * when the client has read what came before, and between steps entries
 * are added (enough to grow the hash table) and removed.  Every entry
 * present for the whole dump is in it exactly once, the dump says how many
 * entries it holds, and its first bytes reach the client long before the
 * walk is over (it is not made first and sent afterwards). */
START_TEST(dump_in_steps_while_the_cache_changes)
{
	enum { KEEP = 3000, DOOMED = 600, ADD_PER_TURN = 16 };
	static unsigned char seen[KEEP];
	size_t turns = 0, added = 0, flushed = 0, entries = 0, blocks;
	bool partial = false;
	char rr[128], *d, *save = NULL;
	const char *end;
	struct cli c;

	for (int i = 0; i < KEEP; i++) {
		snprintf(rr, sizeof(rr), "keep%05d.example.org. 3600 IN A 192.0.2.%d", i, i % 250);
		store(rr);
	}
	for (int i = 0; i < DOOMED; i++) {
		snprintf(rr, sizeof(rr), "doomed%05d.example.org. 3600 IN A 192.0.2.1", i);
		store(rr);
	}
	cli_open(&c);
	cli_sendf(&c, "cache dump\n");
	while (answer_len(&c) == 0 && !c.eof) {
		uv_run(&loop, UV_RUN_NOWAIT);
		cli_read_at_most(&c, 4096);
		if (c.len && !c.eof)
			partial |= answer_len(&c) == 0;
		for (int k = 0; k < ADD_PER_TURN; k++) {
			snprintf(rr, sizeof(rr), "new%06zu.example.net. 3600 IN A 192.0.2.2", added++);
			store(rr);
		}
		if (flushed < DOOMED) {
			ldns_rdf *name;

			snprintf(rr, sizeof(rr), "doomed%05zu.example.org.", flushed++);
			name = dn(rr);
			ck_assert_uint_eq(cache_flush_name(cache, name, 0), 1);
			ldns_rdf_deep_free(name);
		}
		ck_assert_uint_lt(++turns, 200000);
	}
	ck_assert(partial);
	/* 3600 entries fill a table of 4096 buckets: it grew under the walk */
	ck_assert_uint_gt(added, 1000);
	d = cli_answer(&c);
	ASSERT_OK(d);
	end = strstr(d, "\n;!end entries=");
	ck_assert_ptr_nonnull(end);
	blocks = count_of(d, "\n;!rrset ") + count_of(d, "\n;!negative ");
	ck_assert_uint_eq(strtoul(end + 15, NULL, 10), blocks);
	/* not a copy made at the start: some entries added during the walk
	 * (of ~2000, in random buckets) are in it, some flushed ones not */
	ck_assert_uint_gt(count_of(d, "\nnew"), 0);
	ck_assert_uint_lt(count_of(d, "\ndoomed"), DOOMED);
	for (char *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned i;

		if (sscanf(l, "keep%05u.example.org.\t", &i) == 1) {
			ck_assert_uint_lt(i, KEEP);
			seen[i]++;
			entries++;
		}
	}
	for (int i = 0; i < KEEP; i++)
		ck_assert_msg(seen[i] == 1, "keep%05d is in the dump %d times", i, seen[i]);
	ck_assert_uint_eq(entries, KEEP);
	free(d);
	cli_close(&c);
	pump(10);
}
END_TEST

/* A client that asks for a big dump and never reads must not hold up the
 * others, and what the daemon queues for it stays bounded. */
START_TEST(slow_dump_client_does_not_block)
{
	enum { N = 20000 };
	struct cli slow, fast;
	char rr[128], *a, *q, *d;
	unsigned long queued;

	for (int i = 0; i < N; i++) {
		snprintf(rr, sizeof(rr), "host%05d.example.org. 3600 IN TXT \"%0*d\"", i, 40, i);
		store(rr);
	}
	cli_open(&slow);
	cli_sendf(&slow, "cache dump\n");
	/* far more loop turns than the dump needs if it were read (80) */
	pump(2000);

	cli_open(&fast);
	cli_sendf(&fast, "status\n");
	a = cli_answer(&fast);
	ASSERT_OK(a);
	q = strstr(a, "control-queued-bytes: ");
	ck_assert_ptr_nonnull(q);
	queued = strtoul(q + 22, NULL, 10);
	ck_assert_uint_gt(queued, 0);               /* the dump is stalled, not done */
	ck_assert_uint_lt(queued, 512u * 1024u);    /* and bounded */
	free(a);
	cli_close(&fast);

	/* now read it all: complete and well-formed */
	d = cli_answer(&slow);
	ASSERT_OK(d);
	ck_assert_uint_eq(count_of(d, ";!rrset trust=answer-auth rrs=1 sigs=0\n"), N);
	ASSERT_HAS(d, "host19999.example.org.\t3600\tIN\tTXT\t");
	free(d);
	cli_close(&slow);
	pump(10);
}
END_TEST

/* ---- stats -------------------------------------------------------------- */

static uint64_t stat_value(const char *a, const char *key)
{
	char k[128];
	const char *p;

	snprintf(k, sizeof(k), "\n%s=", key);
	p = strstr(a, k);
	if (!p && strncmp(a, k + 1, strlen(k + 1)) == 0)
		p = a - 1;
	ck_assert_msg(p != NULL, "no %s in:\n%s", key, a);
	return strtoull(p + strlen(k), NULL, 10);
}

START_TEST(stats_reset_uses_baseline)
{
	struct cache_stats st;
	char *a;

	store("a.example. 300 IN A 192.0.2.1");
	store("b.example. 300 IN A 192.0.2.1");
	cached_ttl("a.example.", LDNS_RR_TYPE_A);
	cached_ttl("zzz.example.", LDNS_RR_TYPE_A);
	/* the control's own lookups do not count as the resolver's */
	a = ask("cache lookup a.example A");
	free(a);
	a = ask("stats --reset");
	ASSERT_OK(a);
	ck_assert_uint_eq(stat_value(a, "cache_hits"), 1);
	ck_assert_uint_eq(stat_value(a, "cache_misses"), 1);
	ck_assert_uint_eq(stat_value(a, "cache_inserts"), 2);
	ck_assert_uint_eq(stat_value(a, "cache_entries"), 2);
	ck_assert_uint_eq(stat_value(a, "queries"), 0);
	ck_assert_uint_eq(stat_value(a, "answers_by_rcode.NOERROR"), 0);
	ck_assert_uint_eq(stat_value(a, "stale_answers"), 0);
	ck_assert_uint_eq(stat_value(a, "server_tcp_open"), 0);
	ck_assert_uint_eq(stat_value(a, "upstream_queries.udp"), 0);
	ck_assert_uint_eq(stat_value(a, "answer_latency_seconds.le_+Inf"), 0);
	free(a);
	cache_get_stats(cache, &st);
	ck_assert_uint_ge(st.hits, 2);  /* the module's own counters are untouched */

	cached_ttl("b.example.", LDNS_RR_TYPE_A);
	a = ask("stats");
	ck_assert_uint_eq(stat_value(a, "cache_hits"), 1);
	ck_assert_uint_eq(stat_value(a, "cache_misses"), 0);
	ck_assert_uint_eq(stat_value(a, "cache_inserts"), 0);
	ck_assert_uint_eq(stat_value(a, "cache_entries"), 2);  /* a gauge: not reset */
	free(a);
	a = ask("json stats");
	assert_json_lines(a);
	ASSERT_HAS(a, "\"cache_entries\":2");
	ASSERT_HAS(a, "\"answers_by_rcode\":{\"NOERROR\":0,");
	free(a);
	a = ask("stats --bogus");
	ASSERT_HAS(a, "error: usage: stats");
	free(a);
	a = ask("json stats --prometheus");
	ASSERT_HAS(a, "error: ");
	free(a);
}
END_TEST

static bool name_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
	       (!first && ch >= '0' && ch <= '9');
}

/* A sample line: name{l="v",...} value.  Returns the name's length. */
static size_t check_sample(const char *line, uint64_t *value, char *le, size_t lelen)
{
	const char *p = line;
	size_t n;
	char *end;

	while (name_char(*p, p == line))
		p++;
	n = (size_t)(p - line);
	ck_assert_msg(n > 0, "no metric name: %s", line);
	le[0] = '\0';
	if (*p == '{') {
		do {
			const char *k = ++p, *v;

			while (name_char(*p, p == k))
				p++;
			ck_assert_msg(p > k && p[0] == '=' && p[1] == '"', "bad label: %s", line);
			v = p += 2;
			while (*p && *p != '"')
				p += *p == '\\' ? 2 : 1;
			ck_assert_msg(*p == '"', "unterminated label value: %s", line);
			if ((size_t)(v - k) == 4 && !strncmp(k, "le", 2))
				snprintf(le, lelen, "%.*s", (int)(p - v), v);
			p++;
		} while (*p == ',');
		ck_assert_msg(*p == '}', "bad label set: %s", line);
		p++;
	}
	ck_assert_msg(*p == ' ', "no value: %s", line);
	*value = strtoull(p + 1, &end, 10);
	ck_assert_msg(end > p + 1 && *end == '\0', "bad value: %s", line);
	return n;
}

START_TEST(stats_prometheus_well_formed)
{
	char *a, *copy, *line, *save = NULL;
	char family[96] = "", type[16] = "", seen[4096] = " ";
	uint64_t last_bucket = 0;
	bool inf_seen = false;
	size_t samples = 0;

	store("a.example. 300 IN A 192.0.2.1");
	a = ask("stats --prometheus");
	ASSERT_OK(a);
	copy = strdup(a);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[100], le[112];
		uint64_t v;
		size_t n;

		if (!strcmp(line, "ok"))
			break;
		if (!strncmp(line, "# HELP ", 7)) {
			ck_assert_int_eq(sscanf(line + 7, "%95s", family), 1);
			ck_assert_msg(strncmp(family, "rootwalk_", 9) == 0, "%s", line);
			ck_assert_msg(strlen(line) > 8 + strlen(family), "empty help: %s", line);
			/* each family once */
			snprintf(name, sizeof(name), " %s ", family);
			ck_assert_msg(!strstr(seen, name), "family twice: %s", family);
			strncat(seen, name + 1, sizeof(seen) - strlen(seen) - 1);
			type[0] = '\0';
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			ck_assert_int_eq(sscanf(line + 7, "%95s %15s", name, type), 2);
			ck_assert_str_eq(name, family);
			ck_assert_msg(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
				      !strcmp(type, "histogram"), "%s", line);
			if (!strcmp(type, "counter"))
				ck_assert_msg(strstr(family, "_total"), "counter name: %s", family);
			last_bucket = 0;
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment: %s", line);
		ck_assert_msg(type[0], "sample before HELP/TYPE: %s", line);
		n = check_sample(line, &v, le, sizeof(le));
		snprintf(name, sizeof(name), "%.*s", (int)n, line);
		samples++;
		if (strcmp(type, "histogram") != 0) {
			ck_assert_str_eq(name, family);
			continue;
		}
		if (strstr(name, "_bucket")) {
			ck_assert_msg(le[0], "bucket without le: %s", line);
			ck_assert_uint_ge(v, last_bucket);  /* cumulative */
			last_bucket = v;
			inf_seen |= !strcmp(le, "+Inf");
		} else {
			snprintf(le, sizeof(le), "%s_count", family);
			ck_assert_str_eq(name, le);
			ck_assert(inf_seen);
			ck_assert_uint_eq(v, last_bucket);
		}
	}
	ck_assert_uint_gt(samples, 40);
	ASSERT_HAS(a, "\n# TYPE rootwalk_cache_entries gauge\nrootwalk_cache_entries 1\n");
	ASSERT_HAS(a, "rootwalk_answers_by_rcode_total{rcode=\"SERVFAIL\"} 0\n");
	ASSERT_HAS(a, "rootwalk_answer_latency_seconds_bucket{le=\"0.005\"} 0\n");
	ASSERT_HAS(a, "rootwalk_upstream_queries_total{transport=\"tcp\"} 0\n");
	free(copy);
	free(a);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, socket_mode_0600);
	tcase_add_test(t, live_socket_refused);
	tcase_add_test(t, stale_socket_replaced);
	tcase_add_test(t, non_socket_file_kept);
	tcase_add_test(t, parent_dirs_created_0755);
	tcase_add_test(t, group_gives_0660);
	tcase_add_test(t, bad_group_and_long_path);
	tcase_add_test(t, status_fields);
	tcase_add_test(t, unknown_and_garbage_change_nothing);
	tcase_add_test(t, several_requests_per_connection);
	tcase_add_test(t, verbosity_sets_log_level);
	tcase_add_test(t, reload_and_stop_callbacks);
	tcase_add_test(t, many_clients_at_once);
	tcase_add_test(t, idle_client_times_out);
	tcase_add_test(t, lookup_shows_rrset_and_ttl);
	tcase_add_test(t, lookup_negative_delegation_infra);
	tcase_add_test(t, lookup_json_escapes);
	tcase_add_test(t, flush_removes_exactly);
	tcase_add_test(t, flush_infra_one_and_all);
	tcase_add_test(t, dump_flush_load_roundtrip);
	tcase_add_test(t, dump_json_lines);
	tcase_add_test(t, load_errors);
	tcase_add_test(t, load_skips_what_it_cannot_read);
	tcase_add_test(t, slow_dump_client_does_not_block);
	tcase_add_test(t, unreadable_records_in_generic_form);
	tcase_add_test(t, dump_in_steps_while_the_cache_changes);
	tcase_add_test(t, stats_reset_uses_baseline);
	tcase_add_test(t, stats_prometheus_well_formed);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	log_init(LOGL_ERR, false, "test_control");
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
