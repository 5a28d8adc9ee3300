/* Endpoint discovery and its single-use tickets. */
#ifndef LARKGW_EMU_DISCOVERY_H
#define LARKGW_EMU_DISCOVERY_H

#include <stddef.h>

struct emu;
struct emu_req;

/* POST /callback/ws/endpoint. */
void emu_discovery_handle(struct emu_req *r);
/* Consumes a ticket matching the URL's query; 0 and the device id, or -1. */
int emu_ticket_consume(struct emu *emu, const struct emu_req *r, char *device_id, size_t len);

#endif
