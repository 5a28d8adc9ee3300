#include "base/json_arena.h"

#include <cjson/cJSON.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_ALIGN alignof(max_align_t)
#define ARENA_FIRST_MIN 4096     /* a typical 1-2 KB event fits in the first block */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

struct json_arena {
    struct arena_block *blocks;  /* newest first */
    size_t next_cap;
};

static struct json_arena *parsing;  /* the arena of the parse under way, else NULL */

static void *arena_alloc(struct json_arena *a, size_t n) {
    n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    struct arena_block *b = a->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = a->next_cap > n ? a->next_cap : n;
        if (!(b = malloc(sizeof *b + cap))) return NULL;
        b->next = a->blocks;
        b->used = 0;
        b->cap = cap;
        a->blocks = b;
        a->next_cap = cap * 2;   /* "[1,1,1,...]" costs ~32 bytes of nodes per byte */
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static int arena_owns(const struct json_arena *a, const void *p) {
    for (const struct arena_block *b = a->blocks; b; b = b->next)
        if ((uintptr_t)p >= (uintptr_t)b->data && (uintptr_t)p < (uintptr_t)(b->data + b->cap))
            return 1;
    return 0;
}

static void *hook_malloc(size_t n) { return parsing ? arena_alloc(parsing, n) : malloc(n); }

/* cJSON frees what it built when a parse fails: inside the arena that is a no-op. */
static void hook_free(void *p) {
    if (!parsing || !arena_owns(parsing, p)) free(p);
}

static void hooks_install(void) {
    static int installed;
    if (installed) return;
    cJSON_Hooks hooks = { hook_malloc, hook_free };
    cJSON_InitHooks(&hooks);
    installed = 1;
}

cJSON *json_arena_parse(const char *s, size_t n, struct json_arena **arena) {
    *arena = NULL;
    hooks_install();
    struct json_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->next_cap = n * 4 > ARENA_FIRST_MIN ? n * 4 : ARENA_FIRST_MIN;
    const char *end = NULL;
    parsing = a;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    parsing = NULL;
    /* cJSON stops after the first value; anything but whitespace after it is garbage */
    while (root && end < s + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (!root || end != s + n) {
        json_arena_free(a);
        return NULL;
    }
    *arena = a;
    return root;
}

void json_arena_free(struct json_arena *a) {
    if (!a) return;
    for (struct arena_block *b = a->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}
