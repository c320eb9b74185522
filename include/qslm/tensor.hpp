#pragma once
// qslm tensors: bit-width-parameterized packed weights and their scales.
#include "qslm/tensor/any_packed_tensor.hpp"
#include "qslm/tensor/encoding.hpp"
#include "qslm/tensor/packed_tensor.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/quant_grid.hpp"
#include "qslm/tensor/scale_layout.hpp"
