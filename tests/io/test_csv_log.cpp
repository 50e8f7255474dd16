// CSV metric log: header from the first row or given columns, rows flushed
// as written, reopening in append mode on resume, and key mismatches.
#include <catch2/catch.hpp>

#include "genmodel/io/csv_log.hpp"
#include "io/tmp_dir.hpp"

namespace io = genmodel::io;
using Catch::Contains;

TEST_CASE("csv log: header from the first row, rows flushed at once, keys in any order",
          "[io][csv]") {
  gmtest::TmpDir dir;
  const auto path = dir / "log.csv";
  io::CsvLogger log(path);
  REQUIRE(gmtest::read_bytes(path).empty());  // no columns known yet
  log.log({{"step", 1}, {"loss_d", 0.5}, {"loss_g", 1.25}});
  REQUIRE(gmtest::read_bytes(path) == "step,loss_d,loss_g\n1,0.5,1.25\n");  // flushed, still open
  log.log({{"loss_g", 0.1}, {"step", 2}, {"loss_d", -3e-7}});
  REQUIRE(gmtest::read_bytes(path) == "step,loss_d,loss_g\n1,0.5,1.25\n2,-3e-07,0.1\n");
  REQUIRE(log.columns() == std::vector<std::string>{"step", "loss_d", "loss_g"});

  REQUIRE_THROWS_WITH(
      log.log({{"step", 3}, {"loss_d", 1}}),
      Contains("row keys [step,loss_d] differ from the columns [step,loss_d,loss_g]"));
  REQUIRE_THROWS_WITH(log.log({{"step", 3}, {"loss_d", 1}, {"fid", 2}}),
                      Contains("differ from the columns"));
  REQUIRE_THROWS_WITH(log.log({{"step", 3}, {"step", 1}, {"loss_g", 2}}),
                      Contains("column 'step' appears twice"));
  REQUIRE_THROWS_WITH(log.log({{"a,b", 3}}), Contains("free of commas"));
  REQUIRE_THROWS_WITH(log.log({}), Contains("empty row"));
  REQUIRE(gmtest::read_bytes(path) == "step,loss_d,loss_g\n1,0.5,1.25\n2,-3e-07,0.1\n");
}

TEST_CASE("csv log: given columns, truncation and append on resume", "[io][csv]") {
  gmtest::TmpDir dir;
  const auto path = dir / "log.csv";
  {
    io::CsvLogger log(path, io::CsvLogger::Mode::truncate, {"step", "loss"});
    REQUIRE(gmtest::read_bytes(path) == "step,loss\n");
    log.log({{"step", 100}, {"loss", 0.25}});
  }
  {
    // A resumed run keeps the header and appends; the columns come from the file.
    io::CsvLogger log(path, io::CsvLogger::Mode::append);
    REQUIRE(log.columns() == std::vector<std::string>{"step", "loss"});
    log.log({{"loss", 0.125}, {"step", 200}});
  }
  REQUIRE(gmtest::read_bytes(path) == "step,loss\n100,0.25\n200,0.125\n");
  {
    io::CsvLogger log(path, io::CsvLogger::Mode::append, {"step", "loss"});
    log.log({{"step", 300}, {"loss", 1}});
  }
  REQUIRE(gmtest::read_bytes(path) == "step,loss\n100,0.25\n200,0.125\n300,1\n");
  REQUIRE_THROWS_WITH(io::CsvLogger(path, io::CsvLogger::Mode::append, {"step", "fid"}),
                      Contains("has columns [step,loss], not the requested [step,fid]"));

  // Append to a missing file starts a new log; truncate discards the old one.
  const auto fresh = dir / "fresh.csv";
  io::CsvLogger(fresh, io::CsvLogger::Mode::append).log({{"x", 1}});
  REQUIRE(gmtest::read_bytes(fresh) == "x\n1\n");
  io::CsvLogger(path).log({{"x", 2}});
  REQUIRE(gmtest::read_bytes(path) == "x\n2\n");

  REQUIRE_THROWS_WITH(io::CsvLogger(dir / "missing" / "log.csv"),
                      Contains("cannot open") && Contains("missing/log.csv"));
  REQUIRE_THROWS_WITH(io::CsvLogger(path, io::CsvLogger::Mode::truncate, {"a", "a"}),
                      Contains("appears twice"));
}
