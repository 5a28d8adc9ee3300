# cmake -DBASE=<dir> -DOUT=<file.c> -P embed_lua.cmake
# Writes OUT: every BASE/lark/*.lua as a byte array in the table src/lua/embedded.h
# declares, so the binary carries the Lua half of `lark` wherever it is copied.
file(GLOB files RELATIVE ${BASE} ${BASE}/lark/*.lua)
list(SORT files)
set(arrays "")
set(rows "")
set(i 0)
foreach(f ${files})
  file(READ ${BASE}/${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "static const unsigned char file${i}[] = {\n    ${bytes}0x00\n};\n")
  string(APPEND rows "    { \"${f}\", file${i}, sizeof file${i} - 1 },\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp
  "/* Generated from lua/lark/ by cmake/embed_lua.cmake: do not edit. */\n"
  "#include \"lua/embedded.h\"\n\n"
  "${arrays}\n"
  "const struct embedded_file embedded_files[] = {\n${rows}    { 0, 0, 0 },\n};\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
