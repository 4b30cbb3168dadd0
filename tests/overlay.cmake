# The MCI overlay network (docs/overlay.md): tests/test_overlay.c checks
# addresses, keys and the overlay file's text; tests/overlay_check.py runs
# real wireguard-go in real network namespaces through tests/overlay_driver.c
# and checks with tcpdump that traffic between clouds is encrypted (root).
add_executable(test_overlay ${CMAKE_SOURCE_DIR}/tests/test_overlay.c)
target_link_libraries(test_overlay PRIVATE barista_core bar_runtime_agent)
target_include_directories(test_overlay PRIVATE ${CMAKE_SOURCE_DIR}/tests)
add_test(NAME overlay_unit COMMAND test_overlay)
set_tests_properties(overlay_unit PROPERTIES TIMEOUT 30 LABELS overlay)

add_executable(overlay_driver ${CMAKE_SOURCE_DIR}/tests/overlay_driver.c)
target_link_libraries(overlay_driver PRIVATE barista_core bar_runtime_agent)
add_test(NAME overlay_wg
  COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/overlay_check.py $<TARGET_FILE:overlay_driver>)
# one at a time with itself: it owns the bridges and namespaces it names
set_tests_properties(overlay_wg PROPERTIES TIMEOUT 120 LABELS overlay
  RESOURCE_LOCK barista_overlay_wg)

if(BAR_FUZZ)
  add_executable(fuzz_overlay_file ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_overlay_file.c)
  target_link_libraries(fuzz_overlay_file PRIVATE bar_runtime_agent)
  target_link_options(fuzz_overlay_file PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/overlay_file)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_overlay_file
    COMMAND fuzz_overlay_file -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/fuzz/overlay)
  set_tests_properties(fuzz_overlay_file PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
