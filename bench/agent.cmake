# barista-agent's footprint against Debian's prometheus-node-exporter
# (bench/agent_footprint.c): build/bench/agent_footprint [-seconds N].
if(TARGET barista-agent)
  add_executable(agent_footprint ${CMAKE_SOURCE_DIR}/bench/agent_footprint.c)
  target_compile_definitions(agent_footprint PRIVATE BAR_AGENT_PATH="$<TARGET_FILE:barista-agent>")
  set_target_properties(agent_footprint PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  add_dependencies(agent_footprint barista-agent)
endif()
