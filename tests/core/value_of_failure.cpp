// Run by the ctest entry test_result_value_of_failure (run_expect_stop.cmake): value() of a
// Result that holds a failure must stop the program with the failure's message, in every build
// type, instead of reading the union (undefined behaviour).
#include <cstdio>

#include <qslm/core/result.hpp>

int main() {
    const qslm::Result<int> failed = qslm::Failure{qslm::Status::corrupt_data, "the weights are damaged"};
    const int v = failed.value();  // must not return
    std::printf("value() returned %d\n", v);
    return 0;
}
