/* The Redis client: one asynchronous hiredis connection on the event loop (its libevent
 * adapter), shared by every module that keeps state across gateways (dedup, lark.store,
 * tokens, chat leases, schedules). Nothing here blocks: connecting, AUTH/SELECT and
 * every command complete through callbacks.
 *
 * The connection is kept up by itself: a failed connect or a lost connection is retried
 * with a jittered backoff (100 ms doubling to 5 s), a command unanswered for
 * cmd_timeout_ms drops the connection (a frozen server must not hold events forever),
 * and state listeners hear every change between up and down. While down, redis_command
 * refuses at once: callers fall back to what they can do alone.
 *
 * The password and every value may be secrets: nothing here logs them. */
#ifndef LARKGW_NET_REDIS_H
#define LARKGW_NET_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct event_base;
struct redis;
struct redis_call;

/* A parsed redis://[[user]:password@]host[:port][/db] URL; strings are NUL-terminated
 * copies inside the struct. */
struct redis_url {
    char host[256];
    int port;                      /* 6379 when absent */
    int db;                        /* 0 when absent */
    char user[128], password[256]; /* "" when absent */
};

/* 0 on success; -1 with a reason in err ("rediss:// needs TLS, which this build's
 * hiredis lacks: ..."). Never writes the password into err. */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

/* Strings are the caller's and must outlive the client. */
struct redis_options {
    const char *url;
    const char *password;          /* NULL or "": the URL's, if any; else this one wins */
    const char *prefix;            /* prepended to every key by callers ("larkgw:") */
    int cmd_timeout_ms;            /* 0: 3000 */
};

/* hiredis's reply, NULL when the command did not complete (connection lost, client
 * freed, or cancelled callers are never called). Valid only during the call. */
typedef void (*redis_reply_fn)(void *arg, const redisReply *reply);
typedef void (*redis_state_fn)(void *arg, int up, const char *reason);

/* Starts connecting at once. NULL when the URL does not parse (logged) or out of
 * memory. */
struct redis *redis_new(struct event_base *base, const struct redis_options *opt);
/* Pending commands' callbacks run with NULL first (their callers must still be alive);
 * state listeners are not called. */
void redis_free(struct redis *r);

/* Adds a listener for up/down changes (at most 8); reason is NULL when up. */
void redis_on_state(struct redis *r, redis_state_fn fn, void *arg);

/* 1 when connected, authenticated and the database selected. */
int redis_up(const struct redis *r);
/* Why it is down, for /readyz ("connecting", "connection refused", ...); NULL when up. */
const char *redis_down_reason(const struct redis *r);
const char *redis_prefix(const struct redis *r);
struct event_base *redis_base(const struct redis *r);

/* Sends one command (argv[i] of argvlen[i] bytes; argvlen NULL: strlen). Returns a
 * handle, or NULL when down or the command could not be queued: then fn is never
 * called. Otherwise fn is called exactly once, unless redis_cancel came first. */
struct redis_call *redis_command(struct redis *r, redis_reply_fn fn, void *arg, int argc,
                                 const char **argv, const size_t *argvlen);
/* fn will not be called; the command itself may still run on the server. */
void redis_cancel(struct redis_call *c);

/* A command whose answer nobody waits for (a release, a mark): 0 sent, -1 down. */
int redis_send(struct redis *r, int argc, const char **argv, const size_t *argvlen);

/* A server-side Lua script run by EVALSHA: text is the caller's (static), sha is filled
 * by redis_script_add. Every connection loads the added scripts (SCRIPT LOAD) before
 * anything else, so EVALSHA never meets a server that lacks them; a NOSCRIPT answer
 * (someone ran SCRIPT FLUSH) loads them again, the failed command being the caller's
 * to treat as failed. Sending the SHA instead of the text saves Redis hashing the
 * text on every call. */
struct redis_script {
    const char *text;
    char sha[41];
};
/* s must outlive r; at most 16 scripts. */
void redis_script_add(struct redis *r, struct redis_script *s);

/* Writes what is queued to the socket now, not on the next turn of the loop: for a
 * command that must reach Redis before this gateway answers someone else (a dedup
 * mark before the event's ack). A no-op while down. */
void redis_flush(struct redis *r);

/* Deletes key only while it holds value (a lease or claim that lapsed and was taken by
 * someone else is not ours to end); nobody waits for the answer. 0 sent, -1 down. */
int redis_del_if(struct redis *r, const char *key, const char *value);

struct redis_stats {
    unsigned long long commands, failures, connects, disconnects;
    int up;
};
void redis_get_stats(const struct redis *r, struct redis_stats *out);

#endif
