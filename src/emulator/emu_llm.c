/* A language model as most LLM gateways and local model servers offer it:
 * POST /v1/chat/completions, OpenAI-compatible, plain or streamed as Server-Sent
 * Events, so bots that call a model run offline. The answer is a scripted text or an
 * echo of the last user message, split into tokens on word boundaries and sent one per
 * delay_ms; failures on request: HTTP 500 with an OpenAI error body, a stream cut in
 * the middle, or no answer at all. Streamed and delayed answers take the connection
 * over from net/http_server and close it when done (Connection: close). */
#include "emulator/emu_llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"
#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_http.h"

#define CALLS_MAX 1000
#define TOKENS_MAX 100000
#define ANSWER_MAX (1 << 20)
#define DELAY_MAX_MS 60000

enum llm_fail { LLM_FAIL_NONE, LLM_FAIL_500, LLM_FAIL_CUT, LLM_FAIL_HANG };
static const char *const fail_names[] = { "none", "500", "cut", "hang", NULL };
enum llm_framing { LLM_FRAMING_CHUNKED, LLM_FRAMING_CLOSE };
static const char *const framing_names[] = { "chunked", "close", NULL };

struct llm_stream {                 /* one answer going out on a taken connection */
    struct llm_stream *next;
    struct emu_llm *llm;
    struct bufferevent *bev;
    struct event *timer;
    cJSON *tokens;                  /* array of strings */
    int ntokens, sent, stop_at;     /* stop_at < ntokens: cut there */
    int stream, chunked, closing;
    long call_id;
    char model[128], id[40];
};

struct emu_llm {
    struct emu *emu;
    char *answer;                   /* NULL: echo the last user message */
    char *key;                      /* NULL: any Authorization */
    long delay_ms, fail_count;      /* fail_count 0: every call fails that way */
    enum llm_fail fail;
    enum llm_framing framing;
    cJSON *calls;
    int ncalls, nstreams;
    long next_id;
    struct llm_stream *streams;
};

static cJSON *call_find(struct emu_llm *l, long id) {
    for (cJSON *it = l->calls->child; it; it = it->next)
        if ((long)emu_json_get(it, "id")->valuedouble == id) return it;
    return NULL;
}

static void call_set(struct emu_llm *l, long id, const char *outcome, int status, int sent) {
    cJSON *rec = call_find(l, id);
    if (!rec) return;
    if (outcome)
        cJSON_ReplaceItemInObjectCaseSensitive(rec, "outcome", cJSON_CreateString(outcome));
    if (status)
        cJSON_ReplaceItemInObjectCaseSensitive(rec, "status", cJSON_CreateNumber(status));
    if (sent >= 0)
        cJSON_ReplaceItemInObjectCaseSensitive(rec, "tokens_sent", cJSON_CreateNumber(sent));
}

static long call_record(struct emu_llm *l, const struct emu_req *r, const cJSON *body) {
    cJSON *rec = cJSON_CreateObject();
    const char *auth = emu_req_header(r, "Authorization");
    long id = ++l->next_id;
    cJSON_AddNumberToObject(rec, "id", (double)id);
    const cJSON *model = emu_json_get(body, "model"), *messages = emu_json_get(body, "messages");
    cJSON_AddItemToObject(rec, "model", model ? cJSON_Duplicate(model, 1) : cJSON_CreateNull());
    cJSON_AddBoolToObject(rec, "stream", cJSON_IsTrue(emu_json_get(body, "stream")));
    cJSON_AddItemToObject(rec, "messages", messages ? cJSON_Duplicate(messages, 1)
                                                    : cJSON_CreateNull());
    cJSON_AddItemToObject(rec, "authorization",
                          auth ? cJSON_CreateString(auth) : cJSON_CreateNull());
    cJSON_AddStringToObject(rec, "peer", r->peer);
    cJSON_AddNumberToObject(rec, "received_ms", (double)emu_wall_ms());
    cJSON_AddNumberToObject(rec, "status", 0);
    cJSON_AddStringToObject(rec, "outcome", "pending");
    cJSON_AddNumberToObject(rec, "tokens_sent", 0);
    cJSON_AddItemToArray(l->calls, rec);
    if (++l->ncalls > CALLS_MAX) {
        cJSON_Delete(cJSON_DetachItemFromArray(l->calls, 0));
        l->ncalls--;
    }
    return id;
}

