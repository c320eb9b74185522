# ctest entry test_result_value_of_failure: PROGRAM must end with a non-zero status (it aborts)
# and name EXPECT on stderr; returning normally, or silently, is a failure.
# Inputs (-D): PROGRAM, EXPECT.
execute_process(COMMAND "${PROGRAM}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} returned 0; stdout: ${out}")
endif()
string(FIND "${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${PROGRAM} stopped (${rc}) without naming '${EXPECT}' on stderr: ${err}")
endif()
message(STATUS "stopped as expected (${rc}): ${err}")
