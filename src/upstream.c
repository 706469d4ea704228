/* upstream.c — queries to authoritative servers; see upstream.h.
 *
 * Shape, and why:
 * - Each query embeds one uv_timer_t and the timer's close callback frees
 *   the query.  That timer drives the attempt timeout and also delivers
 *   errors found while starting a query (a zero timeout), so the callback
 *   never runs on the caller's stack.
 * - Sockets come from the transport seam (transport.h): kernel sockets or
 *   the raw-mode stack, the same code either way.  A closed socket never
 *   calls back, so a query can switch sockets (UDP -> TCP, UDP -> UDP
 *   without EDNS, each with a fresh port and ID) at any moment, even from
 *   inside one of the socket's callbacks, and cancel/free never wait.
 *   Code that may finish or retry the query (and so close the socket)
 *   touches neither the socket nor the bytes it was given afterwards.
 * - Anti-spoofing (RFC 5452 plus 0x20): a UDP reply must come from the
 *   server's address and port and carry our ID and our question with the
 *   exact bytes we sent.  Anything else is counted and ignored and the
 *   socket stays open, so a forger cannot cut a query short.  A reply that
 *   only differs in the case of the name is a near-miss: never accepted.
 *   We re-ask the same server over TCP at once (rather than waiting for the
 *   UDP timeout: TCP cannot be spoofed off-path, and a server that really
 *   mangles case then costs one round trip, not a timeout) and flag it
 *   INFRA_CAPS_BROKEN.  A flagged server is asked over TCP from the start;
 *   0x20 stays on everywhere — dropping it for a server would let one
 *   forged near-miss weaken every later query to that server.
 * - Over TCP the name is still sent in mixed case but matched without
 *   regard to case: the connection is not spoofable off-path, and a
 *   caps-broken server must be able to answer there.
 * - A timer that fires does not end the query at once.  libuv runs timers
 *   before it polls for I/O, so after one long loop iteration (a burst of
 *   work, or the process not scheduled) every query sent in it would time
 *   out with its reply already waiting in the socket: measured under load,
 *   every one of 328 such timeouts had its reply queued unread.  So the
 *   first expiry only re-arms the timer for UP_GRACE_MS: a timer started
 *   from a timer callback cannot fire before the loop has polled, and that
 *   poll, which comes after the deadline, reads any reply that arrived in
 *   time.  Only a reply that was not there when we looked after the
 *   deadline is late.  (libevent, hence Unbound, polls before it runs
 *   timeouts, which has the same effect.)
 */
#include "upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rnd.h"
#include "transport.h"

#define UP_HDR_LEN 12u
#define UP_OPT_LEN 11u
#define UP_MAX_QUERY (UP_HDR_LEN + LDNS_MAX_DOMAINLEN + 4u + UP_OPT_LEN)
#define UP_ADDRSTR (INET6_ADDRSTRLEN + 8)
#define UP_RND_POOL 512u /* bytes of CSPRNG output drawn at once */

#define UP_GRACE_MS 1u /* after the deadline: one poll for a reply already there */

#define UP_FLAG_QR 0x80u
#define UP_FLAG_OPCODE 0x78u

/* A TCP attempt: the connection and the reply frame being assembled. */
struct up_tcp {
	struct net_stream *st;
	uint8_t out[2 + UP_MAX_QUERY];
	size_t outlen;
	uint8_t lenbuf[2];
	size_t lenhave;
	uint8_t *msg;
	size_t msglen, msghave;
};

struct upstream {
	uv_loop_t *loop;
	struct net *net;
	bool own_net; /* made by upstream_new: freed with it */
	struct infra *infra;
	struct upstream_opts opts;
	struct upstream_stats st;
	struct upstream_query *head; /* queries still running */
	/* CSPRNG output drawn ahead (see rnd_take) and how much is unused,
	 * at the end of the array. */
	uint8_t rnd[UP_RND_POOL];
	size_t rnd_left;
};

