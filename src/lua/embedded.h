/* The Lua half of `lark` (every lua/lark/NAME.lua), compiled into the binary at build time
 * (cmake/embed_lua.cmake generates the table). The runtime uses it unless lua_path
 * points at a copy on disk. Private to src/lua/. */
#ifndef LARKGW_LUA_EMBEDDED_H
#define LARKGW_LUA_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *path;              /* relative to lua/: "lark/init.lua" */
    const unsigned char *text;     /* NUL-terminated past len */
    size_t len;
};

/* Every file, sorted by path, ended by a row whose path is NULL. Static data. */
extern const struct embedded_file embedded_files[];

/* The file at path ("lark/im.lua"), or NULL. */
const struct embedded_file *embedded_find(const char *path);

#endif
