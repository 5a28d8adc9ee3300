/* Ids and the schema 2.0 im.message.receive_v1 envelope that
 * POST /_emu/events {"text": ...} turns into. */
#include "emulator/emu_envelope.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "crypto/crypto.h"
#include "emulator/emu.h"

/* Random bytes drawn from a pool refilled 4 KiB at a time: a flood makes four ids per
 * event, and each RAND_bytes call costs a getpid() system call (OpenSSL's fork check). */
static void pool_random(unsigned char *out, size_t n) {
    static unsigned char pool[4096];
    static size_t left;
    if (n > left) {
        crypto_random(pool, sizeof pool);
        left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - left, n);
    memset(pool + sizeof pool - left, 0, n);    /* handed out once */
    left -= n;
}

void emu_random_hex(char *out, size_t nbytes) {
    static const char digits[] = "0123456789abcdef";
    unsigned char buf[64];
    if (nbytes > sizeof buf) nbytes = sizeof buf;
    pool_random(buf, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = digits[buf[i] >> 4];
        out[2 * i + 1] = digits[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static void now_ms_string(char *out, size_t len) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(out, len, "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/* A string field of the request, def when absent; NULL (and err) when not a string. */
static const char *field(const cJSON *req, const char *name, const char *def, char *err,
                         size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!v || cJSON_IsNull(v)) return def;
    if (cJSON_IsString(v)) return v->valuestring;
    snprintf(err, errlen, "'%s' must be a string", name);
    return NULL;
}

static cJSON *sender(const char *open_id, const char *user_id, const char *union_id,
                     const char *tenant_key) {
    cJSON *s = cJSON_CreateObject(), *id = cJSON_AddObjectToObject(s, "sender_id");
    cJSON_AddStringToObject(id, "union_id", union_id);
    cJSON_AddStringToObject(id, "user_id", user_id);
    cJSON_AddStringToObject(id, "open_id", open_id);
    cJSON_AddStringToObject(s, "sender_type", "user");
    cJSON_AddStringToObject(s, "tenant_key", tenant_key);
    return s;
}

static cJSON *message(const char *im_id, const char *chat_id, const char *chat_type,
                      const char *text, const char *now) {
    cJSON *m = cJSON_CreateObject(), *content = cJSON_CreateObject();
    cJSON_AddStringToObject(content, "text", text);
    char *content_s = cJSON_PrintUnformatted(content);
    cJSON_Delete(content);
    cJSON_AddStringToObject(m, "message_id", im_id);
    cJSON_AddStringToObject(m, "root_id", "");
    cJSON_AddStringToObject(m, "parent_id", "");
    cJSON_AddStringToObject(m, "create_time", now);
    cJSON_AddStringToObject(m, "update_time", now);
    cJSON_AddStringToObject(m, "chat_id", chat_id);
    cJSON_AddStringToObject(m, "thread_id", "");
    cJSON_AddStringToObject(m, "chat_type", chat_type);
    cJSON_AddStringToObject(m, "message_type", "text");
    cJSON_AddStringToObject(m, "content", content_s ? content_s : "{}");
    cJSON_AddArrayToObject(m, "mentions");
    cJSON_AddStringToObject(m, "user_agent", "larkgw-emulator");
    cJSON_free(content_s);
    return m;
}

cJSON *emu_envelope_text(struct emu *emu, const cJSON *req, char *err, size_t errlen) {
    char event_id[33], im_id[36] = "om_", now[24];
    err[0] = '\0';
    const char *text = field(req, "text", NULL, err, errlen);
    const char *chat = field(req, "chat_id", "oc_emulator", err, errlen);
    const char *chat_type = field(req, "chat_type", "group", err, errlen);
    const char *tenant = field(req, "tenant_key", "tenant_emulator", err, errlen);
    const char *open_id = field(req, "open_id", "ou_emulator", err, errlen);
    const char *user_id = field(req, "user_id", "u_emulator", err, errlen);
    const char *union_id = field(req, "union_id", "on_emulator", err, errlen);
    const char *given_im = field(req, "im_message_id", NULL, err, errlen);
    const char *given_ev = field(req, "event_id", NULL, err, errlen);
    if (!text || !chat || !chat_type || !tenant || !open_id || !user_id || !union_id) {
        if (!text && !*err) snprintf(err, errlen, "'text' is required");
        return NULL;
    }
    if (*err) return NULL;
    emu_random_hex(event_id, 16);
    emu_random_hex(im_id + 3, 16);
    now_ms_string(now, sizeof now);
    cJSON *env = cJSON_CreateObject(), *h = cJSON_AddObjectToObject(env, "header");
    cJSON_AddStringToObject(env, "schema", "2.0");
    cJSON_AddStringToObject(h, "event_id", given_ev ? given_ev : event_id);
    cJSON_AddStringToObject(h, "event_type", "im.message.receive_v1");
    cJSON_AddStringToObject(h, "create_time", now);
    cJSON_AddStringToObject(h, "token", emu->verification_token ? emu->verification_token : "");
    cJSON_AddStringToObject(h, "app_id", emu->app_id);
    cJSON_AddStringToObject(h, "tenant_key", tenant);
    cJSON *ev = cJSON_AddObjectToObject(env, "event");
    cJSON_AddItemToObject(ev, "sender", sender(open_id, user_id, union_id, tenant));
    cJSON_AddItemToObject(ev, "message", message(given_im ? given_im : im_id, chat, chat_type,
                                                 text, now));
    return env;
}

const char *emu_envelope_event_id(const cJSON *env) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(env, "header");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "event_id");
    if (!cJSON_IsString(id)) id = cJSON_GetObjectItemCaseSensitive(env, "uuid");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}
