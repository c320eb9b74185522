#pragma once
// qslm quant (host side): calibration statistics and the weight rounding policies that pack
// into PackedTensor — round-to-nearest (in qslm/tensor), the clipping search, GPTQ and
// TesseraQ-style progressive adaptive rounding.
#include "qslm/quant/adaptive_rounding.hpp"
#include "qslm/quant/clip_search.hpp"
#include "qslm/quant/gptq.hpp"
#include "qslm/quant/input_statistics.hpp"
#include "qslm/quant/layer_error.hpp"
#include "qslm/quant/layer_rounding.hpp"
