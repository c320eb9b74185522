#pragma once
// Everything in qslm: the embedded runtime plus the host-side tools (files, evaluation, search).
#include "qslm/runtime.hpp"
#include "qslm/core/error.hpp"
#include "qslm/tensor/eigen_interop.hpp"
#include "qslm/hw.hpp"
#include "qslm/eval.hpp"
#include "qslm/search.hpp"
