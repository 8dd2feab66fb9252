// PostgreSQL connection strings: libpq's own parser (PQconninfoParse) decides what a string means
// and which of its values are secret (libpq marks them with dispchar "*"). Only a string libpq
// cannot parse is read by hand, and then everything that might be a password is hidden:
// over-redacting is harmless, under-redacting leaks.
#include "config/connection_string.h"

#include "config/common.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace sluice::config {

namespace {

using Options = std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)>;

bool blank(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string trim(const std::string& text) {
    const auto first = std::find_if_not(text.begin(), text.end(), blank);
    const auto last = std::find_if_not(text.rbegin(), text.rend(), blank).base();
    return first < last ? std::string(first, last) : std::string{};
}

[[noreturn]] void fail(const std::string& label, const std::string& what) {
    throw UsageError(label + ": " + what);
}

std::string lower(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool contains(const std::string& text, const char* part) {
    return text.find(part) != std::string::npos;
}

// A value wrapped whole in matching quotes, as `docker run --env-file` and some .env loaders keep
// them. No libpq string starts with a quote (a keyword comes first), so unwrapping cannot misread one.
std::string unquote(const std::string& text) {
    const bool wrapped =
        text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front();
    return wrapped ? trim(text.substr(1, text.size() - 2)) : text;
}

// ---- libpq's verdict ------------------------------------------------------------------------

struct Parsed {
    Options options{nullptr, PQconninfoFree};
    std::string error;  // libpq's complaint when options is null
};

Parsed parse_conninfo(const std::string& conninfo) {
    char* error = nullptr;
    Parsed parsed;
    parsed.options.reset(PQconninfoParse(conninfo.c_str(), &error));
    if (!parsed.options) parsed.error = error ? trim(error) : "out of memory";
    PQfreemem(error);
    return parsed;
}

// libpq's keywords, each with whether libpq marks it secret (password, sslpassword).
const std::map<std::string, bool>& libpq_keywords() {
    static const std::map<std::string, bool> keywords = [] {
        std::map<std::string, bool> out;
        const Parsed all = parse_conninfo("");  // every option, none set, no environment read
        for (const PQconninfoOption* o = all.options.get(); o && o->keyword; ++o)
            out[o->keyword] = o->dispchar && std::strchr(o->dispchar, '*');
        return out;
    }();
    return keywords;
}

// A key that is, or may be meant as, a password's, however it is spelt: PASSWORD, Password,
// pass%77ord, Npgsql's Pwd and Psw, libpq's sslpassword.
bool password_like(const std::string& key) {
    const std::string k = lower(percent_decode(trim(key)));
    const auto known = libpq_keywords().find(k);
    return contains(k, "pass") || contains(k, "pwd") || contains(k, "psw") ||
           (known != libpq_keywords().end() && known->second);
}

// A libpq keyword whose value may be shown (dbname aside: it may itself be a URL with a password).
bool safe_keyword(const std::string& key) {
    const auto known = libpq_keywords().find(key);
    return known != libpq_keywords().end() && !known->second && key != "dbname";
}

// ---- URLs -----------------------------------------------------------------------------------

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

// The user:password region of a URL, ending at its last '@' so that an unencoded '@' in the
// password is covered too.
std::pair<std::size_t, std::size_t> url_password_span(const std::string& url) {
    const std::size_t start = url.find("://") + 3, at = url.rfind('@');
    const std::size_t colon = url.find(':', start);
    if (at == std::string::npos || at < start || colon > at) return {std::string::npos, 0};
    return {colon + 1, at - colon - 1};
}

// libpq ends the user:password part at the first '@' or '/', so either inside the password
// splits the URL in the wrong place, and may put fragments of the password into host or port.
bool password_splits_url(const std::string& url) {
    const auto [start, length] = url_password_span(url);
    if (start == std::string::npos) return false;
    const std::string password = url.substr(start, length);
    const std::size_t slash = password.find('/');
    const bool port_then_path = slash != std::string::npos && slash > 0 &&  // "host:5432/db?x=a@b"
                                std::all_of(password.begin(), password.begin() + slash,
                                            [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    return password.find('@') != std::string::npos || (slash != std::string::npos && !port_then_path);
}

// A URL libpq cannot parse: the user:password part hidden, and every query value but those of
// libpq's plain keywords; from a password-like parameter on, the whole rest of the query.
std::string redact_url_by_hand(std::string url) {
    if (const auto [start, length] = url_password_span(url); start != std::string::npos)
        url.replace(start, length, "***");
    const std::size_t query = url.find('?');
    if (query == std::string::npos) return url;
    std::string out = url.substr(0, query + 1);
    for (std::size_t at = query + 1; at < url.size();) {
        const std::size_t end = std::min(url.find('&', at), url.size());
        const std::string param = url.substr(at, end - at), key = param.substr(0, param.find('='));
        out += at > query + 1 ? "&" : "";
        if (password_like(key)) return out + key + "=***";
        if (key.size() == param.size()) {  // no '=': may be a piece of a value
            out += "***";
        } else {
            out += key + "=" + (safe_keyword(percent_decode(key)) ? param.substr(key.size() + 1) : "***");
        }
        at = end + 1;
    }
    return out;
}

// ---- keyword strings ------------------------------------------------------------------------

std::size_t skip_blanks(const std::string& s, std::size_t i) {
    while (i < s.size() && blank(s[i]))
        ++i;
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

// A keyword string libpq cannot parse: values shown only for libpq's plain keywords, and from the
// first password-like key on, nothing: a malformed password's stray words may look like anything.
std::string redact_keywords_by_hand(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t key = skip_blanks(s, i);
        std::size_t equals = key;
        while (equals < s.size() && s[equals] != '=' && !blank(s[equals]))
            ++equals;
        std::size_t value = skip_blanks(s, equals);
        if (value == s.size() || s[value] != '=') {  // a word without a value: copied, then on
            out += s.substr(i, equals - i);
            i = equals;
            continue;
        }
        const std::string name = s.substr(key, equals - key);
        if (password_like(name)) return out + s.substr(i, value + 1 - i) + "***";
        value = skip_blanks(s, value + 1);
        const std::size_t end = value_end(s, value);
        out += s.substr(i, value - i) + (safe_keyword(name) ? s.substr(value, end - value) : "***");
        i = end;
    }
    return out;
}

// What libpq parsed, as a keyword string with its secret values replaced by "***".
std::string redact_parsed(const PQconninfoOption* options) {
    std::string out;
    for (const PQconninfoOption* o = options; o->keyword; ++o) {
        if (!o->val || !*o->val) continue;
        std::string value = o->val;
        if (o->dispchar && std::strchr(o->dispchar, '*')) {
            value = "***";
        } else if (std::strcmp(o->keyword, "dbname") == 0 && (contains(value, "=") || contains(value, "://"))) {
            value = redact_password(value);  // a shorter string each time: the recursion ends
        }
        out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + keyword_value(value, false);
    }
    return out;
}

// ---- Npgsql / ADO.NET strings ----------------------------------------------------------------

struct Pair {
    std::string key, value;
};

// Npgsql's key spellings (case, spaces and underscores aside) and libpq's keyword for each.
const std::map<std::string, std::string>& npgsql_keys() {
    static const std::map<std::string, std::string> keys{{"host", "host"},
                                                         {"server", "host"},
                                                         {"port", "port"},
                                                         {"username", "user"},
                                                         {"user", "user"},
                                                         {"userid", "user"},
                                                         {"uid", "user"},
                                                         {"password", "password"},
                                                         {"pwd", "password"},
                                                         {"psw", "password"},
                                                         {"database", "dbname"},
                                                         {"db", "dbname"},
                                                         {"sslmode", "sslmode"},
                                                         {"timeout", "connect_timeout"},
                                                         {"applicationname", "application_name"}};
    return keys;
}

std::string npgsql_key(const std::string& key) {
    std::string k;
    for (char c : lower(key))
        if (c != ' ' && c != '_') k += c;
    return k;
}

bool identifier_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// libpq's "key=value key=value" inside a value: then the string is libpq's, not Npgsql's.
bool holds_keyword_pair(const std::string& value) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (!blank(value[i]) || i + 1 >= value.size() || !identifier_start(value[i + 1])) continue;
        std::size_t j = i + 1;
        while (j < value.size() && (std::isalnum(static_cast<unsigned char>(value[j])) || value[j] == '_'))
            ++j;
        if (skip_blanks(value, j) < value.size() && value[skip_blanks(value, j)] == '=') return true;
    }
    return false;
}

// The pairs of "Key=Value;Key='Va;lue'" (a quoted value doubles its quote to hold one), or nothing
// when the string is not of that shape: no ';', a key that is not a word, a value that holds libpq's
// key=value, or no key Npgsql knows.
std::optional<std::vector<Pair>> npgsql_pairs(const std::string& s) {
    if (!url_scheme(s).empty() || s.find(';') == std::string::npos) return std::nullopt;
    std::vector<Pair> pairs;
    bool any_known = false;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t equals = s.find('=', i), semicolon = s.find(';', i);
        if (semicolon < equals || equals == std::string::npos) {  // an empty segment, or a word without '='
            if (!trim(s.substr(i, std::min(semicolon, s.size()) - i)).empty()) return std::nullopt;
            i = std::min(semicolon, s.size()) + 1;
            continue;
        }
        Pair pair{trim(s.substr(i, equals - i)), {}};
        const bool word = !pair.key.empty() && identifier_start(pair.key[0]) &&
                          std::all_of(pair.key.begin(), pair.key.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '_';
                          });
        // A key with a space must be one Npgsql knows ("User Id"): "password=a;b host=h" is libpq's.
        const bool known = npgsql_keys().count(npgsql_key(pair.key)) > 0;
        if (!word || (pair.key.find(' ') != std::string::npos && !known)) return std::nullopt;
        std::size_t at = skip_blanks(s, equals + 1);
        if (at < s.size() && (s[at] == '\'' || s[at] == '"')) {
            const char quote = s[at];
            for (++at; at < s.size(); ++at) {
                if (s[at] == quote && (at + 1 >= s.size() || s[at + 1] != quote)) break;
                if (s[at] == quote) ++at;  // a doubled quote is one quote
                pair.value += s[at];
            }
            if (at >= s.size()) return std::nullopt;  // no closing quote
            at = skip_blanks(s, at + 1);
            if (at < s.size() && s[at] != ';') return std::nullopt;
        } else {
            const std::size_t end = std::min(s.find(';', at), s.size());
            pair.value = trim(s.substr(at, end - at));
            if (holds_keyword_pair(pair.value)) return std::nullopt;
            at = end;
        }
        any_known = any_known || known;
        pairs.push_back(std::move(pair));
        i = at + 1;
    }
    if (!any_known) return std::nullopt;
    return pairs;
}

