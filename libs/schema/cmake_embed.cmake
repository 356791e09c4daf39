# Writes a C++ source holding every migration's text, so `fte migrate`
# carries the schema it was built with. Invoked at build time by CMake -P.
# Inputs: OUTPUT, FILES (semicolon list of "version|name|path").
set(body "// Generated from libs/schema/migrations by cmake_embed.cmake. Do not edit.\n#include \"fte/schema/migrations.hpp\"\n\nnamespace fte::schema {\n\nstd::vector<pg::Migration> migrations() {\n  return {\n")
foreach(entry IN LISTS FILES)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 version)
  list(GET parts 1 name)
  list(GET parts 2 path)
  file(READ "${path}" sql)
  string(APPEND body "      {${version}, \"${name}\", R\"fte_sql(${sql})fte_sql\"},\n")
endforeach()
string(APPEND body "  };\n}\n\n} // namespace fte::schema\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
