// Open WebUI's split DATABASE_* variables, one case per rule of its env.py (and of SQLAlchemy's
// make_url, which parses the URL env.py joins): which must be set, what the type means, how the
// password is read, what the URL cannot carry; never a password in an error.
#include "config/open_webui_database.h"

#include <doctest/doctest.h>

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <string>

using namespace sluice::config;

namespace {

using Variables = std::map<std::string, std::string>;

const std::string kPassword = "s3cret-Pw";

Variables complete_set() {
    return {{"DATABASE_TYPE", "postgresql"}, {"DATABASE_USER", "owui"}, {"DATABASE_PASSWORD", kPassword},
            {"DATABASE_HOST", "db.example"}, {"DATABASE_PORT", "5432"}, {"DATABASE_NAME", "openwebui"}};
}

Variables with(Variables vars, const std::string& name, const std::string& value) {
    vars[name] = value;
    return vars;
}

Environment environment(const Variables& vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        const auto found = vars.find(name);
        return found == vars.end() ? std::nullopt : std::optional<std::string>(found->second);
    };
}

std::optional<std::string> conninfo(const Variables& vars) {
    return open_webui_database(environment(vars));
}

// What libpq reads from a connection string: keyword -> value.
std::map<std::string, std::string> libpq_reads(const std::string& text) {
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(text.c_str(), nullptr),
                                                                           PQconninfoFree);
    REQUIRE_MESSAGE(options, "libpq cannot parse what was made of the variables");
    std::map<std::string, std::string> values;
    for (const PQconninfoOption* o = options.get(); o->keyword; ++o)
        if (o->val) values[o->keyword] = o->val;
    return values;
}

