/* lark.api.upload and lark.api.download: files through the OpenAPI. An upload is one
 * multipart/form-data body built once in C (net/multipart) after its size is checked
 * against limits.upload_max_mb; the answer is the decoded JSON, as for lark.api.post.
 * A download answers the raw bytes and a headers table, bounded by max_bytes (default
 * limits.download_max_mb, at most 100 MiB); the bytes become a Lua string, so they are
 * billed to the script's memory like any other value (over it: nil, err). */
#include "lua/bind.h"
#include "lua/sched.h"
#include "lua/script.h"
#include "lua/runtime.h"
#include "net/multipart.h"
#include "openapi/openapi.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)
#define FIELDS_MAX 32
#define DOWNLOAD_CAP_MB 100          /* the platform's own bound on a resource */
#define UPLOAD_DEFAULT_MB 30
#define DOWNLOAD_DEFAULT_MB 20

struct download_wait {
    struct sched_task *t;
    struct openapi_call *call;
    int ref;                         /* the bytes as a string in the registry; LUA_NOREF: failed */
    char content_type[128], disposition[512];
    int code, http_status;
    char msg[256], log_id[128];
};

static const char *string_field(lua_State *L, int t, const char *key, int required,
                                const char *what, size_t *len) {
    int type = lua_getfield(L, t, key);
    if (type == LUA_TNIL && !required) return NULL;
    if (type != LUA_TSTRING)
        bind_api_error(L, "%s.%s: string expected, got %s", what, key, luaL_typename(L, -1));
    return lua_tolstring(L, -1, len);  /* stays on the stack */
}

/* fields = {name = value}: strings or numbers, read raw (no script code runs). */
static size_t read_fields(lua_State *L, int opts, struct multipart_field *f, size_t *bytes) {
    size_t n = 0;
    if (lua_getfield(L, opts, "fields") == LUA_TNIL) return 0;
    int t = lua_gettop(L);
    if (!lua_istable(L, t)) bind_api_error(L, "option 'fields': table expected");
    luaL_checkstack(L, 2 * FIELDS_MAX + 8, "fields");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int vt = lua_type(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER))
            bind_api_error(L, "option 'fields': string keys and string or number values expected");
        if (n == FIELDS_MAX) bind_api_error(L, "option 'fields': more than %d", FIELDS_MAX);
        lua_pushvalue(L, -2);                 /* the key, anchored below the value */
        lua_insert(L, -2);
        f[n].value = luaL_tolstring(L, -1, &f[n].value_len);
        lua_remove(L, -2);                    /* the value itself; its text stays */
        f[n].name = lua_tostring(L, -2);
        *bytes += f[n].value_len + strlen(f[n].name);
        n++;
        lua_pushvalue(L, -3);                 /* the iteration key on top, for lua_next, */
        lua_remove(L, -4);                    /* leaving the name and the value anchored */
    }
    return n;
}

static void read_file(lua_State *L, int opts, struct multipart_file *file) {
    if (lua_getfield(L, opts, "file") != LUA_TTABLE)
        bind_api_error(L, "option 'file': table {field=, name=, data=, content_type=} expected");
    int t = lua_gettop(L);
    file->field = string_field(L, t, "field", 1, "file", NULL);
    file->filename = string_field(L, t, "name", 0, "file", NULL);
    file->data = string_field(L, t, "data", 1, "file", &file->len);
    file->content_type = string_field(L, t, "content_type", 0, "file", NULL);
}

/* The body, with a boundary found in no value (a clash is redrawn). */
static char *build_body(const struct multipart_field *f, size_t n,
                        const struct multipart_file *file, size_t *len, char *ctype,
                        size_t ctlen, int *err) {
    char boundary[MULTIPART_BOUNDARY_LEN + 1];
    char *body = NULL;
    for (int tries = 0; tries < 4 && !body; tries++) {
        multipart_boundary(boundary);
        body = multipart_encode(boundary, f, n, file, len, err);
        if (*err != MULTIPART_E_BOUNDARY) break;
    }
    if (body && multipart_content_type(boundary, ctype, ctlen) < 0) {
        free(body);
        body = NULL;
        *err = MULTIPART_E_INVAL;
    }
    return body;
}

static size_t limit_bytes(int mb, int def) { return (size_t)(mb > 0 ? mb : def) * MIB; }

/* lark.api.upload(path, {fields = {...}, file = {field, name, data, content_type}, ...}) */
static int api_upload(lua_State *L) {
    static const char *const extra[] = { "fields", "file", NULL };
    luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    struct openapi_req req;
    struct sched_task *t = bind_api_begin(L, "POST", lua_tostring(L, 1), 2, extra, &req);
    struct multipart_field fields[FIELDS_MAX];
    struct multipart_file file;
    size_t bytes = 0, nfields = read_fields(L, 2, fields, &bytes);
    read_file(L, 2, &file);
    size_t max = limit_bytes(t->script->limits->upload_max_mb, UPLOAD_DEFAULT_MB);
    if (bytes + file.len > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "upload of %zu bytes exceeds limits.upload_max_mb (%zu bytes)",
                 bytes + file.len, max);
        return bind_api_fail(L, OPENAPI_E_TOOBIG, msg);
    }
    if (!sched_io(t->sched)->api) return bind_api_not_configured(L);
    char ctype[MULTIPART_CTYPE_MAX];
    int err;
    char *body = build_body(fields, nfields, &file, &req.body_len, ctype, sizeof ctype, &err);
    if (!body && err == MULTIPART_E_INVAL)
        return bind_api_error(L, "option 'file': field must not be empty, content_type "
                              "must be one line");
    if (!body)
        return bind_api_fail(L, OPENAPI_E_TRANSPORT, err == MULTIPART_E_NOMEM ? "out of memory"
                             : "no multipart boundary found outside the data");
    req.body = body;
    req.body_owned = 1;
    req.content_type = ctype;
    return bind_api_start(L, t, &req);
}

