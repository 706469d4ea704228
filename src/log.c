/* log.c — see log.h.  Lines go to stderr with a timestamp and level, or to
 * syslog when the daemon runs in the background. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Atomic: the control thread changes it while workers log. */
static _Atomic int g_verbosity = LOGL_OPS;
static bool g_syslog;
static const char *g_ident = "rootwalkd";

void log_init(int verbosity, bool use_syslog, const char *ident)
{
	g_verbosity = verbosity;
	g_syslog = use_syslog;
	if (ident)
		g_ident = ident;
	if (g_syslog)
		openlog(g_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_verbosity(int verbosity)
{
	atomic_store_explicit(&g_verbosity, verbosity, memory_order_relaxed);
}

int log_get_verbosity(void)
{
	return atomic_load_explicit(&g_verbosity, memory_order_relaxed);
}

void log_close(void)
{
	if (g_syslog)
		closelog();
	g_syslog = false;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOGL_ERR: return "error";
	case LOGL_OPS: return "info";
	case LOGL_DETAIL: return "detail";
	case LOGL_QUERY: return "query";
	case LOGL_TRACE: return "trace";
	}
	return "?";
}

static int syslog_priority(enum log_level level)
{
	switch (level) {
	case LOGL_ERR: return LOG_ERR;
	case LOGL_OPS: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if ((int)level > log_get_verbosity())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (g_syslog) {
		syslog(syslog_priority(level), "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s[%d] %s: %s\n", stamp, ts.tv_nsec / 1000000,
		g_ident, (int)getpid(), level_name(level), line);
}
