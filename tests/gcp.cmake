# The gcp driver's tests (docs/driver-gcp.md): the conformance suite against
# the Compute Engine double (tests/doubles/gcp), the double's self-test, the
# RS256/JWT unit test (RFC 7515 A.2) and the fuzz target of its parsers.
if(TARGET barista-provider-gcp)
  set(BAR_GCP_DATA ${CMAKE_SOURCE_DIR}/tests/data/gcp)
  set(BAR_GCP_DOUBLE ${BAR_NODE} ${CMAKE_SOURCE_DIR}/tests/doubles/gcp/double.js)

  add_executable(test_gcp_jwt ${CMAKE_SOURCE_DIR}/tests/test_gcp_jwt.c)
  target_link_libraries(test_gcp_jwt PRIVATE bar_gcp_parse bar_kit_http PkgConfig::CRYPTO)
  add_test(NAME gcp_jwt COMMAND test_gcp_jwt ${BAR_GCP_DATA})

  # The project is named in the config: the suite treats every credential
  # field as a secret, and a project id would appear in error messages.
  set(BAR_GCP_CONFIG "{\"endpoint\":\"@ENDPOINT@\",\"tokenUri\":\"@ENDPOINT@/token\",\"project\":\"barista-conformance\"}")
  set(BAR_GCP_WAIT "{\"endpoint\":\"@ENDPOINT@/_slow\",\"tokenUri\":\"@ENDPOINT@/token\",\"project\":\"barista-conformance\"}")
  set(BAR_GCP_FIXTURE "{\"otherRegion\":\"europe-west1\",\"operationType\":\"vm\",\"types\":{\"image\":{\"attrs\":{\"imageId\":\"projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts\",\"os\":\"ubuntu\"}},\"spec\":{\"attrs\":{\"specId\":\"e2-small\",\"vcpu\":2,\"memoryMiB\":2048,\"diskGiB\":10}}}}")
  # the same in a private VNet (VMs without external addresses)
  string(REPLACE "\"types\":{" "\"types\":{\"vnet\":{\"attrs\":{\"cidr\":\"10.@N@.0.0/16\",\"private\":true,\"subnets\":[{\"name\":\"sub1\",\"cidr\":\"10.@N@.1.0/24\"}]}},"
    BAR_GCP_FIXTURE_PRIVATE "${BAR_GCP_FIXTURE}")
  if(BAR_NODE)
    bar_add_double_test(conformance_gcp
      DOUBLE ${BAR_GCP_DOUBLE}
      COMMAND $<TARGET_FILE:conformance> -timeout 200 -credentials ${BAR_GCP_DATA}/credentials.json
              -fixture ${BAR_GCP_FIXTURE} -wait-config ${BAR_GCP_WAIT}
              $<TARGET_FILE:barista-provider-gcp> ${BAR_GCP_CONFIG} us-central1)
    # an instance the API does not show yet after its insert was accepted
    # (--instance-lag): create and poll follow the operation meanwhile; and
    # list pages of 2 items, so every list goes through pageTokens; in a
    # private VNet
    bar_add_double_test(conformance_gcp_lag TIMEOUT 120
      DOUBLE ${BAR_GCP_DOUBLE} --instance-lag 700 --op-ms 1000 --page-size 2
      COMMAND $<TARGET_FILE:conformance> -timeout 100 -credentials ${BAR_GCP_DATA}/credentials.json
              -run "create.*,read.vm,list.*,operations,idempotency,concurrency,delete.*"
              -fixture ${BAR_GCP_FIXTURE_PRIVATE} -wait-config ${BAR_GCP_WAIT}
              $<TARGET_FILE:barista-provider-gcp> ${BAR_GCP_CONFIG} us-central1)
    add_executable(test_gcp_check ${CMAKE_SOURCE_DIR}/tests/test_gcp_driver.c)
    # libcrypto and libcurl linked in too, so that dlclosing the plugin does
    # not unload them: LeakSanitizer's exit-time scan crashes on the dynamic
    # TLS of a library unloaded meanwhile ("Tracer caught signal 11")
    target_link_libraries(test_gcp_check PRIVATE bar_test_host PkgConfig::JANSSON
      PkgConfig::CRYPTO PkgConfig::CURL)
    target_link_options(test_gcp_check PRIVATE -Wl,--no-as-needed)
    add_dependencies(test_gcp_check barista-provider-gcp)
    bar_add_double_test(gcp_check TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE}
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json)
    # bench/driver_refresh's scenario (tests/doubles/gcp/bench.json): 1,000
    # seeded VMs listed in pages of 500
    bar_add_double_test(gcp_list_seeded TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE} --seed-vms 1000 --region us-central1
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json 1000)
    # the credential check fails with another key (the double must see the
    # bad signature), and a short-lived token is refreshed before it expires
    bar_add_double_test(gcp_check_badkey TIMEOUT 60 EXPECT_VIOLATIONS
      DOUBLE ${BAR_GCP_DOUBLE}
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json badkey)
    bar_add_double_test(gcp_token_refresh TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE} --token-ttl 4
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json refresh)
    bar_add_double_test(gcp_throttled TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE} --throttle-first 1
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json throttle)
    bar_add_double_test(gcp_check_denied TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE} --deny Firewalls.List
      COMMAND $<TARGET_FILE:test_gcp_check> $<TARGET_FILE:barista-provider-gcp> @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json deny)
    bar_add_double_test(gcp_double_selftest EXPECT_VIOLATIONS TIMEOUT 60
      DOUBLE ${BAR_GCP_DOUBLE}
      COMMAND ${BAR_NODE} ${CMAKE_SOURCE_DIR}/tests/doubles/gcp/selftest.js @ENDPOINT@
              ${BAR_GCP_DATA}/credentials.json)
  endif()
  add_dependencies(conformance barista-provider-gcp)

  if(BAR_FUZZ)
    add_executable(fuzz_gcp ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_gcp.c)
    target_link_libraries(fuzz_gcp PRIVATE bar_gcp_parse)
    target_link_options(fuzz_gcp PRIVATE -fsanitize=fuzzer)
    set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/gcp)
    file(MAKE_DIRECTORY ${corpus})
    add_test(NAME fuzz_gcp
      COMMAND fuzz_gcp -max_total_time=10 -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 ${corpus} ${BAR_GCP_DATA}/responses)
    set_tests_properties(fuzz_gcp PROPERTIES LABELS "fuzz"
      TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
  endif()
endif()
