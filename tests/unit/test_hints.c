/* test_hints.c — unit tests for loading root hints.
 *
 * The real root.hints of the source tree is loaded, plus small files
 * written to /tmp for each error and filtering rule.  The fixture frees
 * the hints and removes the file, so LeakSanitizer (ASan builds) fails a
 * test that leaks. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hints.h"

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must point at the source tree (set in tests/unit/meson.build)"
#endif
#define ROOT_HINTS SOURCE_ROOT "/root.hints"

static struct hints *h;
static char err[512];
static char tmp_path[64];

static void setup(void)
{
	h = NULL;
	err[0] = '\0';
	tmp_path[0] = '\0';
}

static void teardown(void)
{
	hints_free(h);
	if (tmp_path[0])
		unlink(tmp_path);
}

static void write_tmp(const char *content)
{
	size_t len = strlen(content);

	strcpy(tmp_path, "/tmp/rw_test_hints_XXXXXX");
	int fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static struct hints *load_tmp(const char *content)
{
	write_tmp(content);
	return hints_load(tmp_path, err, sizeof(err));
}

/* The expected message with the temp file's path in front. */
static void assert_err(const char *after_path)
{
	char want[sizeof(err)];

	snprintf(want, sizeof(want), "%s%s", tmp_path, after_path);
	ck_assert_str_eq(err, want);
}

