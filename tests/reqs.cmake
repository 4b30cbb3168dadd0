# MCApp requirements (core/spec_derive.c) end to end on the sim provider:
# the derived MCI planned, applied and shown (tests/reqs_sim.sh).  The spec
# and planner cases are in spec.cmake and core.cmake's data directories.
add_test(NAME reqs_sim COMMAND bash ${CMAKE_SOURCE_DIR}/tests/reqs_sim.sh $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR})
set_tests_properties(reqs_sim PROPERTIES TIMEOUT 300 LABELS "integration"
  ENVIRONMENT "BARISTA_PLUGIN_PATH=${BAR_PLUGIN_BUILD_DIR}")
