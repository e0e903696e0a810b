/*
 * http: the daemon's HTTP server on libevent's evhttp (DESIGN §5):
 * /hooks/<workspace>/{git,platform}, /metrics, /healthz, /readyz, /status.
 * Only the libevent thread touches requests; accepted events go to the
 * queue.  Every error answer is JSON {"error": ...} and a log line.
 */
#ifndef GITSYNCD_HTTP_H
#define GITSYNCD_HTTP_H

#include <stdbool.h>

#include <event2/event.h>

#include "gitsyncd/config.h"
#include "gitsyncd/queue.h"

struct http_server;

struct cluster;

/*
 * Listen on cfg->listen (and admin_listen); errors name the address.
 * With cl (cluster mode) webhooks are committed to its database, not
 * queued here, and /readyz also wants the database.
 */
struct http_server *http_start(struct event_base *base, const struct config *cfg,
                               struct queue *q, struct cluster *cl, char **err);
/*
 * Use a new configuration (a reload): workspaces, secrets, limits,
 * profiles.  The listen addresses stay those of the start.  Returns -1
 * with *err (and changes nothing) when a profile cannot be loaded.
 */
int http_set_config(struct http_server *s, const struct config *cfg, char **err);
/* /readyz answers 200 once set. */
void http_set_ready(struct http_server *s, bool ready);
/* Close the listeners: no new connection is accepted. */
void http_stop_accepting(struct http_server *s);
void http_free(struct http_server *s);

#endif