static void reply_error(struct emu_req *r, int status, const char *type, const char *msg) {
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    emu_http_reply_json(r, status, o);
}

/* The text to answer: the scripted one, or the last user message's content. */
static const char *answer_text(const struct emu_llm *l, const cJSON *messages) {
    if (l->answer) return l->answer;
    const cJSON *last = NULL;
    for (const cJSON *m = messages->child; m; m = m->next) {
        const cJSON *role = emu_json_get(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) last = m;
    }
    const cJSON *content = emu_json_get(last, "content");
    return cJSON_IsString(content) ? content->valuestring : "";
}

/* Tokens on word boundaries: each is the spaces before a word and the word. */
static cJSON *tokenize(const char *text) {
    cJSON *out = cJSON_CreateArray();
    int n = 0;
    for (const char *p = text; *p && n < TOKENS_MAX; n++) {
        size_t len = strspn(p, " \t\n");
        len += strcspn(p + len, " \t\n");
        char *tok = strndup(p, len);
        cJSON_AddItemToArray(out, cJSON_CreateString(tok ? tok : ""));
        free(tok);
        p += len;
    }
    return out;
}

/* The messages must be a non-empty list of {role, content}; NULL when fine. */
static const char *bad_request(const cJSON *body) {
    const cJSON *messages = emu_json_get(body, "messages"), *stream = emu_json_get(body, "stream");
    if (!cJSON_IsObject(body)) return "the body must be a JSON object";
    if (!cJSON_IsString(emu_json_get(body, "model"))) return "you must provide a model parameter";
    if (stream && !cJSON_IsBool(stream)) return "'stream' must be a boolean";
    if (!cJSON_IsArray(messages) || !messages->child) return "'messages' must be a non-empty array";
    for (const cJSON *m = messages->child; m; m = m->next)
        if (!cJSON_IsObject(m) || !cJSON_IsString(emu_json_get(m, "role")) || !emu_json_get(m, "content"))
            return "each message needs 'role' and 'content'";
    return NULL;
}

static void stream_free(struct llm_stream *s) {
    struct llm_stream **pp = &s->llm->streams;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (*pp) {
        *pp = s->next;
        s->llm->nstreams--;
    }
    if (s->timer) event_free(s->timer);
    if (s->bev) bufferevent_free(s->bev);
    cJSON_Delete(s->tokens);
    free(s);
}

static void put(struct llm_stream *s, const char *data, size_t len) {
    struct evbuffer *out = bufferevent_get_output(s->bev);
    if (s->chunked) evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    if (s->chunked) evbuffer_add(out, "\r\n", 2);
}

/* One SSE record "data: {chunk}\n\n"; content NULL: the closing chunk. */
static void put_event(struct llm_stream *s, const char *content, int first) {
    cJSON *o = cJSON_CreateObject(), *choice = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(o, "created", (double)(emu_wall_ms() / 1000));
    cJSON_AddStringToObject(o, "model", s->model);
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
    if (first) cJSON_AddStringToObject(delta, "role", "assistant");
    if (content) cJSON_AddStringToObject(delta, "content", content);
    if (content) cJSON_AddNullToObject(choice, "finish_reason");
    else cJSON_AddStringToObject(choice, "finish_reason", "stop");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), choice);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t len = json ? strlen(json) : 0;
    char *rec = malloc(len + 9);
    if (rec) {
        memcpy(rec, "data: ", 6);
        memcpy(rec + 6, json ? json : "", len);
        memcpy(rec + 6 + len, "\n\n", 3);
        put(s, rec, len + 8);
    }
    free(rec);
    free(json);
}

