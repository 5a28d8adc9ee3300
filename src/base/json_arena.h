/* cJSON trees parsed into an arena: a few block allocations per tree instead of one
 * malloc per node and per string, and one free per block instead of cJSON_Delete's walk.
 * Events are parsed once and read-only after that, which is all an arena needs.
 *
 * It works through cJSON's global hooks (installed on first use): while a parse is under
 * way its allocations come from that parse's arena; any other cJSON allocation is plain
 * malloc/free, as before. Single-threaded, as every loop of the gateway is. */
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
