# The aws driver (docs/driver-aws.md): SigV4 against AWS's published
# vectors, the driver against its EC2 double (tests/doubles/aws/), the
# double's own self-test, and the response parsers' fuzz target.
add_executable(test_aws_sigv4 ${CMAKE_SOURCE_DIR}/tests/test_aws_sigv4.c)
target_link_libraries(test_aws_sigv4 PRIVATE bar_kit_http PkgConfig::JANSSON)
add_test(NAME aws_sigv4_vectors
  COMMAND test_aws_sigv4 ${CMAKE_SOURCE_DIR}/tests/data/aws/sigv4 get-vanilla
          get-vanilla-query-order-key-case post-vanilla post-x-www-form-urlencoded
          get-vanilla-with-session-token)

# The driver against its EC2 double: every request checked against
# botocore's ec2 model and signer (tests/doubles/aws/README.md).
set(BAR_AWS_DOUBLE /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/doubles/aws/ec2_double.py
    --credentials ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json)
bar_add_double_test(conformance_aws DOUBLE ${BAR_AWS_DOUBLE}
  COMMAND $<TARGET_FILE:conformance> -timeout 200
          -credentials ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json
          -fixture ${CMAKE_SOURCE_DIR}/tests/data/aws/fixture.json
          -wait-config "{\"endpoint\":\"@ENDPOINT@/_slow\"}"
          $<TARGET_FILE:barista-provider-aws> "{\"endpoint\":\"@ENDPOINT@\"}" us-east-1)
# (this fragment is included before conformance.cmake defines the target)
cmake_language(DEFER CALL add_dependencies conformance barista-provider-aws)

# The double's own test: wrong requests must be caught.
bar_add_double_test(aws_double_selftest EXPECT_VIOLATIONS DOUBLE ${BAR_AWS_DOUBLE}
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/doubles/aws/selftest.py @ENDPOINT@
          ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json)

# The readers of EC2's answers on AWS's documented examples.
add_executable(test_aws_parse ${CMAKE_SOURCE_DIR}/tests/test_aws_parse.c)
target_link_libraries(test_aws_parse PRIVATE bar_aws_parse)
add_test(NAME aws_parse COMMAND test_aws_parse ${CMAKE_SOURCE_DIR}/tests/data/aws/responses)

# libFuzzer on those readers (see tests/fuzz.cmake), seeded with the examples.
if(BAR_FUZZ)
  add_executable(fuzz_aws ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_aws.c)
  target_link_libraries(fuzz_aws PRIVATE bar_aws_parse)
  target_link_options(fuzz_aws PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/aws)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_aws
    COMMAND fuzz_aws -max_total_time=10 -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/aws/responses)
  set_tests_properties(fuzz_aws PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()

# check(), catalog() and a list of 2,500 VMs (three pages of 1,000) against
# the double; the page count is checked through its statistics by the
# bench, the completeness here.
add_executable(test_aws_driver ${CMAKE_SOURCE_DIR}/tests/test_aws_driver.c)
target_link_libraries(test_aws_driver PRIVATE bar_test_host PkgConfig::JANSSON)
add_dependencies(test_aws_driver barista-provider-aws)
set(BAR_AWS_CREDS ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json)
bar_add_double_test(aws_check_catalog DOUBLE ${BAR_AWS_DOUBLE}
  COMMAND $<TARGET_FILE:test_aws_driver> $<TARGET_FILE:barista-provider-aws> @ENDPOINT@
          ${BAR_AWS_CREDS} check)
bar_add_double_test(aws_check_badsecret EXPECT_VIOLATIONS DOUBLE ${BAR_AWS_DOUBLE}
  COMMAND $<TARGET_FILE:test_aws_driver> $<TARGET_FILE:barista-provider-aws> @ENDPOINT@
          ${BAR_AWS_CREDS} badsecret)
bar_add_double_test(aws_check_denied DOUBLE ${BAR_AWS_DOUBLE} --deny RunInstances
  COMMAND $<TARGET_FILE:test_aws_driver> $<TARGET_FILE:barista-provider-aws> @ENDPOINT@
          ${BAR_AWS_CREDS} denied)
bar_add_double_test(aws_list_pages DOUBLE ${BAR_AWS_DOUBLE} --seed-vms 2500 --region us-east-1
  COMMAND $<TARGET_FILE:test_aws_driver> $<TARGET_FILE:barista-provider-aws> @ENDPOINT@
          ${BAR_AWS_CREDS} list 2500)

# The same lists with the double's pages capped at 5 items, so that every
# describe sequence of list() (VPCs, subnets, gateways, groups, instances)
# follows NextToken across pages.
bar_add_double_test(conformance_aws_paged DOUBLE ${BAR_AWS_DOUBLE} --page-size 5
  COMMAND $<TARGET_FILE:conformance> -timeout 200 -run "list.*,concurrency"
          -credentials ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json
          -fixture ${CMAKE_SOURCE_DIR}/tests/data/aws/fixture.json
          $<TARGET_FILE:barista-provider-aws> "{\"endpoint\":\"@ENDPOINT@\"}" us-east-1)

# Throttled: every 7th request is RequestLimitExceeded; the driver maps it to
# BAR_ERETRY and the suite's host retries it, as core/host.c does.
bar_add_double_test(conformance_aws_throttled DOUBLE ${BAR_AWS_DOUBLE} --throttle-every 7
  COMMAND $<TARGET_FILE:conformance> -timeout 200 -run "create.*,read.*,update.*,delete.*"
          -credentials ${CMAKE_SOURCE_DIR}/tests/data/aws/credentials.json
          -fixture ${CMAKE_SOURCE_DIR}/tests/data/aws/fixture.json
          $<TARGET_FILE:barista-provider-aws> "{\"endpoint\":\"@ENDPOINT@\"}" us-east-1)
