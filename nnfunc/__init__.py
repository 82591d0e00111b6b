"""nnfunc: multilayer perceptrons in pure numpy, as pure functions over immutable records.

The five functions people compose: `init_params`, `forward`, `loss`, `grads` and `step`, plus
`value_and_grads` (loss and gradients from one forward pass), `fit` (the training loop) and
`check_grads` (finite-difference verification).
"""

from nnfunc.activations import ACTIVATIONS, register_activation
from nnfunc.gradcheck import GradCheck, check_grads
from nnfunc.network import forward, grads, logits, loss, predict, value_and_grads
from nnfunc.optim import (
    GradientTransformation,
    adam,
    adamw,
    chain,
    clip_by_global_norm,
    init_optimizer,
    make_optimizer,
    momentum,
    nesterov,
    rmsprop,
    sgd,
    step,
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
    "INITIALIZERS",
    "Dense",
    "EpochReport",
    "FitResult",
    "GradCheck",
    "GradientTransformation",
    "History",
    "MLPSpec",
    "Params",
    "TrainingDiverged",
    "ZeroGradientWarning",
    "adam",
    "adamw",
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
    "predict",
    "register_activation",
    "rmsprop",
    "sgd",
    "step",
    "value_and_grads",
]
