#pragma once
// Plain-text evaluation data (WikiText-2 and the like) for byte-level language models: the
// file's bytes are the tokens (0..255). A leading UTF-8 byte-order mark is dropped, because it
// is an artefact of how the file was saved, not text a model should be scored on.
//
// Host-only header.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::eval {

/// The whole file as bytes. Errors: not_found (cannot open), io_error (read failed),
/// invalid_argument (larger than max_text_file_bytes).
/// The most a text file may hold (64 MiB): evaluation data is read whole, and a device or a
/// pipe given as a file (/dev/zero, /dev/urandom) would otherwise grow memory without bound.
inline constexpr std::size_t max_text_file_bytes = std::size_t{64} << 20;

/// The whole file; fails with invalid_argument (naming the file and the limit) once it holds
/// more than `max_bytes`, without reading further.
inline std::string read_text_file(const std::string& path, std::size_t max_bytes = max_text_file_bytes) {
    const auto too_big = [&] {
        fail(Status::invalid_argument, "text file '" + path + "' holds more than " + std::to_string(max_bytes >> 20) +
                                           " MiB (or is an endless stream such as a device); evaluation data is read "
                                           "whole, pass a smaller file");
    };
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) > max_bytes && !ec) too_big();
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(Status::not_found, "cannot open text file '" + path + "'");
    std::string text;
    std::vector<char> chunk(std::size_t{1} << 20);
    while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (text.size() + n > max_bytes) too_big();
        text.append(chunk.data(), n);
    }
    if (in.bad()) fail(Status::io_error, "reading text file '" + path + "' failed");
    return text;
}

inline std::string_view strip_utf8_bom(std::string_view text) noexcept {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    return text;
}

/// Byte-level tokens of a text (each byte 0..255 is a token).
inline std::vector<int> byte_tokens(std::string_view text) {
    text = strip_utf8_bom(text);
    std::vector<int> tokens(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) tokens[i] = static_cast<unsigned char>(text[i]);
    return tokens;
}

/// Whitespace-separated words, for word-level perplexity.
inline std::size_t count_words(std::string_view text) noexcept {
    std::size_t words = 0;
    bool in_word = false;
    for (const char ch : text) {
        const bool space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words;
}

/// Cuts `tokens` into consecutive sequences of `length` tokens (the last, shorter remainder is
/// kept when it has at least two tokens, since one token predicts nothing). `max_sequences`
/// = 0 keeps them all. Errors: invalid_argument for length < 2 or no tokens.
inline std::vector<std::vector<int>> split_sequences(std::span<const int> tokens, std::size_t length,
                                                     std::size_t max_sequences = 0) {
    if (length < 2) fail(Status::invalid_argument, "sequence length must be at least 2 tokens");
    if (tokens.size() < 2) fail(Status::invalid_argument, "the text has fewer than 2 tokens: nothing to evaluate");
    std::vector<std::vector<int>> out;
    for (std::size_t start = 0; start + 1 < tokens.size(); start += length) {
        if (max_sequences != 0 && out.size() == max_sequences) break;
        const std::size_t end = std::min(tokens.size(), start + length);
        if (end - start < 2) break;
        out.emplace_back(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                         tokens.begin() + static_cast<std::ptrdiff_t>(end));
    }
    return out;
}

}  // namespace qslm::eval
