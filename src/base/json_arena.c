#include "base/json_arena.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <locale.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 1000     /* cJSON's CJSON_NESTING_LIMIT */
#define ARENA_FIRST_MIN 2048

/* A block holds nodes from its start up and strings from its end down, so neither pays
 * for the other's alignment; a parse moves to a new, bigger block when they meet. */
struct arena_block {
    struct arena_block *next;
    alignas(max_align_t) unsigned char data[];
};

/* The first block's bytes follow the arena itself: one malloc for a typical event. */
struct json_arena {
    struct arena_block *more;   /* the blocks after the first, newest first */
    size_t next_cap;
    alignas(max_align_t) unsigned char data[];
};

struct parser {
    const unsigned char *p, *end;
    struct json_arena *arena;
    unsigned char *lo, *hi;      /* free bytes of the current block */
};

/* A new block of at least need bytes, twice the last one's size: few blocks however big
 * the text. */
static int arena_grow(struct parser *ps, size_t need) {
    struct json_arena *a = ps->arena;
    size_t cap = a->next_cap > need ? a->next_cap : need;
    if (cap > SIZE_MAX / 4) return -1;
    struct arena_block *b = malloc(sizeof *b + cap);
    if (!b) return -1;
    b->next = a->more;
    a->more = b;
    a->next_cap = cap * 2;
    ps->lo = b->data;
    ps->hi = b->data + cap;
    return 0;
}

static inline cJSON *node_new(struct parser *ps) {
    if ((size_t)(ps->hi - ps->lo) < sizeof(cJSON) && arena_grow(ps, sizeof(cJSON)) < 0)
        return NULL;
    cJSON *n = (cJSON *)(void *)ps->lo;
    ps->lo += sizeof(cJSON);
    memset(n, 0, sizeof *n);
    return n;
}

static inline char *bytes_new(struct parser *ps, size_t n) {
    if ((size_t)(ps->hi - ps->lo) < n && arena_grow(ps, n) < 0) return NULL;
    ps->hi -= n;
    return (char *)ps->hi;
}

/* cJSON's list: next forward, prev backward, and the first child's prev is the last. */
static inline void child_append(cJSON *parent, cJSON *c) {
    cJSON *head = parent->child;
    if (!head) {
        parent->child = c;
        c->prev = c;
        return;
    }
    cJSON *tail = head->prev;
    tail->next = c;
    c->prev = tail;
    head->prev = c;
}

static inline const unsigned char *ws_skip(const unsigned char *p, const unsigned char *end) {
    while (p < end && *p <= ' ') p++;
    return p;
}

/* Bytes that end a string's plain run: the closing quote and an escape. */
static inline int byte_stops(unsigned char c) { return c == '"' || c == '\\'; }

#define ONES ((uint64_t)0x0101010101010101ULL)
#define HIGHS ((uint64_t)0x8080808080808080ULL)

/* The first '"' or '\\' at or after p, or end: eight bytes a step, the word that holds
 * one (or only seems to) is searched bytewise. */
static const unsigned char *stop_find(const unsigned char *p, const unsigned char *end) {
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        if (((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS)) break;
        p += 8;
    }
    while (p < end && !byte_stops(*p)) p++;
    return p;
}

static int hex4(const unsigned char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* One \uXXXX (or a surrogate pair of them) at r, before close, as UTF-8 at *w. Returns
 * the escape's length, 0 when malformed. */
static size_t unicode_decode(const unsigned char *r, const unsigned char *close,
                             unsigned char **w) {
    if (close - r < 6) return 0;
    int hi = hex4(r + 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF)) return 0;
    unsigned long cp = (unsigned long)hi;
    size_t len = 6;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        const unsigned char *s = r + 6;
        if (close - s < 6 || s[0] != '\\' || s[1] != 'u') return 0;
        int lo = hex4(s + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) return 0;
        cp = 0x10000 + (((unsigned long)hi & 0x3FF) << 10 | ((unsigned long)lo & 0x3FF));
        len = 12;
    }
    unsigned char *o = *w;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;   /* \u0000 too: the C string ends there, as in cJSON */
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *w = o;
    return len;
}

/* The escapes from r (a backslash) to close, written at w; NULL when one is malformed. */
static unsigned char *escapes_decode(const unsigned char *r, const unsigned char *close,
                                     unsigned char *w) {
    while (r < close) {
        if (*r != '\\') {
            *w++ = *r++;
            continue;
        }
        size_t len = 2;
        switch (r[1]) {     /* r + 1 < close: the closing quote is never escaped */
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case '"': case '\\': case '/': *w++ = r[1]; break;
        case 'u':
            if (!(len = unicode_decode(r, close, &w))) return NULL;
            break;
        default: return NULL;
        }
        r += len;
    }
    return w;
}

/* The string whose opening quote is at ps->p, unescaped into the arena. Its bytes are
 * copied once: found first (a quote ends it unless a backslash escapes it, as cJSON
 * scans), then copied or decoded, never longer than they were escaped. */
static char *string_parse(struct parser *ps) {
    const unsigned char *s = ps->p + 1, *end = ps->end;
    const unsigned char *stop = stop_find(s, end), *close = stop;
    while (close < end && *close != '"') {
        if (*close == '\\' && ++close == end) return NULL;
        close = stop_find(close + 1, end);
    }
    if (close == end) return NULL;
    unsigned char *out = (unsigned char *)bytes_new(ps, (size_t)(close - s) + 1);
    if (!out) return NULL;
    memcpy(out, s, (size_t)(stop - s));
    unsigned char *w = out + (stop - s);
    if (stop != close && !(w = escapes_decode(stop, close, w))) return NULL;
    *w = '\0';
    ps->p = close + 1;
    return (char *)out;
}

