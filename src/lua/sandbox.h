/* The sandbox: what a script can reach, as data (allow-lists in sandbox.c), in the
 * spirit of Redis's script_lua.c. Private to src/lua/.
 *
 * A script's _ENV is a fresh table whose metatable (hidden: getmetatable gives false)
 * reads through to the allow-listed builtins and refuses new globals once the top level
 * has run: globals defined at load (function on_p2_..., counters) work and keep their
 * value across events; a global first assigned inside a handler (usually a missing
 * `local`) raises. Modules loaded with require get their own private _ENV. */
#ifndef LARKGW_LUA_SANDBOX_H
#define LARKGW_LUA_SANDBOX_H

#include <lua.h>

struct script;

/* Opens the allowed libraries and the lark module (its Lua half from s->lua_dir, or the
 * copy compiled in when that is NULL) into s->L, builds the builtins and the
 * script's _ENV (s->env_ref, builtins_ref, handlers_ref, loaded_ref, lark_ref), then
 * empties the real global table. Call under lua_pcall; raises on failure. */
void sandbox_open(lua_State *L, struct script *s);

#endif
