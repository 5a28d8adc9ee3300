/* One script = one sandboxed lua_State. Private to src/lua/. Every thread of the state
 * (handler coroutines, coroutines a script creates) finds its script through
 * lua_getextraspace, which Lua copies from the main thread into each new thread. */
#ifndef LARKGW_LUA_SCRIPT_H
#define LARKGW_LUA_SCRIPT_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

struct jobs;
struct runtime_limits;
struct sched_task;
struct store;
struct bind_vars_options;

/* Finished handler threads kept for the next events: saves a thread's allocation and
 * its garbage collection per event. */
#define SCRIPT_IDLE_THREADS 16

/* Registry key of the weak set of handler threads, which scripts may not resume. */
#define SCRIPT_HANDLER_THREADS "larkgw.handler_threads"

struct script {
    lua_State *L;
    char *name;              /* "echo.lua": log tag */
    char *path;              /* chunk name without '@': what error positions show */
    const struct runtime_limits *limits;  /* the runtime's; outlives the script */
    const char *lua_dir;     /* the Lua half of lark on disk; NULL: the embedded copy */
    const char *scripts_dir;
    size_t mem_used, mem_limit;  /* bytes; mem_limit 0: no cap */
    int loading;             /* top-level chunk running: new globals allowed */
    int env_ref;             /* the script's _ENV */
    int builtins_ref;        /* the allow-listed names, _ENV's __index */
    int handlers_ref;        /* event type -> function, from lark.on */
    int loaded_ref;          /* require's cache */
    int lark_ref;            /* the lark table */
    struct sched_task *current;  /* the task whose coroutine is running, if any */
    /* The running code's time budget (limits.c): the wall-clock deadline is the cheap
     * check; once it passes, CPU time decides, so time the process spent preempted
     * (a loaded machine) is not billed. */
    uint64_t deadline_ms;        /* wall clock; 0: no budget running */
    uint64_t budget_start_ms;    /* wall clock when this run started */
    uint64_t cpu_base_us;        /* thread CPU time at cpu_base_ms; 0 until taken */
    uint64_t cpu_base_ms;
    long budget_run_ms;          /* the budget this run started with */
    int timed_out;
    int load_coroutines;         /* coroutines created while no task runs (top level) */
    int limit_hit;               /* a limit failed the code that ran: collect garbage */
    struct store *store;         /* lark.store, shared by every script (NULL: none) */
    const struct bind_vars_options *vars;   /* lark.vars (NULL: empty) */
    struct jobs *jobs;           /* lark.every/cron/after register here (NULL: none) */
    void *gen;                   /* the runtime's generation holding the script */
    int nidle;
    struct { lua_State *co; int ref; } idle[SCRIPT_IDLE_THREADS];
};

static inline struct script *script_of(lua_State *L) {
    return *(struct script **)lua_getextraspace(L);
}

/* Everything a runtime shares with its scripts; all of it outlives the script. */
struct script_args {
    const struct runtime_limits *limits;
    const char *dir, *file;
    const char *lua_dir;         /* NULL: the Lua half of lark compiled in */
    struct store *store;         /* lark.store (NULL: its calls answer nil, err) */
    const struct bind_vars_options *vars;   /* lark.vars (NULL: empty) */
    struct jobs *jobs;           /* schedules (NULL: lark.every and the like raise) */
};

/* Creates the state, opens the sandbox and the lark module, and runs the file's top
 * level. NULL with "file:line: message" in err on any failure. */
struct script *script_open(const struct script_args *a, char *err, size_t errlen);
void script_close(struct script *s);

/* Pushes the handler for an event onto s->L (first match: lark.on(type), the global
 * named name (may be NULL), on_event) and returns SCRIPT_HANDLER_SPECIFIC for the first
 * two, SCRIPT_HANDLER_CATCHALL for on_event, or pushes nothing and returns 0. The kind
 * decides whose returned table answers an event. May raise (memory): call under
 * lua_pcall. */
enum { SCRIPT_HANDLER_SPECIFIC = 1, SCRIPT_HANDLER_CATCHALL = 2 };
int script_push_handler(struct script *s, const char *type, const char *name);

/* "file:line" of the innermost Lua frame of a thread that stopped with an error (frames
 * of the Lua half of lark skipped), or "" when it has none. */
void script_where(lua_State *co, char *out, size_t len);

#endif
