/* The matcher: Lua 5.4 patterns (reference manual §6.4.1) by backtracking.
 *
 * Compatibility is the point, so the quirks are Lua's: a set's first character is
 * never its closing ']', "$" anchors only as the last pattern character, a frontier
 * sees '\0' before the subject and after it, a back-reference to a position capture
 * never matches. The depth bound is Lua's too: the matcher recurses at exactly the
 * places Lua's does (captures, '?' that matched, '*', '+', '-'), so "pattern too
 * complex" happens for exactly the same patterns and subjects. */
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "pattern/pattern_int.h"

#define ESC '%'

#define uchar(c) ((unsigned char)(c))

void pattern_state_init(struct pattern_state *ms, lua_State *L, pattern_check_fn check,
                        void *ud, const char *s, size_t ls, const char *p, size_t lp) {
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
    ms->check = check;
    ms->ud = ud;
    ms->steps = PATTERN_CHECK_STEPS;
    pattern_state_reset(ms);
}

void pattern_state_reset(struct pattern_state *ms) {
    ms->level = 0;
    ms->depth = PATTERN_MAXDEPTH;
}

void pattern_charge(struct pattern_state *ms, long cost) {
    ms->steps -= cost;
    if (ms->steps > 0)
        return;
    ms->steps = PATTERN_CHECK_STEPS;
    if (ms->check && ms->check(ms->L, ms->ud))
        luaL_error(ms->L, "pattern matching exceeded the time budget");
}

static inline void step(struct pattern_state *ms) {
    if (--ms->steps <= 0)
        pattern_charge(ms, 0);
}

/* %x: x a class letter (upper case for the complement); any other x is itself. */
static int class_match(int c, int cl) {
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    case 'z': res = (c == 0); break; /* deprecated in 5.2, still in 5.4 */
    default: return cl == c;
    }
    return isupper(cl) ? !res : res != 0;
}

/* Is c in the set that opens at p ('[') and closes at end (its ']')? */
static int set_match(int c, const char *p, const char *end) {
    int listed = 1; /* the answer when c is listed */
    if (p[1] == '^') {
        listed = 0;
        p++;
    }
    for (p++; p < end; p++) {
        if (*p == ESC) {
            p++;
            if (class_match(c, uchar(*p)))
                return listed;
        } else if (p[1] == '-' && p + 2 < end) {
            /* a '-' first or last in the set is a plain character */
            if (uchar(p[0]) <= c && c <= uchar(p[2]))
                return listed;
            p += 2;
        } else if (uchar(*p) == c) {
            return listed;
        }
    }
    return !listed;
}

