# End to end on the local provider: real namespaces, sshd, nftables, SQLite.
add_executable(test_e2e_local ${CMAKE_SOURCE_DIR}/tests/test_e2e_local.c)
target_link_libraries(test_e2e_local PRIVATE barista_core)
add_test(NAME e2e_local COMMAND test_e2e_local $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/tests/data/e2e)
set_tests_properties(e2e_local PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
                     LABELS "integration")

# The paper's demonstration, exactly as the README runs it.
add_executable(test_demo ${CMAKE_SOURCE_DIR}/tests/test_demo.c)
target_link_libraries(test_demo PRIVATE barista_core)
add_test(NAME paper_demo COMMAND test_demo $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/specs/examples/paper-demo ${CMAKE_SOURCE_DIR}/tests/oci_fixture.py)
set_tests_properties(paper_demo PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
                     LABELS "integration;apps"
                     ENVIRONMENT "BARISTA_AGENT=$<TARGET_FILE:barista-agent>")

# postCommands on real VMs: results recorded, a failure makes the VM Failed.
add_executable(test_post ${CMAKE_SOURCE_DIR}/tests/test_post.c)
target_link_libraries(test_post PRIVATE barista_core)
add_test(NAME post_commands COMMAND test_post $<TARGET_FILE:barista>
         ${CMAKE_SOURCE_DIR}/tests/data/post)
set_tests_properties(post_commands PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE
                     LABELS "integration")
