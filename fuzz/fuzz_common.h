/* fuzz_common.h — what the libFuzzer targets share.
 *
 * Why a shared header: every target must (a) stay silent so that libFuzzer
 * runs at full speed, yet let a developer see the module's logs while
 * reproducing a crash (FUZZ_VERBOSE=1), (b) be deterministic, so a crash
 * file reproduces the same run (rnd.h is replaced by a seeded generator in
 * fuzz builds: fuzz_rnd.c), and (c) turn a broken invariant into an abort
 * with a message libFuzzer records next to the crash file. */
#ifndef RW_FUZZ_COMMON_H
#define RW_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Harness-only code (oracles, fingerprints) is kept out of the coverage
 * feedback: it would cost time and reward the fuzzer for exploring the
 * harness instead of the module. */
#if defined(__has_attribute) && __has_attribute(no_sanitize_coverage)
#define FUZZ_ORACLE __attribute__((no_sanitize_coverage))
#else
#define FUZZ_ORACLE
#endif

/* Abort with a message when an invariant does not hold.  Used instead of
 * assert() so that it also fires in builds with NDEBUG. */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", \
				__FILE__, __LINE__, #cond);                     \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

/* fuzz_log.c: log.h for fuzz builds.  Messages print only with
 * FUZZ_VERBOSE set in the environment.  Every error-level message is
 * also passed to the hook (NULL: none), which lets a target turn a
 * module's own "this should not happen" log line into a crash. */
typedef void (*fuzz_log_hook_fn)(const char *line);
void fuzz_log_set_hook(fuzz_log_hook_fn fn);
/* Error-level messages since the last reset. */
unsigned long fuzz_log_errors(void);
void fuzz_log_reset(void);

/* fuzz_rnd.c: restart the rnd.h stream; call at the start of every input. */
void fuzz_rnd_seed(uint64_t seed);

/* A little-endian-free reader over the fuzz input. */
struct fuzz_in {
	const uint8_t *p;
	size_t len, pos;
};

static inline size_t fuzz_left(const struct fuzz_in *in)
{
	return in->len - in->pos;
}

static inline int fuzz_u8(struct fuzz_in *in, uint8_t *v)
{
	if (fuzz_left(in) < 1)
		return -1;
	*v = in->p[in->pos++];
	return 0;
}

static inline int fuzz_u16(struct fuzz_in *in, uint16_t *v)
{
	if (fuzz_left(in) < 2)
		return -1;
	*v = (uint16_t)(in->p[in->pos] << 8 | in->p[in->pos + 1]);
	in->pos += 2;
	return 0;
}

/* Take up to want bytes; returns how many (the input may run short). */
static inline size_t fuzz_take(struct fuzz_in *in, size_t want, const uint8_t **out)
{
	size_t n = fuzz_left(in) < want ? fuzz_left(in) : want;

	*out = in->p + in->pos;
	in->pos += n;
	return n;
}

#endif
