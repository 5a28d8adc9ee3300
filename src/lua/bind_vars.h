/* lark.vars: the settings the operator hands scripts in the config (`vars = {...}`),
 * read-only in every script. This header is its public face for the composition root. */
#ifndef LARKGW_LUA_BIND_VARS_H
#define LARKGW_LUA_BIND_VARS_H

#include <stddef.h>

struct bind_vars_options {
    /* nvars triples: name, kind ("s" string, "n" number, "b" boolean), value as text.
     * Owned by the caller, which keeps them while scripts are loaded from them. */
    const char *const *vars;
    size_t nvars;
};

#endif
