/* control.c — the control socket: its file, its clients, the framing.
 *
 * Requests are lines; an answer is body lines and a status line ("ok" or
 * "error: ...", see docs/CONTROL.md).  A client's requests run one after
 * the other.  Nothing here may stall DNS on the same loop, so:
 *   - writes are asynchronous, and a client whose unwritten output passes
 *     CTL_QUEUE_HIGH is not served further (no new request, no next dump
 *     chunk) until its queue falls under CTL_QUEUE_LOW;
 *   - streaming commands (dump, load) run as jobs, one bounded step per
 *     loop iteration from a uv_idle handle;
 *   - input is bounded by CONTROL_MAX_LINE, clients by CTL_MAX_CLIENTS, and
 *     a client doing nothing for idle_timeout_ms is closed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "build_config.h"
#include "control_int.h"
#include "log.h"

#define CTL_MAX_CLIENTS 64
#define CTL_QUEUE_HIGH (256u * 1024u)
#define CTL_QUEUE_LOW (64u * 1024u)
#define CTL_BACKLOG CTL_MAX_CLIENTS

struct ctl_conn {
	struct ctl_conn *next, *prev;
	struct control *ctl;
	uv_pipe_t pipe;
	uv_timer_t idle;
	uv_idle_t stepper;          /* runs the job, one step per iteration */
	int open_handles;           /* closed through our callback, not yet done */
	char in[CONTROL_MAX_LINE];
	size_t inlen;
	size_t queued;              /* bytes given to uv_write, not yet written */
	struct ctl_job *job;
	bool eof;                   /* client finished sending */
	bool reading;
	bool closing;
	bool finishing;             /* close once the queue is written */
	bool stop_pending;          /* env.stop once the queue is written */
};

struct ctl_write {
	uv_write_t req;
	struct ctl_conn *conn;
	char *data;
	size_t len;
};

static void conn_process(struct ctl_conn *c);
static void conn_close(struct ctl_conn *c);
static void on_step(uv_idle_t *h);

uint64_t control_now_ms(const struct control *c)
{
	if (c->env.now_ms)
		return c->env.now_ms(c->env.ud);
	return uv_now(c->loop);
}

size_t control_queued_bytes(const struct control *c)
{
	size_t n = 0;

	for (const struct ctl_conn *k = c->conns; k; k = k->next)
		n += k->queued;
	return n;
}

