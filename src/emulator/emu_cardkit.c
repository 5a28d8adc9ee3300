/* Cards: card entities (cardkit v1: create, streaming element content,
 * settings, full update), interactive messages that carry a card, and PATCH of a sent
 * card message. The platform's checks: sequence strictly increasing per card, element
 * ids, update_multi, 30 KB cards, 10 operations/s per card entity and 5 updates/s per
 * message (99991400). Every card and card message is kept so tests read the final text
 * through GET /_emu/cards and GET /_emu/card_messages. */
#include "emulator/emu_cardkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_http.h"
#include "emulator/emu_im.h"

#define CARDS_MAX 4096                  /* then the oldest card is forgotten */
#define MSGS_MAX 4096
#define CARD_MAX_BYTES (30 * 1024)
#define CARD_RATE 10                    /* operations per second per card entity */
#define MSG_RATE 5                      /* PATCH per second per message */
#define OPS_KEPT 2000                   /* op times kept per card for the records */
#define ID_MAX 64

/* Codes from the platform's cardkit documentation, except the two marked. */
#define CODE_INVALID 10002
#define CODE_BAD_CARD 200220
#define CODE_NO_CARD 200740
#define CODE_TOO_BIG 200860
#define CODE_NO_MULTI 300302
#define CODE_NO_ELEMENT 300305          /* the emulator's choice */
#define CODE_NOT_STREAMING 300309       /* the emulator's choice */
#define CODE_NOT_OWNER 300311
#define CODE_SEQUENCE 300317
#define CODE_RATE 99991400

struct rate {                           /* the last n accepted operations, a ring */
    uint64_t at[CARD_RATE];
    int pos;
};

struct card {
    struct card *next;
    char id[24], message_id[ID_MAX], tenant_key[EMU_TENANT_KEY_MAX + 1];
    cJSON *json;                        /* the card JSON as it is now */
    long sequence, ops, refused;
    struct rate rate;
    cJSON *ops_ms;                      /* times of accepted operations, epoch ms */
    uint64_t created_ms, updated_ms;
};

struct card_msg {
    struct card_msg *next;
    char id[ID_MAX], card_id[24], tenant_key[EMU_TENANT_KEY_MAX + 1];
    cJSON *content;                     /* the card JSON; NULL for an entity (card_id) */
    long updates, refused;
    struct rate rate;
};

struct emu_cards {
    struct card *cards;                 /* newest first */
    struct card_msg *msgs;
    int ncards, nmsgs;
    unsigned long long next_id;
};

/* 1 and the operation counted, or 0 when n operations already fell in the last second. */
static int rate_take(struct rate *r, int n, uint64_t now) {
    if (r->at[r->pos] && now - r->at[r->pos] < 1000) return 0;
    r->at[r->pos] = now;
    r->pos = (r->pos + 1) % n;
    return 1;
}

static int fail(struct emu_call *c, long code, const char *msg) {
    if (code == CODE_RATE) {
        emu_call_answer(c, 429, code, "request trigger frequency limit");
        return -1;
    }
    emu_call_answer(c, 400, code, msg);
    return -1;
}

static void card_free(struct card *k) {
    cJSON_Delete(k->json);
    cJSON_Delete(k->ops_ms);
    free(k);
}

static void msg_free(struct card_msg *m) {
    cJSON_Delete(m->content);
    free(m);
}

/* The lists keep CARDS_MAX and MSGS_MAX entries: the oldest (last) goes. */
static void cards_trim(struct emu_cards *s) {
    struct card **pp = &s->cards;
    if (s->ncards <= CARDS_MAX) return;
    while ((*pp)->next) pp = &(*pp)->next;
    card_free(*pp);
    *pp = NULL;
    s->ncards--;
}

static void msgs_trim(struct emu_cards *s) {
    struct card_msg **pp = &s->msgs;
    if (s->nmsgs <= MSGS_MAX) return;
    while ((*pp)->next) pp = &(*pp)->next;
    msg_free(*pp);
    *pp = NULL;
    s->nmsgs--;
}

static struct card *card_find(struct emu *emu, const char *id) {
    for (struct card *k = emu->cards->cards; k; k = k->next)
        if (strcmp(k->id, id) == 0) return k;
    return NULL;
}

