/* The C half of the `lark` module, one bind_*.c per concern. Private to src/lua/. */
#ifndef LARKGW_LUA_BIND_H
#define LARKGW_LUA_BIND_H

#include <lua.h>

/* Each pushes one table. */
void bind_lark_open(lua_State *L);
void bind_log_open(lua_State *L);
void bind_json_open(lua_State *L);

/* print(...), routed to lark.log.info. */
int bind_print(lua_State *L);

#endif
