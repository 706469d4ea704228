/* rootwalkctl — the command-line client of rootwalkd's control socket.
 *
 * It sends one request line and prints the answer's body lines; the final
 * status line ("ok" / "error: ...", docs/CONTROL.md) decides the exit
 * status: 0 ok, 1 the daemon answered an error, 2 usage, connection or
 * protocol trouble.  Plain blocking sockets: a CLI has nothing else to do
 * while it waits, and poll() bounds how long it waits for silence. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "build_config.h"

#define CTL_MAX_LINE 4096        /* the daemon's request limit (CONTROL_MAX_LINE) */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1
#define CTL_EXIT_USAGE 2

struct ctl_opts {
	const char *socket;
	bool json;
	int timeout_s;
};

static void ctl_usage(FILE *f)
{
	fprintf(f,
		"usage: rootwalkctl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS...]\n"
		"Inspect and steer a running rootwalkd through its control socket.\n\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -j, --json          JSON output (one object per line)\n"
		"  -t, --timeout SECS  give up after SECS of silence from the daemon (30)\n"
		"  -h, --help          this help\n\n"
		"commands:\n"
		"  status                        version, uptime, listeners, mode\n"
		"  stats [--reset] [--prometheus]\n"
		"                                counters (since the last reset)\n"
		"  cache lookup NAME [TYPE]      what is cached at NAME, and its delegation\n"
		"  cache dump                    every entry as zone-file text\n"
		"  cache load FILE               load a dump (warm restart)\n"
		"  cache flush NAME [TYPE]       remove NAME (one type, or all)\n"
		"  cache flush-zone NAME         remove NAME and everything below it\n"
		"  cache flush-all               empty the cache\n"
		"  flush-infra [ADDR|all]        forget what is known about servers\n"
		"  stack                         raw mode: ARP cache and TCP connections (netstat)\n"
		"  reload                        re-read the configuration\n"
		"  verbosity [N]                 show or set the log verbosity (0-4)\n"
		"  stop                          stop the daemon\n\n"
		"Exit status: 0 ok, 1 the daemon reported an error, 2 usage or connection error.\n",
		ROOTWALK_DEFAULT_CONTROL);
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "rootwalkctl: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "rootwalkctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;

		fprintf(stderr, "rootwalkctl: cannot connect to %s: %s%s\n", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " — is rootwalkd running?" :
			e == EACCES ? " — not allowed (control-socket mode/group)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

/* "cache load" reads the file in the daemon, whose working directory is
 * not ours: send an absolute path. */
static const char *ctl_absolute(const char *arg, char *buf)
{
	if (arg[0] == '/')
		return arg;
	if (!realpath(arg, buf)) {
		fprintf(stderr, "rootwalkctl: %s: %s\n", arg, strerror(errno));
		return NULL;
	}
	return buf;
}

/* Join the words into one request line.  Words are separated by blanks on
 * the wire, so a word may not contain one. */
static int ctl_build_request(int argc, char **argv, bool json, char *line, size_t cap)
{
	static char abs_path[PATH_MAX];
	size_t len = 0;

	line[0] = '\0';
	if (json)
		len = (size_t)snprintf(line, cap, "json");
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];

		if (i == 2 && strcmp(argv[0], "cache") == 0 && strcmp(argv[1], "load") == 0 &&
		    !(w = ctl_absolute(w, abs_path)))
			return -1;
		if (!*w || strpbrk(w, " \t\r\n")) {
			fprintf(stderr, "rootwalkctl: argument '%s' is empty or has blanks\n", w);
			return -1;
		}
		/* room for the separator, the word and the final "\n\0" */
		if (len + 1 + strlen(w) + 2 > cap) {
			fprintf(stderr, "rootwalkctl: request longer than %d bytes\n",
				CTL_MAX_LINE);
			return -1;
		}
		len += (size_t)sprintf(line + len, "%s%s", len ? " " : "", w);
	}
	line[len++] = '\n';
	line[len] = '\0';
	return (int)len;
}

static int ctl_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A line the daemon sent: body (printed) or status (ends the answer). */
static int ctl_line(char *line, size_t n)
{
	if (n == 2 && memcmp(line, "ok", 2) == 0)
		return CTL_EXIT_OK;
	if (n >= 7 && memcmp(line, "error: ", 7) == 0) {
		fprintf(stderr, "rootwalkctl: %.*s\n", (int)n, line);
		return CTL_EXIT_ERROR;
	}
	fwrite(line, 1, n, stdout);
	fputc('\n', stdout);
	return -1;
}

/* Read until the status line.  Returns the exit status. */
static int ctl_read_answer(int fd, int timeout_s, bool *body)
{
	static char buf[1 << 16];
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, timeout_s * 1000);
		ssize_t r;
		char *nl;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			fprintf(stderr, "rootwalkctl: no answer from rootwalkd for %d s\n",
				timeout_s);
			return CTL_EXIT_USAGE;
		}
		r = pr < 0 ? -1 : read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "rootwalkctl: %s before the answer ended\n",
				r == 0 ? "rootwalkd closed the connection" : strerror(errno));
			return CTL_EXIT_USAGE;
		}
		have += (size_t)r;
		while ((nl = memchr(buf, '\n', have))) {
			size_t n = (size_t)(nl - buf);
			int st = ctl_line(buf, n);

			if (st >= 0)
				return st;
			*body = true;
			memmove(buf, nl + 1, have - n - 1);
			have -= n + 1;
		}
		if (have == sizeof(buf)) {  /* a line longer than we can hold: pass it on */
			fwrite(buf, 1, have, stdout);
			have = 0;
		}
	}
}

static int ctl_parse_args(int argc, char **argv, struct ctl_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': options end at the command, so "stats --reset" reaches the daemon */
	while ((c = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'j': o->json = true; break;
		case 't':
			o->timeout_s = atoi(optarg);
			if (o->timeout_s <= 0) {
				fprintf(stderr, "rootwalkctl: bad timeout '%s'\n", optarg);
				return -1;
			}
			break;
		case 'h': ctl_usage(stdout); exit(CTL_EXIT_OK);
		default: return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "rootwalkctl: no command given\n");
		return -1;
	}
	return optind;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { .socket = ROOTWALK_DEFAULT_CONTROL, .timeout_s = 30 };
	char line[CTL_MAX_LINE + 1];
	bool body = false;
	int first, len, fd, st;

	signal(SIGPIPE, SIG_IGN);
	first = ctl_parse_args(argc, argv, &o);
	if (first < 0) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	len = ctl_build_request(argc - first, argv + first, o.json, line, sizeof(line));
	if (len < 0)
		return CTL_EXIT_USAGE;
	fd = ctl_connect(o.socket);
	if (fd < 0)
		return CTL_EXIT_USAGE;
	if (ctl_write_all(fd, line, (size_t)len) != 0) {
		fprintf(stderr, "rootwalkctl: cannot send to %s: %s\n", o.socket, strerror(errno));
		close(fd);
		return CTL_EXIT_USAGE;
	}
	shutdown(fd, SHUT_WR);  /* one request: the daemon closes after answering */
	st = ctl_read_answer(fd, o.timeout_s, &body);
	close(fd);
	if (st == CTL_EXIT_OK && !body && !o.json)
		printf("ok\n");
	if (fflush(stdout) != 0 && st == CTL_EXIT_OK)
		st = CTL_EXIT_USAGE;
	return st;
}
