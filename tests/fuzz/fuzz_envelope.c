/* Fuzzes the envelope parser (the first thing every event's bytes reach after the
 * transport) and the handler-name rule applied to whatever event type it yields. */
#include <stdint.h>
#include <string.h>

#include "event/envelope.h"
#include "event/handler_name.h"

static size_t touch(const char *s) { return s ? strlen(s) : 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct envelope env;
    char err[128], name[HANDLER_NAME_MAX];
    if (envelope_parse(&env, (const char *)data, size, err, sizeof err) < 0) {
        touch(err);
        return 0;
    }
    size_t n = touch(env.event_id) + touch(env.token) + touch(env.tenant_key) +
               touch(env.create_time) + touch(env.challenge) + touch(env.message_id) +
               touch(env.chat_id);
    if (env.event_type) handler_name(env.event_type, name, sizeof name);
    envelope_free(&env);
    return n == (size_t)-1;
}
