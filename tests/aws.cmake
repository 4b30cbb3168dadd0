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
