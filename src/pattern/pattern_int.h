/* The matcher's state, shared by pattern_match.c (the matcher) and pattern_lib.c (the
 * Lua functions); no other module uses it. */
#ifndef LARKGW_PATTERN_PATTERN_INT_H
#define LARKGW_PATTERN_PATTERN_INT_H

#include <stddef.h>

#include "pattern/pattern.h"

#define PATTERN_MAXCAPTURES 32
#define PATTERN_MAXDEPTH 200
#define PATTERN_CAP_UNFINISHED (-1)
#define PATTERN_CAP_POSITION (-2)

struct pattern_state {
    lua_State *L;
    const char *src_init, *src_end; /* subject; *src_end is its '\0' */
    const char *p_end;              /* end of pattern; *p_end is its '\0' */
    int depth;                      /* nested matcher calls left */
    int level;                      /* captures in use */
    long steps;                     /* steps left before the next check */
    pattern_check_fn check;
    void *ud;
    struct {
        const char *init;
        ptrdiff_t len; /* a length, or PATTERN_CAP_UNFINISHED / _POSITION */
    } capture[PATTERN_MAXCAPTURES];
};

/* s and p are Lua strings (NUL-terminated past ls and lp), alive while ms is used. */
void pattern_state_init(struct pattern_state *ms, lua_State *L, pattern_check_fn check,
                        void *ud, const char *s, size_t ls, const char *p, size_t lp);

/* Before each match attempt: forgets captures, restores the depth bound. */
void pattern_state_reset(struct pattern_state *ms);

/* Matches pattern p (up to ms->p_end, no leading '^' handling) at s. Returns the end
 * of the match, or NULL. Raises on malformed patterns, depth and budget. */
const char *pattern_match(struct pattern_state *ms, const char *s, const char *p);

/* Bills cost steps; runs the check (and may raise) when the allowance is spent. */
void pattern_charge(struct pattern_state *ms, long cost);

#endif
