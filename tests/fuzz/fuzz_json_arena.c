/* Differential: json_arena_parse against cJSON (util_json_parse_one) on the same bytes.
 * Both accept or both refuse, and when both accept the trees are the same node for node
 * (type, key, string, valueint, the double's bits, next/prev/child links as cJSON links
 * them) and print byte-identically. The one deliberate difference (base/json_arena.h):
 * a \u with a non-hex digit, which cJSON reads as \u0000, is refused. Any other
 * disagreement aborts. */
#include <ctype.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_arena.h"
#include "base/util.h"

static void fail(const char *what) {
    fprintf(stderr, "fuzz_json_arena: %s\n", what);
    abort();
}

/* A \u whose next four bytes are not all hex, pairing backslashes with the byte after
 * them as cJSON's string scan does. When cJSON accepted the text every backslash is in
 * a string and escapes before the first such \u pair alike, so cJSON decoded it. */
static int bad_unicode_escape(const uint8_t *d, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (d[i] != '\\') continue;
        if (d[i + 1] == 'u')
            for (size_t j = 2; j < 6; j++)
                if (i + j >= n || !isxdigit(d[i + j])) return 1;
        i++;
    }
    return 0;
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* a (cJSON's) and b (the arena's) are the same tree, linked the same way. */
static void same_tree(const cJSON *a, const cJSON *b) {
    if (a->type != b->type) fail("type differs");
    if (!same_str(a->string, b->string)) fail("key differs");
    if (!same_str(a->valuestring, b->valuestring)) fail("string differs");
    if (a->valueint != b->valueint) fail("valueint differs");
    if (memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) != 0)
        fail("valuedouble differs");
    if (!a->child != !b->child) fail("one has children");
    const cJSON *ca = a->child, *cb = b->child;
    if (!cb) return;
    if (cb->prev == NULL) fail("first child's prev is NULL");
    for (; ca && cb; ca = ca->next, cb = cb->next) {
        if (cb != b->child && cb->prev->next != cb) fail("prev does not point back");
        if (!cb->next && b->child->prev != cb) fail("first child's prev is not the last");
        same_tree(ca, cb);
    }
    if (ca || cb) fail("child counts differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    cJSON *ref = util_json_parse_one(s, size);
    struct json_arena *arena;
    cJSON *got = json_arena_parse(s, size, &arena);
    if (!got != !arena) fail("root and arena disagree");
    int refused_on_purpose = ref && bad_unicode_escape(data, size);
    if (refused_on_purpose) {
        if (got) fail("accepted a \\u with a non-hex digit");
    } else if (!ref != !got) {
        fail(ref ? "cJSON accepted, json_arena refused" : "cJSON refused, json_arena accepted");
    }
    if (ref && got) {
        if (got->prev || got->next || got->string) fail("root has siblings or a key");
        same_tree(ref, got);
        char *pa = cJSON_PrintUnformatted(ref), *pb = cJSON_PrintUnformatted(got);
        if (!pa != !pb || (pa && strcmp(pa, pb) != 0)) fail("printed trees differ");
        cJSON_free(pa);
        cJSON_free(pb);
    }
    cJSON_Delete(ref);
    json_arena_free(arena);
    return 0;
}
