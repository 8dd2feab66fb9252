// Open WebUI's split DATABASE_* variables: joined into a URL as Open WebUI's env.py joins them,
// that URL parsed as SQLAlchemy's make_url parses it (the regular expression of
// sqlalchemy/engine/url.py), and what Open WebUI would connect with handed to libpq as keywords.
// A value the URL cannot carry (Open WebUI would connect elsewhere, or not at all) is refused.
#include "config/open_webui_database.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>

#include "config/connection_string.h"

namespace sluice::config {

const std::vector<std::string> kOpenWebUIDatabaseVariables{"DATABASE_TYPE", "DATABASE_USER", "DATABASE_PASSWORD",
                                                           "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"};

namespace {

struct Variables {
    std::string type, user, password, host, port, name;
};

// os.environ.get(): unset and empty are alike, both false in env.py's tests.
Variables read(const Environment& env) {
    auto get = [&](const char* name) { return env(name).value_or(""); };
    return {get("DATABASE_TYPE"), get("DATABASE_USER"), get("DATABASE_PASSWORD"),
            get("DATABASE_HOST"), get("DATABASE_PORT"), get("DATABASE_NAME")};
}

// env.py: all((type, user[:password], host, port, name)).
bool complete(const Variables& v) {
    return !v.type.empty() && !(v.user.empty() && v.password.empty()) && !v.host.empty() && !v.port.empty() &&
           !v.name.empty();
}

[[noreturn]] void fail(const std::string& what) {
    throw UsageError("Open WebUI's DATABASE_* variables: " + what);
}

// env.py's f"{type}://{cred}@{host}:{port}/{name}", then .replace("postgres://", "postgresql://").
std::string open_webui_url(const Variables& v) {
    std::string url = v.type + "://" + v.user + (v.password.empty() ? "" : ":" + v.password) + "@" + v.host + ":" +
                      v.port + "/" + v.name;
    const std::string from = "postgres://", to = "postgresql://";
    for (std::size_t at = 0; (at = url.find(from, at)) != std::string::npos; at += to.size())
        url.replace(at, from.size(), to);
    return url;
}

struct UrlParts {
    std::string scheme, username, password, host, port, database, query;
    bool bracketed = false;
};

// SQLAlchemy's URL pattern (sqlalchemy/engine/url.py, _parse_url), matched from the start.
std::optional<UrlParts> sqlalchemy_parse(const std::string& url) {
    static const std::regex pattern(R"(^([\w+]+)://)"                                    // name
                                    R"((?:([^:/]*)(?::([^@]*))?@)?)"                     // username, password
                                    R"((?:(?:\[([^/?]+)\]|([^/:?]+))?(?::([^/?]*))?)?)"  // ipv6host, ipv4host, port
                                    R"((?:/([^?]*))?(?:\?(.*))?)");                      // database, query
    std::smatch m;
    if (!std::regex_search(url, m, pattern)) return std::nullopt;
    UrlParts p;
    p.scheme = m[1];
    p.username = m[2];
    p.password = m[3];
    p.bracketed = m[4].matched;
    p.host = p.bracketed ? m[4].str() : m[5].str();
    p.port = m[6];
    p.database = m[7];
    p.query = m[8];
    return p;
}

void check_scheme(const Variables& v, const UrlParts& p) {
    const std::string backend = p.scheme.substr(0, p.scheme.find('+'));
    if (backend.rfind("sqlite", 0) == 0)
        fail("DATABASE_TYPE '" + v.type + "' is SQLite; sluice migrates PostgreSQL only");
    if (backend == "postgres")  // "postgres+psycopg2://" is not replaced, and SQLAlchemy has no "postgres"
        fail("DATABASE_TYPE '" + v.type +
             "': SQLAlchemy, which Open WebUI uses, knows no 'postgres' with a driver; "
             "write postgresql+" +
             p.scheme.substr(p.scheme.find('+') + 1));
    if (backend != "postgresql")
        fail("DATABASE_TYPE '" + v.type + "' is not PostgreSQL; sluice migrates PostgreSQL only (postgresql)");
}

// Each variable must come back from the URL as it went in: else Open WebUI itself reads another
// user, host or port than the one meant. The password is never shown.
void check_round_trip(const Variables& v, const UrlParts& p) {
    const std::string encode = ": percent-encode it in the variable (Open WebUI decodes %XX there, and so does sluice)";
    if (p.username != v.user)
        fail("DATABASE_USER holds a ':' or '/', which Open WebUI's URL cannot carry as it is" + encode);
    if (p.password != v.password)
        fail(
            "DATABASE_PASSWORD holds an '@', which ends the password in Open WebUI's URL (the rest would be "
            "read as the host)" +
            encode + ", as %40");
    const bool bracketed = v.host.size() > 2 && v.host.front() == '[' && v.host.back() == ']';
    if (p.bracketed != bracketed || p.host != (bracketed ? v.host.substr(1, v.host.size() - 2) : v.host))
        fail(
            "DATABASE_HOST holds a '/', ':', '?' or '@' that Open WebUI's URL cannot carry (an IPv6 address goes "
            "in brackets: [::1])");
    const bool digits = !p.port.empty() && std::all_of(p.port.begin(), p.port.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    if (p.port != v.port || !digits) fail("DATABASE_PORT '" + v.port + "' is not a port number");
}

// Python's parse_qsl: pairs split at '&', '+' as a space, %XX decoded, pairs without a value left out.
std::string query_keywords(const std::string& query) {
    std::string out;
    std::size_t start = 0;
    while (start <= query.size() && !query.empty()) {
        const std::size_t end = std::min(query.find('&', start), query.size());
        const std::string pair = query.substr(start, end - start);
        const std::size_t equals = pair.find('=');
        if (equals != std::string::npos && equals + 1 < pair.size()) {
            auto decoded = [](std::string s) {
                std::replace(s.begin(), s.end(), '+', ' ');
                return percent_decode(s);
            };
            const std::string key = decoded(pair.substr(0, equals));
            const bool keyword = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
                return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                       c == '_';
            });
            if (!keyword)
                fail("DATABASE_NAME's query holds '" + key + "', which is not a libpq keyword (sslmode, ...)");
            out += " " + key + "=" + keyword_value(decoded(pair.substr(equals + 1)), true);
        }
        start = end + 1;
    }
    return out;
}

}  // namespace

