/* control_int.h — what the control module's files share: the control
 * struct, the request a command handler sees, the output buffer and the
 * text/JSON emitter.  Private to src/control*.c.
 *
 * The split: control.c owns the socket, the connections and the framing;
 * control_proto.c the buffer, the emitter and small parsers;
 * control_stats.c "status", "stats" and "stack"; control_cache.c the cache and
 * infra commands, including the streamed dump and load.
 *
 * Functions shared between these files carry the module prefix control_
 * (they have external linkage); the private types are struct ctl_*. */
#ifndef RW_CONTROL_INT_H
#define RW_CONTROL_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"
#include "stack.h"

/* ---- output buffer ---------------------------------------------------- */

/* A growable byte buffer.  An allocation failure sets oom and later
 * appends are ignored, so builders need not check every call: the sender
 * checks oom once. */
struct ctl_buf {
	char *data;
	size_t len, cap;
	bool oom;
};

void control_buf_put(struct ctl_buf *b, const char *s, size_t n);
void control_buf_puts(struct ctl_buf *b, const char *s);
void control_buf_printf(struct ctl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s with bytes that would break a text line (controls other than
 * tab, DEL) written as \xNN. */
void control_buf_put_clean(struct ctl_buf *b, const char *s);
/* Append s as a JSON string literal, quotes included. */
void control_buf_put_json(struct ctl_buf *b, const char *s);
void control_buf_free(struct ctl_buf *b);

/* ---- emitter: one builder, text or JSON output ------------------------ */

#define CTL_EMIT_DEPTH 8

/* Text: "key: value" lines, nested objects indented by two spaces, array
 * members labelled with their own key.  JSON: one compact object on one
 * line; inside an array the keys are ignored. */
struct ctl_emit {
	struct ctl_buf *b;
	bool json;
	int depth;
	bool array[CTL_EMIT_DEPTH];
	bool first[CTL_EMIT_DEPTH];
};

void control_emit_begin(struct ctl_emit *e, struct ctl_buf *b, bool json);
void control_emit_finish(struct ctl_emit *e);
void control_emit_str(struct ctl_emit *e, const char *key, const char *val);
void control_emit_u64(struct ctl_emit *e, const char *key, uint64_t v);
void control_emit_bool(struct ctl_emit *e, const char *key, bool v);
void control_emit_null(struct ctl_emit *e, const char *key, const char *text);
void control_emit_obj(struct ctl_emit *e, const char *key);
void control_emit_arr(struct ctl_emit *e, const char *key);
void control_emit_end(struct ctl_emit *e);

/* ---- small parsers and formatters ------------------------------------ */

/* Owner name from text ("example.com" or "example.com."); NULL if bad. */
ldns_rdf *control_parse_name(const char *s);
/* RR type from text ("A", "aaaa", "TYPE65400"); 0 if unknown. */
ldns_rr_type control_parse_type(const char *s);
/* Heap strings for a name / type / RR without the trailing newline;
 * NULL when out of memory. */
char *control_name_str(const ldns_rdf *name);
char *control_type_str(ldns_rr_type t);
char *control_rr_str(const ldns_rr *rr);
/* "192.0.2.1@53" / "2001:db8::1@53". */
void control_addr_str(const struct sockaddr *sa, char *out, size_t len);

/* ---- the control and a request -------------------------------------- */

/* Counters as read from every module at one moment; "stats" reports the
 * difference to the snapshot taken at the last reset. */
struct ctl_snapshot {
	bool has_req, has_cache, has_up, has_srv, has_infra, has_stack;
	struct request_stats req;
	struct cache_stats cache;
	struct upstream_stats up;
	struct server_stats srv;
	struct stack_stats stack;  /* raw mode */
	uint64_t stack_arp_entries, stack_tcp_conns;
	uint64_t infra_entries;
	uint64_t at_ms;
};

struct ctl_conn;

struct control {
	uv_loop_t *loop;
	struct control_env env;
	uv_pipe_t listener;
	char *path;                 /* socket file, ours to remove */
	dev_t dev;                  /* its identity once bound, so we never */
	ino_t ino;                  /* remove a file someone else put there */
	bool bound, closed;
	struct ctl_conn *conns;
	size_t n_conns;
	/* Cache hits/misses caused by our own lookups, kept out of stats. */
	uint64_t own_hits, own_misses;
	struct ctl_snapshot base;   /* counters at the last "stats --reset" */
};

uint64_t control_now_ms(const struct control *c);
/* Bytes queued to clients and not yet written, for "status". */
size_t control_queued_bytes(const struct control *c);

/* A streaming job: a command whose output is made in steps so that one
 * loop iteration never does more than a bounded amount of work. */
struct ctl_job {
	/* Append the next part to out.  1: more to do; 0: done ("ok");
	 * -1: failed, with a message in err. */
	int (*step)(struct ctl_job *j, struct ctl_buf *out, char *err, size_t errlen);
	void (*free)(struct ctl_job *j);
};

#define CTL_MAX_ARGS 16
#define CTL_ERR_MAX 512

struct ctl_req {
	struct control *ctl;
	int argc;
	char *argv[CTL_MAX_ARGS];   /* the command words are argv[0] (and argv[1]) */
	bool json;
	struct ctl_buf *out;        /* body lines */
	char err[CTL_ERR_MAX];
	struct ctl_job *job;        /* set when the handler returns CTL_JOB */
	bool stop_after;            /* call env.stop once the answer is out */
};

#define CTL_JOB 1

/* A command handler: 0 ok, -1 error (r->err says why), CTL_JOB. */
typedef int (*control_cmd_fn)(struct ctl_req *r);

int control_fail(struct ctl_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* control_stats.c */
int control_cmd_status(struct ctl_req *r);
int control_cmd_stats(struct ctl_req *r);
int control_cmd_stack(struct ctl_req *r);
void control_snapshot_take(struct control *c, struct ctl_snapshot *s);

/* control_cache.c */
int control_cmd_cache_lookup(struct ctl_req *r);
int control_cmd_cache_dump(struct ctl_req *r);
int control_cmd_cache_load(struct ctl_req *r);
int control_cmd_cache_flush(struct ctl_req *r);
int control_cmd_cache_flush_zone(struct ctl_req *r);
int control_cmd_cache_flush_all(struct ctl_req *r);
int control_cmd_flush_infra(struct ctl_req *r);

#endif
