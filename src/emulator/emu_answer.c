/* The OpenAPI's answer shape, shared by the endpoint files: {"code", "msg"}, and on an
 * error the log id again in "error", as the platform puts it there for support. */
#include "emulator/emu_answer.h"

#include <math.h>
#include <stdio.h>
#include <sys/time.h>

cJSON *emu_call_answer(struct emu_call *c, int status, long code, const char *msg) {
    cJSON_Delete(c->answer);
    c->status = status;
    c->answer = cJSON_CreateObject();
    if (!c->answer) return NULL;
    cJSON_AddNumberToObject(c->answer, "code", (double)code);
    cJSON_AddStringToObject(c->answer, "msg", msg);
    if (code) {
        cJSON *e = cJSON_AddObjectToObject(c->answer, "error");
        cJSON_AddStringToObject(e, "log_id", c->log_id);
    }
    return c->answer;
}

int emu_json_int(const cJSON *obj, const char *name, long min, long max, long *out,
                 char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)min || v->valuedouble > (double)max) {
        snprintf(err, errlen, "'%s' must be an integer in [%ld, %ld]", name, min, max);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 1;
}

const cJSON *emu_json_get(const cJSON *obj, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

uint64_t emu_wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

int emu_call_violation(struct emu_call *c, const char *field, const char *description) {
    cJSON *a = emu_call_answer(c, 400, 99992402, "field validation failed");
    cJSON *list = cJSON_AddArrayToObject(cJSON_GetObjectItemCaseSensitive(a, "error"),
                                         "field_violations");
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "field", field);
    cJSON_AddStringToObject(v, "description", description);
    cJSON_AddItemToArray(list, v);
    return -1;
}
