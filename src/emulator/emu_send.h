/* `larkgw emulator send ...`: injects an event into a running emulator. */
#ifndef LARKGW_EMU_SEND_H
#define LARKGW_EMU_SEND_H

/* argv[0] is "send"; returns the process exit code. */
int emu_send_main(int argc, char **argv);

#endif
