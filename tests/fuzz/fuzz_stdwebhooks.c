/*
 * libFuzzer target: Standard Webhooks headers and the platform event body.
 * Input: a flags byte, then lines webhook-id, webhook-timestamp,
 * webhook-signature, then the body.  With flag 1 the harness puts a valid
 * "v1,<base64>" entry in front of the fuzzed list (so the signed body
 * reaches the event parser); with flag 2 the timestamp is now.  A list
 * that verifies without the harness's entry is a forgery: abort.
 */
#include "fuzz.h"

#include <openssl/evp.h>

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define NOW 1700000000.0

static struct profile *profile;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dirs[] = { FUZZ_PROFILES_DIR, NULL };
    char *err = NULL;

    (void)argc;
    (void)argv;
    if (profile_load("demo", dirs, &profile, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    return 0;
}

/* "v1,<base64 HMAC of id.ts.body>"; the caller frees. */
static char *
sign(const char *id, const char *ts, const char *body, size_t len)
{
    unsigned char key[64], mac[EVP_MAX_MD_SIZE];
    unsigned char b64[2 * EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *k = SECRET + 6;
    int keylen = EVP_DecodeBlock(key, (const unsigned char *)k, (int)strlen(k));
    struct buf b;
    char *out;

    buf_init(&b);
    buf_printf(&b, "%s.%s.", id, ts);
    buf_add(&b, body, len);
    HMAC(EVP_sha256(), key, keylen, (const unsigned char *)b.data, b.len, mac, &maclen);
    buf_free(&b);
    EVP_EncodeBlock(b64, mac, (int)maclen);
    out = xasprintf("v1,%s", b64);
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdrs h = { .n = 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct config_workspace ws;
    struct job_resource res;
    const char *f[3], *body, *ts;
    char *copy, *reason = NULL, *delivery = NULL, *sigs = NULL, *valid = NULL;
    size_t blen;
    unsigned flags;
    enum hook_verdict v;

    if (size < 1)
        return 0;
    flags = data[0];
    copy = fuzz_fields(data + 1, size - 1, 3, f, &body, &blen);
    ts = (flags & 2) ? "1700000000" : f[1];
    memset(&ws, 0, sizeof ws);
    ws.name = "fuzz";
    ws.platform.webhook_secret = SECRET;
    if (flags & 1) {
        valid = sign(f[0], ts, body, blen);
        sigs = xasprintf("%s %s", valid, f[2]);
    } else {
        sigs = xstrdup(f[2]);
    }
    hdr_add(&h, "webhook-id", f[0]);
    hdr_add(&h, "webhook-timestamp", ts);
    hdr_add(&h, "webhook-signature", sigs);
    v = hooks_platform(&ws, profile, &hh, body, blen, NOW, &res, &delivery, &reason);
    if (reason == NULL)
        abort();
    if (!(flags & 1) && v != HOOK_UNAUTHORIZED)
        abort(); /* a forged signature verified */
    if (v == HOOK_QUEUE && res.kind == NULL)
        abort();
    if (v == HOOK_QUEUE || v == HOOK_IGNORE)
        hook_resource_free(&res);
    free(reason);
    free(delivery);
    free(sigs);
    free(valid);
    free(copy);
    return 0;
}
