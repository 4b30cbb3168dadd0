# barista-agent's app supervisor (runtime/agent/apps*.c): tests/test_apps.c
# runs real processes (/bin/sh, Debian's busybox for httpd); the cgroup case
# needs root.
add_executable(test_apps ${CMAKE_SOURCE_DIR}/tests/test_apps.c)
target_link_libraries(test_apps PRIVATE bar_runtime_agent)
target_include_directories(test_apps PRIVATE ${CMAKE_SOURCE_DIR}/tests)
foreach(case manifest order restart backoff health reload logs cgroup metrics wait)
  add_test(NAME apps_${case} COMMAND test_apps ${case} ${CMAKE_BINARY_DIR}/tests/apps-tmp)
  # one at a time: a supervisor stops whatever barista-app-* cgroups it finds
  # beside it at start (what a killed agent left), and the cases share a cgroup
  set_tests_properties(apps_${case} PROPERTIES TIMEOUT 90 LABELS apps
    RESOURCE_LOCK barista_app_cgroups)
endforeach()

# MCApps end to end on real local VMs (root): a real registry
# (tests/oci_fixture.py), containers under Debian's runc, deploy, kill,
# rolling update, failed rollouts rolled back, drift, destroy
# (tests/apps_e2e_check.py).
if(TARGET barista-agent)
  add_test(NAME apps_e2e
    COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/apps_e2e_check.py $<TARGET_FILE:barista>)
  set_tests_properties(apps_e2e PROPERTIES TIMEOUT 480
    LABELS "apps;integration;e2e" ENVIRONMENT "BARISTA_AGENT=$<TARGET_FILE:barista-agent>")
endif()
