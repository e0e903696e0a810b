/*
 * jload: JSON text into jansson values, scanned by yajl.
 *
 * jansson's loader reads its input one byte at a time through a callback;
 * on the daemon's two hot paths (webhook bodies and platform listings) it
 * was half of all the time spent.  yajl scans the same text several times
 * as fast and hands over whole strings and numbers; jload builds the very
 * values json_loadb would have built, so the code that reads them does not
 * change.
 *
 * Same results as json_loadb(buf, len, flags, err) for the flags 0,
 * JSON_REJECT_DUPLICATES and JSON_DECODE_ANY: an object or array at the top
 * (any value with JSON_DECODE_ANY), keys in document order, the last of
 * duplicate keys kept (refused with JSON_REJECT_DUPLICATES), integers as
 * json_int_t (too big is an error), other numbers as doubles (overflow is
 * an error), strings valid UTF-8 without NUL, nesting at most 2048 deep,
 * nothing but white space after the value.  A NUL byte is refused
 * wherever it is (json_loadb takes some as the end of the text).  The error's text differs
 * (yajl's words); its line, column and position point at the fault.
 *
 * A text with a \uD800-\uDFFF escape (a surrogate, which yajl decodes
 * more loosely than the standard allows) and any other flag go to
 * json_loadb itself.
 */
#ifndef GITSYNCD_JLOAD_H
#define GITSYNCD_JLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

json_t *jload(const char *buf, size_t len, size_t flags, json_error_t *err);

/*
 * A flag of jload's own (beyond jansson's): an integer out of json_int_t's
 * range is no error; it is built as a marker instead, a string holding a
 * NUL and then the number's text, which no JSON text can produce (jload
 * refuses \u0000).  So one object of a platform's listing that holds such
 * a number is skipped on its own, not the whole listing with it.
 */
#define JLOAD_MARK_OUT_OF_RANGE 0x40000000u

/* Is v such a marker? */
bool jload_out_of_range(const json_t *v);
/*
 * The first marker in v (depth first): returns the key it is under (key
 * for v itself; NULL if there is none) and sets *text to the number as
 * written.  Pointers into v.
 */
const char *jload_find_out_of_range(const json_t *v, const char *key, const char **text);

/*
 * As jload, but build only the members on paths (NULL-terminated), and
 * all below them.  A path names members by key from the top, joined by
 * "/": "ref", "repository/full_name"; a segment "*" stands for each
 * element of an array ("commits", "*", "added" joined so reads the added
 * files of every commit).  The objects and arrays above a path are
 * built with just those members; arrays keep all their elements (scalars
 * above a path are built too, so sizes hold).  The rest of the text is
 * not built and is checked by yajl's rules only (its syntax, and the
 * nesting limit), not by jansson's (UTF-8 form, NUL, number range); a
 * key given twice there is not refused.  For a webhook body, of which a
 * reader wants a few fields.
 */
json_t *jload_only(const char *buf, size_t len, size_t flags, const char *const *paths,
                   json_error_t *err);

/*
 * From now on, make the values of each jload in a region of its own: an
 * address range of their own, given back whole when the last of them is
 * freed, instead of some 40 malloc blocks per object (a listing of 10,000
 * resources is 400,000).  Installs jansson's allocation functions, so
 * call it before threads start.  A value kept keeps its whole region (at
 * least 128 KB).  GITSYNCD_JSON_REGIONS=0 in the environment turns it off
 * (the valgrind run does, to check each value on its own).  0, or -1 if
 * the address range could not be reserved (jload then uses malloc).
 */
int jload_init(void);
/* Regions with values still alive (for tests). */
long jload_regions_live(void);

#endif