struct upstream_query {
	struct upstream *u; /* NULL once finished or cancelled */
	struct upstream_query *prev, *next;
	upstream_cb cb;
	void *ud;
	struct sockaddr_storage addr;
	char addrstr[UP_ADDRSTR]; /* "" until a log line needs it (q_where) */
	char *desc; /* "example.com. A", made for the first log line (q_desc) */
	uint8_t qname[LDNS_MAX_DOMAINLEN];
	size_t qnamelen;
	uint16_t qtype, qclass;
	uint32_t timeout_ms;
	bool no_edns; /* re-asked without EDNS after FORMERR */
	enum upstream_status deferred;
	/* The current attempt. */
	bool tcp, edns;
	uint16_t id;
	uint8_t wire[UP_MAX_QUERY]; /* the sent name is at wire + UP_HDR_LEN */
	size_t wirelen;
	uint64_t sent_ms;
	bool in_grace; /* the deadline passed; waiting out one poll */
	struct net_dgram *udp;
	struct up_tcp *tcpc;
	uv_timer_t timer;
};

static int attempt_start(struct upstream_query *q, bool tcp);

/* --- small helpers ---------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool ascii_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Wire names compare case-insensitively byte by byte: label lengths are
 * below 0x40 and so never mistaken for letters. */
static bool name_equal_nocase(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static socklen_t addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

static void addr_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, "%s@%u", ip, port);
}

static bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static const struct sockaddr *q_addr(const struct upstream_query *q)
{
	return (const struct sockaddr *)&q->addr;
}

static uint64_t q_now(const struct upstream_query *q)
{
	return uv_now(q->u->loop);
}

/* A name we send must be an uncompressed, absolute wire name: otherwise the
 * byte-for-byte reply check would compare against garbage. */
static bool qname_valid(const ldns_rdf *qname)
{
	const uint8_t *p;
	size_t len, i = 0;

	if (!qname || ldns_rdf_get_type(qname) != LDNS_RDF_TYPE_DNAME)
		return false;
	p = ldns_rdf_data(qname);
	len = ldns_rdf_size(qname);
	if (len == 0 || len > LDNS_MAX_DOMAINLEN)
		return false;
	while (i < len) {
		if (p[i] == 0)
			return i + 1 == len;
		if (p[i] > LDNS_MAX_LABELLEN)
			return false;
		i += (size_t)p[i] + 1;
	}
	return false;
}

/* "example.com. A" for log lines; NULL on allocation failure. */
static char *query_desc(const uint8_t *qname, size_t qnamelen, ldns_rr_type qtype)
{
	ldns_rdf *rdf = ldns_dname_new_frm_data((uint16_t)qnamelen, qname);
	char *name = rdf ? ldns_rdf2str(rdf) : NULL;
	char *type = ldns_rr_type2str(qtype);
	char *out = NULL;

	if (name && type && asprintf(&out, "%s %s", name, type) < 0)
		out = NULL;
	ldns_rdf_deep_free(rdf);
	free(name);
	free(type);
	return out;
}

/* The query and the server as text, made the first time a log line needs
 * them: formatting a name with ldns costs more than the rest of a query's
 * work together, and most queries never log a line. */
static const char *q_desc(struct upstream_query *q)
{
	if (!q->desc)
		q->desc = query_desc(q->qname, q->qnamelen, q->qtype);
	return q->desc ? q->desc : "?";
}

static const char *q_where(struct upstream_query *q)
{
	if (!q->addrstr[0])
		addr_fmt(q_addr(q), q->addrstr, sizeof(q->addrstr));
	return q->addrstr;
}

/* --- building the query ------------------------------------------------ */

/* n unpredictable bytes for IDs and 0x20.  rnd.h costs one getrandom()
 * system call per call with this C library (glibc 2.36's arc4random), two
 * or three per query; drawing UP_RND_POOL bytes at once makes that one per
 * few dozen queries.  The bytes are as unpredictable as before; each is
 * handed out once, and wiped as it is. */
static void rnd_take(struct upstream *u, void *out, size_t n)
{
	uint8_t *p;

	if (n > sizeof(u->rnd)) {
		rnd_bytes(out, n);
		return;
	}
	if (u->rnd_left < n) {
		rnd_bytes(u->rnd, sizeof(u->rnd));
		u->rnd_left = sizeof(u->rnd);
	}
	p = u->rnd + sizeof(u->rnd) - u->rnd_left;
	memcpy(out, p, n);
	memset(p, 0, n);
	u->rnd_left -= n;
}

/* 0x20: each letter's case from its own random bit (one bit per byte
 * position; a name has at most 255 bytes). */
