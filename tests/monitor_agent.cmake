# barista-agent (monitor/agent*.c, cmd/barista-agent): tests/test_agent.c
# drives the real binary against Debian's victoria-metrics, prometheus and
# promtool (skipped, 77, when one is missing).  "outage" is the one long
# test (a collector down for 60 s).
if(TARGET barista-agent)
  add_executable(test_agent ${CMAKE_SOURCE_DIR}/tests/test_agent.c)
  target_link_libraries(test_agent PRIVATE bar_monitor_agent PkgConfig::JANSSON PkgConfig::CURL)
  target_compile_definitions(test_agent PRIVATE BAR_VERSION="${PROJECT_VERSION}")
  foreach(case config version once_prom once_json values push outage failover spool restart
               refused pull daemon)
    add_test(NAME monitor_agent_${case} COMMAND test_agent ${case} $<TARGET_FILE:barista-agent>)
    set_tests_properties(monitor_agent_${case} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77
      LABELS monitor)
  endforeach()
  set_tests_properties(monitor_agent_outage PROPERTIES TIMEOUT 170 LABELS "monitor;long")
endif()

if(BAR_FUZZ)
  add_executable(fuzz_agent_config ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_agent_config.c)
  target_link_libraries(fuzz_agent_config PRIVATE bar_monitor_agent)
  target_link_options(fuzz_agent_config PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/agent_config)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_agent_config
    COMMAND fuzz_agent_config -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/fuzz/agent_config)
  set_tests_properties(fuzz_agent_config PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
