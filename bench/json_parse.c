/* ns per parse of one event: cJSON (parse + cJSON_Delete, what envelope_parse did before)
 * against json_arena (parse + json_arena_free). Both parse the same bytes N times; each
 * result is checked once to be the same tree, printed.
 *   cc -O2 -D_GNU_SOURCE -Isrc -o /tmp/json_parse bench/json_parse.c src/base/json_arena.c -lcjson
 *   /tmp/json_parse [FILE [N]]
 * FILE defaults to the fuzz corpus's 1.2 KB im.message.receive_v1 (run from the
 * repository root); N to 200000. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_arena.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static cJSON *cjson_parse(const char *s, size_t n) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (root && end != s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The best of a few rounds: the machine is shared, the minimum is the parser's cost. */
#define ROUNDS 5

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/fuzz/corpus/fuzz_json_arena/message_receive.json";
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;

    cJSON *a = cjson_parse(buf, n);
    struct json_arena *arena;
    cJSON *b = json_arena_parse(buf, n, &arena);
    char *pa = a ? cJSON_PrintUnformatted(a) : NULL, *pb = b ? cJSON_PrintUnformatted(b) : NULL;
    if (!pa || !pb || strcmp(pa, pb) != 0) {
        fprintf(stderr, "json_parse: the two parsers disagree on %s\n", path);
        return 1;
    }
    cJSON_free(pa);
    cJSON_free(pb);
    cJSON_Delete(a);
    json_arena_free(arena);

    double best_c = 1e300, best_j = 1e300;
    unsigned long sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            cJSON *root = cjson_parse(buf, n);
            sink += (unsigned long)(root != NULL);
            cJSON_Delete(root);
        }
        double t1 = now_ns();
        for (long i = 0; i < iters; i++) {
            cJSON *root = json_arena_parse(buf, n, &arena);
            sink += (unsigned long)(root != NULL);
            json_arena_free(arena);
        }
        double t2 = now_ns();
        if ((t1 - t0) / iters < best_c) best_c = (t1 - t0) / iters;
        if ((t2 - t1) / iters < best_j) best_j = (t2 - t1) / iters;
    }
    if (sink != (unsigned long)ROUNDS * 2 * (unsigned long)iters) return 1;
    printf("%zu bytes, %ld parses, best of %d rounds\n", n, iters, ROUNDS);
    printf("cJSON      parse + delete  %8.0f ns/parse  %6.0f MB/s\n", best_c, n / best_c * 1e3);
    printf("json_arena parse + free    %8.0f ns/parse  %6.0f MB/s\n", best_j, n / best_j * 1e3);
    printf("speedup %.2fx\n", best_c / best_j);
    return 0;
}
