#include "app/options.h"

#include "app/config.h"

#include <string.h>

#include "openapi/openapi.h"

void options_openapi(const struct config *cfg, struct openapi_options *out) {
    memset(out, 0, sizeof *out);
    out->domain = cfg->domain;
    out->app_id = cfg->app_id;
    out->app_secret = cfg->app_secret;
    out->marketplace = cfg->app_type == CONFIG_APP_MARKETPLACE;
    out->state_dir = cfg->state_dir;
}