static void name_0x20(struct upstream *u, uint8_t *name, size_t len)
{
	uint8_t bits[(LDNS_MAX_DOMAINLEN + 7) / 8];
	size_t i = 0;

	rnd_take(u, bits, (len + 7) / 8);
	while (i < len && name[i] != 0) {
		size_t end = i + 1 + name[i];

		for (i++; i < end && i < len; i++) {
			uint8_t c = name[i];

			if (!ascii_alpha(c))
				continue;
			c = ascii_lower(c);
			if ((bits[i / 8] >> (i % 8)) & 1)
				c = (uint8_t)(c - 32);
			name[i] = c;
		}
	}
}

/* Fresh ID, case and EDNS decision for one attempt; the wire is kept so the
 * reply can be compared against the exact bytes sent. */
static void query_build(struct upstream_query *q)
{
	struct upstream *u = q->u;
	uint8_t *w = q->wire;
	size_t n;

	rnd_take(u, &q->id, sizeof(q->id));
	q->edns = !q->no_edns &&
		  !infra_has_flag(u->infra, q_addr(q), INFRA_EDNS_BROKEN, q_now(q));
	put16(w, q->id);
	w[2] = 0; /* QR=0, opcode QUERY, AA=0, TC=0, RD=0 */
	w[3] = 0;
	put16(w + 4, 1);
	put16(w + 6, 0);
	put16(w + 8, 0);
	put16(w + 10, q->edns ? 1 : 0);
	memcpy(w + UP_HDR_LEN, q->qname, q->qnamelen);
	if (u->opts.use_caps_for_id)
		name_0x20(u, w + UP_HDR_LEN, q->qnamelen);
	n = UP_HDR_LEN + q->qnamelen;
	put16(w + n, q->qtype);
	put16(w + n + 2, q->qclass);
	n += 4;
	if (q->edns) {
		w[n] = 0; /* root owner */
		put16(w + n + 1, LDNS_RR_TYPE_OPT);
		put16(w + n + 3, (uint16_t)u->opts.edns_buffer_size);
		memset(w + n + 5, 0, 4); /* ext-rcode, version 0, no DO */
		put16(w + n + 9, 0);
		n += UP_OPT_LEN;
	}
	q->wirelen = n;
}

/* --- query lifetime ------------------------------------------------------ */

static void timer_close_cb(uv_handle_t *h)
{
	struct upstream_query *q = h->data;

	free(q->desc);
	free(q);
}

/* Close the current socket, if any.  No callback of it runs after this. */
static void socket_close(struct upstream_query *q)
{
	if (q->udp) {
		net_dgram_close(q->udp);
		q->udp = NULL;
	}
	if (q->tcpc) {
		if (q->tcpc->st)
			net_stream_close(q->tcpc->st);
		free(q->tcpc->msg);
		free(q->tcpc);
		q->tcpc = NULL;
	}
}

/* Take the query out of the upstream and release its handles.  After this
 * q->u is NULL and the memory goes away in the timer's close callback, so
 * q stays valid for the rest of the current libuv callback. */
static void query_detach(struct upstream_query *q)
{
	struct upstream *u = q->u;

	if (q->prev)
		q->prev->next = q->next;
	else
		u->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	u->st.in_flight--;
	q->u = NULL;
	socket_close(q);
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, timer_close_cb);
}

/* Deliver the result.  The callback runs last: it may free the upstream or
 * start new queries, so nothing here touches u or q after it. */
static void query_finish(struct upstream_query *q, enum upstream_status status,
			 ldns_pkt *resp, uint32_t rtt_ms)
{
	upstream_cb cb = q->cb;
	void *ud = q->ud;

	query_detach(q);
	cb(ud, status, resp, rtt_ms);
}

static void deferred_cb(uv_timer_t *t)
{
	struct upstream_query *q = t->data;

	query_finish(q, q->deferred, NULL, 0);
}

/* Report a failure from the next loop iteration (the caller's stack may be
 * upstream_send's). */
static void query_fail_later(struct upstream_query *q, enum upstream_status status)
{
	socket_close(q);
	q->deferred = status;
	if (uv_timer_start(&q->timer, deferred_cb, 0, 0) != 0) {
		/* libuv refuses only a closing timer, and a live query's
		 * timer is never closing: this is a broken invariant. */
		log_err("upstream: %s -> %s: cannot schedule failure", q_desc(q), q_where(q));
	}
}

/* The attempt's deadline passed.  The first call gives the loop one poll
 * (see the head comment); the second is the real timeout. */
