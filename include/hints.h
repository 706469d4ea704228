/* hints.h — root hints (named.root) loaded into the root delegation. */
#ifndef RW_HINTS_H
#define RW_HINTS_H

#include <ldns/ldns.h>
#include <stddef.h>

struct hints;

/* Load a named.root style file.  NULL on error, with a message in err
 * ("file:line: ..." where the line is known).
 *
 * What is kept: the NS records owned by "." and the A/AAAA records whose
 * owner is one of their targets; every other record in the file is
 * ignored.  Owner names and NS targets are lowercased, duplicates
 * dropped.  A root server name without any address stays in the NS set
 * (to be resolved like any glueless NS) and is logged as a warning; a
 * file with no root NS, or where no root server has an address, is an
 * error. */
struct hints *hints_load(const char *path, char *err, size_t errlen);
void hints_free(struct hints *h);

/* The root NS RRset (owner ".") and the A/AAAA RRs of those names.
 * Owned by the hints: valid until hints_free(). */
const ldns_rr_list *hints_ns(const struct hints *h);
const ldns_rr_list *hints_addrs(const struct hints *h);

#endif
