// Three spdlog loggers: stdout and stderr through a console sink that knows about the progress
// bar, and the --log-file's own. The functions of log.h pick which ones a line goes to.
#include "engine/log.h"

#include "engine/text_wrap.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::engine::log {

namespace {

// One lock for the terminal: a line and the bar never interleave.
std::mutex& console_mutex() {
    static std::mutex mutex;
    return mutex;
}
bool g_bar_shown = false;  // guarded by console_mutex()

void erase_bar_locked() {
    if (!g_bar_shown) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    g_bar_shown = false;
}

// stdout or stderr, one flushed write a line, after the bar is erased; broken at spaces where the
// terminal is narrower than the line (the log file gets it whole).
class ConsoleSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    explicit ConsoleSink(std::FILE* stream) : stream_(stream) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        std::string_view line(formatted.data(), formatted.size());
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        const std::string text = line.empty() ? std::string("\n") : wrap_block(line, fit_width(fileno(stream_)));
        std::lock_guard<std::mutex> lock(console_mutex());
        erase_bar_locked();
        std::fwrite(text.data(), 1, text.size(), stream_);
        std::fflush(stream_);
    }
    void flush_() override { std::fflush(stream_); }

private:
    std::FILE* stream_;
};

constexpr const char* kConsoleTime = "%Y-%m-%d %H:%M:%S ";

std::shared_ptr<spdlog::logger> console(const char* name, std::FILE* stream, bool timestamps) {
    auto sink = std::make_shared<ConsoleSink>(stream);
    sink->set_pattern(std::string(timestamps ? kConsoleTime : "") + "%v");
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(spdlog::level::trace);
    return logger;
}

// The run's warnings for warnings(); any thread may add one.
struct Warnings {
    std::mutex mutex;
    std::vector<std::string> kept;
    std::size_t more = 0;  // given after kMaxWarningsKept were kept
};

struct State {
    Options options;
    Warnings warnings;
    std::shared_ptr<spdlog::logger> out = console("stdout", stdout, false);
    std::shared_ptr<spdlog::logger> err = console("stderr", stderr, false);
    std::shared_ptr<spdlog::logger> file;  // null without --log-file
};

State& state() {
    static State s;
    return s;
}

void to_file(spdlog::level::level_enum level, std::string_view text) {
    if (const auto& file = state().file) file->log(level, text);
}

// Each line of `text` (a trailing newline ends the last one, it does not make an empty one).
template <typename Each>
void for_lines(std::string_view text, Each each) {
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        each(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
}

std::string sluice_line(std::string_view text) {
    return "sluice: " + std::string(text);
}

void keep_warning(std::string_view text) {
    Warnings& w = state().warnings;
    std::lock_guard<std::mutex> lock(w.mutex);
    if (w.kept.size() < kMaxWarningsKept)
        w.kept.emplace_back(text);
    else
        ++w.more;
}

}  // namespace

void configure(const Options& options) {
    State& s = state();
    s.options = options;
    s.out = console("stdout", stdout, options.stdout_timestamps);
    s.err = console("stderr", stderr, options.stderr_timestamps);
    s.file.reset();
    if (options.file.empty()) return;
    // spdlog would make the missing directories: a misspelt path is better refused.
    const std::filesystem::path parent = std::filesystem::path(options.file).parent_path();
    std::error_code ignored;
    if (!parent.empty() && !std::filesystem::is_directory(parent, ignored))
        throw std::runtime_error("--log-file: cannot write '" + options.file + "': there is no directory '" +
                                 parent.string() + "'");
    try {
        auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, /*truncate=*/false);
        sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %z [%l] %v");
        s.file = std::make_shared<spdlog::logger>("file", sink);
        s.file->set_level(spdlog::level::trace);
        s.file->flush_on(spdlog::level::trace);  // a killed run leaves every line it wrote
    } catch (const spdlog::spdlog_ex& e) {
        throw std::runtime_error("--log-file: cannot write '" + options.file + "': " + e.what());
    }
}

bool verbose() {
    return state().options.verbosity == Verbosity::verbose;
}
bool quiet() {
    return state().options.verbosity == Verbosity::quiet;
}
bool has_file() {
    return state().file != nullptr;
}

void report(std::string_view text) {
    for_lines(text, [](std::string_view line) {
        to_file(spdlog::level::info, line);
        if (!quiet()) state().out->info(line);
    });
}

void result(std::string_view text) {
    for_lines(text, [](std::string_view line) {
        to_file(spdlog::level::info, line);
        state().out->info(line);
    });
}

void note(std::string_view text) {
    to_file(spdlog::level::info, text);
    if (!quiet()) state().err->info(sluice_line(text));
}

void warn(std::string_view text) {
    keep_warning(text);
    to_file(spdlog::level::warn, text);
    state().err->warn(sluice_line(text));
}

void report_warning(std::string_view message, std::string_view shown) {
    keep_warning(message);
    to_file(spdlog::level::warn, message);
    if (quiet()) {
        state().err->warn(sluice_line("warning: " + std::string(message)));
        return;
    }
    for_lines(shown, [](std::string_view line) { state().out->warn(line); });
}

std::vector<std::string> warnings() {
    Warnings& w = state().warnings;
    std::lock_guard<std::mutex> lock(w.mutex);
    std::vector<std::string> all = w.kept;
    if (w.more > 0) all.push_back("... and " + std::to_string(w.more) + " more warnings (the log file has them all)");
    return all;
}

void error(std::string_view text, std::string_view detail) {
    to_file(spdlog::level::err, text);
    state().err->error(sluice_line(text));
    if (detail.empty()) return;
    to_file(spdlog::level::err, detail);
    if (verbose()) state().err->error(sluice_line(detail));
}

void debug(std::string_view text) {
    to_file(spdlog::level::debug, text);
    if (verbose()) state().err->debug(sluice_line(text));
}

void progress(std::string_view text) {
    to_file(spdlog::level::info, text);
    if (!quiet()) state().err->info(text);
}

void file_only(std::string_view text) {
    to_file(spdlog::level::info, text);
}

void draw_bar(std::string_view line) {
    std::lock_guard<std::mutex> lock(console_mutex());
    std::fputs("\r", stderr);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputs("\033[K", stderr);
    std::fflush(stderr);
    g_bar_shown = true;
}

void clear_bar() {
    std::lock_guard<std::mutex> lock(console_mutex());
    erase_bar_locked();
}

}  // namespace sluice::engine::log