int control_fail(struct ctl_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- commands without a better home ------------------------------------ */

static int cmd_verbosity(struct ctl_req *r)
{
	char *end;
	long v;

	if (r->argc == 1) {
		struct ctl_emit e;

		control_emit_begin(&e, r->out, r->json);
		control_emit_u64(&e, "verbosity", (uint64_t)log_get_verbosity());
		control_emit_finish(&e);
		return 0;
	}
	if (r->argc != 2)
		return control_fail(r, "usage: verbosity [0-4]");
	errno = 0;
	v = strtol(r->argv[1], &end, 10);
	if (errno || *end || end == r->argv[1] || v < LOGL_ERR || v > LOGL_TRACE)
		return control_fail(r, "verbosity must be a number from 0 to 4");
	log_set_verbosity((int)v);
	log_info("control: verbosity set to %ld", v);
	return 0;
}

static int cmd_reload(struct ctl_req *r)
{
	char err[CTL_ERR_MAX] = "";

	if (r->argc != 1)
		return control_fail(r, "usage: reload");
	if (!r->ctl->env.reload)
		return control_fail(r, "reload is not supported by this process");
	log_info("control: reload requested");
	if (r->ctl->env.reload(r->ctl->env.ud, err, sizeof(err)) != 0)
		return control_fail(r, "reload failed: %s", err[0] ? err : "unknown reason");
	return 0;
}

static int cmd_stop(struct ctl_req *r)
{
	if (r->argc != 1)
		return control_fail(r, "usage: stop");
	if (!r->ctl->env.stop)
		return control_fail(r, "stop is not supported by this process");
	log_info("control: stop requested");
	r->stop_after = true;
	return 0;
}

static int cmd_help(struct ctl_req *r);

/* Commands of one or two words; "cache lookup" has sub = "lookup". */
static const struct ctl_cmd {
	const char *word, *sub;
	control_cmd_fn fn;
	const char *usage;
} commands[] = {
	{ "status", NULL, control_cmd_status, "status" },
	{ "stats", NULL, control_cmd_stats, "stats [--reset] [--prometheus]" },
	{ "stack", NULL, control_cmd_stack, "stack" },
	{ "cache", "lookup", control_cmd_cache_lookup, "cache lookup NAME [TYPE]" },
	{ "cache", "dump", control_cmd_cache_dump, "cache dump" },
	{ "cache", "load", control_cmd_cache_load, "cache load /ABSOLUTE/FILE" },
	{ "cache", "flush", control_cmd_cache_flush, "cache flush NAME [TYPE]" },
	{ "cache", "flush-zone", control_cmd_cache_flush_zone, "cache flush-zone NAME" },
	{ "cache", "flush-all", control_cmd_cache_flush_all, "cache flush-all" },
	{ "flush-infra", NULL, control_cmd_flush_infra, "flush-infra ADDR|all" },
	{ "reload", NULL, cmd_reload, "reload" },
	{ "verbosity", NULL, cmd_verbosity, "verbosity [0-4]" },
	{ "stop", NULL, cmd_stop, "stop" },
	{ "help", NULL, cmd_help, "help" },
};

static int cmd_help(struct ctl_req *r)
{
	struct ctl_emit e;

	control_emit_begin(&e, r->out, r->json);
	control_emit_arr(&e, "commands");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		control_emit_str(&e, "command", commands[i].usage);
	control_emit_end(&e);
	control_emit_finish(&e);
	return 0;
}

static const struct ctl_cmd *find_command(struct ctl_req *r)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct ctl_cmd *k = &commands[i];

		if (strcmp(k->word, r->argv[0]) != 0)
			continue;
		if (!k->sub)
			return k;
		if (r->argc >= 2 && strcmp(k->sub, r->argv[1]) == 0)
			return k;
	}
	return NULL;
}

/* ---- writing ----------------------------------------------------------- */

static void conn_touch(struct ctl_conn *c);
static void update_reading(struct ctl_conn *c);

static void run_stop(struct ctl_conn *c)
{
	struct control *ctl = c->ctl;

	c->stop_pending = false;
	if (ctl->env.stop)
		ctl->env.stop(ctl->env.ud);
}

static void on_write(uv_write_t *req, int status)
{
	struct ctl_write *w = req->data;
	struct ctl_conn *c = w->conn;

	c->queued -= w->len;
	free(w->data);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		log_detail("control: write to client failed: %s", uv_strerror(status));
		conn_close(c);
		return;
	}
	conn_touch(c);
	if (c->queued == 0 && c->stop_pending)
		run_stop(c);
	if (c->queued == 0 && c->finishing) {
		conn_close(c);
		return;
	}
	if (c->job && c->queued < CTL_QUEUE_LOW && uv_idle_start(&c->stepper, on_step) < 0) {
		conn_close(c);
		return;
	}
	conn_process(c);
}

/* Hand the buffer's bytes to libuv (the buffer is left empty). */
static int conn_send(struct ctl_conn *c, struct ctl_buf *b)
{
	struct ctl_write *w;
	uv_buf_t ub;
	int rc;

	if (b->len == 0)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->conn = c;
	w->data = b->data;
	w->len = b->len;
	w->req.data = w;
	ub = uv_buf_init(w->data, (unsigned)w->len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &ub, 1, on_write);
	if (rc < 0) {
		free(w);
		return rc;
	}
	memset(b, 0, sizeof(*b));
	c->queued += w->len;
	return 0;
}

/* Send body and the status line that ends an answer.  Out of memory, the
 * body is dropped and the client still gets a well-formed error. */
