#include "app/options.h"

#include "app/config.h"

/* lark.http and lark.vars */
#include "lua/bind_http.h"
#include "lua/bind_vars.h"

void options_bind_http(const struct config *cfg, struct bind_http_options *out) {
    out->allow = (const char *const *)cfg->http.allow;
    out->nallow = cfg->http.nallow;
    out->timeout_s = cfg->http.timeout_s;
    out->max_body = (size_t)cfg->http.max_body;
    out->max_in_flight = cfg->http.max_in_flight;
    out->max_per_script = cfg->http.max_per_script;
    out->ca_file = cfg->tls_ca_file;
}

void options_bind_vars(const struct config *cfg, struct bind_vars_options *out) {
    out->vars = (const char *const *)cfg->vars;
    out->nvars = cfg->nvars;
}
