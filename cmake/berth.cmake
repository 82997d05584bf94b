# Helpers that keep every component's CMakeLists.txt to a few lines.
#
#   berth_library(NAME foo SRCS a.cc b.cc DEPS berth::base PRIVATE_DEPS fmt::fmt)
#     -> static library berth_foo, alias berth::foo, include root src/
#   berth_test(NAME foo_test SRCS foo_test.cc DEPS berth::foo [LABELS slow] [DATA_DIR dir])
#     -> GoogleTest executable registered with CTest
#   berth_binary(NAME berth SRCS main.cc DEPS ...)

set(BERTH_SRC_ROOT "${PROJECT_SOURCE_DIR}/src")

function(berth_apply_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 reports false positives through std::variant (Result<T>) at -O1 and above.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(BERTH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(BERTH_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(BERTH_BUILD_FUZZ)
    # Coverage instrumentation for libFuzzer in every library the targets link.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(berth_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(berth_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(berth::${ARG_NAME} ALIAS berth_${ARG_NAME})
  target_include_directories(berth_${ARG_NAME} PUBLIC "${BERTH_SRC_ROOT}")
  target_link_libraries(berth_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  berth_apply_flags(berth_${ARG_NAME})
endfunction()

function(berth_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  berth_apply_flags(${ARG_NAME})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/bin")
endfunction()

# Tests find their data through BERTH_TESTDATA (tests/testdata) and BERTH_BIN (built binaries).
function(berth_test)
  if(NOT BERTH_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${ARG_NAME} PRIVATE
    BERTH_TESTDATA="${PROJECT_SOURCE_DIR}/tests/testdata"
    BERTH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    BERTH_BIN="${PROJECT_BINARY_DIR}/bin")
  berth_apply_flags(${ARG_NAME})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${ARG_NAME} DISCOVERY_MODE PRE_TEST
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
