/* limit_responder.c — the "limit" line of bench/run.
 *
 * Why it exists: a resolver benchmark on one machine measures the load
 * generator and the kernel's UDP path as much as the resolver.  This
 * responder does no DNS work at all: it takes a batch of datagrams with
 * recvmmsg(), turns each query into an answer in place (QR=1, RA=1, the
 * rest untouched) and sends the batch back with sendmmsg().  Whatever a
 * resolver achieves is bounded by what this achieves in the same run, so
 * bench/run prints every resolver's figures as a ratio of this line.
 *
 * One thread, one socket, blocking I/O.  It stops by itself after
 * MAX_SECONDS (alarm), or on SIGTERM/SIGINT.
 *
 *   limit_responder ADDRESS PORT MAX_SECONDS
 *
 * Built by bench/run with: cc -O2 -o BUILD/limit_responder bench/limit_responder.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define BUFSZ 2048
#define DNS_HDR 12

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Turn a query into a (empty) answer in place; 0 if it is not a query. */
static int make_answer(unsigned char *p, size_t len)
{
	if (len < DNS_HDR || (p[2] & 0x80))
		return 0;
	p[2] |= 0x80;		/* QR */
	p[3] |= 0x80;		/* RA */
	return 1;
}

static int open_socket(const char *addr, int port)
{
	struct sockaddr_in sin;
	int fd, one = 1, buf = 4 << 20;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "limit_responder: bad address %s\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("limit_responder: socket");
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("limit_responder: bind");
		close(fd);
		return -1;
	}
	return fd;
}

static int serve(int fd)
{
	static unsigned char bufs[BATCH][BUFSZ];
	struct sockaddr_in from[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	unsigned long long answered = 0;

	while (!stop) {
		int n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = BUFSZ;
			memset(&in[i], 0, sizeof(in[i]));
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("limit_responder: recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (!make_answer(bufs[i], in[i].msg_len))
				continue;
			out[k] = in[i];
			iov[i].iov_len = in[i].msg_len;
			out[k].msg_len = 0;
			k++;
		}
		for (int sent = 0; sent < k;) {
			int r = sendmmsg(fd, out + sent, (unsigned)(k - sent), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;	/* a full socket buffer drops, as a server would */
			}
			sent += r;
		}
		answered += (unsigned long long)k;
	}
	fprintf(stderr, "limit_responder: %llu answers\n", answered);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int fd, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: limit_responder ADDRESS PORT MAX_SECONDS\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	fd = open_socket(argv[1], atoi(argv[2]));
	if (fd < 0)
		return 1;
	alarm((unsigned)atoi(argv[3]));
	rc = serve(fd);
	close(fd);
	return rc;
}
