// Python's comparisons between json.loads values. Numbers are compared as Python compares
// int and float: exactly, whatever their size (an int of any length against a double).
#include "stages/current_message/python_compare.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "stages/shared/json_literal.h"

namespace sluice::stages::current_message {

namespace {

Kind kind_of(const Blob& blob, std::uint32_t v) {
    return v == kNone ? Kind::null : blob.node(v).kind;
}

bool is_numeric(Kind k) {
    return k == Kind::number || k == Kind::boolean;
}

// A json.loads number: an int (sign and digits, exact) or a float (a double).
struct Number {
    bool is_int = true;
    bool negative = false;
    std::string_view digits;  // an int's digits, without leading zeros ("0" for zero)
    double value = 0;         // a float's value
};

Number number_of(const Node& n) {
    Number x;
    if (n.kind == Kind::boolean) {
        x.digits = n.truth ? "1" : "0";
        return x;
    }
    const std::string_view t = n.text;
    if (t.find_first_of(".eEIN") != std::string_view::npos) {  // I, N: Infinity, NaN
        x.is_int = false;
        x.value = t == "NaN"         ? std::nan("")
                  : t == "Infinity"  ? HUGE_VAL
                  : t == "-Infinity" ? -HUGE_VAL
                                     : std::strtod(n.text.c_str(), nullptr);
        return x;
    }
    x.negative = t[0] == '-';
    x.digits = t.substr(x.negative ? 1 : 0);
    if (x.digits == "0") x.negative = false;  // -0 is the int 0
    return x;
}

int sign(int c) {
    return (c > 0) - (c < 0);
}

// Compares two exact integers given as sign and digits.
int compare_ints(bool a_neg, std::string_view a, bool b_neg, std::string_view b) {
    if (a_neg != b_neg) return a_neg ? -1 : 1;
    int c = a.size() != b.size() ? (a.size() < b.size() ? -1 : 1) : sign(a.compare(b));
    return a_neg ? -c : c;
}

// Compares the int `a` with the finite double `d` exactly: with d's integral part, written out
// in full (glibc prints a double's exact value), and then its fraction.
int compare_int_double(const Number& a, double d) {
    const double whole = std::trunc(d);
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.0f", std::fabs(whole));
    const bool neg = whole < 0;
    const int c = compare_ints(a.negative, a.digits, neg, buf);
    if (c != 0) return c;
    const double frac = d - whole;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

// -1, 0, 1; nullopt when a NaN makes them unordered.
std::optional<int> compare_numbers(const Number& a, const Number& b) {
    if (a.is_int && b.is_int) return compare_ints(a.negative, a.digits, b.negative, b.digits);
    if (!a.is_int && !b.is_int) {
        if (std::isnan(a.value) || std::isnan(b.value)) return std::nullopt;
        return (a.value > b.value) - (a.value < b.value);
    }
    const Number& i = a.is_int ? a : b;
    const double d = a.is_int ? b.value : a.value;
    if (std::isnan(d)) return std::nullopt;
    int c = std::isinf(d) ? (d > 0 ? -1 : 1) : compare_int_double(i, d);
    return a.is_int ? c : -c;
}

bool is_nan(const Node& n) {
    return n.kind == Kind::number && n.text == "NaN";
}

// The kept children of a list, in order.
void elements(const Blob& blob, std::uint32_t list, std::vector<std::uint32_t>& out) {
    out.clear();
    for (std::uint32_t c = blob.node(list).first; c != kNone; c = blob.node(c).next)
        out.push_back(c);
}

}  // namespace

bool py_truthy(const Blob& blob, std::uint32_t v) {
    if (v == kNone) return false;
    const Node& n = blob.node(v);
    switch (n.kind) {
        case Kind::null:
            return false;
        case Kind::boolean:
            return n.truth;
        case Kind::number:
            return n.text == "NaN" || scan::number_is_truthy(n.text);
        case Kind::string:
            return !n.text.empty();
        default:
            return n.count > 0;
    }
}

bool py_hashable(const Blob& blob, std::uint32_t v) {
    const Kind k = kind_of(blob, v);
    return k != Kind::array && k != Kind::object;
}

const char* py_type_name(const Blob& blob, std::uint32_t v) {
    if (v == kNone) return "NoneType";
    const Node& n = blob.node(v);
    switch (n.kind) {
        case Kind::null:
            return "NoneType";
        case Kind::boolean:
            return "bool";
        case Kind::number:
            return number_of(n).is_int ? "int" : "float";
        case Kind::string:
            return "str";
        case Kind::array:
            return "list";
        default:
            return "dict";
    }
}

bool py_equal(const Blob& blob, std::uint32_t a, std::uint32_t b) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> todo{{a, b}};  // a stack: any depth
    std::vector<std::uint32_t> left, right;
    while (!todo.empty()) {
        auto [x, y] = todo.back();
        todo.pop_back();
        const Kind kx = kind_of(blob, x), ky = kind_of(blob, y);
        if (is_numeric(kx) || is_numeric(ky)) {
            if (!is_numeric(kx) || !is_numeric(ky)) return false;
            if (is_nan(blob.node(x)) && is_nan(blob.node(y))) continue;  // the one NaN object
            if (compare_numbers(number_of(blob.node(x)), number_of(blob.node(y))) != 0) return false;
            continue;
        }
        if (kx != ky) return false;
        if (kx == Kind::string && blob.node(x).text != blob.node(y).text) return false;
        if (kx == Kind::array) {
            if (blob.node(x).count != blob.node(y).count) return false;
            elements(blob, x, left);
            elements(blob, y, right);
            for (std::size_t i = 0; i < left.size(); ++i)
                todo.emplace_back(left[i], right[i]);
        }
        if (kx == Kind::object) {  // dicts: the same keys, equal values, in any order
            blob.dict_items(x, left);
            blob.dict_items(y, right);
            if (left.size() != right.size()) return false;
            for (std::uint32_t l : left) {
                const std::uint32_t r = blob.get(y, blob.node(l).key);
                if (r == kNone) return false;
                todo.emplace_back(l, r);
            }
        }
    }
    return true;
}

bool py_greater(const Blob& blob, std::uint32_t a, std::uint32_t b, std::string& error) {
    std::vector<std::uint32_t> left, right;
    for (;;) {  // lists: down to their first unequal elements, without recursion
        const Kind ka = kind_of(blob, a), kb = kind_of(blob, b);
        if (is_numeric(ka) && is_numeric(kb))
            return compare_numbers(number_of(blob.node(a)), number_of(blob.node(b))).value_or(0) > 0;
        if (ka == Kind::string && kb == Kind::string) return blob.node(a).text > blob.node(b).text;
        if (ka != Kind::array || kb != Kind::array) {
            error = std::string("'>' not supported between instances of '") + py_type_name(blob, a) + "' and '" +
                    py_type_name(blob, b) + "'";
            return false;
        }
        elements(blob, a, left);
        elements(blob, b, right);
        std::size_t i = 0;
        while (i < left.size() && i < right.size() && py_equal(blob, left[i], right[i]))
            ++i;
        if (i == left.size() || i == right.size()) return left.size() > right.size();
        a = left[i];
        b = right[i];
    }
}

}  // namespace sluice::stages::current_message
