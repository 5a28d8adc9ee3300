/* Binding an evhttp server to "host:port" (port 0: the kernel picks), shared by the
 * webhook and admin listeners and the emulator. */
#ifndef LARKGW_TRANSPORT_LISTEN_H
#define LARKGW_TRANSPORT_LISTEN_H

struct event_base;
struct evhttp;

/* Binds and logs "<module>: listening on HOST:PORT" with the bound port; NULL (logged)
 * on a malformed address or a bind failure. *port_out (may be NULL) gets the port. */
struct evhttp *listen_http(struct event_base *base, const char *listen, const char *module,
                           int *port_out);

#endif
