#pragma once
// Result<T>: a value or a Status with a static explanation, for code that must work without
// exceptions (std::expected is C++23; this is the small subset the runtime needs).

#include <new>
#include <type_traits>
#include <utility>

#include "qslm/core/status.hpp"

namespace qslm {

/// Why something failed: a code plus a sentence that lives in static storage, so creating
/// one never allocates (the embedded path has no heap).
struct Failure {
    Status status = Status::invalid_argument;
    const char* message = "";
};

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

    // Precondition: ok(). Checked by the caller (or by qslm::value_or_throw on the host).
    T& value() & noexcept { return storage_.value; }
    const T& value() const& noexcept { return storage_.value; }
    T&& value() && noexcept { return std::move(storage_.value); }
    T* operator->() noexcept { return &storage_.value; }
    const T* operator->() const noexcept { return &storage_.value; }
    T& operator*() & noexcept { return storage_.value; }
    const T& operator*() const& noexcept { return storage_.value; }

private:
    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        Failure failure;
    } storage_;
    bool ok_;
};

}  // namespace qslm
