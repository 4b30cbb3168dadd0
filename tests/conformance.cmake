# The provider conformance suite (docs/conformance.md): one program that
# loads a plugin and checks the ABI's contract against it, registered once
# per plugin.  A cloud driver adds a registration here with its own config
# (and fixture), not code.
add_library(bar_test_host STATIC ${CMAKE_SOURCE_DIR}/tests/conformance/host.c)
target_include_directories(bar_test_host PUBLIC ${CMAKE_SOURCE_DIR}/providers
  ${CMAKE_SOURCE_DIR}/tests/conformance)
target_link_libraries(bar_test_host PUBLIC Threads::Threads ${CMAKE_DL_LIBS})

