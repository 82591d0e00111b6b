"""nnfunc: multilayer perceptrons in pure numpy, as pure functions over immutable records.

The five functions people compose: `init_params`, `forward`, `loss`, `grads` and `step`, plus
`value_and_grads` (loss and gradients from one forward pass), `fit` (the training loop) and
`check_grads` (finite-difference verification).
"""

from nnfunc.activations import ACTIVATIONS, register_activation, unregister_activation
from nnfunc.gradcheck import GradCheck, check_grads
from nnfunc.network import forward, grads, logits, loss, predict, value_and_grads
from nnfunc.optim import (
    GradientTransformation,
    adam,
    adamw,
    add_decayed_weights,
    apply_updates,
    chain,
    clip_by_global_norm,
    init_optimizer,
    make_optimizer,
    momentum,
    nesterov,
    optimizer_from_config,
    rmsprop,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    sgd,
    step,
    trace,
)
from nnfunc.params import INITIALIZERS, Dense, Params, init_params
from nnfunc.spec import MLPSpec, mlp_spec
from nnfunc.training import (
    EpochReport,
    FitResult,
    History,
    TrainingDiverged,
    ZeroGradientWarning,
    fit,
    fit_epochs,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "EpochReport",
    "FitResult",
    "GradCheck",
    "GradientTransformation",
    "History",
    "INITIALIZERS",
    "MLPSpec",
    "Params",
    "TrainingDiverged",
    "ZeroGradientWarning",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "check_grads",
    "clip_by_global_norm",
    "fit",
    "fit_epochs",
    "forward",
    "grads",
    "init_optimizer",
    "init_params",
    "logits",
    "loss",
    "make_optimizer",
    "mlp_spec",
    "momentum",
    "nesterov",
    "optimizer_from_config",
    "predict",
    "register_activation",
    "unregister_activation",
    "rmsprop",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "sgd",
    "step",
    "trace",
    "value_and_grads",
]
