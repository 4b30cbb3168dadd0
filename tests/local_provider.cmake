# Integration tests of the local provider plugin: real bridges, network
# namespaces, nftables, cgroups and sshd (needs root; skipped otherwise).
add_executable(test_local_provider ${CMAKE_SOURCE_DIR}/tests/test_local_provider.c)
target_include_directories(test_local_provider PRIVATE ${CMAKE_SOURCE_DIR}/providers)
target_link_libraries(test_local_provider PRIVATE PkgConfig::JANSSON Threads::Threads
  ${CMAKE_DL_LIBS})
add_dependencies(test_local_provider barista-provider-local barista-local-init)

add_test(NAME local_provider
  COMMAND test_local_provider $<TARGET_FILE:barista-provider-local>)
# 100 VMs by 10 threads; reports the create/delete timings.  Run alone so the
# figures mean something (BAR_LOCAL_STRICT=1 turns the targets into asserts).
add_test(NAME local_provider_scale
  COMMAND test_local_provider $<TARGET_FILE:barista-provider-local> scale 100 10)
set_tests_properties(local_provider local_provider_scale PROPERTIES
  TIMEOUT 120 SKIP_RETURN_CODE 77 RESOURCE_LOCK barista_local_provider)
set_tests_properties(local_provider_scale PROPERTIES RUN_SERIAL TRUE)
