/*
 * profile: how one platform's REST API maps onto kinds of resources
 * (etc/profiles/<name>.yaml, described in doc/gitsyncd-profile.5).
 */
#ifndef GITSYNCD_PROFILE_H
#define GITSYNCD_PROFILE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

enum profile_paging {
    PAGING_NONE,   /* one request returns everything */
    PAGING_OFFSET, /* limit + offset query parameters */
    PAGING_PAGE,   /* page number + page size parameters */
    PAGING_CURSOR, /* a cursor from the previous answer */
    PAGING_LINK,   /* RFC 8288 Link: <...>; rel="next" */
};

enum profile_type {
    PTYPE_ANY,
    PTYPE_STRING,
    PTYPE_INTEGER,
    PTYPE_NUMBER,
    PTYPE_BOOLEAN,
    PTYPE_OBJECT,
    PTYPE_ARRAY,
};

/* A field that holds another resource's platform id. */
struct profile_ref {
    char *field; /* on the platform: "modelId" */
    char *as;    /* in Git: "model" (holds the slug) */
    char *kind;  /* the kind it points to: "model" */
};

/* A field the YAML file may or must have. */
struct profile_field {
    char *name;
    enum profile_type type;
    bool required;
    bool nullable;
};

/*
 * What one kind of write (create or update) accepts, in the platform's
 * field names ("modelId", not "model").  Without a list every field of the
 * document is sent, as before profiles could say.
 */
struct profile_write {
    bool restricted;     /* true when the profile lists the fields */
    char **fields;       /* the fields the API accepts in this write */
    size_t nfields;
    char **required;     /* create only: fields the API requires */
    size_t nrequired;
};

struct profile_kind {
    char *name;          /* "model" */
    char *folder;        /* "models" */
    char *collection;    /* path under the base URL: "/models" */
    char *item;          /* "/models/{id}" */
    char *update_method; /* "PATCH" or "PUT" */
    bool can_delete;
    char *items;         /* where the list is in an answer: "data", or NULL for a bare array */
    enum profile_paging paging;
    int page_size;
    char *limit_param;   /* "limit" */
    char *offset_param;  /* "offset" */
    char *page_param;    /* "page" */
    char *cursor_param;  /* "cursor" */
    char *next_cursor;   /* field of the answer holding the next cursor */
    char *has_more;      /* field of the answer saying more pages exist */
    char *slug_query;    /* query parameter to look up by slug, or NULL */
    char *id_field;      /* "id" */
    char *slug_field;    /* "slug" */
    char **drop;         /* server-managed fields, never in Git */
    size_t ndrop;
    struct profile_ref *refs;
    size_t nrefs;
    char **order;        /* field order in canonical YAML */
    size_t norder;
    struct profile_field *fields; /* validation */
    size_t nfields;
    struct profile_write create;  /* what a POST accepts */
    struct profile_write update;  /* what update_method accepts */
};

struct profile {
    char *name;
    char *path;
    char *slug_pattern;      /* POSIX ERE; default ^[a-z0-9][a-z0-9-]{0,99}$ */
    regex_t *slug_re;        /* slug_pattern compiled once (profile_load), or NULL */
    int rate_limit_requests; /* client-side limit: requests per period; 0 = none */
    long long rate_limit_period_ms;
    /* audit log, optional */
    char *audit_path;        /* "/audit", or NULL */
    char *audit_after_param; /* "after" */
    char *audit_items;       /* "data" */
    /* platform change events: where the event names things (JSON pointers) */
    char *event_kind;        /* "/data/kind" */
    char *event_id;          /* "/data/id" */
    char *event_slug;        /* "/data/slug" */
    char *event_action;      /* "/data/action" */
    char *event_actor_name;  /* "/data/actor/name" */
    char *event_actor_email; /* "/data/actor/email" */
    char *event_seq;         /* "/data/seq" */
    struct profile_kind *kinds;
    size_t nkinds;
};

/*
 * Load a profile by name (searched in dirs, a NULL-terminated list, then
 * $GITSYNCD_PROFILE_PATH and the installed profiles directory) or by path
 * (anything containing a '/' or ending in .yaml).  Errors read
 * "file:line:col: message".
 */
int profile_load(const char *name_or_path, const char *const *dirs,
                 struct profile **out, char **err);
/* Parse a profile from a buffer; name stands for the file in messages. */
int profile_parse(const char *name, const char *data, size_t len,
                  struct profile **out, char **err);
void profile_free(struct profile *p);

/* The kind called name, or whose folder is folder; NULL if none. */
const struct profile_kind *profile_kind_by_name(const struct profile *p,
                                                const char *name);
const struct profile_kind *profile_kind_by_folder(const struct profile *p,
                                                  const char *folder);
/* True if w lets a write carry field (always, when w lists nothing). */
bool profile_write_allows(const struct profile_write *w, const char *field);
/* The Git name of a platform field: a reference's "as" name, else field. */
const char *profile_git_name(const struct profile_kind *k, const char *field);
/* "string", "integer", ... */
const char *profile_type_name(enum profile_type t);
/* True if slug is valid for this profile. */
bool profile_slug_valid(const struct profile *p, const char *slug);

#endif
