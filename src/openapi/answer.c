#include "openapi/openapi_int.h"

#include <stdio.h>
#include <string.h>

void openapi_copy_clean(char *dst, size_t size, const char *src) {
    size_t n = 0;
    for (; src && *src && n + 1 < size; src++) {
        unsigned char c = (unsigned char)*src;
        dst[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[n] = '\0';
}

void openapi_error_set(struct oa_error *err, int code, int http_status, const char *msg) {
    err->code = code;
    err->http_status = http_status;
    openapi_copy_clean(err->msg, sizeof err->msg, msg);
}

int openapi_code_is_token_invalid(int code) {
    return code == OPENAPI_CODE_TENANT_TOKEN_INVALID || code == OPENAPI_CODE_APP_TOKEN_INVALID
        || code == OPENAPI_CODE_TOKEN_INVALID;
}

void openapi_answer_transport_error(const char *why, struct oa_error *err) {
    if (!why || !*why) why = "no answer";
    int code = OPENAPI_E_TRANSPORT;
    if (strcmp(why, "timeout") == 0) code = OPENAPI_E_TIMEOUT;
    else if (strstr(why, "too large")) code = OPENAPI_E_TOOBIG;
    openapi_error_set(err, code, 0, why);
}

/* An answer without a usable code: an HTTP status may still say what happened. */
static int answer_without_code(int status, const char *what, struct oa_error *err) {
    char msg[96];
    if (status == 429) {
        openapi_error_set(err, OPENAPI_CODE_RATE_LIMITED, status, "rate limited (HTTP 429)");
        return OPENAPI_CODE_RATE_LIMITED;
    }
    if (status < 200 || status > 299) {
        snprintf(msg, sizeof msg, "HTTP %d, %s", status, what);
        openapi_error_set(err, OPENAPI_E_HTTP, status, msg);
        return OPENAPI_E_HTTP;
    }
    openapi_error_set(err, OPENAPI_E_BADANSWER, status, what);
    return OPENAPI_E_BADANSWER;
}

int openapi_answer_parse(int http_status, const char *body, size_t len, size_t max,
                         cJSON **json, struct oa_error *err) {
    *json = NULL;
    if (len > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "answer of %zu bytes exceeds the %zu byte bound", len, max);
        openapi_error_set(err, OPENAPI_E_TOOBIG, http_status, msg);
        return OPENAPI_E_TOOBIG;
    }
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return answer_without_code(http_status, "answer is not a JSON object", err);
    }
    *json = root;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (!cJSON_IsNumber(code) || code->valuedouble < -2147483648.0
        || code->valuedouble > 2147483647.0 || code->valuedouble != (int)code->valuedouble)
        return answer_without_code(http_status, "answer has no integer code", err);
    int c = (int)code->valuedouble;
    if (c == 0 && http_status >= 200 && http_status <= 299) return 0;
    if (c == 0) return answer_without_code(http_status, "code 0 with an error status", err);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    openapi_error_set(err, c, http_status, cJSON_IsString(msg) ? msg->valuestring : "");
    return c;
}

static int token_chars_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f) return 0;
    return n > 0 && n <= OA_TOKEN_MAX;
}

const char *openapi_answer_token(const cJSON *json, const char *field, long *expire_s,
                                 struct oa_error *err) {
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(json, field);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(json, "expire");
    char msg[96];
    if (!cJSON_IsString(tok) || !token_chars_ok(tok->valuestring)) {
        snprintf(msg, sizeof msg, "token answer without a usable %s", field);
        openapi_error_set(err, OPENAPI_E_TOKEN, 200, msg);
        return NULL;
    }
    if (!cJSON_IsNumber(exp) || exp->valuedouble < 0) {
        openapi_error_set(err, OPENAPI_E_TOKEN, 200, "token answer without a usable expire");
        return NULL;
    }
    /* A day is far beyond the platform's 2 h; bounding it keeps the arithmetic sane. */
    *expire_s = exp->valuedouble > 86400 ? 86400 : (long)exp->valuedouble;
    return tok->valuestring;
}

uint64_t openapi_answer_lifetime_ms(long expire_s) {
    uint64_t life = (uint64_t)(expire_s > 0 ? expire_s : 0) * 1000;
    return life > OA_MARGIN_MS ? life - OA_MARGIN_MS : life / 2;
}
