// genmodel/models.hpp: the model templates and their ready architectures:
// GANs (gan.hpp, mlp_gan.hpp, dcgan.hpp, conditional_gan.hpp), VAEs
// (vae.hpp, vae_architectures.hpp) and diffusion (noise_schedule.hpp,
// ddpm.hpp, unet.hpp), with classifier_free_guidance.hpp shared by the
// conditional VAE and DDPM. Included by genmodel/genmodel.hpp.
#pragma once

#include "genmodel/models/classifier_free_guidance.hpp"
#include "genmodel/models/conditional_gan.hpp"
#include "genmodel/models/dcgan.hpp"
#include "genmodel/models/ddpm.hpp"
#include "genmodel/models/gan.hpp"
#include "genmodel/models/mlp_gan.hpp"
#include "genmodel/models/noise_schedule.hpp"
#include "genmodel/models/unet.hpp"
#include "genmodel/models/vae.hpp"
#include "genmodel/models/vae_architectures.hpp"
