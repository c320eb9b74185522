#pragma once
// What the libFuzzer targets do with one input, shared with tests/io/test_fuzz_regressions.cpp
// so that every saved finding is replayed by the ordinary test suite.
//
// Contract checked: a reader either accepts the bytes or throws qslm::Error. Anything else —
// a crash, a sanitizer report, a hang, another exception type (std::bad_alloc from a lying
// length, nlohmann's exceptions leaking) — is a finding. Accepted inputs must also satisfy
// round-trip properties; a violation throws PropertyViolation, which the fuzzer reports.

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/header_export.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/io/safetensors.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/sdt_checkpoint.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"

namespace qslm::fuzz {

struct PropertyViolation : std::logic_error {
    using std::logic_error::logic_error;
};

/// Returns whether the reader accepted the file (the regression test holds each saved input to
/// its recorded outcome).
inline bool exercise_safetensors(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    try {
        const auto st = io::SafetensorsFile::parse(bytes, "fuzz.safetensors");
        for (const auto& t : st.tensors()) {
            try {
                (void)t.to_float();
            } catch (const Error&) {  // e.g. a BOOL byte that is not 0 or 1
            }
        }
        // Accepted files survive a rewrite with the same tensors and metadata.
        io::SafetensorsWriter w;
        for (const auto& t : st.tensors()) w.add(t.name, t.dtype, t.shape, t.bytes);
        for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
        const auto again = w.to_bytes();
        const auto st2 = io::SafetensorsFile::parse(std::span<const std::uint8_t>(again), "rewritten");
        if (st2.tensors().size() != st.tensors().size() || st2.metadata() != st.metadata())
            throw PropertyViolation("safetensors rewrite changed the tensor list or metadata");
        for (const auto& t : st.tensors()) {
            const auto& u = st2.tensor(t.name);
            if (u.dtype != t.dtype || u.shape != t.shape ||
                !std::equal(u.bytes.begin(), u.bytes.end(), t.bytes.begin(), t.bytes.end()))
                throw PropertyViolation("safetensors rewrite changed tensor '" + t.name + "'");
        }
        try {
            (void)io::load_spikegpt_checkpoint(st);
        } catch (const Error&) {
        }
        try {
            (void)io::load_sdt_checkpoint(st);
        } catch (const Error&) {
        }
        return true;
    } catch (const Error&) {
        return false;
    }
}

namespace detail {
inline bool exercise_qslm_image(std::span<const std::uint8_t> bytes) {
    try {
        const auto m = io::parse_qslm(bytes, "fuzz.qslm");
        for (const auto& t : m.tensors) {
            (void)t.dequantize();
            if (t.is_packed()) t.visit_view([](const auto& v) {
                if (v.check() != Status::ok) throw PropertyViolation("an accepted tensor fails its view check");
            });
            if (t.is_packed() && ((t.bits == 1 && t.encoding == io::EncodingKind::bipolar) ||
                                  (t.bits >= 2 && t.encoding == io::EncodingKind::signed_levels))) {
                const auto any = t.to_any_packed();
                if (any.dequantize() != t.dequantize()) throw PropertyViolation("AnyPackedTensor round trip differs");
            }
        }
        // The format is canonical: what was accepted re-serializes to the same bytes.
        const auto again = io::serialize_qslm(m);
        if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()))
            throw PropertyViolation(".qslm re-serialization differs from the accepted input");
        if (bytes.size() < (1u << 16)) (void)io::export_header(m);
        return true;
    } catch (const Error&) {
        return false;
    }
}
}  // namespace detail

/// Returns whether the reader accepted the bytes as given (before resealing).
inline bool exercise_qslm(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    const bool accepted = detail::exercise_qslm_image(bytes);
    // Most mutations break the checksum, which stops the reader early. Reseal a copy (fix the
    // recorded size and the CRC) so the structural checks behind it get fuzzed as well.
    if (size >= io::qslm_header_bytes + io::qslm_trailer_bytes) {
        std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
        io::store_le<std::uint64_t>(copy.data() + 16, copy.size());
        const std::size_t body = copy.size() - io::qslm_trailer_bytes;
        io::store_le<std::uint32_t>(copy.data() + body, io::crc32c(std::span<const std::uint8_t>(copy).first(body)));
        (void)detail::exercise_qslm_image(copy);
    }
    return accepted;
}

}  // namespace qslm::fuzz
