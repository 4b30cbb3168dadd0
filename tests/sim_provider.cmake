# The sim provider plugin, loaded through its ABI by a small test host.
add_executable(test_sim_provider ${CMAKE_SOURCE_DIR}/tests/test_sim_provider.c)
target_include_directories(test_sim_provider PRIVATE ${CMAKE_SOURCE_DIR}/providers)
target_compile_definitions(test_sim_provider PRIVATE
  SIM_PLUGIN_PATH="$<TARGET_FILE:barista-provider-sim>")
target_link_libraries(test_sim_provider PRIVATE PkgConfig::JANSSON Threads::Threads
  ${CMAKE_DL_LIBS})
add_dependencies(test_sim_provider barista-provider-sim)
add_test(NAME sim_provider COMMAND test_sim_provider)
set_tests_properties(sim_provider PROPERTIES TIMEOUT 120)
