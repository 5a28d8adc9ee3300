/* JSON parsed into an arena: our own one-pass parser builds ordinary cJSON nodes (the
 * public struct, linked exactly as cJSON links them) and their strings inside a few
 * malloc'd blocks, so every cJSON reader works on the tree unchanged, while a parse
 * costs one or two mallocs instead of two per value, and freeing it one free per block
 * instead of cJSON_Delete's walk. No global cJSON hooks are involved.
 *
 * The aim is that anything the platform sends parses as cJSON 1.7 parsed it: RFC 8259
 * plus cJSON's leniencies, kept on purpose, and one deliberate difference (the last):
 *  - between tokens any byte <= 0x20 is whitespace; after the value only space, tab,
 *    LF, CR (as util_json_parse_one); a UTF-8 BOM at the start is skipped when the
 *    input is at least 5 bytes long (cJSON's rule);
 *  - strings keep their bytes as they are (raw control characters, invalid UTF-8);
 *    \u0000 is accepted and, as in cJSON, ends the C string there; lone or reversed
 *    surrogates are refused, as cJSON refuses them;
 *  - numbers: after '-' or a digit, the longest run of [0-9+-.eE], which strtod (with
 *    '.' turned into the locale's decimal point) must consume whole, so "01", "1." and
 *    "-.5" parse; valueint saturates at INT_MIN/INT_MAX; 1e999 is an infinity;
 *  - duplicate keys are all kept, in order; at most 1000 arrays/objects open at once
 *    (CJSON_NESTING_LIMIT), and the parser is iterative, so depth never costs C stack;
 *  - stricter than cJSON: \u followed by a non-hex digit is refused, where cJSON reads
 *    it as \u0000 (cutting the string) and may pair later escapes differently. */
#ifndef LARKGW_BASE_JSON_ARENA_H
#define LARKGW_BASE_JSON_ARENA_H

#include <stddef.h>

struct cJSON;
struct json_arena;

/* Exactly one JSON value and nothing after it but whitespace (as util_json_parse_one).
 * Returns the root, with its arena in *arena; NULL (and *arena NULL) when malformed or out
 * of memory. The tree is read-only: never cJSON_Delete it, detach from it or add to it;
 * json_arena_free frees all of it. */
struct cJSON *json_arena_parse(const char *s, size_t n, struct json_arena **arena);

/* Frees the arena and every tree parsed into it; NULL is fine. */
void json_arena_free(struct json_arena *a);

#endif
