# Monitoring end to end on real local VMs (root): apply installs agents,
# push and pull, an alarm fired by load and resolved, a collector killed
# (its agents move), every collector down for 60 s (nothing lost), an agent
# killed and put back, destroy (tests/monitor_e2e_check.py).
if(TARGET bar_monitor AND TARGET barista-agent)
  add_test(NAME monitor_e2e
    COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/monitor_e2e_check.py $<TARGET_FILE:barista>)
  set_tests_properties(monitor_e2e PROPERTIES TIMEOUT 480 SKIP_RETURN_CODE 77
    LABELS "monitor;integration;e2e;long" ENVIRONMENT "BARISTA_AGENT=$<TARGET_FILE:barista-agent>")
endif()
