# The barista program's contract, end to end on the sim provider.
add_executable(test_cli ${CMAKE_SOURCE_DIR}/tests/test_cli.c)
target_link_libraries(test_cli PRIVATE barista_core)
add_test(NAME cli COMMAND test_cli $<TARGET_FILE:barista>)
set_tests_properties(cli PROPERTIES TIMEOUT 180)
