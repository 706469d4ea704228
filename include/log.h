/* log.h — levelled logging to stderr or syslog.
 *
 * Verbosity follows unbound.conf's spirit: 0 errors only, 1 operational
 * (default), 2 detailed operations, 3 per-query, 4 algorithm trace.
 * The debug macros test the level before formatting so that disabled
 * logging costs one compare on hot paths. */
#ifndef RW_LOG_H
#define RW_LOG_H

#include <stdbool.h>

enum log_level {
	LOGL_ERR = 0,   /* something failed */
	LOGL_OPS = 1,   /* operational: start, stop, reload, warnings */
	LOGL_DETAIL = 2,
	LOGL_QUERY = 3, /* one line per client/upstream query */
	LOGL_TRACE = 4, /* resolution algorithm steps */
};

/* Set where logs go; use_syslog is for daemonized runs. */
void log_init(int verbosity, bool use_syslog, const char *ident);
void log_set_verbosity(int verbosity);
int log_get_verbosity(void);
void log_close(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOGL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_OPS, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_OPS, __VA_ARGS__)
#define log_at(lvl, ...)                                                     \
	do {                                                                 \
		if (log_get_verbosity() >= (lvl))                            \
			log_msg((lvl), __VA_ARGS__);                         \
	} while (0)
#define log_detail(...) log_at(LOGL_DETAIL, __VA_ARGS__)
#define log_query(...) log_at(LOGL_QUERY, __VA_ARGS__)
#define log_trace(...) log_at(LOGL_TRACE, __VA_ARGS__)

#endif
