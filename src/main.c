/* larkgw: a Lua-scriptable event gateway for the Feishu / Lark Open Platform. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/config.h"
#include "app/gateway.h"
#include "app/options.h"
#include "app/workers.h"
#include "base/log.h"
#include "emulator/emulator.h"
#include "lua/bind_vars.h"
#include "lua/runtime.h"

static const char usage[] =
    "usage: larkgw <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      [options]             run the gateway (default command)\n"
    "  check    [options]             validate the config and compile every script\n"
    "  replay   [options] EVENT.json  run the handlers on a saved event, offline\n"
    "  emulator [--listen ADDR] ...   a local Feishu Open Platform (larkgw emulator --help)\n"
    "  version                        print the version\n"
    "\n"
    "options (override the config file, which overrides LARK_* environment variables):\n"
    "  -c, --config FILE     config file (Lua table syntax, see larkgw.conf.lua)\n"
    "  --set KEY=VALUE       set any config key, e.g. --set webhook.max_body=65536\n"
    "  --mode MODE           ws | webhook | both\n"
    "  --scripts DIR         directory of handler scripts\n"
    "  --listen ADDR         webhook.listen, e.g. 127.0.0.1:9999\n"
    "  --admin ADDR          admin.listen, e.g. 127.0.0.1:9900\n"
    "  --domain URL          platform domain, e.g. http://127.0.0.1:9800 for the emulator\n"
    "  --log-level LEVEL     debug | info | warn | error\n"
    "  -h, --help            this text\n"
    "\n"
    "environment: LARK_APP_ID LARK_APP_SECRET LARK_ENCRYPT_KEY LARK_VERIFICATION_TOKEN LARK_DOMAIN\n";

/* Flags that are shorthands for one config key. */
static const struct { const char *flag, *key; } shorthands[] = {
    { "--mode", "mode" },        { "--scripts", "scripts" },    { "--listen", "webhook.listen" },
    { "--admin", "admin.listen" }, { "--domain", "domain" },    { "--log-level", "log.level" },
};

struct cli {
    const char *command;
    const char *config_path;
    const char *positional;
    /* key/value overrides, applied after the config file */
    const char *keys[64], *values[64];
    char *owned[64];
    int noverrides;
};

static int cli_override(struct cli *cli, const char *key, const char *value) {
    if (cli->noverrides == 64) {
        fprintf(stderr, "larkgw: too many overrides\n");
        return -1;
    }
    cli->keys[cli->noverrides] = key;
    cli->values[cli->noverrides++] = value;
    return 0;
}

static int cli_set(struct cli *cli, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "larkgw: --set wants KEY=VALUE, got '%s'\n", arg);
        return -1;
    }
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key || cli_override(cli, key, eq + 1)) {
        free(key);
        return -1;
    }
    cli->owned[cli->noverrides - 1] = key;
    return 0;
}

static const char *cli_shorthand(const char *flag) {
    for (size_t i = 0; i < sizeof shorthands / sizeof shorthands[0]; i++)
        if (strcmp(flag, shorthands[i].flag) == 0) return shorthands[i].key;
    return NULL;
}

/* Returns 0 to go on, 1 when --help was printed, -1 on a usage error. */
static int cli_parse(struct cli *cli, int argc, char **argv) {
    int i = 1;
    cli->command = "run";
    if (argc > 1 && argv[1][0] != '-') cli->command = argv[i++];
    for (; i < argc; i++) {
        const char *a = argv[i], *key;
        int has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has_value) {
            cli->config_path = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has_value) {
            if (cli_set(cli, argv[++i])) return -1;
        } else if ((key = cli_shorthand(a)) && has_value) {
            if (cli_override(cli, key, argv[++i])) return -1;
        } else if (a[0] != '-' && !cli->positional) {
            cli->positional = a;
        } else {
            fprintf(stderr, "larkgw: unknown or incomplete option '%s'\n%s", a, usage);
            return -1;
        }
    }
    return 0;
}

