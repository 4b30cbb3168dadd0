# The provider kit's own pieces: the JSON reader (tests/test_kit_json.c,
# against jansson on edge cases and every documented cloud answer).
add_executable(test_kit_json ${CMAKE_SOURCE_DIR}/tests/test_kit_json.c)
target_link_libraries(test_kit_json PRIVATE bar_kit)
add_test(NAME kit_json COMMAND test_kit_json
  ${CMAKE_SOURCE_DIR}/tests/data/gcp/responses ${CMAKE_SOURCE_DIR}/tests/data/azure/responses
  ${CMAKE_SOURCE_DIR}/tests/data/alibaba/responses
  ${CMAKE_SOURCE_DIR}/tests/data/openstack)
set_tests_properties(kit_json PROPERTIES TIMEOUT 60)

if(BAR_FUZZ)
  add_executable(fuzz_kit_json ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_kit_json.c)
  target_link_libraries(fuzz_kit_json PRIVATE bar_kit)
  target_link_options(fuzz_kit_json PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/kit_json)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_kit_json
    COMMAND fuzz_kit_json -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/fuzz/kit_json
            ${CMAKE_SOURCE_DIR}/tests/data/gcp/responses)
  set_tests_properties(fuzz_kit_json PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
