/* json_arena_parse: what it builds (the cJSON nodes and links cJSON builds), what it
 * refuses, and that it agrees with cJSON (util_json_parse_one) on each case. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_arena.h"
#include "base/util.h"
#include "test.h"

static struct json_arena *arena;

/* Parses the literal's bytes (NULs included) into the file's arena, freeing the last. */
#define PARSE(lit) parse_n(lit, sizeof lit - 1)
static cJSON *parse_n(const char *s, size_t n) {
    json_arena_free(arena);
    cJSON *root = json_arena_parse(s, n, &arena);
    test_checks++;
    if (!root != !arena) {   /* the contract: both or neither */
        test_failures++;
        fprintf(stderr, "root %p with arena %p\n", (void *)root, (void *)arena);
    }
    return root;
}

/* Both parsers accept, or both refuse; accepted, both print the same text. */
#define SAME_AS_CJSON(lit) same_as_cjson(lit, sizeof lit - 1)
static int same_as_cjson(const char *s, size_t n) {
    cJSON *ref = util_json_parse_one(s, n);
    cJSON *got = parse_n(s, n);
    int same = !ref == !got;
    if (same && ref) {
        char *a = cJSON_PrintUnformatted(ref), *b = cJSON_PrintUnformatted(got);
        same = a && b && strcmp(a, b) == 0;
        if (!same) fprintf(stderr, "cJSON: %s\narena: %s\n", a, b);
        cJSON_free(a);
        cJSON_free(b);
    }
    if (!same) fprintf(stderr, "differs from cJSON on %.*s\n", (int)(n > 200 ? 200 : n), s);
    cJSON_Delete(ref);
    return same;
}

static void test_envelope_reads_as_with_cjson(void) {
    size_t n = 0;
    /* ctest runs from tests/; by hand, from the repository's root */
    char *text = util_read_file("fuzz/corpus/fuzz_json_arena/message_receive.json", 1 << 20, &n);
    if (!text)
        text = util_read_file("tests/fuzz/corpus/fuzz_json_arena/message_receive.json", 1 << 20, &n);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *root = parse_n(text, n);
    CHECK(root != NULL && arena != NULL);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "event"), "message");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message_type")),
                 "text");
    const cJSON *mentions = cJSON_GetObjectItemCaseSensitive(msg, "mentions");
    CHECK(cJSON_IsArray(mentions));
    CHECK_EQ_INT(cJSON_GetArraySize(mentions), 1);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                     cJSON_GetArrayItem(mentions, 0), "name")), "Echo Bot");
    CHECK(same_as_cjson(text, n));
    /* every proper prefix is malformed, and both say so */
    int agree = 1;
    for (size_t i = 0; i < n; i++) {
        struct json_arena *a = NULL;
        if (json_arena_parse(text, i, &a) || a) agree = 0;
    }
    CHECK(agree);
    free(text);
}

