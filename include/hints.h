/* hints.h — root hints (named.root) loaded into the root delegation. */
#ifndef RW_HINTS_H
#define RW_HINTS_H

#include <ldns/ldns.h>
#include <stddef.h>

struct hints;

/* Load a named.root style file.  NULL on error, with a message in err
 * ("file:line: ..." where the line is known). */
struct hints *hints_load(const char *path, char *err, size_t errlen);
void hints_free(struct hints *h);

/* The root NS RRset (owner ".") and the A/AAAA RRs of those names. */
const ldns_rr_list *hints_ns(const struct hints *h);
const ldns_rr_list *hints_addrs(const struct hints *h);

#endif
