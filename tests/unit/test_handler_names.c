#include "event/handler_name.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

/* Every row of the conformance table resolves to its name. */
static void test_tsv_rows(void) {
    FILE *f = fopen("data/event-handler-names.tsv", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int rows = 0;
    struct handler_names *cache = handler_names_new();
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char type[256], schema[16], want[256], got[HANDLER_NAME_MAX];
        if (sscanf(line, "%255[^\t]\t%15[^\t]\t%255s", type, schema, want) != 3) {
            fprintf(stderr, "unparsable row: %s", line);
            CHECK(0);
            continue;
        }
        rows++;
        int n = handler_name(type, got, sizeof got);
        if (n < 0 || strcmp(got, want) != 0)
            fprintf(stderr, "%s (%s): got %s, want %s\n", type, schema, n < 0 ? "none" : got, want);
        CHECK(n >= 0 && strcmp(got, want) == 0);
        CHECK_EQ_STR(handler_names_get(cache, type), want);
        CHECK_EQ_STR(handler_names_get(cache, type), want);  /* cached */
    }
    fclose(f);
    handler_names_free(cache);
    CHECK(rows >= 140);
}

static void test_rule_edges(void) {
    char out[HANDLER_NAME_MAX];
    CHECK_EQ_INT(handler_name("svc.x_v1", out, sizeof out), 10);
    CHECK_EQ_STR(out, "on_p2_x_v1");
    CHECK_EQ_INT(handler_name("nodots", out, sizeof out), -1);
    CHECK_EQ_INT(handler_name("app_ticket", out, sizeof out), -1);
    CHECK_EQ_INT(handler_name("a.", out, sizeof out), -1);
    CHECK_EQ_INT(handler_name("a..b", out, sizeof out), -1);
    CHECK_EQ_INT(handler_name("a.b.", out, sizeof out), -1);
    CHECK_EQ_INT(handler_name("im.message.receive_v1", out, 10), -1);  /* does not fit */
    CHECK_EQ_INT(handler_name("im.message.receive_v1", out, 25), 24);
    CHECK_EQ_STR(out, "on_p2_message_receive_v1");
    struct handler_names *cache = handler_names_new();
    CHECK(handler_names_get(cache, "nodots") == NULL);
    CHECK(handler_names_get(cache, "nodots") == NULL);
    handler_names_free(cache);
}

int main(void) {
    RUN(test_tsv_rows);
    RUN(test_rule_edges);
    return test_report();
}