static void test_escapes(void) {
    cJSON *v = PARSE("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"");
    CHECK(cJSON_IsString(v));
    CHECK_EQ_STR(v ? v->valuestring : NULL, "q\" b\\ s/ \b\f\n\r\t");
    v = PARSE("\"\\u0041\\u00e9\\u07ff\\u0800\\u4F60\\uffff\"");
    CHECK_EQ_STR(v ? v->valuestring : NULL, "A\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe4\xbd\xa0\xef\xbf\xbf");
    v = PARSE("\"plain bytes kept: \x01\t\xff\"");   /* raw controls, invalid UTF-8: as cJSON */
    CHECK_EQ_STR(v ? v->valuestring : NULL, "plain bytes kept: \x01\t\xff");
    CHECK(PARSE("\"\\x\"") == NULL);        /* unknown escape */
    CHECK(PARSE("\"\\u12\"") == NULL);      /* short \u */
    CHECK(PARSE("\"abc\\") == NULL);        /* backslash last */
    CHECK(PARSE("\"abc") == NULL);
    CHECK(SAME_AS_CJSON("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u00e9\",\"\\x\",\"\\u12\"]"));
    CHECK(SAME_AS_CJSON("{\"k\\\"ey\\u00e9\":\"v\"}"));
}

static void test_unicode_edges(void) {
    cJSON *v = PARSE("\"\\ud83d\\ude00 \\uDBFF\\uDFFF\"");
    CHECK_EQ_STR(v ? v->valuestring : NULL, "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    /* lone and reversed surrogates: refused, as cJSON refuses them */
    CHECK(PARSE("\"\\ud800\"") == NULL);
    CHECK(PARSE("\"\\udc00\"") == NULL);
    CHECK(PARSE("\"\\ude00\\ud83d\"") == NULL);
    CHECK(PARSE("\"\\ud800\\u0041\"") == NULL);
    CHECK(PARSE("\"\\ud800x\"") == NULL);
    CHECK(SAME_AS_CJSON("\"\\ud800\""));
    CHECK(SAME_AS_CJSON("\"\\udc00\""));
    CHECK(SAME_AS_CJSON("\"\\ud800\\u0041\""));
    CHECK(SAME_AS_CJSON("\"\\ud83d\\ude00\""));
    /* \u0000 as in cJSON: accepted, and the C string (key or value) ends there */
    v = PARSE("{\"a\\u0000b\":\"c\\u0000d\"}");
    CHECK(v && v->child && strcmp(v->child->string, "a") == 0);
    CHECK_EQ_STR(v && v->child ? v->child->valuestring : NULL, "c");
    CHECK(SAME_AS_CJSON("{\"a\\u0000b\":\"c\\u0000d\"}"));
    /* the deliberate difference: cJSON reads a non-hex \u as \u0000, we refuse it */
    CHECK(PARSE("\"a\\uZZZZb\"") == NULL);
    CHECK(PARSE("\"\\u12\\\"34\"") == NULL);
    cJSON *ref = util_json_parse_one("\"a\\uZZZZb\"", 10);
    CHECK(ref && strcmp(ref->valuestring, "a") == 0);
    cJSON_Delete(ref);
}

static void test_numbers(void) {
    cJSON *v = PARSE("[0,-0,42,-7,1.5,1e3,-2.5E-2,3000000000,-3000000000,1e999]");
    CHECK(cJSON_IsArray(v));
    static const double want[] = { 0, -0.0, 42, -7, 1.5, 1000, -0.025, 3e9, -3e9 };
    static const int want_int[] = { 0, 0, 42, -7, 1, 1000, 0, INT_MAX, INT_MIN };
    const cJSON *c = v ? v->child : NULL;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++, c = c ? c->next : NULL) {
        CHECK(cJSON_IsNumber(c));
        CHECK(c && c->valuedouble == want[i] && c->valueint == want_int[i]);
    }
    CHECK(v && signbit(v->child->next->valuedouble));
    CHECK(c && isinf(c->valuedouble) && c->valueint == INT_MAX);
    /* cJSON's leniencies, kept: leading zeros, a bare '.', no integer part */
    v = PARSE("[01,1.,-.5]");
    CHECK(v && v->child->valuedouble == 1 && v->child->next->valuedouble == 1 &&
          v->child->next->next->valuedouble == -0.5);
    CHECK(PARSE("-") == NULL);
    CHECK(PARSE("+1") == NULL);
    CHECK(PARSE(".5") == NULL);
    CHECK(PARSE("1.5.5") == NULL);
    CHECK(PARSE("[1-2]") == NULL);
    CHECK(PARSE("1e") == NULL);
    CHECK(PARSE("0x10") == NULL);
    CHECK(PARSE("-Infinity") == NULL);
    CHECK(SAME_AS_CJSON("[0,-0,01,1.,-.5,1e5,1E+5,1e-5,2147483647,-2147483648,2147483648,"
                        "4.9e-324,0.1,1e999,-1e999,123456789.123456789]"));
    /* longer than cJSON's old 64-byte buffer: the whole run still goes to strtod */
    CHECK(SAME_AS_CJSON("1234567890123456789012345678901234567890123456789012345678901234567"
                        "890.25"));
    v = PARSE("-1234567890123456789012345678901234567890123456789012345678901234567890e-60");
    CHECK(v && fabs(v->valuedouble + 1234567890.1234567) < 1e-3 && v->valueint == -1234567890);
    CHECK(SAME_AS_CJSON("[1-2]"));
    CHECK(SAME_AS_CJSON("1.5.5"));
    CHECK(SAME_AS_CJSON("-"));
}

static void test_literals_and_types(void) {
    cJSON *v = PARSE("[true,false,null,\"s\",1,[],{}]");
    const cJSON *c = v ? v->child : NULL;
    static const int types[] = { cJSON_True, cJSON_False, cJSON_NULL, cJSON_String,
                                 cJSON_Number, cJSON_Array, cJSON_Object };
    for (size_t i = 0; i < 7; i++, c = c ? c->next : NULL)
        CHECK(c && c->type == types[i] && c->string == NULL);
    CHECK(c == NULL);
    CHECK(v && v->child->valueint == 1 && v->child->next->valueint == 0);
    CHECK(PARSE("nul") == NULL);
    CHECK(PARSE("[tru]") == NULL);
    CHECK(PARSE("nulll") == NULL);
    CHECK(PARSE("True") == NULL);
    CHECK(SAME_AS_CJSON("[true,false,null,{\"t\":true,\"f\":false,\"n\":null}]"));
}

static void test_empty_containers(void) {
    cJSON *v = PARSE("[[],{},[[]],{\"a\":{}},{\"\":[ ]}]");
    CHECK(cJSON_IsArray(v));
    const cJSON *c = v ? v->child : NULL;
    CHECK(c && cJSON_IsArray(c) && c->child == NULL);
    CHECK(c && cJSON_IsObject(c->next) && c->next->child == NULL);
    CHECK(c && c->next->next->child && c->next->next->child->child == NULL);
    v = PARSE("{}");
    CHECK(cJSON_IsObject(v) && v->child == NULL && v->prev == NULL && v->next == NULL);
    v = PARSE(" [ ] ");
    CHECK(cJSON_IsArray(v) && v->child == NULL);
    CHECK(SAME_AS_CJSON("[[],{},[[]],{\"a\":{}},{\"\":[ ]}]"));
    CHECK(PARSE("[") == NULL);
    CHECK(PARSE("{") == NULL);
    CHECK(PARSE("[ ") == NULL);
    CHECK(PARSE("{\"a\"}") == NULL);
    CHECK(PARSE("{\"a\":}") == NULL);
    CHECK(PARSE("[1,]") == NULL);
    CHECK(PARSE("{\"a\":1,}") == NULL);
    CHECK(PARSE("[,]") == NULL);
    CHECK(PARSE("{1:2}") == NULL);
    CHECK(PARSE("[1 2]") == NULL);
}

static void test_duplicate_keys_in_order(void) {
    cJSON *v = PARSE("{\"a\":1,\"b\":2,\"a\":3}");
    const cJSON *c = v ? v->child : NULL;
    CHECK(c && strcmp(c->string, "a") == 0 && c->valueint == 1);
    CHECK(c && strcmp(c->next->string, "b") == 0 && c->next->valueint == 2);
    CHECK(c && strcmp(c->next->next->string, "a") == 0 && c->next->next->valueint == 3);
    /* the lookup finds the first, as on cJSON's own tree */
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(v, "a")->valueint, 1);
    CHECK(SAME_AS_CJSON("{\"a\":1,\"b\":2,\"a\":3,\"a\":{\"a\":4}}"));
}

