/* Watches a directory with inotify and calls back once changes settle (debounced), so
 * an editor's write-rename-chmod burst triggers one reload, not three. */
#ifndef LARKGW_BASE_WATCH_H
#define LARKGW_BASE_WATCH_H

struct event_base;
struct watch;

typedef void (*watch_fn)(void *arg);

/* NULL (logged) when the directory cannot be watched. A directory deleted or moved
 * away is looked for again (logged) and watched once it is back; fn runs when it goes
 * and when it comes back. */
struct watch *watch_new(struct event_base *base, const char *dir, int debounce_ms,
                        watch_fn fn, void *arg);
void watch_free(struct watch *w);

#endif
