#pragma once
// qslm evaluation (host side): perplexity / bits per character / word perplexity, accuracy,
// KL divergence and top-1 agreement against the float model, WikiText and SST-2 readers,
// data-free calibration text, and the Evaluator contract the quantizer search uses.
#include "qslm/eval/classification_evaluator.hpp"
#include "qslm/eval/data_free.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/lm_evaluator.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/eval/performance.hpp"
#include "qslm/eval/sst2.hpp"
#include "qslm/eval/text_data.hpp"
#include "qslm/eval/token_metrics.hpp"
