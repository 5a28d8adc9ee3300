/* The config, cut into each module's own options struct: no module below app/ reads
 * struct config. Each function fills one struct from the config; pointers into cfg
 * stay owned by it (cfg outlives the modules). */
#ifndef LARKGW_APP_OPTIONS_H
#define LARKGW_APP_OPTIONS_H

struct config;

struct admin_options;
void options_admin(const struct config *cfg, struct admin_options *out);

#endif
