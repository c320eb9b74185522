// Compiled with -mgeneral-regs-only (tests/integer/CMakeLists.txt): the compiler may then use no
// floating-point or vector register at all, and rejects any float or double operation with an
// error. That this file builds is the host-side proof that the integer SpikeGPT's inference loop
// (reset, step, logits, for both the run-time-width and the compile-time-width matrices) has no
// floating point; the firmware's arm-none-eabi-nm check (examples/firmware/check_no_float.sh) is
// the target-side one. The test then runs these functions and compares them bit for bit with the
// same code built normally, so the file is not just compiled but used.
#include "integer/no_float_step.hpp"

#include <tuple>

namespace qslm_test::integer_no_float {

namespace {
using Static4 = qslm::layers::integer::StaticMatrix<qslm::PackedTensorView<4, qslm::encoding::Signed>>;
using StaticEmb = qslm::layers::integer::StaticMatrix<qslm::PackedTensorView<1, qslm::encoding::Bipolar>>;
using StaticBlock = qslm::layers::integer::SpikeGptBlockParams<Static4, Static4, Static4, Static4, Static4, Static4, Static4>;
using StaticParams = qslm::models::IntegerSpikeGptParams<StaticEmb, Static4, std::tuple<StaticBlock, StaticBlock>>;
}  // namespace

}  // namespace qslm_test::integer_no_float

// Every member of both model forms, instantiated here under -mgeneral-regs-only.
template class qslm::models::IntegerSpikeGpt<qslm::models::integer::RuntimeParams>;
template class qslm::models::IntegerSpikeGpt<qslm_test::integer_no_float::StaticParams>;

namespace qslm_test::integer_no_float {

qslm::Status reset(const qslm::models::integer::RuntimeParams& p, std::span<std::byte> arena) noexcept {
    return qslm::models::integer::RuntimeIntegerSpikeGpt(p).reset(arena);
}

qslm::Status step(const qslm::models::integer::RuntimeParams& p, std::uint32_t token, std::span<std::byte> arena,
                  qslm::models::IntegerStepSpikes* spikes) noexcept {
    return qslm::models::integer::RuntimeIntegerSpikeGpt(p).step(token, arena, spikes);
}

}  // namespace qslm_test::integer_no_float
