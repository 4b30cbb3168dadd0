# The collector (monitor/collector*.c, alarm*.c) run as `barista collector`
# and held to real components by tests/monitor_collector_check.py: its
# queries against known answers, its refusals, promtool on its /metrics, a
# real VictoriaMetrics as the forwarding target, two collectors as peers, a
# kill -9 after an acknowledged push, and alarms delivered to a webhook,
# Slack's format, a real SMTP server (python3-aiosmtpd) and a real
# prometheus-alertmanager.
if(TARGET bar_monitor)
  foreach(check ingest refuse promtool forward peers restart alarms)
    add_test(NAME monitor_collector_${check}
      COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/monitor_collector_check.py ${check}
              $<TARGET_FILE:barista>)
    set_tests_properties(monitor_collector_${check} PROPERTIES TIMEOUT 180
      SKIP_RETURN_CODE 77 LABELS "monitor")
  endforeach()
  set_tests_properties(monitor_collector_forward monitor_collector_alarms PROPERTIES
    LABELS "monitor;integration")
endif()

if(BAR_FUZZ AND TARGET bar_monitor)
  add_executable(fuzz_promql ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_promql.c)
  target_link_libraries(fuzz_promql PRIVATE bar_monitor)
  target_link_options(fuzz_promql PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/promql)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_promql
    COMMAND fuzz_promql -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/fuzz/promql)
  set_tests_properties(fuzz_promql PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
