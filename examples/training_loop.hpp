// examples/training_loop.hpp: the loop every example trainer runs. A trainer
// (gan_trainer.hpp, vae.cpp / cvae.cpp through vae_trainer.hpp, ddpm.cpp)
// builds its model, fills a TrainingRun with what is its own (the parts of
// its checkpoint, one training step, its grids and sample files), and calls
// run_training, which does the rest the same way for all:
//   --resume: loads the checkpoint strictly and checks it is of this trainer
//             and variant (TrainingRun::identity);
//   the batch stream across epochs, stopped by --steps / --epochs / --seconds;
//   metrics.csv (step, epoch, the step's metrics, seconds) every --log-every
//             steps, or once per completed epoch (TrainingRun::epoch_metrics);
//   the progress display; a check that every metric stays finite;
//   grids every --sample-every steps (suffix "_<step>") and at the end (no suffix);
//   checkpoint.safetensors every --checkpoint-every steps and at the end, with
//   the data position, so a resumed run repeats the uninterrupted one exactly;
//   --sample-only (the grids, or with --samples only the sample file) and
//   --samples N --samples-out FILE.
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "trainer_common.hpp"

namespace genmodel::examples {

using TrainStream = BatchStream<data::Prefix<data::FashionMNIST>>;

/// A batch of the host stream on the model's device (the batch itself on the
/// CPU): trainers on the GPU copy each batch over.
template <class Dev>
struct DeviceBatch {
  Tensor<float, Dev> images;
  Tensor<int64_t, Dev> labels;
  explicit DeviceBatch(const data::Batch& b)
      : images(b.images.template to<Dev>()),
        labels(b.labels.defined() ? b.labels.template to<Dev>() : Tensor<int64_t, Dev>()) {}
};

/// A trainer's part of the run, for a model on device D (its checkpoint
/// parts live there; the batch stream and the files stay on the host).
template <class D = cpu>
struct TrainingRunOn {
  nlohmann::json identity;            // e.g. {"trainer": "dcgan", "loss": "bce"}: saved, and checked on --resume
  io::TrainingParts<float, D> parts;  // everything the checkpoint holds
  std::vector<std::string> columns;  // metrics.csv columns between epoch and seconds: the keys step()
                                     // (or epoch_metrics()) returns
  std::string summary;               // printed before the first step
  data::PixelRange range = data::PixelRange::symmetric;  // the training images' pixel range
  int64_t pad = 0;                   // and their padding (2: 32x32)
  int64_t batches_per_step = 1;      // batches one step() takes from the stream
  std::function<io::CsvLogger::Row(TrainStream&)> step;  // one training step; its metrics
  std::function<void(const std::filesystem::path& out, const std::string& suffix)> write_grids;
  std::function<void()> write_samples;  // --samples N --samples-out FILE
  // Optional: metrics.csv gets one row per completed epoch (its index from 0)
  // with what this returns, instead of step()'s metrics every --log-every steps.
  std::function<io::CsvLogger::Row(int64_t epoch)> epoch_metrics;
  // Optional: trainer state kept in the checkpoint's metadata (JSON).
  std::function<nlohmann::json()> save_extra;
  std::function<void(const nlohmann::json&)> load_extra;
};
using TrainingRun = TrainingRunOn<cpu>;

/// The whole run of one trainer: make() returns its TrainingRunOn<D>; 0 on
/// success, 1 with one line on stderr on any error.
template <class Make>
int run_training(const char* name, const TrainerFlags& f, Make&& make) {
  return run_reporting_errors(name, [&] {
    namespace fs = std::filesystem;
    if (f.threads > 0) set_num_threads(f.threads);
    auto run = make();

    int64_t step = 0;
    DataPosition pos;
    double seconds_before = 0;
    if (!f.resume.empty()) {
      const io::TrainingState st = io::load_training_state(f.resume, run.parts);
      nlohmann::json saved = nlohmann::json::object();
      for (const auto& [key, value] : run.identity.items()) saved[key] = st.extra.value(key, nlohmann::json());
      GM_CHECK(saved == run.identity, f.resume, ": a checkpoint of ", saved.dump(), ", not of ", run.identity.dump());
      step = st.step;
      pos = {st.extra.value("epoch", int64_t(0)), st.extra.value("batch", int64_t(0))};
      seconds_before = st.extra.value("seconds", 0.0);
      if (run.load_extra) run.load_extra(st.extra.value("trainer_state", nlohmann::json::object()));
      std::printf("resumed %s at step %lld (epoch %lld, batch %lld)\n", f.resume.c_str(), static_cast<long long>(step),
                  static_cast<long long>(pos.epoch), static_cast<long long>(pos.batch));
    }
    const fs::path out(f.out_dir);
    fs::create_directories(out);
    // --sample-only with --samples writes only the sample file: a grid can
    // cost as much as the samples (DDPM's ancestral sampler: 1000 steps).
    auto finish = [&] {
      if (!f.sample_only || f.samples == 0) run.write_grids(out, "");
      if (f.samples > 0) run.write_samples();
      return 0;
    };
    if (f.sample_only) return finish();

    TrainStream stream(training_images(f, run.pad, run.range),
                       {.batch_size = f.batch, .shuffle = true, .seed = f.seed, .drop_last = true});
    GM_CHECK(stream.batches_per_epoch() >= run.batches_per_step, "--batch ", f.batch, " is larger than the ",
             f.limit > 0 ? "--limit" : "training set", " of images");
    stream.set_position(pos);
    std::vector<std::string> columns = {"step", "epoch"};
    columns.insert(columns.end(), run.columns.begin(), run.columns.end());
    columns.push_back("seconds");
    io::CsvLogger log(out / "metrics.csv", f.resume.empty() ? io::CsvLogger::Mode::truncate : io::CsvLogger::Mode::append,
                      columns);
    const StopRule stop(f);
    auto save = [&] {
      const DataPosition p = stream.position();
      nlohmann::json extra = run.identity;
      extra.update({{"epoch", p.epoch}, {"batch", p.batch}, {"seconds", seconds_before + stop.elapsed()}});
      if (run.save_extra) extra["trainer_state"] = run.save_extra();
      io::save_training_state(out / "checkpoint.safetensors", run.parts, step, extra);
    };
    std::printf("%s: %s; batch %lld, %d threads\n", name, run.summary.c_str(), static_cast<long long>(f.batch),
                num_threads());
    {
      const int64_t planned = stop.planned_steps(stream.batches_per_epoch() / run.batches_per_step);
      io::Progress progress(planned, {.every_steps = 100, .start_step = step, .unit = "img"});
      while (!stop.done(step, stream.position())) {
        const int64_t epoch = stream.position().epoch;
        io::CsvLogger::Row m = run.step(stream);
        ++step;
        for (const auto& [key, value] : m)
          GM_CHECK(std::isfinite(value), "training diverged at step ", step, ": ", key, " is ", value);
        progress.set_epoch(epoch + 1, f.epochs);
        progress.step(f.batch * run.batches_per_step, m);
        const bool epoch_done = stream.position().epoch > epoch;
        if (run.epoch_metrics ? epoch_done : step % f.log_every == 0) {
          if (run.epoch_metrics) m = run.epoch_metrics(epoch);
          m.insert(m.begin(), {{"step", double(step)}, {"epoch", double(stream.position().epoch)}});
          m.emplace_back("seconds", seconds_before + stop.elapsed());
          log.log(m);
        }
        if (f.sample_every > 0 && step % f.sample_every == 0) {
          char suffix[32];
          std::snprintf(suffix, sizeof suffix, "_%06lld", static_cast<long long>(step));
          run.write_grids(out, suffix);
        }
        if (f.checkpoint_every > 0 && step % f.checkpoint_every == 0) save();
      }
    }
    save();
    std::printf("trained to step %lld (epoch %lld) in %.1f s; checkpoint: %s\n", static_cast<long long>(step),
                static_cast<long long>(stream.position().epoch), stop.elapsed(),
                (out / "checkpoint.safetensors").string().c_str());
    return finish();
  });
}

}  // namespace genmodel::examples
