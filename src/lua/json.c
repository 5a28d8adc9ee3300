#include "lua/json.h"

#include "lua/limits.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push_number(lua_State *L, double d) {
    /* cJSON keeps numbers as doubles; integral ones become Lua integers */
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == floor(d))
        lua_pushinteger(L, (lua_Integer)d);
    else
        lua_pushnumber(L, d);
}

static int count_children(const cJSON *v) {
    int n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    return n;
}

void json_push(lua_State *L, const cJSON *v) {
    luaL_checkstack(L, 3, "JSON nested too deep");
    if (cJSON_IsObject(v)) {
        lua_createtable(L, 0, count_children(v));
        /* lua_pushlstring and rawset: lua_setfield and lua_pushstring look each key up
         * in Lua's by-address string cache first, a strcmp that never hits here */
        for (const cJSON *c = v->child; c; c = c->next) {
            if (cJSON_IsNull(c) || !c->string) continue;
            lua_pushlstring(L, c->string, strlen(c->string));
            json_push(L, c);
            lua_rawset(L, -3);
        }
    } else if (cJSON_IsArray(v)) {
        lua_createtable(L, count_children(v), 0);
        lua_Integer i = 1;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            if (cJSON_IsNull(c)) continue;
            json_push(L, c);
            lua_rawseti(L, -2, i);
        }
    } else if (cJSON_IsString(v)) {
        lua_pushlstring(L, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        push_number(L, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else {
        lua_pushnil(L);
    }
}

/* The buffer comes from the state's allocator so that it counts against memory_mb. */
struct jbuf {
    lua_State *L;
    char *p;      /* points sizeof(size_t) past the allocation, which stores cap */
    size_t len, cap;
    unsigned values;   /* encoded so far: a shared subtable is walked again each time */
};

static char *jbuf_realloc(lua_State *L, char *p, size_t oldcap, size_t newcap) {
    void *ud;
    lua_Alloc alloc = lua_getallocf(L, &ud);
    char *base = p ? p - sizeof(size_t) : NULL;
    size_t osize = p ? oldcap + sizeof(size_t) : 0;
    char *nb = alloc(ud, base, osize, newcap ? newcap + sizeof(size_t) : 0);
    if (!nb) return NULL;
    memcpy(nb, &newcap, sizeof newcap);
    return nb + sizeof(size_t);
}

void json_buffer_free(lua_State *L, char *buf) {
    if (!buf) return;
    size_t cap;
    memcpy(&cap, buf - sizeof(size_t), sizeof cap);
    jbuf_realloc(L, buf, cap, 0);
}

static void put(struct jbuf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *p = jbuf_realloc(b->L, b->p, b->cap, cap);
        if (!p) luaL_error(b->L, "not enough memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_string(struct jbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(b, s + run, i - run);
        run = i + 1;
        char esc[7] = { '\\', 0 };
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            put(b, esc, 6);
            continue;
        }
        put(b, esc, 2);
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

static void put_number(struct jbuf *b, lua_State *L, int idx) {
    char num[64];
    int n;
    if (lua_isinteger(L, idx)) {
        n = snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
    } else {
        double d = (double)lua_tonumber(L, idx);
        if (!isfinite(d)) luaL_error(L, "cannot encode %s as JSON", d != d ? "NaN" : "infinity");
        n = snprintf(num, sizeof num, "%.15g", d);
        if (strtod(num, NULL) != d) n = snprintf(num, sizeof num, "%.17g", d);
    }
    put(b, num, (size_t)n);
}

/* Keys exactly 1..n with n > 0. */
static int is_array(lua_State *L, int t) {
    lua_Unsigned n = lua_rawlen(L, t), count = 0;
    if (n == 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || (lua_Unsigned)k > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

static void encode(struct jbuf *b, lua_State *L, int idx, int depth);

static void put_key(struct jbuf *b, lua_State *L, int idx) {
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_string(b, s, n);
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        put(b, "\"", 1);
        put_number(b, L, idx);
        put(b, "\"", 1);
    } else {
        luaL_error(L, "cannot encode a table key of type %s as JSON", luaL_typename(L, idx));
    }
}

static void encode_table(struct jbuf *b, lua_State *L, int t, int depth) {
    if (depth >= JSON_MAX_DEPTH) luaL_error(L, "cannot encode: nested too deep (a cycle?)");
    luaL_checkstack(L, 4, "JSON nested too deep");
    if (is_array(L, t)) {
        lua_Unsigned n = lua_rawlen(L, t);
        put(b, "[", 1);
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (i > 1) put(b, ",", 1);
            lua_rawgeti(L, t, (lua_Integer)i);
            encode(b, L, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        put(b, "]", 1);
        return;
    }
    int first = 1;
    put(b, "{", 1);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (!first) put(b, ",", 1);
        first = 0;
        put_key(b, L, lua_gettop(L) - 1);
        put(b, ":", 1);
        encode(b, L, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    put(b, "}", 1);
}

static void encode(struct jbuf *b, lua_State *L, int idx, int depth) {
    if (++b->values % 4096 == 0) limits_check_time(L);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: put(b, "null", 4); break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) put(b, "true", 4);
        else put(b, "false", 5);
        break;
    case LUA_TNUMBER: put_number(b, L, idx); break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_string(b, s, n);
        break;
    }
    case LUA_TTABLE: encode_table(b, L, idx, depth); break;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) {
            put(b, "null", 4);
            break;
        }
        /* fallthrough */
    default:
        luaL_error(L, "cannot encode a %s as JSON", luaL_typename(L, idx));
    }
}

static int encode_protected(lua_State *L) {
    struct jbuf *b = lua_touserdata(L, 2);
    encode(b, L, 1, 0);
    return 0;
}

char *json_encode(lua_State *L, int idx, size_t *len) {
    struct jbuf b = { L, NULL, 0, 0, 0 };
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 4)) {
        lua_pushliteral(L, "not enough stack");  /* lua_checkstack failing leaves room */
        return NULL;
    }
    lua_pushcfunction(L, encode_protected);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, &b);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        json_buffer_free(L, b.p);
        return NULL;
    }
    if (!b.p) {
        b.p = jbuf_realloc(L, NULL, 0, 1);
        if (!b.p) {
            lua_pushliteral(L, "not enough memory");
            return NULL;
        }
    }
    *len = b.len;
    return b.p;
}
