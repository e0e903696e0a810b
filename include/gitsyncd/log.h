/*
 * log: one line per event on stderr, logfmt (default) or JSON, safe from any
 * thread.  A message is a fixed text plus key/value pairs:
 *
 *     log_info("commit pushed", "workspace", ws->name, "slug", slug);
 *
 * Values registered with log_add_secret() are replaced by <redacted>
 * wherever they appear, and URLs lose their user information, in every
 * value before it is escaped.  log_redact() is that same redaction for
 * every other output (/status, error answers, command output).
 */
#ifndef GITSYNCD_LOG_H
#define GITSYNCD_LOG_H

#include <stdio.h>

#include "gitsyncd/util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* Set the threshold and the format.  The default is info, logfmt. */
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
enum log_level log_get_level(void);
/* Send lines to f instead of stderr (tests). */
void log_set_stream(FILE *f);

/* "debug"/"info"/"warn"/"error" -> level; -1 if unknown. */
int log_level_parse(const char *s, enum log_level *level);
/* "logfmt"/"json" -> format; -1 if unknown. */
int log_format_parse(const char *s, enum log_format *format);
const char *log_level_name(enum log_level level);
const char *log_format_name(enum log_format format);

/* Never print this string (a token, a password); copied. */
void log_add_secret(const char *secret);
/* text with every registered secret replaced by <redacted> and every URL
 * without its "user:password@"; a new string (text NULL: ""). */
char *log_redact(const char *text);
/* Forget every registered secret (config reload). */
void log_clear_secrets(void);

/*
 * The flood guard, for lines any client can cause (refused, ignored and
 * duplicate requests, libevent's own lines): true if one may be written
 * now.  Past 50 a second (after a burst of 200) they are counted instead,
 * and the count is logged once lines flow again.
 */
bool log_flood_ok(void);

/* Write one line: msg, then key/value string pairs ending with NULL. */
void log_at(enum log_level level, const char *msg, ...);

#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__, (char *)NULL)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__, (char *)NULL)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__, (char *)NULL)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__, (char *)NULL)

#endif
