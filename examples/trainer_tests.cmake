# CTest tests of the trainers (GANs, VAEs, DDPM; included from
# examples/CMakeLists.txt when tests are on). Small runs on a few hundred
# Fashion-MNIST images: flags and failure paths, exact resume, and that a
# short run learns.

# Exactly one line on stderr and the given exit code, never a crash; the
# wrapper appends the exit code to the output.
function(trainer_failure_test trainer name code regex)
  add_test(NAME example.${trainer}_${name}
           COMMAND sh -c "\"$0\" \"$@\" 2>&1; echo \"exit code $?\"" $<TARGET_FILE:${trainer}> ${ARGN})
  set_tests_properties(example.${trainer}_${name} PROPERTIES
                       PASS_REGULAR_EXPRESSION "^${trainer}: ${regex}[^\n]*\nexit code ${code}\n$" TIMEOUT 60)
endfunction()
set(_gan ${CMAKE_CURRENT_BINARY_DIR}/gan_smoke)
trainer_failure_test(dcgan unknown_flag 2 "The following argument was not expected: --bogus" --bogus)
trainer_failure_test(dcgan bad_loss 2 "--loss: foo not in" --loss foo)
trainer_failure_test(dcgan bad_steps 2 "--steps: Value -3" --steps -3)
trainer_failure_test(dcgan sample_only_without_checkpoint 2 "--sample-only: needs --resume CKPT" --sample-only)
trainer_failure_test(dcgan samples_without_file 2 "--samples: --samples N and --samples-out FILE go together"
                     --samples 10)
trainer_failure_test(dcgan missing_checkpoint 2 "--resume: no such checkpoint file: [^ ]*nope.safetensors"
                     --resume ${_gan}/nope.safetensors)
trainer_failure_test(dcgan missing_data 1 "the training images \\(--data [^ ]*no_such_dir\\): FashionMNIST: directory"
                     --data ${_gan}/no_such_dir --steps 1 --out ${_gan}/missing_data)
