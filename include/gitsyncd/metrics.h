/*
 * metrics: the Prometheus metrics of DESIGN §8 (prefix gitsyncd_), safe to
 * update from any thread, rendered in the text exposition format 0.0.4.
 * Labels are given as name/value string pairs ending with NULL:
 *
 *     metrics_inc("commits_total", 1, "workspace", ws, NULL);
 */
#ifndef GITSYNCD_METRICS_H
#define GITSYNCD_METRICS_H

/* Set up the registry (build_info, process start time). */
void metrics_init(const char *version);
/* Free everything (tests, exit). */
void metrics_shutdown(void);

/* Add n to a counter. */
void metrics_inc(const char *name, double n, ...);
/* Set a gauge. */
void metrics_set(const char *name, double v, ...);
/* Record one observation in a histogram. */
void metrics_observe(const char *name, double v, ...);
/* The value of a counter or gauge series (tests); 0 if absent. */
double metrics_get(const char *name, ...);

/* The whole exposition, a new string. */
char *metrics_render(void);

#endif
