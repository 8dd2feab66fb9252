// Rows whose large values may lie outside their buffer: the pieces to send, a tuple read back.
#include "engine/batch.h"

#include <algorithm>
#include <stdexcept>

namespace sluice::engine {

namespace {
// The first value outside at or after `at`.
std::vector<Rows::Outside>::const_iterator first_outside(const std::vector<Rows::Outside>& outside, std::size_t at) {
    return std::lower_bound(outside.begin(), outside.end(), at,
                            [](const Rows::Outside& o, std::size_t offset) { return o.at < offset; });
}
}  // namespace

std::vector<std::string_view> Rows::pieces(std::size_t first, std::size_t last) const {
    const std::size_t to = start(last);
    std::size_t from = start(first);
    std::vector<std::string_view> out;
    for (auto o = first_outside(outside, from); o != outside.end() && o->at < to; ++o) {
        out.push_back(std::string_view(tuples).substr(from, o->at - from));
        out.push_back(o->bytes);
        from = o->at;
    }
    out.push_back(std::string_view(tuples).substr(from, to - from));
    return out;
}

std::string_view Rows::tuple(std::size_t i, std::string& storage) const {
    std::vector<std::string_view> parts = pieces(i, i + 1);
    if (parts.size() == 1) return parts.front();
    storage.clear();
    for (std::string_view part : parts)
        storage.append(part);
    return storage;
}

std::string_view Rows::tuple(std::size_t i) const {
    const std::size_t from = start(i), to = start(i + 1);
    auto o = first_outside(outside, from);
    if (o != outside.end() && o->at < to) throw std::logic_error("Rows::tuple: a value of this tuple lies outside");
    return std::string_view(tuples).substr(from, to - from);
}

std::string_view Rows::head(std::size_t i) const {
    const std::size_t from = start(i), to = start(i + 1);
    auto o = first_outside(outside, from);
    return std::string_view(tuples).substr(from, (o != outside.end() && o->at < to ? o->at : to) - from);
}

void Rows::clear() {
    tuples.clear();
    starts.clear();
    outside.clear();
}

}  // namespace sluice::engine
