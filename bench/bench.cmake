# Benchmarks: build/bench/<name>; run by hand, each prints key=value figures
# as its last line (see bench/README.md).
add_library(bench_util STATIC ${CMAKE_SOURCE_DIR}/bench/bench_util.c)
foreach(b plan_scale apply_parallel local_create exec_fanout)
  if(EXISTS ${CMAKE_SOURCE_DIR}/bench/${b}.c)
    add_executable(${b} ${CMAKE_SOURCE_DIR}/bench/${b}.c)
    target_link_libraries(${b} PRIVATE bench_util barista_core)
    set_target_properties(${b} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  endif()
endforeach()
