"""Train a tiny neural network on XOR with numpy, report loss and accuracy, plot the loss.

A numpy take on the seed tutorial's PyTorch `train_xor.py`: one tanh hidden layer, a sigmoid
output, full-batch gradient descent on the four XOR points. Runs in well under a second.

    python train_xor.py --lr 0.5 --hidden 8 --epochs 2000 --seed 0

Under freight (`freight run` in this folder) every task reports its final loss and accuracy
with `freight.report`, and saves `loss.png` in its task folder ($FREIGHT_TASK_DIR). Without
freight the script prints the same numbers and saves the plot in the current folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

try:
    from freight import report
except ImportError:  # freight is optional: the script runs the same without it

    def report(**metrics):
        return metrics


INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden units (default 8)")
    parser.add_argument("--epochs", type=int, default=2000, help="training steps (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--plot", type=Path, help="where to save the plot (default: loss.png)")
    parser.add_argument("--output", type=Path, help="save the trained weights here (.npz)")
    return parser.parse_args(argv)


def init_params(hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # Scaled normal init (Glorot-like) so tanh starts in its linear range.
    return {
        "w1": rng.normal(0.0, 1.0, (2, hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, 1)),
        "b2": np.zeros(1),
    }


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.tanh(x @ params["w1"] + params["b1"])
    out = 1.0 / (1.0 + np.exp(-(hidden @ params["w2"] + params["b2"])))
    return hidden, out


def bce_loss(pred: np.ndarray, target: np.ndarray) -> float:
    pred = np.clip(pred, 1e-12, 1 - 1e-12)
    return float(-np.mean(target * np.log(pred) + (1 - target) * np.log(1 - pred)))


def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred > 0.5) == (target > 0.5)))


def step(params: dict[str, np.ndarray], lr: float) -> tuple[float, float]:
    """One full-batch gradient step; returns the loss and accuracy before it."""
    hidden, out = forward(params, INPUTS)
    n = len(INPUTS)
    d_logit = (out - TARGETS) / n  # gradient of mean BCE through the sigmoid
    d_hidden = (d_logit @ params["w2"].T) * (1.0 - hidden**2)
    grads = {
        "w2": hidden.T @ d_logit,
        "b2": d_logit.sum(axis=0),
        "w1": INPUTS.T @ d_hidden,
        "b1": d_hidden.sum(axis=0),
    }
    for name, grad in grads.items():
        params[name] -= lr * grad
    return bce_loss(out, TARGETS), accuracy(out, TARGETS)


def train(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], list[float], list[float]]:
    params = init_params(args.hidden, np.random.default_rng(args.seed))
    losses, accuracies = [], []
    for epoch in range(args.epochs):
        loss, acc = step(params, args.lr)
        losses.append(loss)
        accuracies.append(acc)
        if epoch % max(1, args.epochs // 10) == 0:
            print(f"epoch {epoch:6d}  loss {loss:.5f}  accuracy {acc:.0%}")
    return params, losses, accuracies


def save_plot(path: Path, losses: list[float], accuracies: list[float], title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on a cluster node
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(losses) + 1)
    lines = ax.plot(epochs, losses, label="loss")
    ax.set(xlabel="epoch", ylabel="loss (binary cross-entropy)", title=title, yscale="log")
    right = ax.twinx()
    lines += right.plot(epochs, accuracies, "--", color="tab:orange", label="accuracy")
    right.set(ylabel="accuracy", ylim=(0, 1.05))
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(os.environ.get("FREIGHT_TASK_DIR") or ".")
    params, losses, accuracies = train(args)
    _, final = forward(params, INPUTS)
    loss, acc = bce_loss(final, TARGETS), accuracy(final, TARGETS)
    print(f"final loss {loss:.6f}  accuracy {acc:.0%}  (lr={args.lr}, hidden={args.hidden})")
    report(loss=loss, acc=acc, epochs=args.epochs)
    if args.output:
        np.savez(args.output, **params)
        print(f"weights saved to {args.output}")
    title = f"XOR: lr={args.lr}, hidden={args.hidden}"
    save_plot(args.plot or out_dir / "loss.png", losses, accuracies, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
