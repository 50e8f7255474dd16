// genmodel/io/progress.hpp: Progress, a training progress display: step /
// total, epoch, items per second, ETA and the latest named losses. On a
// terminal it redraws one line in place with '\r'; into a file or a pipe it
// prints a plain line every K steps or S seconds, so logs stay readable. The
// stream, the terminal flag and the clock are injectable for tests.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel::io {

struct ProgressOptions {
  int64_t every_steps = 100;    // not a terminal: a line every K steps (0: never by count)
  double every_seconds = 0.0;   // not a terminal: a line every S seconds (0: never by time)
  double redraw_seconds = 0.1;  // terminal: at most one redraw per interval
  int64_t start_step = 0;       // a resumed run starts counting here
  std::string unit = "items";   // what step(items) counts, shown as "<unit>/s"
};

class Progress {
 public:
  using Clock = std::function<double()>;  // monotonic seconds
  using Losses = std::vector<std::pair<std::string, double>>;

  static double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  /// total_steps 0 means unknown (no percentage, no ETA).
  Progress(int64_t total_steps, std::ostream& os, bool tty, ProgressOptions opt = {},
           Clock clock = steady_seconds)
      : os_(os), tty_(tty), opt_(std::move(opt)), clock_(std::move(clock)), total_(total_steps) {
    GM_CHECK(
        total_ >= 0 && opt_.every_steps >= 0 && opt_.every_seconds >= 0 && opt_.start_step >= 0,
        "Progress: total_steps, every_steps, every_seconds and start_step must be "
        "non-negative, got ",
        total_, ", ", opt_.every_steps, ", ", opt_.every_seconds, ", ", opt_.start_step);
    GM_CHECK(clock_ != nullptr, "Progress: the clock is empty");
    step_ = opt_.start_step;
    start_time_ = last_out_ = clock_();
  }
  /// Writes to std::cout, redrawing in place when stdout is a terminal.
  explicit Progress(int64_t total_steps, ProgressOptions opt = {})
      : Progress(total_steps, std::cout, ::isatty(STDOUT_FILENO) != 0, std::move(opt)) {}

  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void set_epoch(int64_t epoch, int64_t epochs = 0) {
    epoch_ = epoch;
    epochs_ = epochs;
  }

  /// One step done, having processed `items` (images, samples) with these losses.
  void step(int64_t items = 0, const Losses& losses = {}) {
    GM_CHECK(items >= 0, "Progress::step: negative item count ", items);
    ++step_;
    items_ += items;
    if (!losses.empty()) losses_ = losses;
    const double now = clock_();
    const bool last = total_ > 0 && step_ >= total_;
    if (tty_) {
      if (last || now - last_out_ >= opt_.redraw_seconds) draw(now);
    } else if (last || (opt_.every_steps > 0 && step_ % opt_.every_steps == 0) ||
               (opt_.every_seconds > 0 && now - last_out_ >= opt_.every_seconds)) {
      draw(now);
    }
  }

  /// Shows the final state and ends the terminal line; called by the destructor.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (step_ > opt_.start_step && printed_step_ != step_) draw(clock_());
    if (tty_ && printed_step_ >= 0) os_ << '\n' << std::flush;
  }

  /// The status text, e.g. "epoch 2/10 | step 120/500 (24%) | 153.2 items/s |
  /// ETA 2:28 | loss_d 0.6931 loss_g 1.2".
  std::string line(double now) const {
    std::string s;
    char buf[96];
    if (epoch_ >= 0) {
      s += "epoch " + std::to_string(epoch_);
      if (epochs_ > 0) s += "/" + std::to_string(epochs_);
      s += " | ";
    }
    s += "step " + std::to_string(step_);
    if (total_ > 0) {
      std::snprintf(
          buf, sizeof buf, "/%lld (%.0f%%)", static_cast<long long>(total_),
          100.0 * static_cast<double>(std::min(step_, total_)) / static_cast<double>(total_));
      s += buf;
    }
    const double elapsed = now - start_time_;
    const int64_t done = step_ - opt_.start_step;
    if (elapsed > 0 && items_ > 0) {
      std::snprintf(buf, sizeof buf, " | %.1f %s/s", static_cast<double>(items_) / elapsed,
                    opt_.unit.c_str());
      s += buf;
    }
    if (total_ > 0 && done > 0 && elapsed > 0) {
      const auto eta =
          static_cast<long long>(elapsed / static_cast<double>(done) *
                                     static_cast<double>(std::max<int64_t>(0, total_ - step_)) +
                                 0.5);
      if (eta >= 3600)
        std::snprintf(buf, sizeof buf, " | ETA %lld:%02lld:%02lld", eta / 3600, eta / 60 % 60,
                      eta % 60);
      else
        std::snprintf(buf, sizeof buf, " | ETA %lld:%02lld", eta / 60, eta % 60);
      s += buf;
    }
    for (std::size_t i = 0; i < losses_.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.4g", losses_[i].second);
      s += (i ? " " : " | ") + losses_[i].first + " " + buf;
    }
    return s;
  }

 private:
  void draw(double now) {
    const std::string text = line(now);
    if (tty_) {
      // Pad with spaces so a shorter line fully covers the previous one.
      os_ << '\r' << text << std::string(text.size() < width_ ? width_ - text.size() : 0, ' ')
          << std::flush;
      width_ = std::max(width_, text.size());
    } else {
      os_ << text << '\n' << std::flush;
    }
    last_out_ = now;
    printed_step_ = step_;
  }

  std::ostream& os_;
  bool tty_;
  ProgressOptions opt_;
  Clock clock_;
  int64_t total_;
  int64_t step_ = 0, items_ = 0, epoch_ = -1, epochs_ = 0, printed_step_ = -1;
  double start_time_ = 0, last_out_ = 0;
  std::size_t width_ = 0;
  Losses losses_;
  bool finished_ = false;
};

}  // namespace genmodel::io
