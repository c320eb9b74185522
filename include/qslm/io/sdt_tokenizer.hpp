#pragma once
// The word tokenizer of tools/train/sdt.py (docs/models.md): lowercase, then the matches of
//   [a-z0-9]+(?:['\-][a-z0-9]+)*  |  '[a-z]+  |  [^\sa-z0-9]
// i.e. words (with inner ' or -), clitics such as 's and n't's apostrophe forms, and every
// other non-space character on its own. Ids: index in the vocabulary list (0 <pad>, 1 <unk>);
// unknown words map to 1; at most max_len tokens; an empty sentence gives [1].
//
// Written as a small scanner rather than std::regex: std::regex works on bytes (it would split
// a multi-byte UTF-8 character into several tokens, where Python's regex sees one character)
// and is slow. Differences from Python, by design: only ASCII letters are lowercased (Python's
// str.lower() also lowercases other scripts; SST-2 is ASCII), and the whitespace set is ASCII
// whitespace, \x1c-\x1f, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000 (Python's str.isspace set).
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::models {

namespace detail {
inline bool is_word_char(unsigned char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool is_lower_letter(unsigned char c) noexcept { return c >= 'a' && c <= 'z'; }
// Length of the UTF-8 sequence starting with lead byte c (1 for ASCII and for invalid bytes,
// which then stand for themselves).
inline std::size_t utf8_length(unsigned char c) noexcept {
    if (c >= 0xF0 && c <= 0xF4) return 4;
    if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    return 1;
}
inline std::uint32_t decode_utf8(std::string_view s, std::size_t i, std::size_t len) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + k])); };
    switch (len) {
        case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        case 4: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
        default: return b(0);
    }
}
inline bool is_python_space(std::uint32_t cp) noexcept {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}
}  // namespace detail

/// The words of `text` as sdt.py's tokenize() finds them.
inline std::vector<std::string> sdt_words(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    std::vector<std::string> out;
    std::size_t i = 0;
    const auto uc = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    while (i < s.size()) {
        const unsigned char c = uc(i);
        if (detail::is_word_char(c)) {
            // [a-z0-9]+ then any number of ['-][a-z0-9]+
            std::size_t j = i;
            while (j < s.size() && detail::is_word_char(uc(j))) ++j;
            while (j + 1 < s.size() && (s[j] == '\'' || s[j] == '-') && detail::is_word_char(uc(j + 1))) {
                ++j;
                while (j < s.size() && detail::is_word_char(uc(j))) ++j;
            }
            out.emplace_back(s.substr(i, j - i));
            i = j;
            continue;
        }
        if (c == '\'' && i + 1 < s.size() && detail::is_lower_letter(uc(i + 1))) {
            std::size_t j = i + 1;
            while (j < s.size() && detail::is_lower_letter(uc(j))) ++j;
            out.emplace_back(s.substr(i, j - i));
            i = j;
            continue;
        }
        std::size_t len = detail::utf8_length(c);
        if (i + len > s.size()) len = 1;
        if (!detail::is_python_space(detail::decode_utf8(s, i, len))) out.emplace_back(s.substr(i, len));
        i += len;
    }
    return out;
}

class SdtTokenizer {
public:
    static constexpr std::uint32_t pad_id = 0;
    static constexpr std::uint32_t unk_id = 1;

    SdtTokenizer() = default;
    /// `vocab`: index = id (sdt.py's "vocab" metadata); max_len: most tokens kept.
    SdtTokenizer(std::vector<std::string> vocab, std::size_t max_len) : vocab_(std::move(vocab)), max_len_(max_len) {
        if (vocab_.size() < 2) fail(Status::invalid_argument, "SDT tokenizer: the vocabulary needs <pad> and <unk> at least");
        if (max_len_ == 0) fail(Status::invalid_argument, "SDT tokenizer: max_len must be positive");
        for (std::size_t i = 0; i < vocab_.size(); ++i) index_.emplace(vocab_[i], static_cast<std::uint32_t>(i));
    }
    [[nodiscard]] const std::vector<std::string>& vocab() const noexcept { return vocab_; }
    [[nodiscard]] std::size_t max_len() const noexcept { return max_len_; }

    [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text) const {
        std::vector<std::uint32_t> ids;
        for (const auto& w : sdt_words(text)) {
            if (ids.size() == max_len_) break;
            const auto it = index_.find(w);
            ids.push_back(it == index_.end() ? unk_id : it->second);
        }
        if (ids.empty()) ids.push_back(unk_id);
        return ids;
    }

private:
    std::vector<std::string> vocab_;
    std::unordered_map<std::string, std::uint32_t> index_;
    std::size_t max_len_ = 0;
};

}  // namespace qslm::models