std::optional<std::string> open_webui_database(const Environment& env) {
    const Variables v = read(env);
    if (!complete(v)) return std::nullopt;
    const std::optional<UrlParts> parts = sqlalchemy_parse(open_webui_url(v));
    if (!parts) fail("DATABASE_TYPE '" + v.type + "' is not a URL scheme; write postgresql");
    check_scheme(v, *parts);
    check_round_trip(v, *parts);
    // SQLAlchemy decodes the user and the password; psycopg2 gets every non-empty part as a keyword.
    std::string conninfo = "host=" + keyword_value(parts->host, true) + " port=" + keyword_value(parts->port, true);
    if (!parts->username.empty()) conninfo += " user=" + keyword_value(percent_decode(parts->username), true);
    if (!parts->password.empty()) conninfo += " password=" + keyword_value(percent_decode(parts->password), true);
    if (!parts->database.empty()) conninfo += " dbname=" + keyword_value(parts->database, true);
    return conninfo + query_keywords(parts->query);
}

std::vector<std::string> missing_open_webui_database_variables(const Environment& env) {
    const Variables v = read(env);
    const bool any = !(v.type + v.user + v.password + v.host + v.port + v.name).empty();
    if (!any || complete(v)) return {};
    std::vector<std::string> missing;
    if (v.type.empty()) missing.push_back("DATABASE_TYPE");
    if (v.user.empty() && v.password.empty()) missing.push_back("DATABASE_USER or DATABASE_PASSWORD");
    if (v.host.empty()) missing.push_back("DATABASE_HOST");
    if (v.port.empty()) missing.push_back("DATABASE_PORT");
    if (v.name.empty()) missing.push_back("DATABASE_NAME");
    return missing;
}

}  // namespace sluice::config
