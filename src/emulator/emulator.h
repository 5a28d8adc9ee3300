/* `larkgw emulator`: a local Feishu/Lark Open Platform for development and tests. */
#ifndef LARKGW_EMULATOR_H
#define LARKGW_EMULATOR_H

/* argv[0] is "emulator"; returns the process exit code. */
int emulator_main(int argc, char **argv);

#endif
