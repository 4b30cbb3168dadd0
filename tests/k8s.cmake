# The "kubernetes" MC-App runtime (runtime/kubernetes, docs/kubernetes.md):
# its unit test, the lifecycle against the Kubernetes API double
# (tests/k8s_double.js validating every body with the kubernetes-models npm
# package; or a real cluster with BARISTA_K8S_TESTS=kubeconfig), and
# shellcheck of the embedded kubeadm bootstrap scripts.
if(TARGET bar_runtime_k8s)
  add_executable(test_k8s ${CMAKE_SOURCE_DIR}/tests/test_k8s.c)
  target_link_libraries(test_k8s PRIVATE bar_runtime_k8s)
  target_include_directories(test_k8s PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(test_k8s PRIVATE
    BAR_K8S_DATA_DIR="${CMAKE_SOURCE_DIR}/tests/data/k8s")
  add_test(NAME k8s_unit COMMAND test_k8s unit ${CMAKE_SOURCE_DIR}/tests/data/k8s)
  set_tests_properties(k8s_unit PROPERTIES LABELS "k8s" TIMEOUT 30)

  add_test(NAME k8s_runtime
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/k8s_runtime.sh $<TARGET_FILE:test_k8s>
            ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} $<TARGET_FILE:barista>)
  set_tests_properties(k8s_runtime PROPERTIES LABELS "k8s;double;integration" TIMEOUT 600
                       RUN_SERIAL TRUE)

  find_program(BAR_SHELLCHECK shellcheck)
  file(GLOB BAR_K8S_SCRIPTS ${CMAKE_SOURCE_DIR}/runtime/kubernetes/bootstrap/*.sh)
  if(BAR_SHELLCHECK)
    add_test(NAME k8s_bootstrap_shellcheck
      COMMAND ${BAR_SHELLCHECK} --severity=style ${BAR_K8S_SCRIPTS}
              ${CMAKE_SOURCE_DIR}/tests/k8s_runtime.sh ${CMAKE_SOURCE_DIR}/tests/k8s_bootstrap_local.sh)
  else()
    # shellcheck is part of ./dev's packages: without it the test fails
    add_test(NAME k8s_bootstrap_shellcheck
      COMMAND sh -c "echo 'k8s_bootstrap_shellcheck: shellcheck is missing (./dev deps installs it)' >&2; exit 1")
  endif()
  set_tests_properties(k8s_bootstrap_shellcheck PROPERTIES LABELS "k8s" TIMEOUT 60)
endif()

if(BAR_FUZZ AND TARGET bar_runtime_k8s)
  add_executable(fuzz_k8s_kubeconfig ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_k8s_kubeconfig.c)
  target_link_libraries(fuzz_k8s_kubeconfig PRIVATE bar_runtime_k8s)
  target_link_options(fuzz_k8s_kubeconfig PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/k8s_kubeconfig)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME fuzz_k8s_kubeconfig
    COMMAND fuzz_k8s_kubeconfig -max_total_time=${BAR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${corpus}
            ${CMAKE_SOURCE_DIR}/tests/data/k8s/kubeconfigs)
  set_tests_properties(fuzz_k8s_kubeconfig PROPERTIES LABELS "fuzz;k8s"
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
