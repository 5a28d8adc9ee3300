/* The config, cut into each module's own options struct: no module below app/ reads
 * struct config. Each function fills one struct from the config; pointers into cfg
 * stay owned by it (cfg outlives the modules). */
#ifndef LARKGW_APP_OPTIONS_H
#define LARKGW_APP_OPTIONS_H

struct config;

/* lark.http and lark.vars */
struct bind_http_options;
struct bind_vars_options;
void options_bind_http(const struct config *cfg, struct bind_http_options *out);
void options_bind_vars(const struct config *cfg, struct bind_vars_options *out);

#endif
