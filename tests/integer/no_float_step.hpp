#pragma once
// The integer SpikeGPT's reset and step compiled in a translation unit built with
// -mgeneral-regs-only (no_float_step.cpp): no floating-point register may be used there.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/status.hpp"
#include "qslm/models/integer_spikegpt.hpp"

namespace qslm_test::integer_no_float {

qslm::Status reset(const qslm::models::integer::RuntimeParams& p, std::span<std::byte> arena) noexcept;
qslm::Status step(const qslm::models::integer::RuntimeParams& p, std::uint32_t token, std::span<std::byte> arena,
                  qslm::models::IntegerStepSpikes* spikes) noexcept;

}  // namespace qslm_test::integer_no_float
