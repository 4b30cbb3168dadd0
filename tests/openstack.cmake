# The openstack driver against its API double (tests/doubles/openstack/),
# which validates every request against Keystone's, Nova's, Neutron's and
# Glance's own request models from Debian's packages.
if(TARGET barista-provider-openstack)
  set(BAR_OS_DOUBLE ${CMAKE_SOURCE_DIR}/tests/doubles/openstack/double.py)
  set(BAR_OS_DATA ${CMAKE_SOURCE_DIR}/tests/data/openstack)
  bar_add_double_test(conformance_openstack
    DOUBLE ${BAR_PYTHON3} ${BAR_OS_DOUBLE}
    COMMAND $<TARGET_FILE:conformance> -timeout 200
            -credentials ${BAR_OS_DATA}/credentials.json
            -fixture ${BAR_OS_DATA}/fixture.json
            -wait-config "{\"authUrl\":\"@ENDPOINT@/_slow/identity\"}"
            $<TARGET_FILE:barista-provider-openstack>
            "{\"authUrl\":\"@ENDPOINT@/identity\"}" RegionOne)
  add_dependencies(conformance barista-provider-openstack)

  # The parsers on the services' documented examples, the key pair maker
  # (checked by ssh-keygen); then check(), catalog() and paged lists against
  # the double (250 seeded VMs, pages of 100), both credential kinds.
  add_executable(test_openstack ${CMAKE_SOURCE_DIR}/tests/test_openstack.c
    ${CMAKE_SOURCE_DIR}/providers/openstack/os_keygen.c)
  target_include_directories(test_openstack PRIVATE ${CMAKE_SOURCE_DIR}/providers/openstack)
  target_link_libraries(test_openstack PRIVATE bar_os_parse bar_test_host bar_kit_http)
  add_dependencies(test_openstack barista-provider-openstack)
  add_dependencies(conformance test_openstack)
  add_test(NAME openstack_parse COMMAND test_openstack parse ${BAR_OS_DATA})
  bar_add_double_test(openstack_check_catalog TIMEOUT 60
    DOUBLE ${BAR_PYTHON3} ${BAR_OS_DOUBLE} --seed-vms 250 --region RegionOne --page-size 100
           --token-ttl 3
    COMMAND $<TARGET_FILE:test_openstack> double $<TARGET_FILE:barista-provider-openstack>
            @ENDPOINT@ ${BAR_OS_DATA})
endif()

# The double's own test: deliberately wrong requests must be caught.
bar_add_double_test(openstack_double_selftest EXPECT_VIOLATIONS TIMEOUT 60
  DOUBLE ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/doubles/openstack/double.py
  COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/doubles/openstack/selftest.py @ENDPOINT@)

# libFuzzer on the response parsers, seeded with the documented examples.
if(BAR_FUZZ AND TARGET bar_os_parse)
  add_executable(fuzz_openstack ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_openstack.c)
  target_link_libraries(fuzz_openstack PRIVATE bar_os_parse)
  target_link_options(fuzz_openstack PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/openstack)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_openstack
    COMMAND fuzz_openstack -max_total_time=10 -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/openstack)
  set_tests_properties(fuzz_openstack PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
