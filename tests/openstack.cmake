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
endif()

# The double's own test: deliberately wrong requests must be caught.
bar_add_double_test(openstack_double_selftest EXPECT_VIOLATIONS TIMEOUT 60
  DOUBLE ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/doubles/openstack/double.py
  COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/doubles/openstack/selftest.py @ENDPOINT@)
