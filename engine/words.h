// Counts in words a reader can trust: "1 message", "2 messages", "1 index", "7 indexes"; and a
// count with the first few things it counted, which a report names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::engine {

// "N noun", the noun in the plural unless N is 1; `many` when the plural is not noun + "s".
inline std::string plural(std::uint64_t n, std::string_view one, std::string_view many = {}) {
    std::string text = std::to_string(n) + " ";
    if (n == 1) return text.append(one);
    if (many.empty()) return text.append(one).append("s");
    return text.append(many);
}

// The parts with `separator` between them: "a, b, c".
inline std::string joined(const std::vector<std::string>& parts, const char* separator) {
    std::string text;
    for (const std::string& part : parts)
        text += (text.empty() ? "" : separator) + part;
    return text;
}

// A count and the first few things it counted, which a report names; the rest it only counts.
struct Listed {
    static constexpr std::size_t kNamed = 10;
    std::uint64_t count = 0;
    std::vector<std::string> first;
    void add(std::string what) {
        if (first.size() < kNamed) first.push_back(std::move(what));
        ++count;
    }
};

}  // namespace sluice::engine