static void timeout_cb(uv_timer_t *t)
{
	struct upstream_query *q = t->data;
	struct upstream *u = q->u;

	if (!q->in_grace) {
		q->in_grace = true;
		if (uv_timer_start(&q->timer, timeout_cb, UP_GRACE_MS, 0) == 0)
			return;
		/* cannot happen for a live query's timer: time out now */
	}
	u->st.timeouts++;
	infra_note_timeout(u->infra, q_addr(q), q_now(q));
	log_query("upstream: %s -> %s id=%u: timeout (%s)", q_desc(q), q_where(q),
		  q->id, q->tcp ? "tcp" : "udp");
	query_finish(q, UPSTREAM_TIMEOUT, NULL, 0);
}

/* --- judging and handling replies ----------------------------------------- */

/* The reply checks of RFC 5452 section 9.1 (the UDP caller checks the
 * source) plus exact 0x20 case.  Returns NULL when the reply answers our
 * question byte for byte, else why not; *case_only is set when the name
 * differs only in case (a near-miss over UDP, acceptable over TCP). */
static const char *reply_problem(const struct upstream_query *q, const uint8_t *p,
				 size_t len, bool *case_only)
{
	const uint8_t *sent = q->wire + UP_HDR_LEN;
	size_t n = q->qnamelen;

	*case_only = false;
	if (len < UP_HDR_LEN)
		return "too short";
	if (!(p[2] & UP_FLAG_QR))
		return "not a response";
	if (p[2] & UP_FLAG_OPCODE)
		return "wrong opcode";
	if (get16(p) != q->id)
		return "wrong id";
	if (get16(p + 4) != 1)
		return "question count not 1";
	if (len < UP_HDR_LEN + n + 4)
		return "question cut short";
	if (get16(p + UP_HDR_LEN + n) != q->qtype ||
	    get16(p + UP_HDR_LEN + n + 2) != q->qclass)
		return "wrong type or class";
	if (memcmp(p + UP_HDR_LEN, sent, n) == 0)
		return NULL;
	if (!name_equal_nocase(p + UP_HDR_LEN, sent, n))
		return "wrong name";
	*case_only = true;
	return "0x20 case differs";
}

/* Move the query to a new attempt, or fail it if that cannot start. */
static void query_retry(struct upstream_query *q, bool tcp)
{
	if (attempt_start(q, tcp) < 0)
		query_fail_later(q, UPSTREAM_NETERR);
}

/* A reply that passed every check: parse it, then follow TC and the EDNS
 * FORMERR rule, or deliver. */
static void reply_accept(struct upstream_query *q, const uint8_t *p, size_t len)
{
	struct upstream *u = q->u;
	uint64_t now = q_now(q);
	uint32_t rtt = now > q->sent_ms ? (uint32_t)(now - q->sent_ms) : 0;
	ldns_pkt *pkt = NULL;
	ldns_status rc;

	u->st.replies++;
	infra_note_rtt(u->infra, q_addr(q), rtt, now);
	rc = ldns_wire2pkt(&pkt, p, len);
	if (rc != LDNS_STATUS_OK) {
		log_detail("upstream: %s -> %s: unparseable reply (%s)", q_desc(q),
			   q_where(q), ldns_get_errorstr_by_id(rc));
		query_finish(q, UPSTREAM_BADREPLY, NULL, rtt);
		return;
	}
	if (!q->tcp && ldns_pkt_tc(pkt)) {
		ldns_pkt_free(pkt);
		u->st.tcp_fallbacks++;
		log_query("upstream: %s -> %s: truncated, retrying over tcp", q_desc(q),
			  q_where(q));
		query_retry(q, true);
		return;
	}
	if (q->edns && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_FORMERR &&
	    !ldns_pkt_edns(pkt)) {
		ldns_pkt_free(pkt);
		infra_set_flag(u->infra, q_addr(q), INFRA_EDNS_BROKEN, now);
		q->no_edns = true;
		log_detail("upstream: %s -> %s: FORMERR to EDNS, retrying without",
			   q_desc(q), q_where(q));
		query_retry(q, q->tcp);
		return;
	}
	log_query("upstream: %s <- %s id=%u rcode=%d rtt=%ums%s", q_desc(q), q_where(q),
		  q->id, (int)ldns_pkt_get_rcode(pkt), rtt, q->tcp ? " tcp" : "");
	query_finish(q, UPSTREAM_OK, pkt, rtt);
}

/* Right ID and question but the case of the name differs: someone may be
 * guessing, or the server mangles case.  Never accept; ask again over TCP. */