static struct card_msg *msg_find(struct emu *emu, const char *id) {
    for (struct card_msg *m = emu->cards->msgs; m; m = m->next)
        if (strcmp(m->id, id) == 0) return m;
    return NULL;
}

/* element_id: 1-20 letters, digits and '_', starting with a letter. */
static int element_id_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 20 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* Checks every element_id in the tree (well formed, unique); 0 or -1 with why. */
static int check_ids(const cJSON *node, cJSON *seen, char *why, size_t len) {
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return 0;
    const cJSON *id = cJSON_IsObject(node) ? emu_json_get(node, "element_id") : NULL;
    if (id) {
        if (!cJSON_IsString(id) || !element_id_ok(id->valuestring)) {
            snprintf(why, len, "element_id must be 1-20 letters, digits or _, "
                     "starting with a letter");
            return -1;
        }
        if (emu_json_get(seen, id->valuestring)) {
            snprintf(why, len, "element_id %.40s is used twice", id->valuestring);
            return -1;
        }
        cJSON_AddTrueToObject(seen, id->valuestring);
    }
    for (const cJSON *it = node->child; it; it = it->next)
        if (check_ids(it, seen, why, len)) return -1;
    return 0;
}

static cJSON *find_element(cJSON *node, const char *id) {
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return NULL;
    const cJSON *eid = cJSON_IsObject(node) ? emu_json_get(node, "element_id") : NULL;
    if (cJSON_IsString(eid) && strcmp(eid->valuestring, id) == 0) return node;
    for (cJSON *it = node->child; it; it = it->next) {
        cJSON *found = find_element(it, id);
        if (found) return found;
    }
    return NULL;
}

static int config_flag(const cJSON *card, const char *name) {
    return cJSON_IsTrue(emu_json_get(emu_json_get(card, "config"), name));
}

/* Parses a card JSON string; NULL after an error answer. */
static cJSON *parse_card(struct emu_call *c, const cJSON *data) {
    char why[128];
    if (!cJSON_IsString(data) || !data->valuestring[0]) {
        fail(c, CODE_INVALID, "invalid param: data must be the card JSON as a string");
        return NULL;
    }
    if (strlen(data->valuestring) > CARD_MAX_BYTES) {
        fail(c, CODE_TOO_BIG, "card content exceeds limit");
        return NULL;
    }
    cJSON *card = cJSON_Parse(data->valuestring), *seen = cJSON_CreateObject();
    if (!cJSON_IsObject(card)) {
        fail(c, CODE_BAD_CARD, "failed to generate card content: not a JSON object");
    } else if (check_ids(card, seen, why, sizeof why)) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid param: %s", why);
        fail(c, CODE_INVALID, msg);
    } else if (emu_json_get(emu_json_get(card, "config"), "streaming_mode") && !config_flag(card, "update_multi")) {
        fail(c, CODE_NO_MULTI, "update_multi property is false");
    } else {
        cJSON_Delete(seen);
        return card;
    }
    cJSON_Delete(seen);
    cJSON_Delete(card);
    return NULL;
}

static int tenant_only(struct emu_call *c) {
    if (c->token_kind == EMU_TOKEN_TENANT) return 1;
    emu_call_answer(c, c->invalid_status, 99991663,
                    "Invalid access token for authorization: cards want a tenant_access_token");
    return 0;
}

static void card_touch(struct card *k, uint64_t now) {
    k->ops++;
    k->updated_ms = now;
    if (cJSON_GetArraySize(k->ops_ms) < OPS_KEPT)
        cJSON_AddItemToArray(k->ops_ms, cJSON_CreateNumber((double)now));
}

static void card_create(struct emu_call *c) {
    struct emu_cards *s = c->emu->cards;
    const cJSON *type = emu_json_get(c->body, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "card_json") != 0) {
        fail(c, CODE_INVALID, "invalid param: type must be \"card_json\"");
        return;
    }
    cJSON *json = parse_card(c, emu_json_get(c->body, "data"));
    struct card *k = json ? calloc(1, sizeof *k) : NULL;
    if (!k || !(k->ops_ms = cJSON_CreateArray())) {
        if (k) card_free(k);
        else cJSON_Delete(json);
        if (json) fail(c, 1, "emulator out of memory");
        return;
    }
    k->json = json;
    snprintf(k->id, sizeof k->id, "7%018llu", 355372766134157313ull + ++s->next_id);
    snprintf(k->tenant_key, sizeof k->tenant_key, "%s", c->tenant_key);
    k->created_ms = emu_wall_ms();
    rate_take(&k->rate, CARD_RATE, k->created_ms);
    card_touch(k, k->created_ms);
    k->next = s->cards;
    s->cards = k;
    s->ncards++;
    cards_trim(s);
    cJSON *data = cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
    cJSON_AddStringToObject(data, "card_id", k->id);
}

