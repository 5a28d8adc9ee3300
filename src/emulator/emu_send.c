/* `larkgw emulator send`: a blocking one-shot client for POST /_emu/events. */
#include "emulator/emu_send.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cJSON.h>

#include "base/util.h"
#include "emulator/emu.h"

#define ANSWER_MAX (1 << 20)

static const char usage[] =
    "usage: larkgw emulator send [--to HOST:PORT] --text TEXT [--chat CHAT_ID]\n"
    "                            [--tenant TENANT_KEY] [--user OPEN_ID]\n"
    "       larkgw emulator send [--to HOST:PORT] --event FILE.json\n"
    "  options: --card (a card frame), --webhook (deliver by webhook), --fragments N,\n"
    "           --shuffle, --duplicate N\n"
    "  --to defaults to 127.0.0.1:9800. Prints the emulator's answer.\n";

static int connect_to(const char *to) {
    char host[128], port_s[8];
    int port;
    if (util_parse_hostport(to, host, sizeof host, &port) != 0 || port == 0) {
        fprintf(stderr, "larkgw emulator send: --to wants HOST:PORT, got '%s'\n", to);
        return -1;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(host, port_s, &hints, &res) != 0) {
        fprintf(stderr, "larkgw emulator send: cannot resolve %s\n", host);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) fprintf(stderr, "larkgw emulator send: cannot connect to %s\n", to);
    struct timeval tmo = { 10, 0 };
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    return fd;
}

/* POSTs body to /_emu/events; prints the answer's body; 0 on a 2xx answer. */
static int post(const char *to, const char *body) {
    int fd = connect_to(to);
    if (fd < 0) return 1;
    char head[256];
    int n = snprintf(head, sizeof head, "POST /_emu/events HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", to, strlen(body));
    char *answer = malloc(ANSWER_MAX + 1);
    size_t got = 0;
    if (answer && write(fd, head, (size_t)n) == n &&
        write(fd, body, strlen(body)) == (ssize_t)strlen(body)) {
        ssize_t r;
        while (got < ANSWER_MAX && (r = read(fd, answer + got, ANSWER_MAX - got)) > 0)
            got += (size_t)r;
    }
    close(fd);
    int status = 0;
    if (answer) answer[got] = '\0';
    char *sep = answer ? strstr(answer, "\r\n\r\n") : NULL;
    if (!sep || sscanf(answer, "HTTP/1.%*d %d", &status) != 1) {
        fprintf(stderr, "larkgw emulator send: no answer from %s\n", to);
        free(answer);
        return 1;
    }
    printf("%s\n", sep + 4);
    free(answer);
    return status >= 200 && status < 300 ? 0 : 1;
}

/* Adds one option to the request; -1 on an unknown flag or bad value. */
static int add_option(cJSON *req, const char *flag, const char *v, int *used_value) {
    static const struct { const char *flag, *key; } strings[] = {
        { "--text", "text" }, { "--chat", "chat_id" }, { "--tenant", "tenant_key" },
        { "--user", "open_id" },
    };
    *used_value = 1;
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp(flag, strings[i].flag) == 0 && v)
            return cJSON_AddStringToObject(req, strings[i].key, v) ? 0 : -1;
    if ((strcmp(flag, "--fragments") == 0 || strcmp(flag, "--duplicate") == 0) && v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 0 || n > 100000) return -1;
        cJSON_AddNumberToObject(req, flag + 2, (double)n);
        return 0;
    }
    static const struct { const char *flag, *key, *value; } switches[] = {
        { "--card", "frame_type", "card" }, { "--webhook", "delivery", "webhook" },
    };
    *used_value = 0;
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++)
        if (strcmp(flag, switches[i].flag) == 0)
            return cJSON_AddStringToObject(req, switches[i].key, switches[i].value) ? 0 : -1;
    if (strcmp(flag, "--shuffle") == 0) return cJSON_AddTrueToObject(req, "shuffle") ? 0 : -1;
    return -1;
}

static int add_event_file(cJSON *req, const char *path) {
    size_t len;
    char *text = util_read_file(path, EMU_MAX_BODY / 2, &len);
    cJSON *env = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!cJSON_IsObject(env)) {
        fprintf(stderr, "larkgw emulator send: %s: %s\n", path,
                env || !text ? "not readable or too large" : "not a JSON object");
        cJSON_Delete(env);
        return -1;
    }
    cJSON_AddItemToObject(req, "event", env);
    return 0;
}

int emu_send_main(int argc, char **argv) {
    const char *to = "127.0.0.1:9800";
    cJSON *req = cJSON_CreateObject();
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--to") == 0 && v) {
            to = v;
            used = 1;
        } else if (strcmp(argv[i], "--event") == 0 && v) {
            if (add_event_file(req, v)) goto out;
            used = 1;
        } else if (add_option(req, argv[i], v, &used)) {
            fprintf(stderr, "larkgw emulator send: bad option '%s'\n%s", argv[i], usage);
            goto out;
        }
        i += used;
    }
    if (!cJSON_GetObjectItem(req, "text") && !cJSON_GetObjectItem(req, "event")) {
        fprintf(stderr, "larkgw emulator send: give --text or --event\n%s", usage);
        goto out;
    }
    char *body = cJSON_PrintUnformatted(req);
    rc = body ? post(to, body) : 1;
    cJSON_free(body);
out:
    cJSON_Delete(req);
    return rc;
}
