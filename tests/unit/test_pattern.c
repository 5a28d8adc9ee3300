/* Differential test of src/pattern against stock Lua 5.4: every case runs through
 * string.find/match/gmatch/gsub and through ours (global P) in the same state, and the
 * results (values and their types, or the error messages) must be identical. Then the
 * budget: the catastrophic pattern stops, the depth bound holds, 1 MB subjects work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "pattern/pattern.h"
#include "test.h"

/* Runs all four functions both ways on one case; returns nil or what differed. A case
 * where ours ran out of budget is skipped before stock Lua could hang on it. */
static const char *harness =
    "local function ser(r, i)\n"
    "  local out = {}\n"
    "  for k = i, r.n do\n"
    "    local v = r[k]\n"
    "    local t = math.type(v) or type(v)\n"
    "    out[#out + 1] = t .. ':' .. (t == 'table' and '?' or tostring(v))\n"
    "  end\n"
    "  return table.concat(out, '|')\n"
    "end\n"
    "local function run(f, ...)\n"
    "  local r = table.pack(pcall(f, ...))\n"
    "  if r[1] then return 'ok:' .. ser(r, 2) end\n"
    "  return 'error:' .. string.gsub(tostring(r[2]), \"to '[^']*'\", \"to '?'\")\n"
    "end\n"
    "local function collect(gmatch, ...)\n"
    "  local it, out = gmatch(...), {}\n"
    "  for _ = 1, 100 do\n"
    "    local r = table.pack(it())\n"
    "    out[#out + 1] = ser(r, 1)\n"
    "    if r[1] == nil then break end\n"
    "  end\n"
    "  return table.concat(out, '/')\n"
    "end\n"
    "local repls = {\n"
    "  function(...) return select('#', ...) .. '<' .. table.concat({...}, ',') .. '>' end,\n"
    "  function(x) if #tostring(x) % 2 == 1 then return nil end return '[' .. x .. ']' end,\n"
    "  function(x) if x == 'b' then return {} end return false end,\n"
    "  function() return 1.5 end,\n"
    "  {a = 'A', b = false, c = 7, ['('] = 2.5, [1] = 'one', ab = {}},\n"
    "  12, true,\n"
    "}\n"
    "compared, skipped, errors, found = 0, 0, 0, 0\n"
    "local function cmp(bad, name, f, g, ...)\n"
    "  local mine = run(g, ...)\n"
    "  if mine:find('exceeded the time budget', 1, true) then\n"
    "    skipped = skipped + 1\n"
    "    return\n"
    "  end\n"
    "  local stock = run(f, ...)\n"
    "  compared = compared + 1\n"
    "  if stock:find('^error:') then errors = errors + 1\n"
    "  elseif not stock:find('^ok:nil:nil') then found = found + 1 end\n"
    "  if stock ~= mine then bad[#bad + 1] = name .. ': stock ' .. stock .. ' mine ' .. mine end\n"
    "end\n"
    "function check_case(s, p, init, plain, repl, kind, max_n)\n"
    "  local bad = {}\n"
    "  cmp(bad, 'find', string.find, P.find, s, p, init, plain)\n"
    "  cmp(bad, 'match', string.match, P.match, s, p, init)\n"
    "  cmp(bad, 'gmatch', function(...) return collect(string.gmatch, ...) end,\n"
    "      function(...) return collect(P.gmatch, ...) end, s, p, init)\n"
    "  if kind > 0 then repl = repls[kind] end\n"
    "  cmp(bad, 'gsub', string.gsub, P.gsub, s, p, repl, max_n)\n"
    "  if #bad > 0 then return table.concat(bad, '\\n') end\n"
    "end\n";

#define NO_INIT INT64_MIN
#define NREPLS 7 /* the kinds of replacement other than a string, in repls above */