/* The card of an operation, its sequence checked and its rate counted; NULL after an
 * error answer. */
static struct card *card_op(struct emu_call *c, const char *id) {
    struct card *k = card_find(c->emu, id);
    const cJSON *seq = emu_json_get(c->body, "sequence");
    if (!k) {
        fail(c, CODE_NO_CARD, "card entity does not exist");
        return NULL;
    }
    if (strcmp(k->tenant_key, c->tenant_key) != 0) {
        fail(c, CODE_NOT_OWNER, "the current application does not have permission to "
             "update this card");
        return NULL;
    }
    if (!cJSON_IsNumber(seq) || seq->valuedouble != floor(seq->valuedouble) ||
        seq->valuedouble < 1 || seq->valuedouble > 2147483647.0) {
        fail(c, CODE_INVALID, "invalid param: sequence must be an integer in [1, 2147483647]");
        return NULL;
    }
    if ((long)seq->valuedouble <= k->sequence) {
        fail(c, CODE_SEQUENCE, "the sequence number for operating on the card did not "
             "increment");
        return NULL;
    }
    if (!rate_take(&k->rate, CARD_RATE, emu_wall_ms())) {
        k->refused++;
        fail(c, CODE_RATE, NULL);
        return NULL;
    }
    k->sequence = (long)seq->valuedouble;
    card_touch(k, emu_wall_ms());
    return k;
}

static void element_content(struct emu_call *c, const char *card_id, const char *element) {
    const cJSON *content = emu_json_get(c->body, "content");
    if (!cJSON_IsString(content)) {
        fail(c, CODE_INVALID, "invalid param: content must be a string");
        return;
    }
    if (strlen(content->valuestring) > 100000) {
        fail(c, CODE_TOO_BIG, "card content exceeds limit");
        return;
    }
    struct card *k = card_find(c->emu, card_id);
    if (k && !config_flag(k->json, "streaming_mode")) {
        fail(c, CODE_NOT_STREAMING, "the card is not in streaming mode");
        return;
    }
    cJSON *el = k ? find_element(k->json, element) : NULL;
    if (k && !el) {
        fail(c, CODE_NO_ELEMENT, "element not found");
        return;
    }
    if (!(k = card_op(c, card_id))) return;
    cJSON *text = cJSON_CreateString(content->valuestring);
    if (emu_json_get(el, "content")) cJSON_ReplaceItemInObjectCaseSensitive(el, "content", text);
    else cJSON_AddItemToObject(el, "content", text);
    cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
}

/* Merges src's members into dst, objects recursively (settings: config, card_link). */
static void merge(cJSON *dst, const cJSON *src) {
    for (const cJSON *it = src->child; it; it = it->next) {
        cJSON *old = cJSON_GetObjectItemCaseSensitive(dst, it->string);
        if (cJSON_IsObject(old) && cJSON_IsObject(it)) merge(old, it);
        else if (old)
            cJSON_ReplaceItemInObjectCaseSensitive(dst, it->string, cJSON_Duplicate(it, 1));
        else cJSON_AddItemToObject(dst, it->string, cJSON_Duplicate(it, 1));
    }
}

static void card_settings(struct emu_call *c, const char *card_id) {
    const cJSON *v = emu_json_get(c->body, "settings");
    cJSON *set = cJSON_IsString(v) ? cJSON_Parse(v->valuestring) : NULL;
    if (!cJSON_IsObject(set)) {
        fail(c, CODE_INVALID, "invalid param: settings must be a JSON object as a string");
    } else if (emu_json_get(emu_json_get(set, "config"), "update_multi") &&
               !cJSON_IsTrue(emu_json_get(emu_json_get(set, "config"), "update_multi"))) {
        fail(c, CODE_NO_MULTI, "update_multi property is false");
    } else {
        struct card *k = card_op(c, card_id);
        if (k) {
            if (!emu_json_get(k->json, "config")) cJSON_AddObjectToObject(k->json, "config");
            const cJSON *cfg = emu_json_get(set, "config"), *link = emu_json_get(set, "card_link");
            if (cJSON_IsObject(cfg))
                merge(cJSON_GetObjectItemCaseSensitive(k->json, "config"), cfg);
            if (link) {
                cJSON_DeleteItemFromObjectCaseSensitive(k->json, "card_link");
                cJSON_AddItemToObject(k->json, "card_link", cJSON_Duplicate(link, 1));
            }
            cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
        }
    }
    cJSON_Delete(set);
}

