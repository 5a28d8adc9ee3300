/* Library functions whose loops run in C, where the count hook never fires, redone
 * to check the deadline as they go. Stock string.rep("", 2^62) loops 2^62 times over
 * nothing; table.insert / remove / move / concat loop as far as a __len metamethod or
 * an index argument says, touching absent keys that cost no memory. Their results and
 * errors are Lua 5.4's. */
#include "lua/limits.h"

#include "pattern/pattern.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

/* Work between two deadline checks: elements, or bytes for rep. */
#define CHECK_ELEMS 4096
#define CHECK_BYTES (1u << 20)

static int str_rep(lua_State *L) {
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (l + lsep < l || l + lsep > (size_t)LUA_MAXINTEGER / (size_t)n)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * l + (size_t)(n - 1) * lsep, since = 0;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total);  /* over the memory cap: raises here */
    for (lua_Integer i = 0; i < n; i++) {
        memcpy(p, s, l);
        p += l;
        if (lsep && i < n - 1) {
            memcpy(p, sep, lsep);
            p += lsep;
        }
        if ((since += l + lsep) >= CHECK_BYTES) {
            since = 0;
            limits_check_time(L);
        }
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

static void tick(lua_State *L, lua_Integer *since) {
    if (++*since < CHECK_ELEMS) return;
    *since = 0;
    limits_check_time(L);
}

static int tab_concat(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer last = luaL_len(L, 1), since = 0;
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (; i <= last; i++) {
        lua_geti(L, 1, i);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "invalid value (at index %I) in table for 'concat'",
                              (LUAI_UACINT)i);
        luaL_addvalue(&b);
        if (i < last) luaL_addlstring(&b, sep, lsep);
        tick(L, &since);
        if (i == LUA_MAXINTEGER) break;
    }
    luaL_pushresult(&b);
    return 1;
}

static int tab_insert(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer e = luaL_intop(+, luaL_len(L, 1), 1), pos = e, since = 0;
    switch (lua_gettop(L)) {
    case 2: break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
            tick(L, &since);
        }
        break;
    default: return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

static int tab_remove(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer size = luaL_len(L, 1), since = 0;
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
        tick(L, &since);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

static int tab_move(lua_State *L) {
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4), since = 0;
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, tt, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        int forward = t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
        for (lua_Integer k = 0; k < n; k++) {
            lua_Integer i = forward ? k : n - 1 - k;
            lua_geti(L, 1, f + i);
            lua_seti(L, tt, t + i);
            tick(L, &since);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

static int pattern_check(lua_State *L, void *ud) {
    (void)ud;
    limits_check_time(L);
    return 0;
}

void limits_open(lua_State *L) {
    static const luaL_Reg str[] = { { "rep", str_rep }, { NULL, NULL } };
    static const luaL_Reg tab[] = {
        { "concat", tab_concat }, { "insert", tab_insert }, { "remove", tab_remove },
        { "move", tab_move }, { NULL, NULL },
    };
    lua_getglobal(L, LUA_STRLIBNAME);
    pattern_open(L, pattern_check, NULL);
    luaL_setfuncs(L, str, 0);
    lua_getglobal(L, LUA_TABLIBNAME);
    luaL_setfuncs(L, tab, 0);
    lua_pop(L, 2);
}
