/* One /open-apis/ call being answered, and the helpers every endpoint file uses to
 * answer it: the platform's {"code", "msg"} shape with its log id, and integer fields
 * read from JSON. A leaf under emu_openapi.c, emu_token.c and emu_im.c, so none of
 * those needs another. */
#ifndef LARKGW_EMU_ANSWER_H
#define LARKGW_EMU_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct emu;
struct emu_req;

#define EMU_TENANT_KEY_MAX 64

enum emu_token_kind { EMU_TOKEN_NONE, EMU_TOKEN_TENANT, EMU_TOKEN_APP };

/* The endpoint handlers fill in status and answer. */
struct emu_call {
    struct emu *emu;
    struct emu_req *r;
    const cJSON *body;              /* the request's JSON body; NULL when none or not JSON */
    const char *token;              /* the Bearer token; NULL when none */
    enum emu_token_kind token_kind; /* set once the token checked out */
    char tenant_key[EMU_TENANT_KEY_MAX + 1];  /* the token's tenant; "" for app tokens */
    int invalid_status;             /* HTTP status of "token invalid" answers */
    char log_id[40];                /* X-Tt-Logid */
    int status;
    cJSON *answer;                  /* an object, or a string sent as text/plain */
    /* a binary answer instead (a download): malloc'd bytes, freed by the sender */
    char *raw;
    size_t raw_len;
    char raw_ctype[128];
    char raw_headers[640];          /* extra "Name: value\r\n" lines */
};

/* Replaces c's answer with {"code","msg"} (plus "error":{"log_id"} when code != 0) and
 * the HTTP status; returns the object for the caller to add to (NULL: out of memory). */
cJSON *emu_call_answer(struct emu_call *c, int status, long code, const char *msg);

/* Answers 400 with the platform's field validation error (99992402) naming field, as
 * error.field_violations; returns -1 for the caller to pass on. */
int emu_call_violation(struct emu_call *c, const char *field, const char *description);

/* obj's member name (case-sensitive), NULL when absent. */
const cJSON *emu_json_get(const cJSON *obj, const char *name);

/* Wall-clock milliseconds, as the records the tests read carry them. */
uint64_t emu_wall_ms(void);

/* An integer member of obj: 0 absent, 1 read into *out, -1 (with err) not an integer
 * in [min, max]. */
int emu_json_int(const cJSON *obj, const char *name, long min, long max, long *out,
                 char *err, size_t errlen);

#endif
