#include "lua/sandbox.h"

#include "base/util.h"
#include "lua/bind.h"
#include "lua/embedded.h"
#include "lua/limits.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODULE_MAX_BYTES (4u << 20)

/* Everything a script can reach. Left out on purpose: dofile, loadfile (files), io,
 * debug, package (loadlib, C modules), the rest of os (execute, getenv, exit, remove...),
 * string.dump (bytecode), and the real global table. */
static const char *const base_allow[] = {
    "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawlen", "select", "tonumber", "tostring", "type", "_VERSION", NULL,
};
static const char *const libs_allow[] = { "string", "table", "math", "utf8", "coroutine", NULL };
static const char *const os_allow[] = { "time", "clock", "date", NULL };
static const char *const string_deny[] = { "dump", NULL };

static const luaL_Reg libs_open[] = {
    { LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string },
    { LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
    { LUA_UTF8LIBNAME, luaopen_utf8 }, { LUA_COLIBNAME, luaopen_coroutine },
    { LUA_OSLIBNAME, luaopen_os }, { NULL, NULL },
};

/* load: text chunks only; without an explicit env, the caller's script _ENV. */
static int sb_load(lua_State *L) {
    int n = lua_gettop(L);
    lua_settop(L, 4);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    if (n < 4) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, script_of(L)->env_ref);
        lua_replace(L, 4);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L);
}

/* Finalizers run with hooks off, so a __gc loop could never be stopped: refuse them. */
static int sb_setmetatable(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    if (lua_istable(L, 2)) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in scripts");
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int sb_collectgarbage(lua_State *L) {
    static const char *const opts[] = { "collect", "count", NULL };
    int o = luaL_checkoption(L, 1, "collect", opts);
    if (o == 1) {
        int kb = lua_gc(L, LUA_GCCOUNT), b = lua_gc(L, LUA_GCCOUNTB);
        lua_pushnumber(L, (lua_Number)kb + (lua_Number)b / 1024);
        return 1;
    }
    lua_gc(L, LUA_GCCOLLECT);
    lua_pushinteger(L, 0);
    return 1;
}

/* xpcall whose message handler runs after the error has unwound: Lua calls a real
 * message handler with hooks off when the error was raised by our time-limit hook, so
 * a looping handler could never be stopped. Scripts have no debug library, so a handler
 * cannot tell the difference. */
static const char xpcall_src[] =
    "local pcall, select = ...\n"
    "local function finish(msgh, ok, ...)\n"
    "  if ok then return true, ... end\n"
    "  return false, (select(2, pcall(msgh, ...)))\n"
    "end\n"
    "return function(f, msgh, ...) return finish(msgh, pcall(f, ...)) end\n";

/* coroutine.create / wrap whose body runs under a pcall, for the same reason as the
 * handler's base pcall in sched.c: when the time-limit hook kills a coroutine, its
 * pending __close handlers must run with hooks on (so they can be killed too). And
 * resume / close refuse the handlers' own threads (coroutine.running() in a handler),
 * which belong to the scheduler. wrap is made of create and resume: stock wrap adds a
 * position at each level an error crosses, burying the message under nested wraps.
 * create and wrap count against limits.max_coroutines (note). */
static const char coroutine_src[] =
    "local create, _, resume, close, pcall, error, type, handlers, note = ...\n"
    "local function finish(ok, ...)\n"
    "  if ok then return ... end\n"
    "  error((...), 0)\n"
    "end\n"
    "local function body(f, name)\n"
    "  if type(f) ~= 'function' then\n"
    "    error(\"bad argument #1 to '\" .. name .. \"' (function expected)\", 3)\n"
    "  end\n"
    "  return function(...) return finish(pcall(f, ...)) end\n"
    "end\n"
    "local function mine(co, name)\n"
    "  if handlers[co] then error(\"cannot \" .. name .. \" a handler's own coroutine\", 3) end\n"
    "  return co\n"
    "end\n"
    "return function(f) note() return create(body(f, 'create')) end,\n"
    "       function(f)\n"
    "         note()\n"
    "         local co = create(body(f, 'wrap'))\n"
    "         return function(...) return finish(resume(co, ...)) end\n"
    "       end,\n"
    "       function(co, ...) return resume(mine(co, 'resume'), ...) end,\n"
    "       function(co) return close(mine(co, 'close')) end\n";

/* Loads one of our own chunks and calls it with the named globals; leaves nres results. */
static void run_own_chunk(lua_State *L, const char *src, size_t len, const char *name,
                          const char *const *globals, int nres) {
    if (luaL_loadbufferx(L, src, len, name, "t") != LUA_OK) lua_error(L);
    int n = 0;
    for (; globals[n]; n++) lua_getglobal(L, globals[n]);
    lua_call(L, n, nres);
}

static void push_xpcall(lua_State *L) {
    static const char *const globals[] = { "pcall", "select", NULL };
    run_own_chunk(L, xpcall_src, sizeof xpcall_src - 1, "=xpcall", globals, 1);
}

/* Replaces create, wrap, resume and close in the coroutine library (a global while we
 * build); creates the registry's set of handler threads. */
static void wrap_coroutines(lua_State *L) {
    static const char *const fns[] = { "create", "wrap", "resume", "close", NULL };
    static const char *const globals[] = { "pcall", "error", "type", NULL };
    lua_getglobal(L, LUA_COLIBNAME);
    int lib = lua_gettop(L);
    if (luaL_loadbufferx(L, coroutine_src, sizeof coroutine_src - 1, "=coroutine", "t") != LUA_OK)
        lua_error(L);
    for (int i = 0; fns[i]; i++) lua_getfield(L, lib, fns[i]);
    for (int i = 0; globals[i]; i++) lua_getglobal(L, globals[i]);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_HANDLER_THREADS);
    lua_pushcfunction(L, limits_note_coroutine);
    lua_call(L, 9, 4);
    for (int i = 3; i >= 0; i--) lua_setfield(L, lib, fns[i]);
    lua_pop(L, 1);
}