/* The whole answer as one chat.completion object. */
static char *whole_answer(const struct llm_stream *s) {
    size_t total = 0;
    for (const cJSON *t = s->tokens->child; t; t = t->next) total += strlen(t->valuestring);
    char *text = malloc(total + 1), *p = text;
    if (!text) return NULL;
    for (const cJSON *t = s->tokens->child; t; t = t->next) {
        size_t n = strlen(t->valuestring);
        memcpy(p, t->valuestring, n);
        p += n;
    }
    *p = '\0';
    cJSON *o = cJSON_CreateObject(), *choice = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)(emu_wall_ms() / 1000));
    cJSON_AddStringToObject(o, "model", s->model);
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", text);
    cJSON_AddStringToObject(choice, "finish_reason", "stop");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), choice);
    cJSON *usage = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(usage, "completion_tokens", s->ntokens);
    free(text);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

/* Flushes what is queued, then closes (the write callback frees the stream). */
static void finish(struct llm_stream *s, const char *outcome) {
    call_set(s->llm, s->call_id, outcome, 0, s->sent);
    s->closing = 1;
    if (s->timer) event_del(s->timer);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) stream_free(s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct llm_stream *s = arg;
    if (!s->stream) {                   /* the whole answer, after the tokens' time */
        char *json = whole_answer(s);
        size_t len = json ? strlen(json) : 0;
        evbuffer_add_printf(bufferevent_get_output(s->bev), "Content-Length: %zu\r\n\r\n", len);
        s->sent = s->ntokens;
        if (s->stop_at < s->ntokens) len /= 2;
        bufferevent_write(s->bev, json ? json : "", len);
        free(json);
        finish(s, s->stop_at < s->ntokens ? "cut" : "done");
        return;
    }
    if (s->sent >= s->stop_at && s->stop_at < s->ntokens) {
        finish(s, "cut");               /* no [DONE], no last chunk: the stream just ends */
        return;
    }
    if (s->sent < s->ntokens) {
        put_event(s, cJSON_GetArrayItem(s->tokens, s->sent)->valuestring, 0);
        s->sent++;
    }
    if (s->sent >= s->ntokens) {
        put_event(s, NULL, 0);
        put(s, "data: [DONE]\n\n", 14);
        if (s->chunked) bufferevent_write(s->bev, "0\r\n\r\n", 5);
        finish(s, "done");
        return;
    }
    long ms = s->llm->delay_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(s->timer, &tv);
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct llm_stream *s = arg;
    if (s->closing) stream_free(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    struct llm_stream *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    if (!s->closing) {
        call_set(s->llm, s->call_id, "client_closed", 0, s->sent);
        log_info(EMU_MODULE, "llm: the client closed its connection after %d token(s)", s->sent);
    }
    stream_free(s);
}

/* Takes the connection and starts the answer: head now, tokens from a timer. */
static void start_stream(struct emu_req *r, long call_id, const cJSON *body, cJSON *tokens,
                         enum llm_fail fail) {
    struct emu_llm *l = r->emu->llm;
    struct llm_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->timer = evtimer_new(r->emu->base, on_tick, s))) {
        free(s);
        cJSON_Delete(tokens);
        reply_error(r, 500, "server_error", "emulator out of memory");
        return;
    }
    s->llm = l;
    s->tokens = tokens;
    s->ntokens = cJSON_GetArraySize(tokens);
    s->stop_at = fail == LLM_FAIL_CUT ? s->ntokens / 2 : s->ntokens;
    s->stream = cJSON_IsTrue(emu_json_get(body, "stream"));
    s->chunked = s->stream && l->framing == LLM_FRAMING_CHUNKED;
    s->call_id = call_id;
    snprintf(s->model, sizeof s->model, "%s", emu_json_get(body, "model")->valuestring);
    snprintf(s->id, sizeof s->id, "chatcmpl-emu-%ld", call_id);
    s->bev = emu_http_take(r);
    s->next = l->streams;
    l->streams = s;
    l->nstreams++;
    if (!s->bev) {
        stream_free(s);
        return;
    }
    bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    call_set(l, call_id, fail == LLM_FAIL_HANG ? "hang" : "streaming", 200, -1);
    if (fail == LLM_FAIL_HANG) return;  /* held until the client or the emulator goes */
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache\r\n"
                        "Content-Type: %s\r\n%s", s->stream ? "text/event-stream"
                                                            : "application/json",
                        s->chunked ? "Transfer-Encoding: chunked\r\n\r\n"
                                   : s->stream ? "\r\n" : "");
    if (s->stream) put_event(s, "", 1);
    long ms = s->stream ? l->delay_ms : l->delay_ms * s->ntokens;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(s->timer, &tv);
}

