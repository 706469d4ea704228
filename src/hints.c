/* hints.c — load root hints (named.root) into the root delegation.
 *
 * The file is a zone-file fragment: "." NS records naming the root
 * servers and A/AAAA records for those names.  ldns parses each record
 * (and $TTL, $ORIGIN, comments, parentheses); this module keeps only what
 * a root delegation is made of and drops the rest, so a hints file with
 * stray records cannot inject data for other names.  Names are stored in
 * lowercase (canonical) form so that callers can compare them bytewise.
 *
 * A root server name without any address is kept in the NS set (the
 * iterator can resolve it like any glueless NS name) with a warning; only
 * a file where no root server has an address at all is an error. */
#include "hints.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* named.root is about 3 KB; anything this large is not a hints file. */
#define HINTS_MAX_FILE_SIZE (1u << 20)

struct hints {
	ldns_rr_list *ns;    /* "." NS, owner and targets lowercased */
	ldns_rr_list *addrs; /* A/AAAA of the NS targets, owners lowercased */
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The whole file, with a final newline added if it lacks one.  ldns
 * counts a line when it consumes its newline, so with every line ending
 * in one, the line of a bad record is always the count minus one. */
static char *read_hints_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!fp) {
		set_err(err, errlen, "%s: cannot open root hints: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 2) {
			if (cap >= HINTS_MAX_FILE_SIZE) {
				set_err(err, errlen, "%s: root hints larger than %u bytes", path,
					HINTS_MAX_FILE_SIZE);
				goto fail;
			}
			char *nb = realloc(buf, cap + 16384);
			if (!nb) {
				set_err(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap += 16384;
		}
		size_t n = fread(buf + len, 1, cap - len - 2, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		set_err(err, errlen, "%s: cannot read root hints: %s", path, strerror(errno));
		goto fail;
	}
	if (len > 0 && buf[len - 1] != '\n')
		buf[len++] = '\n';
	buf[len] = '\0';
	fclose(fp);
	*lenp = len;
	return buf;
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

/* Parse every record of the file into *all (class IN only). */
static int parse_records(const char *path, char *text, size_t len, ldns_rr_list *all,
			 char *err, size_t errlen)
{
	uint32_t default_ttl = 3600000; /* named.root's customary TTL */
	ldns_rdf *origin = ldns_dname_new_frm_str(".");
	ldns_rdf *prev = NULL;
	int line = 1, ret = -1;
	FILE *fp = NULL;

	if (!origin) {
		set_err(err, errlen, "%s: out of memory", path);
		return -1;
	}
	fp = fmemopen(text, len, "r");
	if (!fp) {
		set_err(err, errlen, "%s: cannot read root hints: %s", path, strerror(errno));
		goto out;
	}
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &origin, &prev, &line);

		switch (st) {
		case LDNS_STATUS_OK:
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			ldns_rr_free(rr);
			continue;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			ldns_rr_free(rr);
			set_err(err, errlen, "%s:%d: $INCLUDE is not supported in root hints",
				path, line - 1);
			goto out;
		default:
			ldns_rr_free(rr);
			set_err(err, errlen, "%s:%d: %s", path, line - 1,
				ldns_get_errorstr_by_id(st));
			goto out;
		}
		if (!rr)
			continue;
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			log_detail("%s:%d: ignoring a record of class other than IN", path,
				   line - 1);
			ldns_rr_free(rr);
			continue;
		}
		if (!ldns_rr_list_push_rr(all, rr)) {
			ldns_rr_free(rr);
			set_err(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	ret = 0;
out:
	if (fp)
		fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return ret;
}

static bool is_root_ns(const ldns_rr *rr)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);

	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && ldns_rr_rd_count(rr) == 1 &&
	       ldns_rdf_size(owner) == 1 && ldns_rdf_data(owner)[0] == 0;
}

static bool is_address(const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);

	return (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && ldns_rr_rd_count(rr) == 1;
}

/* Is name the target of one of the root NS records? */
static bool is_ns_target(const ldns_rr_list *ns, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		if (ldns_dname_compare(ldns_rr_rdf(ldns_rr_list_rr(ns, i), 0), name) == 0)
			return true;
	}
	return false;
}

static size_t count_addrs_of(const ldns_rr_list *addrs, const ldns_rdf *name)
{
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(addrs); i++)
		n += ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(addrs, i)), name) == 0;
	return n;
}