trainer_failure_test(dcgan unreadable_checkpoint 1 "safetensors: [^ ]*CMakeLists.txt: header length"
                     --resume ${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt --out ${_gan}/bad_ckpt)
trainer_failure_test(wgan_gp batch_larger_than_data 1 "--batch 64 is larger than the --limit"
                     --limit 10 --steps 1 --out ${_gan}/tiny)

# --device cuda: a short run on the GPU that must write its grid and
# checkpoint, then 4 more steps resumed from that checkpoint on the CPU (the
# file is the same on both devices). Without a GPU the trainer says so and
# the test is reported skipped (77); a build without the backend refuses
# the flag. Arguments after `steps` go to both runs.
function(trainer_cuda_test trainer steps)
  set(_dir ${_gan}/${trainer}_cuda)
  math(EXPR _more "${steps} + 4")
  set(_args --limit 640 --sample-every 0 ${ARGN})
  string(REPLACE ";" " " _args_text "${_args}")
  add_test(NAME example.${trainer}_cuda
           COMMAND sh -c "mkdir -p '${_dir}'; \"$0\" \"$@\" 2>'${_dir}/err'; rc=$?; \
grep -q 'no CUDA device is present' '${_dir}/err' && exit 77; cat '${_dir}/err' >&2; \
[ $rc -eq 0 ] && test -s '${_dir}/samples.png' && \
\"$0\" ${_args_text} --steps ${_more} --resume '${_dir}/checkpoint.safetensors' --out '${_dir}'"
                   $<TARGET_FILE:${trainer}> --device cuda ${_args} --steps ${steps} --out ${_dir})
  set_tests_properties(example.${trainer}_cuda PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endfunction()
if(GENMODEL_WITH_CUDA)
  trainer_cuda_test(dcgan 8)
  trainer_cuda_test(cgan 4 --loss hinge)
  trainer_cuda_test(wgan_gp 2)
  trainer_cuda_test(ddpm 4 --channels 8,16 --timesteps 20 --sample-steps 2)
  trainer_cuda_test(cvae 4 --test-images 100)
else()
  trainer_failure_test(dcgan device_cuda_without_backend 2 "--device cuda: this build has no CUDA backend"
                       --device cuda)
  trainer_failure_test(ddpm device_cuda_without_backend 2 "--device cuda: this build has no CUDA backend"
                       --device cuda)
  trainer_failure_test(vae device_cuda_without_backend 2 "--device cuda: this build has no CUDA backend"
                       --device cuda)
endif()

# Resume: N steps straight and N/2 + N/2 through the checkpoint give the same
# metrics.csv (its first `fields` columns, without the time column; `rows`
# rows), for a batch-norm GAN, a conditional one, WGAN-GP (5 batches per
# step), the VAEs (one row per epoch: the mid-epoch sums travel in the
# checkpoint) and DDPM (its EMA too). Arguments after `rows` go to the trainer.
function(trainer_resume_test trainer steps half fields rows)
  set(_dir ${_gan}/${trainer}_resume)
  set(_common --limit 640 --threads 1 --log-every 1 --sample-every 0 --checkpoint-every 0 ${ARGN})
  add_test(NAME example.${trainer}_resume_straight COMMAND ${trainer} ${_common} --steps ${steps} --out ${_dir}/a)
  add_test(NAME example.${trainer}_resume_first_half COMMAND ${trainer} ${_common} --steps ${half} --out ${_dir}/b)
  add_test(NAME example.${trainer}_resume_second_half
           COMMAND ${trainer} ${_common} --steps ${steps} --out ${_dir}/b --resume ${_dir}/b/checkpoint.safetensors)
  add_test(NAME example.${trainer}_resume_same_losses
           COMMAND sh -c "cut -d, -f${fields} '${_dir}/a/metrics.csv' > '${_dir}/a.csv' &&
                          cut -d, -f${fields} '${_dir}/b/metrics.csv' > '${_dir}/b.csv' &&
                          test $(wc -l < '${_dir}/a.csv') -eq $((${rows} + 1)) && cmp '${_dir}/a.csv' '${_dir}/b.csv'")
  set_tests_properties(example.${trainer}_resume_first_half PROPERTIES FIXTURES_SETUP ${trainer}_half)
  set_tests_properties(example.${trainer}_resume_second_half PROPERTIES FIXTURES_REQUIRED ${trainer}_half
                       FIXTURES_SETUP ${trainer}_resumed)
  set_tests_properties(example.${trainer}_resume_straight PROPERTIES FIXTURES_SETUP ${trainer}_straight)
  set_tests_properties(example.${trainer}_resume_same_losses PROPERTIES
                       FIXTURES_REQUIRED "${trainer}_resumed;${trainer}_straight")
endfunction()
trainer_resume_test(dcgan 8 4 1-7 8)
trainer_resume_test(cgan 6 3 1-7 6)
trainer_resume_test(wgan_gp 4 2 1-7 4)
# 10 batches per epoch: 25 steps are 2 epoch rows, the halves cut epoch 1.
trainer_resume_test(vae 25 12 1-6 2 --test-images 200)
trainer_resume_test(cvae 25 13 1-6 2 --test-images 200)
# A small U-Net and schedule keep it to seconds; 2 DDIM steps for the grid.
set(_small_ddpm --channels 16,32 --timesteps 50 --sample-steps 2)
trainer_resume_test(ddpm 4 2 1-3 4 ${_small_ddpm})

# The VAE and DDPM trainers' own flags and failure paths.
trainer_failure_test(vae bad_beta 2 "--beta: Value -1" --beta -1)
trainer_failure_test(cvae missing_data 1 "the test images \\(--data [^ ]*no_such_dir\\): FashionMNIST: directory"
                     --data ${_gan}/no_such_dir --steps 1 --out ${_gan}/missing_data_cvae)
trainer_failure_test(cvae guidance_without_dropout 2 "--guidance 3 needs --label-dropout > 0"
                     --label-dropout 0 --guidance 3)
trainer_failure_test(ddpm bad_sampler 2 "--sampler: foo not in" --sampler foo)
trainer_failure_test(ddpm bad_channels 1 "UNet: groups \\(8\\) must divide"
                     --channels 12,24 --steps 1 --out ${_gan}/bad_channels)
# A checkpoint of another trainer, and one of another DDPM variant.
trainer_failure_test(ddpm other_trainers_checkpoint 1 "load_training_state: "
                     --resume ${_gan}/vae_resume/b/checkpoint.safetensors --out ${_gan}/other_ckpt)
trainer_failure_test(ddpm other_variant 1
                     "[^ ]*checkpoint.safetensors: a checkpoint of [^ ]*\"schedule\":\"linear\"[^ ]*, not of [^ ]*\"schedule\":\"cosine\""
                     --resume ${_gan}/ddpm_resume/b/checkpoint.safetensors ${_small_ddpm} --schedule cosine
                     --out ${_gan}/other_variant)
set_tests_properties(example.ddpm_other_trainers_checkpoint PROPERTIES FIXTURES_REQUIRED vae_half)
set_tests_properties(example.ddpm_other_variant PROPERTIES FIXTURES_REQUIRED ddpm_resumed)

# A short run learns: the MLP GAN's samples after 600 steps on 6400 images
# must score FID-FMNIST under 150 by the smoke classifier of the classifier
# tests, where its generator after one step scores 307 and uniform noise
# about 310 (85 after 600 steps when this was written).
set(_learn ${_gan}/mlp_gan_learns)
add_test(NAME example.mlp_gan_learns
         COMMAND mlp_gan --steps 600 --limit 6400 --threads 2 --sample-every 0 --checkpoint-every 0
                 --samples 1000 --samples-out ${_learn}/samples.idx --out ${_learn})
set_tests_properties(example.mlp_gan_learns PROPERTIES FIXTURES_SETUP mlp_gan_learned TIMEOUT 180)
add_test(NAME example.mlp_gan_learns_eval
         COMMAND evaluate --samples ${_learn}/samples.idx --classifier ${_classifier_out}/classifier.safetensors
                 --kid-subsets 10 --max-fid 150)
set_tests_properties(example.mlp_gan_learns_eval PROPERTIES FIXTURES_REQUIRED "mlp_gan_learned;classifier_smoke"
                     TIMEOUT 120)

# The conditional VAE learns its classes: after 3 epochs on 6400 images the
# smoke classifier must assign at least 60% of 1000 samples their label
# (chance is 10%; 55% before classifier-free guidance, 78% with the default
# guidance 2; the smoke classifier itself gets 77% of real test images right).
set(_cvae ${_gan}/cvae_learns)
add_test(NAME example.cvae_learns
         COMMAND cvae --epochs 3 --limit 6400 --threads 2 --test-images 500
                 --samples 1000 --samples-out ${_cvae}/samples.idx --out ${_cvae})
set_tests_properties(example.cvae_learns PROPERTIES FIXTURES_SETUP cvae_learned TIMEOUT 180)
add_test(NAME example.cvae_learns_eval
         COMMAND evaluate --samples ${_cvae}/samples.idx --classifier ${_classifier_out}/classifier.safetensors
                 --kid-subsets 10 --min-label-accuracy 0.6)
set_tests_properties(example.cvae_learns_eval PROPERTIES FIXTURES_REQUIRED "cvae_learned;classifier_smoke"
                     TIMEOUT 120)

# --sample-only with --samples writes the IDX file of N 28x28 images (16 +
# N * 784 bytes; DDPM's 32x32 samples cropped back) and no grid.
function(trainer_sample_only_test trainer fixture ckpt)
  set(_dir ${_gan}/${trainer}_sample_only)
  add_test(NAME example.${trainer}_sample_only
           COMMAND sh -c "rm -rf '${_dir}' && \"$0\" \"$@\" > /dev/null &&
                          test $(wc -c < '${_dir}/s.idx') -eq 15696 && test ! -e '${_dir}/samples.png'"
                   $<TARGET_FILE:${trainer}> --resume ${ckpt} --sample-only --samples 20 --samples-out ${_dir}/s.idx
                   --out ${_dir} ${ARGN})
  set_tests_properties(example.${trainer}_sample_only PROPERTIES FIXTURES_REQUIRED ${fixture} TIMEOUT 120)
endfunction()
trainer_sample_only_test(dcgan dcgan_resumed ${_gan}/dcgan_resume/b/checkpoint.safetensors)
trainer_sample_only_test(ddpm ddpm_resumed ${_gan}/ddpm_resume/b/checkpoint.safetensors ${_small_ddpm})
