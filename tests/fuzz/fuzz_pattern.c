/* Fuzzes the budgeted pattern functions (src/pattern), and checks them against stock
 * Lua whenever that is safe. Input layout:
 *   byte 0: bits 0-1 pick find, match, gmatch or gsub; bit 2: find's plain flag;
 *           bits 3-6: init + 8 (15: no init argument)
 *   bytes 1-2: pattern length (little-endian), byte 3: replacement length (gsub), each
 *           capped at what is left; then the pattern, the replacement, and the rest is
 *           the subject.
 * Ours runs with a budget of MAX_CHECKS checks and must finish or raise, never crash.
 * When it finished within a few thousand steps, stock Lua (which does the same work
 * but cannot be stopped) runs too, and any difference in results or errors aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "pattern/pattern.h"

#define MAX_CHECKS 256
#define DIFF_CHECKS 4

static const char *harness =
    "local function ser(r, i)\n"
    "  local out = {}\n"
    "  for k = i, r.n do\n"
    "    local v = r[k]\n"
    "    out[#out + 1] = (math.type(v) or type(v)) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(out, '|')\n"
    "end\n"
    "local function collect(it)\n"
    "  local out = {}\n"
    "  for _ = 1, 50 do\n"
    "    local r = table.pack(it())\n"
    "    out[#out + 1] = ser(r, 1)\n"
    "    if r[1] == nil then break end\n"
    "  end\n"
    "  return table.concat(out, '/')\n"
    "end\n"
    "return function(lib, name, ...)\n"
    "  local f = lib[name]\n"
    "  if name == 'gmatch' then f = function(...) return collect(lib.gmatch(...)) end end\n"
    "  local r = table.pack(pcall(f, ...))\n"
    "  if r[1] then return 'ok:' .. ser(r, 2) end\n"
    "  return 'error:' .. string.gsub(tostring(r[2]), \"to '[^']*'\", \"to '?'\")\n"
    "end\n";

static int checks;

static int budget_check(lua_State *L, void *ud) {
    (void)L;
    (void)ud;
    return ++checks >= MAX_CHECKS;
}

struct input {
    int fn, plain, init; /* init 7: absent */
    const char *p, *r, *s;
    size_t plen, rlen, slen;
};

static int split(const uint8_t *data, size_t size, struct input *in) {
    if (size < 4)
        return -1;
    in->fn = data[0] & 3;
    in->plain = (data[0] >> 2) & 1;
    in->init = ((data[0] >> 3) & 15) - 8;
    size -= 4;
    size_t plen = data[1] | (size_t)data[2] << 8;
    in->plen = plen < size ? plen : size;
    size -= in->plen;
    in->rlen = data[3] < size ? data[3] : size;
    in->slen = size - in->rlen;
    in->p = (const char *)data + 4;
    in->r = in->p + in->plen;
    in->s = in->r + in->rlen;
    return 0;
}

/* Calls lib.fn(args) through the harness; leaves the outcome string on the stack. */
static const char *run(lua_State *L, const char *lib, const struct input *in) {
    static const char *const names[] = { "find", "match", "gmatch", "gsub" };
    lua_pushvalue(L, 1);
    lua_getglobal(L, lib);
    lua_pushstring(L, names[in->fn]);
    lua_pushlstring(L, in->s, in->slen);
    lua_pushlstring(L, in->p, in->plen);
    int nargs = 4;
    if (in->fn == 3) {
        lua_pushlstring(L, in->r, in->rlen);
        nargs++;
    } else if (in->init != 7) {
        lua_pushinteger(L, in->init);
        nargs++;
        if (in->fn == 0) {
            lua_pushboolean(L, in->plain);
            nargs++;
        }
    }
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK)
        abort(); /* the harness catches everything, except running out of memory */
    return lua_tostring(L, -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct input in;
    if (split(data, size, &in) < 0)
        return 0;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    pattern_open(L, budget_check, NULL);
    lua_setglobal(L, "P");
    if (luaL_dostring(L, harness) != LUA_OK)
        abort();
    checks = 0;
    const char *mine = run(L, "P", &in);
    if (checks <= DIFF_CHECKS && !strstr(mine, "exceeded the time budget")) {
        const char *stock = run(L, "string", &in);
        if (strcmp(stock, mine) != 0) {
            fprintf(stderr, "stock: %s\nmine:  %s\n", stock, mine);
            abort();
        }
    }
    lua_close(L);
    return 0;
}
