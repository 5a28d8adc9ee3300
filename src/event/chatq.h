/* Per-chat order: events of one chat run one after another, events of
 * different chats side by side. A chat is present while one of its events runs; events
 * arriving meanwhile wait behind it, at most max per chat. Intrusive and I/O-free: the
 * caller embeds a chatq_item in each event and runs whatever it is handed back. */
#ifndef LARKGW_EVENT_CHATQ_H
#define LARKGW_EVENT_CHATQ_H

#include <stddef.h>
#include <stdint.h>

struct chatq_item {
    const char *chat;              /* the caller's; lives as long as the item */
    uint64_t hash;
    struct chatq_item *next;       /* the bucket chain (running) or the queue (waiting) */
    struct chatq_item *qhead, *qtail;  /* running item only: its chat's waiting items */
    unsigned waiting;              /* running item only */
};

struct chatq;

struct chatq *chatq_new(void);
/* Frees the table; the items stay the caller's. */
void chatq_free(struct chatq *q);

/* An event of chat it->chat arrives. Returns 1: nothing of its chat runs, it may run now
 * (it is the chat's running item); 0: it waits behind the running one; -1: max events
 * already wait in its chat, it was not taken (or out of memory). */
int chatq_enter(struct chatq *q, struct chatq_item *it, unsigned max);

/* The running item it has finished: returns the next item of its chat, now the running
 * one, or NULL when none waits (the chat is gone from the table). */
struct chatq_item *chatq_leave(struct chatq *q, struct chatq_item *it);

/* For shutdown: takes one waiting item out of any chat, NULL when none waits. */
struct chatq_item *chatq_take_waiting(struct chatq *q);

/* Chats with an event running now. */
size_t chatq_chats(const struct chatq *q);

#endif