std::string npgsql_sslmode(const std::string& value) {
    static const std::map<std::string, std::string> modes{{"disable", "disable"},    {"allow", "allow"},
                                                          {"prefer", "prefer"},      {"require", "require"},
                                                          {"verifyca", "verify-ca"}, {"verifyfull", "verify-full"}};
    const auto mode = modes.find(npgsql_key(value));
    return mode == modes.end() ? value : mode->second;  // anything else: libpq refuses it by name
}

std::string from_npgsql(const std::string& label, const std::vector<Pair>& pairs) {
    std::string out;
    bool after_password = false;
    for (const Pair& pair : pairs) {
        const auto key = npgsql_keys().find(npgsql_key(pair.key));
        if (key == npgsql_keys().end()) {
            // A key after the password may be a piece of it (an unquoted ';' inside): not named then.
            const std::string which = after_password ? "a key after the password" : "the key '" + pair.key + "'";
            fail(label, "an Npgsql-style string (Key=Value;...) with " + which +
                            ", which sluice does not convert; write it as a libpq keyword string "
                            "(host=H port=5432 user=U password=P dbname=D) or URL (quote a password that holds "
                            "';' as Password='a;b')");
        }
        after_password = after_password || key->second == "password";
        const std::string value = key->second == "sslmode" ? npgsql_sslmode(pair.value) : pair.value;
        out += (out.empty() ? "" : " ") + key->second + "=" + keyword_value(value, true);
    }
    return out;
}