static const unsigned char number_bytes[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1,
};

/* cJSON's number: the run of number bytes, through strtod in the current locale (so the
 * double is the one cJSON computes), which must take all of it. Rare in events. */
static int number_parse(struct parser *ps, cJSON *node) {
    const unsigned char *s = ps->p, *e = s;
    while (e < ps->end && number_bytes[*e]) e++;
    size_t n = (size_t)(e - s);
    char small[64], *buf = n < sizeof small ? small : bytes_new(ps, n + 1);
    if (!buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char point = localeconv()->decimal_point[0];
    if (point != '.')
        for (char *c = memchr(buf, '.', n); c; c = memchr(c + 1, '.', n - (size_t)(c + 1 - buf)))
            *c = point;
    char *after;
    double d = strtod(buf, &after);
    if (after != buf + n) return -1;   /* what strtod leaves can follow no value */
    node->type = cJSON_Number;
    node->valuedouble = d;
    node->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    ps->p = e;
    return 0;
}

/* One literal or scalar at ps->p into node; -1 when malformed. */
static int scalar_parse(struct parser *ps, cJSON *node) {
    const unsigned char *p = ps->p;
    size_t left = (size_t)(ps->end - p);
    switch (*p) {
    case '"':
        node->type = cJSON_String;
        return (node->valuestring = string_parse(ps)) ? 0 : -1;
    case 'n':
        if (left < 4 || memcmp(p, "null", 4) != 0) return -1;
        node->type = cJSON_NULL;
        ps->p += 4;
        return 0;
    case 't':
        if (left < 4 || memcmp(p, "true", 4) != 0) return -1;
        node->type = cJSON_True;
        node->valueint = 1;
        ps->p += 4;
        return 0;
    case 'f':
        if (left < 5 || memcmp(p, "false", 5) != 0) return -1;
        node->type = cJSON_False;
        ps->p += 5;
        return 0;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return number_parse(ps, node);
    default:
        return -1;
    }
}

/* The whole value at ps->p, iteratively: open holds the arrays and objects not yet
 * closed, innermost last. NULL when malformed or out of memory (the arena keeps the
 * pieces, freed with it). */
static cJSON *tree_parse(struct parser *ps) {
    cJSON *open[JSON_DEPTH_MAX];
    size_t depth = 0;
    cJSON *root = NULL, *parent = NULL;
    char *key = NULL;

value:
    ps->p = ws_skip(ps->p, ps->end);
    if (ps->p == ps->end) return NULL;
    cJSON *node = node_new(ps);
    if (!node) return NULL;
    node->string = key;
    if (parent) child_append(parent, node);
    else root = node;
    if (*ps->p == '{' || *ps->p == '[') {
        if (depth == JSON_DEPTH_MAX) return NULL;
        node->type = *ps->p == '{' ? cJSON_Object : cJSON_Array;
        open[depth++] = parent = node;
        ps->p = ws_skip(ps->p + 1, ps->end);
        if (ps->p < ps->end && *ps->p == (node->type == cJSON_Object ? '}' : ']')) {
            ps->p++;
            goto closed;
        }
        if (node->type == cJSON_Object) goto member;
        key = NULL;
        goto value;
    }
    if (scalar_parse(ps, node) < 0) return NULL;

next:
    if (!depth) return root;
    ps->p = ws_skip(ps->p, ps->end);
    if (ps->p == ps->end) return NULL;
    if (*ps->p == ',') {
        ps->p++;
        if (parent->type == cJSON_Object) goto member;
        key = NULL;
        goto value;
    }
    if (*ps->p != (parent->type == cJSON_Object ? '}' : ']')) return NULL;
    ps->p++;
closed:
    depth--;
    parent = depth ? open[depth - 1] : NULL;
    goto next;

member:
    ps->p = ws_skip(ps->p, ps->end);
    if (ps->p == ps->end || *ps->p != '"' || !(key = string_parse(ps))) return NULL;
    ps->p = ws_skip(ps->p, ps->end);
    if (ps->p == ps->end || *ps->p != ':') return NULL;
    ps->p++;
    goto value;
}

cJSON *json_arena_parse(const char *s, size_t n, struct json_arena **arena) {
    *arena = NULL;
    if (!s) return NULL;
    /* nodes take ~2x the text of a typical event, strings at most 1x */
    size_t cap = n < (SIZE_MAX - ARENA_FIRST_MIN) / 4 ? n * 3 + ARENA_FIRST_MIN : SIZE_MAX / 2;
    struct json_arena *a = malloc(sizeof *a + cap);
    if (!a) return NULL;
    a->more = NULL;
    a->next_cap = cap * 2;
    struct parser ps = { (const unsigned char *)s, (const unsigned char *)s + n, a,
                         a->data, a->data + cap };
    if (n >= 5 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) ps.p += 3;   /* cJSON's BOM rule */
    cJSON *root = tree_parse(&ps);
    while (root && ps.p < ps.end &&
           (*ps.p == ' ' || *ps.p == '\t' || *ps.p == '\n' || *ps.p == '\r'))
        ps.p++;
    if (!root || ps.p != ps.end) {
        json_arena_free(a);
        return NULL;
    }
    *arena = a;
    return root;
}

void json_arena_free(struct json_arena *a) {
    if (!a) return;
    for (struct arena_block *b = a->more, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}
