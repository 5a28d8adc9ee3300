/* im/v1 send and reply: checks what the platform checks — the
 * receive_id_type, a content that is a JSON *string* holding an object, sizes — with
 * its error codes (99992402 field validation, 230001 invalid parameter, 230025 too
 * long), and answers data.message_id. Other im paths are generic calls. */
#include "emulator/emu_im.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_http.h"

#define CONTENT_MAX (150 * 1024)
#define RECEIVE_ID_MAX 128
#define MESSAGE_ID_MAX 64
#define UUID_MAX 50

static const char *const receive_types[] = { "open_id", "user_id", "union_id", "email",
                                             "chat_id", NULL };
static const char *const msg_types[] = { "text", "post", "image", "file", "audio", "media",
                                         "sticker", "interactive", "share_chat", "share_user",
                                         "system", NULL };

static int one_of(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

static int invalid(struct emu_call *c, const char *ext) {
    char msg[160];
    snprintf(msg, sizeof msg, "Your request contains an invalid request parameter, ext=%s", ext);
    emu_call_answer(c, 400, 230001, msg);
    return -1;
}

/* The body's msg_type, content and uuid; -1 after an error answer. */
static int check_content(struct emu_call *c, const char **msg_type, const char **content) {
    const cJSON *t = emu_json_get(c->body, "msg_type"), *v = emu_json_get(c->body, "content");
    const cJSON *uuid = emu_json_get(c->body, "uuid");
    if (!cJSON_IsString(t) || !t->valuestring[0])
        return emu_call_violation(c, "msg_type", "msg_type is required");
    if (!cJSON_IsString(v))
        return emu_call_violation(c, "content", "content is required and must be a string");
    if (uuid && (!cJSON_IsString(uuid) || strlen(uuid->valuestring) > UUID_MAX))
        return emu_call_violation(c, "uuid", "uuid must be a string of at most 50 characters");
    if (!one_of(t->valuestring, msg_types)) return invalid(c, "invalid msg_type");
    if (strlen(v->valuestring) > CONTENT_MAX) {
        emu_call_answer(c, 400, 230025, "The message content exceeds the length limit");
        return -1;
    }
    cJSON *parsed = cJSON_Parse(v->valuestring);
    int object = cJSON_IsObject(parsed);
    int text_ok = strcmp(t->valuestring, "text") != 0 || cJSON_IsString(emu_json_get(parsed, "text"));
    cJSON_Delete(parsed);
    if (!object) return invalid(c, "content is not a string in json format");
    if (!text_ok) return invalid(c, "invalid message content: text wants {\"text\": \"...\"}");
    *msg_type = t->valuestring;
    *content = v->valuestring;
    return 0;
}

static int id_chars(const char *s, size_t max) {
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return n > 0 && n <= max && !s[n];
}

static int receive_id_fits(const char *type, const char *id) {
    if (strcmp(type, "open_id") == 0) return strncmp(id, "ou_", 3) == 0 && id_chars(id, 128);
    if (strcmp(type, "union_id") == 0) return strncmp(id, "on_", 3) == 0 && id_chars(id, 128);
    if (strcmp(type, "chat_id") == 0) return strncmp(id, "oc_", 3) == 0 && id_chars(id, 128);
    if (strcmp(type, "email") == 0) return strchr(id, '@') && !strchr(id, ' ');
    return 1;
}

static void answer_message(struct emu_call *c, const char *msg_type, const char *content,
                           const char *chat_id, const char *parent) {
    char id[36] = "om_", now[24];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(now, sizeof now, "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    emu_random_hex(id + 3, 16);
    cJSON *data = cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
    cJSON_AddStringToObject(data, "message_id", id);
    cJSON_AddStringToObject(data, "root_id", parent ? parent : "");
    cJSON_AddStringToObject(data, "parent_id", parent ? parent : "");
    cJSON_AddStringToObject(data, "msg_type", msg_type);
    cJSON_AddStringToObject(data, "create_time", now);
    cJSON_AddStringToObject(data, "update_time", now);
    cJSON_AddBoolToObject(data, "deleted", 0);
    cJSON_AddBoolToObject(data, "updated", 0);
    if (chat_id) cJSON_AddStringToObject(data, "chat_id", chat_id);
    cJSON *sender = cJSON_AddObjectToObject(data, "sender");
    cJSON_AddStringToObject(sender, "id", c->emu->app_id);
    cJSON_AddStringToObject(sender, "id_type", "app_id");
    cJSON_AddStringToObject(sender, "sender_type", "app");
    cJSON_AddStringToObject(sender, "tenant_key", c->tenant_key);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(data, "body"), "content", content);
}

/* Messages are sent as the bot: a tenant_access_token, not an app token. */
static int tenant_token(struct emu_call *c) {
    if (c->token_kind == EMU_TOKEN_TENANT) return 1;
    emu_call_answer(c, c->invalid_status, 99991663,
                    "Invalid access token for authorization: im wants a tenant_access_token");
    return 0;
}

static void im_send(struct emu_call *c) {
    char type[32];
    const char *msg_type, *content;
    const cJSON *rid = emu_json_get(c->body, "receive_id");
    if (!tenant_token(c)) return;
    if (emu_req_query(c->r, "receive_id_type", type, sizeof type) != 0 ||
        !one_of(type, receive_types)) {
        emu_call_violation(c, "receive_id_type", "receive_id_type must be one of open_id, "
                        "user_id, union_id, email, chat_id");
    } else if (!cJSON_IsObject(c->body)) {
        emu_call_violation(c, "body", "the body must be a JSON object");
    } else if (!cJSON_IsString(rid) || !rid->valuestring[0] ||
               strlen(rid->valuestring) > RECEIVE_ID_MAX) {
        emu_call_violation(c, "receive_id", "receive_id is required");
    } else if (!receive_id_fits(type, rid->valuestring)) {
        invalid(c, "invalid receive_id");
    } else if (check_content(c, &msg_type, &content) == 0) {
        answer_message(c, msg_type, content,
                       strcmp(type, "chat_id") == 0 ? rid->valuestring : NULL, NULL);
    }
}

static void im_reply(struct emu_call *c, const char *message_id) {
    const char *msg_type, *content;
    const cJSON *thread = emu_json_get(c->body, "reply_in_thread");
    if (!tenant_token(c)) return;
    if (strncmp(message_id, "om_", 3) != 0 || !id_chars(message_id, MESSAGE_ID_MAX)) {
        invalid(c, "invalid message_id");
    } else if (!cJSON_IsObject(c->body)) {
        emu_call_violation(c, "body", "the body must be a JSON object");
    } else if (thread && !cJSON_IsBool(thread)) {
        emu_call_violation(c, "reply_in_thread", "reply_in_thread must be a boolean");
    } else if (check_content(c, &msg_type, &content) == 0) {
        answer_message(c, msg_type, content, NULL, message_id);
    }
}

int emu_im_handle(struct emu_call *c) {
    static const char prefix[] = "/open-apis/im/v1/messages";
    const char *path = c->r->path;
    if (strcmp(c->r->method, "POST") != 0 || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return -1;
    path += sizeof prefix - 1;
    if (!*path) {
        im_send(c);
        return 0;
    }
    size_t n = strlen(path);
    if (path[0] != '/' || n < 8 || strcmp(path + n - 6, "/reply") != 0) return -1;
    char id[MESSAGE_ID_MAX + 2];
    if (n - 7 > MESSAGE_ID_MAX + 1) n = MESSAGE_ID_MAX + 8;
    snprintf(id, sizeof id, "%.*s", (int)(n - 7), path + 1);
    if (strchr(id, '/')) return -1;
    im_reply(c, id);
    return 0;
}
