// examples/vae_trainer.hpp: train_vae, the whole of the vae and cvae
// trainers (defined in vae_trainer.cpp, compiled once for both).
#pragma once

namespace genmodel::examples {

/// Parses the flags and runs the trainer `name`; conditional: the cVAE. Returns the exit code.
int train_vae(const char* name, bool conditional, int argc, char** argv);

}  // namespace genmodel::examples