static void reply_nearmiss(struct upstream_query *q)
{
	struct upstream *u = q->u;

	u->st.near_misses++;
	u->st.tcp_fallbacks++;
	infra_set_flag(u->infra, q_addr(q), INFRA_CAPS_BROKEN, q_now(q));
	log_warn("upstream: %s -> %s id=%u: reply with wrong 0x20 case ignored, "
		 "re-asking over tcp", q_desc(q), q_where(q), q->id);
	query_retry(q, true);
}

/* --- UDP ------------------------------------------------------------------ */

static void udp_ignore(struct upstream_query *q, const struct sockaddr *from,
		       const char *why)
{
	char fromstr[UP_ADDRSTR] = "?";

	q->u->st.mismatched++;
	if (log_get_verbosity() >= LOGL_DETAIL) {
		if (from)
			addr_fmt(from, fromstr, sizeof(fromstr));
		log_detail("upstream: ignored reply from %s to %s (asked %s id=%u): %s",
			   fromstr, q_desc(q), q_where(q), q->id, why);
	}
}

static void udp_on_recv(struct net_dgram *d, const uint8_t *data, size_t len,
			const struct sockaddr *from, void *ud)
{
	struct upstream_query *q = ud;
	const char *why;
	bool case_only;

	if (!addr_equal(from, q_addr(q))) {
		udp_ignore(q, from, "wrong source address or port");
		return;
	}
	why = reply_problem(q, data, len, &case_only);
	if (!why)
		reply_accept(q, data, len);
	else if (case_only)
		reply_nearmiss(q);
	else
		udp_ignore(q, from, why);
}

/* A send the socket could not take at once failed later. */
static void udp_on_send_error(struct net_dgram *d, int err, void *ud)
{
	struct upstream_query *q = ud;

	log_detail("upstream: %s -> %s: send failed: %s", q_desc(q), q_where(q), strerror(-err));
	query_finish(q, UPSTREAM_NETERR, NULL, 0);
}

static const struct net_dgram_cbs udp_cbs = {
	.recv = udp_on_recv,
	.send_error = udp_on_send_error,
};

/* The wildcard address of the server's family, for a random-port bind. */
static void any_addr(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
	}
}

static unsigned sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int udp_start(struct upstream_query *q)
{
	struct upstream *u = q->u;
	struct sockaddr_storage local;
	int rc;

	any_addr(q->addr.ss_family, &local);
	rc = net_dgram_open(u->net, (struct sockaddr *)&local, NET_DGRAM_RANDOM_PORT, &udp_cbs,
			    q, &q->udp);
	if (rc < 0) {
		log_err("upstream: %s -> %s: cannot bind a random port: %s", q_desc(q),
			q_where(q), strerror(-rc));
		return rc;
	}
	rc = net_dgram_send(q->udp, q->wire, q->wirelen, q_addr(q));
	if (rc < 0) {
		log_detail("upstream: %s -> %s: send failed: %s", q_desc(q), q_where(q),
			   strerror(-rc));
		return rc;
	}
	u->st.sent_udp++;
	if (log_get_verbosity() >= LOGL_QUERY) {
		if (net_dgram_local(q->udp, &local) != 0)
			memset(&local, 0, sizeof(local));
		log_query("upstream: %s -> %s id=%u port=%u%s", q_desc(q), q_where(q), q->id,
			  sa_port(&local), q->edns ? "" : " noedns");
	}
	return 0;
}

/* --- TCP ------------------------------------------------------------------ */

/* A full frame arrived over TCP: judge it (case-insensitive name).  A wrong
 * reply on a connection only the server can write to is the server's
 * garbage, so it fails the query rather than waiting. */
static void tcp_frame_done(struct upstream_query *q, const uint8_t *msg, size_t len)
{
	bool case_only;
	const char *why = reply_problem(q, msg, len, &case_only);

	if (why && !case_only) {
		q->u->st.mismatched++;
		log_detail("upstream: %s -> %s: bad tcp reply: %s", q_desc(q), q_where(q),
			   why);
		query_finish(q, UPSTREAM_BADREPLY, NULL, 0);
		return;
	}
	reply_accept(q, msg, len);
}

/* Feed bytes of the reply frame: 1 once it is complete (anything after it
 * is not ours to read), 0 when more is needed, or a negative error (a
 * frame too short to be a DNS message, or no memory for its body). */
