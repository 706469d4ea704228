/* leak.h — assert_no_leaks() for Check teardowns.
 *
 * Check forks a child per test and the child's exit skips LeakSanitizer's
 * end-of-process check, so a test must ask LSan itself; in builds without
 * ASan this is a no-op. */
#ifndef RW_TEST_LEAK_H
#define RW_TEST_LEAK_H

#include <check.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(RW_ASAN)
#include <sanitizer/lsan_interface.h>
#define assert_no_leaks() ck_assert_int_eq(__lsan_do_recoverable_leak_check(), 0)
#else
#define assert_no_leaks() ((void)0)
#endif

#endif
