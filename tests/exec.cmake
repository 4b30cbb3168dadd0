# barista exec / cp on real local VMs, with the session broker.
add_executable(test_exec ${CMAKE_SOURCE_DIR}/tests/test_exec.c)
target_link_libraries(test_exec PRIVATE barista_core)
add_test(NAME exec COMMAND test_exec $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/tests/data/exec)
set_tests_properties(exec PROPERTIES TIMEOUT 200 RUN_SERIAL TRUE
                     LABELS "integration")
