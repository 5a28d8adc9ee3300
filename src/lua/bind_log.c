#include "base/log.h"
#include "lua/bind.h"
#include "lua/sched.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <string.h>

/* A log line's text stops here (log.c caps a line at 2 KiB, this leaves room for the tag). */
#define LOG_TEXT_MAX 1536

/* Joins the arguments with tostring like print does; control characters are escaped so
 * one call is one log line whatever a user's text contains. Each argument is replaced
 * by its string first, so the text stays anchored while the buffer grows. */
static const char *join_args(lua_State *L, const char *sep) {
    int n = lua_gettop(L);
    size_t total = 0, seplen = strlen(sep);
    for (int i = 1; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        lua_replace(L, i);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n && total < LOG_TEXT_MAX; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (i > 1) luaL_addlstring(&b, sep, seplen);
        total += i > 1 ? seplen : 0;
        for (size_t j = 0; j < len && total < LOG_TEXT_MAX; j++, total++) {
            unsigned char c = (unsigned char)s[j];
            if (c == '\n') luaL_addstring(&b, "\\n");
            else if (c < 0x20 || c == 0x7f) luaL_addchar(&b, ' ');
            else luaL_addchar(&b, (char)c);
        }
    }
    if (total >= LOG_TEXT_MAX) luaL_addstring(&b, "... (truncated)");
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int log_at(lua_State *L, enum log_level level, const char *sep) {
    if (!log_enabled(level)) return 0;
    struct script *s = script_of(L);
    const char *msg = join_args(L, sep);
    const struct sched_task *t = s->current;
    if (t && t->event_id) log_write(level, "lua", "%s [%s]: %s", s->name, t->event_id, msg);
    else log_write(level, "lua", "%s: %s", s->name, msg);
    return 0;
}

static int log_debug_(lua_State *L) { return log_at(L, LOG_LEVEL_DEBUG, " "); }
static int log_info_(lua_State *L) { return log_at(L, LOG_LEVEL_INFO, " "); }
static int log_warn_(lua_State *L) { return log_at(L, LOG_LEVEL_WARN, " "); }
static int log_error_(lua_State *L) { return log_at(L, LOG_LEVEL_ERROR, " "); }

int bind_print(lua_State *L) { return log_at(L, LOG_LEVEL_INFO, "\t"); }

void bind_log_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "debug", log_debug_ }, { "info", log_info_ }, { "warn", log_warn_ },
        { "error", log_error_ }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
