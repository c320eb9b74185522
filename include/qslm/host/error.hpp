#pragma once
// qslm::Error: the host-side exception. It carries the same Status code as the runtime half
// and a message that names what went wrong (file, tensor, offset), in the style
// "qslm.corrupt_data: tensor 'head.weight': data_offsets [0, 12) ...".
//
// Host-only header (uses <string> and exceptions); the embedded half uses Result/Status.

#include <stdexcept>
#include <string>
#include <utility>

#include "qslm/core/config.hpp"
#include "qslm/core/result.hpp"
#include "qslm/core/status.hpp"

#if !QSLM_HAS_EXCEPTIONS
#  error "qslm/host/error.hpp is part of the host half and needs exceptions; the runtime half reports qslm::Status instead"
#endif

namespace qslm {

class Error : public std::runtime_error {
public:
    Error(Status code, const std::string& what)
        : std::runtime_error(std::string("qslm.") + to_string(code) + ": " + what), code_(code) {}

    [[nodiscard]] Status code() const noexcept { return code_; }

private:
    Status code_;
};

[[noreturn]] inline void fail(Status code, const std::string& what) { throw Error(code, what); }

/// Unwraps a runtime Result on the host, turning a failure into qslm::Error; `context`
/// says what was being done, so the message stays specific.
template <class T>
T value_or_throw(Result<T> result, const std::string& context = {}) {
    if (!result.ok()) {
        fail(result.status(), context.empty() ? std::string(result.message())
                                              : context + ": " + result.message());
    }
    return std::move(result).value();
}

inline void throw_if_failed(Status status, const char* message, const std::string& context = {}) {
    if (status != Status::ok) fail(status, context.empty() ? std::string(message) : context + ": " + message);
}

}  // namespace qslm
