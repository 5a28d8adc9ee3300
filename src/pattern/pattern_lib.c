/* string.find, match, gmatch and gsub over the budgeted matcher, with Lua 5.4's
 * arguments, results and errors. The check callback and its ud travel as a userdata
 * upvalue shared by the four functions. */
#include <string.h>

#include <lauxlib.h>

#include "pattern/pattern_int.h"

struct budget {
    pattern_check_fn check;
    void *ud;
};

struct gmatch_state {
    struct pattern_state ms;
    const char *src;       /* where the next search starts */
    const char *p;         /* the pattern */
    const char *lastmatch; /* end of the last match: no empty match right there */
};

static void state_init(lua_State *L, struct pattern_state *ms, const char *s, size_t ls,
                       const char *p, size_t lp) {
    const struct budget *b = lua_touserdata(L, lua_upvalueindex(1));
    pattern_state_init(ms, L, b->check, b->ud, s, ls, p, lp);
}

/* A 1-based, possibly negative start index as a 1-based offset into len bytes. */
static size_t start_index(lua_Integer pos, size_t len) {
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

/* find searches plainly when no byte of the pattern means anything. */
static int has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr("^$*+?.([%-", p[i]))
            return 1;
    return 0;
}

/* Capture i: its text, its position, or the whole match s..e when there are none. */
static void push_capture(struct pattern_state *ms, int i, const char *s, const char *e) {
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(ms->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = ms->capture[i].len;
    if (len == PATTERN_CAP_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    else if (len == PATTERN_CAP_POSITION)
        lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
    else
        lua_pushlstring(ms->L, ms->capture[i].init, (size_t)len);
}

/* All captures; with none, the whole match (unless s is NULL, as for find). */
static int push_captures(struct pattern_state *ms, const char *s, const char *e) {
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(ms, i, s, e);
    return n;
}

static int find_plain(lua_State *L, const char *s, size_t ls, size_t init, const char *p,
                      size_t lp) {
    /* memmem is linear-time, unlike a naive scan of a long subject for a long needle */
    const char *hit = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
    if (!hit) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushinteger(L, hit - s + 1);
    lua_pushinteger(L, (lua_Integer)(hit - s + lp));
    return 2;
}

static int find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp)))
        return find_plain(L, s, ls, init, p, lp);
    struct pattern_state ms;
    const char *s1 = s + init;
    int anchor = (*p == '^');
    if (anchor) {
        p++;
        lp--;
    }
    state_init(L, &ms, s, ls, p, lp);
    do {
        pattern_state_reset(&ms);
        const char *e = pattern_match(&ms, s1, p);
        if (e && find) {
            lua_pushinteger(L, s1 - s + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&ms, NULL, NULL) + 2;
        }
        if (e)
            return push_captures(&ms, s1, e);
    } while (s1++ < ms.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int p_find(lua_State *L) {
    return find_aux(L, 1);
}

static int p_match(lua_State *L) {
    return find_aux(L, 0);
}

static int gmatch_next(lua_State *L) {
    struct gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L; /* the iterator may run on another coroutine than gmatch did */
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        pattern_state_reset(&gm->ms);
        const char *e = pattern_match(&gm->ms, src, gm->p);
        if (e && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->ms, src, e);
        }
    }
    gm->src = gm->ms.src_end + 1; /* done: later calls find nothing at once */
    return 0;
}

/* A '^' is a plain character here: anchoring would stop the iteration. */
static int p_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2); /* the closure keeps s and p alive */
    struct gmatch_state *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls)
        init = ls + 1;
    state_init(L, &gm->ms, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Text captures go straight into the buffer; anything else (the whole match, a
 * position, an error) through push_capture. */
static void add_capture(struct pattern_state *ms, luaL_Buffer *b, int i, const char *s,
                        const char *e) {
    if (i == 0 && ms->level == 0) {
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (i < ms->level && ms->capture[i].len >= 0) {
        luaL_addlstring(b, ms->capture[i].init, (size_t)ms->capture[i].len);
    } else {
        push_capture(ms, i, s, e);
        luaL_addvalue(b); /* a position capture is added as its number */
    }
}

/* %0-%9 and %% of a replacement string; repl is the string at index 3. */
static void add_string(struct pattern_state *ms, luaL_Buffer *b, const char *s,
                       const char *e) {
    size_t l;
    const char *r = lua_tolstring(ms->L, 3, &l);
    const char *pct;
    pattern_charge(ms, (long)(l / 16)); /* "%1%1%1..." costs time, not output */
    while ((pct = memchr(r, '%', l)) != NULL) {
        luaL_addlstring(b, r, (size_t)(pct - r));
        pct++; /* may reach the string's '\0': an error below, as in Lua */
        if (*pct == '%') {
            luaL_addchar(b, '%');
        } else if (*pct == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (*pct >= '1' && *pct <= '9') {
            add_capture(ms, b, *pct - '1', s, e);
        } else {
            luaL_error(ms->L, "invalid use of '%%' in replacement string");
        }
        l -= (size_t)(pct + 1 - r);
        r = pct + 1;
    }
    luaL_addlstring(b, r, l);
}

/* Adds the replacement for the match s..e; returns whether it differs from the match. */
static int add_value(struct pattern_state *ms, luaL_Buffer *b, const char *s,
                     const char *e, int tr) {
    lua_State *L = ms->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        lua_call(L, push_captures(ms, s, e), 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int p_gsub(lua_State *L) {
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
                     tr == LUA_TTABLE, 3, "string/function/table");
    const char *lastmatch = NULL;
    int anchor = (*p == '^'), changed = 0;
    lua_Integer n = 0;
    struct pattern_state ms;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    state_init(L, &ms, src, ls, p, lp);
    while (n < max_n) {
        pattern_state_reset(&ms);
        const char *e = pattern_match(&ms, src, p);
        if (e && e != lastmatch) { /* no empty match right after the previous one */
            n++;
            changed |= add_value(&ms, &b, src, e, tr);
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void pattern_open(lua_State *L, pattern_check_fn check, void *ud) {
    static const luaL_Reg fns[] = {
        {"find", p_find},
        {"match", p_match},
        {"gmatch", p_gmatch},
        {"gsub", p_gsub},
        {NULL, NULL},
    };
    struct budget *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->check = check;
    b->ud = ud;
    luaL_setfuncs(L, fns, 1);
}
