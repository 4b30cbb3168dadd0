# Core library tests: state store, plugin loader, key store, MCI status,
# plan files, and the data-driven planner cases.
foreach(v 0 1 2 3 4 5)
  add_library(bad-plugin-${v} MODULE ${CMAKE_SOURCE_DIR}/tests/plugins/bad_plugin.c)
  target_compile_definitions(bad-plugin-${v} PRIVATE VARIANT=${v})
  target_include_directories(bad-plugin-${v} PRIVATE ${CMAKE_SOURCE_DIR}/providers)
  set_target_properties(bad-plugin-${v} PROPERTIES PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
endforeach()

add_executable(test_core ${CMAKE_SOURCE_DIR}/tests/test_core.c)
target_link_libraries(test_core PRIVATE barista_core)
add_dependencies(test_core bad-plugin-0 bad-plugin-1 bad-plugin-2 bad-plugin-3 bad-plugin-4
  bad-plugin-5)
add_dependencies(test_core barista)
add_test(NAME core COMMAND test_core ${CMAKE_BINARY_DIR}/tests/plugins $<TARGET_FILE:barista>)
set_tests_properties(core PROPERTIES TIMEOUT 60)

add_executable(test_planner ${CMAKE_SOURCE_DIR}/tests/test_planner.c)
target_link_libraries(test_planner PRIVATE barista_core bar_kit)
add_test(NAME planner_cases COMMAND test_planner ${CMAKE_SOURCE_DIR}/tests/data/plan)
set_tests_properties(planner_cases PROPERTIES TIMEOUT 120)

# The host's side of reaching clouds: credential references, the call log,
# the catalogue (tests/test_cloud.c).
add_executable(test_cloud ${CMAKE_SOURCE_DIR}/tests/test_cloud.c)
target_link_libraries(test_cloud PRIVATE barista_core)
add_test(NAME cloud_host COMMAND test_cloud)
set_tests_properties(cloud_host PROPERTIES TIMEOUT 60)
