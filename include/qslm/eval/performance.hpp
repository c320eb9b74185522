#pragma once
// Performance: one number that says how good a (quantized) model is on an evaluation set,
// together with which direction is better. Perplexity and bits-per-character fall as the
// model improves; accuracy rises. The search compares candidates only through
// relative_to(), so it never needs to know which metric it is optimising.
//
// Host-only header.

#include <cmath>
#include <string>
#include <utility>

namespace qslm::eval {

enum class Direction : unsigned char { higher_is_better, lower_is_better };

struct Performance {
    double value = 0.0;
    Direction direction = Direction::higher_is_better;
    std::string metric = "score";  ///< "perplexity", "bits_per_char", "accuracy", ...

    [[nodiscard]] bool higher_is_better() const noexcept { return direction == Direction::higher_is_better; }

    /// This performance as a fraction of a reference (normally the float model): 1 means as
    /// good, below 1 worse. For lower-is-better metrics the ratio is inverted (P_ref / P), so a
    /// perplexity that doubles gives 0.5 exactly as an accuracy that halves does.
    [[nodiscard]] double relative_to(const Performance& reference) const noexcept {
        if (higher_is_better()) return reference.value != 0.0 ? value / reference.value : (value >= 0.0 ? 1.0 : 0.0);
        if (!(value > 0.0)) return 0.0;  // a non-positive perplexity means a broken evaluation
        return reference.value / value;
    }

    /// Relative drop against a reference: 1 - relative_to(reference); negative when better.
    [[nodiscard]] double drop_from(const Performance& reference) const noexcept { return 1.0 - relative_to(reference); }

    /// true when this is at least as good as `other` (direction-aware).
    [[nodiscard]] bool at_least_as_good_as(const Performance& other) const noexcept {
        return higher_is_better() ? value >= other.value : value <= other.value;
    }
};

inline Performance higher_is_better(double value, std::string metric) {
    return {value, Direction::higher_is_better, std::move(metric)};
}
inline Performance lower_is_better(double value, std::string metric) {
    return {value, Direction::lower_is_better, std::move(metric)};
}

}  // namespace qslm::eval
