#include "transport/listen.h"

#include <arpa/inet.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/util.h"

static int socket_port(evutil_socket_t fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct evhttp *listen_http(struct event_base *base, const char *listen, const char *module,
                           int *port_out) {
    char host[256];
    int port;
    if (util_parse_hostport(listen, host, sizeof host, &port)) {
        log_error(module, "bad listen address '%s' (want HOST:PORT)", listen);
        return NULL;
    }
    struct evhttp *http = evhttp_new(base);
    if (!http) return NULL;
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    if (!bound) {
        log_error(module, "cannot listen on %s: %s", listen,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        evhttp_free(http);
        return NULL;
    }
    int actual = socket_port(evhttp_bound_socket_get_fd(bound));
    log_info(module, "listening on %s:%d", host, actual);
    if (port_out) *port_out = actual;
    return http;
}
