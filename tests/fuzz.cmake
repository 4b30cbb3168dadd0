# libFuzzer targets for every parser of outside input (built with clang and
# -DBAR_FUZZ=ON; `./dev test` runs each for a short while as a smoke test,
# `build-fuzz/tests/fuzz_<name> CORPUS_DIR` runs one for as long as you like).
if(BAR_FUZZ)
  set(BAR_FUZZ_SEEDS_spec ${CMAKE_SOURCE_DIR}/tests/data/spec/good
                          ${CMAKE_SOURCE_DIR}/specs/examples/quickstart)
  set(BAR_FUZZ_SEEDS_yaml ${CMAKE_SOURCE_DIR}/tests/data/spec/bad)
  set(BAR_FUZZ_SEEDS_plan ${CMAKE_SOURCE_DIR}/tests/data/fuzz/plan)
  set(BAR_FUZZ_SEEDS_credential ${CMAKE_SOURCE_DIR}/tests/data/fuzz/credential)
  foreach(t spec yaml plan credential)
    add_executable(fuzz_${t} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${t}.c)
    target_link_libraries(fuzz_${t} PRIVATE barista_core)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    # libFuzzer writes new inputs into the first corpus directory: keep that
    # in the build tree, and the seeds in the source tree read-only.
    set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${t})
    file(MAKE_DIRECTORY ${corpus})
    add_test(NAME fuzz_${t}
      COMMAND fuzz_${t} -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 ${corpus} ${BAR_FUZZ_SEEDS_${t}})
    set_tests_properties(fuzz_${t} PROPERTIES LABELS "fuzz"
      TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
  endforeach()
endif()
