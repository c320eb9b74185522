#pragma once
// Everything in qslm: the embedded runtime plus the host half (qslm::Error, files and the
// loaders that build models from them, quantization, evaluation, search, hardware model).
#include "qslm/runtime.hpp"
#include "qslm/host/eigen_interop.hpp"
#include "qslm/host/error.hpp"
#include "qslm/io.hpp"
#include "qslm/quant.hpp"
#include "qslm/hw.hpp"
#include "qslm/eval.hpp"
#include "qslm/search.hpp"
