# monitor/wire.c, snappy.c, promtext.c: the unit tests (tests/test_wire.c),
# then our output held to reference implementations by
# tests/monitor_wire_check.py: python-snappy both ways, a real
# VictoriaMetrics as the remote-write receiver, promtool on the text format.
add_executable(test_wire ${CMAKE_SOURCE_DIR}/tests/test_wire.c)
target_link_libraries(test_wire PRIVATE bar_monitor_wire Threads::Threads)
add_test(NAME monitor_wire COMMAND test_wire)
set_tests_properties(monitor_wire PROPERTIES TIMEOUT 180)

foreach(check snappy victoria promtool)
  add_test(NAME monitor_wire_${check}
    COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/monitor_wire_check.py ${check}
            $<TARGET_FILE:test_wire>)
  set_tests_properties(monitor_wire_${check} PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)
endforeach()
set_tests_properties(monitor_wire_victoria PROPERTIES LABELS integration)

if(BAR_FUZZ)
  foreach(target remote_write snappy)
    add_executable(fuzz_${target} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${target}.c)
    target_link_libraries(fuzz_${target} PRIVATE bar_monitor_wire)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${target})
    file(MAKE_DIRECTORY ${corpus})
    add_test(NAME fuzz_${target}
      COMMAND fuzz_${target} -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
              -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
              ${CMAKE_SOURCE_DIR}/tests/data/fuzz/${target})
    set_tests_properties(fuzz_${target} PROPERTIES LABELS "fuzz"
      TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
  endforeach()
endif()