static void card_update(struct emu_call *c, const char *card_id) {
    const cJSON *card = emu_json_get(c->body, "card");
    if (!cJSON_IsObject(card) || !cJSON_IsString(emu_json_get(card, "type")) ||
        strcmp(emu_json_get(card, "type")->valuestring, "card_json") != 0) {
        fail(c, CODE_INVALID, "invalid param: card must be {\"type\": \"card_json\", \"data\"}");
        return;
    }
    cJSON *json = parse_card(c, emu_json_get(card, "data"));
    struct card *k = json ? card_op(c, card_id) : NULL;
    if (!k) {
        cJSON_Delete(json);
        return;
    }
    cJSON_Delete(k->json);
    k->json = json;
    cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
}

/* /open-apis/cardkit/v1/cards[/{id}[/settings | /elements/{eid}/content]] */
static int cardkit(struct emu_call *c, const char *rest) {
    static const char el[] = "/elements/", ct[] = "/content";
    char id[24], element[24];
    const char *m = c->r->method, *tail;
    if (!*rest) {
        if (strcmp(m, "POST") != 0) return -1;
        if (tenant_only(c)) card_create(c);
        return 0;
    }
    size_t n = rest[0] == '/' ? strcspn(rest + 1, "/") : 0;
    if (n < 1 || n >= sizeof id) return -1;
    snprintf(id, sizeof id, "%.*s", (int)n, rest + 1);
    tail = rest + 1 + n;
    size_t e = strncmp(tail, el, sizeof el - 1) == 0 ? strcspn(tail + sizeof el - 1, "/") : 0;
    int content = e >= 1 && e < sizeof element &&
                  strcmp(tail + sizeof el - 1 + e, ct) == 0;
    if (content) snprintf(element, sizeof element, "%.*s", (int)e, tail + sizeof el - 1);
    if (strcmp(m, "PUT") == 0 && !*tail) {
        if (tenant_only(c)) card_update(c, id);
    } else if (strcmp(m, "PATCH") == 0 && strcmp(tail, "/settings") == 0) {
        if (tenant_only(c)) card_settings(c, id);
    } else if (strcmp(m, "PUT") == 0 && content) {
        if (tenant_only(c)) element_content(c, id, element);
    } else {
        return -1;
    }
    return 0;
}

static void msg_remember(struct emu_call *c, const char *card_id, const cJSON *content) {
    const cJSON *mid = emu_json_get(emu_json_get(c->answer, "data"), "message_id");
    const cJSON *code = emu_json_get(c->answer, "code");
    struct emu_cards *s = c->emu->cards;
    struct card_msg *m;
    if (!cJSON_IsNumber(code) || code->valuedouble != 0 || !cJSON_IsString(mid) ||
        !(m = calloc(1, sizeof *m)))
        return;
    snprintf(m->id, sizeof m->id, "%s", mid->valuestring);
    snprintf(m->card_id, sizeof m->card_id, "%s", card_id ? card_id : "");
    snprintf(m->tenant_key, sizeof m->tenant_key, "%s", c->tenant_key);
    m->content = content ? cJSON_Duplicate(content, 1) : NULL;
    m->next = s->msgs;
    s->msgs = m;
    s->nmsgs++;
    msgs_trim(s);
    struct card *k = card_id ? card_find(c->emu, card_id) : NULL;
    if (k) snprintf(k->message_id, sizeof k->message_id, "%s", m->id);
}

/* An interactive send or reply: the card is checked here, the message by emu_im.c; a
 * card that went out is remembered for PATCH and the records. */
