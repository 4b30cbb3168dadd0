# The provider conformance suite (docs/conformance.md): one program that
# loads a plugin and checks the ABI's contract against it, registered once
# per plugin.  A cloud driver adds a registration here with its own config
# (and fixture), not code.
add_library(bar_test_host STATIC ${CMAKE_SOURCE_DIR}/tests/conformance/host.c)
target_include_directories(bar_test_host PUBLIC ${CMAKE_SOURCE_DIR}/providers
  ${CMAKE_SOURCE_DIR}/tests/conformance)
target_link_libraries(bar_test_host PUBLIC Threads::Threads ${CMAKE_DL_LIBS})

file(GLOB BAR_CONFORMANCE_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/conformance/conf*.c)
add_executable(conformance ${BAR_CONFORMANCE_SRC})
target_link_libraries(conformance PRIVATE bar_test_host bar_kit PkgConfig::JANSSON)

# sim: a store file of its own; -wait-config makes every call wait 2 s, so
# cancellation and deadlines are exercised.
set(BAR_CONF_SIM_WAIT "{\"file\":\"@TMPDIR@/sim.log\",\"latencyMs\":\"2000\"}")
add_test(NAME conformance_sim
  COMMAND conformance -timeout 100 -wait-config ${BAR_CONF_SIM_WAIT}
          $<TARGET_FILE:barista-provider-sim> "{\"file\":\"@TMPDIR@/sim.log\"}" seoul)
# The same with creates and deletes as long-running operations (tokens, poll).
add_test(NAME conformance_sim_async
  COMMAND conformance -timeout 100 -wait-config ${BAR_CONF_SIM_WAIT}
          $<TARGET_FILE:barista-provider-sim>
          "{\"file\":\"@TMPDIR@/sim.log\",\"asyncMs\":\"150\"}" seoul)
set_tests_properties(conformance_sim conformance_sim_async PROPERTIES TIMEOUT 120)

# local: real namespaces, bridges and sshd under a root of its own (needs
# root: skipped otherwise).  A VM create waits for the VM to boot, so the
# provider's own config serves as the wait config for the deadline case
# (which local notices only when it waits for the boot: undoing the VM then
# takes up to ~2.6 s, hence promptMs 5000).
set(BAR_CONF_LOCAL "{\"root\":\"@TMPDIR@/local\"}")
# leftoverGlobs: a create that died midway left a metadata directory but no
# ledger entry, and local does not list half-made resources.
set(BAR_CONF_LOCAL_GLOBS "\"vm\":\"@TMPDIR@/local/vm/bvm-*\",\"securitygroup\":\"@TMPDIR@/local/securitygroup/bsg-*\",\"vnet\":\"@TMPDIR@/local/vnet/bnet-*\"")
set(BAR_CONF_LOCAL_FIXTURE "{\"promptMs\":5000,\"leftoverGlobs\":{${BAR_CONF_LOCAL_GLOBS}}}")
add_test(NAME conformance_local
  COMMAND conformance -needs-root -timeout 200 -wait-config ${BAR_CONF_LOCAL}
          -fixture ${BAR_CONF_LOCAL_FIXTURE}
          $<TARGET_FILE:barista-provider-local> ${BAR_CONF_LOCAL} local-conformance)
set_tests_properties(conformance_local PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
  LABELS "integration" RESOURCE_LOCK barista_local_provider)
add_dependencies(conformance barista-provider-sim barista-provider-local)

# The suite's own test: a wrapper plugin that breaks one behaviour of the sim
# provider at a time (tests/conformance/mutant.c); each mutation must make
# the case that checks it fail.  Built outside the plugin directory, so no
# barista run ever finds it.
add_library(barista-provider-mutant MODULE ${CMAKE_SOURCE_DIR}/tests/conformance/mutant.c)
set_target_properties(barista-provider-mutant PROPERTIES PREFIX ""
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins C_VISIBILITY_PRESET hidden)
target_link_libraries(barista-provider-mutant PRIVATE bar_kit PkgConfig::JANSSON
  Threads::Threads ${CMAKE_DL_LIBS})
add_dependencies(conformance barista-provider-mutant)
add_test(NAME conformance_selftest
  COMMAND ${CMAKE_COMMAND} -DCONFORMANCE=$<TARGET_FILE:conformance>
          -DMUTANT=$<TARGET_FILE:barista-provider-mutant>
          -DSIM=$<TARGET_FILE:barista-provider-sim>
          -P ${CMAKE_SOURCE_DIR}/tests/conformance/selftest.cmake)
set_tests_properties(conformance_selftest PROPERTIES TIMEOUT 300)