static int undeclared(lua_State *L) {
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L, "assignment to undeclared global '%s' (define it at the top "
                      "level of the script, or make it local)", k);
}

static int guard_newindex(lua_State *L) {
    if (!script_of(L)->loading) return undeclared(L);
    lua_rawset(L, 1);
    return 0;
}

/* rawset(_ENV, k, v) must not get around the guard on new globals. */
static int sb_rawset(lua_State *L) {
    struct script *s = script_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    int env = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (env && !s->loading) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, 1) == LUA_TNIL) return undeclared(L);
        lua_pop(L, 1);
    }
    lua_rawset(L, 1);
    return 1;
}

/* A fresh _ENV reading through to the builtins; guarded for scripts, open for modules. */
static void push_env(lua_State *L, struct script *s, int guarded) {
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->builtins_ref);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    if (guarded) {
        lua_pushcfunction(L, guard_newindex);
        lua_setfield(L, -2, "__newindex");
    }
    lua_setmetatable(L, -2);
    lua_pushliteral(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, -3);
}

/* Calls the chunk on top (below it, nargs values already pushed) as a module: a
 * private _ENV; leaves one result. Raises on failure. */
static void call_module(lua_State *L, struct script *s, int nargs) {
    push_env(L, s, 0);
    lua_setupvalue(L, -2, 1);
    lua_insert(L, -1 - nargs);
    lua_call(L, nargs, 1);
}

/* A module file on disk (lua_path or the scripts directory), text only. The chunk name
 * is pushed first: a raise then cannot leak the source. */
static void run_file(lua_State *L, struct script *s, const char *path, int nargs) {
    size_t len;
    lua_pushfstring(L, "@%s", path);
    char *src = util_read_file(path, MODULE_MAX_BYTES, &len);
    if (!src) luaL_error(L, "cannot read module '%s'", path);
    int rc = luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t");
    free(src);
    if (rc != LUA_OK) lua_error(L);
    lua_remove(L, -2);
    call_module(L, s, nargs);
}

/* A part of the Lua half of lark compiled in. Its chunk name starts with '=', so error
 * positions point at the script line that called into lark (script_where skips it). */
static void run_embedded(lua_State *L, struct script *s, const struct embedded_file *f,
                         int nargs) {
    char name[128];
    snprintf(name, sizeof name, "=%s", f->path);
    if (luaL_loadbufferx(L, (const char *)f->text, f->len, name, "t") != LUA_OK) lua_error(L);
    call_module(L, s, nargs);
}

static int module_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.' || name[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-';
        if (!word && !(c == '.' && name[i + 1] != '.')) return 0;
    }
    return 1;
}

/* The embedded file for a module name ("lark.im" -> lark/im.lua or lark/im/init.lua). */
static const struct embedded_file *find_embedded(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
        if (*p == '.') *p = '/';
    char path[300];
    snprintf(path, sizeof path, "%s.lua", rel);
    const struct embedded_file *f = embedded_find(path);
    if (f) return f;
    snprintf(path, sizeof path, "%s/init.lua", rel);
    return embedded_find(path);
}

