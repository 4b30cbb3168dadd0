# The aws driver (docs/driver-aws.md): SigV4 against AWS's published
# vectors, the driver against its EC2 double (tests/doubles/aws/), the
# double's own self-test, and the response parsers' fuzz target.
add_executable(test_aws_sigv4 ${CMAKE_SOURCE_DIR}/tests/test_aws_sigv4.c)
target_link_libraries(test_aws_sigv4 PRIVATE bar_kit_http PkgConfig::JANSSON)
add_test(NAME aws_sigv4_vectors
  COMMAND test_aws_sigv4 ${CMAKE_SOURCE_DIR}/tests/data/aws/sigv4 get-vanilla
          get-vanilla-query-order-key-case post-vanilla post-x-www-form-urlencoded
          get-vanilla-with-session-token)