static int tcp_take(struct up_tcp *s, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n;

		if (s->lenhave < 2) {
			s->lenbuf[s->lenhave++] = *p++;
			len--;
			if (s->lenhave < 2)
				continue;
			s->msglen = get16(s->lenbuf);
			if (s->msglen < UP_HDR_LEN)
				return -EPROTO;
			s->msg = malloc(s->msglen);
			if (!s->msg)
				return -ENOMEM;
			continue;
		}
		n = s->msglen - s->msghave < len ? s->msglen - s->msghave : len;
		memcpy(s->msg + s->msghave, p, n);
		s->msghave += n;
		p += n;
		len -= n;
		if (s->msghave == s->msglen)
			return 1;
	}
	return 0;
}

static void tcp_on_read(struct net_stream *st, const uint8_t *data, ssize_t nread, void *ud)
{
	struct upstream_query *q = ud;
	struct up_tcp *s = q->tcpc;
	int rc;

	if (nread <= 0) {
		log_detail("upstream: %s -> %s: tcp read: %s", q_desc(q), q_where(q),
			   nread == 0 ? "closed before the reply" : strerror((int)-nread));
		query_finish(q, UPSTREAM_NETERR, NULL, 0);
		return;
	}
	rc = tcp_take(s, data, (size_t)nread);
	if (rc == 0)
		return;
	if (rc == -EPROTO) {
		q->u->st.mismatched++;
		log_detail("upstream: %s -> %s: tcp reply of %zu bytes", q_desc(q),
			   q_where(q), s->msglen);
		query_finish(q, UPSTREAM_BADREPLY, NULL, 0);
		return;
	}
	if (rc < 0) {
		log_err("upstream: %s -> %s: out of memory for a tcp reply", q_desc(q),
			q_where(q));
		query_finish(q, UPSTREAM_NETERR, NULL, 0);
		return;
	}
	tcp_frame_done(q, s->msg, s->msglen); /* may free s: nothing after it */
}

/* The query had to queue: a failure to hand it over fails the attempt. */
static void tcp_on_written(struct net_stream *st, size_t len, int status, void *ud)
{
	struct upstream_query *q = ud;

	if (status == 0)
		return;
	log_detail("upstream: %s -> %s: tcp write: %s", q_desc(q), q_where(q),
		   strerror(-status));
	query_finish(q, UPSTREAM_NETERR, NULL, 0);
}

static void tcp_on_connected(struct net_stream *st, int status, void *ud)
{
	struct upstream_query *q = ud;
	struct up_tcp *s = q->tcpc;
	struct iovec iov = { s->out, s->outlen };
	ssize_t rc = status;

	if (status < 0) {
		log_detail("upstream: %s -> %s: tcp connect: %s", q_desc(q), q_where(q),
			   strerror(-status));
		query_finish(q, UPSTREAM_NETERR, NULL, 0);
		return;
	}
	rc = net_stream_write(st, &iov, 1);
	if (rc < 0) {
		log_detail("upstream: %s -> %s: tcp send: %s", q_desc(q), q_where(q),
			   strerror((int)-rc));
		query_finish(q, UPSTREAM_NETERR, NULL, 0);
		return;
	}
	q->sent_ms = q_now(q); /* RTT excludes the handshake, like UDP's */
	q->u->st.sent_tcp++;
	log_query("upstream: %s -> %s id=%u tcp%s", q_desc(q), q_where(q), q->id,
		  q->edns ? "" : " noedns");
}

static const struct net_stream_cbs tcp_cbs = {
	.connected = tcp_on_connected,
	.read = tcp_on_read,
	.written = tcp_on_written,
};

static int tcp_start(struct upstream_query *q)
{
	struct up_tcp *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	q->tcpc = s;
	put16(s->out, (uint16_t)q->wirelen);
	memcpy(s->out + 2, q->wire, q->wirelen);
	s->outlen = q->wirelen + 2;
	rc = net_stream_connect(q->u->net, q_addr(q), &tcp_cbs, q, &s->st);
	if (rc < 0)
		log_detail("upstream: %s -> %s: tcp connect: %s", q_desc(q), q_where(q),
			   strerror(-rc));
	return rc;
}

/* --- attempts -------------------------------------------------------------- */

/* One try at the server: fresh socket, ID, case; its own timeout.  On
 * failure the socket is closed and the caller reports the error later. */
