/* fuzz_log.c — log.h for the fuzz targets.
 *
 * The daemon's log.c writes every message to stderr with a timestamp;
 * under libFuzzer that would cost more than the code being fuzzed, and a
 * million lines of noise hide the one report that matters.  This stands in
 * for it: silent by default, printing up to level N with FUZZ_VERBOSE=N (4 shows
 * the resolution trace: what the modules did on a crash input), and handing error-level lines to a
 * hook so a target can treat "should not happen" logs as findings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "log.h"

static int g_verbosity = LOGL_OPS;
static int g_print = -1; /* FUZZ_VERBOSE; -1: not read from the environment yet */
static fuzz_log_hook_fn g_hook;
static unsigned long g_errors;

void log_init(int verbosity, bool use_syslog, const char *ident)
{
	(void)use_syslog;
	(void)ident;
	g_verbosity = verbosity;
}

void log_set_verbosity(int verbosity)
{
	g_verbosity = verbosity;
}

static bool printing(void);

/* With FUZZ_VERBOSE=N the modules' own level checks (log_at) must let
 * messages up to N through. */
int log_get_verbosity(void)
{
	return printing() && g_print > g_verbosity ? g_print : g_verbosity;
}

void log_close(void)
{
}

void fuzz_log_set_hook(fuzz_log_hook_fn fn)
{
	g_hook = fn;
}

unsigned long fuzz_log_errors(void)
{
	return g_errors;
}

void fuzz_log_reset(void)
{
	g_errors = 0;
}

static bool printing(void)
{
	if (g_print < 0) {
		const char *v = getenv("FUZZ_VERBOSE");

		g_print = v ? atoi(v) : 0;
	}
	return g_print > 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level == LOGL_ERR)
		g_errors++;
	if (level != LOGL_ERR && (!printing() || (int)level > g_print))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (printing() && (int)level <= g_print)
		fprintf(stderr, "[log %d] %s\n", (int)level, line);
	if (level == LOGL_ERR && g_hook)
		g_hook(line);
}
