"""Training recipes: every hyperparameter of a model, named (no torch needed to read them)."""

from __future__ import annotations

import dataclasses
import math

from ..format import shapes


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    hidden: tuple[int, ...] = (400,)
    latent_size: int = 20
    beta: float = 1.0  # weight of the KL term
    # "bce": BCE + beta KL; "mse": SSE / (2 mse_sigma^2) + beta KL (a Gaussian decoder
    # with fixed sigma: the distortion PSNR measures)
    distortion: str = "bce"
    mse_sigma: float = 0.1
    # "mlp", "conv" (ConvVAE, hidden = its two channel counts) or "linear" (no network:
    # the principal components of the images, ``train.linear``; nothing below applies)
    architecture: str = "mlp"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # or "cosine"
    # data augmentation: each training image moved by a random whole-pixel offset of up to
    # +-shift in each direction (zero fill), drawn afresh every time the image is used
    shift: int = 0
    # quantization-aware training: when > 0, the decoder sees mu + u, u uniform in
    # +-quant_noise/2 (the error of rounding mu at that step), instead of a sample of
    # N(mu, sigma^2); the KL term stays (with sigma unused, its mu^2 / 2 is the rate term)
    quant_noise: float = 0.0
    # the rate term: "kl" (KL(q(z|x) || N(0, I)), a VAE's), or "entropy": rate-distortion
    # training as in learned image compression (Balle et al. 2017): the decoder sees
    # mu + u, u uniform in +-rate_step/2 (what rounding mu at that step does), and the rate
    # is -log of the probability of that noisy latent under a learned factorized prior (a
    # logistic per dimension, integrated over the step's interval); beta weights it
    rate: str = "kl"
    rate_step: float = 1.0
    seed: int = 1
    # a schedule counted in optimisation steps (batches) instead of epochs: when set, the
    # run takes exactly this many steps whatever the number of images (``epochs`` is then
    # unused). A schedule in epochs gives 2,000 images 16 steps an epoch: 60 epochs are
    # 960 steps, which left every level within 0.5 dB of the others (issue 28,
    # docs/notes/training.md#training-on-few-images).
    steps: int | None = None
    # KL warm-up: beta rises linearly from 0 over this fraction of the steps, so the
    # decoder learns to use the latent before its cost weighs in (against posterior
    # collapse: every latent ignored, every image decoded as the mean image)
    kl_warmup: float = 0.0
    # what a shift moves in from outside: "zero" (black, right for digits on a dark
    # ground) or "edge" (the border pixels repeated, right for textures and photographs)
    shift_fill: str = "zero"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, fields: dict) -> "Recipe":
        """A recipe from ``to_dict``'s output (or a JSON object of some of its fields)."""
        fields = dict(fields)
        if "hidden" in fields:
            fields["hidden"] = tuple(fields["hidden"])
        return cls(**fields)


def _rate_distortion(name: str, sigma: float, epochs: int) -> Recipe:
    """A rate-distortion recipe (below): the 1024-512 MLP on shifted digits, the rate at
    step 1 weighed against the squared error / (2 sigma^2)."""
    return Recipe(name=name, hidden=(1024, 512), distortion="mse", mse_sigma=sigma,
                  rate="entropy", rate_step=1.0, epochs=epochs, lr_schedule="cosine", shift=1)


RECIPES = {
    # The reference: pytorch/examples' VAE (784-400-20, BCE + KL, Adam 1e-3, batch 128, 10 epochs).
    "seed": Recipe(name="seed"),
    # The shipped default: a deeper MLP, a longer cosine schedule and a lighter KL weight
    # (docs/notes/training.md has the sweep behind each choice).
    "default": Recipe(
        name="default", hidden=(512, 256), beta=0.3, epochs=60, lr_schedule="cosine"
    ),
    # The model of the upper quality levels: wider, trained on the squared error PSNR
    # measures (a Gaussian decoder with fixed sigma 0.05) instead of BCE.
    "mse-s05": Recipe(name="mse-s05", hidden=(1024, 512), distortion="mse", mse_sigma=0.05,
                      epochs=30, lr_schedule="cosine"),
    # The same network and loss on training images shifted by up to one pixel, trained
    # longer: without the shifts, longer training overfits (docs/notes/training.md).
    "mse-s05-aug1": Recipe(name="mse-s05-aug1", hidden=(1024, 512), distortion="mse",
                           mse_sigma=0.05, epochs=100, lr_schedule="cosine", shift=1),
    # mse-s05 with a 32-dimensional latent, for images with more detail than digits: on
    # Fashion-MNIST +0.5 dB for +55% bytes at each level against mse-s05 (which the shipped
    # fashion-mnist family uses; docs/notes/training.md).
    "mse-s05-z32": Recipe(name="mse-s05-z32", hidden=(1024, 512), latent_size=32,
                          distortion="mse", mse_sigma=0.05, epochs=30, lr_schedule="cosine"),
    # Rate-distortion training (docs/notes/training.md): the rate of the latent rounded at step 1
    # under a learned prior, against the squared error weighted by 1 / (2 sigma^2); one
    # model per rate weight. About 0.7 dB above the KL-trained models at equal bytes below
    # 10 bytes/image on MNIST, 1.5 dB at the lowest rate; shifted digits, 40 epochs
    # (~13 minutes on one thread), 80 (~25 minutes) or 100 (rd-s015-aug1: 9.84 B at
    # 23.05 dB at step 0.95; 972 s of training on two threads).
    # rd-s04-aug1 (100 epochs, 938 s) serves levels 10-12, rd-s015-aug1 level 13.
    **{name: _rate_distortion(name, sigma, epochs) for name, sigma, epochs in (
        ("rd-s045-aug1", 0.45, 80), ("rd-s04-aug1", 0.4, 100), ("rd-s035-aug1", 0.35, 40),
        ("rd-s015-aug1", 0.15, 100))},
    # No network: the principal components of the images (``train.linear``; photographs).
    "linear": Recipe(name="linear", hidden=(), latent_size=256, architecture="linear"),
    # Shifts of up to two pixels: measured, not shipped (worse than one; docs/notes/training.md).
    "mse-s05-aug2": Recipe(name="mse-s05-aug2", hidden=(1024, 512), distortion="mse",
                           mse_sigma=0.05, epochs=100, lr_schedule="cosine", shift=2),
}


