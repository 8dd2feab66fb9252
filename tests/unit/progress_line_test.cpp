// The progress line: a bar that fits the terminal's width so that a redraw never wraps, a rate
// over the recent window, the ETA it gives, the log line, and counts in words.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "engine/progress_line.h"
#include "engine/words.h"

using namespace sluice::engine;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The backfill half way, at a known rate.
ProgressView backfill_view() {
    ProgressView v;
    v.phase = "backfill";
    v.phase_number = 2;
    v.phase_count = 5;
    v.elapsed = 42;
    v.reading.done = 1200;
    v.reading.total = 3000;
    v.reading.unit = "chats";
    v.reading.rows = 15000;
    v.reading.rows_noun = "messages";
    v.reading.bytes = std::uint64_t{300} << 20;
    v.reading.bytes_known = true;
    v.done_rate = 100;
    v.row_rate = 12500;
    v.byte_rate = 20.0 * (1 << 20);
    return v;
}

// Every kind of line the display draws: figures, a long text, no phase, nothing known, huge numbers.
std::vector<ProgressView> all_kinds() {
    std::vector<ProgressView> views{backfill_view()};
    ProgressView indexes;
    indexes.phase = "indexes";
    indexes.phase_number = 3;
    indexes.phase_count = 5;
    indexes.reading.done = 2.4;
    indexes.reading.total = 7;
    indexes.reading.text =
        "built 2 of 7; ix_chat_message_user_id: scanning table 45%; chat_message_chat_parent_idx: "
        "sorting live tuples 65%";
    indexes.done_rate = 0.1;
    views.push_back(indexes);
    ProgressView text_only;
    text_only.phase = "constraints";
    text_only.phase_number = 4;
    text_only.phase_count = 5;
    text_only.elapsed = 3725;
    text_only.reading.text = "validating chat_message_chat_id_fkey: every row's chat, looked up in chat";
    views.push_back(text_only);
    ProgressView no_phase = backfill_view();
    no_phase.phase.clear();
    views.push_back(no_phase);
    ProgressView huge = backfill_view();
    huge.reading.done = 1e15;
    huge.reading.total = 9e15;
    huge.reading.rows = 123456789012345678ULL;
    huge.row_rate = 9.9e12;
    views.push_back(huge);
    views.push_back(ProgressView{});
    return views;
}

}  // namespace

TEST_CASE("the bar is never longer than the terminal's width minus its last column, whatever the width") {
    const std::vector<ProgressView> views = all_kinds();
    for (std::size_t width = 0; width <= 240; ++width)
        for (std::size_t k = 0; k < views.size(); ++k) {
            const std::string line = bar_line(views[k], width);
            CHECK_MESSAGE(line.size() + 1 <= std::max<std::size_t>(width, 1),
                          "view " << k << " at " << width << " columns: " << line.size() << " columns: " << line);
            CHECK_MESSAGE(line.find('\n') == std::string::npos, "a line break in the bar: " << line);
        }
}

TEST_CASE("at 80 columns the bar shows the phase n of m, the bar, the current rate in messages/s and the ETA") {
    const std::string line = bar_line(backfill_view(), 80);
    CHECK_MESSAGE(line.rfind("[2/5 backfill] [", 0) == 0, "no phase tag and bar first: " << line);
    CHECK_MESSAGE(contains(line, "40%"), line);
    CHECK_MESSAGE(contains(line, "12.5k messages/s"), "no rate in messages/s: " << line);
    CHECK_MESSAGE(contains(line, "ETA 18.0s"), "no ETA from the recent rate (1800 chats at 100/s): " << line);
    CHECK_MESSAGE(!contains(line, "rows/s"), line);
}

