# barista exec / cp on real local VMs, with the session broker.
add_executable(test_exec ${CMAKE_SOURCE_DIR}/tests/test_exec.c)
target_link_libraries(test_exec PRIVATE barista_core)
add_test(NAME exec COMMAND test_exec $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/tests/data/exec)
set_tests_properties(exec PROPERTIES TIMEOUT 200 RUN_SERIAL TRUE
                     LABELS "integration")

# VMs on a private VNet reached through a bastion VM, on real local VMs.
add_executable(test_bastion ${CMAKE_SOURCE_DIR}/tests/test_bastion.c)
target_link_libraries(test_bastion PRIVATE barista_core)
add_test(NAME bastion COMMAND test_bastion $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/tests/data/bastion)
set_tests_properties(bastion PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
                     LABELS "integration")