#: The recipes ``vaecodec train`` offers (the numpy runtime runs MLP VAEs and linear
#: models); "auto", the default, is chosen from the data by ``auto_recipe``.
TRAIN_RECIPES = ("auto",) + tuple(name for name, recipe in RECIPES.items()
                                  if recipe.architecture in ("mlp", "linear")
                                  and name != "mse-s05-aug2")

#: The pixel models ``vaecodec train --pixel-model`` offers: a "network" (residual layouts
#: 1-3), a "table" of contexts (layout 4), or "auto": both, keeping the one that codes the
#: validation images in fewer bytes.
PIXEL_MODELS = ("auto", "network", "table")

# ``auto_recipe``'s schedule: AUTO_EPOCHS passes over the training images, but never fewer
# than AUTO_MIN_STEPS nor more than AUTO_MAX_STEPS optimisation steps
AUTO_EPOCHS = 30
AUTO_MIN_STEPS = 4000
AUTO_MAX_STEPS = 30000
# below this many training images, images are shifted by up to a pixel as they are used
AUTO_SHIFT_BELOW = 20000
# images of at most this many values (28x28, 32x32 grayscale) get the 1024-512 network,
# larger ones (32x32 RGB: 3,072) the 512-256 one (docs/notes/training.md#colour)
AUTO_WIDE_VALUES = 1024


def auto_recipe(count: int, image_shape: tuple[int, ...], time_budget: float | None = None
                ) -> tuple[Recipe, str]:
    """The recipe ``vaecodec train`` uses by default for ``count`` training images of
    ``image_shape`` (polarity is already settled: the images are light on dark), and why,
    in words (recorded in the family). With a ``time_budget`` the run is AUTO_MAX_STEPS
    steps, which the budget cuts to what fits: the time asked for is spent on the VAE.

    The choices (measured in docs/notes/training.md#training-on-few-images): a schedule in
    steps (30 epochs, but at least 4,000 and at most 30,000 steps, however few the images:
    the "default" recipe's 60 epochs are 960 steps for 2,000 images, and leave every level
    within 0.5 dB of the others), the squared error with a fixed sigma as the distortion
    (what PSNR measures) with a KL warm-up over the first fifth of the run, the wider
    1024-512 network for images of up to AUTO_WIDE_VALUES values and 512-256 for larger
    ones (on 32x32 RGB icons in 600 s it gave 0.15-0.2 dB more at every level than
    1024-512, and its family is half the size), and shifts of up to a pixel (border
    pixels repeated) for fewer than 20,000 images, against over-fitting."""
    batch = 128
    steps = min(AUTO_MAX_STEPS, max(AUTO_MIN_STEPS, AUTO_EPOCHS * -(-count // batch)))
    if time_budget is not None:
        steps = AUTO_MAX_STEPS
    shift = 1 if count < AUTO_SHIFT_BELOW else 0
    hidden = (1024, 512) if math.prod(image_shape) <= AUTO_WIDE_VALUES else (512, 256)
    recipe = Recipe(name="auto", hidden=hidden, latent_size=20, distortion="mse",
                    mse_sigma=0.1, steps=steps, kl_warmup=0.2, lr_schedule="cosine",
                    batch_size=batch, shift=shift, shift_fill="edge")
    schedule = (f"as many steps as fit (at most {steps})" if time_budget is not None
                else f"{steps} steps")
    why = (f"{count} training images of {shapes.describe(image_shape)}: {schedule}"
           + (", shifted by up to a pixel" if shift else ""))
    return recipe, why
