#pragma once
// Result<T>: a value or a Status with a static explanation, for code that must work without
// exceptions (std::expected is C++23; this is the small subset the runtime needs).

#include <new>
#include <type_traits>
#include <utility>

#include "qslm/core/config.hpp"
#include "qslm/core/status.hpp"

#if !defined(QSLM_NO_EXCEPTIONS)
#include <cstdio>
#include <cstdlib>
#endif

namespace qslm {

/// Why something failed: a code plus a sentence that lives in static storage, so creating
/// one never allocates (the embedded path has no heap).
struct Failure {
    Status status = Status::invalid_argument;
    const char* message = "";
};

// Not `qslm::detail`: code that says `using namespace qslm; using namespace qslm::io;` would
// find two `detail`s.
namespace failed_result {
/// What Result::value() (and `*`, `->`) does when the Result holds a failure, in every build
/// type: reading the union's value would be undefined behaviour, a silent wrong answer at best.
/// A hosted program says which failure was ignored on stderr and aborts; firmware
/// (QSLM_NO_EXCEPTIONS: no stdio, no heap) stops on a trap instruction (a HardFault on a
/// Cortex-M, where the debugger shows the caller).
[[noreturn]] inline void stop(const char* message, Status status) noexcept {
#if !defined(QSLM_NO_EXCEPTIONS)
    std::fprintf(stderr, "qslm: value() of a failed Result (%s): %s\n", to_string(status), message);
    std::fflush(stderr);
    std::abort();
#else
    (void)message;
    (void)status;
    __builtin_trap();
#endif
}
}  // namespace failed_result

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : ok_(true) { ::new (&storage_.value) T(std::move(value)); }  // NOLINT: implicit by design
    Result(Failure failure) : ok_(false) { storage_.failure = failure; }          // NOLINT

    Result(const Result& other) : ok_(other.ok_) {
        if (ok_) ::new (&storage_.value) T(other.storage_.value);
        else storage_.failure = other.storage_.failure;
    }
    Result(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(other.ok_) {
        if (ok_) ::new (&storage_.value) T(std::move(other.storage_.value));
        else storage_.failure = other.storage_.failure;
    }
    Result& operator=(Result other) {
        this->~Result();
        ::new (this) Result(std::move(other));
        return *this;
    }
    ~Result() {
        if (ok_) storage_.value.~T();
    }

    [[nodiscard]] bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    [[nodiscard]] Status status() const noexcept { return ok_ ? Status::ok : storage_.failure.status; }
    [[nodiscard]] const char* message() const noexcept { return ok_ ? "" : storage_.failure.message; }
    [[nodiscard]] Failure failure() const noexcept { return ok_ ? Failure{Status::ok, ""} : storage_.failure; }

    // Precondition: ok() (check it, or use qslm::value_or_throw on the host). Broken, the
    // program stops with the failure's message (failed_result::stop), in every build.
    T& value() & noexcept { return checked(); }
    const T& value() const& noexcept { return checked(); }
    T&& value() && noexcept { return std::move(checked()); }
    T* operator->() noexcept { return &checked(); }
    const T* operator->() const noexcept { return &checked(); }
    T& operator*() & noexcept { return checked(); }
    const T& operator*() const& noexcept { return checked(); }

private:
    T& checked() noexcept {
        if (!ok_) [[unlikely]]
            failed_result::stop(storage_.failure.message, storage_.failure.status);
        return storage_.value;
    }
    const T& checked() const noexcept {
        if (!ok_) [[unlikely]]
            failed_result::stop(storage_.failure.message, storage_.failure.status);
        return storage_.value;
    }

    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        Failure failure;
    } storage_;
    bool ok_;
};

}  // namespace qslm
