#pragma once
// parallel_map: run f(i) for i in [0, n) on up to `threads` std::threads and return the results
// in index order. Which thread ran which index never shows in the result, so anything built on
// it is deterministic whatever the thread count. The first exception (lowest index) is
// rethrown after every thread has joined.
//
// Host-only header.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace qslm::eval {

/// Number of threads to use for `requested` (0 = all hardware threads), never more than `work`.
inline unsigned effective_threads(unsigned requested, std::size_t work) noexcept {
    unsigned t = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
    if (work < t) t = static_cast<unsigned>(std::max<std::size_t>(work, 1));
    return t;
}

template <class F>
auto parallel_map(std::size_t n, unsigned threads, F&& f) -> std::vector<std::invoke_result_t<F&, std::size_t>> {
    using R = std::invoke_result_t<F&, std::size_t>;
    std::vector<std::optional<R>> slots(n);
    std::vector<std::exception_ptr> errors(n);
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
            try {
                slots[i].emplace(f(i));
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
    };
    const unsigned t = effective_threads(threads, n);
    if (t <= 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(t - 1);
        for (unsigned k = 0; k + 1 < t; ++k) pool.emplace_back(worker);
        worker();
        for (auto& th : pool) th.join();
    }
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    std::vector<R> out;
    out.reserve(n);
    for (auto& s : slots) out.push_back(std::move(*s));
    return out;
}

}  // namespace qslm::eval