static int attempt_start(struct upstream_query *q, bool tcp)
{
	struct upstream *u = q->u;
	uint32_t timeout = q->timeout_ms;
	int rc;

	socket_close(q);
	query_build(q);
	q->tcp = tcp;
	q->in_grace = false;
	q->sent_ms = q_now(q);
	if (tcp && u->opts.tcp_timeout_ms > timeout)
		timeout = u->opts.tcp_timeout_ms;
	rc = tcp ? tcp_start(q) : udp_start(q);
	if (rc == 0)
		rc = uv_timer_start(&q->timer, timeout_cb, timeout, 0);
	if (rc < 0)
		socket_close(q);
	return rc;
}

/* Servers known to mangle case or to truncate always are asked over TCP
 * straight away: the 0x20 check is kept, the wasted UDP round trip is not. */
static bool want_tcp(struct upstream_query *q)
{
	struct upstream *u = q->u;
	uint64_t now = q_now(q);

	return infra_has_flag(u->infra, q_addr(q), INFRA_CAPS_BROKEN, now) ||
	       infra_has_flag(u->infra, q_addr(q), INFRA_TCP_ONLY, now);
}

/* --- public ------------------------------------------------------------------ */

struct upstream *upstream_new_net(uv_loop_t *loop, struct net *net, struct infra *infra,
				  const struct upstream_opts *opts)
{
	struct upstream *u;

	if (!loop || !infra || !opts)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->net = net;
	if (!u->net) {
		u->net = net_kernel_new(loop);
		u->own_net = true;
		if (!u->net) {
			free(u);
			return NULL;
		}
	}
	u->loop = loop;
	u->infra = infra;
	u->opts = *opts;
	/* RFC 6891: values below 512 are treated as 512. */
	if (u->opts.edns_buffer_size < 512)
		u->opts.edns_buffer_size = 512;
	if (u->opts.edns_buffer_size > 65535)
		u->opts.edns_buffer_size = 65535;
	return u;
}

struct upstream *upstream_new(uv_loop_t *loop, struct infra *infra,
			      const struct upstream_opts *opts)
{
	return upstream_new_net(loop, NULL, infra, opts);
}

void upstream_free(struct upstream *u)
{
	if (!u)
		return;
	while (u->head)
		upstream_cancel(u->head);
	if (u->own_net)
		net_free(u->net);
	free(u);
}

static struct upstream_query *query_new(struct upstream *u, const struct sockaddr *addr,
					const ldns_rdf *qname, ldns_rr_type qtype,
					ldns_rr_class qclass)
{
	struct upstream_query *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (uv_timer_init(u->loop, &q->timer) != 0) {
		free(q);
		return NULL;
	}
	q->timer.data = q;
	memcpy(&q->addr, addr, addr_len(addr));
	q->qnamelen = ldns_rdf_size(qname);
	memcpy(q->qname, ldns_rdf_data(qname), q->qnamelen);
	q->qtype = (uint16_t)qtype;
	q->qclass = (uint16_t)qclass;
	return q;
}

struct upstream_query *upstream_send(struct upstream *u, const struct sockaddr *addr,
				     const ldns_rdf *qname, ldns_rr_type qtype,
				     ldns_rr_class qclass, uint32_t timeout_ms,
				     bool tcp, upstream_cb cb, void *ud)
{
	struct upstream_query *q;

	if (!u || !addr || !cb || !qname_valid(qname) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
		log_err("upstream: refusing to send a malformed query");
		return NULL;
	}
	q = query_new(u, addr, qname, qtype, qclass);
	if (!q) {
		log_err("upstream: out of memory for a query");
		return NULL;
	}
	q->u = u;
	q->cb = cb;
	q->ud = ud;
	q->timeout_ms = timeout_ms;
	q->next = u->head;
	if (u->head)
		u->head->prev = q;
	u->head = q;
	u->st.in_flight++;
	if (!tcp && want_tcp(q)) {
		log_detail("upstream: %s -> %s: server flagged, using tcp", q_desc(q),
			   q_where(q));
		tcp = true;
	}
	if (attempt_start(q, tcp) < 0)
		query_fail_later(q, UPSTREAM_NETERR);
	return q;
}

void upstream_cancel(struct upstream_query *q)
{
	if (!q || !q->u)
		return;
	log_query("upstream: %s -> %s id=%u: cancelled", q_desc(q), q_where(q), q->id);
	query_detach(q);
}

void upstream_get_stats(const struct upstream *u, struct upstream_stats *st)
{
	*st = u->st;
}
