#include "event/handler_name.h"

#include <stdlib.h>
#include <string.h>

/* Types the rule cannot name: schema 1.0 events carry the Go SDK's names, and the two
 * callbacks keep theirs. Mirrors the non-rule rows of tests/data/event-handler-names.tsv. */
static const struct { const char *type, *name; } aliases[] = {
    { "add_bot", "on_p1_add_bot_v1" },
    { "add_user_to_chat", "on_p1_user_in_out_chat_v1" },
    { "app_open", "on_p1_app_open_v6" },
    { "app_status_change", "on_p1_app_status_changed_v6" },
    { "app_uninstalled", "on_p1_app_uninstalled_v6" },
    { "chat_disband", "on_p1_chat_disband_v1" },
    { "contact_scope_change", "on_p1_contact_scope_changed_v3" },
    { "dept_add", "on_p1_department_changed_v3" },
    { "group_setting_update", "on_p1_group_setting_updated_v1" },
    { "leave_approvalV2", "on_p1_leave_approval_v4" },
    { "message", "on_p1_message_receive_v1" },
    { "message_read", "on_p1_message_read_v1" },
    { "order_paid", "on_p1_order_paid_v6" },
    { "out_approval", "on_p1_out_approval_v4" },
    { "p2p_chat_create", "on_p1_p2p_chat_created_v1" },
    { "remedy_approval", "on_p1_remedy_approval_v4" },
    { "remove_bot", "on_p1_remove_add_bot_v1" },
    { "shift_approval", "on_p1_shift_approval_v4" },
    { "third_party_meeting_room_event_created", "on_p1_third_party_meeting_room_changed_v1" },
    { "trip_approval", "on_p1_trip_approval_v4" },
    { "user_add", "on_p1_user_changed_v3" },
    { "user_status_change", "on_p1_user_status_changed_v3" },
    { "work_approval", "on_p1_work_approval_v4" },
    { "card.action.trigger", "on_p2_card_action_trigger" },
    { "card.action.legacy", "on_p2_card_action_legacy" },
    { "url.preview.get", "on_p2_card_url_preview_get" },
};

static int copy_out(const char *name, char *out, size_t outlen) {
    size_t n = strlen(name);
    if (n >= outlen) return -1;
    memcpy(out, name, n + 1);
    return (int)n;
}

/* True when next begins with seg followed by '_' ("message" then "message_read_v1"). */
static int segment_repeats(const char *seg, size_t seglen, const char *next) {
    return strncmp(next, seg, seglen) == 0 && next[seglen] == '_';
}

static int rule_name(const char *type, char *out, size_t outlen) {
    const char *seg = strchr(type, '.');
    if (!seg || !seg[1]) return -1;
    seg++;
    size_t n = 0;
    static const char prefix[] = "on_p2";
    if (outlen < sizeof prefix) return -1;
    memcpy(out, prefix, sizeof prefix - 1);
    n = sizeof prefix - 1;
    while (*seg) {
        const char *dot = strchr(seg, '.');
        size_t seglen = dot ? (size_t)(dot - seg) : strlen(seg);
        if (seglen == 0) return -1;
        if (!(dot && segment_repeats(seg, seglen, dot + 1))) {
            if (n + 1 + seglen >= outlen) return -1;
            out[n++] = '_';
            memcpy(out + n, seg, seglen);
            n += seglen;
        }
        seg = dot ? dot + 1 : seg + seglen;
        if (dot && !*seg) return -1;
    }
    out[n] = '\0';
    return (int)n;
}

int handler_name(const char *event_type, char *out, size_t outlen) {
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].type, event_type) == 0) return copy_out(aliases[i].name, out, outlen);
    return rule_name(event_type, out, outlen);
}

#define CACHE_BUCKETS 256
/* Types come from authenticated platform traffic, but bound the cache anyway. */
#define CACHE_MAX 4096

struct cached_name {
    struct cached_name *next;
    const char *name;   /* NULL: no conventional name; else points into type's buffer */
    char type[];
};

struct handler_names {
    struct cached_name *buckets[CACHE_BUCKETS];
    size_t count;
    char scratch[HANDLER_NAME_MAX];
};

struct handler_names *handler_names_new(void) { return calloc(1, sizeof(struct handler_names)); }

void handler_names_free(struct handler_names *c) {
    if (!c) return;
    for (size_t i = 0; i < CACHE_BUCKETS; i++)
        while (c->buckets[i]) {
            struct cached_name *e = c->buckets[i];
            c->buckets[i] = e->next;
            free(e);
        }
    free(c);
}

static unsigned hash_str(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

const char *handler_names_get(struct handler_names *c, const char *event_type) {
    unsigned b = hash_str(event_type) % CACHE_BUCKETS;
    for (struct cached_name *e = c->buckets[b]; e; e = e->next)
        if (strcmp(e->type, event_type) == 0) return e->name;
    int n = handler_name(event_type, c->scratch, sizeof c->scratch);
    if (c->count >= CACHE_MAX) return n < 0 ? NULL : c->scratch;
    size_t tlen = strlen(event_type) + 1;
    struct cached_name *e = malloc(sizeof *e + tlen + (n < 0 ? 0 : (size_t)n + 1));
    if (!e) return n < 0 ? NULL : c->scratch;
    memcpy(e->type, event_type, tlen);
    e->name = NULL;
    if (n >= 0) {
        memcpy(e->type + tlen, c->scratch, (size_t)n + 1);
        e->name = e->type + tlen;
    }
    e->next = c->buckets[b];
    c->buckets[b] = e;
    c->count++;
    return e->name;
}
