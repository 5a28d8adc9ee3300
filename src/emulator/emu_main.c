/* `larkgw emulator`: flags, the route table, the wiring between the files, the event
 * loop, and the teardown that frees it all. The only file that knows every other. */
#include "emulator/emulator.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_cardkit.h"
#include "emulator/emu_control.h"
#include "emulator/emu_deliver.h"
#include "emulator/emu_discovery.h"
#include "emulator/emu_files.h"
#include "emulator/emu_flood.h"
#include "emulator/emu_http.h"
#include "emulator/emu_legacy.h"
#include "emulator/emu_llm.h"
#include "emulator/emu_openapi.h"
#include "emulator/emu_send.h"
#include "emulator/emu_token.h"
#include "emulator/emu_webhook.h"
#include "emulator/emu_ws.h"

static const char usage[] =
    "usage: larkgw emulator [options]            run a local Feishu/Lark Open Platform\n"
    "       larkgw emulator send [options]       inject an event (larkgw emulator send -h)\n"
    "\n"
    "  --listen ADDR            IP:PORT to serve on (default 127.0.0.1:9800; port 0: any)\n"
    "  --app-id ID              the app's credentials (default " EMU_DEFAULT_APP_ID ")\n"
    "  --app-secret SECRET      (default " EMU_DEFAULT_APP_SECRET ")\n"
    "  --client-config JSON     ClientConfig for discovery and pongs (default\n"
    "                           {\"PingInterval\":120,\"ReconnectCount\":-1,\n"
    "                            \"ReconnectInterval\":120,\"ReconnectNonce\":30})\n"
    "  --verification-token T  put into every generated envelope's header.token\n"
    "  --encrypt-key KEY        webhook delivery: encrypt and sign with this key\n"
    "  --webhook URL            webhook delivery target, http://host:port/path\n"
    "  --redeliver-ms N         re-deliver an unacked event after N ms (default 3000)\n"
    "  --retries N              re-deliveries before giving up (default 3)\n"
    "  --ticket-ttl-ms N        lifetime of a discovery ticket (default 30000)\n"
    "  --service-id N           the service_id in URLs and frames (default: random)\n"
    "  --log-level LEVEL        debug | info | warn | error\n"
    "The control API is described in src/emulator/README.md.\n";

struct route {
    const char *method;             /* NULL: any, the handler checks */
    const char *path;
    int prefix;
    void (*handle)(struct emu_req *r);
};

static const struct route routes[] = {
    { "POST", "/callback/ws/endpoint", 0, emu_discovery_handle },
    { "GET", "/ws/v2", 0, emu_ws_upgrade },
    { NULL, "/_emu/card_updates", 0, emu_control_handle },  /* before cardkit's prefix */
    { NULL, "/_emu/card", 1, emu_cardkit_control },
    { NULL, "/_emu/llm", 0, emu_llm_control },
    { NULL, "/_emu/", 1, emu_control_handle },
    { "POST", "/v1/chat/completions", 0, emu_llm_handle },
    { NULL, "/open-apis/", 1, emu_openapi_handle },
};

static void route(struct emu_req *r) {
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (rt->prefix ? strncmp(r->path, rt->path, strlen(rt->path)) != 0
                       : strcmp(r->path, rt->path) != 0)
            continue;
        if (rt->method && strcmp(rt->method, r->method) != 0)
            emu_http_reply_error(r, 405, "%s wants %s", rt->path, rt->method);
        else
            rt->handle(r);
        return;
    }
    emu_http_reply_error(r, 404, "no such path: %s", r->path);
}

static const char default_config[] =
    "{\"PingInterval\":120,\"ReconnectCount\":-1,\"ReconnectInterval\":120,\"ReconnectNonce\":30}";

static int parse_long(const char *flag, const char *s, long min, long max, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "larkgw emulator: %s wants an integer in [%ld, %ld], got '%s'\n", flag,
                min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int set_string(char **slot, const char *value) {
    free(*slot);
    *slot = *value ? strdup(value) : NULL;
    return 0;
}

/* One flag and its value; -1 on an error (printed). */
static int parse_flag(struct emu *emu, const char *flag, const char *v, char *listen, size_t llen) {
    long n;
    if (strcmp(flag, "--listen") == 0) return snprintf(listen, llen, "%s", v) >= (int)llen ? -1 : 0;
    if (strcmp(flag, "--app-id") == 0) return set_string(&emu->app_id, v);
    if (strcmp(flag, "--app-secret") == 0) return set_string(&emu->app_secret, v);
    if (strcmp(flag, "--encrypt-key") == 0) return set_string(&emu->encrypt_key, v);
    if (strcmp(flag, "--verification-token") == 0) return set_string(&emu->verification_token, v);
    if (strcmp(flag, "--webhook") == 0) return set_string(&emu->webhook_url, v);
    if (strcmp(flag, "--log-level") == 0) {
        int level = log_level_parse(v);
        if (level < 0) fprintf(stderr, "larkgw emulator: unknown log level '%s'\n", v);
        return level < 0 ? -1 : log_setup((enum log_level)level, LOG_FORMAT_TEXT, NULL);
    }
    if (strcmp(flag, "--client-config") == 0) {
        cJSON *c = cJSON_Parse(v);
        if (!cJSON_IsObject(c)) {
            cJSON_Delete(c);
            fprintf(stderr, "larkgw emulator: --client-config wants a JSON object\n");
            return -1;
        }
        cJSON_Delete(emu->client_config);
        emu->client_config = c;
        return 0;
    }
    const struct { const char *flag; int *slot; long min, max; } nums[] = {
        { "--redeliver-ms", &emu->redeliver_ms, 10, 3600000 },
        { "--retries", &emu->retries, 0, 100 },
        { "--ticket-ttl-ms", &emu->ticket_ttl_ms, 1, 3600000 },
        { "--service-id", &emu->service_id, 1, 2147483647L },
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(flag, nums[i].flag) != 0) continue;
        if (parse_long(flag, v, nums[i].min, nums[i].max, &n)) return -1;
        *nums[i].slot = (int)n;
        return 0;
    }
    fprintf(stderr, "larkgw emulator: unknown option '%s'\n%s", flag, usage);
    return -1;
}

