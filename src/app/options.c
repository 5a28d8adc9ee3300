#include "app/options.h"

#include "app/admin.h"
#include "app/config.h"

void options_admin(const struct config *cfg, struct admin_options *out) {
    out->listen = cfg->admin.listen;
    out->token = cfg->admin.token;
}
