/*
 * Shared parts of the libFuzzer targets (request headers come from
 * tests/hook-headers.h): splitting an input into newline-separated fields,
 * and signing a body the way a Git host or a Standard Webhooks sender
 * does, so that a target can reach the parser behind a signature check as
 * well as the check itself.
 */
#ifndef GITSYNCD_FUZZ_H
#define GITSYNCD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gitsyncd/hooks.h"
#include "gitsyncd/util.h"

#include "../hook-headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Cut the first nfields newline-terminated fields off data into fields[]
 * (NUL-terminated copies in one allocation, returned for the caller to
 * free); *rest and *restlen are what follows.  Missing fields are "".
 */
static char *
fuzz_fields(const uint8_t *data, size_t size, size_t nfields,
            const char **fields, const char **rest, size_t *restlen)
{
    char *copy = xmalloc(size + nfields + 1), *p = copy;
    size_t i, off = 0, n;
    const uint8_t *nl;

    for (i = 0; i < nfields; i++) {
        nl = off < size ? memchr(data + off, '\n', size - off) : NULL;
        n = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
        memcpy(p, data + off, n);
        p[n] = '\0';
        fields[i] = p;
        p += n + 1;
        off += n + (nl != NULL ? 1 : 0);
    }
    *rest = (const char *)data + off;
    *restlen = size - off;
    return copy;
}

/* prefix + hex HMAC of body under key; the caller frees. */
static char *
fuzz_hmac_hex(const EVP_MD *md, const char *key, const char *body, size_t len,
              const char *prefix)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    size_t plen = strlen(prefix);
    char *out;

    HMAC(md, key, (int)strlen(key), (const unsigned char *)body, len, mac, &n);
    out = xmalloc(plen + 2 * n + 1);
    memcpy(out, prefix, plen);
    for (i = 0; i < n; i++)
        snprintf(out + plen + 2 * i, 3, "%02x", mac[i]);
    out[plen + 2 * n] = '\0';
    return out;
}

#endif
