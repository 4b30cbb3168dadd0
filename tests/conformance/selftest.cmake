# selftest.cmake - shows that each conformance case can fail: runs the suite
# against barista-provider-mutant.so wrapping the sim provider, once per
# mutation (one broken behaviour each, see mutant.c), and expects the case
# that checks that behaviour to fail.  Without a mutation the suite must
# pass through the wrapper.
#   cmake -DCONFORMANCE=... -DMUTANT=... -DSIM=... -P selftest.cmake
#
# Each entry: mutation|cases to run|the case that must fail|sim config extra
cmake_policy(SET CMP0007 NEW)
set(entries
  "accept-any-host|abi-refused|abi-refused|"
  "no-types|table|table|"
  "open-fails|open-close|open-close|"
  "bad-status|create.vnet|create.vnet|"
  "bad-name|create.vnet|create.vnet|"
  "emit-twice|create.vnet|create.vnet|"
  "unsorted-attrs|create.vnet|create.vnet|"
  "drop-tags|create.vnet|create.vnet|"
  "transitional-no-token|create.vnet|create.vnet|"
  "unstable-attrs|read.vnet|read.vnet|"
  "read-wrong-type|read.vnet|read.vnet|"
  "secret-from-read|read.sshkey|read.sshkey|"
  "list-drops|list.vnet|list.vnet|"
  "list-untagged|list.vnet|list.vnet|"
  "list-any-region|list.vnet|list.vnet|"
  "update-fails|update.securitygroup|update.securitygroup|"
  "idem-ignored|idempotency|idempotency|"
  "op-never-ends|operations|operations|,\"asyncMs\":\"100\""
  "op-final-with-token|operations|operations|,\"asyncMs\":\"100\""
  "suspend-noop|vm.suspend-resume|vm.suspend-resume|"
  "reboot-suspended-ok|vm.reboot-suspended|vm.reboot-suspended|"
  "unknown-action-efail|vm.unknown-action|vm.unknown-action|"
  "ignore-cancel|cancel|cancel|"
  "ignore-deadline|deadline|deadline|"
  "shared-id|concurrency|concurrency|"
  "no-set-error|errors.unknown-type|errors.unknown-type|"
  "unknown-type-efail|errors.unknown-type|errors.unknown-type|"
  "malformed-efail|errors.malformed-input|errors.malformed-input|"
  "delete-noop|delete.vnet|delete.vnet|"
  "delete-again-ok|delete.vnet|delete.vnet|"
  "rc-positive|delete.vnet|delete.vnet|"
  "leak-secret-log|create.sshkey,secrets|secrets|"
  "leak-secret-fragment|create.sshkey,secrets|secrets|"
  "leak-credential|create.vnet,secrets|secrets|"
  "reboot-suspends|vm.reboot|vm.reboot|"
  "delete-noop|create.vnet|cleanup|"
  "ignore-emit-refusal|errors.emit-refused|errors.emit-refused|"
  "keep-refused-key|secrets.refused|secrets.refused|"
)
set(wait "{\"file\":\"@TMPDIR@/sim.log\",\"latencyMs\":\"2000\"}")
set(fixture "{\"operationTimeoutMs\":1500}")
set(bad 0)
set(creds ${CMAKE_CURRENT_BINARY_DIR}/conformance-selftest-credentials.json)
file(WRITE ${creds} "{\"accessKey\":\"AKIDSELFTEST\",\"secretKey\":\"selftest-secret-3f9a\"}")

# The suite through the wrapper with nothing broken: everything passes.
set(ENV{BAR_MUTANT_INNER} ${SIM})
set(ENV{BAR_MUTANT} "")
execute_process(COMMAND ${CONFORMANCE} -timeout 60 -wait-config ${wait} ${MUTANT}
                "{\"file\":\"@TMPDIR@/sim.log\"}" seoul
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\n[0-9]+ passed, 0 failed\n")
  message("not ok - the unbroken wrapper does not pass:\n${out}${err}")
  math(EXPR bad "${bad} + 1")
else()
  message("ok - nothing broken: every case passes through the wrapper")
endif()

foreach(e ${entries})
  string(REPLACE "|" ";" f "${e}")
  list(GET f 0 mutation)
  list(GET f 1 run)
  list(GET f 2 must_fail)
  list(LENGTH f n)
  set(extra "")
  if(n GREATER 3)
    list(GET f 3 extra)
  endif()
  set(ENV{BAR_MUTANT} ${mutation})
  execute_process(COMMAND ${CONFORMANCE} -timeout 60 -run ${run} -fixture ${fixture}
                  -credentials ${creds}
                  -wait-config ${wait} ${MUTANT} "{\"file\":\"@TMPDIR@/sim.log\"${extra}}" seoul
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE "." "\\." case_re "${must_fail}")
  if(rc EQUAL 1 AND out MATCHES "\nnot ok [0-9]+ - ${case_re}\n")
    string(REGEX MATCH "\nnot ok [0-9]+ - ${case_re}\n#   [^\n]*" why "${out}")
    string(REGEX REPLACE "^\nnot ok [0-9]+ - [^\n]*\n#   " "" why "${why}")
    message("ok - ${mutation}: ${must_fail} fails: ${why}")
  else()
    message("not ok - ${mutation}: ${must_fail} did not fail (exit ${rc}):\n${out}${err}")
    math(EXPR bad "${bad} + 1")
  endif()
endforeach()
file(REMOVE ${creds})
if(bad)
  message(FATAL_ERROR "${bad} mutations went unnoticed")
endif()
