# SSH client (core/ssh.c) against a real sshd started by the test itself.
add_executable(test_ssh ${CMAKE_SOURCE_DIR}/tests/test_ssh.c)
target_link_libraries(test_ssh PRIVATE bar_ssh Threads::Threads)
add_test(NAME ssh COMMAND test_ssh)
set_tests_properties(ssh PROPERTIES TIMEOUT 60 LABELS "integration")
