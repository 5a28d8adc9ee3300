/* Handler-name routing: the conventional global a script defines to handle
 * an event type, e.g. im.message.receive_v1 -> on_p2_message_receive_v1. */
#ifndef LARKGW_EVENT_HANDLER_NAME_H
#define LARKGW_EVENT_HANDLER_NAME_H

#include <stddef.h>

/* Writes the name for event_type into out (NUL-terminated). Schema 1.0 types and
 * callbacks come from a fixed alias table, dotted schema 2.0 types follow the rule.
 * Returns the length, or -1 when the type has no conventional name or it does not fit. */
int handler_name(const char *event_type, char *out, size_t outlen);

/* A buffer of this size holds the name of any event type the platform defines. */
#define HANDLER_NAME_MAX 256

/* A bounded cache type -> name, so the rule runs once per event type, not per event. */
struct handler_names;
struct handler_names *handler_names_new(void);
void handler_names_free(struct handler_names *c);
/* The name for event_type (NULL when it has none); valid until handler_names_free. */
const char *handler_names_get(struct handler_names *c, const char *event_type);

#endif
