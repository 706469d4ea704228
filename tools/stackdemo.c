/* stackdemo.c — the raw-mode stack on a TAP device, for the integration
 * test (tests/integration/test_raw_stack.py); not installed.
 *
 *   stackdemo --tap NAME [--addr A.B.C.D/LEN] [--gw A.B.C.D] [--mtu N]
 *             [--udp-echo PORT] [--tcp-echo PORT]
 *             [--connect A.B.C.D:PORT --send BYTES]
 *             [--drop P] [--dup P] [--reorder P] [--seed N]
 *             [--msl MS] [--rto-max MS] [--seconds N] [-v LEVEL]
 *
 * Serves UDP and TCP echo; as a TCP client it connects, sends BYTES of a
 * fixed pattern, half-closes, checks that the peer echoes exactly that
 * back and closes, then exits.  Lines on stdout tell the test what
 * happened: "READY mac", "ACCEPT ...", "EOF ...", "CLOSED ...", "CLIENT OK"
 * or "CLIENT FAIL ...", then the counters and the connection table. */
#include "log.h"
#include "stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *tap;
	struct stack_cfg cfg;
	uint16_t udp_port, tcp_port;
	uint32_t connect_addr;
	uint16_t connect_port;
	size_t send_bytes;
	struct stack_faults faults;
	unsigned seconds;
	int verbosity;
};

/* One echo connection: what arrived but did not fit the send buffer yet. */
struct echo_conn {
	struct stack_tcp *conn;
	uint8_t *pend;
	size_t pend_len, pend_cap;
	bool eof;
	size_t total;
};

struct client {
	struct stack_tcp *conn;
	size_t sent, received;
	bool mismatch, eof, done, ok;
};

static uv_loop_t *loop;
static struct stack_uv *su;
static struct stack_udp *udp_sock;
static struct stack_tcp *tcp_listener;
static struct client client;
static struct opts opt;
static uv_timer_t stop_timer;
static uv_signal_t sigterm, sigint;
static bool stopping;

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)((i * 131 + (i >> 8) * 7 + 1) & 0xff);
}

static const char *ip_str(uint32_t addr, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
	return buf;
}

static uint64_t now(void)
{
	return uv_now(loop);
}

static void stop(void);

/* ---- UDP echo ---- */

static void udp_echo(struct stack_udp *s, const uint8_t *data, size_t len, uint32_t addr,
		     uint16_t port, void *ud)
{
	int rc = stack_udp_sendto(s, data, len, addr, port, now());

	(void)ud;
	if (rc < 0)
		fprintf(stderr, "udp echo: sendto: %s\n", strerror(-rc));
}

/* ---- TCP echo ---- */

static void echo_flush(struct echo_conn *e)
{
	ssize_t n;

	if (e->pend_len) {
		n = stack_tcp_send(e->conn, e->pend, e->pend_len, now());
		if (n > 0) {
			memmove(e->pend, e->pend + n, e->pend_len - (size_t)n);
			e->pend_len -= (size_t)n;
		}
	}
	if (e->eof && e->pend_len == 0) {
		printf("ECHO-DONE bytes=%zu\n", e->total);
		fflush(stdout);
		stack_tcp_close(e->conn, now()); /* our FIN: passive close */
		free(e->pend);
		free(e);
	}
}

static void echo_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	struct echo_conn *e = ud;

	(void)conn;
	if (len == 0) {
		printf("EOF server\n");
		fflush(stdout);
		e->eof = true;
		echo_flush(e);
		return;
	}
	e->total += len;
	if (e->pend_len + len > e->pend_cap) {
		size_t cap = (e->pend_len + len) * 2;
		uint8_t *p = realloc(e->pend, cap);

		if (!p) {
			fprintf(stderr, "echo: out of memory\n");
			exit(1);
		}
		e->pend = p;
		e->pend_cap = cap;
	}
	memcpy(e->pend + e->pend_len, data, len);
	e->pend_len += len;
	echo_flush(e);
}

static void echo_sent(struct stack_tcp *conn, size_t acked, void *ud)
{
	(void)conn;
	(void)acked;
	echo_flush(ud);
}

static void echo_closed(struct stack_tcp *conn, int err, void *ud)
{
	struct echo_conn *e = ud;

	(void)conn;
	printf("CLOSED server err=%d\n", err);
	fflush(stdout);
	free(e->pend);
	free(e);
}

static const struct stack_tcp_cbs echo_cbs = {
	.recv = echo_recv, .sent = echo_sent, .closed = echo_closed,
};

static void echo_accept(struct stack_tcp *lst, struct stack_tcp *conn, void *ud)
{
	struct echo_conn *e = calloc(1, sizeof(*e));
	struct stack_tcp_info info;
	char a[16];

	(void)lst;
	(void)ud;
	if (!e) {
		stack_tcp_abort(conn, now());
		return;
	}
	e->conn = conn;
	stack_tcp_set_cbs(conn, &echo_cbs, e);
	stack_tcp_get_info(conn, &info);
	printf("ACCEPT %s:%u\n", ip_str(info.remote_addr, a), info.remote_port);
	fflush(stdout);
}