TEST_CASE("a wide terminal also shows the counts and the MiB/s, a narrow one keeps the phase and how far") {
    const std::string wide = bar_line(backfill_view(), 200);
    CHECK_MESSAGE(contains(wide, "1200/3000 chats"), wide);
    CHECK_MESSAGE(contains(wide, "15000 messages"), wide);
    CHECK_MESSAGE(contains(wide, "20.0 MiB/s"), "bytes per second are MiB/s, divided by 2^20: " << wide);
    const std::string narrow = bar_line(backfill_view(), 24);
    CHECK_MESSAGE(narrow == "[2/5 backfill] 40%", "at 24 columns: '" << narrow << "'");
}

TEST_CASE("a long text is cut to fit, marked with dots, rather than left out") {
    const std::string line = bar_line(all_kinds()[2], 60);
    CHECK_MESSAGE(line.rfind("[4/5 constraints] validating", 0) == 0, line);
    CHECK_MESSAGE(contains(line, "..."), line);
    CHECK_MESSAGE(line.size() <= 59, line);
}

TEST_CASE("the rate is the recent window's, not the average since the start, and gives the ETA") {
    RateWindow window(10);
    for (int t = 0; t <= 60; ++t)
        window.add(t, t < 30 ? 1000.0 * t : 30000 + 10.0 * (t - 30), 0, 0);
    CHECK_MESSAGE(window.done_rate() == doctest::Approx(10),
                  "the rate of the last 10 s is 10/s, got " << window.done_rate());
    RateWindow fresh;
    fresh.add(0, 0, 0, 0);
    fresh.add(0.5, 50, 0, 0);
    CHECK_MESSAGE(fresh.done_rate() < 0, "a rate from half a second of samples");
    ProgressView v = backfill_view();
    v.done_rate = -1;
    CHECK_MESSAGE(eta_seconds(v) < 0, "an ETA without a rate");
    v.reading.done = v.reading.total;
    CHECK_MESSAGE(eta_seconds(v) == 0, "an ETA when the work is done");
}

TEST_CASE("a log line has the phase n of m, the figures, and how long the phase has run") {
    const std::string line = log_line(backfill_view());
    CHECK_MESSAGE(line.rfind("phase 2/5 backfill: ", 0) == 0, line);
    for (const std::string part :
         {"40%", "1200/3000 chats", "15000 messages", "12.5k messages/s", "20.0 MiB/s", "ETA 18.0s", "(42.0s in)"})
        CHECK_MESSAGE(contains(line, part), "missing " << part << ": " << line);
    CHECK_MESSAGE(log_line(all_kinds()[2]).rfind("phase 4/5 constraints: validating", 0) == 0,
                  log_line(all_kinds()[2]));
}

TEST_CASE("per-lane figures go into the log line, never into the bar") {
    ProgressView v = backfill_view();
    v.reading.detail = "messages by lane: 1=12.3k 2=11.9k 3=12.1k";
    const std::string line = log_line(v);
    CHECK_MESSAGE(line.size() >= v.reading.detail.size(), line);
    CHECK_MESSAGE(line.compare(line.size() - v.reading.detail.size(), std::string::npos, v.reading.detail) == 0, line);
    CHECK_MESSAGE(bar_line(v, 200).find("by lane") == std::string::npos, bar_line(v, 200));
}

TEST_CASE("the width comes from the terminal, else COLUMNS, else 80") {
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);  // a pipe has no window size
    ::setenv("COLUMNS", "123", 1);
    CHECK(terminal_width(pipe_fds[0]) == 123);
    ::setenv("COLUMNS", "junk", 1);
    CHECK(terminal_width(pipe_fds[0]) == 80);
    ::unsetenv("COLUMNS");
    CHECK(terminal_width(pipe_fds[0]) == 80);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

TEST_CASE("counts take the singular for one: 1 message, 2 messages, 1 index, 7 indexes") {
    CHECK(plural(1, "message") == "1 message");
    CHECK(plural(0, "message") == "0 messages");
    CHECK(plural(2, "message") == "2 messages");
    CHECK(plural(1, "index", "indexes") == "1 index");
    CHECK(plural(7, "index", "indexes") == "7 indexes");
    CHECK(human_bytes(3 << 20) == "3.0 MiB");
}