/* cJSON's links: next forward, prev backward, the first child's prev the last child. */
static int links_ok(const cJSON *parent) {
    const cJSON *first = parent->child, *last = NULL;
    for (const cJSON *c = first; c; c = c->next) {
        if (c != first && c->prev->next != c) return 0;
        if ((cJSON_IsArray(c) || cJSON_IsObject(c)) && !links_ok(c)) return 0;
        last = c;
    }
    return !first || first->prev == last;
}

static void test_prev_links(void) {
    cJSON *v = PARSE("[1]");
    CHECK(v && v->child && v->child->prev == v->child && v->child->next == NULL);
    v = PARSE("[1,2]");
    CHECK(v && v->child->prev == v->child->next && v->child->next->prev == v->child);
    v = PARSE("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":{}}}");
    CHECK(v && v->prev == NULL && v->next == NULL);
    CHECK(v && v->child->prev == v->child->next->next);
    CHECK(v && links_ok(v));
    /* detaching the last item goes through prev, as on cJSON's tree: a copy shows it */
    cJSON *copy = cJSON_Duplicate(v, 1);
    cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(copy, "c"));
    char *text = cJSON_PrintUnformatted(copy);
    CHECK_EQ_STR(text, "{\"a\":1,\"b\":[true,false,null]}");
    cJSON_free(text);
    cJSON_Delete(copy);
    /* cJSON_AddItemToArray appends after first->prev: works on a copy of ours too */
    copy = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(v, "b"), 1);
    cJSON_AddItemToArray(copy, cJSON_CreateNumber(4));
    text = cJSON_PrintUnformatted(copy);
    CHECK_EQ_STR(text, "[true,false,null,4]");
    cJSON_free(text);
    cJSON_Delete(copy);
}