static const struct stack_tcp_cbs listen_cbs = { .accept = echo_accept };

/* ---- TCP client ---- */

static void client_push(void)
{
	uint8_t chunk[4096];

	while (client.sent < opt.send_bytes) {
		size_t n = opt.send_bytes - client.sent;
		ssize_t w;

		if (n > sizeof(chunk))
			n = sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern_byte(client.sent + i);
		w = stack_tcp_send(client.conn, chunk, n, now());
		if (w <= 0)
			return;
		client.sent += (size_t)w;
	}
	/* everything queued: half-close, so the peer sees our FIN first */
	if (stack_tcp_shutdown(client.conn, now()) < 0)
		fprintf(stderr, "client: shutdown failed\n");
}

static void client_finish(bool ok, const char *why)
{
	if (client.done)
		return;
	client.done = true;
	client.ok = ok;
	if (ok)
		printf("CLIENT OK bytes=%zu\n", client.received);
	else
		printf("CLIENT FAIL %s sent=%zu received=%zu\n", why, client.sent, client.received);
	fflush(stdout);
	stop();
}

static void client_connected(struct stack_tcp *conn, void *ud)
{
	(void)conn;
	(void)ud;
	printf("CONNECTED\n");
	fflush(stdout);
	client_push();
}

static void client_recv(struct stack_tcp *conn, const uint8_t *data, size_t len, void *ud)
{
	(void)conn;
	(void)ud;
	if (len == 0) {
		printf("EOF client\n");
		fflush(stdout);
		client.eof = true;
		return;
	}
	for (size_t i = 0; i < len; i++)
		if (data[i] != pattern_byte(client.received + i))
			client.mismatch = true;
	client.received += len;
}

static void client_sent(struct stack_tcp *conn, size_t acked, void *ud)
{
	(void)conn;
	(void)acked;
	(void)ud;
	if (client.sent < opt.send_bytes)
		client_push();
}

static void client_closed(struct stack_tcp *conn, int err, void *ud)
{
	(void)conn;
	(void)ud;
	printf("CLOSED client err=%d\n", err);
	fflush(stdout);
	client.conn = NULL;
	if (err)
		client_finish(false, "connection error");
	else if (client.mismatch)
		client_finish(false, "data mismatch");
	else if (!client.eof || client.received != opt.send_bytes)
		client_finish(false, "short echo");
	else
		client_finish(true, NULL);
}

static const struct stack_tcp_cbs client_cbs = {
	.connected = client_connected, .recv = client_recv, .sent = client_sent,
	.closed = client_closed,
};

/* ---- reporting and shutdown ---- */

static void print_conn(const struct stack_tcp_info *info, void *ud)
{
	char a[16], b[16];

	(void)ud;
	printf("TCP %s:%u %s:%u %s\n", ip_str(info->local_addr, a), info->local_port,
	       ip_str(info->remote_addr, b), info->remote_port,
	       stack_tcp_state_name(info->state));
}

static void print_report(void)
{
	struct stack *st = stack_uv_stack(su);
	struct stack_stats s;

	stack_get_stats(st, &s);
	printf("STAT frames_in %llu\nSTAT frames_out %llu\n", (unsigned long long)s.frames_in,
	       (unsigned long long)s.frames_out);
	printf("STAT tcp_retransmits %llu\n", (unsigned long long)s.tcp_retransmits);
	for (int i = 0; i < STACK_DROP_MAX; i++)
		if (s.drops[i])
			printf("DROP %s %llu\n", stack_drop_name((enum stack_drop)i),
			       (unsigned long long)s.drops[i]);
	stack_tcp_walk(st, print_conn, NULL);
	fflush(stdout);
}

static void on_stack_closed(void *ud)
{
	(void)ud;
}

