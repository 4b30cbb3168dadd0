# A full run of barista against a cloud driver's double with real-shaped
# credentials from a shared credentials file and from a credential program;
# every output and every file the run leaves is searched for their values
# (tests/secret_scan.py).
if(TARGET barista-provider-aws)
  bar_add_double_test(secrets_full_run_aws TIMEOUT 400 DOUBLE ${BAR_AWS_DOUBLE}
    COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/secret_scan.py $<TARGET_FILE:barista>
            ${CMAKE_SOURCE_DIR}/tests/data/secret-scan/aws
            ${CMAKE_SOURCE_DIR}/tests/data/secret-scan/aws.json @ENDPOINT@)
endif()
