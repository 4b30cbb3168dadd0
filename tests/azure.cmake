# The azure driver against its ARM double (tests/doubles/azure, validating
# every request against the published @azure/arm-* SDK models), the double's
# own self-test, the driver's unit test, and its fuzz target.
if(TARGET barista-provider-azure AND BAR_NODE)
  set(BAR_AZ_DOUBLE ${BAR_NODE} ${CMAKE_SOURCE_DIR}/tests/doubles/azure/double.js
      --credentials ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json)
  set(BAR_AZ_SUB "6f1d1a3e-4c1b-4f63-9d55-2b8c0f7e91a4")
  bar_add_double_test(conformance_azure TIMEOUT 200
    DOUBLE ${BAR_AZ_DOUBLE}
    COMMAND $<TARGET_FILE:conformance> -timeout 200
            -credentials ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json
            -fixture ${CMAKE_SOURCE_DIR}/tests/data/azure/fixture.json
            -wait-config "{\"endpoint\":\"@ENDPOINT@/_slow\",\"authorityHost\":\"@ENDPOINT@/_slow\",\"subscriptionId\":\"${BAR_AZ_SUB}\",\"pollIntervalMs\":\"100\"}"
            $<TARGET_FILE:barista-provider-azure>
            "{\"endpoint\":\"@ENDPOINT@\",\"authorityHost\":\"@ENDPOINT@\",\"subscriptionId\":\"${BAR_AZ_SUB}\",\"pollIntervalMs\":\"100\"}"
            koreacentral)
  # tests/*.cmake are included in name order, before conformance.cmake
  # makes the target: add the dependency once the directory is read
  cmake_language(DEFER CALL add_dependencies conformance barista-provider-azure)
  bar_add_double_test(azure_double_selftest TIMEOUT 60 EXPECT_VIOLATIONS
    DOUBLE ${BAR_AZ_DOUBLE}
    COMMAND ${BAR_NODE} ${CMAKE_SOURCE_DIR}/tests/doubles/azure/selftest.js @ENDPOINT@
            ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json)
endif()

# The token request against Microsoft's documented example, the parsers
# against documented answers (tests/data/azure/responses/).
if(TARGET bar_azure_parse)
  add_executable(azure_unit ${CMAKE_SOURCE_DIR}/tests/test_azure_parse.c)
  target_link_libraries(azure_unit PRIVATE bar_azure_parse)
  add_test(NAME azure_unit COMMAND azure_unit ${CMAKE_SOURCE_DIR}/tests/data/azure/responses)
endif()

if(BAR_FUZZ AND TARGET bar_azure_parse)
  add_executable(fuzz_azure ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_azure.c)
  target_link_libraries(fuzz_azure PRIVATE bar_azure_parse)
  target_link_options(fuzz_azure PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/azure)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_azure
    COMMAND fuzz_azure -max_total_time=10 -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/azure/responses)
  set_tests_properties(fuzz_azure PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()

# check() and catalog(), and a refresh of 1,000 seeded VMs through pages of
# 100 (what bench/driver_refresh does with bench.json), against the double.
if(TARGET barista-provider-azure AND BAR_NODE)
  add_executable(azure_ops_test ${CMAKE_SOURCE_DIR}/tests/test_azure_driver.c)
  target_link_libraries(azure_ops_test PRIVATE bar_test_host PkgConfig::JANSSON)
  add_dependencies(azure_ops_test barista-provider-azure)
  set(BAR_AZ_CFG "{\"endpoint\":\"@ENDPOINT@\",\"authorityHost\":\"@ENDPOINT@\",\"subscriptionId\":\"${BAR_AZ_SUB}\",\"pollIntervalMs\":\"100\",\"resourceGroup\":\"barista-bench\"}")
  bar_add_double_test(azure_check TIMEOUT 60
    DOUBLE ${BAR_AZ_DOUBLE}
    COMMAND $<TARGET_FILE:azure_ops_test> check $<TARGET_FILE:barista-provider-azure>
            ${BAR_AZ_CFG} koreacentral ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json)
  bar_add_double_test(azure_list_paging TIMEOUT 120
    DOUBLE ${BAR_AZ_DOUBLE} --seed-vms 1000 --region koreacentral --page-size 100
    COMMAND $<TARGET_FILE:azure_ops_test> list $<TARGET_FILE:barista-provider-azure>
            ${BAR_AZ_CFG} koreacentral ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json 1000)
endif()

# The same suite with ARM throttling: every 9th GET/PUT/PATCH/POST is 429
# TooManyRequests with Retry-After 1 (polls and waits inside a create too).
if(TARGET barista-provider-azure AND BAR_NODE)
  bar_add_double_test(conformance_azure_throttled TIMEOUT 300
    DOUBLE ${BAR_AZ_DOUBLE} --throttle-every 9
    COMMAND $<TARGET_FILE:conformance> -timeout 280
            -credentials ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json
            -fixture ${CMAKE_SOURCE_DIR}/tests/data/azure/fixture.json
            $<TARGET_FILE:barista-provider-azure>
            "{\"endpoint\":\"@ENDPOINT@\",\"authorityHost\":\"@ENDPOINT@\",\"subscriptionId\":\"${BAR_AZ_SUB}\",\"pollIntervalMs\":\"100\"}"
            koreacentral)
endif()

# check() when a right the driver needs is missing.
if(TARGET barista-provider-azure AND BAR_NODE)
  bar_add_double_test(azure_check_denied TIMEOUT 60
    DOUBLE ${BAR_AZ_DOUBLE} --deny-actions Microsoft.Compute/virtualMachines/deallocate/action
    COMMAND $<TARGET_FILE:azure_ops_test> denied $<TARGET_FILE:barista-provider-azure>
            ${BAR_AZ_CFG} koreacentral ${CMAKE_SOURCE_DIR}/tests/data/azure/credentials.json
            Microsoft.Compute/virtualMachines/deallocate/action)
endif()