static void conn_answer(struct ctl_conn *c, struct ctl_buf *b, int rc, const char *err)
{
	if (b->oom) {
		control_buf_free(b);
		rc = -1;
		err = "out of memory";
	}
	if (rc < 0) {
		control_buf_puts(b, "error: ");
		control_buf_put_clean(b, err);
		control_buf_puts(b, "\n");
	} else {
		control_buf_puts(b, "ok\n");
	}
	if (b->oom || conn_send(c, b) < 0) {
		log_err("control: cannot queue an answer: out of memory");
		control_buf_free(b);
		conn_close(c);
		return;
	}
}

/* ---- the job stepper -------------------------------------------------- */

static void job_end(struct ctl_conn *c)
{
	c->job->free(c->job);
	c->job = NULL;
	uv_idle_stop(&c->stepper);
}

static void on_step(uv_idle_t *h)
{
	struct ctl_conn *c = h->data;
	struct ctl_buf b = { 0 };
	char err[CTL_ERR_MAX] = "";
	int rc;

	if (c->closing || !c->job)
		return;
	if (c->queued >= CTL_QUEUE_HIGH) {
		/* resumed by on_write once the client has read enough */
		uv_idle_stop(&c->stepper);
		return;
	}
	conn_touch(c);
	rc = c->job->step(c->job, &b, err, sizeof(err));
	if (rc == 1 && !b.oom) {
		if (conn_send(c, &b) < 0) {
			control_buf_free(&b);
			conn_close(c);
		}
		return;
	}
	job_end(c);
	conn_answer(c, &b, rc, err);
	if (!c->closing)
		conn_process(c);
}

/* ---- reading and dispatch --------------------------------------------- */

static bool has_control_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return true;
	}
	return false;
}

/* Split on blanks; a leading "json" word or a "--json" anywhere asks for
 * JSON output.  Returns the word count, -1 for too many words. */
static int tokenize(struct ctl_req *r, char *line)
{
	char *save = NULL, *w;

	r->argc = 0;
	for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (strcmp(w, "--json") == 0 || (r->argc == 0 && !r->json &&
						  strcmp(w, "json") == 0)) {
			r->json = true;
			continue;
		}
		if (r->argc == CTL_MAX_ARGS)
			return -1;
		r->argv[r->argc++] = w;
	}
	return r->argc;
}

static int dispatch(struct ctl_req *r, char *line, size_t len)
{
	const struct ctl_cmd *k;

	if (has_control_chars(line, len))
		return control_fail(r, "request contains control characters");
	if (tokenize(r, line) < 0)
		return control_fail(r, "too many words in request (max %d)", CTL_MAX_ARGS);
	if (r->argc == 0)
		return control_fail(r, "empty request; try 'help'");
	k = find_command(r);
	if (!k && strcmp(r->argv[0], "cache") == 0) {
		if (r->argc == 1)
			return control_fail(r, "usage: cache lookup|dump|load|flush|flush-zone|"
					    "flush-all ...");
		return control_fail(r, "unknown command 'cache %.64s'", r->argv[1]);
	}
	if (!k)
		return control_fail(r, "unknown command '%.64s'", r->argv[0]);
	return k->fn(r);
}

/* Run one request line (NUL-terminated, newline removed). */
static void run_line(struct ctl_conn *c, char *line, size_t len)
{
	struct ctl_buf out = { 0 };
	struct ctl_req r = { .ctl = c->ctl, .out = &out };
	int rc;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	rc = dispatch(&r, line, len);
	if (rc == CTL_JOB) {
		c->job = r.job;
		if (conn_send(c, &out) < 0 || uv_idle_start(&c->stepper, on_step) < 0) {
			control_buf_free(&out);
			conn_close(c);
		}
		return;
	}
	if (rc < 0)
		log_detail("control: '%.64s': %s", r.argc ? r.argv[0] : "", r.err);
	conn_answer(c, &out, rc, r.err);
	if (rc == 0 && r.stop_after && !c->closing) {
		c->stop_pending = true;
		if (c->queued == 0)
			run_stop(c);
	}
}

