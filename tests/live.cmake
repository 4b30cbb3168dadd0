# The conformance suite against real cloud accounts: skipped unless
# BARISTA_LIVE_TESTS=1 and the account's credentials are given (see
# tests/live_conformance.sh and docs/conformance.md); never run in CI.
foreach(cloud aws gcp azure alibaba openstack)
  if(TARGET barista-provider-${cloud})
    add_test(NAME conformance_${cloud}_live
      COMMAND ${CMAKE_SOURCE_DIR}/tests/live_conformance.sh ${cloud}
              $<TARGET_FILE:conformance> $<TARGET_FILE:barista-provider-${cloud}>
              ${CMAKE_SOURCE_DIR})
    set_tests_properties(conformance_${cloud}_live PROPERTIES SKIP_RETURN_CODE 77
      TIMEOUT 3700 LABELS "live")
  endif()
endforeach()
