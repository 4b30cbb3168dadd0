# Spec model tests (core/yaml*.c, core/spec*.c): parser and loader unit tests,
# the good-spec directory, the data-driven bad specs (tests/data/spec/bad,
# see tests/data/spec/README.md), the examples of docs/spec-reference.md and
# a load-time guard for 10k VMs.
add_executable(test_spec ${CMAKE_SOURCE_DIR}/tests/test_spec.c)
target_link_libraries(test_spec PRIVATE bar_spec)

set(BAR_SPEC_DATA ${CMAKE_SOURCE_DIR}/tests/data/spec)
set(BAR_SPEC_TMP ${CMAKE_BINARY_DIR}/tests/spec-tmp)

# Removes the scratch files even when a test crashed before its own cleanup.
add_test(NAME spec_cleanup COMMAND ${CMAKE_COMMAND} -E rm -rf ${BAR_SPEC_TMP})
set_tests_properties(spec_cleanup PROPERTIES FIXTURES_CLEANUP spec_tmp TIMEOUT 30)

add_test(NAME spec_unit COMMAND test_spec unit ${BAR_SPEC_TMP}/unit ${BAR_SPEC_DATA}/good)
add_test(NAME spec_good COMMAND test_spec good ${BAR_SPEC_DATA}/good)
add_test(NAME spec_bad COMMAND test_spec bad ${BAR_SPEC_DATA}/bad)
# A 10k-VM configuration loads completely and correctly.  It prints its
# timing, but speed is measured by bench/plan_scale, not asserted here.
add_test(NAME spec_large COMMAND test_spec perf 10000 ${BAR_SPEC_TMP}/perf)
# The examples of the user documentation must stay valid.
add_test(NAME spec_docs COMMAND test_spec doc ${CMAKE_SOURCE_DIR}/docs/spec-reference.md
         ${BAR_SPEC_TMP}/docs)
set_tests_properties(spec_unit spec_large spec_docs PROPERTIES FIXTURES_REQUIRED spec_tmp)
set_tests_properties(spec_unit spec_good spec_bad spec_docs PROPERTIES TIMEOUT 60)
set_tests_properties(spec_large PROPERTIES TIMEOUT 120)
