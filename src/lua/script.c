#include "lua/script.h"

#include "base/log.h"
#include "base/util.h"
#include "lua/limits.h"
#include "lua/runtime.h"
#include "lua/sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_MAX_BYTES (16u << 20)

/* Over the cap, refuse: Lua collects garbage and, if still short, raises "not enough
 * memory" in the code that allocated, in this state only. Shrinking always succeeds. */
static void *script_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct script *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        s->mem_used -= old;
        return NULL;
    }
    if (nsize > old && s->mem_limit && s->mem_used - old + nsize > s->mem_limit) return NULL;
    void *p = ptr ? realloc(ptr, nsize) : malloc(nsize);   /* most are new: skip realloc's detour */
    if (!p) return NULL;
    s->mem_used = s->mem_used - old + nsize;
    return p;
}

static int panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    log_error("lua", "%s: unprotected error: %s", script_of(L)->name, msg ? msg : "?");
    abort();
}

static int open_protected(lua_State *L) {
    sandbox_open(L, lua_touserdata(L, 1));
    return 0;
}

static int error_text(lua_State *L) {
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* Runs the top level with new globals allowed and the load-time budget. */
static int run_top_level(struct script *s, char *err, size_t errlen) {
    lua_State *L = s->L;
    size_t len;
    char *src = util_read_file(s->path, SCRIPT_MAX_BYTES, &len);
    if (!src) {
        snprintf(err, errlen, "%s: cannot read (missing, unreadable or over 16 MiB)", s->path);
        return -1;
    }
    lua_pushcfunction(L, error_text);
    char chunkname[4096];
    snprintf(chunkname, sizeof chunkname, "@%s", s->path);
    int rc = luaL_loadbufferx(L, src, len, chunkname, "t");
    free(src);
    if (rc == LUA_OK) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
        lua_setupvalue(L, -2, 1);
        s->loading = 1;
        s->timed_out = 0;
        limits_budget_start(s, s->limits->handler_timeout_ms);
        limits_arm(L);
        rc = lua_pcall(L, 0, 0, -2);
        lua_sethook(L, NULL, 0, 0);
        s->loading = 0;
    }
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM)
            snprintf(err, errlen, "%s: not enough memory (limits.memory_mb = %d)", s->path,
                     s->limits->memory_mb);
        else
            snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_settop(L, 0);
        return -1;
    }
    lua_settop(L, 0);
    return 0;
}

struct script *script_open(const struct script_args *a, char *err, size_t errlen) {
    const char *dir = a->dir, *file = a->file;
    struct script *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    size_t plen = strlen(dir) + strlen(file) + 2;
    s->name = strdup(file);
    s->path = malloc(plen);
    if (!s->name || !s->path) goto nomem;
    snprintf(s->path, plen, "%s/%s", dir, file);
    s->limits = a->limits;
    s->lua_dir = a->lua_dir;
    s->scripts_dir = dir;
    s->store = a->store;
    s->vars = a->vars;
    s->jobs = a->jobs;
    s->mem_limit = (size_t)(a->limits->memory_mb > 0 ? a->limits->memory_mb : 0) << 20;
    s->L = lua_newstate(script_alloc, s);
    if (!s->L) goto nomem;
    *(struct script **)lua_getextraspace(s->L) = s;
    lua_atpanic(s->L, panic);
    lua_pushcfunction(s->L, open_protected);
    lua_pushlightuserdata(s->L, s);
    if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "%s: cannot open the sandbox: %s", s->path, lua_tostring(s->L, -1));
        script_close(s);
        return NULL;
    }
    if (run_top_level(s, err, errlen) < 0) {
        script_close(s);
        return NULL;
    }
    return s;
nomem:
    snprintf(err, errlen, "%s: out of memory", file);
    script_close(s);
    return NULL;
}

void script_close(struct script *s) {
    if (!s) return;
    if (s->L) lua_close(s->L);
    free(s->name);
    free(s->path);
    free(s);
}

int script_push_handler(struct script *s, const char *type, const char *name) {
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->handlers_ref);
    lua_getfield(L, -1, type);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1)) return SCRIPT_HANDLER_SPECIFIC;
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    if (name) {
        lua_pushstring(L, name);
        lua_rawget(L, -2);
        if (lua_isfunction(L, -1)) return lua_remove(L, -2), SCRIPT_HANDLER_SPECIFIC;
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "on_event");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1)) return SCRIPT_HANDLER_CATCHALL;
    lua_pop(L, 1);
    return 0;
}

void script_where(lua_State *co, char *out, size_t len) {
    const char *lib = script_of(co)->lua_dir;
    size_t n = lib ? strlen(lib) : 0;
    lua_Debug ar;
    out[0] = '\0';
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0) continue;
        if (ar.source[0] == '=') continue;  /* the sandbox's own chunks (=coroutine) */
        /* inside the Lua half of lark (lark.im...): the script line that called it */
        if (n && ar.source[0] == '@' && strncmp(ar.source + 1, lib, n) == 0) continue;
        snprintf(out, len, "%s:%d", ar.short_src, ar.currentline);
        return;
    }
}
