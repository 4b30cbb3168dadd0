# The Alibaba Cloud driver (docs/driver-alibaba.md): its signing against
# the documented example, the conformance suite against the ECS/VPC double
# (tests/doubles/alibaba/, validating against the official SDK models), the
# double's own self-test, and a fuzz target on the response parsers.
if(TARGET barista-provider-alibaba)
  add_test(NAME alibaba_sign COMMAND test_alibaba_sign)

  set(BAR_ALI_DIR ${CMAKE_SOURCE_DIR}/tests/doubles/alibaba)
  set(BAR_ALI_CRED ${CMAKE_SOURCE_DIR}/tests/data/alibaba/credentials.json)
  if(BAR_NODE)
    bar_add_double_test(conformance_alibaba
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_CRED}
      COMMAND $<TARGET_FILE:conformance> -timeout 200 -credentials ${BAR_ALI_CRED}
              -fixture ${CMAKE_SOURCE_DIR}/tests/data/alibaba/fixture.json
              -wait-config "{\"endpoint\":\"@ENDPOINT@/_slow\",\"pollMs\":\"100\"}"
              $<TARGET_FILE:barista-provider-alibaba>
              "{\"endpoint\":\"@ENDPOINT@\",\"pollMs\":\"100\"}" ap-southeast-1
      TIMEOUT 220)
    # the same through pages of 2 items: every list follows its pages
    bar_add_double_test(conformance_alibaba_paged
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_CRED} --page-size 2
      COMMAND $<TARGET_FILE:conformance> -timeout 200 -credentials ${BAR_ALI_CRED}
              -fixture ${CMAKE_SOURCE_DIR}/tests/data/alibaba/fixture.json
              -run "create.*,list.*,concurrency,delete.*"
              $<TARGET_FILE:barista-provider-alibaba>
              "{\"endpoint\":\"@ENDPOINT@\",\"pollMs\":\"100\"}" ap-southeast-1
      TIMEOUT 220)
    # STS credentials (AccessKeyId/AccessKeySecret/SecurityToken spelling):
    # every request must carry the SecurityToken, signed
    set(BAR_ALI_STS ${CMAKE_SOURCE_DIR}/tests/data/alibaba/credentials-sts.json)
    bar_add_double_test(conformance_alibaba_sts
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_STS}
      COMMAND $<TARGET_FILE:conformance> -timeout 100 -credentials ${BAR_ALI_STS}
              -fixture ${CMAKE_SOURCE_DIR}/tests/data/alibaba/fixture.json
              -run "create.*,read.*,vm.*,delete.*"
              $<TARGET_FILE:barista-provider-alibaba>
              "{\"endpoint\":\"@ENDPOINT@\",\"pollMs\":\"100\"}" ap-southeast-1
      TIMEOUT 120)
    # check(), catalog() and list of 250 seeded VMs (bar_test_host is made
    # by conformance.cmake, included later: a target name resolves anyway)
    add_executable(test_alibaba_check ${CMAKE_SOURCE_DIR}/providers/alibaba/test_check.c)
    target_link_libraries(test_alibaba_check PRIVATE bar_test_host PkgConfig::JANSSON)
    add_dependencies(test_alibaba_check barista-provider-alibaba)
    bar_add_double_test(alibaba_check
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_CRED}
             --seed-vms 250 --region ap-southeast-1
      COMMAND $<TARGET_FILE:test_alibaba_check> $<TARGET_FILE:barista-provider-alibaba> @ENDPOINT@
      TIMEOUT 60)
    # a wrong secret: check() says EAUTH and which check failed (the double
    # records the request as a signature violation, hence EXPECT_VIOLATIONS)
    bar_add_double_test(alibaba_check_badkey EXPECT_VIOLATIONS
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_CRED}
      COMMAND $<TARGET_FILE:test_alibaba_check> $<TARGET_FILE:barista-provider-alibaba> @ENDPOINT@
              badkey
      TIMEOUT 60)
    bar_add_double_test(alibaba_double_selftest EXPECT_VIOLATIONS
      DOUBLE ${BAR_NODE} ${BAR_ALI_DIR}/double.js --credentials ${BAR_ALI_CRED}
      COMMAND ${BAR_NODE} ${BAR_ALI_DIR}/selftest.js @ENDPOINT@ ${BAR_ALI_CRED}
      TIMEOUT 60)
  endif()
  # the fragments are included in name order, before conformance.cmake
  # makes the target: add the dependency once the directory is done
  cmake_language(DEFER CALL add_dependencies conformance barista-provider-alibaba)
endif()

if(BAR_FUZZ AND TARGET bar_alibaba_parse)
  add_executable(fuzz_alibaba ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_alibaba.c)
  target_link_libraries(fuzz_alibaba PRIVATE bar_alibaba_parse)
  target_link_options(fuzz_alibaba PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/alibaba)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_alibaba
    COMMAND fuzz_alibaba -max_total_time=10 -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${CMAKE_SOURCE_DIR}/tests/data/alibaba/responses)
  set_tests_properties(fuzz_alibaba PROPERTIES LABELS "fuzz"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