/* Where the single-character class at p ends, i.e. where its quantifier would be. */
static const char *item_end(struct pattern_state *ms, const char *p) {
    char c = *p++;
    if (c == ESC) {
        if (p == ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^')
            p++;
        do { /* the first character is taken before looking for ']': "[]]" is a set */
            if (p == ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*p++ == ESC && p < ms->p_end)
                p++; /* an escaped ']' does not close */
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

/* Does the class from p to ep match the subject character at s? */
static int single_match(struct pattern_state *ms, const char *s, const char *p,
                        const char *ep) {
    if (s >= ms->src_end)
        return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case ESC: return class_match(c, uchar(p[1]));
    case '[': return set_match(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

/* '*' and '+': take as many as possible, then give back one at a time. */
static const char *expand_greedy(struct pattern_state *ms, const char *s, const char *p,
                                 const char *ep) {
    ptrdiff_t n = 0;
    while (single_match(ms, s + n, p, ep)) {
        step(ms);
        n++;
    }
    for (; n >= 0; n--) {
        const char *res = pattern_match(ms, s + n, ep + 1);
        if (res)
            return res;
    }
    return NULL;
}

/* '-': take as few as possible, one more each time the rest fails. */
static const char *expand_lazy(struct pattern_state *ms, const char *s, const char *p,
                               const char *ep) {
    for (;;) {
        const char *res = pattern_match(ms, s, ep + 1);
        if (res)
            return res;
        if (!single_match(ms, s, p, ep))
            return NULL;
        s++;
    }
}

/* The end of a %bxy match starting at s, or NULL. */
static const char *balance_end(struct pattern_state *ms, const char *s, char open,
                               char close) {
    if (s >= ms->src_end || *s != open)
        return NULL;
    int depth = 1;
    while (++s < ms->src_end) {
        step(ms);
        if (*s == close) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static int capture_to_close(struct pattern_state *ms) {
    for (int l = ms->level - 1; l >= 0; l--)
        if (ms->capture[l].len == PATTERN_CAP_UNFINISHED)
            return l;
    return luaL_error(ms->L, "invalid pattern capture");
}

/* Each item_* handler matches the pattern item at p against the subject at *s. It
 * returns where matching goes on in the pattern, with *s advanced past what it took;
 * or NULL when the outcome is settled by a recursive match (or a failure): then *s is
 * the end of the whole match, or NULL. */

static const char *item_open(struct pattern_state *ms, const char **s, const char *p) {
    ptrdiff_t what = PATTERN_CAP_UNFINISHED;
    p++;
    if (*p == ')') { /* "()" captures the position */
        what = PATTERN_CAP_POSITION;
        p++;
    }
    if (ms->level >= PATTERN_MAXCAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->capture[ms->level].init = *s;
    ms->capture[ms->level].len = what;
    ms->level++;
    if ((*s = pattern_match(ms, *s, p)) == NULL)
        ms->level--;
    return NULL;
}

static const char *item_close(struct pattern_state *ms, const char **s, const char *p) {
    int l = capture_to_close(ms);
    ms->capture[l].len = *s - ms->capture[l].init;
    if ((*s = pattern_match(ms, *s, p + 1)) == NULL)
        ms->capture[l].len = PATTERN_CAP_UNFINISHED;
    return NULL;
}

static const char *item_balance(struct pattern_state *ms, const char **s, const char *p) {
    p += 2;
    if (p >= ms->p_end - 1)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    *s = balance_end(ms, *s, p[0], p[1]);
    return *s ? p + 2 : NULL;
}

/* %f[set]: the previous character is not in the set and the next one is. */
static const char *item_frontier(struct pattern_state *ms, const char **s, const char *p) {
    p += 2;
    if (*p != '[')
        luaL_error(ms->L, "missing '[' after '%%f' in pattern");
    const char *ep = item_end(ms, p);
    int prev = *s == ms->src_init ? 0 : uchar((*s)[-1]);
    int next = *s < ms->src_end ? uchar(**s) : 0;
    if (!set_match(prev, p, ep - 1) && set_match(next, p, ep - 1))
        return ep;
    *s = NULL;
    return NULL;
}

/* %1-%9: the same text as that capture again. */
static const char *item_backref(struct pattern_state *ms, const char **s, const char *p) {
    int l = p[1] - '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == PATTERN_CAP_UNFINISHED)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    /* a position capture's negative length turns huge: it never matches */
    size_t len = (size_t)ms->capture[l].len;
    if ((size_t)(ms->src_end - *s) >= len) {
        pattern_charge(ms, (long)(len / 64));
        if (memcmp(ms->capture[l].init, *s, len) == 0) {
            *s += len;
            return p + 2;
        }
    }
    *s = NULL;
    return NULL;
}

/* A single-character class with an optional quantifier. */
static const char *item_single(struct pattern_state *ms, const char **s, const char *p) {
    const char *ep = item_end(ms, p);
    if (!single_match(ms, *s, p, ep)) {
        if (*ep == '*' || *ep == '?' || *ep == '-')
            return ep + 1; /* zero repetitions are fine */
        *s = NULL;
        return NULL;
    }
    switch (*ep) {
    case '?': {
        const char *res = pattern_match(ms, *s + 1, ep + 1);
        if (res) {
            *s = res;
            return NULL;
        }
        return ep + 1;
    }
    case '+': *s = expand_greedy(ms, *s + 1, p, ep); return NULL;
    case '*': *s = expand_greedy(ms, *s, p, ep); return NULL;
    case '-': *s = expand_lazy(ms, *s, p, ep); return NULL;
    default: (*s)++; return ep;
    }
}

static const char *item_escape(struct pattern_state *ms, const char **s, const char *p) {
    switch (p[1]) {
    case 'b': return item_balance(ms, s, p);
    case 'f': return item_frontier(ms, s, p);
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return item_backref(ms, s, p);
    default: return item_single(ms, s, p);
    }
}

static const char *item(struct pattern_state *ms, const char **s, const char *p) {
    switch (*p) {
    case '(': return item_open(ms, s, p);
    case ')': return item_close(ms, s, p);
    case '$':
        if (p + 1 != ms->p_end)
            return item_single(ms, s, p); /* a '$' elsewhere is a plain character */
        if (*s != ms->src_end)
            *s = NULL;
        return NULL;
    case ESC: return item_escape(ms, s, p);
    default: return item_single(ms, s, p);
    }
}

const char *pattern_match(struct pattern_state *ms, const char *s, const char *p) {
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    while (p != ms->p_end) {
        step(ms);
        p = item(ms, &s, p);
        if (p == NULL)
            break;
    }
    ms->depth++;
    return s;
}
