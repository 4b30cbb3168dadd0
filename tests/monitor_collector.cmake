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
