# Installs qslm from the build tree into a scratch prefix, then configures, builds and runs the
# consumer project twice: via find_package against that prefix, and via add_subdirectory.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

run_step(${CMAKE_COMMAND} --install "${QSLM_BINARY_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/share/cmake/qslm/qslmConfig.cmake")
  message(FATAL_ERROR "install did not produce share/cmake/qslm/qslmConfig.cmake")
endif()

foreach(mode IN ITEMS package subdirectory)
  set(build "${WORK_DIR}/consumer-${mode}")
  run_step(${CMAKE_COMMAND} -S "${QSLM_SOURCE_DIR}/tests/package/consumer" -B "${build}"
           -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
           -DCMAKE_PREFIX_PATH=${prefix}
           -DQSLM_CONSUME_VIA=${mode}
           -DQSLM_SOURCE_DIR=${QSLM_SOURCE_DIR})
  run_step(${CMAKE_COMMAND} --build "${build}")
  run_step("${build}/consumer")
  run_step("${build}/consumer_shared_kernels")
  run_step("${build}/consumer_host")
  message(STATUS "consumer via ${mode}: ok")
endforeach()
