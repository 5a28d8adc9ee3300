/* Webhook delivery (PROTOCOL.md §2): POSTs the event to the configured URL, plain or
 * as {"encrypt": base64(IV || AES-256-CBC)}, signed whenever an Encrypt Key is set, and
 * records the answer like an ack. A tiny HTTP/1.1 client on a bufferevent: one
 * request per connection, answers bounded, never calls back before returning. */
#include "emulator/emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "core/log.h"
#include "core/util.h"
#include "crypto/crypto.h"

#define ANSWER_MAX (1 << 20)
#define ANSWER_TIMEOUT_S 3          /* the platform's patience */

struct emu_hook {
    struct emu_hook *next;
    struct emu *emu;
    struct bufferevent *bev;
    char message_id[33];
    uint64_t started_ms;
};

static void hook_free(struct emu_hook *h) {
    struct emu_hook **pp = &h->emu->hooks;
    while (*pp && *pp != h) pp = &(*pp)->next;
    if (*pp) *pp = h->next;
    if (h->bev) bufferevent_free(h->bev);
    free(h);
}

/* Status and body of a whole or partial answer; status 0 when it does not parse. */
static int parse_answer(const char *buf, size_t len, const char **body, size_t *blen,
                        int *complete) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    int status = 0;
    char line[32];                  /* the evbuffer holds no NUL: scan a bounded copy */
    *complete = 0;
    if (!end) return 0;
    size_t n = (size_t)(end - buf) < sizeof line - 1 ? (size_t)(end - buf) : sizeof line - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
    if (sscanf(line, "HTTP/1.%*d %d", &status) != 1) return 0;
    *body = end + 4;
    *blen = len - (size_t)(*body - buf);
    const char *cl = NULL;
    for (const char *p = buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        p += *p == '\n';
        if (strncasecmp(p, "Content-Length:", 15) == 0) cl = p + 15;
    }
    if (cl) {
        size_t want = strtoul(cl, NULL, 10);
        if (*blen >= want) {
            *blen = want;
            *complete = 1;
        }
    }
    return status;
}

static void hook_finish(struct emu_hook *h, const char *error) {
    struct evbuffer *in = bufferevent_get_input(h->bev);
    size_t len = evbuffer_get_length(in), blen = 0;
    const char *buf = (const char *)evbuffer_pullup(in, -1), *body = NULL;
    int complete, status = buf ? parse_answer(buf, len, &body, &blen, &complete) : 0;
    if (!status && !error) error = "malformed answer";
    long elapsed = (long)(util_now_ms() - h->started_ms);
    if (error) log_warn(EMU_MODULE, "message_id %s: webhook: %s", h->message_id, error);
    emu_deliver_hook_done(h->emu, h->message_id, error ? 0 : status, body, blen, elapsed,
                          error);
    hook_free(h);
}

static void hook_read(struct bufferevent *bev, void *arg) {
    struct emu_hook *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in), blen;
    const char *body;
    int complete;
    if (len > ANSWER_MAX) {
        hook_finish(h, "answer too large");
        return;
    }
    if (parse_answer((const char *)evbuffer_pullup(in, -1), len, &body, &blen, &complete) &&
        complete)
        hook_finish(h, NULL);
}

static void hook_event(struct bufferevent *bev, short what, void *arg) {
    if (what & BEV_EVENT_CONNECTED) return;
    hook_finish(arg, what & BEV_EVENT_EOF       ? NULL
                     : what & BEV_EVENT_TIMEOUT ? "no answer within 3 s"
                                                : "connection failed");
}

/* The body to POST: the event itself, or {"encrypt": ...}. Caller frees. */
static char *hook_body(struct emu *emu, const char *payload, size_t len, int encrypt) {
    if (!encrypt) return strndup(payload, len);
    unsigned char key[32], iv[16];
    crypto_aes_key_derive(emu->encrypt_key, key);
    crypto_random(iv, sizeof iv);
    unsigned char *ct = malloc(len + 32);
    size_t n = 0, b64len = 4 * ((len + 32 + 2) / 3) + 1;
    char *b64 = ct ? malloc(b64len + 16) : NULL;
    if (b64) n = (size_t)crypto_aes_encrypt(key, iv, payload, len, ct);
    if (b64) {
        memcpy(b64, "{\"encrypt\":\"", 12);
        size_t m = crypto_base64_encode(ct, n, b64 + 12);
        memcpy(b64 + 12 + m, "\"}", 3);
    }
    free(ct);
    return b64;
}

