// Progress display: in-place redraws on a terminal, periodic plain lines
// otherwise, with a fake clock so nothing depends on wall time.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "genmodel/io/progress.hpp"

namespace io = genmodel::io;
using Catch::Contains;

namespace {
/// Splits on '\n', dropping the empty piece after a final newline.
std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("progress: not a terminal prints a plain line every K steps and at the end",
          "[io][progress]") {
  std::ostringstream os;
  double now = 100.0;
  io::ProgressOptions opt;
  opt.every_steps = 2;
  opt.unit = "img";
  {
    io::Progress p(5, os, /*tty=*/false, opt, [&] { return now; });
    p.set_epoch(1, 3);
    for (int s = 0; s < 5; ++s) {
      now += 0.5;  // 64 images per half second
      p.step(64, {{"loss_d", 0.69314718}, {"loss_g", 1.5 + s}});
    }
    // Steps 2 and 4 by count, step 5 as the last.
    REQUIRE(lines(os.str()) ==
            std::vector<std::string>{
                "epoch 1/3 | step 2/5 (40%) | 128.0 img/s | ETA 0:02 | loss_d 0.6931 loss_g 2.5",
                "epoch 1/3 | step 4/5 (80%) | 128.0 img/s | ETA 0:01 | loss_d 0.6931 loss_g 4.5",
                "epoch 1/3 | step 5/5 (100%) | 128.0 img/s | ETA 0:00 | loss_d 0.6931 loss_g 5.5"});
  }
  // The destructor adds nothing: the last step was already shown, and no '\r' ever.
  REQUIRE(lines(os.str()).size() == 3);
  REQUIRE(os.str().find('\r') == std::string::npos);
}

TEST_CASE("progress: not a terminal, by seconds, unknown total, resumed start", "[io][progress]") {
  std::ostringstream os;
  double now = 0.0;
  io::ProgressOptions opt;
  opt.every_steps = 0;
  opt.every_seconds = 10;
  opt.start_step = 1000;
  io::Progress p(0, os, false, opt, [&] { return now; });
  for (int s = 0; s < 25; ++s) {
    now += 1.0;
    p.step();
  }
  // Lines at 10 s and 20 s; no percentage, rate or ETA without a total or items.
  REQUIRE(lines(os.str()) == std::vector<std::string>{"step 1010", "step 1020"});
  p.finish();
  REQUIRE(lines(os.str()).back() == "step 1025");
  p.finish();  // idempotent
  REQUIRE(lines(os.str()).size() == 3);
}

TEST_CASE("progress: a terminal redraws one line in place and ends it with a newline",
          "[io][progress]") {
  std::ostringstream os;
  double now = 0.0;
  io::ProgressOptions opt;
  opt.redraw_seconds = 1.0;
  io::Progress p(3700, os, /*tty=*/true, opt, [&] { return now; });
  now = 0.5;
  p.step(10, {{"loss", 123.456}});  // within the redraw interval: nothing yet
  REQUIRE(os.str().empty());
  now = 1.0;
  p.step(10);
  REQUIRE(os.str() == "\rstep 2/3700 (0%) | 20.0 items/s | ETA 30:49 | loss 123.5");
  now = 2.0;
  p.step(10, {{"l", 1}});
  // The shorter line is padded with spaces to cover the previous one.
  const std::string second = "step 2/3700 (0%) | 20.0 items/s | ETA 30:49 | loss 123.5";
  const std::string third = "step 3/3700 (0%) | 15.0 items/s | ETA 41:05 | l 1";
  REQUIRE(os.str() ==
          "\r" + second + "\r" + third + std::string(second.size() - third.size(), ' '));
  p.finish();
  const std::string out = os.str();
  REQUIRE(out.back() == '\n');
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("progress: the line formats hours and rejects bad arguments", "[io][progress]") {
  std::ostringstream os;
  double now = 0.0;
  io::Progress p(10000, os, false, {}, [&] { return now; });
  now = 2.0;
  p.step(1);
  REQUIRE(p.line(now) == "step 1/10000 (0%) | 0.5 items/s | ETA 5:33:18");
  REQUIRE_THROWS_WITH(p.step(-1), Contains("negative item count"));
  REQUIRE_THROWS_WITH(io::Progress(-1, os, false), Contains("must be non-negative"));
  REQUIRE_THROWS_WITH(io::Progress(1, os, false, {}, nullptr), Contains("clock is empty"));
}