static int find_module(const struct script *s, const char *name, char *path, size_t len) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
        if (*p == '.') *p = '/';
    const char *dirs[] = { s->lua_dir, s->scripts_dir };
    for (int i = 0; i < 2; i++) {
        if (!dirs[i]) continue;
        FILE *f;
        snprintf(path, len, "%s/%s.lua", dirs[i], rel);
        if ((f = fopen(path, "r")) != NULL) return fclose(f), 0;
        snprintf(path, len, "%s/%s/init.lua", dirs[i], rel);
        if ((f = fopen(path, "r")) != NULL) return fclose(f), 0;
    }
    return -1;
}

/* require: the allowed libraries, lark, the Lua half of lark (compiled in, or under
 * lua_path), and text modules in the scripts directory; never C modules. */
static int sb_require(lua_State *L) {
    struct script *s = script_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->loaded_ref);
    if (lua_getfield(L, 2, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    for (int i = 0; libs_allow[i]; i++)
        if (strcmp(name, libs_allow[i]) == 0) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, s->builtins_ref);
            lua_getfield(L, -1, name);
            return 1;
        }
    char path[4096];
    const struct embedded_file *f = NULL;
    if (!module_name_ok(name)
        || (!(f = s->lua_dir ? NULL : find_embedded(name))
            && find_module(s, name, path, sizeof path) < 0))
        return luaL_error(L, "module '%s' not found (searched %s and %s)", name,
                          s->lua_dir ? s->lua_dir : "the lark modules built in", s->scripts_dir);
    lua_pushvalue(L, 1);
    if (f) {
        lua_pushstring(L, f->path);
        run_embedded(L, s, f, 2);
    } else {
        lua_pushstring(L, path);
        run_file(L, s, path, 2);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

static void copy_fields(lua_State *L, int from, int to, const char *const *names) {
    for (int i = 0; names[i]; i++) {
        lua_getfield(L, from, names[i]);
        lua_setfield(L, to, names[i]);
    }
}

static int new_ref(lua_State *L) {
    lua_newtable(L);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static void build_builtins(lua_State *L, struct script *s) {
    lua_newtable(L);
    int b = lua_gettop(L);
    lua_pushglobaltable(L);
    copy_fields(L, -1, b, base_allow);
    lua_getfield(L, -1, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, b, "load");
    push_xpcall(L);
    lua_setfield(L, b, "xpcall");
    lua_pop(L, 1);
    for (int i = 0; libs_allow[i]; i++) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, libs_allow[i]);
        lua_setfield(L, b, libs_allow[i]);
        lua_pop(L, 1);
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_OSLIBNAME);
    lua_newtable(L);
    copy_fields(L, -2, lua_gettop(L), os_allow);
    lua_setfield(L, b, "os");
    lua_pop(L, 2);
    static const luaL_Reg own[] = {
        { "setmetatable", sb_setmetatable }, { "collectgarbage", sb_collectgarbage },
        { "require", sb_require }, { "print", bind_print }, { "rawset", sb_rawset },
        { NULL, NULL },
    };
    luaL_setfuncs(L, own, 0);
    s->builtins_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ("").dump must reach nothing, and getmetatable("") must not hand out the metatable. */
static void protect_strings(lua_State *L) {
    lua_getglobal(L, LUA_STRLIBNAME);
    for (int i = 0; string_deny[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, string_deny[i]);
    }
    lua_pop(L, 1);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
}

static void wipe_globals(lua_State *L) {
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, -4);
    }
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 1);
}

static void open_lark(lua_State *L, struct script *s) {
    bind_lark_open(L);
    bind_store_open(L);
    lua_setfield(L, -2, "store");
    lua_pushvalue(L, -1);
    s->lark_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->loaded_ref);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "lark");
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->builtins_ref);
    lua_insert(L, -2);
    lua_setfield(L, -2, "lark");
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lark_ref);
    if (s->lua_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lark/init.lua", s->lua_dir);
        run_file(L, s, path, 1);
    } else {
        const struct embedded_file *f = embedded_find("lark/init.lua");
        if (!f) luaL_error(L, "the Lua half of lark was not built in (lark/init.lua)");
        run_embedded(L, s, f, 1);
    }
    lua_pop(L, 1);
}

void sandbox_open(lua_State *L, struct script *s) {
    for (const luaL_Reg *lib = libs_open; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    protect_strings(L);
    limits_open(L);
    wrap_coroutines(L);
    build_builtins(L, s);
    s->handlers_ref = new_ref(L);
    s->loaded_ref = new_ref(L);
    open_lark(L, s);
    wipe_globals(L);
    push_env(L, s, 1);
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}