static enum llm_fail next_failure(struct emu_llm *l) {
    enum llm_fail f = l->fail;
    if (f == LLM_FAIL_NONE) return f;
    if (l->fail_count > 0 && --l->fail_count == 0) l->fail = LLM_FAIL_NONE;
    return f;
}

static int authorized(const struct emu_llm *l, const struct emu_req *r) {
    const char *auth = emu_req_header(r, "Authorization");
    return !l->key || (auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
                       strcmp(auth + 7, l->key) == 0);
}

void emu_llm_handle(struct emu_req *r) {
    struct emu_llm *l = r->emu->llm;
    cJSON *body = cJSON_ParseWithLength(r->body, r->body_len);
    const char *why = bad_request(body);
    long id = call_record(l, r, body);
    if (why) {
        call_set(l, id, "bad_request", 400, -1);
        reply_error(r, 400, "invalid_request_error", why);
    } else if (!authorized(l, r)) {
        call_set(l, id, "unauthorized", 401, -1);
        reply_error(r, 401, "invalid_request_error", "Incorrect API key provided.");
    } else {
        enum llm_fail fail = next_failure(l);
        cJSON *tokens = tokenize(answer_text(l, emu_json_get(body, "messages")));
        log_info(EMU_MODULE, "llm %s: %d token(s), %s, failure %s", r->peer,
                 cJSON_GetArraySize(tokens), cJSON_IsTrue(emu_json_get(body, "stream")) ? "streamed"
                                                                               : "whole",
                 fail_names[fail]);
        if (fail == LLM_FAIL_500) {
            cJSON_Delete(tokens);
            call_set(l, id, "error_500", 500, -1);
            reply_error(r, 500, "server_error", "The server had an error while processing "
                        "your request.");
        } else {
            start_stream(r, id, body, tokens, fail);
        }
    }
    cJSON_Delete(body);
}

static int choice(const cJSON *v, const char *const *names) {
    for (int i = 0; cJSON_IsString(v) && names[i]; i++)
        if (strcmp(v->valuestring, names[i]) == 0) return i;
    return -1;
}