struct pcase {
    const char *s;
    const char *p;
    int64_t init; /* NO_INIT: argument absent */
    int plain;    /* -1: absent */
    const char *repl;
    int kind;     /* 0: repl (a string); 1..NREPLS: repls[kind] */
    int64_t max_n;
    size_t slen, plen; /* 0: strlen; for subjects and patterns with '\0' */
};

static long budget_checks, budget_limit;

static int count_check(lua_State *L, void *ud) {
    (void)L;
    (void)ud;
    budget_checks++;
    return budget_limit > 0 && budget_checks >= budget_limit;
}

static lua_State *new_state(pattern_check_fn check) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    pattern_open(L, check, NULL);
    lua_setglobal(L, "P");
    if (luaL_dostring(L, harness) != LUA_OK) {
        fprintf(stderr, "harness: %s\n", lua_tostring(L, -1));
        abort();
    }
    return L;
}

static void push_opt_int(lua_State *L, int64_t v) {
    if (v == NO_INIT)
        lua_pushnil(L);
    else
        lua_pushinteger(L, v);
}

/* Returns 1 when both implementations agreed on every function. */
static int run_case(lua_State *L, const struct pcase *c) {
    lua_getglobal(L, "check_case");
    lua_pushlstring(L, c->s, c->slen ? c->slen : strlen(c->s));
    lua_pushlstring(L, c->p, c->plen ? c->plen : strlen(c->p));
    push_opt_int(L, c->init);
    if (c->plain < 0)
        lua_pushnil(L);
    else
        lua_pushboolean(L, c->plain);
    lua_pushstring(L, c->repl ? c->repl : "");
    lua_pushinteger(L, c->kind);
    push_opt_int(L, c->max_n);
    budget_checks = 0;
    budget_limit = 2000;
    if (lua_pcall(L, 7, 1, 0) != LUA_OK || !lua_isnil(L, -1)) {
        fprintf(stderr, "case s=\"%s\" p=\"%s\":\n%s\n", c->s, c->p, lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
    return 1;
}

static long global_int(lua_State *L, const char *name) {
    lua_getglobal(L, name);
    long v = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

#define C(s, p) { s, p, NO_INIT, -1, "<%0>", 0, NO_INIT, 0, 0 }
#define CI(s, p, init) { s, p, init, -1, "%1", 0, NO_INIT, 0, 0 }
#define CR(s, p, repl, kind, n) { s, p, NO_INIT, -1, repl, kind, n, 0, 0 }

static const struct pcase edge_cases[] = {
    C("", ""), C("", "^"), C("", "$"), C("", "^$"), C("abc", ""), C("abc", "^"),
    C("hello world", "o"), C("hello world", "o w"), C("hello", "l+"), C("hello", "l*"),
    C("hello", "l-"), C("hello", "l?"), C("hello", "^h"), C("hello", "^e"),
    C("hello", "o$"), C("hello", "l$"), C("a$b", "$b"), C("a$b", "a$"), C("a$", "a$$"),
    C("x^y", "x^"), C("^x", "^^x"), C("aaa", "a-b"), C("aaab", "a-b"), C("aaab", ".-b"),
    C("aaab", "a*"), C("", "a*"), C("baaac", "ba-c"), C("abc", "a.c"), C("a\nc", "a.c"),
    C("  x  ", "^%s*(.-)%s*$"), C("key = value", "(%w+)%s*=%s*(%w+)"),
    C("2024-01-31", "(%d+)-(%d+)-(%d+)"), C("THE (quick) fox", "%((%a+)%)"),
    C("THE (quick) fox", "%f[%a]%a+"), C("THE (quick) fox", "%f[%A]"),
    C("hello", "()ll()"), C("hello", "()"), C("hello", "(h)(e)(l)(l)(o)"),
    C("abcabc", "(abc)%1"), C("abcab", "(abc)%1"), C("xyzxyz", "(x)(y)(z)%1%2%3"),
    C("aa", "(()a)%1"), C("aa", "()%1"), C("aa", "(a)%2"), C("aa", "%0"), C("aa", "%1"),
    C("aa", "(a%1)"), C("abc", "(a"), C("abc", "a)"), C("abc", "a)b"), C("abc", "((a)"),
    C("abc", "%"), C("abc", "a%"), C("abc", "["), C("abc", "[a"), C("abc", "[^"),
    C("abc", "[]"), C("abc", "[^]"), C("a]c", "[]]"), C("a]c", "[^]]"), C("a]c", "[]a]+"),
    C("a-c", "[a-]+"), C("a-c", "[-a]+"), C("a-c", "[a-c]+"), C("a%]c", "[%]]"),
    C("a%]c", "[a-%]]+"), C("%", "[%%]"), C("a^b", "[b^]"), C("a^b", "[%^]"),
    C("abc123_", "[%w_]+"), C("abc123_", "[^%d]+"), C("ABCdef", "[%u]+"), C("x", "[%"),
    C("abc", "%b"), C("abc", "%ba"), C("(a(b)c)d", "%b()"), C("(a(b)c", "%b()"),
    C("aXbXa", "%baa"), C("[[x]]", "%b[]"), C("f(a)(b)", "%b()%b()"), C("))((", "%b)("),
    C("abc", "%f"), C("abc", "%fa"), C("abc", "%f[a]"), C("abc", "%f[%z]"),
    C("abc", "%f[^a]"), C("abc", "%f[%w]%w+%f[%W]"), C("THE END", "%f[%l]"),
    C("a.b", "%."), C("a.b", "."), C("a+b", "a%+b"), C("a+b", "a+b"), C("aab", "a+b"),
    C("x", "%z"), C("z", "%z"), C("Z", "%Z"), C("\t x", "%s%s"), C("\t x", "%S"),
    C("#!", "%p+"), C("#!", "%P"), C("\x01\x7f", "%c+"), C("a B", "%g+"), C("fF9g", "%x+"),
    C("fF9g", "%X"), C("abc", "%l%u"), C("aBc", "%l%u"), C("\xe4\xf6", "[\xe0-\xff]+"),
    C("\xe4\xf6", "%a"), C("abc", ".-$"), C("abc", ".*$"), C("abc", "(.-)$"),
    C("a,b,,c", "([^,]*)"), C("a,b,,c", "[^,]*"), C("abc", "()a*()"), C("abc", "x*"),
    C("hello world from lua", "%a+"), C("one two", "(%a+) (%a+)"), C("aaa", "^a"),
    C("aaa", "a?a?a?a?a"), C("aaaa", "(a-)(a+)"), C("abab", "(ab)*"), C("ab*", "b*"),
    C("a(b", "%("), C("aXb", "a[^X]b"), C("a[b", "a[[]b"), C("a-b", "a%-b"),
    C("12ab", "^(%d+)(%a*)$"), C("x=1, y=2", "(%w+)=(%w+)"), C("$100", "%$(%d+)"),
    CI("hello", "l", 4), CI("hello", "l", 5), CI("hello", "l", -1), CI("hello", "l", -2),
    CI("hello", "l", -100), CI("hello", "l", 0), CI("hello", "", 6), CI("hello", "", 7),
    CI("hello", "", 100), CI("hello", "^l", 3), CI("hello", "^h", 1), CI("", "", 1),
    CI("", "", 2), CI("", "a*", -1), CI("abc", "()", 4), CI("hello", "o$", -1),
    CI("abc", "%f[%a]", 2), CI("abc", "%f[%A]", 3), CI("aaa", "a-", INT64_MIN + 1),
    CI("aaa", "a", INT64_MAX),
    CR("hello world", "o", "0", 0, NO_INIT), CR("hello world", "o", "0", 0, 1),
    CR("hello world", "o", "0", 0, 0), CR("hello world", "o", "0", 0, -1),
    CR("hello world", "(o)", "[%1%1]", 0, NO_INIT), CR("hello", "", "-", 0, NO_INIT),
    CR("hello", "x*", "-", 0, NO_INIT), CR("hello", "l*", "-", 0, NO_INIT),
    CR("abc", "%w", "%0%0", 0, NO_INIT), CR("abc", "%w", "%1", 0, NO_INIT),
    CR("abc", "%w", "%2", 0, NO_INIT), CR("abc", "%w", "%%", 0, NO_INIT),
    CR("abc", "%w", "%", 0, NO_INIT), CR("abc", "%w", "x%", 0, NO_INIT),
    CR("abc", "%w", "%x", 0, NO_INIT), CR("abc", "(%w)()", "%2:%1", 0, NO_INIT),
    CR("abc", "(b", "x", 0, NO_INIT), CR("abc", "(b", "%1", 0, NO_INIT),
    CR("abc", "^a", "x", 0, NO_INIT), CR("abc", "^b", "x", 0, NO_INIT),
    CR("abc", "^", "x", 0, NO_INIT), CR("abc", "$", "x", 0, NO_INIT),
    CR("a,b,c", ",", "%0%0", 0, 2), CR("hello", "x", "y", 0, NO_INIT),
    CR("a b c", "%w", "", 1, NO_INIT), CR("a b c", "(%w)()", "", 1, NO_INIT),
    CR("ab abc a", "%w+", "", 2, NO_INIT), CR("ab abc", "()%w+", "", 2, NO_INIT),
    CR("a b c", "%w", "", 3, NO_INIT), CR("a c", "%w", "", 3, NO_INIT),
    CR("abc", "%w", "", 4, NO_INIT), CR("abc(", "[%w(]", "", 5, NO_INIT),
    CR("abab", "ab", "", 5, NO_INIT), CR("abc", "()", "", 5, NO_INIT),
    CR("abc", "(b", "", 5, NO_INIT), CR("abc", "(b", "", 1, NO_INIT),
    CR("abc", "b", "", 6, NO_INIT), CR("abc", "b", "", 7, NO_INIT),
    CR("abc", "", "", 1, 2),
    { "a\0b", "\0", NO_INIT, -1, "[%0]", 0, NO_INIT, 3, 1 },
    { "a\0b\0", "%z", NO_INIT, -1, "z", 0, NO_INIT, 4, 0 },
    { "a\0b", "[\0]", NO_INIT, -1, "z", 0, NO_INIT, 3, 3 },
    { "a\0b", "[%z]", NO_INIT, -1, "z", 0, NO_INIT, 3, 0 },
    { "a\0b", "%f[\0]", NO_INIT, -1, "|", 0, NO_INIT, 3, 5 },
    { "a\0b", "%f[%w\0]", NO_INIT, -1, "|", 0, NO_INIT, 3, 7 },
    { "a\0b", "a\0b", NO_INIT, 1, "x", 0, NO_INIT, 3, 3 },
    { "a\0b", "\0b", 2, 0, "x", 0, NO_INIT, 3, 2 },
    { "a.b", ".", NO_INIT, 1, "x", 0, NO_INIT, 0, 0 },
    { "a.b", "", 3, 1, "x", 0, NO_INIT, 0, 0 },
    { "a.b", "", 5, 1, "x", 0, NO_INIT, 0, 0 },
    { "a.b", "b", -1, 1, "x", 0, NO_INIT, 0, 0 },
    { "a(b", "(", NO_INIT, 1, "x", 0, NO_INIT, 0, 0 },
    { "a(b", "(", NO_INIT, 0, "x", 0, NO_INIT, 0, 0 },
    { "a(b", "%b", NO_INIT, 1, "x", 0, NO_INIT, 0, 0 },
};

/* Patterns near the depth bound: n items that each nest a call; 199 work, 200 fail. */
static int depth_cases(lua_State *L) {
    static char s[260], p[520];
    int ok = 1;
    for (int n = 195; n <= 205; n++) {
        memset(s, 'a', (size_t)n);
        s[n] = '\0';
        for (int i = 0; i < n; i++)
            memcpy(p + 2 * i, "a?", 2);
        p[2 * n] = '\0';
        struct pcase c = { s, p, NO_INIT, -1, "x", 0, NO_INIT, 0, 0 };
        ok &= run_case(L, &c);
        for (int i = 0; i < n; i++)
            p[2 * i + 1] = '-'; /* each lazy item nests one call deeper too */
        ok &= run_case(L, &c);
    }
    return ok;
}

static void test_differential_edges(void) {
    lua_State *L = new_state(count_check);
    int failed = 0;
    size_t n = sizeof edge_cases / sizeof edge_cases[0];
    for (size_t i = 0; i < n; i++)
        failed += !run_case(L, &edge_cases[i]);
    failed += !depth_cases(L);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(global_int(L, "skipped"), 0);
    fprintf(stderr, "  %zu edge cases + 22 depth cases, %ld comparisons, %d differ\n", n,
            global_int(L, "compared"), failed);
    lua_close(L);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *pick_from(const char *const *list, size_t n) {
    return list[rnd((unsigned)n)];
}

#define PICK(list) pick_from(list, sizeof list / sizeof list[0])

struct buf {
    char s[256];
    size_t n;
};

static void put(struct buf *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l < sizeof b->s) {
        memcpy(b->s + b->n, s, l);
        b->n += l;
    }
}

static void put_set(struct buf *b) {
    static const char *const parts[] = { "a", "b", "]", "-", "^", "a-c", "%a", "%D",
                                         "%]", "%%", "(", ".", "%s", "z-a", "%" };
    put(b, "[");
    if (rnd(3) == 0)
        put(b, "^");
    for (unsigned k = rnd(4); k > 0; k--)
        put(b, PICK(parts));
    if (rnd(20))
        put(b, "]");
}

static void put_class(struct buf *b) {
    static const char *const singles[] = { "a", "b", "c", " ", "(", ".", "%a", "%d", "%s",
                                           "%w", "%p", "%l", "%u", "%x", "%A", "%S", "%.",
                                           "%%", "%(", "%[", "%z", "$", "^", "-" };
    if (rnd(5) == 0)
        put_set(b);
    else
        put(b, PICK(singles));
    static const char *const quant[] = { "", "", "", "*", "+", "-", "?" };
    put(b, PICK(quant));
}

static void put_items(struct buf *b, int depth, int *quantifiers) {
    for (unsigned k = rnd(5); k > 0; k--) {
        switch (rnd(12)) {
        case 0:
            if (depth < 2) {
                put(b, "(");
                put_items(b, depth + 1, quantifiers);
                put(b, rnd(15) ? ")" : "");
                break;
            }
            /* fall through */
        case 1: put(b, rnd(2) ? "()" : "%1"); break;
        case 2: put(b, rnd(3) ? "%2" : "%0"); break;
        case 3: put(b, rnd(2) ? "%b()" : "%bab"); break;
        case 4: put(b, "%f"); put_set(b); break;
        default:
            if (++*quantifiers < 5)
                put_class(b);
        }
    }
}

static void random_pattern(struct buf *b) {
    b->n = 0;
    if (rnd(8) == 0) { /* noise: mostly malformed */
        static const char noise[] = "ab%[]()^$*+-?.1fbz0";
        for (unsigned k = rnd(9); k > 0; k--)
            b->s[b->n++] = noise[rnd(sizeof noise - 1)];
    } else {
        int quantifiers = 0;
        if (rnd(5) == 0)
            put(b, "^");
        put_items(b, 0, &quantifiers);
        if (rnd(5) == 0)
            put(b, "$");
    }
    b->s[b->n] = '\0';
}

static void random_subject(struct buf *b) {
    static const char alphabet[] = "aabbc  ()[]%-.^$zA1";
    b->n = rnd(rnd(4) ? 11 : 25);
    for (size_t i = 0; i < b->n; i++)
        b->s[i] = rnd(40) ? alphabet[rnd(sizeof alphabet - 1)] : '\0';
    b->s[b->n] = '\0';
}

static void test_differential_random(void) {
    static const char *const repls[] = { "<%0>", "%1", "%1%2", "x", "", "%%", "%", "%3" };
    lua_State *L = new_state(count_check);
    int failed = 0, cases = 0;
    struct buf p, s;
    for (int i = 0; i < 6000; i++) {
        random_pattern(&p);
        for (int j = 0; j < 4; j++) {
            random_subject(&s);
            /* a zero length means strlen, right for the empty strings too */
            struct pcase c = { s.s, p.s, NO_INIT, -1, PICK(repls), (int)rnd(NREPLS + 3),
                               NO_INIT, s.n, p.n };
            if (rnd(3) == 0)
                c.init = (int64_t)rnd(15) - 7;
            if (rnd(4) == 0)
                c.plain = (int)rnd(2);
            if (rnd(4) == 0)
                c.max_n = (int64_t)rnd(4) - 1;
            if (c.kind > NREPLS)
                c.kind = 0;
            cases++;
            failed += !run_case(L, &c);
        }
    }
    CHECK_EQ_INT(failed, 0);
    fprintf(stderr, "  %d random cases, %ld comparisons (%ld errors, %ld non-nil), "
            "%ld skipped (budget), %d differ\n", cases, global_int(L, "compared"),
            global_int(L, "errors"), global_int(L, "found"), global_int(L, "skipped"), failed);
    CHECK(global_int(L, "skipped") < 20);
    lua_close(L);
}

/* Runs code in L with P as ours; returns the error message (or "") in a static buffer. */
static const char *run_lua(lua_State *L, const char *code) {
    static char msg[256];
    msg[0] = '\0';
    if (luaL_dostring(L, code) != LUA_OK) {
        snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return msg;
}

static void test_catastrophic_pattern_aborts(void) {
    static const char *const calls[] = {
        "P.find(string.rep('a', 5000), '.-.-.-.-.-.-b')",
        "P.match(string.rep('a', 5000), '(.*)(.*)(.*)(.*)(.*)b')",
        "for _ in P.gmatch(string.rep('a', 5000), 'a*a*a*a*a*a*b') do end",
        "P.gsub(string.rep('a', 5000), '.-.-.-.-.-.-b', 'x')",
        "P.find(string.rep('(', 5000), '%b()')",
        "P.find(string.rep('a', 5000), '(.-)(.-)%1%2b')",
    };
    lua_State *L = new_state(count_check);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        budget_checks = 0;
        budget_limit = 50;
        const char *err = run_lua(L, calls[i]);
        CHECK_CONTAINS(err, "pattern matching exceeded the time budget");
        /* stopped at the 50th check, i.e. after about 50 * 1024 steps */
        CHECK_EQ_INT(budget_checks, 50);
    }
    lua_close(L);
}

static int raising_check(lua_State *L, void *ud) {
    int *n = ud;
    if (++*n == 3)
        return luaL_error(L, "handler time budget spent");
    return 0;
}

/* The sandbox's deadline check may raise its own error; the state stays usable. */
static void test_check_may_raise(void) {
    int n = 0;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    pattern_open(L, raising_check, &n);
    lua_setglobal(L, "P");
    const char *err = run_lua(L, "P.gsub(string.rep('a', 3000), '.-.-.-b', 'x')");
    CHECK_CONTAINS(err, "handler time budget spent");
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(run_lua(L, "assert(P.gsub('abc', '%w', '%0.') == 'a.b.c.')"), "");
    lua_close(L);
}

static lua_State *seen_thread;

static int thread_check(lua_State *L, void *ud) {
    seen_thread = L;
    return 1;
}

/* check gets the running coroutine, where a sandbox keeps its per-event context. */
static void test_check_sees_running_thread(void) {
    lua_State *L = new_state(thread_check);
    lua_State *co = lua_newthread(L);
    luaL_loadstring(co, "local it = P.gmatch(string.rep('a', 5000), 'a*b') return it()");
    int nres;
    CHECK_EQ_INT(lua_resume(co, L, 0, &nres), LUA_ERRRUN);
    CHECK(seen_thread == co);
    seen_thread = NULL;
    co = lua_newthread(L);
    luaL_loadstring(co, "return P.find(string.rep('a', 5000), 'a*b')");
    CHECK_EQ_INT(lua_resume(co, L, 0, &nres), LUA_ERRRUN);
    CHECK(seen_thread == co);
    lua_close(L);
}

static void test_depth_and_capture_bounds(void) {
    lua_State *L = new_state(NULL);
    CHECK_CONTAINS(run_lua(L, "P.find(string.rep('a', 300), string.rep('a?', 300))"),
                   "pattern too complex");
    CHECK_CONTAINS(run_lua(L, "P.match('x', string.rep('(', 40) .. 'x')"),
                   "too many captures");
    /* after the error the same gmatch iterator still works within the bound */
    CHECK_EQ_STR(run_lua(L, "local it = P.gmatch(string.rep('a', 300), 'a?a?a?')\n"
                            "assert(it() == 'aaa')"), "");
    lua_close(L);
}

static void test_yield_in_replacement_fails_cleanly(void) {
    lua_State *L = new_state(NULL);
    const char *err = run_lua(L, "local co = coroutine.wrap(function()\n"
                                 "  return P.gsub('abc', 'b', function() coroutine.yield() end)\n"
                                 "end)\nco()");
    CHECK_CONTAINS(err, "attempt to yield across a C-call boundary");
    lua_close(L);
}

/* A 1 MB subject through every function, compared with stock Lua; the budget is
 * counted but never stops these linear-time patterns. */
static void test_big_subject(void) {
    lua_State *L = new_state(count_check);
    budget_checks = 0;
    budget_limit = 0;
    const char *err = run_lua(L,
        "local s = string.rep('hello world, lua 5.4! ', 47663)\n"
        "assert(#s >= 1 << 20)\n"
        "local function same(a, b) assert(a == b, tostring(a) .. ' ~= ' .. tostring(b)) end\n"
        "same(select(2, P.gsub(s, '%w+', string.upper)), select(2, s:gsub('%w+', string.upper)))\n"
        "same(P.gsub(s, '(%w+) (%w+)', '%2 %1'), s:gsub('(%w+) (%w+)', '%2 %1'))\n"
        "same(P.gsub(s, '%s+', {[' '] = '_'}), s:gsub('%s+', {[' '] = '_'}))\n"
        "local n = 0 for w in P.gmatch(s, '%a+') do n = n + 1 end\n"
        "local m = 0 for w in s:gmatch('%a+') do m = m + 1 end same(n, m)\n"
        "same(P.find(s, 'lua 5.4!$'), s:find('lua 5.4!$'))\n"
        "same(P.find(s, 'xyz', 1, true), nil)\n"
        "same(P.find(s, '5.4! ', -30, true), s:find('5.4! ', -30, true))\n"
        "same(P.match(s, '^(.-)%s*$'), s:match('^(.-)%s*$'))\n"
        "same(#P.match(s, '.*'), #s)\n");
    CHECK_EQ_STR(err, "");
    CHECK(budget_checks > 100); /* the steps were counted */
    lua_close(L);
}

int main(void) {
    RUN(test_differential_edges);
    RUN(test_differential_random);
    RUN(test_catastrophic_pattern_aborts);
    RUN(test_check_may_raise);
    RUN(test_check_sees_running_thread);
    RUN(test_depth_and_capture_bounds);
    RUN(test_yield_in_replacement_fails_cleanly);
    RUN(test_big_subject);
    return test_report();
}
