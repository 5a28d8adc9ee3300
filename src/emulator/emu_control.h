/* The control API under /_emu/. */
#ifndef LARKGW_EMU_CONTROL_H
#define LARKGW_EMU_CONTROL_H

struct emu_req;

void emu_control_handle(struct emu_req *r);

#endif