static void stop(void)
{
	if (stopping)
		return;
	stopping = true;
	print_report();
	if (udp_sock)
		stack_udp_close(udp_sock);
	if (tcp_listener)
		stack_tcp_close(tcp_listener, now());
	stack_uv_close(su, on_stack_closed, NULL);
	uv_close((uv_handle_t *)&stop_timer, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_stop_timer(uv_timer_t *t)
{
	(void)t;
	if (opt.connect_port && !client.done)
		client_finish(false, "timeout");
	stop();
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	(void)signum;
	stop();
}

/* ---- arguments ---- */

static int parse_addr(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*addr = ntohl(a.s_addr);
	return 0;
}

static int parse_prefix(char *s, uint32_t *addr, uint8_t *len)
{
	char *slash = strchr(s, '/');

	if (slash) {
		*slash = '\0';
		*len = (uint8_t)atoi(slash + 1);
	}
	return parse_addr(s, addr);
}

static int parse_hostport(char *s, uint32_t *addr, uint16_t *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -1;
	*colon = '\0';
	*port = (uint16_t)atoi(colon + 1);
	return parse_addr(s, addr);
}

static void usage(void)
{
	fprintf(stderr, "usage: stackdemo --tap NAME [--addr A/LEN] [--gw A] [--mtu N]\n"
			"  [--udp-echo PORT] [--tcp-echo PORT] [--connect A:PORT --send N]\n"
			"  [--drop P] [--dup P] [--reorder P] [--seed N] [--msl MS] [--rto-max MS]\n"
			"  [--seconds N] [-v LEVEL]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tap", required_argument, NULL, 't' },
		{ "addr", required_argument, NULL, 'a' },
		{ "gw", required_argument, NULL, 'g' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "udp-echo", required_argument, NULL, 'u' },
		{ "tcp-echo", required_argument, NULL, 'T' },
		{ "connect", required_argument, NULL, 'c' },
		{ "send", required_argument, NULL, 's' },
		{ "drop", required_argument, NULL, 'D' },
		{ "dup", required_argument, NULL, 'P' },
		{ "reorder", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ "msl", required_argument, NULL, 'M' },
		{ "rto-max", required_argument, NULL, 'X' },
		{ "seconds", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	char addr[64];
	int c;

	stack_cfg_default(&opt.cfg);
	opt.cfg.addr = 0xc6120002u; /* 198.18.0.2/24 */
	opt.cfg.prefix_len = 24;
	opt.seconds = 30;
	opt.verbosity = 1;
	opt.faults.seed = 1;
	while ((c = getopt_long(argc, argv, "v:", longopts, NULL)) != -1) {
		switch (c) {
		case 't': opt.tap = optarg; break;
		case 'a':
			snprintf(addr, sizeof(addr), "%s", optarg);
			if (parse_prefix(addr, &opt.cfg.addr, &opt.cfg.prefix_len) < 0)
				usage();
			break;
		case 'g':
			if (parse_addr(optarg, &opt.cfg.gateway) < 0)
				usage();
			break;
		case 'm': opt.cfg.mtu = (uint16_t)atoi(optarg); break;
		case 'u': opt.udp_port = (uint16_t)atoi(optarg); break;
		case 'T': opt.tcp_port = (uint16_t)atoi(optarg); break;
		case 'c':
			snprintf(addr, sizeof(addr), "%s", optarg);
			if (parse_hostport(addr, &opt.connect_addr, &opt.connect_port) < 0)
				usage();
			break;
		case 's': opt.send_bytes = strtoul(optarg, NULL, 10); break;
		case 'D': opt.faults.drop = atof(optarg); break;
		case 'P': opt.faults.duplicate = atof(optarg); break;
		case 'R': opt.faults.reorder = atof(optarg); break;
		case 'S': opt.faults.seed = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'M': opt.cfg.tcp_msl_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'X': opt.cfg.tcp_rto_max_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'x': opt.seconds = (unsigned)atoi(optarg); break;
		case 'v': opt.verbosity = atoi(optarg); break;
		default: usage();
		}
	}
	if (!opt.tap)
		usage();
}

static int start_services(void)
{
	struct stack *st = stack_uv_stack(su);
	int rc;

	if (opt.udp_port) {
		rc = stack_udp_open(st, opt.udp_port, udp_echo, NULL, &udp_sock);
		if (rc < 0)
			return rc;
	}
	if (opt.tcp_port) {
		rc = stack_tcp_listen(st, opt.tcp_port, 16, &listen_cbs, NULL, &tcp_listener);
		if (rc < 0)
			return rc;
	}
	if (opt.connect_port) {
		rc = stack_tcp_connect(st, opt.connect_addr, opt.connect_port, 0, &client_cbs, NULL,
				       &client.conn, now());
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t mac[6];
	int rc;

	parse_args(argc, argv);
	log_init(opt.verbosity, false, "stackdemo");
	loop = uv_default_loop();
	rc = stack_uv_open(loop, opt.tap, &opt.cfg, &su);
	if (rc < 0) {
		fprintf(stderr, "stackdemo: cannot start on %s: %s\n", opt.tap, strerror(-rc));
		return 1;
	}
	stack_uv_set_faults(su, &opt.faults);
	rc = start_services();
	if (rc < 0) {
		fprintf(stderr, "stackdemo: %s\n", strerror(-rc));
		stack_uv_close(su, NULL, NULL);
		(void)uv_run(loop, UV_RUN_DEFAULT);
		return 1;
	}
	if (uv_timer_init(loop, &stop_timer) < 0 ||
	    uv_timer_start(&stop_timer, on_stop_timer, (uint64_t)opt.seconds * 1000, 0) < 0 ||
	    uv_signal_init(loop, &sigterm) < 0 || uv_signal_start(&sigterm, on_signal, SIGTERM) < 0 ||
	    uv_signal_init(loop, &sigint) < 0 || uv_signal_start(&sigint, on_signal, SIGINT) < 0) {
		fprintf(stderr, "stackdemo: libuv setup failed\n");
		return 1;
	}
	stack_get_mac(stack_uv_stack(su), mac);
	printf("READY %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
	       mac[5]);
	fflush(stdout);
	rc = uv_run(loop, UV_RUN_DEFAULT);
	(void)rc;
	(void)uv_loop_close(loop);
	log_close();
	if (opt.connect_port && !client.ok)
		return 1;
	return 0;
}
