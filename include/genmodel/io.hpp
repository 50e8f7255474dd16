// genmodel/io.hpp: serialisation and output: safetensors files, checkpoints
// (atomic), IDX sample files, PNG image grids, CSV metric logs and the
// progress display. Kept out of genmodel.hpp so that code without files
// compiles without JSON/stb.
#pragma once

#include "genmodel/io/checkpoint.hpp"
#include "genmodel/io/csv_log.hpp"
#include "genmodel/io/idx_writer.hpp"
#include "genmodel/io/png.hpp"
#include "genmodel/io/progress.hpp"
#include "genmodel/io/safetensors.hpp"
#include "genmodel/io/training_state.hpp"