static void test_nesting_limit(void) {
    enum { DEEP = 100000 };
    char *s = malloc(2 * DEEP + 8);
    CHECK(s != NULL);
    if (!s) return;
    /* 1000 open arrays: accepted; 1001: refused, as cJSON */
    memset(s, '[', 1000);
    memset(s + 1000, ']', 1000);
    cJSON *v = parse_n(s, 2000);
    CHECK(v != NULL);
    size_t depth = 0;
    for (const cJSON *c = v; c; c = c->child) depth++;
    CHECK_EQ_INT(depth, 1000);
    CHECK(same_as_cjson(s, 2000));
    memset(s, '[', 1001);
    memset(s + 1001, ']', 1001);
    CHECK(parse_n(s, 2002) == NULL);
    CHECK(same_as_cjson(s, 2002));
    /* far deeper text costs no C stack: refused at 1001 */
    memset(s, '[', DEEP);
    memset(s + DEEP, ']', DEEP);
    CHECK(parse_n(s, 2 * DEEP) == NULL);
    /* objects count too: {"a":{"a":...{}}} 1000 deep */
    size_t n = 0;
    for (int i = 0; i < 999; i++) n += (size_t)sprintf(s + n, "{\"a\":");
    n += (size_t)sprintf(s + n, "{}");
    memset(s + n, '}', 999);
    n += 999;
    CHECK(parse_n(s, n) != NULL);
    CHECK(same_as_cjson(s, n));
    /* closing and opening again does not leak depth */
    n = 0;
    for (int i = 0; i < 3000; i++) n += (size_t)sprintf(s + n, "%s[[]]", i ? "," : "[");
    s[n++] = ']';
    v = parse_n(s, n);
    CHECK_EQ_INT(cJSON_GetArraySize(v), 3000);
    free(s);
}

static void test_trailing_and_leading(void) {
    CHECK(PARSE(" \t\r\n{\"a\":1} \t\r\n") != NULL);
    CHECK(PARSE("{\"a\":1} x") == NULL);
    CHECK(PARSE("{}{}") == NULL);
    CHECK(PARSE("[1]]") == NULL);
    CHECK(PARSE("1 2") == NULL);
    CHECK(PARSE("{\"a\":1}\0") == NULL);     /* after the value: only 4 whitespace bytes */
    CHECK(PARSE("") == NULL);
    CHECK(PARSE("   ") == NULL);
    CHECK(json_arena_parse(NULL, 0, &arena) == NULL && arena == NULL);
    /* between tokens cJSON skips any byte <= 0x20, NUL included: kept */
    CHECK(PARSE("\x01[\0 1 ,\x1f" "2]") != NULL);
    CHECK(SAME_AS_CJSON("\x01[\0 1 ,\x1f" "2]\r\n"));
    CHECK(SAME_AS_CJSON("{\"a\":1}\0"));
    CHECK(SAME_AS_CJSON("{\"a\":1} x"));
    /* a BOM at the start, skipped when the text is at least 5 bytes: cJSON's rule */
    CHECK(PARSE("\xEF\xBB\xBF{\"a\":1}") != NULL);
    CHECK(PARSE("\xEF\xBB\xBF" "12") != NULL);
    CHECK(PARSE("\xEF\xBB\xBF" "1") == NULL);
    CHECK(PARSE(" \xEF\xBB\xBF" "12") == NULL);
    CHECK(SAME_AS_CJSON("\xEF\xBB\xBF" "1"));
    CHECK(SAME_AS_CJSON("\xEF\xBB\xBF" "12"));
}

/* Far more nodes and string bytes than the first block holds (3x the text plus 2 KB):
 * 200000 nodes are 12.8 MB of cJSON structs against a 1.2 MB first block, and the
 * strings of the second text are its whole size again, so both parses fill several
 * blocks, and strings land at the edges of blocks. */
