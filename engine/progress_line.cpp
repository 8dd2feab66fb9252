// The progress line's figures and layouts.
#include "engine/progress_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace sluice::engine {

namespace {

std::string printed(const char* format, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, value);
    return buf;
}

// The first `n` bytes of `text`, not cutting a UTF-8 sequence in two.
std::string cut(const std::string& text, std::size_t n) {
    if (text.size() <= n) return text;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
        --n;
    return text.substr(0, n);
}

double fraction(const Reading& r) {
    return r.total > 0 ? std::clamp(r.done / r.total, 0.0, 1.0) : -1;
}

// The pieces a line may hold, each with how much it matters when room is short (0 first).
struct Piece {
    std::string text;
    int rank;
    bool shortens = false;  // may be cut to fit rather than left out
};

std::vector<Piece> pieces(const ProgressView& v) {
    const Reading& r = v.reading;
    std::vector<Piece> p;
    if (!v.phase.empty())
        p.push_back({"[" +
                         (v.phase_count ? std::to_string(v.phase_number) + "/" + std::to_string(v.phase_count) + " "
                                        : std::string()) +
                         v.phase + "]",
                     0});
    if (fraction(r) >= 0) p.push_back({printed("%.0f%%", 100 * fraction(r)), 1});
    if (!r.unit.empty() && r.total > 0)
        p.push_back({printed("%.0f", r.done) + "/" + printed("%.0f", r.total) + " " + r.unit, 4});
    else if (!r.unit.empty())
        p.push_back({printed("%.0f", r.done) + " " + r.unit, 4});
    if (!r.rows_noun.empty()) p.push_back({std::to_string(r.rows) + " " + r.rows_noun, 6});
    if (!r.rows_noun.empty() && v.row_rate >= 0)
        p.push_back({short_number(v.row_rate) + " " + r.rows_noun + "/s", 3});
    else if (!r.unit.empty() && v.done_rate >= 0)
        p.push_back({short_number(v.done_rate) + " " + r.unit + "/s", 3});
    if (r.bytes_known && v.byte_rate >= 0) p.push_back({printed("%.1f MiB/s", v.byte_rate / (1 << 20)), 7});
    const double eta = eta_seconds(v);
    if (eta >= 0) p.push_back({"ETA " + human_duration(eta), 2});
    if (!r.text.empty()) p.push_back({r.text, 5, true});
    p.push_back({human_duration(v.elapsed), eta >= 0 ? 9 : 8});
    return p;
}

std::string bar_of(double done, std::size_t columns) {
    const std::size_t inside = columns - 2;
    const auto filled = static_cast<std::size_t>(done * static_cast<double>(inside));
    return "[" + std::string(filled, '#') + std::string(inside - filled, '.') + "]";
}

}  // namespace

double eta_seconds(const ProgressView& v) {
    const Reading& r = v.reading;
    if (r.total <= 0) return -1;
    if (r.done >= r.total) return 0;
    if (v.done_rate <= 0) return -1;
    return (r.total - r.done) / v.done_rate;
}

std::string bar_line(const ProgressView& view, std::size_t width) {
    const std::size_t room = width > 0 ? width - 1 : 0;
    std::vector<Piece> all = pieces(view);
    std::vector<std::size_t> order(all.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return all[a].rank < all[b].rank; });
    // Most useful first, while they fit; a text that does not fit whole is cut, if enough is left.
    // The bar comes after the figures that say how far and how fast (ranks below 5), in 12
    // columns at least; what room is left at the end widens it, up to 40.
    constexpr std::size_t kLeastBar = 12, kMostBar = 40;
    const bool wants_bar = fraction(view.reading) >= 0;
    std::vector<bool> kept(all.size(), false);
    std::size_t used = 0, bar_columns = 0;
    auto take_bar = [&] {
        if (!wants_bar || bar_columns > 0 || used + 1 + kLeastBar > room) return;
        bar_columns = kLeastBar;
        used += (used == 0 ? 0 : 1) + kLeastBar;
    };
    for (std::size_t i : order) {
        if (all[i].rank >= 5) take_bar();
        const std::size_t gap = used == 0 ? 0 : 1;
        if (used + gap + all[i].text.size() <= room) {
            kept[i] = true;
            used += gap + all[i].text.size();
        } else if (all[i].shortens && used + gap + 12 <= room) {
            all[i].text = cut(all[i].text, room - used - gap - 3) + "...";
            kept[i] = true;
            used += gap + all[i].text.size();
        }
    }
    take_bar();
    if (bar_columns > 0) bar_columns = std::min(kMostBar, bar_columns + (room - used));
    const bool tagged = !view.phase.empty();
    const std::string bar = bar_columns > 0 ? bar_of(fraction(view.reading), bar_columns) : std::string();
    std::string line = tagged ? std::string() : bar;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (!kept[i]) continue;
        if (!line.empty()) line += ' ';
        line += all[i].text;
        if (tagged && i == 0 && !bar.empty()) line += ' ' + bar;
    }
    return cut(line, room);
}

std::string log_line(const ProgressView& v) {
    std::string line;
    if (!v.phase.empty())
        line = "phase " +
               (v.phase_count ? std::to_string(v.phase_number) + "/" + std::to_string(v.phase_count) + " "
                              : std::string()) +
               v.phase + ": ";
    std::string figures;
    for (const Piece& p : pieces(v)) {
        if (p.rank == 0 || p.rank >= 8) continue;  // the tag is the prefix, the time comes last
        if (!figures.empty()) figures += ", ";
        figures += p.text;
    }
    return line + (figures.empty() ? "running" : figures) + " (" + human_duration(v.elapsed) + " in)" +
           (v.reading.detail.empty() ? "" : "; " + v.reading.detail);
}

std::optional<std::size_t> terminal_columns(int fd) {
    winsize size{};
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        const long n = std::strtol(columns, nullptr, 10);
        if (n > 0 && n < 10000) return static_cast<std::size_t>(n);
    }
    return std::nullopt;
}

std::size_t terminal_width(int fd) {
    return terminal_columns(fd).value_or(80);
}

void RateWindow::add(double t, double done, double rows, double bytes) {
    samples_.push_back({t, done, rows, bytes});
    while (samples_.size() > 2 && t - samples_[1].t >= span_)
        samples_.pop_front();
}

double RateWindow::rate(double Sample::*value) const {
    if (samples_.size() < 2) return -1;
    const Sample &first = samples_.front(), &last = samples_.back();
    if (last.t - first.t < 1.0) return -1;
    return std::max(0.0, (last.*value - first.*value) / (last.t - first.t));
}

std::string short_number(double n) {
    if (n < 1000) return printed("%.0f", n);
    if (n < 1e6) return printed("%.1fk", n / 1e3);
    if (n < 1e9) return printed("%.1fM", n / 1e6);
    return printed("%.1fG", n / 1e9);
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::string human_duration(double seconds) {
    char buf[32];
    if (seconds < 60)
        std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    else if (seconds < 3600)
        std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
    else
        std::snprintf(buf, sizeof buf, "%dh%02dm", int(seconds) / 3600, (int(seconds) % 3600) / 60);
    return buf;
}

}  // namespace sluice::engine
