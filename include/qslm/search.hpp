#pragma once
// qslm quantizer search (host side): hierarchy, sensitivity policies, tiered search and the
// budget-exact allocator, constraints and trade-off, Pareto front, resumable log, report,
// SVG plot and progress bar. See docs/search.md.
#include "qslm/search/allocator.hpp"
#include "qslm/search/candidate.hpp"
#include "qslm/search/constraints.hpp"
#include "qslm/search/evaluation_log.hpp"
#include "qslm/search/granularity.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/model.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/options.hpp"
#include "qslm/search/pareto.hpp"
#include "qslm/search/pareto_svg.hpp"
#include "qslm/search/progress.hpp"
#include "qslm/search/report.hpp"
#include "qslm/search/search_result.hpp"
#include "qslm/search/searcher.hpp"
#include "qslm/search/sensitivity.hpp"
#include "qslm/search/setting.hpp"
#include "qslm/search/tiered.hpp"
#include "qslm/search/weight_cache.hpp"