/* Checks every key of POST /_emu/llm, then applies them all; 0 or -1 with err. */
static int apply(struct emu_llm *l, const cJSON *in, char *err, size_t len) {
    static const char *const keys[] = { "answer", "delay_ms", "fail", "fail_count", "framing",
                                        "key", NULL };
    const cJSON *answer = emu_json_get(in, "answer"), *key = emu_json_get(in, "key");
    long delay = l->delay_ms, count = l->fail_count;
    int fail = emu_json_get(in, "fail") ? choice(emu_json_get(in, "fail"), fail_names) : (int)l->fail;
    int framing = emu_json_get(in, "framing") ? choice(emu_json_get(in, "framing"), framing_names) : (int)l->framing;
    for (const cJSON *it = in->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= strcmp(it->string, keys[i]) == 0;
        if (!known) return snprintf(err, len, "unknown key '%.64s'", it->string), -1;
    }
    if (emu_json_int(in, "delay_ms", 0, DELAY_MAX_MS, &delay, err, len) < 0 ||
        emu_json_int(in, "fail_count", 0, 1000000, &count, err, len) < 0)
        return -1;
    if (fail < 0) return snprintf(err, len, "'fail' must be none, 500, cut or hang"), -1;
    if (framing < 0) return snprintf(err, len, "'framing' must be chunked or close"), -1;
    if ((answer && !cJSON_IsNull(answer) && !cJSON_IsString(answer)) ||
        (cJSON_IsString(answer) && strlen(answer->valuestring) > ANSWER_MAX))
        return snprintf(err, len, "'answer' must be a string (up to 1 MiB) or null"), -1;
    if (key && !cJSON_IsNull(key) && !cJSON_IsString(key))
        return snprintf(err, len, "'key' must be a string or null"), -1;
    if (answer) {
        free(l->answer);
        l->answer = cJSON_IsString(answer) ? strdup(answer->valuestring) : NULL;
    }
    if (key) {
        free(l->key);
        l->key = cJSON_IsString(key) ? strdup(key->valuestring) : NULL;
    }
    l->delay_ms = delay;
    l->fail_count = count;
    l->fail = (enum llm_fail)fail;
    l->framing = (enum llm_framing)framing;
    return 0;
}

static cJSON *settings(const struct emu_llm *l) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "answer", l->answer ? cJSON_CreateString(l->answer)
                                                 : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "delay_ms", (double)l->delay_ms);
    cJSON_AddStringToObject(o, "fail", fail_names[l->fail]);
    cJSON_AddNumberToObject(o, "fail_count", (double)l->fail_count);
    cJSON_AddStringToObject(o, "framing", framing_names[l->framing]);
    cJSON_AddBoolToObject(o, "key", l->key != NULL);
    cJSON_AddNumberToObject(o, "streams_open", l->nstreams);
    return o;
}

/* GET /_emu/llm: settings, open streams and the calls; POST: settings; DELETE: calls. */
void emu_llm_control(struct emu_req *r) {
    struct emu_llm *l = r->emu->llm;
    char err[160];
    if (strcmp(r->method, "GET") == 0) {
        cJSON *o = settings(l);
        cJSON_AddItemToObject(o, "calls", cJSON_Duplicate(l->calls, 1));
        emu_http_reply_json(r, 200, o);
    } else if (strcmp(r->method, "POST") == 0) {
        cJSON *in = cJSON_ParseWithLength(r->body, r->body_len);
        if (!cJSON_IsObject(in)) emu_http_reply_error(r, 400, "the body must be a JSON object");
        else if (apply(l, in, err, sizeof err)) emu_http_reply_error(r, 400, "%s", err);
        else emu_http_reply_json(r, 200, settings(l));
        cJSON_Delete(in);
    } else if (strcmp(r->method, "DELETE") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "cleared", l->ncalls);
        cJSON_Delete(l->calls);
        l->calls = cJSON_CreateArray();
        l->ncalls = 0;
        emu_http_reply_json(r, 200, o);
    } else {
        emu_http_reply_error(r, 405, "method %s not allowed on %s", r->method, r->path);
    }
}

int emu_llm_new(struct emu *emu) {
    struct emu_llm *l = calloc(1, sizeof *l);
    if (!l || !(l->calls = cJSON_CreateArray())) {
        free(l);
        return -1;
    }
    l->emu = emu;
    l->delay_ms = 20;
    emu->llm = l;
    return 0;
}

void emu_llm_free(struct emu *emu) {
    struct emu_llm *l = emu->llm;
    if (!l) return;
    while (l->streams) stream_free(l->streams);
    cJSON_Delete(l->calls);
    free(l->answer);
    free(l->key);
    free(l);
    emu->llm = NULL;
}