/* rdf as presentation text, compared and freed. */
static void assert_rdf_str(const ldns_rdf *rdf, const char *want)
{
	char *s = ldns_rdf2str(rdf);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

static size_t count_type(const ldns_rr_list *l, ldns_rr_type t)
{
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
	return n;
}

/* The address records of name, as text, joined by spaces. */
static void addrs_of(const char *name, char *out, size_t outlen)
{
	const ldns_rr_list *addrs = hints_addrs(h);

	out[0] = '\0';
	for (size_t i = 0; i < ldns_rr_list_rr_count(addrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(addrs, i);
		char *owner = ldns_rdf2str(ldns_rr_owner(rr));
		ck_assert_ptr_nonnull(owner);
		if (strcmp(owner, name) == 0) {
			char *a = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			ck_assert_ptr_nonnull(a);
			size_t len = strlen(out);
			snprintf(out + len, outlen - len, "%s%s", len ? " " : "", a);
			free(a);
		}
		free(owner);
	}
}

static bool has_upper(const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf);
	bool upper = false;

	ck_assert_ptr_nonnull(s);
	for (char *p = s; *p; p++)
		upper |= isupper((unsigned char)*p) != 0;
	free(s);
	return upper;
}

START_TEST(test_real_root_hints)
{
	char buf[256];

	h = hints_load(ROOT_HINTS, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	const ldns_rr_list *ns = hints_ns(h);
	const ldns_rr_list *addrs = hints_addrs(h);

	ck_assert_uint_eq(ldns_rr_list_rr_count(ns), 13);
	ck_assert_uint_eq(count_type(ns, LDNS_RR_TYPE_NS), 13);
	ck_assert_uint_eq(ldns_rr_list_rr_count(addrs), 26);
	ck_assert_uint_eq(count_type(addrs, LDNS_RR_TYPE_A), 13);
	ck_assert_uint_eq(count_type(addrs, LDNS_RR_TYPE_AAAA), 13);

	for (size_t i = 0; i < 13; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		assert_rdf_str(ldns_rr_owner(rr), ".");
		ck_assert_uint_eq(ldns_rr_ttl(rr), 3600000);
		ck_assert(!has_upper(ldns_rr_rdf(rr, 0)));
	}
	for (size_t i = 0; i < 26; i++)
		ck_assert(!has_upper(ldns_rr_owner(ldns_rr_list_rr(addrs, i))));

	assert_rdf_str(ldns_rr_rdf(ldns_rr_list_rr(ns, 0), 0), "a.root-servers.net.");
	assert_rdf_str(ldns_rr_rdf(ldns_rr_list_rr(ns, 12), 0), "m.root-servers.net.");
	addrs_of("a.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.41.0.4 2001:503:ba3e::2:30");
	addrs_of("m.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "202.12.27.33 2001:dc3::35");
}
END_TEST

START_TEST(test_syntax_error_names_line)
{
	h = load_tmp("; root hints with a bad address\n"
		     ".   3600000  NS  a.root-servers.net.\n"
		     "\n"
		     "a.root-servers.net.  3600000  A  198.41.0.999\n"
		     "a.root-servers.net.  3600000  AAAA  2001:503:ba3e::2:30\n");
	ck_assert_ptr_null(h);
	char want[128];
	snprintf(want, sizeof(want), "%s:4: ", tmp_path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s...'", err, want);
}
END_TEST

START_TEST(test_syntax_error_on_last_line_without_newline)
{
	h = load_tmp(".   3600000  NS  a.root-servers.net.\n"
		     "a.root-servers.net.  3600000  A  198.41.0.4\n"
		     "a.root-servers.net.  3600000  BOGUS  1");
	ck_assert_ptr_null(h);
	char want[128];
	snprintf(want, sizeof(want), "%s:3: ", tmp_path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s...'", err, want);
}
END_TEST

START_TEST(test_include_rejected)
{
	h = load_tmp("; hints\n$INCLUDE /etc/passwd\n");
	ck_assert_ptr_null(h);
	assert_err(":2: $INCLUDE is not supported in root hints");
}
END_TEST

START_TEST(test_no_root_ns)
{
	h = load_tmp("a.root-servers.net.  3600000  A  198.41.0.4\n"
		     "example.  3600000  NS  a.root-servers.net.\n");
	ck_assert_ptr_null(h);
	assert_err(": no NS records for the root zone '.'");
}
END_TEST

START_TEST(test_empty_file)
{
	h = load_tmp("");
	ck_assert_ptr_null(h);
	assert_err(": no NS records for the root zone '.'");
}
END_TEST

START_TEST(test_only_comments)
{
	h = load_tmp("; nothing here\n;\n\n   \n");
	ck_assert_ptr_null(h);
	assert_err(": no NS records for the root zone '.'");
}
END_TEST

/* Documented behaviour: a root server without an address is kept in the
 * NS set (the iterator resolves it like a glueless NS) and the others
 * load normally. */
START_TEST(test_ns_without_address_still_loads)
{
	char buf[128];

	h = load_tmp(".  3600000  NS  a.root-servers.net.\n"
		     ".  3600000  NS  b.root-servers.net.\n"
		     "b.root-servers.net.  3600000  A  170.247.170.2\n");
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_uint_eq(ldns_rr_list_rr_count(hints_ns(h)), 2);
	ck_assert_uint_eq(ldns_rr_list_rr_count(hints_addrs(h)), 1);
	addrs_of("a.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	addrs_of("b.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "170.247.170.2");
}
END_TEST

START_TEST(test_no_server_has_address)
{
	h = load_tmp(".  3600000  NS  a.root-servers.net.\n"
		     ".  3600000  NS  b.root-servers.net.\n"
		     "c.root-servers.net.  3600000  A  192.0.2.3\n");
	ck_assert_ptr_null(h);
	assert_err(": none of the 2 root servers has an A or AAAA record");
}
END_TEST

START_TEST(test_missing_file)
{
	h = hints_load("/nonexistent-rootwalk/root.hints", err, sizeof(err));
	ck_assert_ptr_null(h);
	ck_assert_str_eq(err, "/nonexistent-rootwalk/root.hints: cannot open root hints: "
			      "No such file or directory");
	ck_assert_ptr_null(hints_load(NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "no root hints file given");
}
END_TEST

/* $TTL and $ORIGIN apply, addresses may precede their NS, names are
 * lowercased, and everything that is not part of the root delegation is
 * dropped. */
START_TEST(test_directives_and_filtering)
{
	char buf[128];

	h = load_tmp("$TTL 518400\n"
		     "$ORIGIN root-servers.net.\n"
		     "; addresses before the NS records\n"
		     "A.ROOT-SERVERS.NET.  A  198.41.0.4\n"
		     "b  AAAA  2001:db8::b\n"
		     "   A  192.0.2.2 ; owner continued from the line above\n"
		     ".  NS  A.Root-Servers.Net.\n"
		     ".  NS  b\n"
		     ".  NS  a.root-servers.net.  ; the same as above, in other case\n"
		     "example.com.  NS  ns.example.com.  ; not the root: dropped\n"
		     "ns.example.com.  A  192.0.2.1  ; not a root server: dropped\n"
		     "a.root-servers.net.  A  198.41.0.4  ; duplicate\n"
		     "a.root-servers.net.  TXT  \"junk\"  ; not an address\n"
		     "c.root-servers.net.  A  192.0.2.3  ; not named by an NS\n"
		     "version.bind.  CH  TXT  \"x\"  ; other class\n"
		     ".  CH  NS  c.root-servers.net.  ; other class\n");
	ck_assert_msg(h != NULL, "%s", err);

	const ldns_rr_list *ns = hints_ns(h);
	ck_assert_uint_eq(ldns_rr_list_rr_count(ns), 2);
	assert_rdf_str(ldns_rr_rdf(ldns_rr_list_rr(ns, 0), 0), "a.root-servers.net.");
	assert_rdf_str(ldns_rr_rdf(ldns_rr_list_rr(ns, 1), 0), "b.root-servers.net.");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ns, 0)), 518400);

	ck_assert_uint_eq(ldns_rr_list_rr_count(hints_addrs(h)), 3);
	addrs_of("a.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "198.41.0.4");
	addrs_of("b.root-servers.net.", buf, sizeof(buf));
	ck_assert_str_eq(buf, "2001:db8::b 192.0.2.2");
}
END_TEST

START_TEST(test_null_accessors)
{
	ck_assert_ptr_null(hints_ns(NULL));
	ck_assert_ptr_null(hints_addrs(NULL));
	hints_free(NULL);
}
END_TEST

START_TEST(test_repeated_load_no_leak)
{
	for (int i = 0; i < 20; i++) {
		struct hints *x = hints_load(ROOT_HINTS, err, sizeof(err));
		ck_assert_msg(x != NULL, "%s", err);
		hints_free(x);
	}
}
END_TEST

static Suite *hints_suite(void)
{
	Suite *s = suite_create("hints");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_real_root_hints);
	tcase_add_test(tc, test_syntax_error_names_line);
	tcase_add_test(tc, test_syntax_error_on_last_line_without_newline);
	tcase_add_test(tc, test_include_rejected);
	tcase_add_test(tc, test_no_root_ns);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_only_comments);
	tcase_add_test(tc, test_ns_without_address_still_loads);
	tcase_add_test(tc, test_no_server_has_address);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directives_and_filtering);
	tcase_add_test(tc, test_null_accessors);
	tcase_add_test(tc, test_repeated_load_no_leak);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hints_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