// The refusal for `vars`, or "(accepted)".
std::string refusal(const Variables& vars) {
    try {
        conninfo(vars);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the variables count only when the type, host, port, name and a user or a password are all set") {
    REQUIRE(conninfo(complete_set()));
    for (const char* name : {"DATABASE_TYPE", "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"}) {
        Variables missing = complete_set();
        missing.erase(name);
        CHECK_MESSAGE(!conninfo(missing), "used without " << name);
        CHECK_MESSAGE(!conninfo(with(complete_set(), name, "")), "an empty " << name << " counted as set");
        const std::vector<std::string> named = missing_open_webui_database_variables(environment(missing));
        CHECK_MESSAGE(named == std::vector<std::string>{name}, "the missing variable is not named");
    }
    Variables no_credentials = complete_set();
    no_credentials.erase("DATABASE_USER");
    no_credentials.erase("DATABASE_PASSWORD");
    CHECK_MESSAGE(!conninfo(no_credentials), "used without a user or a password");
    CHECK(missing_open_webui_database_variables(environment(no_credentials)) ==
          std::vector<std::string>{"DATABASE_USER or DATABASE_PASSWORD"});
    CHECK_MESSAGE(missing_open_webui_database_variables(environment({})).empty(), "none set is not a partial set");
}

TEST_CASE("a user without a password, or a password without a user, is enough, as in env.py") {
    Variables user_only = complete_set();
    user_only.erase("DATABASE_PASSWORD");
    const auto user = libpq_reads(conninfo(user_only).value());
    CHECK(user.at("user") == "owui");
    CHECK_MESSAGE(!user.count("password"), "a password from nowhere");
    Variables password_only = complete_set();
    password_only.erase("DATABASE_USER");
    const auto password = libpq_reads(conninfo(password_only).value());
    CHECK_MESSAGE(!password.count("user"), "an empty user is left to libpq's default, as psycopg2 leaves it");
    CHECK(password.at("password") == kPassword);
}

TEST_CASE("libpq reads the host, port, user, password and database Open WebUI connects to") {
    const auto read = libpq_reads(conninfo(complete_set()).value());
    CHECK(read.at("host") == "db.example");
    CHECK(read.at("port") == "5432");
    CHECK(read.at("user") == "owui");
    CHECK(read.at("password") == kPassword);
    CHECK(read.at("dbname") == "openwebui");
}

TEST_CASE("DATABASE_TYPE is the URL's scheme: postgresql, postgres or postgresql+driver; SQLite and others refused") {
    for (const char* type : {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"})
        CHECK_MESSAGE(conninfo(with(complete_set(), "DATABASE_TYPE", type)), type << " was not taken as PostgreSQL");
    for (const char* type : {"sqlite", "sqlite+sqlcipher"})
        CHECK_MESSAGE(contains(refusal(with(complete_set(), "DATABASE_TYPE", type)), "SQLite"), type);
    CHECK_MESSAGE(contains(refusal(with(complete_set(), "DATABASE_TYPE", "mysql")), "not PostgreSQL"), "mysql");
    // env.py replaces only "postgres://"; SQLAlchemy has no "postgres" dialect to take a driver.
    CHECK_MESSAGE(
        contains(refusal(with(complete_set(), "DATABASE_TYPE", "postgres+psycopg2")), "write postgresql+psycopg2"),
        "postgres+psycopg2");
    CHECK_MESSAGE(contains(refusal(with(complete_set(), "DATABASE_TYPE", "post gres")), "not a URL scheme"), "space");
}

TEST_CASE("the password is read as SQLAlchemy reads Open WebUI's URL: %XX decoded, other characters as they are") {
    const std::map<std::string, std::string> read_as{
        {"pa/ss:w#rd?x", "pa/ss:w#rd?x"},
        {"with space 'and' \\", "with space 'and' \\"},
        {"p%40ss%2Fw", "p@ss/w"},
        {"100%", "100%"},  // a malformed escape is kept, as unquote keeps it
        {"é-ü", "é-ü"}};
    for (const auto& [given, meant] : read_as) {
        const auto read = libpq_reads(conninfo(with(complete_set(), "DATABASE_PASSWORD", given)).value());
        CHECK_MESSAGE(read.at("password") == meant, "DATABASE_PASSWORD '" << given << "' read as another password");
        CHECK(read.at("host") == "db.example");
    }
    const auto user = libpq_reads(conninfo(with(complete_set(), "DATABASE_USER", "me%40corp")).value());
    CHECK_MESSAGE(user.at("user") == "me@corp", "the user's %XX is decoded too");
    const auto name = libpq_reads(conninfo(with(complete_set(), "DATABASE_NAME", "open%20webui")).value());
    CHECK_MESSAGE(name.at("dbname") == "open%20webui", "SQLAlchemy does not decode the database's name");
}

TEST_CASE("a password with an '@' is refused, without being shown: Open WebUI would take the rest for the host") {
    const std::string secret = "abc@def-" + kPassword;
    const std::string error = refusal(with(complete_set(), "DATABASE_PASSWORD", secret));
    CHECK_MESSAGE(contains(error, "DATABASE_PASSWORD holds an '@'"), error);
    CHECK_MESSAGE(contains(error, "%40"), "the remedy is not given: " << error);
    for (const std::string& piece : {secret, std::string("abc"), std::string("def-") + kPassword})
        CHECK_MESSAGE(!contains(error, piece), "the error shows the password: " << error);
}

TEST_CASE("a user with ':' or '/', a host with '/', or a port that is not a number is refused by name") {
    CHECK(contains(refusal(with(complete_set(), "DATABASE_USER", "do:main")), "DATABASE_USER holds a ':' or '/'"));
    CHECK(contains(refusal(with(complete_set(), "DATABASE_USER", "a/b")), "DATABASE_USER"));
    CHECK(contains(refusal(with(complete_set(), "DATABASE_HOST", "db/x")), "DATABASE_HOST"));
    CHECK(contains(refusal(with(complete_set(), "DATABASE_HOST", "::1")), "brackets"));
    CHECK(contains(refusal(with(complete_set(), "DATABASE_PORT", "fivefour")), "DATABASE_PORT 'fivefour' is not"));
    const auto v6 = libpq_reads(conninfo(with(complete_set(), "DATABASE_HOST", "[::1]")).value());
    CHECK_MESSAGE(v6.at("host") == "::1", "an IPv6 address in brackets, as Open WebUI needs it");
    for (const char* name : {"DATABASE_USER", "DATABASE_HOST", "DATABASE_PORT"})
        CHECK_MESSAGE(!contains(refusal(with(complete_set(), name, "x/y")), kPassword), name << "'s refusal");
}

TEST_CASE("a query after the name gives libpq keywords, as SQLAlchemy gives psycopg2 the URL's query") {
    const auto read = libpq_reads(
        conninfo(with(complete_set(), "DATABASE_NAME", "openwebui?sslmode=require&application_name=a+b")).value());
    CHECK(read.at("dbname") == "openwebui");
    CHECK(read.at("sslmode") == "require");
    CHECK_MESSAGE(read.at("application_name") == "a b", "parse_qsl reads '+' as a space");
    CHECK(contains(refusal(with(complete_set(), "DATABASE_NAME", "db?Bad Key=1")), "not a libpq keyword"));
}
