/*
 * httpconn: the open HTTP connections of one event loop, kept within
 * bounds that libevent's evhttp does not enforce by itself.
 *
 * - A deadline per request: a connection that has not delivered a whole
 *   request within request_timeout of its opening (or of its previous
 *   request) is shut down, however slowly it keeps sending; evhttp's own
 *   timeout only bounds the wait for each read.
 * - A cap: past max_connections open connections, a new one is closed at
 *   once and counted (gitsyncd_connections_refused_total).
 * - Accept errors (EMFILE, ENFILE, ENOBUFS) pause the listener for a
 *   moment instead of spinning on a socket that stays readable.
 *
 * Everything here runs on the loop's own thread, except httpconn_new and
 * httpconn_free, which run while the loop is not running.
 */
#ifndef GITSYNCD_HTTPCONN_H
#define GITSYNCD_HTTPCONN_H

#include <stdbool.h>

#include <event2/event.h>
#include <event2/http.h>

struct httpconn;

/* The connection table of the loop base; NULL if libevent refuses a timer. */
struct httpconn *httpconn_new(struct event_base *base);
/* Set the deadline (ms) and the cap; on the loop's thread once it runs. */
void httpconn_set_limits(struct httpconn *c, long long timeout_ms, int max);
/* Take the connections of http (evhttp_set_bevcb) into the table. */
void httpconn_attach(struct httpconn *c, struct evhttp *http);
/* Pause the listener of bound on accept errors instead of retrying at once. */
void httpconn_listener(struct httpconn *c, struct evhttp_bound_socket *bound);
/* Before the listeners are closed: no pause may end after that. */
void httpconn_forget_listeners(struct httpconn *c);
/* A whole request arrived on req's connection: its deadline starts again. */
void httpconn_received(struct httpconn *c, struct evhttp_request *req);
/* True if req's connection belongs to the table of c. */
bool httpconn_owns(const struct httpconn *c, struct evhttp_request *req);
/* Release the table; after every evhttp attached to it is freed. */
void httpconn_free(struct httpconn *c);
/* Send libevent's own log lines to ours, under the flood guard. */
void httpconn_route_libevent_log(void);

#endif