static int parse_args(struct emu *emu, int argc, char **argv, char *listen, size_t llen) {
    for (int i = 1; i < argc; i += 2) {     /* every flag takes one value */
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "larkgw emulator: '%s' wants a value\n%s", argv[i], usage);
            return -1;
        }
        if (parse_flag(emu, argv[i], argv[i + 1], listen, llen) != 0) return -1;
    }
    return 0;
}

static int emu_init(struct emu *emu) {
    emu->app_id = strdup(EMU_DEFAULT_APP_ID);
    emu->app_secret = strdup(EMU_DEFAULT_APP_SECRET);
    emu->on_ack = emu_deliver_ack;
    emu->on_settle = emu_flood_wake;
    emu->client_config = cJSON_Parse(default_config);
    emu->closed = cJSON_CreateArray();
    emu->acks = cJSON_CreateArray();
    emu->redeliver_ms = 3000;
    emu->retries = 3;
    emu->ticket_ttl_ms = 30000;
    uint32_t r;
    crypto_random(&r, sizeof r);
    emu->service_id = (int32_t)(r % 2000000000u) + 1;
    crypto_random(&r, sizeof r);
    emu->next_device_id = 7000000000000000000ull + (uint64_t)(r % 1000000u) * 1000000u;
    emu->next_log_id = (uint64_t)r * 1000u;
    int ok = emu->app_id && emu->app_secret && emu->client_config && emu->closed && emu->acks;
    emu->lists.chats = 3;
    emu->lists.members = 5;
    return ok && emu_openapi_new(emu) == 0 && emu_tokens_new(emu) == 0 &&
        emu_cards_new(emu) == 0 && emu_llm_new(emu) == 0 && emu_files_new(emu) == 0 &&
        emu_legacy_new(emu) == 0 && emu_flood_new(emu) == 0 ? 0 : -1;
}

static void emu_free(struct emu *emu) {
    emu_http_free_all(emu);         /* first: drops answers the OpenAPI still holds */
    emu_openapi_free(emu);
    emu_tokens_free(emu);
    emu_cards_free(emu);
    emu_llm_free(emu);
    emu_legacy_free(emu);           /* after the requests: their drops reach its posts */
    emu_files_free(emu);
    emu_ws_free_all(emu);
    emu_deliver_free_all(emu);
    emu_flood_free(emu);
    emu_webhook_free_all(emu);
    if (emu->sigterm) event_free(emu->sigterm);
    if (emu->sigint) event_free(emu->sigint);
    if (emu->base) event_base_free(emu->base);
    free(emu->app_id);
    free(emu->app_secret);
    free(emu->encrypt_key);
    free(emu->verification_token);
    free(emu->webhook_url);
    free(emu->card_url);
    cJSON_Delete(emu->client_config);
    cJSON_Delete(emu->closed);
    cJSON_Delete(emu->acks);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    struct emu *emu = arg;
    log_info(EMU_MODULE, "signal %d: stopping", (int)sig);
    event_base_loopbreak(emu->base);
}

static int emu_run(struct emu *emu, const char *listen) {
    char host[64];
    int port;
    if (util_parse_hostport(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "larkgw emulator: --listen wants IP:PORT, got '%s'\n", listen);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(emu->base = event_base_new())) return 1;
    emu->sigterm = evsignal_new(emu->base, SIGTERM, on_signal, emu);
    emu->sigint = evsignal_new(emu->base, SIGINT, on_signal, emu);
    if (!emu->sigterm || !emu->sigint || evsignal_add(emu->sigterm, NULL) ||
        evsignal_add(emu->sigint, NULL))
        return 1;
    if (emu_http_listen(emu, host, port, route) != 0) return 1;
    log_info(EMU_MODULE, "app_id %s, service_id %d, ws and webhook delivery, OpenAPI at "
             "http://%s:%d/open-apis/, control API at /_emu/", emu->app_id, emu->service_id,
             host, emu->port);
    event_base_dispatch(emu->base);
    return 0;
}

int emulator_main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "send") == 0) return emu_send_main(argc - 1, argv + 1);
    struct emu emu = { 0 };
    char listen[128] = "127.0.0.1:9800";
    int rc;
    if (emu_init(&emu) != 0) rc = 1;
    else if ((rc = parse_args(&emu, argc, argv, listen, sizeof listen)) == 0)
        rc = emu_run(&emu, listen);
    else
        rc = rc > 0 ? 0 : 2;
    emu_free(&emu);
    return rc;
}