static void fail_too_long(struct ctl_conn *c)
{
	struct ctl_buf b = { 0 };
	char msg[64];

	snprintf(msg, sizeof(msg), "request too long (max %u bytes)", CONTROL_MAX_LINE);
	log_detail("control: closing a client: %s", msg);
	c->inlen = 0;
	c->finishing = true;
	conn_answer(c, &b, -1, msg);
	if (!c->closing && c->queued == 0)
		conn_close(c);
}

/* Take the next complete line out of the input buffer into line. */
static bool next_line(struct ctl_conn *c, char *line, size_t *len)
{
	char *nl = memchr(c->in, '\n', c->inlen);
	size_t n, used;

	if (nl) {
		n = (size_t)(nl - c->in);
		used = n + 1;
	} else if (c->eof && c->inlen) {
		n = used = c->inlen;  /* a last line without its newline */
	} else {
		return false;
	}
	memcpy(line, c->in, n);
	line[n] = '\0';
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
	*len = n;
	return true;
}

/* Run the buffered requests while the client is not busy or backlogged. */
static void conn_process(struct ctl_conn *c)
{
	char line[CONTROL_MAX_LINE + 1];
	size_t len;

	while (!c->closing && !c->finishing && !c->job && c->queued < CTL_QUEUE_HIGH) {
		if (!next_line(c, line, &len)) {
			if (c->inlen >= CONTROL_MAX_LINE)
				fail_too_long(c);
			break;
		}
		if (len == 0 || (len == 1 && line[0] == '\r'))
			continue;  /* blank lines are ignored, as a shell would */
		run_line(c, line, len);
	}
	if (c->closing)
		return;
	if (c->eof && !c->job && !c->inlen && !c->finishing) {
		c->finishing = true;
		if (c->queued == 0) {
			conn_close(c);
			return;
		}
	}
	update_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctl_conn *c = h->data;

	buf->base = c->in + c->inlen;
	buf->len = CONTROL_MAX_LINE - c->inlen;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *c = s->data;

	if (nread == 0 || c->closing)
		return;
	if (nread == UV_EOF) {
		c->eof = true;
	} else if (nread < 0) {
		log_detail("control: read from client failed: %s", uv_strerror((int)nread));
		conn_close(c);
		return;
	} else {
		c->inlen += (size_t)nread;
	}
	conn_touch(c);
	conn_process(c);
}

/* Read only while there is room for input and nothing will stop us from
 * acting on it: this is what bounds a client's input. */
static void update_reading(struct ctl_conn *c)
{
	bool want = !c->closing && !c->eof && !c->finishing && c->inlen < CONTROL_MAX_LINE;

	if (want == c->reading)
		return;
	if (want) {
		if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0) {
			conn_close(c);
			return;
		}
	} else {
		uv_read_stop((uv_stream_t *)&c->pipe);
	}
	c->reading = want;
}

/* ---- connections ------------------------------------------------------- */

static void on_idle_timeout(uv_timer_t *t)
{
	struct ctl_conn *c = t->data;

	log_detail("control: closing a client idle for %u ms", (unsigned)uv_timer_get_repeat(t));
	conn_close(c);
}

static void conn_touch(struct ctl_conn *c)
{
	uint64_t ms = c->ctl->env.idle_timeout_ms;

	if (c->closing)
		return;
	if (!ms)
		ms = CONTROL_IDLE_TIMEOUT_MS;
	/* repeat holds the value only so the log line can say it */
	uv_timer_start(&c->idle, on_idle_timeout, ms, ms);
}

static void conn_unlink(struct ctl_conn *c)
{
	struct control *ctl = c->ctl;

	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_conns--;
}

static void conn_free(struct ctl_conn *c)
{
	if (c->job)
		c->job->free(c->job);
	free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	conn_unlink(c);
	conn_free(c);
}

static void close_one(struct ctl_conn *c, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	c->open_handles++;
	uv_close(h, on_conn_handle_closed);
}