std::string redact_npgsql(const std::vector<Pair>& pairs) {
    std::string out;
    for (const Pair& pair : pairs) {
        if (password_like(pair.key)) return out + pair.key + "=***";
        const auto key = npgsql_keys().find(npgsql_key(pair.key));
        const bool shown = key != npgsql_keys().end() && safe_keyword(key->second);
        out += pair.key + "=" + (shown ? pair.value : "***") + ";";
    }
    return out;
}

// "(libpq's keywords are lower-case: write password=)" when libpq's complaint is a keyword in the wrong case.
std::string keyword_case_hint(const std::string& error) {
    for (const char* lead : {"invalid connection option \"", "invalid URI query parameter: \""}) {
        if (error.rfind(lead, 0) != 0) continue;
        const std::size_t start = std::strlen(lead), end = error.find('"', start);
        const std::string key = lower(percent_decode(error.substr(start, end - start)));
        if (end != std::string::npos && libpq_keywords().count(key))
            return " (libpq's keywords are lower-case: write " + key + "=)";
    }
    return {};
}

}  // namespace

std::string redact_password(const std::string& conninfo) {
    const std::string text = unquote(trim(conninfo));
    if (const auto pairs = npgsql_pairs(text)) return redact_npgsql(*pairs);
    const std::string s = strip_driver(text);
    // libpq would read a password's unencoded '@' or '/' as the start of the host: read by hand then.
    if (!url_scheme(s).empty() && password_splits_url(s)) return redact_url_by_hand(s);
    if (const Parsed parsed = parse_conninfo(s); parsed.options) return redact_parsed(parsed.options.get());
    return url_scheme(s).empty() ? redact_keywords_by_hand(s) : redact_url_by_hand(s);
}

