# Compile options for fte's own targets only; third-party headers are system
# includes, so their warnings never fail our build.
add_library(fte_build_options INTERFACE)
target_compile_options(fte_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
if(FTE_WERROR)
  target_compile_options(fte_build_options INTERFACE -Werror)
endif()
if(FTE_SANITIZE)
  target_compile_options(fte_build_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(fte_build_options INTERFACE -fsanitize=address,undefined)
endif()
if(FTE_TSAN)
  target_compile_options(fte_build_options INTERFACE -fsanitize=thread)
  target_link_options(fte_build_options INTERFACE -fsanitize=thread)
endif()
# The `fuzz` preset (clang 14): every fte target gets libFuzzer's coverage
# instrumentation and ASan/UBSan, so the fuzzer is guided by the parsers it
# calls (they live in libraries, not in the fuzz targets' own files); only
# the targets themselves link libFuzzer's main (fuzz/CMakeLists.txt).
# -fno-sanitize=function: clang 14 cannot emit that check's prologue data in
# the split functions of a C++20 coroutine ("Cannot represent a difference
# across sections"), and libs/http is made of coroutines.
option(FTE_FUZZ "Build fuzz targets with libFuzzer (clang only)" OFF)
if(FTE_FUZZ)
  target_compile_options(fte_build_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  target_link_options(fte_build_options INTERFACE -fsanitize=address,undefined)
endif()
if(FTE_CLANG_TIDY)
  find_program(CLANG_TIDY_EXE NAMES clang-tidy clang-tidy-14 REQUIRED)
  set(CMAKE_CXX_CLANG_TIDY ${CLANG_TIDY_EXE})
endif()

# fte_library(<name> SOURCES ... DEPS ...): libs/<name> with include/fte/<name>.
function(fte_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(fte_${name} ${ARG_SOURCES})
  add_library(fte::${name} ALIAS fte_${name})
  target_include_directories(fte_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                         PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(fte_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE fte_build_options ${ARG_PRIVATE_DEPS})
endfunction()

# fte_test(<name> LABEL <label> SOURCES ... DEPS ...): one gtest binary per tier.
function(fte_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE fte_build_options ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# fte_embed_files(<out-var> NAMESPACE ns FUNCTION fn BASE dir FILES rel...):
# generates a source defining `const std::vector<fte::EmbeddedFile>& ns::fn()`
# with each file's path relative to BASE as its name. Binaries then carry the
# SQL and schemas they were built with, and need no files at run time.
function(fte_embed_files out_var)
  cmake_parse_arguments(ARG "" "NAMESPACE;FUNCTION;BASE" "FILES" ${ARGN})
  set(entries)
  set(paths)
  foreach(rel IN LISTS ARG_FILES)
    list(APPEND entries "${rel}|${ARG_BASE}/${rel}")
    list(APPEND paths "${ARG_BASE}/${rel}")
  endforeach()
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${ARG_FUNCTION}_embedded.cpp")
  add_custom_command(
    OUTPUT "${output}"
    COMMAND ${CMAKE_COMMAND} "-DOUTPUT=${output}" "-DNAMESPACE=${ARG_NAMESPACE}" "-DFUNCTION=${ARG_FUNCTION}"
            "-DFILES=${entries}" -P "${PROJECT_SOURCE_DIR}/cmake/embed_files_script.cmake"
    DEPENDS ${paths} "${PROJECT_SOURCE_DIR}/cmake/embed_files_script.cmake"
    COMMENT "Embedding ${ARG_FUNCTION}"
    VERBATIM)
  set(${out_var} "${output}" PARENT_SCOPE)
endfunction()

# fte_service(<name> MAIN main.cpp SOURCES ... DEPS ... [UNIT_TESTS ...]):
# services/<name> as an OBJECT library `<lib>` (handlers and stages, shared by
# the binary, its tests and fuzz targets) plus the executable `<name>`.
function(fte_service name)
  cmake_parse_arguments(ARG "" "MAIN;LIB" "SOURCES;DEPS;UNIT_TESTS" ${ARGN})
  add_library(${ARG_LIB} OBJECT ${ARG_SOURCES})
  target_include_directories(${ARG_LIB} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${ARG_LIB} PUBLIC ${ARG_DEPS} PRIVATE fte_build_options)
  add_executable(${name} ${ARG_MAIN})
  target_link_libraries(${name} PRIVATE ${ARG_LIB} fte::runtime fte_build_options)
  if(FTE_BUILD_TESTS AND ARG_UNIT_TESTS)
    fte_test(${ARG_LIB}_unit_tests LABEL unit SOURCES ${ARG_UNIT_TESTS} DEPS ${ARG_LIB})
  endif()
endfunction()
