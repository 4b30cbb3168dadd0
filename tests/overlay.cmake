# The MCI overlay network (docs/overlay.md): tests/test_overlay.c checks
# addresses, keys and the overlay file's text; tests/overlay_check.py runs
# real wireguard-go in real network namespaces through tests/overlay_driver.c
# and checks with tcpdump that traffic between clouds is encrypted (root).
add_executable(test_overlay ${CMAKE_SOURCE_DIR}/tests/test_overlay.c)
target_link_libraries(test_overlay PRIVATE barista_core bar_runtime_agent)
target_include_directories(test_overlay PRIVATE ${CMAKE_SOURCE_DIR}/tests)
add_test(NAME overlay_unit COMMAND test_overlay)
set_tests_properties(overlay_unit PROPERTIES TIMEOUT 30 LABELS overlay)

add_executable(overlay_driver ${CMAKE_SOURCE_DIR}/tests/overlay_driver.c)
target_link_libraries(overlay_driver PRIVATE barista_core bar_runtime_agent)
add_test(NAME overlay_wg
  COMMAND ${BAR_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/overlay_check.py $<TARGET_FILE:overlay_driver>)
# one at a time with itself: it owns the bridges and namespaces it names
set_tests_properties(overlay_wg PROPERTIES TIMEOUT 120 LABELS overlay
  RESOURCE_LOCK barista_overlay_wg)