std::string checked_connection_string(const std::string& label, const std::string& text) {
    std::string conninfo = strip_driver(unquote(trim(text)));
    if (conninfo.empty()) fail(label, "empty value; pass a PostgreSQL URL such as postgresql://user@host/db");
    const std::string scheme = url_scheme(conninfo);
    if (scheme.rfind("sqlite", 0) == 0)
        fail(label, "a SQLite URL; sluice migrates PostgreSQL only: point it at a PostgreSQL database");
    if (!scheme.empty() && scheme != "postgresql" && scheme != "postgres")
        fail(label, scheme + ":// URLs are not supported; sluice migrates PostgreSQL only (postgresql://...)");
    if (const auto pairs = npgsql_pairs(conninfo)) conninfo = from_npgsql(label, *pairs);
    const std::string encode = "percent-encode its special characters (@ as %40, / as %2F, % as %25)";
    if (!scheme.empty() && password_splits_url(conninfo))
        fail(label, "the password in the URL holds an unencoded '@' or '/'; " + encode);
    if (parse_conninfo(conninfo).options) return conninfo;
    // libpq may quote a fragment of a malformed password, so only its verdict on the redacted
    // string is shown, and the string itself never is.
    const Parsed redacted = parse_conninfo(redact_password(conninfo));
    if (!redacted.options)
        fail(label, "not a valid connection string: " + redacted.error + keyword_case_hint(redacted.error));
    fail(label, "the password (or what follows it) is malformed; " +
                    (scheme.empty() ? std::string("quote it, as in password='se cret'") : encode));
}

std::string percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string keyword_value(const std::string& value, bool always_quote) {
    const bool plain = !always_quote && !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
        return blank(c) || c == '\'' || c == '\\';
    });
    if (plain) return value;
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace sluice::config
