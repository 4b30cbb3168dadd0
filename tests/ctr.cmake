# Containers on a VM for barista-agent (runtime/agent, ctr.h):
#   ctr_unpack - bar_ctr_unpack/bar_ctr_gc on layers the test writes itself
#   ctr_runc   - real runc (root): an image made from Debian's busybox-static,
#                busybox httpd in a fresh network namespace, limits, cleanup
#                (tests/ctr_runc.sh drives tests/ctr_driver.c)
#   ctr_umoci  - the same image unpacked by umoci and by Barista must match
add_executable(test_ctr_unpack ${CMAKE_SOURCE_DIR}/tests/test_ctr_unpack.c)
target_link_libraries(test_ctr_unpack PRIVATE bar_runtime_agent)
add_test(NAME ctr_unpack COMMAND test_ctr_unpack)
set_tests_properties(ctr_unpack PROPERTIES TIMEOUT 60 LABELS "runtime")

# The driver links statically like barista-agent, which proves the library
# (and libz.a) links that way.
add_executable(ctr_driver ${CMAKE_SOURCE_DIR}/tests/ctr_driver.c)
target_link_libraries(ctr_driver PRIVATE bar_runtime_agent)
if(NOT BAR_SANITIZE AND NOT BAR_TSAN AND NOT BAR_FUZZ)
  target_link_options(ctr_driver PRIVATE -static)
endif()
add_test(NAME ctr_runc COMMAND timeout -k 5 120 ${CMAKE_SOURCE_DIR}/tests/ctr_runc.sh
  $<TARGET_FILE:ctr_driver>)
set_tests_properties(ctr_runc PROPERTIES TIMEOUT 150 LABELS "runtime;integration;root")

add_test(NAME ctr_umoci COMMAND timeout -k 5 60 ${CMAKE_SOURCE_DIR}/tests/ctr_umoci.sh
  $<TARGET_FILE:ctr_driver>)
set_tests_properties(ctr_umoci PROPERTIES TIMEOUT 90 LABELS "runtime;integration;root")

if(BAR_FUZZ)
  add_executable(fuzz_ctr_tar ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ctr_tar.c)
  target_link_libraries(fuzz_ctr_tar PRIVATE bar_runtime_agent)
  target_link_options(fuzz_ctr_tar PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/ctr_tar)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_ctr_tar
    COMMAND fuzz_ctr_tar -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/fuzz/ctr_tar)
  set_tests_properties(fuzz_ctr_tar PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
