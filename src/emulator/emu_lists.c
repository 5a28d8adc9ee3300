/* Paged lists. Items are generated from their index, so a page is the same whenever it
 * is asked for; page_token is an opaque string that encodes the next index, and a
 * token the emulator did not hand out is refused as the platform refuses one. */
#include "emulator/emu_lists.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_http.h"

#define ITEMS_MAX 100000
#define PAGE_DEFAULT 20
#define PAGE_MAX 100

/* page_size and the start index from page_token; -1 after an error answer. */
static int page_of(struct emu_call *c, long total, long *start, long *size) {
    char v[64];
    *size = PAGE_DEFAULT;
    *start = 0;
    if (emu_req_query(c->r, "page_size", v, sizeof v) == 0) {
        char *end;
        *size = strtol(v, &end, 10);
        if (*end || *size < 1 || *size > PAGE_MAX)
            return emu_call_violation(c, "page_size", "an integer in [1, 100] expected"), -1;
    }
    if (emu_req_query(c->r, "page_token", v, sizeof v) == 0 && v[0]) {
        char *end;
        if (strncmp(v, "pt_", 3) != 0 || (*start = strtol(v + 3, &end, 16), *end)
            || *start <= 0 || *start > total)
            return emu_call_violation(c, "page_token", "not a page token this list gave"), -1;
    }
    return 0;
}

static void page_end(cJSON *data, long next, long total) {
    char token[32];
    cJSON_AddBoolToObject(data, "has_more", next < total);
    snprintf(token, sizeof token, "pt_%lx", next);
    cJSON_AddStringToObject(data, "page_token", next < total ? token : "");
}

static void chats(struct emu_call *c) {
    long total = c->emu->lists.chats, start, size;
    if (page_of(c, total, &start, &size) < 0) return;
    cJSON *data = cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
    cJSON *items = cJSON_AddArrayToObject(data, "items");
    long i = start;
    for (; i < total && i < start + size; i++) {
        char id[40], name[32];
        snprintf(id, sizeof id, "oc_emu%026ld", i + 1);
        snprintf(name, sizeof name, "chat %ld", i + 1);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "chat_id", id);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "description", "");
        cJSON_AddStringToObject(o, "owner_id", "ou_emu_owner");
        cJSON_AddStringToObject(o, "owner_id_type", "open_id");
        cJSON_AddBoolToObject(o, "external", 0);
        cJSON_AddStringToObject(o, "tenant_key", c->tenant_key);
        cJSON_AddStringToObject(o, "chat_status", "normal");
        cJSON_AddItemToArray(items, o);
    }
    page_end(data, i, total);
}

static void members(struct emu_call *c) {
    long total = c->emu->lists.members, start, size;
    if (page_of(c, total, &start, &size) < 0) return;
    cJSON *data = cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
    cJSON *items = cJSON_AddArrayToObject(data, "items");
    long i = start;
    for (; i < total && i < start + size; i++) {
        char id[40], name[32];
        snprintf(id, sizeof id, "ou_emu%026ld", i + 1);
        snprintf(name, sizeof name, "member %ld", i + 1);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "member_id_type", "open_id");
        cJSON_AddStringToObject(o, "member_id", id);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "tenant_key", c->tenant_key);
        cJSON_AddItemToArray(items, o);
    }
    cJSON_AddNumberToObject(data, "member_total", (double)total);
    page_end(data, i, total);
}

int emu_lists_handle(struct emu_call *c) {
    static const char prefix[] = "/open-apis/im/v1/chats";
    const char *path = c->r->path;
    if (strcmp(c->r->method, "GET") != 0 || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return -1;
    path += sizeof prefix - 1;
    if (!*path) {
        chats(c);
        return 0;
    }
    size_t n = strlen(path);
    static const char tail[] = "/members";
    if (path[0] != '/' || n <= sizeof tail || strcmp(path + n - (sizeof tail - 1), tail) != 0)
        return -1;
    members(c);
    return 0;
}

int emu_lists_settings(struct emu *emu, const cJSON *in, char *err, size_t errlen) {
    long chats_n = emu->lists.chats, members_n = emu->lists.members;
    if (emu_json_int(in, "chats", 0, ITEMS_MAX, &chats_n, err, errlen) < 0 ||
        emu_json_int(in, "members", 0, ITEMS_MAX, &members_n, err, errlen) < 0)
        return -1;
    emu->lists.chats = chats_n;
    emu->lists.members = members_n;
    return 0;
}
