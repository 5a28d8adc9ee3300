/* The OpenAPI answer classifier and token extraction: bytes from the network in, a code,
 * a message and maybe a token out. The first byte picks the HTTP status. */
#include <stdint.h>
#include <string.h>

#include "openapi/openapi_token.h"
#include "openapi/openapi_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int statuses[] = { 200, 400, 401, 429, 500, 502, 204, 302 };
    if (size < 1) return 0;
    int status = statuses[data[0] % 8];
    struct openapi_wire_answer ans = { 0 };
    struct openapi_wire_error err = { 0 };
    int code = openapi_wire_decode(status, (const char *)data + 1, size - 1, 4096, &ans);
    if (code != ans.err.code) __builtin_trap();
    if (code == 0) {
        long expire = -1;
        const char *tok = openapi_token_parse(ans.json, "tenant_access_token", &expire, &err);
        if (tok && (strlen(tok) == 0 || expire < 0)) __builtin_trap();
        openapi_token_lifetime_ms(expire);
        openapi_token_parse(ans.json, "app_access_token", &expire, &err);
    } else {
        for (const char *p = ans.err.msg; *p; p++)
            if ((unsigned char)*p < 0x20) __builtin_trap();
    }
    cJSON_Delete(ans.json);
    return 0;
}