static int interactive(struct emu_call *c) {
    const cJSON *type = emu_json_get(c->body, "msg_type"), *content = emu_json_get(c->body, "content");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "interactive") != 0 ||
        !cJSON_IsString(content) || c->token_kind != EMU_TOKEN_TENANT)
        return -1;
    cJSON *card = cJSON_Parse(content->valuestring);
    const cJSON *card_id = emu_json_get(emu_json_get(card, "data"), "card_id");
    struct card *k = NULL;
    int rc = 0, entity = cJSON_IsString(emu_json_get(card, "type")) &&
                 strcmp(emu_json_get(card, "type")->valuestring, "card") == 0;
    if (!cJSON_IsObject(card)) {
        cJSON_Delete(card);
        return -1;                      /* emu_im.c answers what is wrong */
    }
    if (strlen(content->valuestring) > CARD_MAX_BYTES)
        fail(c, 230025, "The message content exceeds the length limit");
    else if (entity && (!cJSON_IsString(card_id) || !(k = card_find(c->emu, card_id->valuestring))))
        fail(c, CODE_NO_CARD, "card entity does not exist");
    else if (k && strcmp(k->tenant_key, c->tenant_key) != 0)
        fail(c, CODE_NOT_OWNER, "the current application does not have permission to use "
             "this card");
    else if (k && k->message_id[0])
        fail(c, 230001, "Your request contains an invalid request parameter, ext=card entity "
             "already sent");
    else if ((rc = emu_im_handle(c)) == 0)
        msg_remember(c, k ? k->id : NULL, entity ? NULL : card);
    cJSON_Delete(card);
    return rc;
}

/* Whether the card a message holds now declares update_multi. */
static int msg_multi(struct emu *emu, const struct card_msg *m) {
    const struct card *k = m->content ? NULL : card_find(emu, m->card_id);
    return config_flag(m->content ? m->content : k ? k->json : NULL, "update_multi");
}

/* PATCH /open-apis/im/v1/messages/{id} {"content": "<card JSON>"}; takes card over. */
static void msg_patch(struct emu_call *c, struct card_msg *m, cJSON *card, size_t len) {
    if (!cJSON_IsObject(card)) {
        fail(c, 230001, "Your request contains an invalid request parameter, ext=content is "
             "not a card JSON string");
    } else if (len > CARD_MAX_BYTES) {
        fail(c, 230025, "The message content exceeds the length limit");
    } else if (!m || strcmp(m->tenant_key, c->tenant_key) != 0) {
        fail(c, 230001, "Your request contains an invalid request parameter, ext=not a card "
             "message sent by this app");
    } else if (!msg_multi(c->emu, m) || !config_flag(card, "update_multi")) {
        fail(c, 230001, "Your request contains an invalid request parameter, ext=the card "
             "must declare config.update_multi = true, before and after");
    } else if (!rate_take(&m->rate, MSG_RATE, emu_wall_ms())) {
        m->refused++;
        fail(c, CODE_RATE, NULL);
    } else {
        cJSON_Delete(m->content);
        m->content = card;
        m->card_id[0] = '\0';
        m->updates++;
        cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
        return;
    }
    cJSON_Delete(card);
}

int emu_cardkit_handle(struct emu_call *c) {
    static const char cards[] = "/open-apis/cardkit/v1/cards";
    static const char msgs[] = "/open-apis/im/v1/messages";
    const char *path = c->r->path;
    if (strncmp(path, cards, sizeof cards - 1) == 0)
        return cardkit(c, path + sizeof cards - 1);
    if (strncmp(path, msgs, sizeof msgs - 1) != 0) return -1;
    path += sizeof msgs - 1;
    if (strcmp(c->r->method, "POST") == 0) return interactive(c);
    char id[ID_MAX];
    if (strcmp(c->r->method, "PATCH") != 0 || path[0] != '/' || strlen(path) >= sizeof id ||
        strchr(path + 1, '/'))
        return -1;
    snprintf(id, sizeof id, "%s", path + 1);
    if (!tenant_only(c)) return 0;
    const cJSON *content = emu_json_get(c->body, "content");
    msg_patch(c, msg_find(c->emu, id),
              cJSON_IsString(content) ? cJSON_Parse(content->valuestring) : NULL,
              cJSON_IsString(content) ? strlen(content->valuestring) : 0);
    return 0;
}

