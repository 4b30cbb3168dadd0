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
