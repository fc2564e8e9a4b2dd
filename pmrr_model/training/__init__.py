"""The seed's training recipe (PyMAF ``core/trainer.py``): SPIN/EFT-format data, augmentation,
losses per refinement iteration, Adam, checkpoints in the released layout.

Modules, one job each: :mod:`.spin_format` (read annotation files), :mod:`.augment` (the seed's
augmentation), :mod:`.dataset` (items and mixed batches), :mod:`.dense_targets` (IUV targets for
the 56x56 head), :mod:`.losses`, :mod:`.synthetic` (a stand-in training set),
:mod:`.run_log` (TensorBoard or CSV), :mod:`.trainer` (the loop, validation, checkpoints).
"""
