"""Reviewed names that vulture cannot see used (tests/core/test_dead_code.py reads this file).

Each line names a use made by a framework, not by our code. Add a name here only with the
reason beside it; anything else vulture reports is dead code to delete.
"""
# ruff: noqa
# fmt: off

# module-level lazy imports (PEP 562): Python calls them
__getattr__  # fdif_core/__init__.py, fdif_studio/__init__.py
# torch calls nn.Module.forward through __call__
_.forward  # fdif_core/networks/catalogue.py (EncoderClassifier), tests/core/test_evaluate.py
# pydantic reads the model configuration
model_config  # fdif_core/presets/base.py
# torch.backends.cudnn.benchmark: a switch torch reads
_.benchmark  # fdif_core/training/pretrain.py, benchmarks/gpu_check.py
# napari's npe2 manifest (fdif_studio/napari.yaml) names the reader
get_reader  # fdif_studio/_reader.py
# magicgui / napari / vispy read the widget and layer attributes we set
_.choices  # fdif_studio/panels/designer.py
_.opacity  # fdif_studio/panels/layers.py
_.zoom  # fdif_studio/panels/layers.py, tests/studio/test_widgets.py
_.center  # fdif_studio/panels/layers.py (the camera's centre, zoom to the object)
# nnU-Net's trainer reads the attributes a test trainer sets
_.num_epochs  # tests/core/nnunet_tiny_train.py
_.num_iterations_per_epoch
_.num_val_iterations_per_epoch
_.perform_actual_validation
# the warnings module calls showwarning; pytest reads pytestmark
_.showwarning  # tests/core/test_bad_inputs.py
pytestmark  # tests/core/test_nnunet_e2e.py, tests/studio/test_panels.py, test_widgets.py
# pytest reads a conftest's collect_ignore
collect_ignore  # tests/conftest.py
