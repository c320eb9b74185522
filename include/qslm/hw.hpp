#pragma once
// qslm hw: memory, energy and power model, device budget profiles and the fit check.
// Host-side (exceptions, nlohmann-json).
#include "qslm/hw/builtin_profiles.hpp"
#include "qslm/hw/device_profile.hpp"
#include "qslm/hw/energy_estimate.hpp"
#include "qslm/hw/energy_model.hpp"
#include "qslm/hw/energy_report.hpp"
#include "qslm/hw/fit_check.hpp"
#include "qslm/hw/numeric_format.hpp"
#include "qslm/hw/op_prices.hpp"
#include "qslm/hw/performance_memory_energy.hpp"