/* Drop the client now; pending writes are cancelled by libuv and their
 * callbacks run before the handles' close callbacks free the memory.  If
 * someone else (main's uv_walk) already closed a handle, the conn stays on
 * the list and control_free() frees it. */
static void conn_close(struct ctl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->stop_pending)
		run_stop(c);
	if (c->job) {
		c->job->free(c->job);
		c->job = NULL;
	}
	close_one(c, (uv_handle_t *)&c->stepper);
	close_one(c, (uv_handle_t *)&c->idle);
	close_one(c, (uv_handle_t *)&c->pipe);
}

static void refuse_busy(struct ctl_conn *c)
{
	struct ctl_buf b = { 0 };

	log_warn("control: refusing a client: %d clients already connected", CTL_MAX_CLIENTS);
	c->finishing = true;
	conn_answer(c, &b, -1, "too many control clients, try again later");
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct ctl_conn *c;

	if (status < 0) {
		log_err("control: accept failed: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		/* libuv holds the connection until we accept one */
		log_err("control: out of memory accepting a client");
		return;
	}
	c->ctl = ctl;
	uv_pipe_init(ctl->loop, &c->pipe, 0);
	uv_timer_init(ctl->loop, &c->idle);
	uv_idle_init(ctl->loop, &c->stepper);
	c->pipe.data = c->idle.data = c->stepper.data = c;
	c->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		conn_close(c);
		return;
	}
	conn_touch(c);
	if (ctl->n_conns > CTL_MAX_CLIENTS) {
		refuse_busy(c);
		return;
	}
	update_reading(c);
}

/* ---- the socket file -------------------------------------------------- */

static int set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The user the daemon will run as, when we are root and it is set: the
 * socket and a directory we make become its, so that it can remove the
 * socket after dropping privileges. */
static const struct passwd *daemon_user(const struct config *cfg)
{
	if (geteuid() != 0 || !cfg->username || !cfg->username[0])
		return NULL;
	return getpwnam(cfg->username);
}

/* mkdir -p of path's directory, new directories 0755. */
static int make_parent_dirs(const char *path, const struct passwd *pw, char *err,
			    size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* exact mode whatever the umask; ownership to the daemon user */
			if (chmod(dir, 0755) != 0 ||
			    (pw && chown(dir, pw->pw_uid, pw->pw_gid) != 0))
				return set_err(err, errlen, "cannot set up directory %s: %s", dir,
					       strerror(errno));
			log_info("control: created directory %s", dir);
		} else if (errno != EEXIST) {
			return set_err(err, errlen, "cannot create directory %s: %s", dir,
				       strerror(errno));
		}
		if (last)
			return 0;
		*p = '/';
	}
}

