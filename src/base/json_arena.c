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
#define NODE_ALIGN alignof(max_align_t)

/* A block holds strings from its start up and nodes from its end down, so strings pay
 * no alignment; a parse moves to a new, bigger block when they meet. */
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
    const unsigned char *end;
    struct json_arena *arena;
    unsigned char *lo, *hi;      /* free bytes of the current block */
};

static void parser_block(struct parser *ps, unsigned char *data, size_t cap) {
    ps->lo = data;
    ps->hi = data + (cap & ~(size_t)(NODE_ALIGN - 1));
}

/* A new block of at least need bytes, twice the last one's size: few blocks however big
 * the text. */
static int arena_grow(struct parser *ps, size_t need) {
    struct json_arena *a = ps->arena;
    size_t cap = a->next_cap > need + NODE_ALIGN ? a->next_cap : need + NODE_ALIGN;
    if (cap > SIZE_MAX / 4) return -1;
    struct arena_block *b = malloc(sizeof *b + cap);
    if (!b) return -1;
    b->next = a->more;
    a->more = b;
    a->next_cap = cap * 2;
    parser_block(ps, b->data, cap);
    return 0;
}

static inline cJSON *node_new(struct parser *ps) {
    if ((size_t)(ps->hi - ps->lo) < sizeof(cJSON) && arena_grow(ps, sizeof(cJSON)) < 0)
        return NULL;
    ps->hi -= sizeof(cJSON);
    cJSON *n = (cJSON *)(void *)ps->hi;
    memset(n, 0, sizeof *n);
    return n;
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

/* One \uXXXX (or a surrogate pair of them) at r as UTF-8 at *w. Returns the escape's
 * length, 0 when malformed. The text's end is the bound: where cJSON checks the string's
 * closing quote, that quote is a non-hex digit here, refused all the same. */
static size_t unicode_decode(const unsigned char *r, const unsigned char *end,
                             unsigned char **w) {
    if (end - r < 6) return 0;
    int hi = hex4(r + 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF)) return 0;
    unsigned long cp = (unsigned long)hi;
    size_t len = 6;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        const unsigned char *s = r + 6;
        if (end - s < 6 || s[0] != '\\' || s[1] != 'u') return 0;
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

/* One escape at r (a backslash) written at *w; its length, 0 when malformed. */
static size_t escape_decode(const unsigned char *r, const unsigned char *end,
                            unsigned char **w) {
    if (end - r < 2) return 0;
    unsigned char c;
    switch (r[1]) {
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case '"': case '\\': case '/': c = r[1]; break;
    case 'u': return unicode_decode(r, end, w);
    default: return 0;
    }
    *(*w)++ = c;
    return 2;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_SCAN 1
#define ONES ((uint64_t)0x0101010101010101ULL)
#define HIGHS ((uint64_t)0x8080808080808080ULL)

/* The high bit of each byte of w that is '"' or '\\'; the lowest set bit is exact (the
 * borrow can only mark bytes above a real match). */
static inline uint64_t word_stops(uint64_t w) {
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS;
}
#endif

/* The string whose opening quote is at p, unescaped straight into the arena in one pass:
 * escapes never grow, so the rest of the text bounds it, and plain runs go eight bytes a
 * step. cJSON finds the closing quote first (a backslash escapes the next byte), then
 * decodes; one pass ends at the same quote because a \u's four digits, all hex here, are
 * never a quote or a backslash. Returns what follows the closing quote, NULL when
 * malformed or out of memory. */
static const unsigned char *string_parse(struct parser *ps, const unsigned char *p, char **out) {
    const unsigned char *r = p + 1, *end = ps->end;
    size_t bound = (size_t)(end - r) + 1;
    if ((size_t)(ps->hi - ps->lo) < bound && arena_grow(ps, bound) < 0) return NULL;
    unsigned char *start = ps->lo, *w = start;
    for (;;) {
#ifdef WORD_SCAN
        while (end - r >= 8) {
            uint64_t v;
            memcpy(&v, r, 8);
            memcpy(w, &v, 8);    /* past the string's end only into its bound */
            uint64_t stops = word_stops(v);
            if (stops) {
                size_t k = (size_t)__builtin_ctzll(stops) / 8;
                r += k;
                w += k;
                break;
            }
            r += 8;
            w += 8;
        }
#endif
        while (r < end && !byte_stops(*r)) *w++ = *r++;
        if (r == end) return NULL;
        if (*r == '"') break;
        size_t len = escape_decode(r, end, &w);
        if (!len) return NULL;
        r += len;
    }
    *w++ = '\0';
    ps->lo = w;
    *out = (char *)start;
    return r + 1;
}

static const unsigned char number_bytes[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1,
};

/* cJSON's number at p: the run of number bytes through strtod in the current locale (so
 * the double is the one cJSON computes), which must take all of it. Rare in events, so
 * plain. Returns what follows it, NULL when malformed. */
static const unsigned char *number_parse(struct parser *ps, const unsigned char *p,
                                         cJSON *node) {
    const unsigned char *e = p;
    while (e < ps->end && number_bytes[*e]) e++;
    size_t n = (size_t)(e - p);
    char small[64], *buf = small;
    if (n >= sizeof small) {   /* borrowed from the arena's free bytes, not kept */
        if ((size_t)(ps->hi - ps->lo) < n + 1 && arena_grow(ps, n + 1) < 0) return NULL;
        buf = (char *)ps->lo;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    char point = localeconv()->decimal_point[0];
    if (point != '.')
        for (char *c = memchr(buf, '.', n); c; c = memchr(c + 1, '.', n - (size_t)(c + 1 - buf)))
            *c = point;
    char *after;
    double d = strtod(buf, &after);
    if (after != buf + n) return NULL;   /* what strtod leaves can follow no value */
    node->type = cJSON_Number;
    node->valuedouble = d;
    node->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    return e;
}

/* The literal, string or number at p into node. Returns what follows it, NULL when
 * malformed. */
static const unsigned char *scalar_parse(struct parser *ps, const unsigned char *p,
                                         cJSON *node) {
    size_t left = (size_t)(ps->end - p);
    switch (*p) {
    case '"':
        node->type = cJSON_String;
        return string_parse(ps, p, &node->valuestring);
    case 'n':
        node->type = cJSON_NULL;
        return left >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    case 't':
        node->type = cJSON_True;
        node->valueint = 1;
        return left >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        node->type = cJSON_False;
        return left >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return number_parse(ps, p, node);
    default:
        return NULL;
    }
}

/* The value at p, iteratively: open holds the arrays and objects not yet closed,
 * innermost last, so depth costs no C stack. Returns the root and in *after what follows
 * it; NULL when malformed or out of memory (the arena keeps the pieces, freed with it). */
static cJSON *tree_parse(struct parser *ps, const unsigned char *p,
                         const unsigned char **after) {
    const unsigned char *end = ps->end;
    cJSON *open[JSON_DEPTH_MAX];
    size_t depth = 0;
    cJSON *root = NULL, *parent = NULL, *node;
    char *key = NULL;

value:
    p = ws_skip(p, end);
    if (p == end || !(node = node_new(ps))) return NULL;
    node->string = key;
    if (parent) child_append(parent, node);
    else root = node;
    if (*p == '{' || *p == '[') {
        if (depth == JSON_DEPTH_MAX) return NULL;
        node->type = *p == '{' ? cJSON_Object : cJSON_Array;
        open[depth++] = parent = node;
        p = ws_skip(p + 1, end);
        if (p < end && *p == (node->type == cJSON_Object ? '}' : ']')) {
            p++;
            goto closed;
        }
        if (node->type == cJSON_Object) goto member;
        key = NULL;
        goto value;
    }
    if (!(p = scalar_parse(ps, p, node))) return NULL;

next:
    if (!depth) {
        *after = p;
        return root;
    }
    p = ws_skip(p, end);
    if (p == end) return NULL;
    if (*p == ',') {
        p++;
        if (parent->type == cJSON_Object) goto member;
        key = NULL;
        goto value;
    }
    if (*p++ != (parent->type == cJSON_Object ? '}' : ']')) return NULL;
closed:
    depth--;
    parent = depth ? open[depth - 1] : NULL;
    goto next;

member:
    p = ws_skip(p, end);
    if (p == end || *p != '"' || !(p = string_parse(ps, p, &key))) return NULL;
    p = ws_skip(p, end);
    if (p == end || *p != ':') return NULL;
    p++;
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
    struct parser ps = { .end = (const unsigned char *)s + n, .arena = a };
    parser_block(&ps, a->data, cap);
    const unsigned char *p = (const unsigned char *)s, *end = ps.end;
    if (n >= 5 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;   /* cJSON's BOM rule */
    cJSON *root = tree_parse(&ps, p, &p);
    /* after the value, what util_json_parse_one allows */
    while (root && p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (!root || p != end) {
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
