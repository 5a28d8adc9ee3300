#include "event/envelope.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base/json_arena.h"

static const char *get_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *get_obj(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsObject(v) ? v : NULL;
}

static int fail(char *err, size_t errlen, const char *why) {
    snprintf(err, errlen, "%s", why);
    return -1;
}

static int parse_challenge(struct envelope *env, const cJSON *root, char *err, size_t errlen) {
    env->kind = ENVELOPE_CHALLENGE;
    env->challenge = get_str(root, "challenge");
    env->token = get_str(root, "token");
    if (!env->challenge) return fail(err, errlen, "missing challenge");
    return 0;
}

static int parse_v2(struct envelope *env, const cJSON *root, char *err, size_t errlen) {
    const cJSON *header = get_obj(root, "header");
    if (!header) return fail(err, errlen, "missing header");
    env->kind = ENVELOPE_V2;
    env->event_id = get_str(header, "event_id");
    env->event_type = get_str(header, "event_type");
    env->token = get_str(header, "token");
    env->tenant_key = get_str(header, "tenant_key");
    env->create_time = get_str(header, "create_time");
    if (!env->event_id || !*env->event_id) return fail(err, errlen, "missing header.event_id");
    if (!env->event_type || !*env->event_type)
        return fail(err, errlen, "missing header.event_type");
    const cJSON *event = get_obj(root, "event");
    const cJSON *message = get_obj(event, "message");
    if (message) {
        env->chat_id = get_str(message, "chat_id");
        if (strcmp(env->event_type, "im.message.receive_v1") == 0)
            env->message_id = get_str(message, "message_id");
    } else if (strncmp(env->event_type, "im.chat.", 8) == 0) {
        env->chat_id = get_str(event, "chat_id");
    }
    return 0;
}

static int parse_v1(struct envelope *env, const cJSON *root, char *err, size_t errlen) {
    const cJSON *event = get_obj(root, "event");
    env->kind = ENVELOPE_V1;
    env->event_id = get_str(root, "uuid");
    env->token = get_str(root, "token");
    env->create_time = get_str(root, "ts");
    if (!env->event_id || !*env->event_id) return fail(err, errlen, "missing uuid");
    if (!event) return fail(err, errlen, "missing event");
    env->event_type = get_str(event, "type");
    env->tenant_key = get_str(event, "tenant_key");
    env->chat_id = get_str(event, "open_chat_id");
    if (!env->event_type || !*env->event_type) return fail(err, errlen, "missing event.type");
    return 0;
}

static int parse_root(struct envelope *env, const cJSON *root, char *err, size_t errlen) {
    if (!cJSON_IsObject(root)) return fail(err, errlen, "envelope is not a JSON object");
    const char *type = get_str(root, "type");
    const char *schema = get_str(root, "schema");
    if (type && strcmp(type, "url_verification") == 0) return parse_challenge(env, root, err, errlen);
    if (schema) {
        if (strcmp(schema, "2.0") != 0) return fail(err, errlen, "unknown schema");
        return parse_v2(env, root, err, errlen);
    }
    if (type && strcmp(type, "event_callback") == 0) return parse_v1(env, root, err, errlen);
    return fail(err, errlen, "missing schema");
}

int envelope_parse(struct envelope *env, const char *json, size_t len, char *err, size_t errlen) {
    memset(env, 0, sizeof *env);
    struct json_arena *arena;
    cJSON *root = json_arena_parse(json, len, &arena);
    if (!root) return fail(err, errlen, "malformed JSON");
    if (parse_root(env, root, err, errlen) < 0) {
        json_arena_free(arena);
        memset(env, 0, sizeof *env);
        return -1;
    }
    env->root = root;
    env->arena = arena;
    return 0;
}

void envelope_free(struct envelope *env) {
    json_arena_free(env->arena);
    env->arena = NULL;
    env->root = NULL;
}

void envelope_move(struct envelope *to, struct envelope *from) {
    *to = *from;
    memset(from, 0, sizeof *from);
}
