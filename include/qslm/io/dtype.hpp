#pragma once
// The element types a safetensors file may declare, with their sizes and spellings.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qslm::io {

enum class DType : std::uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

inline constexpr DType all_dtypes[] = {DType::BOOL, DType::U8,  DType::I8,  DType::F8_E5M2, DType::F8_E4M3,
                                       DType::I16,  DType::U16, DType::F16, DType::BF16,    DType::I32,
                                       DType::U32,  DType::F32, DType::F64, DType::I64,     DType::U64};

/// Bytes per element.
constexpr std::size_t dtype_size(DType t) noexcept {
    switch (t) {
        case DType::BOOL: case DType::U8: case DType::I8: case DType::F8_E5M2: case DType::F8_E4M3: return 1;
        case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 2;
        case DType::I32: case DType::U32: case DType::F32: return 4;
        case DType::F64: case DType::I64: case DType::U64: return 8;
    }
    return 0;
}

/// The spelling used in safetensors headers ("F32", "BF16", ...).
constexpr std::string_view to_string(DType t) noexcept {
    switch (t) {
        case DType::BOOL: return "BOOL";
        case DType::U8: return "U8";
        case DType::I8: return "I8";
        case DType::F8_E5M2: return "F8_E5M2";
        case DType::F8_E4M3: return "F8_E4M3";
        case DType::I16: return "I16";
        case DType::U16: return "U16";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::I32: return "I32";
        case DType::U32: return "U32";
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
        case DType::U64: return "U64";
    }
    return "?";
}

constexpr std::optional<DType> parse_dtype(std::string_view s) noexcept {
    for (const DType t : all_dtypes)
        if (to_string(t) == s) return t;
    return std::nullopt;
}

constexpr bool is_floating_point(DType t) noexcept {
    return t == DType::F8_E5M2 || t == DType::F8_E4M3 || t == DType::F16 || t == DType::BF16 || t == DType::F32 ||
           t == DType::F64;
}

}  // namespace qslm::io
