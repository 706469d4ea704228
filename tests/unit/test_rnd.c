/* test_rnd.c — the per-thread random pool: draws cover their range
 * without bias that a few thousand samples would show, uniform bounds
 * hold, pools refill across their end, threads and a forked child do not
 * hand out the same bytes. */
#include "rnd.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leak.h"

static void teardown(void)
{
	assert_no_leaks();
}

START_TEST(uniform_in_range_and_covers_it)
{
	unsigned seen[7] = { 0 };

	for (int i = 0; i < 7000; i++) {
		uint32_t r = rnd_uniform(7);

		ck_assert_uint_lt(r, 7);
		seen[r]++;
	}
	for (int k = 0; k < 7; k++) {
		ck_assert_uint_gt(seen[k], 700);   /* expected 1000 each */
		ck_assert_uint_lt(seen[k], 1300);
	}
	ck_assert_uint_eq(rnd_uniform(1), 0);
	ck_assert_uint_eq(rnd_uniform(0), 0);
}
END_TEST

/* Many draws cross several refills; each bit is set about half the time. */
START_TEST(bits_balanced_across_refills)
{
	unsigned ones[16] = { 0 };
	const int n = 20000;

	for (int i = 0; i < n; i++) {
		uint16_t v = rnd_u16();

		for (int b = 0; b < 16; b++)
			ones[b] += (v >> b) & 1u;
	}
	for (int b = 0; b < 16; b++) {
		ck_assert_uint_gt(ones[b], n / 2 - n / 20);
		ck_assert_uint_lt(ones[b], n / 2 + n / 20);
	}
}
END_TEST

START_TEST(bytes_small_and_large)
{
	uint8_t a[64], b[64], big[4096];
	size_t zero = 0;

	rnd_bytes(a, sizeof(a));
	rnd_bytes(b, sizeof(b));
	ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
	memset(big, 0, sizeof(big));
	rnd_bytes(big, sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++)
		zero += big[i] == 0;
	ck_assert_uint_lt(zero, 64);       /* expected 16 */
	rnd_bytes(a, 0);
}
END_TEST

static void *draw64(void *out)
{
	rnd_bytes(out, 64);
	return NULL;
}

START_TEST(threads_get_their_own_bytes)
{
	uint8_t a[64], b[64];
	pthread_t t1, t2;

	ck_assert_int_eq(pthread_create(&t1, NULL, draw64, a), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, draw64, b), 0);
	ck_assert_int_eq(pthread_join(t1, NULL), 0);
	ck_assert_int_eq(pthread_join(t2, NULL), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

/* The child must not repeat what the parent draws next from its pool. */
START_TEST(fork_child_does_not_repeat_parent)
{
	int fd[2];
	uint8_t mine[32], child[32];
	pid_t pid;
	int status;

	(void)rnd_u32();                   /* the pool holds bytes now */
	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t c[32];

		rnd_bytes(c, sizeof(c));
		_exit(write(fd[1], c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 1);
	}
	rnd_bytes(mine, sizeof(mine));
	ck_assert_int_eq(read(fd[0], child, sizeof(child)), (ssize_t)sizeof(child));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd[0]);
	close(fd[1]);
	ck_assert_int_ne(memcmp(mine, child, sizeof(mine)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rnd");
	TCase *t = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, uniform_in_range_and_covers_it);
	tcase_add_test(t, bits_balanced_across_refills);
	tcase_add_test(t, bytes_small_and_large);
	tcase_add_test(t, threads_get_their_own_bytes);
	tcase_add_test(t, fork_child_does_not_repeat_parent);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
