#pragma once
// Status codes: how the runtime (embedded) half reports failure without exceptions.
// The host half wraps the same codes in qslm::Error, so one vocabulary serves both.

#include <cstdint>

namespace qslm {

enum class Status : std::uint8_t {
    ok = 0,
    invalid_argument,    ///< a parameter is outside what the function accepts
    bad_shape,           ///< dimensions are zero, mismatched or too large
    bad_bit_width,       ///< a bit-width outside 1..8 (or outside what a type supports)
    bad_group_size,      ///< a per-group scale with group size 0
    out_of_range,        ///< an index or value outside the representable range
    buffer_too_small,    ///< a caller-supplied buffer/arena cannot hold the result
    corrupt_data,        ///< a file or buffer violates its format
    unsupported_version, ///< a file written by a newer (or unknown) format version
    checksum_mismatch,   ///< stored checksum differs from the computed one
    io_error,            ///< the operating system refused a read or write
    not_found,           ///< a named item (tensor, file, profile) does not exist
    constraint_unsatisfiable, ///< the search cannot meet the requested constraints
    cancelled,           ///< the user interrupted a long operation
};

/// A stable, greppable name for each status (used in error ids such as "qslm.bad_shape").
constexpr const char* to_string(Status s) noexcept {
    switch (s) {
        case Status::ok: return "ok";
        case Status::invalid_argument: return "invalid_argument";
        case Status::bad_shape: return "bad_shape";
        case Status::bad_bit_width: return "bad_bit_width";
        case Status::bad_group_size: return "bad_group_size";
        case Status::out_of_range: return "out_of_range";
        case Status::buffer_too_small: return "buffer_too_small";
        case Status::corrupt_data: return "corrupt_data";
        case Status::unsupported_version: return "unsupported_version";
        case Status::checksum_mismatch: return "checksum_mismatch";
        case Status::io_error: return "io_error";
        case Status::not_found: return "not_found";
        case Status::constraint_unsatisfiable: return "constraint_unsatisfiable";
        case Status::cancelled: return "cancelled";
    }
    return "unknown";
}

}  // namespace qslm
