# ctest entry test_models_live_golden: regenerate tiny random models and their float64 golden
# files with the PyTorch reference (tools/train/spikegpt.py, sdt.py, and the variants script),
# then run the C++ comparison (test_models "[.live-golden]") on them.
#
# Inputs (-D): PYTHON, SOURCE_DIR, OUT_DIR, TEST_BINARY, SEEDS (comma-separated).
# Without a Python that can import torch the test is skipped (ctest reports "Skipped"), unless
# the environment sets QSLM_REQUIRE_TORCH=1 (CI): then it fails.

execute_process(COMMAND ${PYTHON} -c "import torch, sys; sys.stdout.write(torch.__version__)"
                RESULT_VARIABLE torch_rc OUTPUT_VARIABLE torch_version ERROR_QUIET)
if(NOT torch_rc EQUAL 0)
  if("$ENV{QSLM_REQUIRE_TORCH}" STREQUAL "1")
    message(FATAL_ERROR "QSLM_REQUIRE_TORCH=1 but '${PYTHON}' cannot import torch "
                        "(install Debian's python3-torch)")
  endif()
  # ctest marks the test as skipped when the output matches "QSLM_SKIPPED" (SKIP_REGULAR_EXPRESSION).
  message("QSLM_SKIPPED: '${PYTHON}' cannot import torch; the live golden comparison needs python3-torch. "
          "Set QSLM_REQUIRE_TORCH=1 to make this a failure.")
  return()
endif()
message(STATUS "torch ${torch_version}")

string(REPLACE "," ";" SEEDS "${SEEDS}")
file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")

function(run_or_fail)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

foreach(seed IN LISTS SEEDS)
  run_or_fail(${PYTHON} tools/train/spikegpt.py golden --tiny --seed ${seed}
              --model "${OUT_DIR}/spikegpt-tiny-s${seed}.safetensors"
              --out "${OUT_DIR}/spikegpt-tiny-s${seed}.golden.json")
  run_or_fail(${PYTHON} tools/train/sdt.py golden --tiny --seed ${seed}
              --model "${OUT_DIR}/sdt-tiny-s${seed}.safetensors"
              --out "${OUT_DIR}/sdt-tiny-s${seed}.golden.json")
endforeach()
list(GET SEEDS 0 first_seed)
run_or_fail(${PYTHON} tests/models/make_tiny_variants.py --source-dir "${SOURCE_DIR}"
            --out-dir "${OUT_DIR}" --seed ${first_seed})

set(ENV{QSLM_LIVE_GOLDEN_DIR} "${OUT_DIR}")
run_or_fail(${TEST_BINARY} "[.live-golden]")