/* Runs in the resumed coroutine; w is freed before anything here may raise. */
static int push_download(lua_State *co, void *arg) {
    struct download_wait w = *(struct download_wait *)arg;
    free(arg);
    if (w.ref == LUA_NOREF) {
        lua_pushnil(co);
        bind_api_push_err(co, w.code, w.http_status, w.msg, w.log_id);
        return 2;
    }
    lua_rawgeti(co, LUA_REGISTRYINDEX, w.ref);
    luaL_unref(co, LUA_REGISTRYINDEX, w.ref);
    lua_createtable(co, 0, 2);
    lua_pushstring(co, w.content_type);
    lua_setfield(co, -2, "content_type");
    lua_pushstring(co, w.disposition);
    lua_setfield(co, -2, "content_disposition");
    return 2;
}

static void cancel_download(void *arg) {
    struct download_wait *w = arg;
    openapi_call_cancel(w->call);
    free(w);
}

static int bytes_to_ref(lua_State *L) {
    const struct openapi_raw *raw = lua_touserdata(L, 1);
    lua_pushlstring(L, raw->body, raw->len);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

/* The bytes become a Lua string here, on the script's main thread under pcall: a
 * download larger than the script's memory allows fails that call only. */
static void on_download(void *arg, const struct openapi_raw *raw, const struct openapi_error *err) {
    struct download_wait *w = arg;
    w->call = NULL;
    if (raw) {
        lua_State *L = w->t->script->L;
        int top = lua_gettop(L);
        lua_pushcfunction(L, bytes_to_ref);
        lua_pushlightuserdata(L, (void *)raw);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            w->ref = (int)lua_tointeger(L, -1);
        } else {
            w->code = OPENAPI_E_TOOBIG;
            snprintf(w->msg, sizeof w->msg, "the download does not fit in the script's memory "
                     "(limits.memory_mb)");
        }
        lua_settop(L, top);
        snprintf(w->content_type, sizeof w->content_type, "%s", raw->content_type);
        snprintf(w->disposition, sizeof w->disposition, "%s", raw->disposition);
    } else {
        w->code = err->code;
        w->http_status = err->http_status;
        snprintf(w->msg, sizeof w->msg, "%s", err->msg);
        snprintf(w->log_id, sizeof w->log_id, "%s", err->log_id);
    }
    sched_wake(w->t);
}

/* max_bytes: a positive integer up to the cap, else the configured default. */
static size_t read_max_bytes(lua_State *L, int opts, size_t def) {
    if (!opts || lua_getfield(L, opts, "max_bytes") == LUA_TNIL) return def;
    lua_Integer n = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (n <= 0 || n > (lua_Integer)DOWNLOAD_CAP_MB * MIB)
        bind_api_error(L, "option 'max_bytes': an integer in [1, %d MiB] expected",
                       DOWNLOAD_CAP_MB);
    lua_pop(L, 1);
    return (size_t)n;
}

/* lark.api.download(path [, {query=, max_bytes=, tenant_key=, timeout=, token=}]) */
static int api_download(lua_State *L) {
    static const char *const extra[] = { "max_bytes", NULL };
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    int opts = lua_istable(L, 2) ? 2 : 0;
    struct openapi_req req;
    struct sched_task *t = bind_api_begin(L, "GET", lua_tostring(L, 1), opts, extra, &req);
    if (opts && lua_getfield(L, opts, "body") != LUA_TNIL)
        return bind_api_error(L, "option 'body': a download sends none");
    req.max_response = read_max_bytes(L, opts, limit_bytes(t->script->limits->download_max_mb,
                                                           DOWNLOAD_DEFAULT_MB));
    if (!sched_io(t->sched)->api) return bind_api_not_configured(L);
    struct download_wait *w = calloc(1, sizeof *w);
    if (!w) return bind_api_fail(L, OPENAPI_E_TRANSPORT, "out of memory");
    w->t = t;
    w->ref = LUA_NOREF;
    w->call = openapi_request_raw(sched_io(t->sched)->api, &req, on_download, w);
    if (!w->call) {
        free(w);
        return bind_api_fail(L, OPENAPI_E_TRANSPORT, "out of memory");
    }
    return sched_suspend(L, &(struct sched_wait){ push_download, cancel_download, w });
}

void bind_files_open(lua_State *L) {
    lua_pushcfunction(L, api_upload);
    lua_setfield(L, -2, "upload");
    lua_pushcfunction(L, api_download);
    lua_setfield(L, -2, "download");
}
