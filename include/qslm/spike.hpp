#pragma once
// qslm spike: bit-packed spike trains (spatial and temporal layouts), conversions, event lists.
// Embedded-safe: views over caller-owned words, no exceptions.
#include "qslm/spike/event_list.hpp"
#include "qslm/spike/spike_convert.hpp"
#include "qslm/spike/spike_train.hpp"
