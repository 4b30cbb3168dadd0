# Benchmarks: build/bench/<name>; run by hand, each prints key=value figures
# as its last line (see bench/README.md).
add_library(bench_util STATIC ${CMAKE_SOURCE_DIR}/bench/bench_util.c)
foreach(b plan_scale apply_parallel local_create exec_fanout crash_trials faults lifecycle)
  if(EXISTS ${CMAKE_SOURCE_DIR}/bench/${b}.c)
    add_executable(${b} ${CMAKE_SOURCE_DIR}/bench/${b}.c)
    target_link_libraries(${b} PRIVATE bench_util barista_core)
    set_target_properties(${b} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  endif()
endforeach()
if(TARGET lifecycle)
  target_compile_definitions(lifecycle PRIVATE
    BAR_DEMO_DIR="${CMAKE_SOURCE_DIR}/specs/examples/paper-demo")
endif()

# A small seeded set of crash trials runs in the suite: kills at random
# instants must leave nothing orphaned or duplicated.
add_test(NAME crash_trials COMMAND crash_trials -trials 12 -seed 7 -local 0 -check)
set_tests_properties(crash_trials PROPERTIES TIMEOUT 240 LABELS integration)

# A refresh of 1,000 VMs on each cloud driver's API double: calls against
# the API's fewest list pages, time against the double's serving time.
add_executable(driver_refresh ${CMAKE_SOURCE_DIR}/bench/driver_refresh.c)
target_link_libraries(driver_refresh PRIVATE bar_test_host PkgConfig::JANSSON PkgConfig::CURL)
target_compile_definitions(driver_refresh PRIVATE BAR_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  BAR_PLUGIN_BUILD_DIR="${BAR_PLUGIN_BUILD_DIR}")
set_target_properties(driver_refresh PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
