// PostgreSQL connection strings: a --db value is checked with libpq's own parser, and every copy
// that may reach a message or a log is redacted first.
#include "config/connection_string.h"

#include "config/run_config.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace sluice::config {
namespace {

bool blank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string trim(const std::string& text) {
    const auto first = std::find_if_not(text.begin(), text.end(), blank);
    const auto last = std::find_if_not(text.rbegin(), text.rend(), blank).base();
    return first < last ? std::string(first, last) : std::string{};
}

[[noreturn]] void fail(const std::string& label, const std::string& what) {
    throw UsageError(label + ": " + what);
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// The lower-case scheme of "scheme://...", or empty when conninfo is a keyword string.
std::string url_scheme(const std::string& conninfo) {
    const std::size_t end = conninfo.find("://");
    if (end == std::string::npos || end == 0) return {};
    const bool scheme_chars = std::all_of(conninfo.begin(), conninfo.begin() + end, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
    return scheme_chars ? lower(conninfo.substr(0, end)) : std::string{};
}

// SQLAlchemy's "postgresql+psycopg2://" (as in Open WebUI's DATABASE_URL) is "postgresql://" to libpq.
std::string strip_driver(const std::string& url) {
    const std::size_t plus = url.find('+'), scheme_end = url.find("://");
    if (url_scheme(url).empty() || plus > scheme_end) return url;
    return url.substr(0, plus) + url.substr(scheme_end);
}

// libpq's complaint about conninfo, or nothing when it parses.
std::optional<std::string> conninfo_error(const std::string& conninfo) {
    char* error = nullptr;
    if (PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error)) {
        PQconninfoFree(options);
        return std::nullopt;
    }
    std::string message = error ? trim(error) : "out of memory";
    PQfreemem(error);
    return message;
}

// The user:password region of a URL, ending at its last '@' so that an unencoded '@' in the
// password is covered too: over-redacting is harmless, under-redacting leaks.
std::pair<std::size_t, std::size_t> url_password_span(const std::string& url) {
    const std::size_t start = url.find("://") + 3, at = url.rfind('@');
    const std::size_t colon = url.find(':', start);
    if (at == std::string::npos || at < start || colon > at) return {std::string::npos, 0};
    return {colon + 1, at - colon - 1};
}

std::string redact_url(std::string url) {
    if (const auto [start, length] = url_password_span(url); start != std::string::npos)
        url.replace(start, length, "***");
    // libpq also takes the password as a query parameter.
    for (std::size_t key = url.find('?'); key != std::string::npos; key = url.find('&', key + 1)) {
        if (url.compare(key + 1, 9, "password=") != 0) continue;
        const std::size_t value = key + 10, end = std::min(url.find('&', value), url.size());
        url.replace(value, end - value, "***");
    }
    return url;
}

std::size_t skip_blanks(const std::string& s, std::size_t i) {
    while (i < s.size() && blank(s[i])) ++i;
    return i;
}

// Where a keyword value starting at i ends, read as libpq reads it: at the closing quote, or at
// a blank when bare, with backslash escapes either way.
std::size_t value_end(const std::string& s, std::size_t i) {
    const bool quoted = i < s.size() && s[i] == '\'';
    for (i += quoted; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (quoted ? s[i] == '\'' : blank(s[i])) {
            return i + quoted;
        }
    }
    return s.size();
}

// libpq ends a bare value at a blank, but a bare password's stray words up to the next
// keyword= were meant as part of it: redacted too, so a malformed string cannot leak its tail.
std::size_t password_end(const std::string& s, std::size_t value) {
    for (std::size_t end = value_end(s, value);;) {
        const std::size_t next = skip_blanks(s, end);
        std::size_t word = next;
        while (word < s.size() && s[word] != '=' && !blank(s[word])) ++word;
        const std::size_t after = skip_blanks(s, word);
        if (next == s.size() || (after < s.size() && s[after] == '=')) return end;
        end = word;
    }
}

std::string redact_keywords(const std::string& conninfo) {
    std::string out;
    for (std::size_t i = 0; i < conninfo.size();) {
        const std::size_t key = skip_blanks(conninfo, i);
        std::size_t equals = key;
        while (equals < conninfo.size() && conninfo[equals] != '=' && !blank(conninfo[equals])) ++equals;
        const bool password = conninfo.compare(key, equals - key, "password") == 0;
        std::size_t value = skip_blanks(conninfo, equals);
        if (value == conninfo.size() || conninfo[value] != '=') {  // malformed: copy the word, go on
            out += conninfo.substr(i, equals - i);
            i = equals;
            continue;
        }
        value = skip_blanks(conninfo, value + 1);
        const std::size_t end = password ? password_end(conninfo, value) : value_end(conninfo, value);
        const std::string text = conninfo.substr(value, end - value);
        out += conninfo.substr(i, value - i);
        // dbname may itself be a URL, with a password inside.
        out += password ? "***" : text.find("://") != std::string::npos ? redact_url(text) : text;
        i = end;
    }
    return out;
}

// libpq ends the user:password part at the first '@' or '/', so either inside the password
// splits the URL in the wrong place, and may put fragments of the password into host or port.
bool password_splits_url(const std::string& url) {
    const auto [start, length] = url_password_span(url);
    if (start == std::string::npos) return false;
    const std::string password = url.substr(start, length);
    const std::size_t slash = password.find('/');
    const bool port_then_path = slash != std::string::npos && slash > 0 &&  // "host:5432/db?x=a@b"
                                std::all_of(password.begin(), password.begin() + slash, [](char c) {
                                    return std::isdigit(static_cast<unsigned char>(c));
                                });
    return password.find('@') != std::string::npos || (slash != std::string::npos && !port_then_path);
}

}  // namespace

std::string redact_password(const std::string& conninfo) {
    return url_scheme(conninfo).empty() ? redact_keywords(conninfo) : redact_url(conninfo);
}

std::string checked_connection_string(const std::string& label, const std::string& text) {
    const std::string url = strip_driver(trim(text));
    if (url.empty()) fail(label, "empty value; pass a PostgreSQL URL such as postgresql://user@host/db");
    const std::string shown = "'" + redact_password(url) + "'", scheme = url_scheme(url);
    if (scheme.rfind("sqlite", 0) == 0)
        fail(label, shown + " is SQLite; sluice migrates PostgreSQL only: point it at a PostgreSQL database");
    if (!scheme.empty() && scheme != "postgresql" && scheme != "postgres")
        fail(label,
             scheme + ":// URLs are not supported; sluice migrates PostgreSQL only (postgresql://...)");
    const std::string encode = "percent-encode its special characters (@ as %40, / as %2F, % as %25)";
    if (!scheme.empty() && password_splits_url(url))
        fail(label, "the password in " + shown + " holds an unencoded '@' or '/'; " + encode);
    if (!conninfo_error(url)) return url;
    // libpq may quote a fragment of a malformed password, so only its verdict on the redacted string is
    // shown.
    if (const auto error = conninfo_error(redact_password(url)))
        fail(label, shown + " is not a valid connection string: " + *error);
    fail(label, "the password in " + shown + " is malformed; " +
                    (scheme.empty() ? "quote it, as in password='se cret'" : encode));
}

}  // namespace sluice::config