static cJSON *card_record(const struct card *k) {
    cJSON *o = cJSON_CreateObject(), *texts = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "card_id", k->id);
    cJSON_AddStringToObject(o, "message_id", k->message_id);
    cJSON_AddStringToObject(o, "tenant_key", k->tenant_key);
    cJSON_AddBoolToObject(o, "streaming_mode", config_flag(k->json, "streaming_mode"));
    cJSON_AddNumberToObject(o, "sequence", (double)k->sequence);
    cJSON_AddNumberToObject(o, "ops", (double)k->ops);
    cJSON_AddNumberToObject(o, "refused", (double)k->refused);
    cJSON_AddItemToObject(o, "ops_ms", cJSON_Duplicate(k->ops_ms, 1));
    cJSON_AddNumberToObject(o, "created_ms", (double)k->created_ms);
    cJSON_AddNumberToObject(o, "updated_ms", (double)k->updated_ms);
    /* the text of every element that has an id, for tests to read */
    cJSON *stack[64];
    int n = 0;
    stack[n++] = k->json;
    while (n) {
        cJSON *node = stack[--n];
        const cJSON *id = emu_json_get(node, "element_id"), *text = emu_json_get(node, "content");
        if (cJSON_IsString(id) && cJSON_IsString(text) && !emu_json_get(texts, id->valuestring))
            cJSON_AddStringToObject(texts, id->valuestring, text->valuestring);
        for (cJSON *it = node->child; it && n < 64; it = it->next)
            if (cJSON_IsObject(it) || cJSON_IsArray(it)) stack[n++] = it;
    }
    cJSON_AddItemToObject(o, "texts", texts);
    cJSON_AddItemToObject(o, "card", cJSON_Duplicate(k->json, 1));
    return o;
}

static cJSON *msg_record(const struct card_msg *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message_id", m->id);
    cJSON_AddItemToObject(o, "card_id", m->card_id[0] ? cJSON_CreateString(m->card_id)
                                                      : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "card", m->content ? cJSON_Duplicate(m->content, 1)
                                                : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "updates", (double)m->updates);
    cJSON_AddNumberToObject(o, "refused", (double)m->refused);
    return o;
}

/* GET|DELETE /_emu/cards[?card_id=ID], GET|DELETE /_emu/card_messages[?message_id=ID]:
 * oldest first. */
void emu_cardkit_control(struct emu_req *r) {
    struct emu_cards *s = r->emu->cards;
    int is_cards = strcmp(r->path, "/_emu/cards") == 0;
    char want[ID_MAX] = "";
    if (!is_cards && strcmp(r->path, "/_emu/card_messages") != 0) {
        emu_http_reply_error(r, 404, "no such control endpoint: %s", r->path);
        return;
    }
    emu_req_query(r, is_cards ? "card_id" : "message_id", want, sizeof want);
    if (strcmp(r->method, "DELETE") == 0) {
        int n = is_cards ? s->ncards : s->nmsgs;
        if (is_cards) {
            while (s->cards) { struct card *k = s->cards; s->cards = k->next; card_free(k); }
            s->ncards = 0;
        } else {
            while (s->msgs) { struct card_msg *m = s->msgs; s->msgs = m->next; msg_free(m); }
            s->nmsgs = 0;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "cleared", n);
        emu_http_reply_json(r, 200, o);
        return;
    }
    if (strcmp(r->method, "GET") != 0) {
        emu_http_reply_error(r, 405, "method %s not allowed on %s", r->method, r->path);
        return;
    }
    cJSON *out = cJSON_CreateArray();
    if (is_cards) {
        for (struct card *k = s->cards; k; k = k->next)
            if (!want[0] || strcmp(want, k->id) == 0)
                cJSON_InsertItemInArray(out, 0, card_record(k));
    } else {
        for (struct card_msg *m = s->msgs; m; m = m->next)
            if (!want[0] || strcmp(want, m->id) == 0)
                cJSON_InsertItemInArray(out, 0, msg_record(m));
    }
    emu_http_reply_json(r, 200, out);
}

int emu_cards_new(struct emu *emu) {
    return (emu->cards = calloc(1, sizeof *emu->cards)) ? 0 : -1;
}

void emu_cards_free(struct emu *emu) {
    struct emu_cards *s = emu->cards;
    if (!s) return;
    while (s->cards) { struct card *k = s->cards; s->cards = k->next; card_free(k); }
    while (s->msgs) { struct card_msg *m = s->msgs; s->msgs = m->next; msg_free(m); }
    free(s);
    emu->cards = NULL;
}
