# The collector's store (monitor/tsdb*.c): 10 M points of agent-like data
# appended, flushed, queried and rolled up (bench/README.md).
add_executable(tsdb_store ${CMAKE_SOURCE_DIR}/bench/tsdb_store.c)
target_link_libraries(tsdb_store PRIVATE bench_agent_data bar_monitor_tsdb Threads::Threads m)
set_target_properties(tsdb_store PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