static void fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* Something is at path.  A socket nobody listens on is left over from a
 * daemon that died: remove it.  A socket that answers belongs to a live
 * daemon: refuse.  Anything else is not ours to delete. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : set_err(err, errlen, "cannot check %s: %s", path,
						     strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return set_err(err, errlen, "%s exists and is not a socket; not removing it",
			       path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(err, errlen, "socket: %s", strerror(errno));
	fill_sun(&sun, path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return set_err(err, errlen, "another daemon is serving the control socket %s; "
			       "is rootwalkd already running?", path);
	if (e == ENOENT)
		return 0;
	if (e != ECONNREFUSED)
		return set_err(err, errlen, "cannot check %s: %s", path, strerror(e));
	if (unlink(path) != 0 && errno != ENOENT)
		return set_err(err, errlen, "cannot remove stale socket %s: %s", path,
			       strerror(errno));
	log_info("control: removed stale socket %s", path);
	return 0;
}

/* Bind with the umask set so the file is never more open than 0600 while
 * we chown/chmod it.  Returns the listening fd or -1. */
static int bind_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(err, errlen, "socket: %s", strerror(errno));
	fill_sun(&sun, path);
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0) {
		set_err(err, errlen, "cannot bind control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* 0600, or 0660 with the control group; owner the daemon user if any. */
static int set_access(const char *path, const struct config *cfg, const struct passwd *pw,
		      char *err, size_t errlen)
{
	uid_t uid = pw ? pw->pw_uid : (uid_t)-1;
	gid_t gid = pw ? pw->pw_gid : (gid_t)-1;
	mode_t mode = 0600;

	if (cfg->control_group && cfg->control_group[0]) {
		struct group *g = getgrnam(cfg->control_group);

		if (!g)
			return set_err(err, errlen, "control-group: no group '%s'",
				       cfg->control_group);
		gid = g->gr_gid;
		mode = 0660;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0)
		return set_err(err, errlen, "cannot chown %s: %s", path, strerror(errno));
	if (chmod(path, mode) != 0)
		return set_err(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
	return 0;
}

/* Everything up to a listening fd, before any libuv handle exists, so a
 * failure needs no loop iteration to clean up. */
static int open_socket(struct control *c, char *err, size_t errlen)
{
	const struct config *cfg = c->env.cfg;
	const struct passwd *pw = daemon_user(cfg);
	struct stat st;
	int fd;

	if (strlen(c->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return set_err(err, errlen, "control socket path too long (max %zu bytes): %s",
			       sizeof(((struct sockaddr_un *)0)->sun_path) - 1, c->path);
	if (make_parent_dirs(c->path, pw, err, errlen) < 0 ||
	    clear_stale(c->path, err, errlen) < 0)
		return -1;
	fd = bind_socket(c->path, err, errlen);
	if (fd < 0)
		return -1;
	if (set_access(c->path, cfg, pw, err, errlen) < 0 || lstat(c->path, &st) != 0 ||
	    listen(fd, CTL_BACKLOG) != 0) {
		if (!err[0])
			set_err(err, errlen, "cannot listen on %s: %s", c->path, strerror(errno));
		unlink(c->path);
		close(fd);
		return -1;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return fd;
}

static void remove_socket_file(struct control *c)
{
	struct stat st;

	if (!c->bound)
		return;
	c->bound = false;
	if (lstat(c->path, &st) != 0 || st.st_dev != c->dev || st.st_ino != c->ino)
		return;  /* gone, or replaced by someone else's */
	if (unlink(c->path) != 0)
		log_warn("control: cannot remove %s: %s", c->path, strerror(errno));
}

static void free_on_close(uv_handle_t *h)
{
	struct control *c = h->data;

	free(c->path);
	free(c);
}

struct control *control_new(uv_loop_t *loop, const struct control_env *env,
			    char *err, size_t errlen)
{
	const char *path = env->cfg->control_socket;
	struct control *c;
	int fd, rc;

	err[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path && *path ? path : ROOTWALK_DEFAULT_CONTROL))) {
		free(c);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->env = *env;
	fd = open_socket(c, err, errlen);
	if (fd < 0) {
		free(c->path);
		free(c);
		return NULL;
	}
	c->bound = true;
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	rc = uv_pipe_open(&c->listener, fd);
	if (rc < 0)
		close(fd);  /* not adopted by the handle: still ours */
	else
		rc = uv_listen((uv_stream_t *)&c->listener, CTL_BACKLOG, on_connection);
	if (rc < 0) {
		set_err(err, errlen, "cannot listen on %s: %s", c->path, uv_strerror(rc));
		remove_socket_file(c);
		uv_close((uv_handle_t *)&c->listener, free_on_close);
		return NULL;
	}
	control_snapshot_take(c, &c->base);
	log_info("control: listening on %s", c->path);
	return c;
}

void control_close(struct control *c)
{
	if (!c || c->closed)
		return;
	c->closed = true;
	if (!uv_is_closing((uv_handle_t *)&c->listener))
		uv_close((uv_handle_t *)&c->listener, NULL);
	for (struct ctl_conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		conn_close(k);
	}
	remove_socket_file(c);
}

void control_free(struct control *c)
{
	if (!c)
		return;
	remove_socket_file(c);
	while (c->conns) {
		struct ctl_conn *k = c->conns;

		c->conns = k->next;
		conn_free(k);
	}
	free(c->path);
	free(c);
}
