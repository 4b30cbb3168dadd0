# MCApp requirements (core/spec_derive.c) end to end on the sim provider:
# the derived MCI planned, applied and shown (tests/reqs_sim.sh).  The spec
# and planner cases are in spec.cmake and core.cmake's data directories.
add_test(NAME reqs_sim COMMAND bash ${CMAKE_SOURCE_DIR}/tests/reqs_sim.sh $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR})
set_tests_properties(reqs_sim PROPERTIES TIMEOUT 300 LABELS "integration"
  ENVIRONMENT "BARISTA_PLUGIN_PATH=${BAR_PLUGIN_BUILD_DIR}")

# ... and deployed onto the derived MCI on real local VMs (root): agents,
# apps, their pages and status, destroy (tests/reqs_local.sh).
add_test(NAME reqs_local COMMAND bash ${CMAKE_SOURCE_DIR}/tests/reqs_local.sh $<TARGET_FILE:barista>)
set_tests_properties(reqs_local PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  LABELS "apps;integration;root"
  ENVIRONMENT "BARISTA_PLUGIN_PATH=${BAR_PLUGIN_BUILD_DIR};BARISTA_AGENT=$<TARGET_FILE:barista-agent>")
