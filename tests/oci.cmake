# runtime/oci*.c, the OCI distribution client: unit tests (references,
# documents) and oci_pull, which pulls real images from Debian's
# docker-registry (tests/oci_fixture.py builds them with umoci and pushes
# them with skopeo) and oci_auth (htpasswd and token auth) through
# tests/oci_pull_check.py.
add_executable(test_oci ${CMAKE_SOURCE_DIR}/tests/test_oci.c)
target_link_libraries(test_oci PRIVATE bar_runtime_oci)
add_test(NAME oci_unit COMMAND test_oci)
set_tests_properties(oci_unit PROPERTIES TIMEOUT 60)

foreach(check pull auth)
  add_test(NAME oci_${check}
    COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/oci_pull_check.py $<TARGET_FILE:test_oci>
            ${check})
  set_tests_properties(oci_${check} PROPERTIES TIMEOUT 180 LABELS integration)
endforeach()

if(BAR_FUZZ)
  add_executable(fuzz_oci_manifest ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_oci_manifest.c)
  target_link_libraries(fuzz_oci_manifest PRIVATE bar_runtime_oci)
  target_link_options(fuzz_oci_manifest PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/oci_manifest)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_oci_manifest
    COMMAND fuzz_oci_manifest -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/fuzz/oci_manifest)
  set_tests_properties(fuzz_oci_manifest PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()

# the fixture's own images do what other tests count on (root: chroot, unshare)
add_test(NAME oci_fixture
  COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/oci_fixture.py selftest /tmp)
set_tests_properties(oci_fixture PROPERTIES TIMEOUT 120 LABELS integration)