/* Move rr into list unless an equal record is already there.  The rr is
 * consumed either way.  false only when out of memory. */
static bool keep_unique(ldns_rr_list *list, ldns_rr *rr)
{
	if (ldns_rr_list_contains_rr(list, rr)) {
		ldns_rr_free(rr);
		return true;
	}
	if (!ldns_rr_list_push_rr(list, rr)) {
		ldns_rr_free(rr);
		return false;
	}
	return true;
}

/* Sort the parsed records into h: root NS first (the address records may
 * come before their NS in the file), then the addresses of those names.
 * Every record of all is consumed; all is left empty. */
static int select_records(const char *path, ldns_rr_list *all, struct hints *h,
			  char *err, size_t errlen)
{
	size_t n = ldns_rr_list_rr_count(all);
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);
		if (!rr || !is_root_ns(rr))
			continue;
		ldns_rr_list_set_rr(all, NULL, i);
		ldns_dname2canonical(ldns_rr_owner(rr));
		ldns_dname2canonical(ldns_rr_rdf(rr, 0));
		if (!keep_unique(h->ns, rr))
			ok = false;
	}
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);
		if (!rr)
			continue;
		ldns_rr_list_set_rr(all, NULL, i);
		ldns_dname2canonical(ldns_rr_owner(rr));
		if (!ok || !is_address(rr) || !is_ns_target(h->ns, ldns_rr_owner(rr))) {
			ldns_rr_free(rr);
			continue;
		}
		ok = keep_unique(h->addrs, rr);
	}
	ldns_rr_list_set_rr_count(all, 0);
	if (!ok) {
		set_err(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

static bool has_address(const struct hints *h, size_t ns_index)
{
	const ldns_rdf *target = ldns_rr_rdf(ldns_rr_list_rr(h->ns, ns_index), 0);

	return count_addrs_of(h->addrs, target) > 0;
}

/* No root NS is an error, and so is a set of root servers none of which
 * has an address; a server missing its address is only warned about. */
static int check_complete(const char *path, const struct hints *h, char *err, size_t errlen)
{
	size_t n_ns = ldns_rr_list_rr_count(h->ns);
	size_t with = 0;

	if (n_ns == 0) {
		set_err(err, errlen, "%s: no NS records for the root zone '.'", path);
		return -1;
	}
	for (size_t i = 0; i < n_ns; i++)
		with += has_address(h, i);
	if (with == 0) {
		set_err(err, errlen, "%s: none of the %zu root servers has an A or AAAA record",
			path, n_ns);
		return -1;
	}
	for (size_t i = 0; i < n_ns && with < n_ns; i++) {
		if (has_address(h, i))
			continue;
		char *name = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(h->ns, i), 0));
		log_warn("%s: root server %s has no A or AAAA record; it will be resolved "
			 "through the others", path, name ? name : "(out of memory)");
		free(name);
	}
	return 0;
}

struct hints *hints_load(const char *path, char *err, size_t errlen)
{
	struct hints *h = NULL;
	ldns_rr_list *all = NULL;
	char *text = NULL;
	size_t len = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		set_err(err, errlen, "no root hints file given");
		return NULL;
	}
	text = read_hints_file(path, &len, err, errlen);
	if (!text)
		return NULL;
	h = calloc(1, sizeof(*h));
	all = ldns_rr_list_new();
	if (!h || !all || !(h->ns = ldns_rr_list_new()) || !(h->addrs = ldns_rr_list_new())) {
		set_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (len > 0 && parse_records(path, text, len, all, err, errlen) < 0)
		goto fail;
	if (select_records(path, all, h, err, errlen) < 0)
		goto fail;
	if (check_complete(path, h, err, errlen) < 0)
		goto fail;
	log_detail("%s: %zu root servers, %zu addresses", path, ldns_rr_list_rr_count(h->ns),
		   ldns_rr_list_rr_count(h->addrs));
	ldns_rr_list_free(all);
	free(text);
	return h;
fail:
	ldns_rr_list_deep_free(all);
	hints_free(h);
	free(text);
	return NULL;
}

void hints_free(struct hints *h)
{
	if (!h)
		return;
	ldns_rr_list_deep_free(h->ns);
	ldns_rr_list_deep_free(h->addrs);
	free(h);
}

const ldns_rr_list *hints_ns(const struct hints *h)
{
	return h ? h->ns : NULL;
}

const ldns_rr_list *hints_addrs(const struct hints *h)
{
	return h ? h->addrs : NULL;
}
