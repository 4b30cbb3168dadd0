# monitor/tsdb*.c, the collector's store: unit and integration tests on real
# SQLite files (tests/test_tsdb.c, one ctest per part), and the chunk
# decoder's fuzz target.
add_executable(test_tsdb ${CMAKE_SOURCE_DIR}/tests/test_tsdb.c)
target_include_directories(test_tsdb PRIVATE ${CMAKE_SOURCE_DIR}/monitor)
target_link_libraries(test_tsdb PRIVATE bar_monitor_tsdb Threads::Threads m)
foreach(part codec select rollup retention crash concurrent bounded)
  add_test(NAME monitor_tsdb_${part} COMMAND test_tsdb ${part})
  set_tests_properties(monitor_tsdb_${part} PROPERTIES TIMEOUT 120 LABELS monitor)
endforeach()

if(BAR_FUZZ)
  add_executable(fuzz_tsdb_chunk ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tsdb_chunk.c)
  target_include_directories(fuzz_tsdb_chunk PRIVATE ${CMAKE_SOURCE_DIR}/monitor)
  target_link_libraries(fuzz_tsdb_chunk PRIVATE bar_monitor_tsdb)
  target_link_options(fuzz_tsdb_chunk PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/tsdb_chunk)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_tsdb_chunk
    COMMAND fuzz_tsdb_chunk -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/fuzz/tsdb_chunk)
  set_tests_properties(fuzz_tsdb_chunk PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
