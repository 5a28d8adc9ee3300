/* net/multipart: the encoder's bytes, exactly; escaping; refusals; and a round trip
 * through the emulator's own parser. */
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_multipart.h"
#include "net/multipart.h"
#include "test.h"

static void test_exact_bytes(void) {
    struct multipart_field f[] = { { "image_type", "message", 7 } };
    struct multipart_file file = { "image", "a.png", "image/png", "\0\1\2", 3 };
    size_t len;
    int err;
    char *body = multipart_encode("BOUND", f, 1, &file, &len, &err);
    static const char want[] =
        "--BOUND\r\nContent-Disposition: form-data; name=\"image_type\"\r\n\r\nmessage\r\n"
        "--BOUND\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n\r\n\0\1\2\r\n--BOUND--\r\n";
    CHECK(body != NULL);
    CHECK_EQ_INT(err, 0);
    CHECK_EQ_INT(len, sizeof want - 1);
    CHECK(body && memcmp(body, want, sizeof want - 1) == 0);
    free(body);
}

static void test_defaults_and_no_file(void) {
    size_t len;
    int err;
    struct multipart_file file = { "file", NULL, NULL, "", 0 };
    char *body = multipart_encode("B", NULL, 0, &file, &len, &err);
    CHECK_EQ_STR(body ? (body[len - 1] = '\0', body) : NULL,
                 "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r");
    free(body);
    body = multipart_encode("B", NULL, 0, NULL, &len, &err);
    CHECK_EQ_INT(len, 7);
    CHECK(body && memcmp(body, "--B--\r\n", 7) == 0);
    free(body);
}

static void test_names_are_escaped(void) {
    struct multipart_field f[] = { { "a\"b\r\nc", "v", 1 } };
    struct multipart_file file = { "file", "x\".png", NULL, "d", 1 };
    size_t len;
    int err;
    char *body = multipart_encode("B", f, 1, &file, &len, &err);
    CHECK(body != NULL);
    if (!body) return;
    body[len - 1] = '\0';
    CHECK_CONTAINS(body, "name=\"a%22b%0D%0Ac\"");
    CHECK_CONTAINS(body, "filename=\"x%22.png\"");
    free(body);
}

static void test_refusals(void) {
    size_t len;
    int err;
    struct multipart_field f[] = { { "k", "x--B y", 6 } };
    CHECK(multipart_encode("--B", f, 1, NULL, &len, &err) == NULL);
    CHECK_EQ_INT(err, MULTIPART_E_BOUNDARY);
    struct multipart_file clash = { "file", NULL, NULL, "abcBOUNDARYdef", 14 };
    CHECK(multipart_encode("BOUNDARY", NULL, 0, &clash, &len, &err) == NULL);
    CHECK_EQ_INT(err, MULTIPART_E_BOUNDARY);
    struct multipart_file bad_type = { "file", NULL, "text/plain\r\nX-Evil: 1", "d", 1 };
    CHECK(multipart_encode("B", NULL, 0, &bad_type, &len, &err) == NULL);
    CHECK_EQ_INT(err, MULTIPART_E_INVAL);
    struct multipart_field unnamed[] = { { "", "v", 1 } };
    CHECK(multipart_encode("B", unnamed, 1, NULL, &len, &err) == NULL);
    CHECK_EQ_INT(err, MULTIPART_E_INVAL);
}

static void test_boundary(void) {
    char a[MULTIPART_BOUNDARY_LEN + 1], b[MULTIPART_BOUNDARY_LEN + 1], ct[MULTIPART_CTYPE_MAX];
    multipart_boundary(a);
    multipart_boundary(b);
    CHECK_EQ_INT(strlen(a), MULTIPART_BOUNDARY_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK(strncmp(a, "larkgw-", 7) == 0);
    CHECK_EQ_INT(multipart_content_type(a, ct, sizeof ct), 0);
    CHECK(strncmp(ct, "multipart/form-data; boundary=", 30) == 0);
    CHECK_EQ_INT(multipart_content_type(a, ct, 10), -1);
}

/* Whatever the encoder writes, the emulator's parser gives back the same bytes. */
static void test_round_trip(void) {
    char data[512];
    for (int i = 0; i < 512; i++) data[i] = (char)(i * 7);
    struct multipart_field f[] = { { "file_type", "stream", 6 }, { "file_name", "n.bin", 5 } };
    struct multipart_file file = { "file", "n.bin", "application/x-test", data, sizeof data };
    char boundary[MULTIPART_BOUNDARY_LEN + 1], ct[MULTIPART_CTYPE_MAX];
    char parsed_boundary[EMU_MULTIPART_BOUNDARY_MAX + 1];
    multipart_boundary(boundary);
    multipart_content_type(boundary, ct, sizeof ct);
    size_t len;
    int err;
    char *body = multipart_encode(boundary, f, 2, &file, &len, &err);
    CHECK(body != NULL);
    CHECK_EQ_INT(emu_multipart_boundary(ct, parsed_boundary), 0);
    CHECK_EQ_STR(parsed_boundary, boundary);
    struct emu_part parts[8];
    const char *why = NULL;
    int n = body ? emu_multipart_parse(parsed_boundary, body, len, parts, 8, &why) : -1;
    CHECK_EQ_INT(n, 3);
    const struct emu_part *p = n == 3 ? emu_multipart_find(parts, n, "file") : NULL;
    CHECK(p && p->len == sizeof data && memcmp(p->data, data, sizeof data) == 0);
    CHECK(p && p->filename_len == 5 && memcmp(p->filename, "n.bin", 5) == 0);
    CHECK(p && p->ctype_len == 18 && memcmp(p->ctype, "application/x-test", 18) == 0);
    p = n == 3 ? emu_multipart_find(parts, n, "file_type") : NULL;
    CHECK(p && p->len == 6 && memcmp(p->data, "stream", 6) == 0 && !p->filename);
    free(body);
}

int main(void) {
    RUN(test_exact_bytes);
    RUN(test_defaults_and_no_file);
    RUN(test_names_are_escaped);
    RUN(test_refusals);
    RUN(test_boundary);
    RUN(test_round_trip);
    return test_report();
}
