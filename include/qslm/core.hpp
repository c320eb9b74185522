#pragma once
// qslm core: fixed point, bit packing, status codes. Embedded-safe (no heap, no exceptions).
#include "qslm/core/bit_packing.hpp"
#include "qslm/core/config.hpp"
#include "qslm/core/fixed.hpp"
#include "qslm/core/fixed_multiplier.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/core/overflow.hpp"
#include "qslm/core/result.hpp"
#include "qslm/core/rounding.hpp"
#include "qslm/core/status.hpp"