static void cli_free(struct cli *cli) {
    for (int i = 0; i < cli->noverrides; i++) free(cli->owned[i]);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void log_config_from_cwd(void) {
    char cwd[PATH_MAX];
    log_info("config", "read larkgw.conf.lua from the current directory %s",
             getcwd(cwd, sizeof cwd) ? cwd : "(unknown)");
}

static int load_config(struct config *cfg, struct cli *cli) {
    char err[512];
    config_init(cfg);
    config_apply_env(cfg);
    int from_cwd = !cli->config_path && file_exists("larkgw.conf.lua");
    if (from_cwd) cli->config_path = "larkgw.conf.lua";
    if (cli->config_path && config_load_file(cfg, cli->config_path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < cli->noverrides; i++)
        if (config_set(cfg, cli->keys[i], cli->values[i], err, sizeof err)) {
            fprintf(stderr, "larkgw: %s\n", err);
            return -1;
        }
    if (config_validate(cfg, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cli->config_path ? cli->config_path : "larkgw", err);
        return -1;
    }
    int level = log_level_parse(cfg->log.level);
    enum log_format format = strcmp(cfg->log.format, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
    if (log_setup(level < 0 ? LOG_LEVEL_INFO : (enum log_level)level, format, cfg->log.file)) {
        fprintf(stderr, "larkgw: cannot open log file %s\n", cfg->log.file);
        return -1;
    }
    /* nobody asked for that file by name: say which one shaped this run */
    if (from_cwd) log_config_from_cwd();
    return 0;
}

/* What SIGHUP reads again: the same sources in the same order; the log stays as it is. */
static int reread_config(void *arg, struct config *cfg, char *err, size_t errlen) {
    const struct cli *cli = arg;
    config_init(cfg);
    config_apply_env(cfg);
    int rc = cli->config_path ? config_load_file(cfg, cli->config_path, err, errlen) : 0;
    for (int i = 0; i < cli->noverrides && rc == 0; i++)
        rc = config_set(cfg, cli->keys[i], cli->values[i], err, errlen);
    if (rc == 0) rc = config_validate(cfg, err, errlen);
    if (rc) config_free(cfg);
    return rc;
}

static int command_check(struct config *cfg) {
    char err[512];
    struct runtime_options ro;
    struct bind_vars_options vars;
    options_runtime(cfg, &ro);
    options_bind_vars(cfg, &vars);     /* scripts may read lark.vars at their top level */
    ro.vars = &vars;
    if (runtime_check(&ro, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("ok: config and scripts in %s\n", cfg->scripts);
    return 0;
}

/* workers = 1 is one process, as it always was; more is a supervisor that runs this
 * command line again once per worker (those find LARKGW_WORKER set). */
static int command_run(struct config *cfg, const struct worker_role *role, struct cli *cli,
                       char **argv) {
    if (role) return gateway_run(cfg, reread_config, cli, role);
    if (cfg->workers > 1) return workers_supervise(cfg, argv);
    return gateway_run(cfg, reread_config, cli, NULL);
}

static int run_command(struct cli *cli, char **argv) {
    struct config cfg;
    struct worker_role role;
    int rc = 1, is_worker = strcmp(cli->command, "run") == 0 && workers_role_from_env(&role);
    if (is_worker) log_set_worker(role.index);
    if (load_config(&cfg, cli) == 0) {
        if (strcmp(cli->command, "run") == 0) {
            rc = command_run(&cfg, is_worker ? &role : NULL, cli, argv);
        } else if (strcmp(cli->command, "check") == 0) {
            rc = command_check(&cfg);
        } else if (!cli->positional) {
            fprintf(stderr, "larkgw: replay needs an EVENT.json\n");
        } else {
            rc = gateway_replay(&cfg, cli->positional);
        }
    }
    config_free(&cfg);
    log_close();
    return rc;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "emulator") == 0) return emulator_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("larkgw %s\n", LARKGW_VERSION);
        return 0;
    }
    struct cli cli;
    memset(&cli, 0, sizeof cli);
    int rc = cli_parse(&cli, argc, argv);
    if (rc == 0) {
        static const char *const commands[] = { "run", "check", "replay" };
        rc = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(cli.command, commands[i]) == 0) rc = run_command(&cli, argv);
        if (rc == -1) {
            fprintf(stderr, "larkgw: unknown command '%s'\n%s", cli.command, usage);
            rc = 2;
        }
    } else {
        rc = rc > 0 ? 0 : 2;
    }
    cli_free(&cli);
    return rc;
}