static void hook_request(struct emu *emu, struct evbuffer *out, const struct evhttp_uri *uri,
                         const char *body, int sign) {
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    evbuffer_add_printf(out, "POST %s%s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                        "Content-Type: application/json; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n"
                        "User-Agent: larkgw-emulator\r\n",
                        path && *path ? path : "/", query ? "?" : "", query ? query : "",
                        evhttp_uri_get_host(uri), evhttp_uri_get_port(uri) > 0
                        ? evhttp_uri_get_port(uri) : 80, strlen(body));
    if (sign) {
        char ts[24], nonce[33], sig[65];
        snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
        emu_random_hex(nonce, 16);
        struct iovec parts[] = { { ts, strlen(ts) }, { nonce, strlen(nonce) },
                                 { emu->encrypt_key, strlen(emu->encrypt_key) },
                                 { (void *)body, strlen(body) } };
        crypto_sha256_hex_parts(parts, 4, sig);
        evbuffer_add_printf(out, "X-Lark-Request-Timestamp: %s\r\nX-Lark-Request-Nonce: %s\r\n"
                            "X-Lark-Signature: %s\r\n", ts, nonce, sig);
    }
    evbuffer_add_printf(out, "\r\n%s", body);
}

int emu_webhook_post(struct emu *emu, const char *message_id, const char *payload,
                     size_t len, int sign, int encrypt) {
    if (sign < 0) sign = emu->encrypt_key != NULL;
    if (encrypt < 0) encrypt = emu->encrypt_key != NULL;
    if ((sign || encrypt) && !emu->encrypt_key) return -1;
    struct evhttp_uri *uri = emu->webhook_url ? evhttp_uri_parse(emu->webhook_url) : NULL;
    if (!uri || !evhttp_uri_get_scheme(uri) || strcmp(evhttp_uri_get_scheme(uri), "http") ||
        !evhttp_uri_get_host(uri)) {
        log_warn(EMU_MODULE, "message_id %s: webhook URL is not http://host[:port]/path",
                 message_id);
        if (uri) evhttp_uri_free(uri);
        return -1;
    }
    struct emu_hook *h = calloc(1, sizeof *h);
    char *body = h ? hook_body(emu, payload, len, encrypt) : NULL;
    /* deferred callbacks: a failed connect must not call back before we return */
    if (body) h->bev = bufferevent_socket_new(emu->base, -1,
                                              BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!h || !body || !h->bev) {
        free(h);
        free(body);
        evhttp_uri_free(uri);
        return -1;
    }
    h->emu = emu;
    memcpy(h->message_id, message_id, sizeof h->message_id);
    h->started_ms = util_now_ms();
    h->next = emu->hooks;
    emu->hooks = h;
    hook_request(emu, bufferevent_get_output(h->bev), uri, body, sign);
    struct timeval tmo = { ANSWER_TIMEOUT_S, 0 };
    bufferevent_set_timeouts(h->bev, &tmo, &tmo);
    bufferevent_setcb(h->bev, hook_read, NULL, hook_event, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    int port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
    if (bufferevent_socket_connect_hostname(h->bev, NULL, AF_UNSPEC, evhttp_uri_get_host(uri),
                                            port) != 0) {
        log_warn(EMU_MODULE, "message_id %s: webhook: cannot connect", message_id);
        hook_free(h);
        free(body);
        evhttp_uri_free(uri);
        return -1;
    }
    log_info(EMU_MODULE, "message_id %s -> webhook (%s%s)", message_id,
             encrypt ? "encrypted" : "plain", sign ? ", signed" : "");
    free(body);
    evhttp_uri_free(uri);
    return 0;
}

void emu_webhook_free_all(struct emu *emu) {
    while (emu->hooks) hook_free(emu->hooks);
}