static void test_big_inputs_span_blocks(void) {
    enum { ITEMS = 200000 };
    char *s = malloc((size_t)ITEMS * 40 + 16);
    CHECK(s != NULL);
    if (!s) return;
    size_t n = 0;
    s[n++] = '[';
    for (int i = 0; i < ITEMS; i++) n += (size_t)sprintf(s + n, "%s%d", i ? "," : "", i);
    s[n++] = ']';
    cJSON *v = parse_n(s, n);
    CHECK_EQ_INT(cJSON_GetArraySize(v), ITEMS);
    int in_order = 1;
    int i = 0;
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next, i++)
        if (c->valueint != i) in_order = 0;
    CHECK(in_order);
    CHECK(v && links_ok(v));
    CHECK(same_as_cjson(s, n));

    n = 0;
    s[n++] = '{';
    for (i = 0; i < ITEMS / 4; i++)
        n += (size_t)sprintf(s + n, "%s\"key%06d\":\"value \\u00e9 %0*d\"", i ? "," : "", i,
                             i % 97, i);
    s[n++] = '}';
    v = parse_n(s, n);
    CHECK_EQ_INT(cJSON_GetArraySize(v), ITEMS / 4);
    int values_ok = 1;
    i = 0;
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next, i++) {
        char key[16], want[128];
        snprintf(key, sizeof key, "key%06d", i);
        snprintf(want, sizeof want, "value \xc3\xa9 %0*d", i % 97, i);
        if (strcmp(c->string, key) != 0 || strcmp(c->valuestring, want) != 0) values_ok = 0;
    }
    CHECK(values_ok);
    CHECK(same_as_cjson(s, n));
    /* one 2 MB string */
    n = 0;
    n += (size_t)sprintf(s + n, "[\"");
    memset(s + n, 'x', ITEMS * 10);
    n += ITEMS * 10;
    n += (size_t)sprintf(s + n, "\",1]");
    v = parse_n(s, n);
    CHECK(v && strlen(v->child->valuestring) == ITEMS * 10 && v->child->next->valueint == 1);
    free(s);
}

/* The plain-run scan goes eight bytes a step: a quote or an escape at every offset of
 * the words, in strings of every length around them. */
static void test_string_scan_offsets(void) {
    int agree = 1, decoded = 1;
    for (int len = 0; len < 40; len++) {
        for (int at = 0; at <= len; at++) {
            char text[64], want[64];
            int n = 0, w = 0;
            text[n++] = '"';
            for (int i = 0; i < len; i++) {
                if (i == at) {
                    text[n++] = '\\';
                    text[n++] = 'n';
                    want[w++] = '\n';
                }
                text[n++] = (char)('a' + i % 26);
                want[w++] = (char)('a' + i % 26);
            }
            text[n++] = '"';
            want[w] = '\0';
            cJSON *v = parse_n(text, (size_t)n);
            if (!v || strcmp(v->valuestring, want) != 0) decoded = 0;
            if (!same_as_cjson(text, (size_t)n)) agree = 0;
            if (!same_as_cjson(text, (size_t)n - 1)) agree = 0;   /* unterminated */
        }
    }
    CHECK(decoded);
    CHECK(agree);
}

/* The tree outlives nothing but its arena: two arenas side by side stay independent. */
static void test_two_arenas(void) {
    struct json_arena *a1, *a2;
    cJSON *r1 = json_arena_parse("{\"x\":\"one\"}", 11, &a1);
    cJSON *r2 = json_arena_parse("{\"x\":\"two\"}", 11, &a2);
    CHECK(r1 && r2 && a1 && a2 && a1 != a2);
    json_arena_free(a1);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r2, "x")), "two");
    json_arena_free(a2);
    json_arena_free(NULL);
}

int main(void) {
    RUN(test_envelope_reads_as_with_cjson);
    RUN(test_escapes);
    RUN(test_unicode_edges);
    RUN(test_numbers);
    RUN(test_literals_and_types);
    RUN(test_empty_containers);
    RUN(test_duplicate_keys_in_order);
    RUN(test_prev_links);
    RUN(test_nesting_limit);
    RUN(test_trailing_and_leading);
    RUN(test_string_scan_offsets);
    RUN(test_big_inputs_span_blocks);
    RUN(test_two_arenas);
    json_arena_free(arena);
    return test_report();
}
